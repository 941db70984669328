"""The calling window (docs/dialing.md, "Calling window"): when a lead may be called.

A lead's local time is its contact's time zone when known (the ``time_zone`` field, or a
``time_zone``/``timezone`` column of its upload), else the zones of the number's area
code from libphonenumber. A number whose area code spans zones is callable only while
every one of them is inside the window: the most restrictive reading.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from django.conf import settings
from django.utils import timezone
from phonenumbers import timezone as phone_zones

LAWFUL_START = time(8, 0)
LAWFUL_END = time(21, 0)
EXTRA_ZONE_KEYS = ("time_zone", "timezone", "tz", "Time Zone", "Timezone")


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


@lru_cache(maxsize=65536)
def number_zones(e164: str) -> tuple[str, ...]:
    """The IANA zones libphonenumber gives the number (a whole country's for a number it
    cannot place, e.g. toll-free), else the team's."""
    try:
        names = phone_zones.time_zones_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        names = ()
    found = tuple(n for n in names if zone(n) is not None)
    return found or (settings.TIME_ZONE,)


def lead_zones(*, contact_zone: str, extra: object, number: str) -> tuple[str, ...]:
    if zone(contact_zone):
        return (contact_zone,)
    if isinstance(extra, dict):
        for key in EXTRA_ZONE_KEYS:
            value = extra.get(key)
            if isinstance(value, str) and zone(value.strip()):
                return (value.strip(),)
    return number_zones(number)


def zone_key(zones: tuple[str, ...]) -> str:
    """The zones of a lead as the one text stored on it (``Contact.dial_zone``)."""
    return " ".join(sorted(set(zones)))[:200]


def key_zones(key: str) -> tuple[str, ...]:
    return tuple(name for name in key.split() if zone(name) is not None)


@dataclass(frozen=True)
class WindowState:
    open: bool
    zone: str  # the zone the lead's local time is given in
    zones: tuple[str, ...]
    local_time: datetime
    opens_at: datetime | None  # when closed: the next moment every zone is inside

    @property
    def local_label(self) -> str:
        return local_label(self.local_time, self.zone)

    def refusal(self) -> str:
        text = f"Outside the calling window: it is {self.local_label} for the lead"
        if self.opens_at is not None:
            opens = self.opens_at.astimezone(ZoneInfo(self.zone))
            text += f"; calls open at {local_label(opens, self.zone)}"
        return text + "."


def local_label(moment: datetime, zone_name: str) -> str:
    """A lead-local moment as a caller reads it, with its zone named."""
    local = moment.astimezone(ZoneInfo(zone_name))
    return f"{local:%a %b} {local.day}, {local:%Y %H:%M} {local.tzname()} ({zone_name})"


def _inside(moment: datetime, zone_name: str, start: time, end: time) -> bool:
    local = moment.astimezone(ZoneInfo(zone_name)).time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end  # a window across midnight (Administrators only)


def window_state(
    *, zones: tuple[str, ...], start: time, end: time, now: datetime | None = None
) -> WindowState:
    now = now or timezone.now()
    shown = _most_restrictive(zones, now)
    is_open = all(_inside(now, z, start, end) for z in zones)
    opens_at = None
    if not is_open:
        # Candidates: each zone's next window openings over the coming days; the first at
        # which every zone is inside is when the lead becomes callable.
        candidates = sorted(
            timezone.make_aware(datetime.combine(day, start), ZoneInfo(z))
            for z in zones
            for offset in range(0, 4)
            for day in [now.astimezone(ZoneInfo(z)).date() + timedelta(days=offset)]
        )
        opens_at = next(
            (c for c in candidates if c > now and all(_inside(c, z, start, end) for z in zones)),
            None,
        )
    local = now.astimezone(ZoneInfo(shown))
    return WindowState(is_open, shown, zones, local, opens_at)


def shown_zone(zones: tuple[str, ...], now: datetime | None = None) -> str:
    return _most_restrictive(zones, now or timezone.now())


def _most_restrictive(zones: tuple[str, ...], now: datetime) -> str:
    """The zone to show: the one whose clock is earliest (the window opens there last)."""
    return min(zones, key=lambda z: now.astimezone(ZoneInfo(z)).utcoffset() or timedelta(0))


def is_lawful(start: time, end: time) -> bool:
    return LAWFUL_START <= start < end <= LAWFUL_END
