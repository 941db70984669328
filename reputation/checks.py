"""Checking numbers: ask the provider, apply its answer, the pre-screen and the daily check.

The rules (``docs/reputation.md``, "Checks and verdicts"): the daily check covers each
monitored number once per calendar day, batched to the provider's request size; a failed
check changes no verdict. Provider calls happen outside any transaction; their answers are
applied in short ones. This module knows nothing of replacement: what follows a check is
``services.after_check``'s decision.
"""

import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import CharField, F, Q, QuerySet
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
from reputation.providers.base import (
    FreshReputationProvider,
    ReputationProvider,
    SourceResult,
    batch_size_of,
    max_in_flight_of,
    offers_fresh,
)
from reputation.selectors import spam_checked_today
from telephony.models import OwnedNumber
from telephony.selectors import team_today

logger = logging.getLogger(__name__)

# Which verdicts came from a check that succeeded today: a read, kept with the other reads
# (the Add-on page previews it), offered here as the checks' own answer.
__all__ = ["CheckCounts", "daily_check", "numbers_prescreen", "read_results", "spam_checked_today"]


@dataclass
class CheckCounts:
    kind: str = CheckKind.DAILY
    checked: int = 0
    failed: int = 0
    requests: int = 0
    turned_spam: list[int] = field(default_factory=list)  # MonitoredNumber ids
    spam: list[int] = field(default_factory=list)  # checked SPAM now, turned or still
    last_error: str = ""

    def add(self, other: "CheckCounts") -> None:
        self.checked += other.checked
        self.failed += other.failed
        self.turned_spam += other.turned_spam
        self.spam += other.spam
        self.last_error = other.last_error or self.last_error


SOURCE_LENGTH = SourceCheck._meta.get_field("source").max_length or 40
LABEL_LENGTH = SourceCheck._meta.get_field("label").max_length or 80
# More sources than this for one number is not an answer we can use.
MAX_SOURCES = 50
# The history's integer column (PostgreSQL ``integer``).
SCORE_MIN, SCORE_MAX = -(2**31), 2**31 - 1


def _field(entry: Any, name: str) -> Any:
    if isinstance(entry, dict):
        return entry.get(name)
    return getattr(entry, name, None)


def _text(value: Any, length: int) -> str | None:
    """Text as the columns take it: NUL removed (PostgreSQL refuses it), clipped."""
    if type(value) is str:  # the usual case, first: 30,000 results a day at 10k numbers
        return value.replace("\x00", "").strip()[:length]
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return str(value).replace("\x00", "").strip()[:length]


def read_results(raw: Any) -> list[SourceResult] | str:
    """One number's results as the provider gave them, or why they cannot be used.

    The contract (``providers/base.py``) promises objects with ``carrier``, ``label``,
    ``score`` and ``flagged``; whatever arrives instead fails this number alone, never the
    batch nor the day's check (``docs/reputation.md``, "Outages").
    """
    if not isinstance(raw, list | tuple) and (
        isinstance(raw, str | bytes) or not isinstance(raw, Sequence)
    ):
        return "the answer for this number is not a list of results"
    if not raw or len(raw) > MAX_SOURCES:
        return f"the answer for this number has {len(raw)} results"
    results: list[SourceResult] = []
    seen: set[str] = set()
    for entry in raw:
        carrier = _field(entry, "carrier")
        carrier = _text(carrier, SOURCE_LENGTH) if isinstance(carrier, str) else None
        label = _text(_field(entry, "label"), LABEL_LENGTH)
        flagged, score = _field(entry, "flagged"), _field(entry, "score")
        if not carrier:
            return "a result has no carrier"
        if carrier in seen:
            return f"two results for the carrier {carrier!r}"
        seen.add(carrier)
        if label is None:
            return f"{carrier}: the label is not text"
        if flagged is not True and flagged is not False:
            return f"{carrier}: flagged is not true or false"
        if isinstance(score, float) and score.is_integer():
            score = int(score)
        if score is not None and (type(score) is not int or not SCORE_MIN <= score <= SCORE_MAX):
            return f"{carrier}: the score is not a number we can keep"
        if (
            type(entry) is SourceResult
            and entry.carrier is carrier
            and entry.label is label
            and entry.score is score
        ):
            results.append(entry)  # already what it should be: no copy
        else:
            results.append(SourceResult(carrier=carrier, label=label, score=score, flagged=flagged))
    return results


def _results_json(results: list[SourceResult]) -> list[dict[str, Any]]:
    return [
        {"carrier": r.carrier, "label": r.label, "score": r.score, "flagged": r.flagged}
        for r in results
    ]


# Answers as they come back: each batch, what the provider answered (None: nothing), and
# why not (an error, or "").
Answered = list[tuple[list[MonitoredNumber], Mapping[str, Any] | None, str]]
# After each commit of answers: numbers checked, numbers failed, requests, the last error.
OnBatch = Callable[[int, int, int, str], None]


def _apply(
    answered: Answered, *, kind: str, config: ReputationSettings, on_batch: OnBatch | None
) -> CheckCounts:
    """Record the answers that have come (one batch's, or several when recording fell
    behind) and the run's progress in one commit: each commit waits for the disk, and on a
    loaded machine the statements and commits of each batch on its own were what held the
    check above its floor (docs/profiles/reputation.md). Should that fail, each number on
    its own, so that what one number's answer breaks fails that number only."""

    def progress(outcome: CheckCounts) -> None:
        if on_batch is not None:
            errors = [error for _, _, error in answered if error]
            on_batch(outcome.checked, outcome.failed, len(answered), errors[-1] if errors else "")

    try:
        with transaction.atomic():
            outcome = _apply_answers(answered, kind=kind, config=config)
            progress(outcome)
        return outcome
    except Exception:
        logger.exception("recording reputation answers failed: each number on its own")
    outcome = CheckCounts(kind=kind)
    with transaction.atomic():
        for batch, answer, error in answered:
            for monitored in _reload(batch):
                try:
                    with transaction.atomic():
                        one = _apply_answers(
                            [([monitored], answer, error)], kind=kind, config=config
                        )
                except Exception as single:
                    # The type alone: a database error's text can quote the row, number included.
                    one = _record_failures(
                        [monitored.pk], f"recording the answer failed ({type(single).__name__})"
                    )
                outcome.add(one)
        progress(outcome)
    return outcome


def _reload(batch: list[MonitoredNumber]) -> list[MonitoredNumber]:
    return list(
        MonitoredNumber.objects.filter(pk__in=[m.pk for m in batch]).annotate(
            e164=Cast("owned_number__number", CharField())
        )
    )


def _record_failures(ids: list[int], message: str) -> CheckCounts:
    message = message[:300]
    MonitoredNumber.objects.filter(pk__in=ids).update(failed_at=timezone.now(), last_error=message)
    return CheckCounts(failed=len(ids), last_error=message)


def _apply_answers(answered: Answered, *, kind: str, config: ReputationSettings) -> CheckCounts:
    """Verdicts, today's history rows and the failures of these answers: a statement each."""
    now = timezone.now()
    today = team_today(now)
    outcome = CheckCounts(kind=kind)
    checked: list[MonitoredNumber] = []
    failed: dict[str, list[int]] = {}
    history: list[dict[str, Any]] = []
    for monitored, answer, error in (
        (monitored, answer, error) for batch, answer, error in answered for monitored in batch
    ):
        e164 = monitored.e164  # type: ignore[attr-defined]
        raw = answer.get(e164) if answer is not None else None
        results = read_results(raw) if raw is not None else ""
        if isinstance(results, str):  # not checked: its verdict stays as it was
            reason = results or error or "the provider did not answer for this number"
            failed.setdefault(reason, []).append(monitored.pk)
            continue
        flagged = sum(1 for r in results if r.flagged)
        verdict = Verdict.SPAM if flagged >= config.threshold_for(len(results)) else Verdict.SAFE
        if verdict == Verdict.SPAM:
            outcome.spam.append(monitored.pk)
            if monitored.status != Verdict.SPAM:
                monitored.flagged_at = now
                outcome.turned_spam.append(monitored.pk)
        monitored.status = verdict
        monitored.flagged_sources, monitored.sources = flagged, len(results)
        monitored.results = _results_json(results)
        monitored.checked_at, monitored.failed_at, monitored.last_error = now, None, ""
        if kind != CheckKind.PRESCREEN:
            monitored.daily_checked_on = today
        checked.append(monitored)
        history += [
            {
                "owned_number_id": monitored.owned_number_id,
                "number": e164,
                "source": r.carrier,
                "label": r.label,
                "score": r.score,
                "flagged": r.flagged,
            }
            for r in results
        ]
    _save_verdicts(checked)
    _save_history(history, day=today, kind=kind, checked_at=now)
    for reason, ids in failed.items():
        outcome.add(_record_failures(ids, reason))
    outcome.checked = len(checked)
    return outcome


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


# Today's history rows of a batch (three or more a number) in one statement, for the same
# reason as the verdicts: bulk_create's model instances and the compiling of its 3,000
# parameters a batch were most of what the check spent between two answers.
_HISTORY_SQL = sql.SQL(
    "INSERT INTO {table} AS h (owned_number_id, number, day, source, label, score, flagged, "
    "kind, checked_at) SELECT r.owned_number_id, r.number, %s, r.source, r.label, r.score, "
    "r.flagged, %s, %s FROM jsonb_to_recordset(%s::jsonb) AS r(owned_number_id bigint, "
    "number text, source text, label text, score int, flagged boolean) "
    "ON CONFLICT (number, day, source) DO UPDATE SET owned_number_id = EXCLUDED.owned_number_id, "
    "label = EXCLUDED.label, score = EXCLUDED.score, flagged = EXCLUDED.flagged, "
    "kind = EXCLUDED.kind, checked_at = EXCLUDED.checked_at"
)


def _save_history(
    rows: list[dict[str, Any]], *, day: date, kind: str, checked_at: datetime
) -> None:
    if not rows:
        return
    if not is_postgresql():
        SourceCheck.objects.bulk_create(
            [SourceCheck(**row, day=day, kind=kind, checked_at=checked_at) for row in rows],
            update_conflicts=True,
            unique_fields=["number", "day", "source"],
            update_fields=["owned_number", "label", "score", "flagged", "kind", "checked_at"],
        )
        return
    statement = _HISTORY_SQL.format(table=sql.Identifier(SourceCheck._meta.db_table))
    with connection.cursor() as cursor:
        cursor.execute(
            statement.as_string(cursor.connection), [day, kind, checked_at, json.dumps(rows)]
        )


def _ask(
    provider: ReputationProvider, e164s: list[str], fresh: bool
) -> tuple[Mapping[str, Any] | None, str]:
    """The provider's answer for a batch, or why there is none (nothing changes then)."""
    try:
        if fresh and isinstance(provider, FreshReputationProvider) and offers_fresh(provider):
            answer: Any = provider.check(e164s, fresh=True)
        else:  # the contract: one argument (fresh data is an optional capability)
            answer = provider.check(e164s)
    except Exception as exc:  # any exception is a failed call: nothing changes
        logger.warning("reputation check of %d numbers failed: %s", len(e164s), exc)
        return None, f"{type(exc).__name__}: {exc}"
    if not isinstance(answer, Mapping):
        return None, f"the provider answered {type(answer).__name__}, not numbers and results"
    return answer, ""


# Requests waiting to be sent or in flight, per thread: the threads never wait for this
# thread, which records (a queue of 4 a thread, counting the answers not yet recorded, ran
# dry whenever recording fell behind on a loaded machine and stopped the requests for up to
# 1.5 s, docs/profiles/reputation.md). 8 a thread is 0.8 s of requests at 100 ms, longer
# than recording 10 answers takes on a loaded machine.
AHEAD_PER_THREAD = 8
# Batches held at once (waiting, in flight, or answered and not yet recorded), per thread:
# a bound on the answers held in memory.
QUEUED_PER_THREAD = 32
# Answers recorded in one commit at most, so the queue is topped up between commits.
RECORDED_PER_COMMIT = 10
BATCH_FIELDS = ("id", "owned_number_id", "status", "flagged_at", "daily_checked_on")
# Batches fetched to a query after the first: one query per request was as many round trips
# again. The first query fetches one batch a thread, so the first requests leave at once.
BATCHES_PER_QUERY = 10


def _batches(
    targets: QuerySet[MonitoredNumber], size: int, first: int
) -> Iterator[list[MonitoredNumber]]:
    """The targets still ours, ``size`` to a batch, in pk order, a keyset page per query
    (no list of ids read first: the first requests leave after one small query)."""
    rows = (
        targets.filter(owned_number__status=OwnedNumber.Status.ACTIVE)
        .order_by("pk")
        # What a verdict reads; the rest it overwrites (the stored results, parsed from
        # JSON for nothing, were a third of fetching a batch). The number as its column
        # holds it: building a PhoneNumber per row (a parse, then a format back to E.164)
        # was a fifth of the check's time.
        .only(*BATCH_FIELDS)
        .annotate(e164=Cast("owned_number__number", CharField()))
    )
    last, step = 0, size * first
    while True:
        page: list[MonitoredNumber] = list(rows.filter(pk__gt=last)[:step])
        for i in range(0, len(page), size):
            yield page[i : i + size]
        if len(page) < step:
            return
        last, step = page[-1].pk, size * BATCHES_PER_QUERY


def _check(
    targets: QuerySet[MonitoredNumber],
    *,
    kind: str,
    fresh: bool,
    on_batch: OnBatch | None = None,
    counts: CheckCounts | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> CheckCounts:
    """Check these monitored numbers, ``batch_size`` to a request, ``workers`` in flight.

    Only the provider calls run in the pool's threads. Requests wait queued ahead of the
    threads, so a thread that has its answer sends the next request at once, whatever this
    thread is doing: the requests in flight stay at ``workers`` and the check takes about
    requests / workers x the provider's latency (its floor, bench/reputation.py). This
    thread records the answers as they come, topping the queue up between commits. The
    queue is bounded, and so are the answers waiting in memory. ``meanwhile`` runs once on
    this thread while the first requests are out (this thread has nothing else to do until
    their answers come), or at once when there is nothing to ask.
    """
    provider: ReputationProvider = get_provider("REPUTATION_PROVIDER")
    config = ReputationSettings.load()
    size = batch_size_of(provider)
    counts = counts or CheckCounts(kind=kind)
    workers = max_in_flight_of(provider, int(getattr(settings, "REPUTATION_CHECK_CONCURRENCY", 4)))
    batches = _batches(targets, size, first=workers)
    pending: dict[Future, tuple[int, list[MonitoredNumber]]] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        try:
            while True:
                ahead = sum(1 for f in pending if not f.done())
                while ahead < workers * AHEAD_PER_THREAD and len(pending) < (
                    workers * QUEUED_PER_THREAD
                ):
                    batch = next(batches, None)
                    if batch is None:
                        break
                    e164s = [m.e164 for m in batch]  # type: ignore[attr-defined]
                    counts.requests += 1
                    future = pool.submit(_ask, provider, e164s, fresh)
                    pending[future] = (counts.requests, batch)
                    ahead += 1
                if meanwhile is not None:
                    then, meanwhile = meanwhile, None
                    then()
                if not pending:
                    break
                done = {f for f in pending if f.done()}
                if not done:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                in_order = sorted(done, key=lambda f: pending[f][0])[:RECORDED_PER_COMMIT]
                answered: Answered = [(pending.pop(f)[1], *f.result()) for f in in_order]
                counts.add(_apply(answered, kind=kind, config=config, on_batch=on_batch))
        finally:  # stopped by an error: the requests not yet sent are not sent
            for future in pending:
                future.cancel()
    return counts


def numbers_prescreen(*, monitored_ids: list[int]) -> CheckCounts:
    """The check that starts monitoring (so the badge is known at once); not the daily one."""
    return _check(
        MonitoredNumber.objects.filter(pk__in=monitored_ids), kind=CheckKind.PRESCREEN, fresh=False
    )


@dataclass
class DailyCheck:
    run: DailyCheckRun
    counts: CheckCounts | None  # None: this fire checked nothing (today's check is done)


def daily_check(
    *, today: date, force: bool = False, meanwhile: Callable[[], object] | None = None
) -> DailyCheck | None:
    """The day's check of every monitored number (beat, ``check_reputation``).

    Once per calendar day: the day's run row is unique, and a number checked today is not
    checked again, so a second fire checks nothing (it finishes only what an interrupted or
    failed run left). ``force`` checks every number again today, asking for fresh data.
    The run's counters are numbers: ``numbers_checked`` those checked today, whichever fire
    did it, ``numbers_failed`` those the latest fire could not check. None when another
    worker is running it. ``meanwhile`` (the day's other upkeep) runs once while the first
    requests are out, when this fire checks.
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

        def progress(checked: int, failed: int, requests: int, error: str) -> None:
            DailyCheckRun.objects.filter(pk=run.pk).update(
                numbers_checked=F("numbers_checked") + checked,
                numbers_failed=F("numbers_failed") + failed,
                requests=F("requests") + requests,
                last_error=error[:300] if error else F("last_error"),
            )

        kind = CheckKind.FORCED if force else CheckKind.DAILY
        counts = CheckCounts(kind=kind)
        try:
            _check(
                targets,
                kind=kind,
                fresh=force,
                on_batch=progress,
                counts=counts,
                meanwhile=meanwhile,
            )
        except Exception as exc:  # the run must end, whatever broke: the next fire resumes
            logger.exception("the reputation check of %s stopped", today)
            # Today's targets not checked: a daily check's are those still unchecked today.
            left = targets.count() - (counts.checked if force else 0)
            counts.failed = max(counts.failed, left)
            counts.last_error = f"the check stopped ({type(exc).__name__})"
        run.refresh_from_db()
        run.turned_spam += len(counts.turned_spam)
        # Numbers, not attempts: what this fire could not check (its targets were every
        # number not yet checked today, so the ones an earlier fire missed are among them).
        run.numbers_failed = counts.failed
        run.last_error = counts.last_error[:300] if counts.failed else run.last_error
        run.state = DailyCheckRun.State.INCOMPLETE if counts.failed else DailyCheckRun.State.DONE
        run.finished_at = timezone.now()
        run.save(
            update_fields=["turned_spam", "numbers_failed", "last_error", "state", "finished_at"]
        )
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
