"""Inbound voice webhooks under load: gunicorn on loopback, PostgreSQL, signed requests.

Every round sends signed Twilio voice webhooks from many numbers nobody has seen: each
number rings twice at once (two CallSids: the race for one profile) and a share of
requests are Twilio retries (same CallSid again). Then the database is checked for
duplicate profiles and calls. Baselines measured in the same run: the HTTP floor (the
same server refusing a badly signed request: no database work) and the database work
alone (the linking service called in-process, one call at a time).

    DATABASE_URL=postgres://... .venv/bin/python bench/webhooks.py [--rounds 3]

Last line: the headline (median of the rounds).
"""

import argparse
import http.client
import os
import random
import resource
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import ROOT, setup_django

TOKEN = "bench-" + secrets.token_hex(16)
os.environ["TWILIO_AUTH_TOKEN"] = TOKEN
os.environ["TWILIO_ACCOUNT_SID"] = ""
os.environ["TWILIO_WEBHOOK_BASE_URL"] = ""
setup_django()  # Django on PostgreSQL, migrated

from django.db import connection  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from crm.models import Customer, PhoneNumber  # noqa: E402
from telephony import services  # noqa: E402
from telephony.models import Call  # noqa: E402

AREA = "725"  # bench numbers live here: +1 725 ... (nothing else in the demo uses it)
OUR_LINE = "+18005550100"
WRK_SECONDS = 10
PATH = "/webhooks/twilio/voice/"


def bench_number(i: int) -> str:
    return f"+1{AREA}{200 + (i // 10_000) % 700}{i % 10_000:04d}"


def free_port() -> int:
    for port in range(8100, 8200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit("no free port in 8100-8199")


def start_server(port: int, workers: int, threads: int, worker_class: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DEBUG": "0",
        "LOG_LEVEL": "ERROR",  # refused signatures would log a warning each
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "crm.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            worker_class,
            "--threads",
            str(threads),
            "--keep-alive",
            "5",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.terminate()
    raise SystemExit("gunicorn did not start")


def signed(port: int, params: dict[str, str], valid: bool = True) -> tuple[bytes, dict[str, str]]:
    url = f"http://127.0.0.1:{port}{PATH}"
    signature = RequestValidator(TOKEN).compute_signature(url, params)
    if not valid:
        signature = "forged" + signature
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature,
        "Host": f"127.0.0.1:{port}",
    }
    return urlencode(params).encode(), headers


class Fired(NamedTuple):
    seconds: float
    count: int
    p50_ms: float
    p99_ms: float


def fire(
    port: int,
    requests: list[tuple[bytes, dict[str, str]]],
    concurrency: int,
    expect: int,
    client: str = "python",
) -> Fired:
    """Send every request once with ``concurrency`` keep-alive connections."""
    if client == "wrk":
        return fire_wrk(port, requests, concurrency, expect)
    elapsed, latencies = fire_python(port, requests, concurrency, expect)
    return Fired(elapsed, len(latencies), pct(latencies, 0.50), pct(latencies, 0.99))


def fire_wrk(
    port: int, requests: list[tuple[bytes, dict[str, str]]], concurrency: int, expect: int
) -> Fired:
    """wrk (C, its own process) replays the signed requests for WRK_SECONDS: the load
    generator then takes a fraction of the CPU the Python client needs, leaving the two
    cores to the server. Send more requests than fit in that time; the rest go unsent."""
    threads = min(2, concurrency)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        for body, headers in requests:
            handle.write(f"{headers['X-Twilio-Signature']} {body.decode()}\n")
    try:
        output = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{concurrency}",
                f"-d{WRK_SECONDS}s",
                "--timeout",
                "30s",
                "-s",
                str(ROOT / "bench" / "webhooks.lua"),
                f"http://127.0.0.1:{port}{PATH}",
                "--",
                handle.name,
                str(threads),
                str(expect),
                PATH,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=180,
        ).stdout
    finally:
        os.unlink(handle.name)
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    count, micros, unexpected, p50, p99 = line.split()[1:]
    if int(unexpected):
        print(f"  ! {unexpected} responses were not HTTP {expect}")
    return Fired(int(micros) / 1e6, int(count), float(p50), float(p99))


def fire_python(
    port: int, requests: list[tuple[bytes, dict[str, str]]], concurrency: int, expect: int
) -> tuple[float, list[float]]:
    """Send all requests with ``concurrency`` keep-alive clients; return (seconds, latencies)."""
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    queue = list(reversed(requests))

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        while True:
            with lock:
                if not queue:
                    break
                body, headers = queue.pop()
            started = time.perf_counter()
            try:
                conn.request("POST", PATH, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                failures.append(repr(exc))
                continue
            mine.append(time.perf_counter() - started)
            if status != expect:
                failures.append(f"HTTP {status}")
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if failures:
        print(f"  ! {len(failures)} failures, e.g. {failures[:3]}")
    return elapsed, latencies


def process_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) the processes have used so far (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def server_pids(server: subprocess.Popen) -> list[int]:
    """gunicorn's workers and the PostgreSQL backends serving this database."""
    workers = subprocess.run(
        ["pgrep", "-P", str(server.pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        backends = [row[0] for row in cursor.fetchall()]
    return [int(pid) for pid in workers] + backends


def client_cpu() -> float:
    """CPU seconds of this process (Python client) and its finished children (wrk)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def clean() -> None:
    holders = PhoneNumber.objects.filter(number__startswith=f"+1{AREA}").values("customer_id")
    Customer.objects.filter(id__in=holders).delete()


def check_duplicates(numbers: list[str], sids: set[str]) -> tuple[int, int]:
    """(profiles beyond one per number, interactions counted but not stored or vice versa).

    Holds whether every request was sent (Python client) or only those that fit in wrk's
    window: each number that called has one profile, whose counter equals its calls.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT number, COUNT(*) AS n "
            "FROM crm_phonenumber WHERE number = ANY(%s) GROUP BY number) t",
            [numbers],
        )
        extra_profiles = int(cursor.fetchone()[0])
    stored = Call.objects.filter(external_id__in=sids).count()
    counted = sum(
        Customer.objects.filter(phone_numbers__number__in=numbers).values_list(
            "interaction_count", flat=True
        )
    )
    return extra_profiles, abs(counted - stored)


def database_alone(start: int, count: int) -> float:
    """ms per linked call, in-process, one at a time: the database work with no HTTP."""
    began = time.perf_counter()
    for i in range(start, start + count):
        services.call_record(
            external_id="CA" + uuid.uuid4().hex,
            direction="inbound",
            from_number=bench_number(i),
            to_number=OUR_LINE,
            channel="twilio",
            facts=services.CallFacts(status="ringing"),
        )
    return (time.perf_counter() - began) / count * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--numbers",
        type=int,
        default=None,
        help="new numbers per round (default: 1000, or 4000 for wrk's 10 s window)",
    )
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    parser.add_argument(
        "--client",
        default="wrk" if shutil.which("wrk") else "python",
        choices=["wrk", "python"],
        help="load generator: wrk (C, own process; apt-get install wrk) or Python threads",
    )
    args = parser.parse_args()
    if args.numbers is None:
        args.numbers = 4000 if args.client == "wrk" else 1000

    clean()
    port = free_port()
    server = start_server(port, args.workers, args.threads, args.worker_class)
    print(
        f"gunicorn on 127.0.0.1:{port}: {args.workers} {args.worker_class} workers"
        f"{f' x {args.threads} threads' if args.worker_class == 'gthread' else ''}; "
        f"{args.concurrency} concurrent connections from {args.client}; {os.cpu_count()} cores"
    )
    rng = random.Random(42)
    next_number = 0
    results = []
    try:
        # Warm-up: connections, imports, caches in every worker.
        warm = [
            signed(port, voice(bench_number(next_number + i), "CA" + uuid.uuid4().hex))
            for i in range(200)
        ]
        fire(port, warm, args.concurrency, 200, args.client)
        next_number += 200
        for round_no in range(1, args.rounds + 1):
            numbers = [bench_number(next_number + i) for i in range(args.numbers)]
            next_number += args.numbers
            requests, sids = [], set()
            for number in numbers:
                for _ in range(2):  # two simultaneous first calls per new number
                    sid = "CA" + uuid.uuid4().hex
                    sids.add(sid)
                    request = signed(port, voice(number, sid))
                    requests.append(request)
                    if rng.random() < 0.1:  # Twilio retries this one
                        requests.append(request)
            # Keep each number's requests close together so they really overlap.
            requests = shuffle_locally(requests, rng, window=args.concurrency * 2)
            pids = server_pids(server)
            cpu_before, client_before = process_cpu(pids), client_cpu()
            fired = fire(port, requests, args.concurrency, 200, args.client)
            # CPU per webhook (server + database + this client): what the two cores must
            # supply per request whatever else the machine is doing.
            cpu_ms = (
                (process_cpu(pids) - cpu_before + client_cpu() - client_before) / fired.count * 1000
            )
            extra_profiles, bad_calls = check_duplicates(numbers, sids)

            floor_requests = [
                signed(port, voice(bench_number(10**6 + i), "CA" + uuid.uuid4().hex), False)
                for i in range(len(requests))
            ]
            floor = fire(port, floor_requests, args.concurrency, 403, args.client)
            db_ms = database_alone(next_number, 200)
            next_number += 200
            result = {
                "rps": fired.count / fired.seconds,
                "p50": fired.p50_ms,
                "p99": fired.p99_ms,
                "dups": extra_profiles + bad_calls,
                "floor": floor.count / floor.seconds,
                "db_ms": db_ms,
                "cpu_ms": cpu_ms,
            }
            results.append(result)
            print(
                f"round {round_no}: {fired.count} webhooks answered (of {len(requests)} prepared: "
                f"{len(sids)} calls from {len(numbers)} new numbers, "
                f"{len(requests) - len(sids)} retries) "
                f"{result['rps']:.0f} req/s, p50 {result['p50']:.1f} ms, "
                f"p99 {result['p99']:.1f} ms, "
                f"duplicates {result['dups']} (profiles {extra_profiles}, calls {bad_calls}); "
                f"CPU {cpu_ms:.2f} ms per webhook (gunicorn + PostgreSQL + client); "
                f"baselines: HTTP floor {result['floor']:.0f} req/s, "
                f"database alone {db_ms:.2f} ms/call"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
        clean()

    rps = statistics.median(r["rps"] for r in results)
    cpu_ms = statistics.median(r["cpu_ms"] for r in results)
    load = os.getloadavg()[0]
    print(
        f"CPU per webhook {cpu_ms:.2f} ms: {os.cpu_count()} idle cores could serve at most "
        f"{os.cpu_count() * 1000 / cpu_ms:.0f} req/s; load average now {load:.1f} "
        "(other processes share these cores)"
    )
    floor = statistics.median(r["floor"] for r in results)
    print(
        f"baselines (median): HTTP floor {floor:.0f} req/s (signature refused, no database); "
        f"database work alone {statistics.median(r['db_ms'] for r in results):.2f} ms/call"
    )
    print(
        f"webhooks: {rps:.0f} requests/s (median of {len(results)} rounds, "
        f"{rps / floor:.0%} of the HTTP floor), "
        f"p50 {statistics.median(r['p50'] for r in results):.1f} ms, "
        f"p99 {statistics.median(r['p99'] for r in results):.1f} ms, "
        f"duplicates found {sum(r['dups'] for r in results)} "
        f"(target >= 300 req/s, p99 < 100 ms, 0 duplicates)"
    )


def voice(number: str, sid: str) -> dict[str, str]:
    return {
        "CallSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": number,
        "To": OUR_LINE,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }


def shuffle_locally(items: list, rng: random.Random, window: int) -> list:
    """Shuffle within windows: a number's two calls and its retry stay near each other."""
    out = []
    for start in range(0, len(items), window):
        chunk = items[start : start + window]
        rng.shuffle(chunk)
        out.extend(chunk)
    return out


if __name__ == "__main__":
    main()
