"""Leads for the dialling tests, placed in a time zone where it is now mid-day (or the
middle of the night), so no test depends on the time of day it runs at."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

from campaigns.ingest import rules
from campaigns.models import Account, Campaign, CampaignPhone, Contact


def zone_where_hour(low: int, high: int, now: datetime | None = None) -> str:
    """An ``Etc/GMT±N`` zone whose local hour is in [low, high) now."""
    now = now or timezone.now()
    for offset in range(-12, 15):
        # Etc/GMT-5 is UTC+5 (POSIX signs are inverted).
        name = "Etc/UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"
        if low <= now.astimezone(ZoneInfo(name)).hour < high:
            return name
    raise AssertionError("no zone found")


def daytime_zone(now: datetime | None = None) -> str:
    return zone_where_hour(11, 16, now)


def night_zone(now: datetime | None = None) -> str:
    return zone_where_hour(2, 5, now)


def phone(campaign: Campaign, number: str) -> CampaignPhone:
    row, _ = CampaignPhone.objects.get_or_create(campaign=campaign, number=number)
    CampaignPhone.objects.filter(pk=row.pk).update(contact_count=row.contact_count + 1)
    return row


def lead(
    campaign: Campaign,
    name: str,
    *,
    number: str | None = None,
    mobile: str | None = None,
    account: Account | None = None,
    time_zone: str | None = None,
) -> Contact:
    email = f"{name.lower().replace(' ', '.')}@example.com"
    return Contact.objects.create(
        campaign=campaign,
        name=name,
        email=email,
        dedup_key=rules.email_key(email),
        account=account,
        phone=phone(campaign, number) if number else None,
        mobile=phone(campaign, mobile) if mobile else None,
        time_zone=daytime_zone() if time_zone is None else time_zone,
    )
