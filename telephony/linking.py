"""A new caller's profile, number and audit row in one statement on PostgreSQL.

Every new caller's webhook makes three rows: the profile (born with its counters), the
number and the number's audit row (``PhoneNumberChange``, as
``crm.services.phone_number_change_record`` writes it). Through the ORM that is three
round trips, and compiling the three INSERTs cost more CPU than PostgreSQL spends running
them (docs/profiles/webhooks.md); here one statement of data-modifying CTEs inserts all
three. :func:`telephony.services._file_new_caller` builds the instances and calls this
under the number's linking lock, inside the linking transaction; SQLite (no
data-modifying CTEs) saves them through the ORM.

Column lists come from the models, so a field added to them is written as the ORM would
write it.
"""

from functools import cache
from typing import Any

from django.db import connection, models
from django.db.models.expressions import DatabaseDefault
from psycopg import sql

from crm.models import Customer, PhoneNumber, PhoneNumberChange

# Set from the statement's own rows, never from the instance.
_FROM_STATEMENT: dict[type[models.Model], set[str]] = {
    Customer: set(),
    PhoneNumber: {"customer_id"},
    PhoneNumberChange: {"customer_id", "phone_number_id"},
}

# An INSERT's shape: each column with "%s" (a parameter) or the constant written in.
Shape = tuple[tuple[str, str], ...]


@cache
def _insertable(model: type[models.Model]) -> list[models.Field]:
    """The columns an INSERT of ``model`` writes from the instance (the ORM's choice:
    every concrete field but the key)."""
    return [
        field
        for field in model._meta.concrete_fields
        if not field.primary_key and field.column not in _FROM_STATEMENT[model]
    ]


def _values(instance: models.Model) -> tuple[Shape, list[Any]]:
    """(shape, parameters) of ``instance`` as ``Model.save`` would insert it (a database
    default is left to the database).

    NULLs and empty strings are written into the statement rather than sent: psycopg
    caches the parsing of a statement only up to 50 parameters.
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


_NEW_CALLER_SQL = """WITH new_customer AS (
    {customer_insert} RETURNING id
), new_phone AS (
    {phone_insert} FROM new_customer RETURNING id, customer_id
), change AS (
    {change_insert} FROM new_phone
)
SELECT id, customer_id FROM new_phone"""


@cache
def _statement(customer: Shape, phone: Shape, change: Shape) -> str:
    """The statement for these shapes (a handful per deployment), rendered once per
    process: composing it per call would cost more than running it."""
    return (
        sql.SQL(_NEW_CALLER_SQL)
        .format(
            customer_insert=_insert(Customer, customer, [], []),
            phone_insert=_insert(PhoneNumber, phone, ["id"], ["customer_id"]),
            change_insert=_insert(
                PhoneNumberChange, change, ["customer_id", "id"], ["customer_id", "phone_number_id"]
            ),
        )
        .as_string(None)
    )


def new_caller_insert(*, customer: Customer, phone: PhoneNumber, change: PhoneNumberChange) -> None:
    """Insert ``customer``, ``phone`` (on it) and ``change`` (about it) in one statement;
    sets their keys. PostgreSQL only; call inside the linking transaction."""
    customer_shape, customer_params = _values(customer)
    phone_shape, phone_params = _values(phone)
    change_shape, change_params = _values(change)
    statement = _statement(customer_shape, phone_shape, change_shape)
    with connection.cursor() as cursor:
        cursor.execute(statement, [*customer_params, *phone_params, *change_params])
        phone_id, customer_id = cursor.fetchone()
    for instance in (customer, phone, change):
        instance._state.adding, instance._state.db = False, connection.alias
    customer.pk = customer_id
    phone.pk, phone.customer_id = phone_id, customer_id
    change.customer_id, change.phone_number_id = customer_id, phone_id
