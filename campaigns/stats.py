"""Calling statistics (docs/dialing.md, "Statistics"): per caller and campaign, dials,
connects (answered, more than 0 s), conversations (more than 30 s), outcomes per hour and
per day, and each campaign's progress. Reads only; grouped queries over the attempts."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Q
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from campaigns.models import CallAttempt, Campaign, Contact

CONVERSATION_SECONDS = 30
CONNECTED = Q(call__duration_seconds__gt=0)
CONVERSATION = Q(call__duration_seconds__gt=CONVERSATION_SECONDS)


@dataclass
class CallerRow:
    caller: str
    caller_id: int | None
    campaign: str
    campaign_id: int
    dials: int
    connects: int
    conversations: int

    @property
    def connect_rate(self) -> str:
        return f"{self.connects / self.dials:.0%}" if self.dials else "-"


def _attempts(
    *,
    since: datetime,
    until: datetime,
    caller_id: int | None = None,
    campaign_id: int | None = None,
) -> Any:
    attempts = CallAttempt.objects.filter(created_at__gte=since, created_at__lt=until)
    if caller_id is not None:
        attempts = attempts.filter(caller_id=caller_id)
    if campaign_id is not None:
        attempts = attempts.filter(campaign_id=campaign_id)
    return attempts


def caller_rows(
    *,
    since: datetime,
    until: datetime,
    caller_id: int | None = None,
    campaign_id: int | None = None,
) -> list[CallerRow]:
    """Dials, connects and conversations per caller and campaign, most dials first."""
    grouped = (
        _attempts(since=since, until=until, caller_id=caller_id, campaign_id=campaign_id)
        .values("caller_id", "campaign_id")
        .annotate(
            dials=Count("id"),
            connects=Count("id", filter=CONNECTED),
            conversations=Count("id", filter=CONVERSATION),
        )
        .order_by("-dials", "caller_id", "campaign_id")
    )
    rows = list(grouped)
    users = {
        u.pk: u.get_username()
        for u in get_user_model().objects.filter(pk__in={r["caller_id"] for r in rows})
    }
    campaigns = dict(
        Campaign.objects.filter(pk__in={r["campaign_id"] for r in rows}).values_list("id", "name")
    )
    return [
        CallerRow(
            caller=users.get(r["caller_id"], "(removed)"),
            caller_id=r["caller_id"],
            campaign=campaigns.get(r["campaign_id"], ""),
            campaign_id=r["campaign_id"],
            dials=r["dials"],
            connects=r["connects"],
            conversations=r["conversations"],
        )
        for r in rows
    ]


def outcomes_by(
    *,
    period: str,
    since: datetime,
    until: datetime,
    caller_id: int | None = None,
    campaign_id: int | None = None,
) -> list[tuple[datetime, str, int]]:
    """``(hour or day, outcome, count)`` of the logged outcomes, in the site's zone."""
    trunc = TruncHour if period == "hour" else TruncDay
    rows = (
        _attempts(since=since, until=until, caller_id=caller_id, campaign_id=campaign_id)
        .filter(outcome__isnull=False)
        .annotate(at=trunc("created_at", tzinfo=timezone.get_current_timezone()))
        .values("at", "outcome__name")
        .annotate(n=Count("id"))
        .order_by("at", "outcome__name")
    )
    return [(r["at"], r["outcome__name"], r["n"]) for r in rows]


@dataclass
class Progress:
    campaign: Campaign
    worked: int
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.worked / self.total) if self.total else 0


def campaign_progress(*, campaigns: list[Campaign]) -> list[Progress]:
    """Leads worked (called at least once) of all leads, per campaign: one grouped query."""
    counts = {
        r["campaign_id"]: r
        for r in Contact.objects.filter(campaign__in=campaigns)
        .values("campaign_id")
        .annotate(total=Count("id"), worked=Count("id", filter=Q(attempts__gt=0)))
        .order_by()
    }
    return [
        Progress(
            campaign=c,
            worked=counts.get(c.pk, {}).get("worked", 0),
            total=counts.get(c.pk, {}).get("total", 0),
        )
        for c in campaigns
    ]


def caller_today(*, caller_id: int, campaign_id: int) -> CallerRow | None:
    """The caller's own figures in one campaign since midnight (the workspace shows them)."""
    now = timezone.localtime()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    rows = caller_rows(since=midnight, until=now, caller_id=caller_id, campaign_id=campaign_id)
    return rows[0] if rows else None
