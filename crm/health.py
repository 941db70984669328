"""Health checks for load balancers and orchestrators (docs/operations.md).

``/healthz``: the process answers (no database). ``/readyz``: the database and the broker
answer and no migration is waiting; otherwise 503 naming what failed. Both are answered
by a middleware ahead of the others, so a probe needs no login, no session and no allowed
Host header (a load balancer probes by IP), and is never redirected to HTTPS.
"""

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

HEALTH_PATHS = {"/healthz", "/healthz/"}
READY_PATHS = {"/readyz", "/readyz/"}
BROKER_TIMEOUT_SECONDS = 2.0

# Loading the migration graph costs ~100 ms; once everything is applied it stays applied
# for this process's code, so the check runs until it first passes and never again.
_migrations_applied = False


def reset_migration_cache() -> None:
    global _migrations_applied
    _migrations_applied = False


def check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except (DatabaseError, OSError) as exc:
        logger.warning("readyz: database unreachable: %s", exc)
        return f"unreachable ({type(exc).__name__})"
    return None


# The probe's own broker connection, kept open between probes (one round trip each) and
# apart from Celery's producer pool, so a failing probe never disturbs the tasks' sending.
_broker: dict[str, Any] = {}


def _broker_connection(url: str) -> Any:
    from kombu import Connection

    if _broker.get("url") != url:
        _close_broker()
        _broker.update(
            url=url,
            conn=Connection(
                url,
                connect_timeout=BROKER_TIMEOUT_SECONDS,
                transport_options={"socket_connect_timeout": BROKER_TIMEOUT_SECONDS},
            ),
        )
    return _broker["conn"]


def _close_broker() -> None:
    conn = _broker.pop("conn", None)
    _broker.pop("url", None)
    if conn is not None:
        conn.collect()


def check_broker() -> str | None:
    try:
        # The URL Celery reads too (crm/celery.py takes its config from these settings).
        conn = _broker_connection(settings.CELERY_BROKER_URL)
        conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)
        client = getattr(conn.default_channel, "client", None)
        if client is not None and hasattr(client, "ping"):  # Redis: prove it answers now
            client.ping()
    except Exception as exc:
        _close_broker()  # the next probe connects afresh
        logger.warning("readyz: broker unreachable: %s", exc)
        return f"unreachable ({type(exc).__name__})"
    return None


def check_migrations() -> str | None:
    global _migrations_applied
    if _migrations_applied:
        return None
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except (DatabaseError, OSError) as exc:
        return f"unknown ({type(exc).__name__})"
    if plan:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:5])
        return f"{len(plan)} unapplied ({names})"
    _migrations_applied = True
    return None


def _json(status: int, body: dict[str, Any]) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


def healthz() -> HttpResponse:
    return _json(200, {"status": "ok"})


def readyz() -> HttpResponse:
    started = time.perf_counter()
    results = {"database": check_database(), "broker": check_broker()}
    # Without a database the migration state cannot be read: say so, not a second error.
    results["migrations"] = check_migrations() if results["database"] is None else None
    failed = [name for name, problem in results.items() if problem]
    checks = {name: problem or "ok" for name, problem in results.items()}
    if results["database"] is not None:
        checks["migrations"] = "not checked"
    body: dict[str, Any] = {
        "status": "unavailable" if failed else "ok",
        "checks": checks,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
    }
    if failed:
        body["failed"] = failed
    return _json(503 if failed else 200, body)


class HealthCheckMiddleware:
    """Answers the probes before host validation, HTTPS redirects, sessions and auth."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if request.method in ("GET", "HEAD"):
            if path in HEALTH_PATHS:
                request.log_route = "/healthz"  # type: ignore[attr-defined]
                return healthz()
            if path in READY_PATHS:
                request.log_route = "/readyz"  # type: ignore[attr-defined]
                return readyz()
        return self.get_response(request)
