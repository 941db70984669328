"""Shared start-up for benchmark scripts: Django on a PostgreSQL database of the benchmarks'
own, migrated, plus stats helpers.

Benchmarks truncate and fill tables by the million, so they refuse any database that holds
something else: the database must be empty, or carry the marker table a benchmark leaves in
it. The default, `switchboard_bench`, is created when missing. Every script parses its
arguments before calling `setup_django()`, so `--help` never touches a database.
"""

import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/switchboard_bench"
# A table no migration creates: its presence says "a benchmark made this database".
MARKER_TABLE = "switchboard_bench_marker"


class NotABenchDatabase(SystemExit):
    pass


def bench_database_url() -> str:
    url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("Benchmarks run on PostgreSQL: set DATABASE_URL=postgres://…")
    return url


def claim_database(url: str) -> None:
    """Create the database if missing; refuse it if it holds anything but a benchmark's data."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name:
        raise SystemExit(f"DATABASE_URL names no database: {url}")
    try:
        conn = psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as exc:
        if f'database "{name}" does not exist' not in str(exc):
            raise SystemExit(f"Cannot reach the benchmark database {name}: {exc}") from exc
        server = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        conn = psycopg.connect(url, autocommit=True)
    with conn:
        tables = {
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
        }
        if tables and MARKER_TABLE not in tables:
            raise NotABenchDatabase(
                f"Refusing to run: database {name!r} holds {len(tables)} tables and no "
                f"{MARKER_TABLE} table, so it is not a benchmark's database and its data would "
                "be truncated. Point DATABASE_URL at an empty database (the default, "
                "switchboard_bench, is created when missing)."
            )
        conn.execute(
            sql.SQL("CREATE TABLE IF NOT EXISTS {} (created timestamptz DEFAULT now())").format(
                sql.Identifier(MARKER_TABLE)
            )
        )


def setup_django(*, database: bool = True) -> None:
    """Call after parsing arguments: claims the database, sets Django up and migrates.

    ``database=False`` for a benchmark that needs the code but no database (bench/phones.py):
    Django is set up and nothing is connected to.
    """
    if database:
        url = bench_database_url()
        claim_database(url)
        os.environ["DATABASE_URL"] = url
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    import django

    django.setup()
    if database:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
        return json.load(response)


def start_stand_in(script: str, *args: str) -> tuple[subprocess.Popen, str]:
    """Start a loopback stand-in (bench/fake_*.py) in a process of its own; wait until its
    ``/stats`` answers. Returns the process and its base URL."""
    port = free_port()
    process = subprocess.Popen([sys.executable, str(ROOT / "bench" / script), str(port), *args])
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            get_json(f"{url}/stats")
            return process, url
        except OSError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit(f"bench/{script} did not start")


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def describe(samples_ms: list[float]) -> str:
    return (
        f"median {statistics.median(samples_ms):7.1f} ms  "
        f"p95 {percentile(samples_ms, 95):7.1f} ms  (n={len(samples_ms)})"
    )


def show_profile(client: Any, url: str, top: int, label: str = "") -> None:
    """Where a page's time goes: cProfile of 10 renders by cumulative time, then the
    queries of one render, slowest first (``--profile`` of the page benches)."""
    import cProfile
    import io
    import pstats
    import time

    from django.db import connection

    for _ in range(3):
        client.get(url)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(10):
        client.get(url)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    print(f"--- cProfile, 10 renders of {label or url}, by cumulative time ---")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:12000])
    queries: list[tuple[str, float]] = []

    def timed(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries.append((sql, (time.perf_counter() - began) * 1000))

    with connection.execute_wrapper(timed):
        client.get(url)
    print(f"--- its {len(queries)} queries, slowest first (ms) ---")
    for sql, ms in sorted(queries, key=lambda q: -q[1]):
        print(f"{ms:7.2f}  {' '.join(sql.split())[:160]}")
