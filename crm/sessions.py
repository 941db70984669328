"""Django's database sessions, read with one statement written once.

Every signed-in request reads its session first. ``SessionStore`` of
``django.contrib.sessions.backends.db`` has the ORM build the same query each time
(~0.4 ms of CPU, docs/profiles/dialing.md); this store reads the same row (the key, not
expired) with SQL composed once per process. Everything else, writing included, is
Django's: sessions already stored stay valid and nothing else changes
(``SESSION_ENGINE = "crm.sessions"``).
"""

from functools import cache
from typing import Any

from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone

from crm.db import prepared_cursor


@cache
def _read_sql(alias: str, table: str) -> str:
    quote = connections[alias].ops.quote_name
    return (
        f"SELECT {quote('session_data')} FROM {quote(table)} "  # noqa: S608 (from _meta)
        f"WHERE {quote('session_key')} = %s AND {quote('expire_date')} > %s"
    )


class SessionStore(db.SessionStore):
    def _get_session_from_db(self) -> Any:
        model = self.model
        alias = router.db_for_read(model)
        connection = connections[alias]
        now = model._meta.get_field("expire_date").get_db_prep_value(timezone.now(), connection)
        with prepared_cursor(alias) as cursor:
            cursor.execute(_read_sql(alias, model._meta.db_table), [self.session_key, now])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        return model(session_data=row[0])  # all that load() reads of it
