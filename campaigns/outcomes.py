"""The outcomes every campaign starts with (docs/dialing.md, "Outcomes"); Administrators
rename, add or retire them per campaign in the admin."""

DEFAULT_OUTCOMES: list[dict[str, object]] = [
    {"name": "No answer", "kind": "retry", "retry_after_minutes": 120, "max_attempts": 6,
     "disposition": "no_answer"},
    {"name": "Busy", "kind": "retry", "retry_after_minutes": 30, "max_attempts": 6,
     "disposition": "no_answer"},
    {"name": "Left voicemail", "kind": "retry", "retry_after_minutes": 1440, "max_attempts": 4,
     "disposition": "voicemail"},
    {"name": "Call back later", "kind": "callback", "disposition": "callback"},
    {"name": "Meeting booked", "kind": "final", "disposition": "interested"},
    {"name": "Interested", "kind": "final", "disposition": "interested"},
    {"name": "Not interested", "kind": "final", "disposition": "not_interested"},
    {"name": "Wrong number", "kind": "wrong_number", "disposition": "wrong_number"},
    {"name": "Disqualified", "kind": "final", "disposition": "not_interested",
     "disqualifies": True},
]  # fmt: skip
