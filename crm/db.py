"""Database helpers shared by every app: the vendor check, advisory locks, constraint errors,
rows read by hand, and the prepared statements of the hot paths.

Every app asks :func:`is_postgresql` (never ``connection.vendor`` itself) and takes its
advisory locks through :class:`LockNamespace`, so that no two features can pick the same
lock keys by accident and a reader finds every lock the product takes in one list.
"""

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from enum import IntEnum
from functools import cache
from typing import Any, TypeVar

import psycopg
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, models
from django.db.backends.utils import CursorDebugWrapper

M = TypeVar("M", bound=models.Model)


def is_postgresql(alias: str = DEFAULT_DB_ALIAS) -> bool:
    return connections[alias].vendor == "postgresql"


class LockNamespace(IntEnum):
    """The first key (``classid``) of every two-key PostgreSQL advisory lock we take.

    The second key says which row the lock is about. SQLite needs none of them: its
    IMMEDIATE transactions already serialise every writer.
    """

    # One linking decision per phone number at a time (key: a hash of the E.164 number).
    NUMBER_LINK = 0x5B7E
    # One worker imports a lead upload at a time (key: the upload id; session lock).
    UPLOAD_IMPORT = 0x4C55
    # One merge into a campaign at a time (key: the campaign id).
    CAMPAIGN_MERGE = 0x4C4D
    # Attaching a contacts partition locks the default partition: one at a time (key: 0).
    PARTITION_ATTACH = 0x4C41
    # One retention run at a time, whatever the beats fire (key: 0; session lock).
    RETENTION_RUN = 0x5245
    # One worker runs an identification backfill at a time (key: the run id; session lock).
    IDENTIFICATION_BACKFILL = 0x4942
    # Monitoring claims a reputation slot: one claim decision at a time (key: 0).
    REPUTATION_SLOTS = 0x5253
    # One worker runs the day's reputation check at a time (key: the day's ordinal; session).
    REPUTATION_DAILY_CHECK = 0x5244
    # One replacement of an owned number at a time (key: the number's id; session lock).
    NUMBER_REPLACEMENT = 0x5250


def number_lock_key(e164: str) -> int:
    """The second key of a ``NUMBER_LINK`` lock: 32 bits of a hash of the number (a
    collision only makes two numbers wait for each other, never a wrong decision)."""
    return int.from_bytes(
        hashlib.blake2b(e164.encode(), digest_size=4).digest(), "big", signed=True
    )


def number_locks(e164s: Iterable[str]) -> None:
    """Take the ``NUMBER_LINK`` lock of each number until the transaction ends, in key
    order (two batches sharing numbers then wait for each other instead of deadlocking)."""
    keys = sorted({number_lock_key(e164) for e164 in e164s})
    if not keys or not is_postgresql():
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(%s, k)) FROM unnest(%s::int[]) AS k",
            [int(LockNamespace.NUMBER_LINK), keys],
        )


def advisory_xact_lock(namespace: LockNamespace, key: int) -> None:
    """Wait for the lock ``(namespace, key)``, held until the transaction ends."""
    if not is_postgresql():
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [int(namespace), int(key)])


@contextmanager
def advisory_try_lock(namespace: LockNamespace, key: int) -> Iterator[bool]:
    """Try the session lock ``(namespace, key)`` without waiting; yields whether it is ours.

    Session-level, so it outlives the transactions inside the block (long work that
    commits as it goes) and is released when the block ends or the connection dies.
    """
    if not is_postgresql():
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [int(namespace), int(key)])
        row = cursor.fetchone()
    acquired = bool(row and row[0])
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [int(namespace), int(key)])


class _Prepared(psycopg.Cursor):
    """Server-side binding, prepared on first use: PostgreSQL parses and plans the
    statement once per connection instead of on every request."""

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        return super().execute(query, params, prepare=True)


def prepared_cursor(alias: str = DEFAULT_DB_ALIAS) -> Any:
    """A cursor whose statements PostgreSQL prepares, for the few statements every
    request of a hot path runs (the session, the user, the next lead's): planning cost
    each of them more CPU than running it (docs/profiles/dialing.md). Django's own cursors
    bind on the client and prepare nothing. Elsewhere, Django's cursor."""
    db = connections[alias]
    if not is_postgresql(alias):
        return db.cursor()
    db.ensure_connection()
    pg: Any = db.connection
    if pg.prepare_threshold is None:
        # Django turns preparing off (None), which psycopg applies even to an explicit
        # prepare=True. Client-bound cursors (all of Django's) never prepare whatever the
        # threshold, and these cursors prepare every statement on first use.
        pg.prepare_threshold = 2**31 - 1
    raw: Any = _Prepared(pg)
    # Wrapped as Django wraps its own: errors translated, queries logged when asked.
    if db.queries_logged:
        return _PreparedDebugCursor(raw, db)
    return db.make_cursor(raw)


class _PreparedDebugCursor(CursorDebugWrapper):
    """Logs a prepared statement with its values inlined, as Django logs its own: psycopg
    keeps no text of a server-bound query for ``last_executed_query`` to read back."""

    @contextmanager
    def debug_sql(
        self,
        sql: Any = None,
        params: Any = None,
        use_last_executed_query: bool = False,
        many: bool = False,
    ) -> Iterator[None]:
        if use_last_executed_query and not many:
            sql = self.db.ops.compose_sql(sql, params)
        with super().debug_sql(sql, params, many=many):
            yield


def constraint_violation_message(exc: IntegrityError, model: type[models.Model]) -> str | None:
    """The human message of the ``Meta.constraints`` entry ``exc`` violated, if we can tell.

    PostgreSQL names the constraint (psycopg's ``diag``); SQLite names a CHECK constraint
    or the columns of a unique one, so both are matched.
    """
    diag = getattr(exc.__cause__, "diag", None)
    name = getattr(diag, "constraint_name", None)
    text = str(exc)
    table = model._meta.db_table
    for constraint in model._meta.constraints:
        if constraint.name == name or constraint.name in text:
            return constraint.get_violation_error_message()
        if isinstance(constraint, models.UniqueConstraint) and constraint.fields:
            columns = ", ".join(
                f"{table}.{getattr(model._meta.get_field(f), 'column', f)}"
                for f in constraint.fields
            )
            if text.endswith(f"UNIQUE constraint failed: {columns}"):
                return constraint.get_violation_error_message()
    return None


@cache
def _row_converters(model: type[models.Model], alias: str) -> tuple[list[str], tuple[Any, ...]]:
    # The columns' attribute names, and what the ORM's compiler applies to each column
    # (get_converters), worked out once.
    db = connections[alias]
    found = []
    for index, field in enumerate(model._meta.concrete_fields):
        column = field.get_col(model._meta.db_table)
        converters = db.ops.get_db_converters(column) + column.get_db_converters(db)
        if converters:
            found.append((index, column, tuple(converters)))
    return [f.attname for f in model._meta.concrete_fields], tuple(found)


def model_from_row(model: type[M], row: Sequence[Any], alias: str = "default") -> M:
    """An instance of ``model`` from a row of its concrete columns in field order, as the
    ORM would load it (the backend's and the fields' converters applied), for statements
    read often enough that building them with the ORM (or ``raw()``, which works out its
    column mapping every time) costs more than running them."""
    values = list(row)
    db = connections[alias]
    names, converters_of = _row_converters(model, alias)
    for index, column, converters in converters_of:
        for converter in converters:
            values[index] = converter(values[index], column, db)
    return model.from_db(alias, names, values)
