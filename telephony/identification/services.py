"""Mobile Phone Number Identification: every write that decides or queues something
(docs/identification.md). The only identification module that queues tasks.

The shared parts (cap, ledger, claims) are in :mod:`telephony.identification.ledger`;
the backfill's runner is :mod:`telephony.identification.backfill`.
"""

import atexit
import logging
import os
import threading
import time
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from crm.actors import Actor, acting_user
from crm.db import number_locks
from crm.models import PhoneNumber
from crm.services import match_suggestions_refresh, phone_number_set_type
from telephony import tasks
from telephony.identification import backfill, selectors
from telephony.identification.ledger import (
    RETRY_DELAY_SECONDS,
    STALLED_AFTER,
    Job,
    Outcome,
    answer_read,
    line_type_provider,
    lookup_budget_release,
    lookup_budget_reserve,
    lookup_claims_release,
    lookup_claims_take,
    lookups_record,
    lookups_stop,
    mobile_cause,
    provider_name,
    provider_price,
    require_outside_transaction,
    timed_out_attempt,
)
from telephony.models import (
    BackfillRun,
    LineTypeLookup,
    OrchestrationSettings,
    OrchestrationSwitch,
)
from telephony.providers.base import (
    LineType,
    LineTypeLookupFailed,
    LineTypeRefused,
    LineTypeTimedOut,
    LineTypeUnavailable,
)
from telephony.ratelimit import SharedRateLimit

logger = logging.getLogger(__name__)


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


# --- New callers -------------------------------------------------------------------------

# How long the queue gathers new callers before one publish carries them all.
QUEUE_GATHER_SECONDS = 0.02


class _LookupQueue:
    """New callers' numbers on their way to the broker, gathered per process.

    The linking transaction commits on the webhook's thread; a Celery publish there cost
    each new caller's request about a millisecond of CPU (the message, kombu's Redis
    client) and a broker round trip (docs/profiles/webhooks.md). Here the request only
    appends the number's id; one thread per process publishes what gathered over
    ``QUEUE_GATHER_SECONDS`` as one ``caller_numbers_identify`` task. A process that
    stops normally publishes what it holds first (atexit); one killed outright loses
    those milliseconds' numbers: ``new_callers_sweep`` (beat, every five minutes) finds them
    in their rows and queues them again.
    """

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)
        atexit.register(self.flush)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[int] = []
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def put(self, phone_id: int) -> None:
        with self._lock:
            self._pending.append(phone_id)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="identification-queue", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(QUEUE_GATHER_SECONDS)
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            tasks.caller_numbers_identify.delay(batch)
        except Exception:
            logger.exception("queueing the lookups of %d new callers failed", len(batch))


_lookup_queue = _LookupQueue()


def caller_number_identify_queue(*, phone_id: int) -> None:
    """Queue a new caller's lookup; call once the linking transaction has committed.

    Eager tasks (tests, ``CELERY_TASK_ALWAYS_EAGER``) run at once, as they always have.
    """
    if tasks.caller_number_identify.app.conf.task_always_eager:
        tasks.caller_number_identify.delay(phone_id)
    else:
        _lookup_queue.put(phone_id)


# A number's id waits in memory for at most QUEUE_GATHER_SECONDS; one older than this with
# neither a ledger row nor a Mobile type lost its task (the web process was killed, or the
# broker refused the publish). The sweep looks back this far, so a capped or stopped month
# re-queues a number a bounded number of times, each a cheap "capped".
SWEEP_AFTER = timedelta(minutes=2)
SWEEP_WINDOW = timedelta(hours=1)
SWEEP_BATCH = 100


def new_callers_sweep() -> int:
    """Queue the lookups of new callers whose queued id never reached the broker: the
    numbers are the state (an Other number filed by a call, young, absent from the
    ledger), so nothing depends on a process surviving. Returns how many were queued."""
    config = OrchestrationSettings.load()
    if not config.mobile_identification or config.lookups_stopped_reason:
        return 0
    now = timezone.now()
    since = now - SWEEP_WINDOW
    answered = LineTypeLookup.objects.filter(looked_up_at__gte=since).values("number")
    phone_ids = list(
        PhoneNumber.objects.filter(
            type=PhoneNumber.Type.OTHER,
            type_source=PhoneNumber.TypeSource.INBOUND_CALL,
            created_at__gte=since,
            created_at__lt=now - SWEEP_AFTER,
        )
        .exclude(number__in=answered)
        .order_by("id")
        .values_list("id", flat=True)[: SWEEP_BATCH * 10]
    )
    for start in range(0, len(phone_ids), SWEEP_BATCH):
        tasks.caller_numbers_identify.delay(phone_ids[start : start + SWEEP_BATCH])
    if phone_ids:
        logger.warning("queued %d new callers' lookups whose task was lost", len(phone_ids))
    return len(phone_ids)


def caller_numbers_identify(*, phone_ids: list[int]) -> list[str]:
    """Look up the new callers one web process queued together (each as
    :func:`caller_number_identify`). One whose lookup failed is queued again on its own,
    with the single task's backoff; one that raised anything else is logged and the
    others still run."""
    results = []
    for phone_id in phone_ids:
        try:
            results.append(caller_number_identify(phone_id=phone_id))
        except LineTypeLookupFailed:
            tasks.caller_number_identify.apply_async(args=[phone_id], countdown=2)
            results.append("retrying")
        except Exception:
            logger.exception("looking up new caller number %s failed", phone_id)
            results.append("failed")
    return results


def caller_number_identify(*, phone_id: int) -> str:
    """Look up a new caller's number and, if mobile, make it Mobile + SMS. Says what
    happened. Raises ``LineTypeLookupFailed`` for the task to retry later."""
    require_outside_transaction()
    config = OrchestrationSettings.load()
    if not config.mobile_identification:
        return "off"
    row = PhoneNumber.objects.filter(pk=phone_id, type=PhoneNumber.Type.OTHER).first()
    if row is None:
        return "nothing to identify"
    e164 = str(row.number)
    owner = f"caller:{phone_id}"
    if not lookup_claims_take(numbers=[e164], owner=owner):
        # The backfill (or another caller's task) is paying for this number right now:
        # its answer will be in the ledger by the time the task retries.
        raise LineTypeLookupFailed(f"{e164} is being looked up already")
    try:
        return _caller_number_look_up(phone_id, e164, config)
    finally:
        lookup_claims_release(owner=owner, numbers=[e164])


def _caller_number_look_up(phone_id: int, e164: str, config: OrchestrationSettings) -> str:
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
    name = provider_name(provider)
    job = Job(e164, phone_id)
    try:
        SharedRateLimit().wait()
        outcome = Outcome(job, answer=answer_read(provider.lookup(e164), price=price))
    except LineTypeRefused as exc:
        lookup_budget_release(lookups=1, price=price)
        lookups_stop(reason=exc.message)
        return "refused"
    except (LineTypeTimedOut, TimeoutError) as exc:
        # It may have been billed: an attempt in the ledger, its reservation kept against
        # the cap; the task tries again later (the attempt is never taken as an answer).
        _record(timed_out_attempt(job, price=price), name, price)
        raise LineTypeUnavailable(f"{e164}: the lookup timed out ({exc})") from exc
    except LineTypeLookupFailed:
        lookup_budget_release(lookups=1, price=price)
        raise
    except Exception as exc:  # any exception from a provider is a failed call: retried
        lookup_budget_release(lookups=1, price=price)
        raise LineTypeUnavailable(f"{e164}: {type(exc).__name__}: {exc}"[:255]) from exc
    except BaseException:  # the worker is stopping: nothing was recorded, nothing kept
        lookup_budget_release(lookups=1, price=price)
        raise
    _record(outcome, name, price)
    answer = outcome.answer
    assert answer is not None
    return _new_caller_apply(phone_id, answer.line_type, outcome.lookup_id, answer.carrier)


def _record(outcome: Outcome, provider: str, price: Decimal) -> None:
    """The new caller's answer (or attempt) in the ledger. Should that fail, the
    reservation is given back and the task retries rather than leave money committed
    that the ledger does not show."""
    try:
        lookups_record(
            outcomes=[outcome], provider=provider, purpose=LineTypeLookup.Purpose.NEW_CALLER
        )
    except Exception as exc:
        logger.exception("recording the line-type answer for %s failed", outcome.job.number)
        lookup_budget_release(lookups=1, price=price)
        raise LineTypeUnavailable("the ledger could not record the answer") from exc


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
        cause=mobile_cause(lookup_id, carrier),
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
    transaction.on_commit(lambda: tasks.backfill_run.delay(run_id))


def backfill_run(
    *, run_id: int, concurrency: int | None = None, progress: backfill.Progress | None = None
) -> BackfillRun:
    """Run (or resume) backfill ``run_id`` in this process (:mod:`.backfill`), then queue
    a retry pass for its failed numbers when one is due. Returns the run as it was left."""
    done = backfill.backfill_pass(run_id=run_id, concurrency=concurrency, progress=progress)
    if done.needs_retry_pass:
        backfill_start(
            trigger=BackfillRun.Trigger.RETRY,
            attempt=done.run.attempt + 1,
            countdown=RETRY_DELAY_SECONDS,
        )
    return done.run
