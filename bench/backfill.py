"""The mobile identification backfill at scale, against a provider with a rate limit.

Builds NUMBERS distinct numbers on PostgreSQL in a realistic mix (80% held as Other by
one profile; 5% shared landlines held Home by one profile and Other by another; 3% Other
on two profiles; 2% Mobile on one profile and Other on another; 10% already Mobile,
Home or Office: 85% need a lookup), starts a loopback Twilio Lookup stand-in with 50 ms
latency and a limit of 50 concurrent requests (so it allows 1,000 lookups/s), measures
what a bare client (no database, nothing else to do) gets from it, then runs
``identify_mobile_numbers --concurrency 70`` through the real Twilio adapter with
``LINE_TYPE_PROVIDER_CONCURRENCY=50`` (at most 50 requests at the provider; 70 sent and
not yet in the ledger), SIGKILLs it at 30% and runs it again to the end. Prints the
lookup rate against the provider's and the bare client's, lookups against eligible
numbers, the peak RSS, and what the kill repeated.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/switchboard_bench \\
        .venv/bin/python bench/backfill.py [--numbers 1000000] [--concurrency 70]
"""

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import ROOT, get_json, setup_django, start_stand_in

TABLES = [
    "telephony_linetypelookup",
    "telephony_lookupclaim",
    "telephony_backfillrun",
    "telephony_lookupspend",
    "telephony_orchestrationswitch",
    "crm_phonenumberchange",
    "crm_matchsuggestion",
    "crm_phonenumber",
    "crm_customer",
]


def build(numbers: int) -> int:
    """The mix described above; returns how many numbers are eligible for a lookup."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
        cursor.execute(
            """
            CREATE TEMP TABLE bench_rows AS
            SELECT g, 'other' AS type FROM generate_series(0, %(n)s - 1) g
              WHERE g %% 100 < 88
            UNION ALL SELECT g, 'home' FROM generate_series(0, %(n)s - 1) g
              WHERE g %% 100 BETWEEN 80 AND 84
            UNION ALL SELECT g, 'other' FROM generate_series(0, %(n)s - 1) g
              WHERE g %% 100 BETWEEN 85 AND 87
            UNION ALL SELECT g, 'mobile' FROM generate_series(0, %(n)s - 1) g
              WHERE g %% 100 BETWEEN 88 AND 89
            UNION ALL SELECT g, 'other' FROM generate_series(0, %(n)s - 1) g
              WHERE g %% 100 BETWEEN 88 AND 89
            UNION ALL SELECT g, (ARRAY['mobile', 'home', 'office'])[g %% 3 + 1]
              FROM generate_series(0, %(n)s - 1) g WHERE g %% 100 >= 90
            """,
            {"n": numbers},
        )
        cursor.execute("SELECT count(*) FROM bench_rows")
        rows = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO crm_customer (name, email, source, interaction_count, created_at,"
            " updated_at) SELECT 'Bench ' || i, '', 'call', 0, now(), now()"
            " FROM generate_series(1, %s) i",
            [rows],
        )
        cursor.execute(
            "INSERT INTO crm_phonenumber (customer_id, number, type, sms, type_source,"
            " created_at, updated_at)"
            " SELECT row_number() OVER (), '+1470' || lpad(g::text, 7, '0'), type, false,"
            " 'manual', now(), now() FROM bench_rows"
        )
        cursor.execute("DROP TABLE bench_rows")
        cursor.execute("ANALYZE crm_customer")
        cursor.execute("ANALYZE crm_phonenumber")
    return sum(1 for g in range(100) if g < 85) * (numbers // 100) + sum(
        1 for g in range(numbers % 100) if g < 85
    )


def stats(url: str) -> dict:
    return get_json(f"{url}/stats")


def ledger() -> tuple[int, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), coalesce(max(id), 0) FROM telephony_linetypelookup")
        return cursor.fetchone()


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_backfill(env: dict, *, concurrency: int, kill_at: int | None) -> tuple[float, int]:
    """Run the command; SIGKILL it once the ledger holds ``kill_at`` rows. Returns the peak
    RSS (MB) and the exit code."""
    command = [
        sys.executable,
        "manage.py",
        "identify_mobile_numbers",
        "--concurrency",
        str(concurrency),
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, rss_mb(process.pid))
        if kill_at is not None and ledger()[0] >= kill_at:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return peak, -9
        time.sleep(0.2)
    out = process.stdout.read() if process.stdout else ""
    print("   ", out.strip().splitlines()[-1] if out.strip() else "(no output)")
    return peak, process.returncode


def start_provider(latency: float, concurrency: int) -> tuple[subprocess.Popen, str]:
    return start_stand_in(
        "fake_lookup.py", "--latency", str(latency), "--concurrency", str(concurrency)
    )


def bare_client_rate(url: str, concurrency: int, seconds: float = 10.0) -> float:
    """What the stand-in gives a client with nothing else to do: ``concurrency`` aiohttp
    requests at a time, each sent the moment the last one is answered. The stand-in's own
    overhead (it shares the machine) puts this under its nominal rate."""

    async def measure() -> float:
        answered = 0
        async with aiohttp.ClientSession() as session:
            stop = time.monotonic() + seconds

            async def client(i: int) -> None:
                nonlocal answered
                n = 0
                while time.monotonic() < stop:
                    n += 1
                    target = f"{url}/v2/PhoneNumbers/+1999{i:03d}{n:04d}"
                    async with session.get(target) as response:
                        await response.read()
                        answered += response.status == 200

            started = time.monotonic()
            await asyncio.gather(*(client(i) for i in range(concurrency)))
            return answered / (time.monotonic() - started)

    return asyncio.run(measure())


def window_rates(after_id: int, seconds: int = 5) -> list[float]:
    """Lookups per second in each full ``seconds`` window of the rows after ``after_id``."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT floor(extract(epoch FROM looked_up_at) / %s) w, count(*)"
            " FROM telephony_linetypelookup WHERE id > %s GROUP BY w ORDER BY w",
            [seconds, after_id],
        )
        counts = [n for _, n in cursor.fetchall()]
    return [n / seconds for n in counts[1:-1]]  # the first and last windows are partial


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--numbers", type=int, default=1_000_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--provider-concurrency", type=int, default=50)
    parser.add_argument("--kill-at", type=float, default=0.3)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="lookups in flight (default: the provider's concurrency + 20)",
    )
    parser.add_argument(
        "--small",
        action="store_true",
        help="20,000 numbers instead of 1M (a minute instead of about 20)",
    )
    args = parser.parse_args()
    if args.small:
        args.numbers = 20_000
    setup_django()
    from django.db import connection

    allowed = args.provider_concurrency / args.latency
    concurrency = args.concurrency or args.provider_concurrency + 20

    started = time.monotonic()
    eligible = build(args.numbers)
    print(
        f"built {args.numbers:,} numbers ({eligible:,} eligible) in "
        f"{time.monotonic() - started:.0f} s"
    )

    server, url = start_provider(args.latency, args.provider_concurrency)
    try:
        bare = bare_client_rate(url, args.provider_concurrency)
    finally:
        server.terminate()
    print(
        f"a client doing nothing else ({args.provider_concurrency} requests at a time, no "
        f"database) gets {bare:,.0f} lookups/s from this stand-in"
    )
    server, url = start_provider(args.latency, args.provider_concurrency)
    env = {
        **os.environ,
        "LINE_TYPE_PROVIDER": "telephony.providers.twilio.TwilioLineTypeProvider",
        "TWILIO_LOOKUP_BASE_URL": url,
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "bench",
        # The shared limit sits above the provider's, so the provider's concurrency governs.
        "LINE_TYPE_LOOKUP_RATE": str(allowed * 5),
        # The provider's limit on requests at once; the lookups in flight (sent, not yet in
        # the ledger) are a few more, so answers being committed leave no request unsent.
        "LINE_TYPE_PROVIDER_CONCURRENCY": str(args.provider_concurrency),
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/7"),
    }
    try:
        print(f"run 1: killed at {args.kill_at:.0%} of the eligible numbers")
        peak1, _ = run_backfill(env, concurrency=concurrency, kill_at=int(eligible * args.kill_at))
        recorded_at_kill, last_id = ledger()
        answered_at_kill = stats(url)["answered"]
        in_flight_at_kill = answered_at_kill - recorded_at_kill
        rates1 = window_rates(0)
        print("run 2: resumed to the end")
        peak2, code = run_backfill(env, concurrency=concurrency, kill_at=None)
        rates2 = window_rates(last_id)
        final = stats(url)
    finally:
        server.terminate()
    rows, _ = ledger()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(DISTINCT number) FROM telephony_linetypelookup")
        distinct = cursor.fetchone()[0]
        cursor.execute("SELECT status FROM telephony_backfillrun")
        status = [r[0] for r in cursor.fetchall()]
    repeats = final["answered"] - eligible
    rate = statistics.median(rates1 + rates2) if rates1 + rates2 else 0.0
    print(
        f"provider allows {allowed:,.0f} lookups/s ({args.provider_concurrency} concurrent x "
        f"{args.latency * 1000:.0f} ms); 429s answered: {final['rejected']:,}; "
        f"most in flight at the provider: {final['most_in_flight']}"
    )
    print(
        f"lookups/s, median of 5 s windows: run 1 {statistics.median(rates1) if rates1 else 0:,.0f}"
        f", run 2 {statistics.median(rates2) if rates2 else 0:,.0f}"
    )
    print(
        f"eligible distinct numbers {eligible:,}; ledger rows {rows:,}; distinct numbers "
        f"looked up {distinct:,}; provider answered {final['answered']:,} "
        f"(exit {code}, runs {status})"
    )
    print(
        f"kill at {recorded_at_kill:,} recorded: {in_flight_at_kill} were in flight; the "
        f"rerun repeated {repeats} lookup(s) (limit: {concurrency} in flight)"
    )
    print(f"peak RSS of the backfill process: {max(peak1, peak2):.0f} MB")
    print(
        f"HEADLINE: {rate:,.0f} lookups/s = {rate / allowed:.0%} of the provider's "
        f"{allowed:,.0f}/s ({rate / bare:.0%} of a bare client's {bare:,.0f}/s); lookups "
        f"{rows:,} == eligible {eligible:,}: {rows == eligible}; "
        f"kill repeated {repeats}; peak RSS {max(peak1, peak2):.0f} MB"
    )


if __name__ == "__main__":
    main()
