"""Database helpers shared by every app: constraint errors as messages, PostgreSQL checks."""

from django.db import IntegrityError, connection, models


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


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
