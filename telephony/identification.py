"""Mobile Phone Number Identification: every write (docs/identification.md).

Money and outside calls follow one order: reserve the spend under the cap, call the
provider outside any transaction, record the answer in the ledger in its own commit,
then apply it in a short transaction under the number's linking lock.
"""

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from crm.actors import Actor, acting_user
from crm.db import LockNamespace, advisory_try_lock, number_locks
from crm.models import PhoneNumber
from crm.providers import get_provider
from crm.services import (
    match_suggestions_refresh,
    phone_number_set_type,
    phone_numbers_identify_mobile,
)
from telephony import identification_selectors as selectors
from telephony.lookups import Job, LookupPool, Outcome
from telephony.models import (
    BackfillRun,
    LineTypeLookup,
    LookupSpend,
    OrchestrationSettings,
    OrchestrationSwitch,
)
from telephony.providers.base import (
    LineType,
    LineTypeProvider,
    LineTypeRefused,
)
from telephony.ratelimit import SharedRateLimit

logger = logging.getLogger(__name__)

# Numbers taken per chunk: the cursor and the counters move together once per chunk.
BACKFILL_CHUNK = 500
# A running backfill writes a heartbeat this often; one silent for STALLED_AFTER is dead.
HEARTBEAT_SECONDS = 2.0
STALLED_AFTER = timedelta(minutes=2)
# Failed numbers get this many more passes, this far apart.
RETRY_PASSES = 3
RETRY_DELAY_SECONDS = 300


def line_type_provider() -> LineTypeProvider:
    return get_provider("LINE_TYPE_PROVIDER")


def provider_price(provider: Any) -> Decimal:
    return Decimal(str(getattr(provider, "price", settings.LINE_TYPE_LOOKUP_PRICE)))


def _outside_transaction() -> None:
    # A slow provider must never hold a transaction (and the locks in it) open.
    if connection.in_atomic_block:
        raise RuntimeError("line-type lookups are made outside any database transaction")


# --- Settings --------------------------------------------------------------------------


@transaction.atomic
def orchestration_settings_save(
    *, config: OrchestrationSettings, actor: Actor = None
) -> OrchestrationSettings:
    """Save the Orchestration page. Switching on starts the backfill once this commits;
    switching off stops a running one at its next chunk. Any save clears a provider
    refusal (the Administrator has fixed it) and resumes a paused or stopped run."""
    config.full_clean()
    before = OrchestrationSettings.objects.select_for_update().filter(pk=1).first()
    was_on = before.mobile_identification if before else True
    config.lookups_stopped_reason, config.lookups_stopped_at = "", None
    config.save()
    if config.mobile_identification != was_on:
        OrchestrationSwitch.objects.create(
            enabled=config.mobile_identification, by=acting_user(actor)
        )
    if not config.mobile_identification:
        BackfillRun.objects.filter(status__in=BackfillRun.OPEN_STATUSES).update(
            status=BackfillRun.Status.STOPPED,
            message="Switched off.",
            finished_at=timezone.now(),
        )
    elif not was_on:
        backfill_start(trigger=BackfillRun.Trigger.SWITCHED_ON, actor=actor)
    else:
        _resume_open_run()
    return config


def _resume_open_run() -> None:
    run = BackfillRun.objects.filter(
        status__in=[BackfillRun.Status.PAUSED, BackfillRun.Status.HALTED]
    ).first()
    if run is not None:
        BackfillRun.objects.filter(pk=run.pk).update(status=BackfillRun.Status.RUNNING, message="")
        _queue_backfill(run.pk)


def lookups_stop(*, reason: str) -> None:
    """The provider refuses every lookup: stop them all until an Administrator acts."""
    OrchestrationSettings.objects.filter(pk=1).update(
        lookups_stopped_reason=reason[:255], lookups_stopped_at=timezone.now()
    )
    from crm import singletons

    singletons.clear_cache()


# --- The monthly cap ---------------------------------------------------------------------


def lookup_budget_reserve(*, lookups: int, price: Decimal) -> int:
    """Commit this month's money for up to ``lookups`` lookups at ``price``, never past
    the cap: returns how many may be sent (0 when the next one would pass it)."""
    if lookups <= 0:
        return 0
    month = selectors.month_start()
    LookupSpend.objects.get_or_create(month=month)
    cap = OrchestrationSettings.load().lookup_monthly_cap
    spend = LookupSpend.objects.filter(month=month)
    if cap is None or price <= 0:
        spend.update(committed=F("committed") + price * lookups)
        return lookups
    for _attempt in range(10):
        committed = spend.values_list("committed", flat=True).get()
        allowed = min(lookups, int(max(cap - committed, Decimal(0)) // price))
        if allowed <= 0:
            return 0
        amount = price * allowed
        # Conditional: of two workers racing for the cap's last dollars, one wins.
        if spend.filter(committed__lte=cap - amount).update(committed=F("committed") + amount):
            return allowed
    return 0


def lookup_budget_release(*, lookups: int, price: Decimal) -> None:
    """Give back money committed for lookups that were never sent or failed."""
    if lookups > 0 and price > 0:
        LookupSpend.objects.filter(month=selectors.month_start()).update(
            committed=F("committed") - price * lookups
        )


# --- The ledger --------------------------------------------------------------------------


def lookups_record(
    *, outcomes: list[Outcome], provider: str, purpose: str, backfill_id: int | None = None
) -> None:
    """Write answers to the ledger in one commit of their own, the moment they arrive."""
    now = timezone.now()
    rows = [
        LineTypeLookup(
            number=o.job.number,
            line_type=o.answer.line_type,
            carrier=o.answer.carrier or "",
            valid=o.answer.valid,
            error=o.answer.error,
            cost=o.answer.cost,
            provider=provider,
            purpose=purpose,
            backfill_id=backfill_id,
            looked_up_at=now,
        )
        for o in outcomes
        if o.answer is not None
    ]
    with transaction.atomic():
        LineTypeLookup.objects.bulk_create(rows)
    for outcome, row in zip((o for o in outcomes if o.answer is not None), rows, strict=True):
        outcome.lookup_id = row.pk


def _cause(lookup_id: int | None, carrier: str | None) -> str:
    return f"carrier lookup #{lookup_id}: mobile" + (f" ({carrier})" if carrier else "")


# --- New callers -------------------------------------------------------------------------


def new_caller_filed(*, phone_id: int) -> None:
    """A voice caller's number was just filed as Other: once the linking transaction
    commits, look it up (never inside it: a slow provider must not hold the webhook)."""
    if not OrchestrationSettings.cached().mobile_identification:
        return
    from telephony import tasks

    transaction.on_commit(lambda: tasks.caller_number_identify.delay(phone_id))


def caller_number_identify(*, phone_id: int) -> str:
    """Look up a new caller's number and, if mobile, make it Mobile + SMS. Says what
    happened. Raises ``LineTypeLookupFailed`` for the task to retry later."""
    _outside_transaction()
    config = OrchestrationSettings.load()
    if not config.mobile_identification:
        return "off"
    row = PhoneNumber.objects.filter(pk=phone_id, type=PhoneNumber.Type.OTHER).first()
    if row is None:
        return "nothing to identify"
    e164 = str(row.number)
    cached = selectors.cached_answers(numbers=[e164], since=selectors.cache_cutoff(config))
    if e164 in cached:
        lookup = cached[e164]
        return _new_caller_apply(phone_id, lookup.line_type, lookup.pk, lookup.carrier)
    if config.lookups_stopped_reason:
        return "stopped"
    provider = line_type_provider()
    price = provider_price(provider)
    if not lookup_budget_reserve(lookups=1, price=price):
        return "capped"
    try:
        SharedRateLimit().wait()
        answer = provider.lookup(e164)
    except LineTypeRefused as exc:
        lookup_budget_release(lookups=1, price=price)
        lookups_stop(reason=exc.message)
        return "refused"
    except BaseException:
        lookup_budget_release(lookups=1, price=price)
        raise
    outcome = Outcome(Job(e164, phone_id), answer=answer)
    lookups_record(
        outcomes=[outcome], provider=provider.name, purpose=LineTypeLookup.Purpose.NEW_CALLER
    )
    return _new_caller_apply(phone_id, answer.line_type, outcome.lookup_id, answer.carrier)


@transaction.atomic
def _new_caller_apply(
    phone_id: int, line_type: str, lookup_id: int | None, carrier: str | None
) -> str:
    if line_type != LineType.MOBILE:
        return line_type
    phone = PhoneNumber.objects.filter(pk=phone_id).first()
    if phone is None:
        return "gone"
    number_locks([str(phone.number)])
    phone = PhoneNumber.objects.select_for_update().filter(pk=phone_id).first()
    if phone is None or phone.type != PhoneNumber.Type.OTHER:
        return "changed meanwhile"
    others = PhoneNumber.objects.filter(number=phone.number).exclude(pk=phone.pk)
    if others.filter(type=PhoneNumber.Type.MOBILE).exists():
        # A Mobile has one owner: this profile may be the same person, so an agent
        # is asked instead.
        customer_id = phone.customer_id
        transaction.on_commit(lambda: match_suggestions_refresh(customer_ids=[customer_id]))
        return "mobile elsewhere"
    if others.filter(type=PhoneNumber.Type.OTHER).exists():
        return "shared"
    phone_number_set_type(
        phone=phone,
        type=PhoneNumber.Type.MOBILE,
        sms=True,
        type_source=PhoneNumber.TypeSource.LOOKUP,
        cause=_cause(lookup_id, carrier),
    )
    return LineType.MOBILE


# --- The backfill ------------------------------------------------------------------------


@transaction.atomic
def backfill_start(
    *, trigger: str, actor: Actor = None, attempt: int = 1, countdown: int = 0
) -> BackfillRun:
    """Plan a backfill (numbers, lookups, cost) and queue it once this commits. An open
    run is resumed instead: there is only ever one."""
    OrchestrationSettings.objects.select_for_update().filter(pk=1).first()
    run = BackfillRun.objects.filter(status__in=BackfillRun.OPEN_STATUSES).first()
    if run is None:
        config = OrchestrationSettings.load()
        price = provider_price(line_type_provider())
        plan = selectors.backfill_plan(config=config, price=price)
        run = BackfillRun.objects.create(
            trigger=trigger,
            started_by=acting_user(actor),
            attempt=attempt,
            price=price,
            planned_numbers=plan.numbers,
            planned_lookups=plan.lookups,
            planned_cost=plan.cost,
        )
    elif run.status != BackfillRun.Status.RUNNING:
        run.status, run.message = BackfillRun.Status.RUNNING, ""
        run.save(update_fields=["status", "message"])
    _queue_backfill(run.pk, countdown=countdown)
    return run


def _queue_backfill(run_id: int, countdown: int = 0) -> None:
    from telephony import tasks

    transaction.on_commit(
        lambda: tasks.backfill_run.apply_async(args=[run_id], countdown=countdown or None)
    )


def backfill_resume_stalled() -> int:
    """Queue again each running backfill whose worker stopped beating (killed), and each
    paused one the cap now allows (a new month). Returns how many were queued."""
    queued = 0
    config = OrchestrationSettings.load()
    if config.mobile_identification and not BackfillRun.objects.exists():
        # First install: the setting is on by default, so its backfill runs once.
        backfill_start(trigger=BackfillRun.Trigger.INSTALL)
        return 1
    stale = timezone.now() - STALLED_AFTER
    for run in BackfillRun.objects.filter(
        status=BackfillRun.Status.RUNNING, heartbeat_at__lt=stale
    ):
        _queue_now(run.pk)
        queued += 1
    for run in BackfillRun.objects.filter(status=BackfillRun.Status.PAUSED):
        if selectors.lookups_the_cap_allows(config=config, price=run.price) != 0:
            BackfillRun.objects.filter(pk=run.pk, status=BackfillRun.Status.PAUSED).update(
                status=BackfillRun.Status.RUNNING, message=""
            )
            _queue_now(run.pk)
            queued += 1
    return queued


def _queue_now(run_id: int) -> None:
    from telephony import tasks

    tasks.backfill_run.delay(run_id)


Progress = Callable[[BackfillRun], None]


def backfill_run(
    *, run_id: int, concurrency: int | None = None, progress: Progress | None = None
) -> BackfillRun:
    """Run (or resume) backfill ``run_id`` until it is done, paused by the cap, stopped
    by the provider or switched off. Returns the run as it was left.

    One worker at a time (a session lock on the run); another worker given the same run
    returns at once.
    """
    _outside_transaction()
    with advisory_try_lock(LockNamespace.IDENTIFICATION_BACKFILL, run_id) as mine:
        run = BackfillRun.objects.get(pk=run_id)
        if not mine or run.status != BackfillRun.Status.RUNNING:
            return run
        return _Backfill(run, concurrency, progress).run()


class _Backfill:
    def __init__(self, run: BackfillRun, concurrency: int | None, progress: Progress | None):
        self.run_row = run
        self.concurrency = concurrency or int(settings.LINE_TYPE_LOOKUP_CONCURRENCY)
        self.progress = progress
        self.provider = line_type_provider()
        self.price = provider_price(self.provider)
        # Moved with the cursor, once per whole chunk.
        self.counts = {"numbers_done": 0, "lookups": 0, "answered_from_cache": 0, "failed": 0}
        self.spent = Decimal(0)
        self.turned = 0  # moved with every heartbeat: turning Mobile is never redone
        self.message = ""
        self.beat = time.monotonic()
        self.stop_status = ""

    def run(self) -> BackfillRun:
        run = self.run_row
        with LookupPool(
            provider=self.provider, concurrency=self.concurrency, record=self._record
        ) as pool:
            while not self.stop_status:
                config = OrchestrationSettings.load()
                if not config.mobile_identification:
                    self.stop_status = BackfillRun.Status.STOPPED
                    break
                if config.lookups_stopped_reason:
                    self._halt(config.lookups_stopped_reason)
                    break
                chunk = selectors.backfill_chunk(after=run.cursor, limit=BACKFILL_CHUNK)
                if not chunk:
                    break
                finished = self._chunk(pool, config, chunk)
                if not self._save(cursor=chunk[-1].number if finished else None):
                    break
        return self._finish()

    def _chunk(self, pool: LookupPool, config: OrchestrationSettings, chunk: list[Any]) -> bool:
        """Decide every number of ``chunk``; says whether all were (not paused or stopped).

        Counters change only for a whole chunk, with the cursor: a chunk left half-done
        (killed, paused) is taken again from its start, when the numbers this run already
        paid for are found in the ledger and counted as its lookups, once.
        """
        cached = selectors.cached_answers(
            numbers=[c.number for c in chunk], since=selectors.cache_cutoff(config)
        )
        self._apply(
            [
                (c.phone_id, a.pk, a.line_type, a.carrier)
                for c in chunk
                if (a := cached.get(c.number)) is not None
            ]
        )
        for c in chunk:
            if c.number in cached:
                own = cached[c.number].backfill_id == self.run_row.pk
                self.counts["lookups" if own else "answered_from_cache"] += 1
                self.spent += cached[c.number].cost if own else 0
                self.counts["numbers_done"] += 1
        todo = [Job(c.number, c.phone_id) for c in chunk if c.number not in cached]
        budget = 0
        complete = True
        for job in todo:
            if pool.refused is not None or self.stop_status:
                complete = False
                break
            if budget == 0:
                budget = lookup_budget_reserve(
                    lookups=min(self.concurrency, len(todo)), price=self.price
                )
                if budget == 0:
                    self._pause(config)
                    complete = False
                    break
            while not pool.submit(job, timeout=0.05):
                self._collect(pool.finished())
            budget -= 1
        while pool.in_flight:
            self._collect(pool.finished(timeout=0.05))
        self._collect(pool.finished())
        lookup_budget_release(lookups=budget, price=self.price)
        if pool.refused is not None:
            lookups_stop(reason=pool.refused.message)
            self._halt(pool.refused.message)
            complete = False
        return complete and not self.stop_status

    def _record(self, outcomes: list[Outcome]) -> None:
        lookups_record(
            outcomes=outcomes,
            provider=self.provider.name,
            purpose=LineTypeLookup.Purpose.BACKFILL,
            backfill_id=self.run_row.pk,
        )

    def _collect(self, outcomes: list[Outcome]) -> None:
        answered = [(o, o.answer) for o in outcomes if o.answer is not None]
        failed = len(outcomes) - len(answered)
        lookup_budget_release(lookups=failed, price=self.price)
        self.counts["failed"] += failed
        self.counts["lookups"] += len(answered)
        self.counts["numbers_done"] += len(outcomes)
        self.spent += sum((a.cost for _, a in answered), Decimal(0))
        self._apply([(o.job.phone_id, o.lookup_id, a.line_type, a.carrier) for o, a in answered])
        if time.monotonic() - self.beat > HEARTBEAT_SECONDS:
            self.beat = time.monotonic()
            turned, self.turned = self.turned, 0
            if not BackfillRun.objects.filter(
                pk=self.run_row.pk, status=BackfillRun.Status.RUNNING
            ).update(heartbeat_at=timezone.now(), turned_mobile=F("turned_mobile") + turned):
                self.stop_status = BackfillRun.Status.STOPPED

    def _apply(self, answers: list[tuple[int, int | None, str, str | None]]) -> None:
        """Turn Mobile the numbers answered mobile: (phone id, ledger id, line type,
        carrier). Counted at once: a number turned Mobile is never redone."""
        causes = {
            phone_id: _cause(lookup_id, carrier or None)
            for phone_id, lookup_id, line_type, carrier in answers
            if line_type == LineType.MOBILE
        }
        if causes:
            changed = phone_numbers_identify_mobile(
                causes=causes, sms=False, type_source=PhoneNumber.TypeSource.BACKFILL
            )
            self.turned += len(changed)

    def _pause(self, config: OrchestrationSettings) -> None:
        self.stop_status = BackfillRun.Status.PAUSED
        self.message = (
            f"Paused: this month's lookups reached the cap of ${config.lookup_monthly_cap}. "
            "Raise the cap to resume."
        )

    def _halt(self, reason: str) -> None:
        self.stop_status = BackfillRun.Status.HALTED
        self.message = reason

    def _save(self, *, cursor: str | None) -> bool:
        """After a whole chunk (``cursor``: its last number) move the counters and the
        cursor together, only while the run is still running; after a partial one only
        what is never redone. Says whether the run goes on."""
        changes: dict[str, Any] = {"turned_mobile": F("turned_mobile") + self.turned}
        changes["heartbeat_at"] = timezone.now()
        if cursor is not None:
            changes |= {k: F(k) + v for k, v in self.counts.items()}
            changes |= {"spent": F("spent") + self.spent, "cursor": cursor}
        updated = BackfillRun.objects.filter(
            pk=self.run_row.pk, status=BackfillRun.Status.RUNNING
        ).update(**changes)
        self.counts = dict.fromkeys(self.counts, 0)
        self.spent, self.turned = Decimal(0), 0
        self.run_row.refresh_from_db()
        if self.progress is not None:
            self.progress(self.run_row)
        if not updated and not self.stop_status:
            self.stop_status = BackfillRun.Status.STOPPED
        return bool(updated) and not self.stop_status

    def _finish(self) -> BackfillRun:
        run = self.run_row
        if self.stop_status in (BackfillRun.Status.PAUSED, BackfillRun.Status.HALTED):
            BackfillRun.objects.filter(pk=run.pk, status=BackfillRun.Status.RUNNING).update(
                status=self.stop_status, message=self.message[:255]
            )
        elif not self.stop_status:
            BackfillRun.objects.filter(pk=run.pk, status=BackfillRun.Status.RUNNING).update(
                status=BackfillRun.Status.COMPLETED, finished_at=timezone.now()
            )
        run.refresh_from_db()
        if run.status == BackfillRun.Status.COMPLETED and run.failed and run.attempt < RETRY_PASSES:
            backfill_start(
                trigger=BackfillRun.Trigger.RETRY,
                attempt=run.attempt + 1,
                countdown=RETRY_DELAY_SECONDS,
            )
        if self.progress is not None:
            self.progress(run)
        return run
