"""A call linked to its customer in one round trip to PostgreSQL: the webhook's hot path.

:func:`telephony.services.call_record` decides what a call and a new caller's profile
hold (the same rules as the general path); this module writes them in one message of two
statements, sent in one round trip and run by PostgreSQL as one transaction:

1. ``pg_advisory_xact_lock`` on the number, as the general path takes it
   (``telephony.services._lock_number_and_find``): simultaneous first calls from one number
   queue here, and merges and erasures take the same lock first;
2. one statement, whose snapshot is taken once the lock is granted, that finds the call
   already recorded under the CallSid (a retry), else the profile the call belongs to (the
   one holding the number as Mobile, else the most recently active holder, never a
   merged-away one), counts the call on it, or makes the profile, its number and the
   number's audit row, and inserts the call.

Whatever this statement does not settle (a retry, whose facts must be merged into the
stored call; a profile merged away between the read and the count) it leaves untouched
and says so, and the general path runs instead. Outside an atomic block the message is
its own transaction (PostgreSQL runs a multi-statement message as one); inside one, a
savepoint keeps a refused insert from spoiling the caller's transaction.

Column lists come from the models, so a field added to them is written as the ORM would
write it.
"""

from contextlib import nullcontext
from functools import cache
from typing import Any, NamedTuple

from django.db import connection, models, transaction
from django.db.models.expressions import DatabaseDefault
from psycopg import sql

from crm.db import LockNamespace, number_lock_key
from crm.models import Customer, PhoneNumber, PhoneNumberChange
from telephony.models import Call


class Linked(NamedTuple):
    call_id: int
    customer_id: int
    new_phone_id: int | None  # the new caller's number, to identify; None for a known caller


# Set from the statement's own rows, never from the instance.
_FROM_STATEMENT: dict[type[models.Model], set[str]] = {
    Customer: set(),
    PhoneNumber: {"customer_id"},
    PhoneNumberChange: {"customer_id", "phone_number_id"},
    Call: {"customer_id"},
}


@cache
def _insertable(model: type[models.Model]) -> list[models.Field]:
    """The columns an INSERT of ``model`` writes from the instance (the ORM's choice:
    every concrete field but the key; a database default is left to the database)."""
    return [
        field
        for field in model._meta.concrete_fields
        if not field.primary_key and field.column not in _FROM_STATEMENT[model]
    ]


# An INSERT's shape: each column with "%s" (a parameter) or the constant written in.
Shape = tuple[tuple[str, str], ...]


def _values(instance: models.Model) -> tuple[Shape, list[Any]]:
    """(shape, parameters) of ``instance`` as ``Model.save`` would insert it.

    NULLs and empty strings are written into the statement rather than sent: psycopg
    caches the parsing of a statement only up to 50 parameters, and parsing this one
    again on every webhook would cost more than running it.
    """
    shape, params = [], []
    for field in _insertable(type(instance)):
        value = field.pre_save(instance, add=True)
        if isinstance(value, DatabaseDefault):
            continue
        value = field.get_db_prep_save(value, connection)
        if value is None:
            shape.append((field.column, "NULL"))
        elif isinstance(value, str) and value == "":
            shape.append((field.column, "''"))
        else:
            shape.append((field.column, "%s"))
            params.append(value)
    return tuple(shape), params


def _insert(
    model: type[models.Model], shape: Shape, source: list[str], extra: list[str]
) -> sql.Composed:
    """``INSERT INTO <model> (<extra>, <columns>) SELECT <source>, <values>``."""
    names = sql.SQL(", ").join(
        sql.Identifier(name) for name in [*extra, *(column for column, _ in shape)]
    )
    values = sql.SQL(", ").join(
        [
            *(sql.Identifier(name) for name in source),
            *(sql.Placeholder() if piece == "%s" else sql.SQL(piece) for _, piece in shape),
        ]
    )
    return sql.SQL("INSERT INTO {} ({}) SELECT {}").format(
        sql.Identifier(model._meta.db_table), names, values
    )


_LINK_SQL = """SELECT pg_advisory_xact_lock(%s, %s);
WITH moment AS (
    SELECT %s::timestamptz AS at
), existing AS (
    SELECT id FROM telephony_call WHERE external_id = %s FOR UPDATE
), holder AS (
    SELECT p.customer_id
    FROM crm_phonenumber p JOIN crm_customer c ON c.id = p.customer_id
    WHERE p.number = %s AND c.merged_into_id IS NULL AND NOT EXISTS (SELECT 1 FROM existing)
    ORDER BY (p.type = %s) DESC, c.last_interaction_at DESC NULLS LAST, p.customer_id DESC
    LIMIT 1
), counted AS (
    UPDATE crm_customer SET interaction_count = interaction_count + 1,
        first_interaction_at = LEAST(COALESCE(first_interaction_at, moment.at), moment.at),
        last_interaction_at = GREATEST(COALESCE(last_interaction_at, moment.at), moment.at)
    FROM moment
    WHERE id = (SELECT customer_id FROM holder) AND merged_into_id IS NULL
    RETURNING id
), new_customer AS (
    {customer_insert}
    WHERE NOT EXISTS (SELECT 1 FROM existing) AND NOT EXISTS (SELECT 1 FROM holder)
    RETURNING id
), new_phone AS (
    {phone_insert} FROM new_customer RETURNING id, customer_id
), change AS (
    {change_insert} FROM new_phone
), linked AS (
    SELECT id FROM counted UNION ALL SELECT id FROM new_customer
), call AS (
    {call_insert} FROM linked RETURNING id, customer_id
)
SELECT (SELECT id FROM call), (SELECT customer_id FROM call), (SELECT id FROM new_phone)"""


@cache
def _statement(customer: Shape, phone: Shape, change: Shape, call: Shape) -> str:
    """The lock and the linking statement for these shapes (a handful per deployment),
    rendered once per process: composing it per call would cost more than running it."""
    return (
        sql.SQL(_LINK_SQL)
        .format(
            customer_insert=_insert(Customer, customer, [], []),
            phone_insert=_insert(PhoneNumber, phone, ["id"], ["customer_id"]),
            change_insert=_insert(
                PhoneNumberChange, change, ["customer_id", "id"], ["customer_id", "phone_number_id"]
            ),
            call_insert=_insert(Call, call, ["id"], ["customer_id"]),
        )
        .as_string(None)
    )


def call_insert_linked(
    *, e164: str, call: Call, caller_name: str, filing: tuple[str, bool, str], cause: str
) -> Linked | None:
    """Insert ``call`` linked to the profile its number ``e164`` belongs to, counted on it;
    when nobody holds the number, to a new profile named ``caller_name`` holding it as
    ``filing`` (type, SMS, type source), audited with ``cause`` as
    ``crm.services.phone_number_change_record`` audits an added number. None when it
    inserted nothing: the CallSid is recorded already, or the holder was merged away
    meanwhile; the general path then decides.

    Raises ``IntegrityError`` when the database refuses a row (the CallSid inserted
    meanwhile under another number): nothing is written then either.
    """
    at = call.started_at
    type_, sms, type_source = filing
    new_customer = Customer(
        name=caller_name[:200],
        source=Customer.Source.CALL,
        interaction_count=1,
        first_interaction_at=at,
        last_interaction_at=at,
    )
    new_phone = PhoneNumber(number=e164, type=type_, sms=sms, type_source=type_source)
    new_change = PhoneNumberChange(
        number=e164,
        action=PhoneNumberChange.Action.ADDED,
        new_type=type_,
        new_sms=sms,
        type_source=type_source,
        cause=cause[:255],
    )
    customer_shape, customer_params = _values(new_customer)
    phone_shape, phone_params = _values(new_phone)
    change_shape, change_params = _values(new_change)
    call_shape, call_params = _values(call)
    statement = _statement(customer_shape, phone_shape, change_shape, call_shape)
    params = [
        int(LockNamespace.NUMBER_LINK),
        number_lock_key(e164),
        connection.ops.adapt_datetimefield_value(at),
        call.external_id,
        e164,
        PhoneNumber.Type.MOBILE,
        *customer_params,
        *phone_params,
        *change_params,
        *call_params,
    ]
    guard = transaction.atomic() if connection.in_atomic_block else nullcontext()
    with guard, connection.cursor() as cursor:
        cursor.execute(statement, params)
        cursor.nextset()
        call_id, customer_id, phone_id = cursor.fetchone()
    if call_id is None:
        return None
    return Linked(call_id, customer_id, phone_id)


def supported() -> bool:
    """The one-round-trip path needs PostgreSQL and a client-side bound cursor (a
    server-side bound one cannot carry two statements in one message)."""
    return connection.vendor == "postgresql" and not connection.settings_dict["OPTIONS"].get(
        "server_side_binding"
    )
