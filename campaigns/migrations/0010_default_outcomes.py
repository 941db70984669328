from typing import Any

from django.db import migrations

from crm.roles import noop, sync_roles

# As campaigns/outcomes.py said when this migration was written.
DEFAULT_OUTCOMES: list[dict[str, Any]] = [
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


def seed(apps: Any, schema_editor: Any) -> None:
    Campaign = apps.get_model("campaigns", "Campaign")
    Outcome = apps.get_model("campaigns", "Outcome")
    for campaign_id in Campaign.objects.values_list("id", flat=True).iterator():
        Outcome.objects.bulk_create(
            [
                Outcome(campaign_id=campaign_id, position=i, **row)
                for i, row in enumerate(DEFAULT_OUTCOMES)
            ],
            ignore_conflicts=True,
        )


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0009_dialing"), ("crm", "0009_staff_profile")]
    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
        migrations.RunPython(sync_roles, noop),
    ]
