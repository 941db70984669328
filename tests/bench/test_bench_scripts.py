"""The benchmarks never touch a database they were not meant for (docs/benchmarks.md).

A benchmark truncates and fills tables by the million. So each script reads its arguments
before anything connects (``--help`` touches no database), and ``bench/_setup.py`` claims
only an empty database or one a benchmark made, refusing any other: a test database holds
the app's tables and is refused. No timing here: the scripts time themselves.
"""

import importlib.util
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(p.name for p in (ROOT / "bench").glob("*.py") if not p.name.startswith("_"))


def bench_setup():
    spec = importlib.util.spec_from_file_location("bench_setup", ROOT / "bench" / "_setup.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def server_url(name: str) -> str:
    """A PostgreSQL URL for database ``name`` on the server the tests use."""
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s["PASSWORD"] else ""
    port = f":{s['PORT']}" if s["PORT"] else ""
    return f"postgres://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}{port}/{name}"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when this returns: nothing listens there


def database_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return cursor.fetchone() is not None


def drop_database(name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server_url("postgres"), autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def test_every_bench_script_is_covered():
    assert {"reputation.py", "backfill.py", "webhooks.py", "fake_feed.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_exits_before_touching_a_database(script):
    # A server that is not there: a script that connects before reading its arguments fails
    # at once (and one that did reach a server would create, claim and migrate a database).
    env = {**os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:{closed_port()}/x"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout


@pytest.mark.django_db
def test_setup_refuses_a_database_holding_other_tables(monkeypatch):
    setup = bench_setup()
    if connection.vendor != "postgresql":
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{connection.settings_dict['NAME']}")
        with pytest.raises(SystemExit, match="run on PostgreSQL"):
            setup.setup_django()
        return
    monkeypatch.setenv("DATABASE_URL", server_url(connection.settings_dict["NAME"]))
    with pytest.raises(setup.NotABenchDatabase, match="not a benchmark's database"):
        setup.setup_django()
    assert setup.MARKER_TABLE not in connection.introspection.table_names()


@pytest.mark.postgresql
@pytest.mark.django_db
def test_setup_claims_a_new_database_and_knows_it_again():
    setup = bench_setup()
    name = f"bench_claim_probe_{uuid.uuid4().hex[:12]}"
    url = server_url(name)
    try:
        setup.claim_database(url)  # created, empty, marked
        assert database_exists(name)
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE crm_customer (id int)")  # a benchmark's tables
        setup.claim_database(url)  # the marker says it is a benchmark's: accepted
    finally:
        drop_database(name)


def test_scale_out_counts_the_new_callers_looked_up_in_one_task_per_web_process(tmp_path):
    """bench/scale_out.py reads what each worker did from its log: a web process's new
    callers are one ``caller_numbers_identify`` task (one line type a number), a retried
    one ``caller_number_identify``; both count, a number each."""
    spec = importlib.util.spec_from_file_location(
        "bench_scale_out", ROOT / "bench" / "scale_out.py"
    )
    assert spec is not None
    assert spec.loader is not None
    scale_out = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scale_out)
    log = tmp_path / "w1.log"
    log.write_text(
        "\n".join(
            [
                '{"message": "Task telephony.tasks.caller_numbers_identify[6f1c-22] succeeded '
                "in 0.61s: ['mobile', 'landline']\"}",
                '{"message": "Task telephony.tasks.caller_numbers_identify[6f1c-23] succeeded '
                "in 0.40s: ['mobile']\"}",
                "Task telephony.tasks.caller_number_identify[6f1c-24] succeeded in 0.2s: 'mobile'",
                "Task reputation.tasks.daily_check_run[6f1c-25] succeeded in 0.8s: 35",
            ]
        )
    )
    done = scale_out.worker_tasks(log)
    assert scale_out.new_callers_looked_up(done) == 4
    assert [r for _, r in done["daily_check_run"]] == ["35"]


def test_the_stand_ins_answer_on_their_shared_loop():
    """bench/fake_feed.py and bench/fake_lookup.py share one HTTP loop
    (bench/_fake_server.py): each answers its API on a kept-alive connection, and counts."""
    import json
    import urllib.request

    setup = bench_setup()
    feed, feed_url = setup.start_stand_in("fake_feed.py", "--latency", "0")
    lookup, lookup_url = setup.start_stand_in("fake_lookup.py", "--latency", "0")
    try:
        request = urllib.request.Request(  # noqa: S310 (loopback)
            f"{feed_url}/check",
            data=json.dumps({"numbers": ["+14155550107", "+14155550100"]}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 (loopback)
            results = json.load(answer)["results"]
        assert [r["flagged"] for r in results["+14155550107"]] == [True, True, False]
        assert setup.get_json(f"{feed_url}/reset")["requests"] == 1
        assert setup.get_json(f"{feed_url}/stats")["requests"] == 0
        body = setup.get_json(f"{lookup_url}/v2/PhoneNumbers/+14155550100?Fields=x")
        assert body["phone_number"] == "+14155550100"
        assert setup.get_json(f"{lookup_url}/stats")["answered"] == 1
    finally:
        for process in (feed, lookup):
            process.terminate()
            process.wait()
