"""One migrated test database per run, copied by every pytest-xdist worker.

pytest-django has each worker migrate a database of its own: the four workers of a run
ran every migration four times at once, 20 s of setup for each worker's first test on
PostgreSQL and 70-80 s on SQLite (in-memory, where each ALTER rebuilds its table) on
the loaded 2-core machine (docs/testing.md). Here the first worker to take the run's lock
migrates one database and the others copy it:

- PostgreSQL: the first worker migrates ``test_NAME`` (what a run without workers uses)
  and every worker, that one included, clones it with Django's own
  ``clone_test_db`` (``CREATE DATABASE test_NAME_gwN TEMPLATE test_NAME``), the same
  names pytest-django gives them.
- SQLite: each worker's test database is in memory. The first worker migrates its own
  and writes a copy to the run's folder with SQLite's backup API; the others read that
  copy into their in-memory database instead of migrating.
"""

import fcntl
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections


@contextmanager
def run_lock(folder: Path) -> Iterator[None]:
    """Held by one worker of the run at a time (the folder is the run's, shared by its
    workers)."""
    with open(folder / "test-database.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def setup_worker_database(folder: Path, worker: str, verbosity: int) -> list[Any]:
    """Make this worker's test database from the run's template, migrating the template
    first if no worker has yet; returns the old config ``teardown_databases`` takes."""
    connection = connections["default"]
    old_name = connection.settings_dict["NAME"]
    creation: Any = connection.creation
    made = folder / f"test-database-{connection.vendor}.done"
    with run_lock(folder):
        if connection.vendor == "postgresql":
            template = creation._get_test_db_name().removesuffix(f"_{worker}")
            if not made.exists():
                connection.settings_dict["TEST"]["NAME"] = template
                creation.create_test_db(verbosity=verbosity, autoclobber=True, serialize=False)
                made.touch()
            else:
                connection.settings_dict["NAME"] = template
            # Closes this worker's connection to the template first, as CREATE DATABASE
            # ... TEMPLATE needs; the clone is named test_NAME_gwN, pytest-django's name.
            creation.clone_test_db(suffix=worker, verbosity=verbosity, autoclobber=True)
            connection.settings_dict.update(creation.get_test_db_clone_settings(worker))
            connection.close()
        else:
            _sqlite_from_template(connection, folder / "test-database.sqlite3", made, verbosity)
    return [(connection, old_name, True)]


def _sqlite_from_template(connection: Any, copy: Path, made: Path, verbosity: int) -> None:
    if not made.exists():
        connection.creation.create_test_db(verbosity=verbosity, autoclobber=True, serialize=False)
        connection.ensure_connection()
        target = sqlite3.connect(copy)
        try:
            connection.connection.backup(target)
        finally:
            target.close()
        made.touch()
        return
    # What create_test_db does for an in-memory database, with the migrated copy read in
    # where it would migrate.
    name = connection.creation._get_test_db_name()
    connection.close()
    connection.settings_dict["NAME"] = name
    settings.DATABASES[connection.alias]["NAME"] = name
    connection.ensure_connection()
    source = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    try:
        source.backup(connection.connection)
    finally:
        source.close()


# Written by the migrations (the role groups by crm/roles.py's data migration) and by no
# test: a flush keeps them (docs/testing.md).
KEPT_TABLES = frozenset(
    ("django_content_type", "auth_permission", "auth_group", "auth_group_permissions")
)


def flush_lightly() -> None:
    """What Django's flush (the end of every transactional test) empties, and how.

    Django empties every table, then its ``post_migrate`` makes the content types and
    every permission again, and the suite put the role groups back after it: 0.25 s of
    inserts a test. Here the four tables above, which only migrations write, are kept,
    so ``post_migrate`` finds them all and writes nothing.

    On PostgreSQL Django's flush is one ``TRUNCATE``: a new file for each table and
    index, the old ones unlinked at commit, 0.26-0.30 s on a quiet machine and seconds
    while other workers write. The tables hold a few rows by then, and ``DELETE`` of each
    in one transaction (every foreign key is deferrable and no table has a trigger) takes
    0.015-0.03 s. Sequences are not reset either way; a flush that asks for that, or for
    ``CASCADE``, stays Django's statement.
    """
    from django.core.management.commands import flush

    def sql_flush(
        style: Any, connection: Any, reset_sequences: bool = True, allow_cascade: bool = False
    ) -> list[str]:
        tables = [
            table
            for table in connection.introspection.django_table_names(
                only_existing=True, include_views=False
            )
            if table not in KEPT_TABLES
        ]
        if connection.vendor == "postgresql" and tables and not (reset_sequences or allow_cascade):
            quote = connection.ops.quote_name
            return ["SET CONSTRAINTS ALL DEFERRED", *(f"DELETE FROM {quote(t)}" for t in tables)]
        return connection.ops.sql_flush(
            style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )

    flush.sql_flush = sql_flush  # type: ignore[attr-defined]
