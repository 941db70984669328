"""Inbound voice webhooks under load: gunicorn on loopback, PostgreSQL, signed requests.

Every round sends signed Twilio voice webhooks from many numbers nobody has seen: each
number rings twice at once (two CallSids: the race for one profile) and a share of
requests are Twilio retries (same CallSid again). Then the database is checked for
duplicate profiles and calls. Identification is on (the default): each new caller's
lookup is queued. Baselines measured in the same round, with the same gunicorn options
and the same client: bare Django (one view answering 403, no middleware:
bench/_bare_django.py) and the HTTP floor (the app refusing a badly signed request: every
middleware a webhook passes, the signature check, no database work).

    DATABASE_URL=postgres://.../bench_NAME .venv/bin/python bench/webhooks.py [--rounds 3]

Last line: the headline (medians of the rounds), the app's share of the floor last.
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
from typing import Any, NamedTuple
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import ROOT, setup_django

TOKEN = "bench-" + secrets.token_hex(16)
AREA = "725"  # bench numbers live here: +1 725 ... (nothing else in the demo uses it)
OUR_LINE = "+18005550100"
WRK_SECONDS = 10
PATH = "/webhooks/twilio/voice/"


def bench_number(i: int) -> str:
    return f"+1{AREA}{200 + (i // 10_000) % 700}{i % 10_000:04d}"


def free_port(after: int = 8099) -> int:
    for port in range(after + 1, 8200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit("no free port in 8100-8199")


def start_server(
    port: int, args: argparse.Namespace, app: str, log_path: Path, bare: bool = False
) -> subprocess.Popen:
    env = {
        **os.environ,
        "DEBUG": "0",
        # As production writes them: one JSON object per line, the access line at INFO
        # (a WARNING for a refused signature, its only line).
        "LOG_FORMAT": "json",
        "LOG_LEVEL": args.log_level,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    command = [str(Path(sys.executable).parent / "gunicorn"), app]
    if bare:
        command += ["--pythonpath", str(ROOT / "bench")]
    command += [
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--threads",
        str(args.threads),
        "--keep-alive",
        "5",
        "--log-level",
        "warning",
    ]
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=log, stdout=log)
    for _ in range(400):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.terminate()
    raise SystemExit(f"gunicorn ({app}) did not start: see {log_path}")


def signed(port: int, params: dict[str, str], valid: bool = True) -> tuple[bytes, dict[str, str]]:
    from twilio.request_validator import RequestValidator

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


def process_cpu(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) each live process has used so far (Linux /proc)."""
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return used


def cpu_since(before: dict[int, float], pids: list[int]) -> float:
    """CPU seconds used since ``before`` by the processes alive then and now (a backend
    that exited meanwhile is left out rather than counted negative)."""
    after = process_cpu(pids)
    return sum(after[pid] - before[pid] for pid in after if pid in before)


def server_pids(server: subprocess.Popen) -> list[int]:
    """gunicorn's workers and the PostgreSQL backends serving this database."""
    from django.db import connection

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
    from crm.models import Customer, PhoneNumber

    holders = PhoneNumber.objects.filter(number__startswith=f"+1{AREA}").values("customer_id")
    Customer.objects.filter(id__in=holders).delete()


def identification_on() -> None:
    """Mobile identification on, as it is by default: every new caller's lookup is queued."""
    from telephony.models import OrchestrationSettings

    config = OrchestrationSettings.load()
    if not config.mobile_identification:
        config.mobile_identification = True
        config.save()


def check_duplicates(numbers: list[str], sids: set[str]) -> tuple[int, int]:
    """(profiles beyond one per number, interactions counted but not stored or vice versa).

    Holds whether every request was sent (Python client) or only those that fit in wrk's
    window: each number that called has one profile, whose counter equals its calls.
    Read in one statement, so one snapshot: requests still in the server when the client
    stops commit while this reads, and three separate reads could see a call's counter
    without its row.
    """
    from django.db import connection
    from psycopg import sql

    from crm.models import Customer, PhoneNumber
    from telephony.models import Call

    query = sql.SQL(
        """
        SELECT
          (SELECT COALESCE(SUM(n - 1), 0) FROM (
             SELECT number, COUNT(*) AS n FROM {numbers} WHERE number = ANY(%s) GROUP BY number
           ) t),
          (SELECT COUNT(*) FROM {calls} WHERE external_id = ANY(%s)),
          (SELECT COALESCE(SUM(interaction_count), 0) FROM {customers}
           WHERE id IN (SELECT customer_id FROM {numbers} WHERE number = ANY(%s)))
        """
    ).format(
        numbers=sql.Identifier(PhoneNumber._meta.db_table),
        calls=sql.Identifier(Call._meta.db_table),
        customers=sql.Identifier(Customer._meta.db_table),
    )
    with connection.cursor() as cursor:
        cursor.execute(query, [numbers, list(sids), numbers])
        extra_profiles, stored, counted = cursor.fetchone()
    return int(extra_profiles), abs(int(counted) - int(stored))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--numbers",
        type=int,
        default=None,
        help="new numbers per round (default: 1000, or 4000 for wrk's 10 s window)",
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    parser.add_argument(
        "--log-level",
        default="INFO",
        help="the servers' LOG_LEVEL (INFO writes an access line per request, as production)",
    )
    parser.add_argument(
        "--client",
        default="wrk" if shutil.which("wrk") else "python",
        choices=["wrk", "python"],
        help="load generator: wrk (C, own process; apt-get install wrk) or Python threads",
    )
    args = parser.parse_args()
    if args.numbers is None:
        args.numbers = 4000 if args.client == "wrk" else 1000
    return args


def main() -> None:
    args = parse_args()
    # The servers inherit these: signatures are checked against this run's own token.
    os.environ["TWILIO_AUTH_TOKEN"] = TOKEN
    os.environ["TWILIO_ACCOUNT_SID"] = ""
    os.environ["TWILIO_WEBHOOK_BASE_URL"] = ""
    setup_django()
    clean()
    identification_on()
    log_dir = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    port = free_port()
    bare_port = free_port(port)
    server = start_server(port, args, "crm.wsgi:application", log_dir / "app.log")
    bare = start_server(
        bare_port, args, "_bare_django:application", log_dir / "bare.log", bare=True
    )
    print(
        f"gunicorn on 127.0.0.1:{port} (the app) and :{bare_port} (bare Django), each "
        f"{args.workers} {args.worker_class} workers"
        f"{f' x {args.threads} threads' if args.worker_class == 'gthread' else ''}; "
        f"{args.concurrency} concurrent connections from {args.client}; "
        f"LOG_LEVEL={args.log_level} (JSON); identification on; {os.cpu_count()} cores; "
        f"load average {os.getloadavg()[0]:.1f}"
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
        fire(bare_port, warm, args.concurrency, 403, args.client)
        next_number += 200
        for round_no in range(1, args.rounds + 1):
            result, next_number = one_round(args, port, bare_port, server, rng, next_number)
            results.append(result)
            print(
                f"round {round_no}: bare Django {result['bare']:.0f} req/s; "
                f"floor {result['floor']:.0f} req/s ({result['floor'] / result['bare']:.0%} "
                f"of bare); app {result['rps']:.0f} req/s, p50 {result['p50']:.1f} ms, "
                f"p99 {result['p99']:.1f} ms, {result['answered']} webhooks answered "
                f"({result['calls']} calls from {result['numbers']} new numbers prepared, "
                f"{result['retries']} retries), duplicates {result['dups']}; "
                f"CPU {result['cpu_ms']:.2f} ms per webhook (gunicorn + PostgreSQL + client); "
                f"app {result['rps'] / result['floor']:.0%} of the floor"
            )
    finally:
        for process in (server, bare):
            process.terminate()
        for process in (server, bare):
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:  # a loaded machine: stop it for sure
                process.kill()
                process.wait()
        clean()
        shutil.rmtree(log_dir, ignore_errors=True)

    def median(key: str) -> float:
        return statistics.median(r[key] for r in results)

    rps, floor, bare_rps = median("rps"), median("floor"), median("bare")
    print(
        f"medians of {len(results)} rounds: bare Django {bare_rps:.0f} req/s; "
        f"HTTP floor {floor:.0f} req/s; app {rps:.0f} req/s; "
        f"CPU per webhook {median('cpu_ms'):.2f} ms; "
        f"load average now {os.getloadavg()[0]:.1f} (other processes share these cores)"
    )
    print(
        f"webhooks: {rps:.0f} requests/s, p50 {median('p50'):.1f} ms, "
        f"p99 {median('p99'):.1f} ms, duplicates {sum(r['dups'] for r in results)}; "
        f"floor {floor:.0f} req/s = {floor / bare_rps:.0%} of bare Django's {bare_rps:.0f} "
        f"(target >= 80%); app = {rps / floor:.0%} of the floor (target >= 60%)"
    )


def one_round(
    args: argparse.Namespace,
    port: int,
    bare_port: int,
    server: subprocess.Popen,
    rng: random.Random,
    next_number: int,
) -> tuple[dict[str, Any], int]:
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
    refused = [
        signed(port, voice(bench_number(10**6 + i), "CA" + uuid.uuid4().hex), False)
        for i in range(len(requests))
    ]
    bare = fire(bare_port, refused, args.concurrency, 403, args.client)
    floor = fire(port, refused, args.concurrency, 403, args.client)

    pids = server_pids(server)
    cpu_before, client_before = process_cpu(pids), client_cpu()
    fired = fire(port, requests, args.concurrency, 200, args.client)
    # CPU per webhook (server + database + this client): what the two cores must supply
    # per request whatever else the machine is doing.
    cpu_ms = (cpu_since(cpu_before, pids) + client_cpu() - client_before) / fired.count * 1000
    extra_profiles, bad_calls = check_duplicates(numbers, sids)
    return {
        "bare": bare.count / bare.seconds,
        "floor": floor.count / floor.seconds,
        "rps": fired.count / fired.seconds,
        "p50": fired.p50_ms,
        "p99": fired.p99_ms,
        "answered": fired.count,
        "calls": len(sids),
        "numbers": len(numbers),
        "retries": len(requests) - len(sids),
        "dups": extra_profiles + bad_calls,
        "cpu_ms": cpu_ms,
    }, next_number


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
