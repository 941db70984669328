"""Mobile Phone Number Identification: every write (docs/identification.md).

Money and outside calls follow one order: reserve the spend under the cap, call the
provider outside any transaction, record the answer in the ledger in its own commit,
then apply it in a short transaction under the number's linking lock.
"""

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from crm.actors import Actor, acting_user
from crm.db import number_locks
from crm.models import PhoneNumber
from crm.providers import get_provider
from crm.services import (
    match_suggestions_refresh,
    phone_number_set_type,
)
from telephony import identification_selectors as selectors
from telephony.lookups import Job, Outcome, Recorder
from telephony.models import (
    BackfillRun,
    LineTypeLookup,
    LookupClaim,
    LookupSpend,
    OrchestrationSettings,
    OrchestrationSwitch,
)
from telephony.providers.base import (
    LineType,
    LineTypeLookupFailed,
    LineTypeProvider,
    LineTypeRefused,
)
from telephony.ratelimit import SharedRateLimit

logger = logging.getLogger(__name__)


# A running backfill writes a heartbeat this often; one silent for STALLED_AFTER is dead.
HEARTBEAT_SECONDS = 2.0
STALLED_AFTER = timedelta(minutes=2)
# A claim not refreshed for this long belonged to a worker that died (a running backfill
# refreshes its claims with every heartbeat; a new caller's lookup takes seconds).
CLAIM_STALE_AFTER = timedelta(minutes=2)
# Failed numbers get this many more passes, this far apart.
RETRY_PASSES = 3
RETRY_DELAY_SECONDS = 300


def line_type_provider() -> LineTypeProvider:
    return get_provider("LINE_TYPE_PROVIDER")


def provider_price(provider: Any) -> Decimal:
    return Decimal(str(getattr(provider, "price", settings.LINE_TYPE_LOOKUP_PRICE)))


def require_outside_transaction() -> None:
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


# The ledger's columns written per answer; the rest keep their defaults.
_LEDGER_FIELDS = (
    "number",
    "line_type",
    "carrier",
    "valid",
    "error",
    "cost",
    "provider",
    "purpose",
    "backfill",
    "looked_up_at",
)


def lookups_record(
    *, outcomes: list[Outcome], provider: str, purpose: str, backfill_id: int | None = None
) -> None:
    """Write answers to the ledger, committed on their own, the moment they arrive."""
    answered = [o for o in outcomes if o.answer is not None]
    if not answered:
        return
    sql, params = _ledger_insert(answered, provider, purpose, backfill_id)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [pk for (pk,) in cursor.fetchall()]
    for outcome, pk in zip(answered, ids, strict=True):
        outcome.lookup_id = pk


@contextlib.asynccontextmanager
async def ledger_writer(
    *, provider: str, purpose: str, backfill_id: int | None = None
) -> AsyncIterator[Recorder]:
    """The ledger for a :class:`telephony.lookups.LookupPool`: records batches of answers
    from the pool's own event loop, each in its own commit.

    On PostgreSQL it is an asyncio connection of its own (psycopg's), in autocommit, so a
    recorded answer frees its slot without passing between threads: each hand-over waits
    for the GIL, and at a thousand lookups a second those waits left slots idle
    (docs/identification.md). Elsewhere (SQLite) it is Django's connection on a thread of
    its own.
    """
    if connection.vendor == "postgresql":
        params = connection.get_connection_params()
        params.pop("cursor_factory", None)  # Django's is a blocking cursor
        async with await psycopg.AsyncConnection.connect(**params, autocommit=True) as ledger:

            async def record_async(outcomes: list[Outcome]) -> None:
                sql, args = _ledger_insert(outcomes, provider, purpose, backfill_id)
                cursor = await ledger.execute(sql, args)
                for outcome, (pk,) in zip(outcomes, await cursor.fetchall(), strict=True):
                    outcome.lookup_id = pk

            yield record_async
        return
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(1, thread_name_prefix="ledger") as thread:

        async def record_in_thread(outcomes: list[Outcome]) -> None:
            await loop.run_in_executor(
                thread,
                functools.partial(
                    lookups_record,
                    outcomes=outcomes,
                    provider=provider,
                    purpose=purpose,
                    backfill_id=backfill_id,
                ),
            )

        try:
            yield record_in_thread
        finally:
            await loop.run_in_executor(thread, _close_connection)


def _close_connection() -> None:
    connection.close()  # this thread's own: ``connection`` is per thread


def _ledger_insert(
    answered: list[Outcome], provider: str, purpose: str, backfill_id: int | None
) -> tuple[str, list[Any]]:
    """One INSERT ... RETURNING of these answers, which commits by itself in autocommit,
    rather than ``bulk_create`` in a transaction: this is on the lookups' critical path (a
    slot frees only once its answer is committed), and model instances cost the
    backfill's one interpreter about 100 µs a row (docs/identification.md)."""
    by_name = {field.name: field for field in LineTypeLookup._meta.concrete_fields}
    fields = [by_name[name] for name in _LEDGER_FIELDS]
    shared = [
        field.get_db_prep_save(value, connection)
        for field, value in zip(
            fields[6:], (provider, purpose, backfill_id, timezone.now()), strict=True
        )
    ]
    params: list[Any] = []
    for o in answered:
        answer = o.answer
        assert answer is not None
        params += [o.job.number, answer.line_type, answer.carrier or "", answer.valid]
        params += [answer.error, fields[5].get_db_prep_save(answer.cost, connection), *shared]
    quote = connection.ops.quote_name
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (
        f"INSERT INTO {quote(LineTypeLookup._meta.db_table)} "  # noqa: S608
        f"({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES {', '.join([row] * len(answered))} RETURNING {quote('id')}"
    )
    return sql, params


# --- Claims: one payer per number ------------------------------------------------------


def lookup_claims_take(*, numbers: list[str], owner: str) -> set[str]:
    """Claim the lookups of ``numbers`` for ``owner``: returns those now its own (free,
    already its own, or held by a claim gone stale). Take the claim before checking the
    ledger and keep it until the answer is recorded: then of two payers racing for one
    number, the second either fails to claim it or finds the first one's answer.

    One INSERT ... ON CONFLICT DO UPDATE ... RETURNING (PostgreSQL and SQLite alike), so
    two claimants racing for a row are decided by its unique index, not by a read.
    """
    numbers = sorted(set(numbers))  # one row may not be touched twice in one statement
    if not numbers:
        return set()
    now = timezone.now()
    stamp = LookupClaim._meta.get_field("claimed_at")
    quote = connection.ops.quote_name
    table = quote(LookupClaim._meta.db_table)
    claimed_at = stamp.get_db_prep_save(now, connection)
    if connection.vendor == "postgresql":
        # One array rather than a parameter per value: the chunk's claim is on the
        # backfill's main thread, whose every millisecond the lookups' loop waits for.
        rows, params = "SELECT unnest(%s::varchar[]), %s, %s", [numbers, owner, claimed_at]
    else:
        rows = "VALUES " + ", ".join(["(%s, %s, %s)"] * len(numbers))
        params = [value for number in numbers for value in (number, owner, claimed_at)]
    params.append(stamp.get_db_prep_save(now - CLAIM_STALE_AFTER, connection))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (number, owner, claimed_at) {rows} "
            "ON CONFLICT (number) DO UPDATE "
            "SET owner = excluded.owner, claimed_at = excluded.claimed_at "
            f"WHERE {table}.owner = excluded.owner OR {table}.claimed_at < %s "
            "RETURNING number",
            params,
        )
        return {number for (number,) in cursor.fetchall()}


def lookup_claims_release(
    *, owner: str, numbers: list[str] | None = None, through: str | None = None
) -> None:
    """Give up ``owner``'s claims: on ``numbers``, on those up to ``through`` (E.164
    order), or all of them."""
    claims = LookupClaim.objects.filter(owner=owner)
    if numbers is not None:
        claims = claims.filter(number__in=numbers)
    if through is not None:
        claims = claims.filter(number__lte=through)
    claims.delete()


def lookup_claims_refresh(*, owner: str) -> None:
    """Keep ``owner``'s claims from going stale while its lookups are still coming."""
    LookupClaim.objects.filter(owner=owner).update(claimed_at=timezone.now())


def mobile_cause(lookup_id: int | None, carrier: str | None) -> str:
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
