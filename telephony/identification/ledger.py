"""Mobile identification's bottom layer: what every lookup shares, and nothing that queues
a task (docs/identification.md).

The constants, the provider and its price, the monthly cap's reservations, the ledger
writer and the claims that give each number one payer. Money and outside calls follow
one order: reserve the spend under the cap, call the provider outside any transaction,
record the answer in the ledger in its own commit, then apply it.
"""

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection
from django.db.models import F, QuerySet
from django.utils import timezone

from crm.db import is_postgresql
from crm.inputs import clean_text
from crm.providers import get_provider
from telephony.models import LineTypeLookup, LookupClaim, LookupSpend, OrchestrationSettings
from telephony.providers.base import (
    LineType,
    LineTypeAnswer,
    LineTypeProvider,
    NamedProvider,
    PricedProvider,
)

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


def provider_name(provider: LineTypeProvider) -> str:
    """The name the ledger records: the provider's own ``name``, else its dotted path."""
    name = provider.name if isinstance(provider, NamedProvider) else None
    if not isinstance(name, str) or not clean_text(name).strip():
        name = f"{type(provider).__module__}.{type(provider).__qualname__}"
    return clean_text(name).strip()[:PROVIDER_NAME_LENGTH]


def provider_price(provider: LineTypeProvider) -> Decimal:
    """USD per lookup: the provider's own ``price`` if it is readable money, else
    ``LINE_TYPE_LOOKUP_PRICE``."""
    own = _money(provider.price) if isinstance(provider, PricedProvider) else None
    return own if own is not None else Decimal(str(settings.LINE_TYPE_LOOKUP_PRICE))


# The ledger's column sizes: whatever a vendor answers is clipped to them.
PROVIDER_NAME_LENGTH = LineTypeLookup._meta.get_field("provider").max_length or 200
CARRIER_LENGTH = LineTypeLookup._meta.get_field("carrier").max_length or 100
ERROR_LENGTH = LineTypeLookup._meta.get_field("error").max_length or 16
# The largest cost the ledger's column holds (max_digits 10, 5 places).
_MAX_COST = Decimal("99999.99999")
_LINE_TYPES = {value for value, _label in LineType.CHOICES}


def answer_read(raw: object, *, price: Decimal) -> LineTypeAnswer:
    """A vendor's answer as the ledger records it, whatever its fields hold: it was paid
    for, so it is never refused (docs/providers.md). A line type we do not know is
    unknown; a carrier or an error code of any type or length is text, clipped; a cost
    that is not readable money is the provider's price; ``valid`` defaults to True."""

    def field(name: str) -> object:
        try:
            return raw.get(name) if isinstance(raw, Mapping) else getattr(raw, name, None)
        except Exception:  # a property that raises: that field is missing, no more
            return None

    line_type = field("line_type")
    line_type = getattr(line_type, "value", line_type)  # an enum member
    kind = _text(line_type, 20).lower()
    error = field("error")
    if error is None or error == "":
        error = field("error_code")
    valid = field("valid")
    cost = _money(field("cost"))
    return LineTypeAnswer(
        line_type=kind if kind in _LINE_TYPES else LineType.UNKNOWN,
        carrier=_text(field("carrier"), CARRIER_LENGTH) or None,
        cost=cost if cost is not None else price,
        valid=not (valid is False or (isinstance(valid, str) and valid.lower() == "false")),
        error=_text(error, ERROR_LENGTH),
    )


def _text(value: object, length: int) -> str:
    if value is None or value is False:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    try:
        text = str(value)
    except Exception:  # a vendor object whose __str__ fails is still paid for
        return ""
    return clean_text(text).strip()[:length]


def _money(value: object) -> Decimal | None:
    """``value`` as a cost the ledger can hold, or None when it is not one."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        money = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (ArithmeticError, ValueError, TypeError):
        return None
    if not money.is_finite() or money < 0 or money > _MAX_COST:
        return None
    return money


def require_outside_transaction() -> None:
    # A slow provider must never hold a transaction (and the locks in it) open.
    if connection.in_atomic_block:
        raise RuntimeError("line-type lookups are made outside any database transaction")


def lookups_stop(*, reason: str) -> None:
    """The provider refuses every lookup: stop them all until an Administrator acts."""
    OrchestrationSettings.objects.filter(pk=1).update(
        lookups_stopped_reason=reason[:255], lookups_stopped_at=timezone.now()
    )
    from crm import singletons

    singletons.clear_cache()


@dataclass(frozen=True)
class Job:
    number: str
    phone_id: int
    batch: int = 0  # the caller's own grouping (the backfill's chunk)


@dataclass
class Outcome:
    """What became of one number's lookup. ``answer`` set: recorded in the ledger (with
    ``timed_out``, as an attempt whose cost is at risk). ``sent`` False: never sent (the
    provider refuses every lookup): not paid, the number stays pending."""

    job: Job
    answer: LineTypeAnswer | None = None
    lookup_id: int | None = None  # the ledger row, once recorded
    error: str = ""
    sent: bool = True
    timed_out: bool = False


def timed_out_attempt(job: Job, *, price: Decimal, error: str = "") -> Outcome:
    """A lookup the client gave up on: the vendor may have billed it, so it goes to the
    ledger as an attempt at ``price``, counted against the cap, never used as an answer."""
    attempt = LineTypeAnswer(LineType.UNKNOWN, None, price, error="timeout")
    return Outcome(job, answer=attempt, error=error or "timed out", timed_out=True)


# Writes answered outcomes to the ledger (one commit) and sets their lookup_id; awaited
# on the pool's loop, opened there by a Ledger (:func:`ledger_writer`).
Recorder = Callable[[list[Outcome]], Awaitable[None]]
Ledger = Callable[[], AbstractAsyncContextManager[Recorder]]


def month_start(now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(UTC).date().replace(day=1)


# --- The monthly cap ---------------------------------------------------------------------


def lookup_budget_reserve(*, lookups: int, price: Decimal) -> int:
    """Commit this month's money for up to ``lookups`` lookups at ``price``, never past
    the cap: returns how many may be sent (0 when the next one would pass it)."""
    if lookups <= 0:
        return 0
    month = month_start()
    LookupSpend.objects.get_or_create(month=month)
    cap = OrchestrationSettings.load().lookup_monthly_cap
    spend = LookupSpend.objects.filter(month=month)
    if cap is None or price <= 0:
        spend.update(committed=F("committed") + price * lookups)
        return lookups
    for _attempt in range(10):
        committed = _committed(spend)
        allowed = min(lookups, int(max(cap - committed, Decimal(0)) // price))
        if allowed <= 0:
            return 0
        amount = price * allowed
        # Conditional: of two workers racing for the cap's last dollars, one wins.
        if spend.filter(committed__lte=cap - amount).update(committed=F("committed") + amount):
            return allowed
    return 0


def _committed(spend: QuerySet[LookupSpend]) -> Decimal:
    """The month's committed money as read now: another worker may add to it before
    this one's conditional UPDATE, which is why that UPDATE checks it again."""
    return spend.values_list("committed", flat=True).get()


def lookup_budget_release(*, lookups: int, price: Decimal) -> None:
    """Give back money committed for lookups that were never sent or failed."""
    if lookups > 0 and price > 0:
        LookupSpend.objects.filter(month=month_start()).update(
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
    "at_risk",
    "provider",
    "purpose",
    "backfill",
    "looked_up_at",
)


def lookups_record(
    *, outcomes: list[Outcome], provider: str, purpose: str, backfill_id: int | None = None
) -> None:
    """Write answers to the ledger, committed on their own, the moment they arrive."""
    answered = [o for o in outcomes if o.answer is not None]  # answers and timed-out attempts
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
    """The ledger for a :class:`telephony.identification.pool.LookupPool`: records
    batches of answers from the pool's own event loop, each in its own commit.

    On PostgreSQL it is an asyncio connection of its own (psycopg's), in autocommit, so a
    recorded answer frees its slot without passing between threads: each hand-over waits
    for the GIL, and at a thousand lookups a second those waits left slots idle
    (docs/identification.md). Elsewhere (SQLite) it is Django's connection on a thread of
    its own.
    """
    if is_postgresql():
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
            fields[7:], (provider, purpose, backfill_id, timezone.now()), strict=True
        )
    ]
    params: list[Any] = []
    for o in answered:
        answer = o.answer
        assert answer is not None
        params += [o.job.number, answer.line_type, answer.carrier or "", answer.valid]
        cost = fields[5].get_db_prep_save(answer.cost, connection)
        params += [answer.error, cost, o.timed_out, *shared]
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
    if is_postgresql():
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
