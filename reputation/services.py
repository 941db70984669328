"""Every write of the reputation add-on but replacements (``reputation/replacements.py``).

The rules (``docs/reputation.md``): monitoring claims a slot for the billing cycle and
starts with a pre-screening check; the daily check covers each monitored number once per
calendar day, batched to the provider's request size; a failed check changes no verdict.
Provider calls happen outside any transaction; their answers are applied in short ones.
"""

import json
import logging
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import CharField, Count, Exists, F, OuterRef, Q, Subquery
from django.db.models.functions import Cast
from django.utils import timezone
from psycopg import sql

from crm.actors import Actor, acting_user
from crm.db import LockNamespace, advisory_try_lock, advisory_xact_lock, is_postgresql
from crm.providers import get_provider
from reputation.models import (
    CheckKind,
    DailyCheckRun,
    MonitoredNumber,
    ReputationSettings,
    SlotClaim,
    SourceCheck,
    Verdict,
    billing_cycle,
)
from reputation.providers.base import SourceResult
from reputation.selectors import slots_used
from telephony.models import Call, Direction, OwnedNumber

logger = logging.getLogger(__name__)

# Early warning: the recent window against the one before it, and the fewest calls in each
# for a rate to mean anything.
RECENT_DAYS = 3
BEFORE_DAYS = 14
MIN_RECENT_CALLS = 5
MIN_BEFORE_CALLS = 10
ENDED = ("completed", "busy", "failed", "no-answer", "canceled")


class ReputationRefused(Exception):
    """A request the add-on's rules refuse, with the message to show (API: 409)."""


def current_cycle(config: ReputationSettings, today: date | None = None) -> tuple[date, date]:
    today = today or timezone.localdate()
    return billing_cycle(config.cycle_anchor or today, today)


@transaction.atomic
def reputation_settings_save(*, config: ReputationSettings) -> ReputationSettings:
    """Save the Add-on page; switching the add-on on the first time starts the billing."""
    if config.addon_enabled and config.cycle_anchor is None:
        config.cycle_anchor = timezone.localdate()
    config.save()
    return config


# --- Slots and monitoring ----------------------------------------------------------------


def _claimed_numbers(cycle_start: date, numbers: list[str]) -> set[str]:
    return set(
        SlotClaim.objects.filter(cycle_start=cycle_start, number__in=numbers).values_list(
            "number", flat=True
        )
    )


@transaction.atomic
def slots_rollover(*, today: date | None = None) -> int:
    """Claim this cycle's slots for every monitored number (a new cycle frees the rest)."""
    config = ReputationSettings.load()
    start, _ = current_cycle(config, today)
    advisory_xact_lock(LockNamespace.REPUTATION_SLOTS, 0)
    missing = MonitoredNumber.objects.exclude(
        Exists(SlotClaim.objects.filter(cycle_start=start, number=OuterRef("owned_number__number")))
    ).values_list("owned_number_id", "owned_number__number")
    claims = [SlotClaim(cycle_start=start, number=n, owned_number_id=pk) for pk, n in missing]
    SlotClaim.objects.bulk_create(claims, ignore_conflicts=True)
    return len(claims)


@dataclass
class MonitorOutcome:
    monitored: list[MonitoredNumber] = field(default_factory=list)
    already: int = 0


@transaction.atomic
def _monitor_claim(*, owned_number_ids: list[int], by: Actor) -> MonitorOutcome:
    config = ReputationSettings.load()
    if not config.addon_enabled:
        raise ReputationRefused(
            "Advanced Phone Reputation is off: switch it on on the Add-on page first."
        )
    start, end = current_cycle(config)
    # One claim decision at a time, so two admins cannot both take the last slot.
    advisory_xact_lock(LockNamespace.REPUTATION_SLOTS, 0)
    numbers = list(OwnedNumber.objects.filter(pk__in=owned_number_ids).order_by("number"))
    released = [str(n.number) for n in numbers if n.status != OwnedNumber.Status.ACTIVE]
    if released:
        raise ReputationRefused(f"Released numbers cannot be monitored: {', '.join(released)}.")
    already = set(
        MonitoredNumber.objects.filter(owned_number__in=numbers).values_list(
            "owned_number_id", flat=True
        )
    )
    wanted = [n for n in numbers if n.pk not in already]
    claimed = _claimed_numbers(start, [str(n.number) for n in wanted])
    needed = sum(1 for n in wanted if str(n.number) not in claimed)
    free = config.capacity - slots_used(cycle_start=start)
    if needed > free:
        raise ReputationRefused(
            f"No free monitoring slot: {needed} needed, {max(free, 0)} free of "
            f"{config.capacity} this cycle (until {end:%b} {end.day}). Buy another block "
            "of 15 on the Add-on page, or replace a number instead of adding one."
        )
    user = acting_user(by)
    SlotClaim.objects.bulk_create(
        [
            SlotClaim(cycle_start=start, number=str(n.number), owned_number=n, claimed_by=user)
            for n in wanted
            if str(n.number) not in claimed
        ]
    )
    # A number monitored, stopped and monitored again this cycle keeps its one claim.
    for n in wanted:
        if str(n.number) in claimed:
            SlotClaim.objects.filter(cycle_start=start, number=str(n.number)).update(owned_number=n)
    monitored = MonitoredNumber.objects.bulk_create(
        [MonitoredNumber(owned_number=n, monitored_by=user) for n in wanted]
    )
    return MonitorOutcome(monitored=monitored, already=len(already))


def numbers_monitor(*, owned_number_ids: list[int], by: Actor) -> MonitorOutcome:
    """Start monitoring these numbers (all or none: a slot each), then pre-screen them.

    Raises :class:`ReputationRefused` when the add-on is off or too few slots are free.
    """
    outcome = _monitor_claim(owned_number_ids=owned_number_ids, by=by)
    if outcome.monitored:
        if numbers_prescreen(monitored_ids=[m.pk for m in outcome.monitored]).turned_spam:
            replace_turned_spam()
        fresh = {
            m.pk: m
            for m in MonitoredNumber.objects.filter(pk__in=[m.pk for m in outcome.monitored])
        }
        outcome.monitored = [fresh.get(m.pk, m) for m in outcome.monitored]
    return outcome


@transaction.atomic
def numbers_unmonitor(*, owned_number_ids: list[int], by: Actor) -> int:
    """Stop monitoring. The slot stays used until the cycle ends (its claim remains)."""
    deleted, _ = MonitoredNumber.objects.filter(owned_number_id__in=owned_number_ids).delete()
    return deleted


# --- Checks -------------------------------------------------------------------------------


@dataclass
class CheckCounts:
    checked: int = 0
    failed: int = 0
    requests: int = 0
    turned_spam: list[int] = field(default_factory=list)  # MonitoredNumber ids
    last_error: str = ""


def _results_json(results: list[SourceResult]) -> list[dict[str, Any]]:
    return [
        {"carrier": r.carrier, "label": r.label, "score": r.score, "flagged": r.flagged}
        for r in results
    ]


@transaction.atomic
def _apply(
    batch: list[MonitoredNumber],
    answer: dict[str, list[SourceResult]] | None,
    *,
    kind: str,
    error: str,
    config: ReputationSettings,
    counts: CheckCounts,
) -> None:
    """Record one batch's answer: verdicts, today's history rows, the failures."""
    now = timezone.now()
    today = timezone.localdate(now)
    checked: list[MonitoredNumber] = []
    failed: list[int] = []
    history: list[SourceCheck] = []
    for monitored in batch:
        e164 = monitored.e164  # type: ignore[attr-defined]
        results = (answer or {}).get(e164)
        if not results:
            failed.append(monitored.pk)  # not checked: its verdict stays as it was
            continue
        flagged = sum(1 for r in results if r.flagged)
        verdict = Verdict.SPAM if flagged >= config.threshold_for(len(results)) else Verdict.SAFE
        if verdict == Verdict.SPAM and monitored.status != Verdict.SPAM:
            monitored.flagged_at = now
            counts.turned_spam.append(monitored.pk)
        monitored.status = verdict
        monitored.flagged_sources, monitored.sources = flagged, len(results)
        monitored.results = _results_json(results)
        monitored.checked_at, monitored.failed_at, monitored.last_error = now, None, ""
        if kind != CheckKind.PRESCREEN:
            monitored.daily_checked_on = today
        checked.append(monitored)
        history += [
            SourceCheck(
                owned_number_id=monitored.owned_number_id,
                number=e164,
                day=today,
                source=r.carrier,
                label=r.label,
                score=r.score,
                flagged=r.flagged,
                kind=kind,
                checked_at=now,
            )
            for r in results
        ]
    _save_verdicts(checked)
    SourceCheck.objects.bulk_create(
        history,
        update_conflicts=True,
        unique_fields=["number", "day", "source"],
        update_fields=["owned_number", "label", "score", "flagged", "kind", "checked_at"],
    )
    if failed:
        message = (error or "the provider did not answer for this number")[:300]
        MonitoredNumber.objects.filter(pk__in=failed).update(failed_at=now, last_error=message)
        counts.last_error = message
    counts.checked += len(checked)
    counts.failed += len(failed)


VERDICT_FIELDS = [
    "status",
    "flagged_at",
    "flagged_sources",
    "sources",
    "results",
    "checked_at",
    "failed_at",
    "last_error",
    "daily_checked_on",
]
# One statement for a batch's verdicts. bulk_update builds a CASE per field and row, and
# compiling those expressions was 85% of the daily check's time (about 1.2 s a batch of
# 100 under load, bench/reputation.py); a JSON record set is one parameter, parsed by
# PostgreSQL.
_VERDICTS_SQL = sql.SQL(
    "UPDATE {table} AS m SET status = r.status, flagged_at = r.flagged_at, "
    "flagged_sources = r.flagged_sources, sources = r.sources, results = r.results, "
    "checked_at = r.checked_at, failed_at = NULL, last_error = '', "
    "daily_checked_on = COALESCE(r.daily_checked_on, m.daily_checked_on) "
    "FROM jsonb_to_recordset(%s::jsonb) AS r(id bigint, status text, "
    "flagged_at timestamptz, flagged_sources int, sources int, results jsonb, "
    "checked_at timestamptz, daily_checked_on date) WHERE m.id = r.id"
)


def _save_verdicts(checked: list[MonitoredNumber]) -> None:
    if not checked:
        return
    if not is_postgresql():
        MonitoredNumber.objects.bulk_update(checked, VERDICT_FIELDS)
        return
    records = [
        {
            "id": m.pk,
            "status": m.status,
            "flagged_at": m.flagged_at.isoformat() if m.flagged_at else None,
            "flagged_sources": m.flagged_sources,
            "sources": m.sources,
            "results": m.results,
            "checked_at": m.checked_at.isoformat() if m.checked_at else None,
            "daily_checked_on": m.daily_checked_on.isoformat() if m.daily_checked_on else None,
        }
        for m in checked
    ]
    statement = _VERDICTS_SQL.format(table=sql.Identifier(MonitoredNumber._meta.db_table))
    with connection.cursor() as cursor:
        cursor.execute(statement.as_string(cursor.connection), [json.dumps(records)])


def _ask(provider: Any, e164s: list[str], fresh: bool) -> tuple[Any, str]:
    try:
        return provider.check(e164s, fresh=fresh), ""
    except Exception as exc:  # any exception is a failed call: nothing changes
        logger.warning("reputation check of %d numbers failed: %s", len(e164s), exc)
        return None, f"{type(exc).__name__}: {exc}"


def _batches(ids: list[int], size: int) -> Iterator[list[MonitoredNumber]]:
    for i in range(0, len(ids), size):
        chunk = ids[i : i + size]
        # The number as its column holds it: building a PhoneNumber per row (a parse, then
        # a format back to E.164) was a fifth of the check's time.
        yield list(
            MonitoredNumber.objects.filter(
                pk__in=chunk, owned_number__status=OwnedNumber.Status.ACTIVE
            ).annotate(e164=Cast("owned_number__number", CharField()))
        )


def _check(ids: list[int], *, kind: str, fresh: bool, on_batch: Any = None) -> CheckCounts:
    """Check these monitored numbers, ``batch_size`` to a request, a few requests in flight.

    Only the provider calls run in the pool's threads; answers are applied here, in order.
    """
    provider = get_provider("REPUTATION_PROVIDER")
    config = ReputationSettings.load()
    size = max(1, int(getattr(provider, "batch_size", 100)))
    counts = CheckCounts()
    workers = max(1, int(getattr(settings, "REPUTATION_CHECK_CONCURRENCY", 4)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: list[tuple[list[MonitoredNumber], Future]] = []

        def drain(limit: int) -> None:
            while len(pending) > limit:
                batch, future = pending.pop(0)
                answer, error = future.result()
                before = (counts.checked, counts.failed)
                _apply(batch, answer, kind=kind, error=error, config=config, counts=counts)
                if on_batch is not None:
                    on_batch(counts.checked - before[0], counts.failed - before[1], error)

        for batch in _batches(ids, size):
            if not batch:
                continue
            e164s = [m.e164 for m in batch]  # type: ignore[attr-defined]
            counts.requests += 1
            pending.append((batch, pool.submit(_ask, provider, e164s, fresh)))
            drain(workers)
        drain(0)
    return counts


def numbers_prescreen(*, monitored_ids: list[int]) -> CheckCounts:
    """The check that starts monitoring (so the badge is known at once); not the daily one.

    Numbers the provider could not check stay pending and are tried again by a task.
    """
    counts = _check(monitored_ids, kind=CheckKind.PRESCREEN, fresh=False)
    if counts.failed:
        still = list(
            MonitoredNumber.objects.filter(
                pk__in=monitored_ids, status=Verdict.PENDING
            ).values_list("pk", flat=True)
        )
        if still:
            from reputation import tasks

            transaction.on_commit(
                lambda: tasks.numbers_prescreen.apply_async((still,), countdown=300)
            )
    return counts


def replace_turned_spam() -> None:
    """Auto-replacement after a pre-screening found SPAM (when the Administrator allows)."""
    config = ReputationSettings.load()
    if config.addon_enabled and config.auto_replace:
        from reputation import replacements

        replacements.replacements_run()


def daily_check_run(*, force: bool = False, today: date | None = None) -> DailyCheckRun | None:
    """The day's check of every monitored number (beat, ``check_reputation``).

    Once per calendar day: the day's run row is unique, and a number checked today is not
    checked again, so a second fire checks nothing (it finishes only what an interrupted or
    failed run left). ``force`` checks every number again today, asking for fresh data.
    Returns the run, or None when the add-on is off or another worker is running it.
    """
    config = ReputationSettings.load()
    if not config.addon_enabled:
        return None
    today = today or timezone.localdate()
    with advisory_try_lock(LockNamespace.REPUTATION_DAILY_CHECK, today.toordinal()) as mine:
        if not mine:
            return None
        run = _run_start(today=today, force=force)
        if run.state == DailyCheckRun.State.DONE and not force:
            return run  # today's check is done: this fire checks nothing
        slots_rollover(today=today)
        targets = MonitoredNumber.objects.filter(owned_number__status=OwnedNumber.Status.ACTIVE)
        if not force:
            targets = targets.filter(
                Q(daily_checked_on__isnull=True) | Q(daily_checked_on__lt=today)
            )
        ids = list(targets.order_by("pk").values_list("pk", flat=True))

        def progress(checked: int, failed: int, error: str) -> None:
            DailyCheckRun.objects.filter(pk=run.pk).update(
                numbers_checked=F("numbers_checked") + checked,
                numbers_failed=F("numbers_failed") + failed,
                requests=F("requests") + 1,
                last_error=error[:300] if error else F("last_error"),
            )

        counts = _check(
            ids, kind=CheckKind.FORCED if force else CheckKind.DAILY, fresh=force, on_batch=progress
        )
        monitored_risk_refresh()
        run.refresh_from_db()
        run.turned_spam = len(counts.turned_spam)
        run.state = DailyCheckRun.State.INCOMPLETE if counts.failed else DailyCheckRun.State.DONE
        run.finished_at = timezone.now()
        run.save(update_fields=["turned_spam", "state", "finished_at"])
    if config.auto_replace:
        from reputation import replacements

        replacements.replacements_run(today=today)
    return run


def _run_start(*, today: date, force: bool) -> DailyCheckRun:
    if force:
        return DailyCheckRun.objects.create(day=today, forced=True)
    try:
        with transaction.atomic():
            run, _ = DailyCheckRun.objects.get_or_create(day=today, forced=False)
    except IntegrityError:  # another process made it between our read and insert
        run = DailyCheckRun.objects.get(day=today, forced=False)
    if run.state == DailyCheckRun.State.INCOMPLETE:
        run.state = DailyCheckRun.State.RUNNING
        run.save(update_fields=["state"])
    return run


# --- Early warning ------------------------------------------------------------------------


def _rate(answered: int, total: int) -> float | None:
    return answered / total if total else None


@transaction.atomic
def monitored_risk_refresh(*, now: datetime | None = None) -> int:
    """Mark monitored numbers at risk: outbound answer rate of the last 3 days below the
    configured fraction of the 14 days before (our own calls, before carriers flag it).

    One grouped query over the calls of the monitored numbers; returns how many are at risk.
    """
    now = now or timezone.now()
    config = ReputationSettings.load()
    recent_from = now - timedelta(days=RECENT_DAYS)
    before_from = recent_from - timedelta(days=BEFORE_DAYS)
    recent = Q(started_at__gte=recent_from)
    before = Q(started_at__lt=recent_from)
    answered = Q(status="completed")
    monitored_numbers = MonitoredNumber.objects.values("owned_number__number")
    stats = {
        row["from_number"]: row
        for row in Call.objects.filter(
            direction=Direction.OUTBOUND,
            from_number__in=Subquery(monitored_numbers),
            started_at__gte=before_from,
            started_at__lt=now,
            status__in=ENDED,
        )
        .values("from_number")
        .annotate(
            recent_total=Count("id", filter=recent),
            recent_answered=Count("id", filter=recent & answered),
            before_total=Count("id", filter=before),
            before_answered=Count("id", filter=before & answered),
        )
    }
    fraction = float(config.at_risk_fraction)
    changed = []
    at_risk = 0
    for monitored in MonitoredNumber.objects.annotate(
        e164=Cast("owned_number__number", CharField())
    ).only("id", "at_risk", "answer_rate_recent", "answer_rate_before"):
        row = stats.get(monitored.e164, {})
        recent_rate = _rate(row.get("recent_answered", 0), row.get("recent_total", 0))
        before_rate = _rate(row.get("before_answered", 0), row.get("before_total", 0))
        risky = bool(
            row.get("recent_total", 0) >= MIN_RECENT_CALLS
            and row.get("before_total", 0) >= MIN_BEFORE_CALLS
            and recent_rate is not None
            and before_rate
            and recent_rate < fraction * before_rate
        )
        at_risk += risky
        values = (risky, recent_rate, before_rate)
        if values != (
            monitored.at_risk,
            monitored.answer_rate_recent,
            monitored.answer_rate_before,
        ):
            monitored.at_risk, monitored.answer_rate_recent, monitored.answer_rate_before = values
            changed.append(monitored)
    MonitoredNumber.objects.bulk_update(
        changed, ["at_risk", "answer_rate_recent", "answer_rate_before"], batch_size=1000
    )
    return at_risk


def monitored_ids_for(owned_numbers: Iterable[int]) -> list[int]:
    return list(
        MonitoredNumber.objects.filter(owned_number_id__in=list(owned_numbers)).values_list(
            "pk", flat=True
        )
    )
