"""The inbound voice answer: business hours in the team's zone, forward or voicemail
(docs/voice.md). Pure functions of the settings and a moment, so the webhook, the settings
page's "what a caller hears now" and the tests read one rule."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.conf import settings
from django.utils import timezone
from twilio.twiml.voice_response import VoiceResponse

if TYPE_CHECKING:
    from telephony.models import TelephonySettings

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Twilio's <Record> ends a voicemail after this many seconds, or 5 s of silence.
VOICEMAIL_MAX_SECONDS = 180
# What <Dial> waits for the forward-to phone before voicemail takes the call.
DIAL_TIMEOUT_SECONDS = 20


def zone_problem(name: str) -> str:
    """Empty when ``name`` is an IANA zone (or empty: the server's ``TIME_ZONE``)."""
    if not name:
        return ""
    if "\x00" in name or len(name) > 64:
        return "Not a time zone name."
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{name!r} is not a time zone (e.g. America/New_York, Europe/Paris)."
    return ""


def zone_choices() -> list[tuple[str, str]]:
    """Every IANA zone, for a select (the usual ones are found by typing their name)."""
    zones = [(name, name.replace("_", " ")) for name in sorted(available_timezones())]
    return [("", f"The server's ({settings.TIME_ZONE})"), *zones]


def zone_or_default(name: str) -> ZoneInfo:
    """The zone ``name`` names; the server's ``TIME_ZONE`` when empty or unknown."""
    if name and not zone_problem(name):
        return ZoneInfo(name)
    return ZoneInfo(settings.TIME_ZONE)


def days_parse(value: str | Iterable[int | str]) -> set[int]:
    """``"0,1,4"`` (or a list) -> ``{0, 1, 4}``; Monday is 0. Raises ValueError."""
    parts: list[int | str] = list(value.split(",") if isinstance(value, str) else value)
    days = set()
    for part in parts:
        text = str(part).strip()
        if not text:
            continue
        if not text.isdigit() or int(text) > 6:
            raise ValueError(f"{text[:10]!r} is not a day (0 Monday to 6 Sunday).")
        days.add(int(text))
    return days


@dataclass(frozen=True)
class Hours:
    days: frozenset[int]  # empty: every day
    open_time: time | None  # None (with close_time): all day
    close_time: time | None
    zone: ZoneInfo

    @classmethod
    def of(cls, config: "TelephonySettings") -> "Hours":
        try:
            days = frozenset(days_parse(config.open_days))
        except ValueError:
            days = frozenset()
        zone = zone_or_default(config.team_time_zone)
        return cls(days, config.open_time, config.close_time, zone)

    @property
    def always(self) -> bool:
        return not self.days and self.open_time is None

    def _day_open(self, weekday: int) -> bool:
        return not self.days or weekday in self.days

    def is_open(self, moment: datetime) -> bool:
        """Open at ``moment`` (aware), read on the team's wall clock. Hours past midnight
        (close before open) belong to the day they opened."""
        local = moment.astimezone(self.zone)
        if self.open_time is None or self.close_time is None:
            return self._day_open(local.weekday())
        now = local.time().replace(tzinfo=None)
        if self.open_time < self.close_time:
            return self._day_open(local.weekday()) and self.open_time <= now < self.close_time
        if now >= self.open_time:
            return self._day_open(local.weekday())
        return now < self.close_time and self._day_open((local.weekday() - 1) % 7)

    def describe(self) -> str:
        days = (
            "every day" if not self.days else ", ".join(DAY_NAMES[d][:3] for d in sorted(self.days))
        )
        if self.open_time is None or self.close_time is None:
            return f"{days}, all day" if self.days else "always open"
        span = f"{self.open_time:%H:%M} to {self.close_time:%H:%M}"
        return f"{days}, {span}, {self.zone.key} time"


@dataclass(frozen=True)
class Answer:
    """What the voice webhook does with a call now."""

    forward_to: str  # empty: voicemail
    greeting: str
    is_open: bool
    local_now: datetime

    @property
    def voicemail(self) -> bool:
        return not self.forward_to


def answer_for(config: "TelephonySettings", moment: datetime | None = None) -> Answer:
    hours = Hours.of(config)
    moment = moment or timezone.now()
    is_open = hours.is_open(moment)
    return Answer(
        forward_to=config.forward_to if is_open else "",
        greeting=config.greeting,
        is_open=is_open,
        local_now=moment.astimezone(hours.zone),
    )


def what_caller_hears(config: "TelephonySettings", moment: datetime | None = None) -> str:
    """The settings page's one sentence: what a call arriving now gets, and why."""
    hours = Hours.of(config)
    answer = answer_for(config, moment)
    now = f"Now, {answer.local_now:%a %H:%M %Z}"
    greeting = f"“{answer.greeting}”" if answer.greeting else "no greeting"
    voicemail = f"{greeting}, then the tone and a voicemail recording of up to 3 minutes"
    if answer.forward_to:
        return (
            f"{now}, open (business hours: {hours.describe()}). The call rings "
            f"{answer.forward_to} for {DIAL_TIMEOUT_SECONDS} s; if nobody answers: {voicemail}."
        )
    if not config.forward_to:
        return f"{now}, no forward-to number is set. Every caller hears {voicemail}."
    return f"{now}, closed (business hours: {hours.describe()}). The caller hears {voicemail}."


def voicemail_twiml(response: VoiceResponse, *, greeting: str, callbacks: "Callbacks") -> None:
    if greeting:
        response.say(greeting)
    response.record(
        max_length=VOICEMAIL_MAX_SECONDS,
        timeout=5,
        play_beep=True,
        recording_status_callback=callbacks.recording,
        recording_status_callback_event="completed",
        transcribe=True,
        transcribe_callback=callbacks.transcription,
    )
    # Reached only when the caller leaves no message: end politely rather than silence.
    response.say("We did not get a message. Goodbye.")
    response.hangup()


@dataclass(frozen=True)
class Callbacks:
    recording: str
    transcription: str
    dial_done: str


def answer_twiml(answer: Answer, callbacks: Callbacks) -> VoiceResponse:
    response = VoiceResponse()
    if answer.forward_to:
        dial = response.dial(
            action=callbacks.dial_done, timeout=DIAL_TIMEOUT_SECONDS, answer_on_bridge=True
        )
        dial.number(answer.forward_to)
        return response
    voicemail_twiml(response, greeting=answer.greeting, callbacks=callbacks)
    return response


def dial_done_twiml(dial_status: str, greeting: str, callbacks: Callbacks) -> VoiceResponse:
    """After the forward: hang up an answered call, send any other to voicemail."""
    response = VoiceResponse()
    if dial_status in ("completed", "answered"):
        response.hangup()
    else:
        voicemail_twiml(response, greeting=greeting, callbacks=callbacks)
    return response


def local_day_start(zone: ZoneInfo, moment: datetime | None = None) -> datetime:
    """Midnight of ``moment``'s day on ``zone``'s wall clock, as an aware datetime."""
    local = (moment or timezone.now()).astimezone(zone)
    return datetime.combine(local.date(), time(0), tzinfo=zone)


def local_day_bounds(zone: ZoneInfo, moment: datetime | None = None) -> tuple[datetime, datetime]:
    start = local_day_start(zone, moment)
    # Through the date, not +24 h: DST days are 23 or 25 hours long.
    end = datetime.combine(start.date() + timedelta(days=1), time(0), tzinfo=zone)
    return start, end
