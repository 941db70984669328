"""Where the server CPU of one `GET /api/campaigns/{id}/next/` goes, in process.

The request goes through Django's WSGI handler exactly as gunicorn hands it over
(production settings as bench/dialing.py starts gunicorn with: DEBUG off, JSON access
log, API throttling in Redis; a caller of the Caller role signed in with a session
cookie), on a campaign of --leads leads built as bench/dialing.py builds it (reused
when it exists). Each handed lead is then logged done on a connection of its own, as
the bench's callers do, outside the measured time. Prints:

- CPU per ask (``time.thread_time`` of this process, and the CPU its PostgreSQL
  backend used meanwhile) over --asks asks, median of --repeats runs;
- each middleware's own share, DRF's phases and the view's steps (exclusive thread
  time, nested timers), and each statement's wall and client CPU time;
- the statements of one ask;
- with --profile, a cProfile of --asks asks (by own time and by cumulative time).

    DATABASE_URL=postgres://.../bench_x CELERY_BROKER_URL=redis://127.0.0.1:6379/N \
        .venv/bin/python bench/dialing_request.py [--leads N] [--asks N] [--profile]

Last line: the headline (CPU per ask and statements per ask).
"""

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dialing as bench
from _setup import setup_django


class Timers:
    """Nested timers: each label's inclusive and exclusive thread time and its calls."""

    def __init__(self) -> None:
        self.inclusive: dict[str, float] = defaultdict(float)
        self.exclusive: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.stack: list[list[Any]] = []
        self.order: list[str] = []

    def timed(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        if label not in self.order:
            self.order.append(label)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            frame = [label, time.thread_time(), 0.0]
            self.stack.append(frame)
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.thread_time() - frame[1]
                self.stack.pop()
                self.inclusive[label] += elapsed
                self.exclusive[label] += elapsed - frame[2]
                self.calls[label] += 1
                if self.stack:
                    self.stack[-1][2] += elapsed

        return wrapper

    def patch(self, owner: Any, name: str, label: str) -> None:
        setattr(owner, name, self.timed(label, getattr(owner, name)))

    def reset(self) -> None:
        self.inclusive.clear()
        self.exclusive.clear()
        self.calls.clear()


def environ_for(path: str, cookie: str) -> dict[str, Any]:
    """What gunicorn's sync worker passes for a browser's GET on loopback."""
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_COOKIE": cookie,
        "HTTP_ACCEPT": "application/json",
        "HTTP_USER_AGENT": "bench",
        "HTTP_CONNECTION": "close",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Asker:
    def __init__(self, campaign: Any, cookie: str) -> None:
        import psycopg
        from django.core.handlers.wsgi import WSGIHandler

        self.handler = WSGIHandler()
        self.path = f"/api/campaigns/{campaign.pk}/next/"
        self.cookie = cookie
        self.done = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
        self.statuses: dict[str, int] = defaultdict(int)

    def ask(self) -> Any:
        status: list[str] = []
        body = self.handler(environ_for(self.path, self.cookie), lambda s, h: status.append(s))
        content = b"".join(body)
        body.close()
        self.statuses[status[0]] += 1
        return content if status[0].startswith("200") else None

    def log_done(self, content: bytes | None) -> None:
        """The caller logs a final outcome (not measured): the lead leaves the queue."""
        import json

        if content is None:
            return
        contact = json.loads(content)["contact"]["id"]
        self.done.execute("UPDATE campaigns_contact SET queue = 'done' WHERE id = %s", [contact])
        self.done.execute("DELETE FROM campaigns_leadlease WHERE contact_id = %s", [contact])

    def backend_pid(self) -> int:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return int(cursor.fetchone()[0])

    def run(self, asks: int) -> tuple[float, float]:
        """ms of this thread's CPU and of the backend's CPU per ask."""
        pid = self.backend_pid()
        own = 0.0
        db_before = backend_cpu(pid)
        for _ in range(asks):
            started = time.thread_time()
            content = self.ask()
            own += time.thread_time() - started
            self.log_done(content)
        if self.backend_pid() != pid:
            raise SystemExit("the connection was replaced during the run: its CPU is lost")
        return own / asks * 1000, (backend_cpu(pid) - db_before) / asks * 1000


def instrument(timers: Timers, asker: Asker) -> None:
    """Timers on each middleware (its own time: the time below it taken out), DRF's
    phases and the view's steps."""
    from django.core.handlers.base import BaseHandler
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from campaigns import api_dialing, dialing, dialing_pick
    from campaigns import dialing_zones as zones

    handler = asker.handler
    names = [path.rsplit(".", 1)[1] for path in bench_settings().MIDDLEWARE]
    # Walk the chain: each middleware's get_response is the next one (or the view).
    instance = _closure_instance(handler._middleware_chain)
    handler._middleware_chain = timers.timed(f"mw {names[0]}", handler._middleware_chain)
    for i, name in enumerate(names):
        below = f"mw {names[i + 1]}" if i + 1 < len(names) else "urls, view, render"
        assert type(instance).__name__ == name, (type(instance).__name__, name)
        inner = instance.get_response
        nxt = _closure_instance(inner)
        instance.get_response = timers.timed(below, inner)
        instance = nxt
    timers.patch(BaseHandler, "resolve_request", "resolve URL")
    for name in (
        "initialize_request",
        "perform_authentication",
        "check_permissions",
        "check_throttles",
        "determine_version",
        "finalize_response",
    ):
        timers.patch(APIView, name, f"drf {name}")
    timers.patch(Response, "render", "drf render (JSON)")
    timers.patch(api_dialing.NextLeadApi, "get", "view get")
    timers.patch(api_dialing, "_campaign", "view _campaign (get_object_or_404)")
    timers.patch(dialing, "campaign_outcomes_seed", "view campaign_outcomes_seed")
    timers.patch(dialing, "lead_next", "view lead_next")
    timers.patch(zones, "queue_keys", "lead_next queue_keys")
    timers.patch(dialing_pick, "pick_and_hold", "lead_next pick_and_hold")
    timers.patch(dialing, "_checked", "lead_next _checked")
    timers.patch(dialing, "lead_payload", "view lead_payload")


def bench_settings() -> Any:
    from django.conf import settings

    return settings


def _closure_instance(function: Any) -> Any:
    """The middleware instance that convert_exception_to_response's ``inner`` calls."""
    for cell in getattr(function, "__closure__", None) or ():
        value = cell.cell_contents
        if hasattr(value, "get_response"):
            return value
    return None


def statement_timers(timers: Timers) -> Any:
    """Each statement's client CPU (exclusive) and wall time, by its first words."""
    from django.db import connection

    walls: dict[str, float] = defaultdict(float)

    def wrapper(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        words = " ".join(str(sql).split())
        label = "SQL " + (words[:70] if not words.startswith("WITH held") else "pick (prepared)")
        began = time.perf_counter()
        try:
            return timers.timed(label, execute)(sql, params, many, context)
        finally:
            walls[label] += time.perf_counter() - began

    return connection.execute_wrapper(wrapper), walls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--asks", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile the asks too")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    # The settings gunicorn runs with in bench/dialing.py.
    os.environ.update(
        DEBUG="0",
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        CACHE_URL=os.environ.get("CACHE_URL") or os.environ["CELERY_BROKER_URL"],
        # One caller asks far faster than a person: counted as always, never refused.
        API_THROTTLE_RATE="100000000/minute",
    )
    setup_django()
    import logging

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # The access lines are formatted as in production, and written nowhere.
    for handler in logging.getLogger().handlers:
        handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 (for the process's life)
    campaign = bench.campaign_ready(args.leads)
    bench.zones_fill(campaign, refill=False)
    user = bench.callers(campaign, 1)[0]
    asker = Asker(campaign, bench.session_cookies([user])[0])
    for _ in range(20):  # warm-up: imports, the prepared statement, caches
        asker.log_done(asker.ask())

    runs = [asker.run(args.asks) for _ in range(args.repeats)]
    web = statistics.median(r[0] for r in runs)
    db = statistics.median(r[1] for r in runs)
    print(f"answers: {dict(asker.statuses)}; load average {os.getloadavg()[0]:.1f}")
    print(
        f"CPU per ask ({args.asks} asks x {args.repeats}, median): web {web:.2f} ms "
        f"(runs {', '.join(f'{r[0]:.2f}' for r in runs)}), PostgreSQL backend {db:.2f} ms "
        f"(runs {', '.join(f'{r[1]:.2f}' for r in runs)})"
    )

    with CaptureQueriesContext(connection) as queries:
        content = asker.ask()
    # Read now: the next request's start empties the connection's query log.
    captured = list(queries.captured_queries)
    asker.log_done(content)
    print(f"statements of one ask: {len(captured)}")
    for query in captured:
        print(f"  {' '.join(str(query['sql'] or 'the pick (prepared)').split())[:150]}")

    timers = Timers()
    instrument(timers, asker)
    wrapper, walls = statement_timers(timers)
    with wrapper:
        timers.reset()
        total = time.thread_time()
        for _ in range(args.asks):
            asker.log_done(asker.ask())
        total = time.thread_time() - total
    n = args.asks
    print(
        f"--- thread time per ask, ms (instrumented: {total / n * 1000:.2f} ms an ask; "
        "own = minus the timed steps inside) ---"
    )
    print(f"{'own':>7} {'incl':>7} {'calls':>6} {'wall':>7}  step")
    for label in timers.order:
        if timers.calls.get(label):
            wall = f"{walls[label] / n * 1000:7.2f}" if label in walls else " " * 7
            print(
                f"{timers.exclusive[label] / n * 1000:7.2f} "
                f"{timers.inclusive[label] / n * 1000:7.2f} "
                f"{timers.calls[label] / n:6.2f} {wall}  {label}"
            )

    if args.profile:
        profile = cProfile.Profile(time.thread_time)  # CPU, not waits
        profile.enable()
        for _ in range(n):
            content = asker.ask()
            profile.disable()
            asker.log_done(content)
            profile.enable()
        profile.disable()
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats(order).print_stats(args.top)
            print(f"--- cProfile of {n} asks by {order} (timers included) ---")
            print("\n".join(line for line in out.getvalue().splitlines() if line.strip()))
    print(
        f"HEADLINE next lead in process: {web:.2f} ms web CPU + {db:.2f} ms PostgreSQL CPU an "
        f"ask, {len(captured)} statements, at {args.leads:,} leads"
    )


if __name__ == "__main__":
    main()
