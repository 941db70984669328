"""The signed-in user of a session, read with one statement written once.

Every signed-in request reads its user. Django's ``get_user`` asks the backend stored in
the session, and ``ModelBackend.get_user`` has the ORM build the same ``SELECT`` each
time (~1 ms of CPU of an API ask, docs/profiles/dialing.md). The stored path
(``django.contrib.auth.backends.ModelBackend``) cannot change without signing everyone
out, so the middleware, not the backend, reads the row: for sessions of ModelBackend on
PostgreSQL it reads the same row, and the user's permissions with it
(``crm.permissions.permissions_columns_sql``), with SQL composed once per process and applies
everything ``get_user`` does (the backend still listed, ``user_can_authenticate``, the
session hash with its fallback secrets). Any other backend, or database, is Django's
own path (``AuthenticationMiddleware`` in ``MIDDLEWARE``).
"""

from functools import cache
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.middleware import AuthenticationMiddleware as _AuthenticationMiddleware
from django.contrib.auth.models import AnonymousUser
from django.db import connections, router
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare
from django.utils.functional import SimpleLazyObject

from crm.db import is_postgresql, model_from_row, prepared_cursor
from crm.permissions import permissions_columns_sql, permissions_put

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


@cache
def _user_sql(alias: str) -> str:
    model = get_user_model()
    quote = connections[alias].ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(f"{table}.{quote(f.column)}" for f in model._meta.concrete_fields)
    # Almost every signed-in request checks a permission next: read with the user.
    permissions = permissions_columns_sql(f"{table}.{quote(model._meta.pk.column)}")
    return (
        f"SELECT {columns}, {permissions} FROM {table} "  # noqa: S608 (from _meta)
        f"WHERE {table}.{quote(model._meta.pk.column)} = %s"
    )


def _user_read(user_id: Any) -> Any:
    """ModelBackend.get_user's answer (the active user of that id, else None), with their
    permissions where ModelBackend keeps them for the request."""
    model = get_user_model()
    alias = router.db_for_read(model)
    with prepared_cursor(alias) as cursor:
        cursor.execute(_user_sql(alias), [user_id])
        row = cursor.fetchone()
    if row is None:
        return None
    user = model_from_row(model, row[:-2], alias)  # the last two: its permissions
    if not ModelBackend().user_can_authenticate(user):
        return None
    permissions_put(user, *row[-2:])
    return user


def _fast_path(request: HttpRequest) -> bool:
    """Whether this session's user is ModelBackend's, read from PostgreSQL: the user's
    permissions come as ``ARRAY(...)`` columns, which SQLite has not; it keeps Django's
    path."""
    try:
        backend_path = request.session[auth.BACKEND_SESSION_KEY]
    except KeyError:
        return False
    alias = router.db_for_read(get_user_model())
    return (
        backend_path == MODEL_BACKEND
        and backend_path in settings.AUTHENTICATION_BACKENDS
        and is_postgresql(alias)
    )


def session_user(request: HttpRequest) -> Any:
    """``django.contrib.auth.get_user``, the user read by ``_user_read`` (same checks, same
    answers: the user, or AnonymousUser with the session flushed when its hash fails)."""
    if not _fast_path(request):
        return auth.get_user(request)
    try:
        user_id = auth._get_user_session_key(request)  # type: ignore[attr-defined]
    except KeyError:
        return AnonymousUser()
    user = _user_read(user_id)
    if user is None:
        return AnonymousUser()
    session_hash = request.session.get(auth.HASH_SESSION_KEY)
    session_auth_hash = user.get_session_auth_hash()
    if session_hash and constant_time_compare(session_hash, session_auth_hash):
        return user
    # Signed with a secret now in SECRET_KEY_FALLBACKS: kept, under a new key and hash.
    if session_hash and any(
        constant_time_compare(session_hash, fallback)
        for fallback in user.get_session_auth_fallback_hash()
    ):
        request.session.cycle_key()
        request.session[auth.HASH_SESSION_KEY] = session_auth_hash
        return user
    request.session.flush()
    return AnonymousUser()


class AuthenticationMiddleware(_AuthenticationMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)  # its checks, and request.auser
        request.user = SimpleLazyObject(lambda: session_user(request))  # type: ignore[assignment]
