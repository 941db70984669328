"""The identification backfill: one pass over the numbers whose type could change.

Numbers are taken in E.164 order, in chunks, from the cursor the run row keeps; their
lookups go through :class:`telephony.identification.pool.LookupPool` (at most N in flight, each
answer in the ledger before its slot frees), and a chunk's mobile answers are applied in
one set-based change. The rules are in docs/identification.md.
"""

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from crm.db import LockNamespace, advisory_try_lock
from crm.models import PhoneNumber
from crm.services import phone_numbers_identify_mobile
from telephony.identification import selectors
from telephony.identification.ledger import (
    HEARTBEAT_SECONDS,
    RETRY_PASSES,
    Job,
    Outcome,
    ledger_writer,
    line_type_provider,
    lookup_budget_release,
    lookup_budget_reserve,
    lookup_claims_refresh,
    lookup_claims_release,
    lookup_claims_take,
    lookups_stop,
    mobile_cause,
    provider_name,
    provider_price,
    require_outside_transaction,
)
from telephony.identification.pool import LookupPool
from telephony.models import BackfillRun, LineTypeLookup, OrchestrationSettings
from telephony.providers.base import LineType

logger = logging.getLogger(__name__)

# Numbers taken per chunk: the cursor and the counters move together once per chunk.
BACKFILL_CHUNK = 500


Progress = Callable[[BackfillRun], None]


@dataclass(frozen=True)
class Pass:
    """How a pass left its run, and whether its failed numbers want another pass (the
    caller, :func:`telephony.identification.services.backfill_run`, queues it)."""

    run: BackfillRun
    needs_retry_pass: bool = False


def backfill_pass(
    *, run_id: int, concurrency: int | None = None, progress: Progress | None = None
) -> Pass:
    """Run (or resume) backfill ``run_id`` until it is done, paused by the cap, stopped
    by the provider or switched off.

    One worker at a time (a session lock on the run); another worker given the same run
    returns at once.
    """
    require_outside_transaction()
    with advisory_try_lock(LockNamespace.IDENTIFICATION_BACKFILL, run_id) as mine:
        run = BackfillRun.objects.get(pk=run_id)
        if not mine:
            # A redelivery or a second start while the run is worked: said in the worker's
            # log, so an operator can tell it from a run that did nothing.
            logger.info("identification backfill #%s is being run by another worker", run_id)
            return Pass(run)
        if run.status != BackfillRun.Status.RUNNING:
            return Pass(run)
        try:
            return _Backfill(run, concurrency, progress).run()
        except Exception as exc:
            # Never left running on an error: the beat would start it again, and each
            # start could pay again for what this one sent. Halted, it waits for an
            # Administrator (saving the Orchestration page resumes it).
            logger.exception("identification backfill #%s stopped on an error", run_id)
            lookup_claims_release(owner=f"backfill:{run_id}")
            BackfillRun.objects.filter(pk=run_id, status=BackfillRun.Status.RUNNING).update(
                status=BackfillRun.Status.HALTED,
                message=f"Stopped on an error ({type(exc).__name__}): see the worker's log. "
                "Save the Orchestration page to resume."[:255],
                heartbeat_at=timezone.now(),
            )
            raise


@dataclass
class _Chunk:
    """Numbers taken together: the cursor passes them only once every one is decided."""

    last: str  # its last number: the cursor after it
    pending: int = 0  # sent to the pool, outcome not collected yet
    # Claimed by another payer (a new caller's lookup in flight): asked for again until
    # the claim is ours, when the ledger most likely has the answer.
    deferred: list[Job] = field(default_factory=list)
    whole: bool = True  # False: some numbers were held back (cap, stop): taken again later
    mobiles: list[tuple[int, int | None, str, str | None]] = field(default_factory=list)
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("numbers_done", "lookups", "answered_from_cache", "failed"), 0
        )
    )
    spent: Decimal = Decimal(0)


# Chunks fetched ahead of the oldest one still in flight, so the workers never wait for
# the next chunk's query or the last one's bookkeeping.
CHUNKS_AHEAD = 3
# How often numbers claimed by another payer are asked for again.
DEFERRED_RETRY_SECONDS = 0.5


class _Backfill:
    """One worker's pass: chunks are fetched ahead, their numbers wait in the pool's
    queue, and a chunk is closed (numbers turned Mobile, counters and cursor saved) once
    all its outcomes are in. Counters move only with the cursor: a chunk left half-done
    (killed, paused) is taken again from its start, when the numbers this run already
    paid for are found in the ledger and counted as its lookups, once."""

    def __init__(self, run: BackfillRun, concurrency: int | None, progress: Progress | None):
        self.run_row = run
        self.concurrency = concurrency or int(settings.LINE_TYPE_LOOKUP_CONCURRENCY)
        self.progress = progress
        self.provider = line_type_provider()
        self.price = provider_price(self.provider)
        self.turned = 0  # saved with every heartbeat: turning Mobile is never redone
        self.message = ""
        self.beat = time.monotonic()
        self.stop_status = ""
        self.chunks: dict[int, _Chunk] = {}
        self.order: list[int] = []
        self.owner = f"backfill:{run.pk}"
        self.deferred_at = time.monotonic()

    def run(self) -> Pass:
        """Each chunk goes through these states; the loop turns until none is left::

            fetched --claims--> open: pending (in the pool) + deferred (claimed elsewhere)
                                  | every outcome collected, nothing deferred
                                  v
                                closed --whole--> saved: counters + cursor past it, claims
                                  |                      given up; the next chunk may close
                                  +--not whole (cap, refusal, switched off)--> kept: the
                                     cursor stays before it, taken again by a later pass

        and the pass itself: fetching while CHUNKS_AHEAD allow -> stopping (paused by the
        cap, halted by a refusal, stopped: the queue is taken back, not paid) or exhausted
        -> drained (every number sent is collected) -> finished (completed, paused, halted
        or stopped), with ``needs_retry_pass`` when it completed with failed numbers.
        """
        fetch_after = self.run_row.cursor
        exhausted = False
        serial = 0
        ledger = functools.partial(
            ledger_writer,
            provider=provider_name(self.provider),
            purpose=LineTypeLookup.Purpose.BACKFILL,
            backfill_id=self.run_row.pk,
        )
        with LookupPool(
            provider=self.provider,
            concurrency=self.concurrency,
            ledger=ledger,
            at_provider=int(settings.LINE_TYPE_PROVIDER_CONCURRENCY) or None,
            price=self.price,
        ) as pool:
            while True:
                if (
                    not self.stop_status
                    and not exhausted
                    and len(self.order) < CHUNKS_AHEAD
                    and pool.queued < self.concurrency * 4
                ):
                    chunk = self._next_chunk(fetch_after)
                    if chunk is None:
                        exhausted = True
                    elif chunk:
                        serial += 1
                        fetch_after = chunk[-1].number
                        self._open(pool, serial, chunk)
                waiting = pool.pending or self._deferred
                self._collect(pool.finished(timeout=0.02 if waiting else 0))
                self._retry_deferred(pool)
                if pool.refused is not None and not self.stop_status:
                    lookups_stop(reason=pool.refused.message)
                    self._halt(pool.refused.message)
                if self.stop_status and self.stop_status != BackfillRun.Status.PAUSED:
                    # Paused by the cap, the numbers queued are paid for within it already:
                    # they go on, so the cap is reached before the run says so.
                    self._hold_back(pool.cancel_queued())
                self._close_finished()
                self._heartbeat()
                if (exhausted or self.stop_status) and not pool.pending and not self._deferred:
                    self._collect(pool.finished())
                    self._close_finished()
                    break
        self._save_what_is_never_redone()
        lookup_claims_release(owner=self.owner)
        return self._finish()

    def _next_chunk(self, after: str) -> list[Any] | None:
        """The next chunk ([] when stopping instead), or None past the last number."""
        config = OrchestrationSettings.load()
        if not config.mobile_identification:
            self.stop_status = BackfillRun.Status.STOPPED
            return []
        if config.lookups_stopped_reason:
            self._halt(config.lookups_stopped_reason)
            return []
        self.config = config
        return selectors.backfill_chunk(after=after, limit=BACKFILL_CHUNK) or None

    def _open(self, pool: LookupPool, serial: int, candidates: list[Any]) -> None:
        state = self.chunks[serial] = _Chunk(last=candidates[-1].number)
        self.order.append(serial)
        # Claimed before the ledger is read: a number another payer has in flight waits.
        ours = lookup_claims_take(numbers=[c.number for c in candidates], owner=self.owner)
        jobs = [Job(c.number, c.phone_id, serial) for c in candidates]
        state.deferred = [job for job in jobs if job.number not in ours]
        self._send(pool, state, [job for job in jobs if job.number in ours])

    def _send(self, pool: LookupPool, state: _Chunk, jobs: list[Job]) -> None:
        """Answer ``jobs`` (claimed) from the ledger where it can, and send the rest."""
        cached = selectors.cached_answers(
            numbers=[job.number for job in jobs], since=selectors.cache_cutoff(self.config)
        )
        for job in jobs:
            answer = cached.get(job.number)
            if answer is None:
                continue
            own = answer.backfill_id == self.run_row.pk
            state.counts["lookups" if own else "answered_from_cache"] += 1
            state.counts["numbers_done"] += 1
            state.spent += answer.cost if own else Decimal(0)
            state.mobiles.append((job.phone_id, answer.pk, answer.line_type, answer.carrier))
        jobs = [job for job in jobs if job.number not in cached]
        allowed = lookup_budget_reserve(lookups=len(jobs), price=self.price)
        if allowed < len(jobs):
            state.whole = False
            self._pause()
        pool.submit(jobs[:allowed])
        state.pending += allowed

    @property
    def _deferred(self) -> bool:
        return any(self.chunks[key].deferred for key in self.order)

    def _retry_deferred(self, pool: LookupPool) -> None:
        if not self.stop_status and time.monotonic() - self.deferred_at < DEFERRED_RETRY_SECONDS:
            return
        self.deferred_at = time.monotonic()
        for key in self.order:
            state = self.chunks[key]
            if not state.deferred:
                continue
            if self.stop_status:  # not sent, not paid: the chunk is taken again later
                state.deferred, state.whole = [], False
                continue
            ours = lookup_claims_take(
                numbers=[job.number for job in state.deferred], owner=self.owner
            )
            if ours:
                claimed = [job for job in state.deferred if job.number in ours]
                state.deferred = [job for job in state.deferred if job.number not in ours]
                self._send(pool, state, claimed)

    def _collect(self, outcomes: list[Outcome]) -> None:
        released = 0
        for outcome in outcomes:
            state = self.chunks[outcome.job.batch]
            state.pending -= 1
            answer = outcome.answer
            if not outcome.sent:  # the provider refused: not paid, the number stays pending
                released += 1
                state.whole = False
                continue
            state.counts["numbers_done"] += 1
            if answer is None or outcome.timed_out:
                # Failed: a retry pass takes it again. A timed-out attempt is in the ledger
                # with its cost at risk, which stays committed against the cap.
                released += answer is None
                state.counts["failed"] += 1
                continue
            state.counts["lookups"] += 1
            state.spent += answer.cost
            state.mobiles.append(
                (outcome.job.phone_id, outcome.lookup_id, answer.line_type, answer.carrier)
            )
        lookup_budget_release(lookups=released, price=self.price)

    def _hold_back(self, jobs: list[Job]) -> None:
        """Numbers taken back from the queue (stopping): not sent, not paid, done later."""
        for job in jobs:
            state = self.chunks[job.batch]
            state.pending -= 1
            state.whole = False
        lookup_budget_release(lookups=len(jobs), price=self.price)

    def _close_finished(self) -> None:
        """Close, oldest first, every chunk whose outcomes are all in."""
        while self.order:
            key = self.order[0]
            state = self.chunks[key]
            if state.pending or state.deferred:
                return
            self._apply(state)
            if not state.whole:
                return  # the cursor stays before it: it is taken again
            self.order.pop(0)
            del self.chunks[key]
            self._save(state)
            # Every answer of the chunk is in the ledger now: others may read it there.
            lookup_claims_release(owner=self.owner, through=state.last)

    def _apply(self, state: _Chunk) -> None:
        """Turn Mobile the chunk's numbers answered mobile, in one set-based change."""
        causes = {
            phone_id: mobile_cause(lookup_id, carrier or None)
            for phone_id, lookup_id, line_type, carrier in state.mobiles
            if line_type == LineType.MOBILE
        }
        state.mobiles = []
        if causes:
            changed = phone_numbers_identify_mobile(
                causes=causes, sms=False, type_source=PhoneNumber.TypeSource.BACKFILL
            )
            self.turned += len(changed)

    def _heartbeat(self) -> None:
        if time.monotonic() - self.beat < HEARTBEAT_SECONDS:
            return
        self.beat = time.monotonic()
        lookup_claims_refresh(owner=self.owner)
        turned, self.turned = self.turned, 0
        if not BackfillRun.objects.filter(
            pk=self.run_row.pk, status=BackfillRun.Status.RUNNING
        ).update(heartbeat_at=timezone.now(), turned_mobile=F("turned_mobile") + turned):
            self.stop_status = self.stop_status or BackfillRun.Status.STOPPED

    def _save(self, state: _Chunk) -> None:
        """A whole chunk: its counters and the cursor past it, together, while running."""
        changes: dict[str, Any] = {k: F(k) + v for k, v in state.counts.items()}
        changes |= {"spent": F("spent") + state.spent, "cursor": state.last}
        changes |= {"turned_mobile": F("turned_mobile") + self.turned}
        changes["heartbeat_at"] = timezone.now()
        self.turned = 0
        if not BackfillRun.objects.filter(
            pk=self.run_row.pk, status=BackfillRun.Status.RUNNING
        ).update(**changes):
            self.stop_status = self.stop_status or BackfillRun.Status.STOPPED
        self.run_row.refresh_from_db()
        if self.progress is not None:
            self.progress(self.run_row)

    def _save_what_is_never_redone(self) -> None:
        for state in self.chunks.values():
            self._apply(state)
        BackfillRun.objects.filter(pk=self.run_row.pk).update(
            turned_mobile=F("turned_mobile") + self.turned, heartbeat_at=timezone.now()
        )
        self.turned = 0

    def _pause(self) -> None:
        self.stop_status = BackfillRun.Status.PAUSED

    def _pause_message(self) -> str:
        """Said once the pass is over, with the month's figures as they are then."""
        counted = selectors.month_committed()
        return (
            f"Paused at the monthly cap: ${counted:.2f} of the "
            f"${self.config.lookup_monthly_cap} cap is counted this month, and the next "
            f"lookup (${self.price}) would pass it. Raise the cap to resume."
        )

    def _halt(self, reason: str) -> None:
        self.stop_status = BackfillRun.Status.HALTED
        self.message = reason

    def _finish(self) -> Pass:
        run = self.run_row
        if self.stop_status == BackfillRun.Status.PAUSED:
            self.message = self._pause_message()
        if self.stop_status in (BackfillRun.Status.PAUSED, BackfillRun.Status.HALTED):
            BackfillRun.objects.filter(pk=run.pk, status=BackfillRun.Status.RUNNING).update(
                status=self.stop_status, message=self.message[:255]
            )
        elif not self.stop_status:
            BackfillRun.objects.filter(pk=run.pk, status=BackfillRun.Status.RUNNING).update(
                status=BackfillRun.Status.COMPLETED, finished_at=timezone.now()
            )
        run.refresh_from_db()
        if self.progress is not None:
            self.progress(run)
        retry = (
            run.status == BackfillRun.Status.COMPLETED and run.failed and run.attempt < RETRY_PASSES
        )
        return Pass(run, needs_retry_pass=bool(retry))
