"""Checking numbers: ask the provider, apply its answer, the pre-screen and the daily check.

The rules (``docs/reputation.md``, "Checks and verdicts"): the daily check covers each
monitored number once per calendar day, batched to the provider's request size; a failed
check changes no verdict. Provider calls happen outside any transaction; their answers are
applied in short ones. This module knows nothing of replacement: what follows a check is
``services.after_check``'s decision.
"""

import json
import logging
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import CharField, F, Q
from django.db.models.functions import Cast
from django.utils import timezone
from psycopg import sql

from crm.db import LockNamespace, advisory_try_lock, is_postgresql
from crm.providers import get_provider
from reputation.models import (
    CheckKind,
    DailyCheckRun,
    MonitoredNumber,
    ReputationSettings,
    SourceCheck,
    Verdict,
)
from reputation.providers.base import SourceResult
from telephony.models import OwnedNumber

logger = logging.getLogger(__name__)


@dataclass
class CheckCounts:
    kind: str = CheckKind.DAILY
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
    counts = CheckCounts(kind=kind)
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
    """The check that starts monitoring (so the badge is known at once); not the daily one."""
    return _check(monitored_ids, kind=CheckKind.PRESCREEN, fresh=False)


@dataclass
class DailyCheck:
    run: DailyCheckRun
    counts: CheckCounts | None  # None: this fire checked nothing (today's check is done)


def daily_check(*, today: date, force: bool = False) -> DailyCheck | None:
    """The day's check of every monitored number (beat, ``check_reputation``).

    Once per calendar day: the day's run row is unique, and a number checked today is not
    checked again, so a second fire checks nothing (it finishes only what an interrupted or
    failed run left). ``force`` checks every number again today, asking for fresh data.
    None when another worker is running it.
    """
    with advisory_try_lock(LockNamespace.REPUTATION_DAILY_CHECK, today.toordinal()) as mine:
        if not mine:
            return None
        run = _run_start(today=today, force=force)
        if run.state == DailyCheckRun.State.DONE and not force:
            return DailyCheck(run=run, counts=None)  # today's check is done: nothing checked
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
        run.refresh_from_db()
        run.turned_spam = len(counts.turned_spam)
        run.state = DailyCheckRun.State.INCOMPLETE if counts.failed else DailyCheckRun.State.DONE
        run.finished_at = timezone.now()
        run.save(update_fields=["turned_spam", "state", "finished_at"])
    return DailyCheck(run=run, counts=counts)


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
