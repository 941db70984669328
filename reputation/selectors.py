"""Reads for the add-on's pages and API: usage, a page's reputation, a number's history."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from reputation.models import (
    MonitoredNumber,
    NumberReplacement,
    ReputationSettings,
    SlotClaim,
    SourceCheck,
    Verdict,
    billing_cycle,
)
from telephony.models import Call, Direction, OwnedNumber
from telephony.selectors import team_today


def slots_used(*, cycle_start: date) -> int:
    """Slots used this cycle: its claims, plus monitored numbers not claimed yet (a cycle
    that began since the last daily check; ``slots_rollover`` writes their claims)."""
    unclaimed = MonitoredNumber.objects.exclude(
        Exists(
            SlotClaim.objects.filter(
                cycle_start=cycle_start, number=OuterRef("owned_number__number")
            )
        )
    )
    return SlotClaim.objects.filter(cycle_start=cycle_start).count() + unclaimed.count()


@dataclass(frozen=True)
class Usage:
    enabled: bool
    auto_replace: bool
    used: int
    capacity: int
    monitored: int
    clean: int
    pending: int
    flagged: int
    flagged_24h: int
    flagged_7d: int
    at_risk: int
    cycle_start: date
    cycle_end: date  # the first day of the next cycle

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.used)

    @property
    def cycle_last_day(self) -> date:
        return self.cycle_end - timedelta(days=1)


def usage(*, now: datetime | None = None) -> Usage:
    """The dashboard's figures: three queries whatever the number of numbers."""
    now = now or timezone.now()
    config = ReputationSettings.cached()
    today = team_today(now)
    start, end = billing_cycle(config.cycle_anchor or today, today)
    spam = Q(status=Verdict.SPAM)
    # A released number's monitoring ends with it (its slot is counted from its claim).
    counts = MonitoredNumber.objects.filter(
        owned_number__status=OwnedNumber.Status.ACTIVE
    ).aggregate(
        monitored=Count("id"),
        clean=Count("id", filter=Q(status=Verdict.SAFE)),
        pending=Count("id", filter=Q(status=Verdict.PENDING)),
        flagged=Count("id", filter=spam),
        flagged_24h=Count("id", filter=spam & Q(flagged_at__gte=now - timedelta(hours=24))),
        flagged_7d=Count("id", filter=spam & Q(flagged_at__gte=now - timedelta(days=7))),
        at_risk=Count("id", filter=Q(at_risk=True)),
    )
    return Usage(
        enabled=config.addon_enabled,
        auto_replace=config.auto_replace,
        used=slots_used(cycle_start=start),
        capacity=config.capacity,
        cycle_start=start,
        cycle_end=end,
        **counts,
    )


# The Phone numbers list's "Reputation" filter: the numbers behind each of usage()'s
# figures, by the same rules (monitoring of a released number ends with it).
REPUTATION_FILTERS = {
    "monitored": "Monitored",
    "safe": "SAFE",
    "spam": "SPAM (flagged now)",
    "flagged_24h": "Flagged in past 24 hrs",
    "flagged_7d": "Flagged in past 7 days",
    "at_risk": "At risk",
    "pending": "Not checked yet",
    "none": "Not monitored",
}


def owned_numbers_by_reputation(
    queryset: QuerySet[OwnedNumber], key: str, *, now: datetime | None = None
) -> QuerySet[OwnedNumber]:
    if key not in REPUTATION_FILTERS:
        return queryset
    if key == "none":
        return queryset.filter(reputation__isnull=True)
    now = now or timezone.now()
    monitored = queryset.filter(status=OwnedNumber.Status.ACTIVE, reputation__isnull=False)
    spam = Q(reputation__status=Verdict.SPAM)
    return monitored.filter(
        {
            "monitored": Q(),
            "safe": Q(reputation__status=Verdict.SAFE),
            "spam": spam,
            "flagged_24h": spam & Q(reputation__flagged_at__gte=now - timedelta(hours=24)),
            "flagged_7d": spam & Q(reputation__flagged_at__gte=now - timedelta(days=7)),
            "at_risk": Q(reputation__at_risk=True),
            "pending": Q(reputation__status=Verdict.PENDING),
        }[key]
    )


def flagged_latest(*, limit: int = 5) -> QuerySet[MonitoredNumber]:
    """The active numbers flagged most recently (the dashboard's list)."""
    return (
        MonitoredNumber.objects.filter(
            status=Verdict.SPAM, owned_number__status=OwnedNumber.Status.ACTIVE
        )
        .select_related("owned_number")
        .order_by("-flagged_at", "-id")[:limit]
    )


@dataclass
class RowReputation:
    e164: str
    monitored: MonitoredNumber | None
    calls_today: int
    call_warning: bool


def page_reputation(owned_numbers: list[OwnedNumber]) -> dict[int, RowReputation]:
    """A changelist page's reputation and calls today: two queries for the whole page.

    Telephony's list annotates each row with ``e164`` (the column's text); a number from
    elsewhere is formatted once here, not by each cell."""
    config = ReputationSettings.cached()
    e164s = {n.pk: getattr(n, "e164", None) or str(n.number) for n in owned_numbers}
    monitored = {
        m.owned_number_id: m
        for m in MonitoredNumber.objects.filter(owned_number_id__in=list(e164s))
    }
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    calls = dict(
        Call.objects.filter(
            direction=Direction.OUTBOUND,
            from_number__in=list(e164s.values()),
            started_at__gte=start,
        )
        .values("from_number")
        .annotate(n=Count("id"))
        .values_list("from_number", "n")
    )
    rows = {}
    for pk, e164 in e164s.items():
        today = calls.get(e164, 0)
        rows[pk] = RowReputation(
            e164=e164,
            monitored=monitored.get(pk),
            calls_today=today,
            call_warning=today > config.daily_call_warning,
        )
    return rows


def owned_numbers_with_reputation() -> QuerySet[OwnedNumber]:
    return OwnedNumber.objects.select_related("reputation").order_by("number", "id")


def flags_per_day(*, owned_number: OwnedNumber, days: int = 90) -> list[tuple[date, int, int]]:
    """(day, sources flagging, sources checked) for each of the last ``days`` days."""
    today = team_today()
    first = today - timedelta(days=days - 1)
    rows = {
        row["day"]: (row["flagged"], row["checked"])
        for row in SourceCheck.objects.filter(owned_number=owned_number, day__gte=first)
        .values("day")
        .annotate(flagged=Count("id", filter=Q(flagged=True)), checked=Count("id"))
    }
    return [
        (day, *rows.get(day, (0, 0))) for day in (first + timedelta(days=i) for i in range(days))
    ]


def latest_source_checks(*, owned_number: OwnedNumber, limit: int = 30) -> QuerySet[SourceCheck]:
    return SourceCheck.objects.filter(owned_number=owned_number).order_by("-day", "source")[:limit]


def replacements_of(*, owned_number: OwnedNumber) -> QuerySet[NumberReplacement]:
    return NumberReplacement.objects.filter(
        Q(old=owned_number) | Q(new=owned_number)
    ).select_related("old", "new", "by")


def replacement_notices(*, days: int = 7) -> QuerySet[NumberReplacement]:
    """Replacements that bought nothing (or gave back what they bought) lately: what the
    Administrator must be told."""
    since = team_today() - timedelta(days=days)
    return NumberReplacement.objects.filter(
        state__in=[
            NumberReplacement.State.REFUSED,
            NumberReplacement.State.WAITING,
            NumberReplacement.State.FAILED,
        ],
        day__gte=since,
    ).order_by("-created_at")[:5]


def spam_checked_today(*, today: date) -> QuerySet[MonitoredNumber]:
    """Active numbers whose latest check succeeded today and said SPAM: the only verdicts
    auto-replacement acts on (``docs/reputation.md``), so an outage replaces nothing."""
    start = timezone.make_aware(datetime.combine(today, time.min))
    return MonitoredNumber.objects.filter(
        status=Verdict.SPAM,
        owned_number__status=OwnedNumber.Status.ACTIVE,
        checked_at__gte=start,
    ).filter(Q(failed_at__isnull=True) | Q(failed_at__lt=F("checked_at")))


@dataclass(frozen=True)
class ReplacementPreview:
    e164: str
    label: str
    now: bool  # False: SPAM from an older check, replaced after its next successful one
    campaigns: list[str]  # whose caller ID changes to the replacement


def auto_replace_preview(*, today: date | None = None) -> list[ReplacementPreview]:
    """What switching auto-replacement on would replace: the numbers SPAM now, and the
    campaigns dialling from each (two queries)."""
    today = today or team_today()
    spam = MonitoredNumber.objects.filter(
        status=Verdict.SPAM, owned_number__status=OwnedNumber.Status.ACTIVE
    )
    now_ids = set(spam_checked_today(today=today).values_list("pk", flat=True))
    rows = list(spam.select_related("owned_number").order_by("owned_number__number"))
    campaigns: dict[int, list[str]] = {}
    for owned_id, name in OwnedNumber.objects.filter(
        pk__in=[m.owned_number_id for m in rows], campaigns__isnull=False
    ).values_list("pk", "campaigns__name"):
        campaigns.setdefault(owned_id, []).append(name)
    return [
        ReplacementPreview(
            e164=str(m.owned_number.number),
            label=m.owned_number.label,
            now=m.pk in now_ids,
            campaigns=sorted(campaigns.get(m.owned_number_id, [])),
        )
        for m in rows
    ]
