"""Reads for mobile identification: which numbers the backfill looks up, what that would
cost, the month's spend, and the ledger (docs/identification.md). Of the package, only
:mod:`.ledger` is imported here."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, Q, Sum
from django.utils import timezone

from crm.models import PhoneNumber, PhoneNumberChange
from telephony.identification.ledger import month_start
from telephony.models import (
    BackfillRun,
    Call,
    LineTypeLookup,
    LookupSpend,
    Message,
    OrchestrationSettings,
)

# A number is worth a lookup only when the answer could change its type: exactly one
# profile holds it as Other and nobody holds it as Mobile (the other holders, if any, hold
# it as Home or Office). Numbers that are Mobile, Home or Office are identified already;
# an Other on several profiles would need a choice nobody can make automatically.
_ELIGIBLE = """
    SELECT number, MIN(id) FILTER (WHERE type = 'other') AS phone_id
    FROM crm_phonenumber
    WHERE number > %(after)s
    GROUP BY number
    HAVING COUNT(*) FILTER (WHERE type = 'other') = 1
       AND COUNT(*) FILTER (WHERE type = 'mobile') = 0
"""


@dataclass(frozen=True)
class Candidate:
    number: str
    phone_id: int


def backfill_chunk(*, after: str, limit: int) -> list[Candidate]:
    """The next ``limit`` numbers worth a lookup after ``after``, in E.164 order.

    PostgreSQL walks the number index in order and stops after ``limit`` groups, so a
    chunk costs the same at the start of a million numbers as at the end.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            _ELIGIBLE + " ORDER BY number LIMIT %(limit)s", {"after": after, "limit": limit}
        )
        return [Candidate(str(number), int(phone_id)) for number, phone_id in cursor.fetchall()]


def cache_cutoff(config: OrchestrationSettings, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=config.lookup_cache_days)


@dataclass(frozen=True)
class Plan:
    numbers: int  # worth a lookup
    cached: int  # of which answered within the cache period: free
    price: Decimal

    @property
    def lookups(self) -> int:
        return self.numbers - self.cached

    @property
    def cost(self) -> Decimal:
        return self.price * self.lookups


def backfill_plan(*, config: OrchestrationSettings, price: Decimal) -> Plan:
    """How many numbers a backfill would decide now, and how many it would pay for."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE EXISTS ("  # noqa: S608
            "  SELECT 1 FROM telephony_linetypelookup l"
            "  WHERE l.number = e.number AND l.looked_up_at >= %(cutoff)s AND NOT l.at_risk)) "
            f"FROM ({_ELIGIBLE}) AS e",
            {"after": "", "cutoff": cache_cutoff(config)},
        )
        numbers, cached = cursor.fetchone() or (0, 0)
    return Plan(numbers=int(numbers), cached=int(cached), price=price)


def cached_answers(*, numbers: list[str], since: datetime) -> dict[str, LineTypeLookup]:
    """The newest answer since ``since`` for each of these numbers that has one (a
    timed-out attempt is no answer)."""
    answers: dict[str, LineTypeLookup] = {}
    rows = LineTypeLookup.objects.filter(
        number__in=numbers, looked_up_at__gte=since, at_risk=False
    ).order_by("number", "-looked_up_at", "-id")
    for lookup in rows.only(
        "id", "number", "line_type", "carrier", "cost", "backfill_id", "looked_up_at"
    ):
        answers.setdefault(lookup.number, lookup)
    return answers


def month_committed() -> Decimal:
    """Money counted against this month's cap: every reservation (answered, timed out,
    or in flight right now). The cap's one source."""
    row = LookupSpend.objects.filter(month=month_start()).values_list("committed", flat=True)
    return row.first() or Decimal(0)


@dataclass(frozen=True)
class MonthFigures:
    """This month's money, each figure from one source: the ledger for what was spent
    and what is at risk, the cap's reservations for what is counted against it."""

    spent: Decimal  # answers recorded in the ledger
    at_risk: Decimal  # timed-out attempts in the ledger: the vendor may have billed them
    committed: Decimal  # LookupSpend: all of the above plus lookups in flight

    @property
    def in_flight(self) -> Decimal:
        """Reserved for lookups sent and not yet answered."""
        return max(self.committed - self.spent - self.at_risk, Decimal(0))


def month_figures() -> MonthFigures:
    start = datetime.combine(month_start(), datetime.min.time(), tzinfo=UTC)
    sums = LineTypeLookup.objects.filter(looked_up_at__gte=start).aggregate(
        spent=Sum("cost", filter=Q(at_risk=False)), at_risk=Sum("cost", filter=Q(at_risk=True))
    )
    return MonthFigures(
        spent=sums["spent"] or Decimal(0),
        at_risk=sums["at_risk"] or Decimal(0),
        committed=month_committed(),
    )


def month_spent() -> Decimal:
    """What this month's answers cost, from the ledger."""
    return month_figures().spent


@dataclass(frozen=True)
class RunFigures:
    """A backfill run's lookups as the ledger has them (its counters move only with its
    cursor, so a paused or halted run's last chunk is in the ledger and not in them)."""

    lookups: int = 0
    spent: Decimal = Decimal(0)
    attempts_at_risk: int = 0
    at_risk: Decimal = Decimal(0)


def runs_figures(*, run_ids: list[int]) -> dict[int, RunFigures]:
    rows = (
        LineTypeLookup.objects.filter(backfill_id__in=run_ids)
        .order_by()
        .values("backfill_id")
        .annotate(
            lookups=Count("id", filter=Q(at_risk=False)),
            spent=Sum("cost", filter=Q(at_risk=False)),
            attempts=Count("id", filter=Q(at_risk=True)),
            at_risk=Sum("cost", filter=Q(at_risk=True)),
        )
    )
    figures = dict.fromkeys(run_ids, RunFigures())
    for row in rows:
        figures[row["backfill_id"]] = RunFigures(
            lookups=row["lookups"],
            spent=row["spent"] or Decimal(0),
            attempts_at_risk=row["attempts"],
            at_risk=row["at_risk"] or Decimal(0),
        )
    return figures


def lookups_the_cap_allows(*, config: OrchestrationSettings, price: Decimal) -> int | None:
    """Lookups still possible this month under the cap (None: no cap, or they are free)."""
    if config.lookup_monthly_cap is None or price <= 0:
        return None
    left = config.lookup_monthly_cap - month_committed()
    return max(0, int(left // price))


def backfill_current() -> BackfillRun | None:
    """The open run (running, paused or stopped by the provider), else the latest."""
    run = BackfillRun.objects.filter(status__in=BackfillRun.OPEN_STATUSES).first()
    return run or BackfillRun.objects.first()


# --- The number view -----------------------------------------------------------------------

NUMBER_VIEW_ROWS = 20


@dataclass(frozen=True)
class NumberView:
    e164: str
    holders: list[Any]  # PhoneNumber rows with their customers
    lookups: list[LineTypeLookup]
    calls: list[Call]
    messages: list[Message]
    changes: list[Any]  # PhoneNumberChange rows


def number_view(e164: str) -> NumberView:
    """Everything about one number: a fixed handful of indexed queries."""
    holders = list(
        PhoneNumber.objects.filter(number=e164).select_related("customer").order_by("created_at")
    )
    customer_ids = [h.customer_id for h in holders]
    # By the holders' (customer, time) indexes: a number's history is its profiles'.
    calls = list(
        Call.objects.filter(customer_id__in=customer_ids)
        .filter(Q(from_number=e164) | Q(to_number=e164))
        .select_related("customer", "assistant")
        .order_by("-started_at", "-id")[:NUMBER_VIEW_ROWS]
    )
    messages = list(
        Message.objects.filter(customer_id__in=customer_ids)
        .filter(Q(from_number=e164) | Q(to_number=e164))
        .select_related("customer")
        .order_by("-sent_at", "-id")[:NUMBER_VIEW_ROWS]
    )
    changes = list(
        PhoneNumberChange.objects.filter(customer_id__in=customer_ids, number=e164)
        .select_related("customer", "actor")
        .order_by("-created_at", "-id")[:NUMBER_VIEW_ROWS]
    )
    return NumberView(
        e164=e164,
        holders=holders,
        lookups=list(LineTypeLookup.objects.filter(number=e164)[:NUMBER_VIEW_ROWS]),
        calls=calls,
        messages=messages,
        changes=changes,
    )
