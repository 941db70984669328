"""Next lead under 20 concurrent callers, and caller-ID choice among 1,000 owned numbers.

Builds a campaign of --leads leads (default 1,000,000; a fifth of them in a zone where it
is night now, 1% of their numbers on the do-not-call list) with set-based SQL, gives
every lead its zone key (timed; --refill clears the keys first so every run times it,
beside the lead-by-lead reading of a sample, the baseline). Then the callers ask as
real callers do: gunicorn started as in production (gunicorn.conf.py: one sync worker a
core plus one, --workers to change it) on loopback, each caller a process of its own
signed in with a session cookie, asking `GET /api/campaigns/{id}/next/` --rounds times
and logging a final outcome between asks (the lead leaves the queue, its lease goes).
The time of each ask is the client's wall time for the whole HTTP request. One caller
alone first (the baseline, same server), then --callers at once. Checks: no lead handed
to two callers, none out of window, none on the do-not-call list. The campaign is kept
for the next run (its handed leads go back to the queue), so only the first run pays for
building it. Then times caller-ID choice for leads across area codes with --owned owned
numbers, a day's calls spread over them (baseline: 10 owned numbers). Last, imports a
do-not-call file of --dnc lines (default 1,000,000; one number a line, every tenth in
the registry's area code,number form, every thousandth a bad line) in a child process,
whose wall time and peak RSS are printed beside the time to read and parse the file
alone (the baseline).

    DATABASE_URL=postgres://.../bench_x CELERY_BROKER_URL=redis://127.0.0.1:6379/N \
        .venv/bin/python bench/dialing.py [--leads N] [--callers N] [--refill]

Last line: the headline.
"""

import argparse
import cProfile
import http.client
import json
import multiprocessing
import os
import pstats
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import ROOT, describe, free_port, percentile, setup_django

CALLER_APP = "bench-dialing-caller"  # the callers' own connections (their outcomes)
AREA_CODES = ["212", "312", "404", "415", "512", "617", "678", "702", "713", "818"]


def build(leads: int) -> Any:
    from django.db import connection

    from campaigns.models import Campaign
    from tests.campaigns.dialing_helpers import daytime_zone, night_zone

    campaign = Campaign.objects.create(name=f"bench dialing {leads:,}")
    day, night = daytime_zone(), night_zone()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO campaigns_campaignphone (campaign_id, number, contact_count, status, "
            "status_scope, status_reason, created_at) SELECT %s, '+1' || (%s::text[])[1 + i %% 10]"
            " || lpad((i / 10)::text, 7, '0'), 1, 'active', '', '', now() "
            "FROM generate_series(0, %s - 1) i",
            [campaign.pk, AREA_CODES, leads],
        )
        cursor.execute(
            "INSERT INTO campaigns_contact (campaign_id, first_name, last_name, name, email, "
            "title, phone_id, phone_raw, mobile_raw, extra, status, dedup_key, merged_rows, "
            "created_at, time_zone) SELECT p.campaign_id, '', '', 'Lead ' || p.id, '', '', "
            "p.id, '', '', '{}', 'active', 'k' || p.id, 0, now(), "
            "CASE WHEN p.id %% 5 = 0 THEN %s ELSE %s END "
            "FROM campaigns_campaignphone p WHERE p.campaign_id = %s",
            [night, day, campaign.pk],
        )
        cursor.execute(
            "INSERT INTO campaigns_donotcallnumber (number, reason, created_at) "
            "SELECT number, 'bench', now() FROM campaigns_campaignphone "
            "WHERE campaign_id = %s AND id %% 100 = 7 ON CONFLICT DO NOTHING",
            [campaign.pk],
        )
    return campaign


def campaign_ready(leads: int) -> Any:
    """The campaign of an earlier run, its handed leads back in the queue and its zones
    still one asleep and one awake; else a new one."""
    from django.db import connection
    from django.utils import timezone

    from campaigns.calling_window import window_state
    from campaigns.models import Campaign, LeadLease
    from tests.campaigns.dialing_helpers import daytime_zone, night_zone

    campaign = Campaign.objects.filter(name=f"bench dialing {leads:,}").order_by("-pk").first()
    if campaign is None:
        started = time.perf_counter()
        campaign = build(leads)
        print(f"built {leads:,} leads in {time.perf_counter() - started:.1f} s")
        return campaign
    LeadLease.objects.filter(campaign=campaign).delete()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE campaigns_contact SET queue = 'fresh', queue_at = NULL "
            "WHERE campaign_id = %s AND queue <> 'fresh'",
            [campaign.pk],
        )
        cursor.execute(
            "SELECT c.time_zone, p.id %% 5 = 0 FROM campaigns_contact c JOIN "
            "campaigns_campaignphone p ON p.id = c.phone_id WHERE c.campaign_id = %s "
            "AND p.id IN (SELECT (SELECT min(id) FROM campaigns_campaignphone "
            "WHERE campaign_id = %s) + k FROM generate_series(0, 4) k)",
            [campaign.pk, campaign.pk],
        )
        zones = {asleep: zone for zone, asleep in cursor.fetchall()}
        now = timezone.now()

        def is_open(zone: str) -> bool:
            return window_state(
                zones=(zone,), start=campaign.call_window_start, end=campaign.call_window_end
            ).open

        if is_open(zones[True]) or not is_open(zones[False]):
            # Hours have passed since it was built: its zones are set asleep/awake again.
            night, day = night_zone(now), daytime_zone(now)
            cursor.execute(
                "UPDATE campaigns_contact c SET time_zone = CASE WHEN c.phone_id %% 5 = 0 "
                "THEN %s ELSE %s END, dial_zone = '' WHERE c.campaign_id = %s",
                [night, day, campaign.pk],
            )
    print(f"reused the campaign of {leads:,} leads (its handed leads back in the queue)")
    return campaign


def zones_fill(campaign: Any, refill: bool) -> str:
    """The zone keys of the campaign's leads worked out (timed when any was missing),
    beside the lead-by-lead reading of a sample of them (the baseline)."""
    from django.db import connection

    from campaigns import dialing_zones
    from campaigns.models import Contact

    line = ""
    with connection.cursor() as cursor:
        if refill:
            cursor.execute(
                "UPDATE campaigns_contact SET dial_zone = '' WHERE campaign_id = %s",
                [campaign.pk],
            )
            cursor.execute("VACUUM ANALYZE campaigns_contact")
    started = time.perf_counter()
    filled = dialing_zones.lead_zones_fill_all(campaign_id=campaign.pk)
    seconds = time.perf_counter() - started
    if filled:
        sample = list(
            dialing_zones._leads(campaign.pk).filter(queue="fresh").order_by("id")[:20_000]
        )
        # The floor: a bare UPDATE of the same rows' key (every index rewritten, as the
        # fill does), then their keys worked out in Python and written one UPDATE a key
        # (what the code before did per batch, without re-reading the index from its start).
        begun = time.perf_counter()
        Contact.objects.filter(pk__in=[c.pk for c in sample]).update(dial_zone="")
        bare = len(sample) / (time.perf_counter() - begun)
        begun = time.perf_counter()
        dialing_zones._store(campaign.pk, {c.pk: dialing_zones.zone_key_of(c) for c in sample})
        lead_by_lead = len(sample) / (time.perf_counter() - begun)
        line = (
            f"zone keys: {filled:,} leads in {seconds:.1f} s ({filled / seconds:,.0f} leads/s; "
            f"baselines on {len(sample):,} of them: a bare UPDATE of the key {bare:,.0f} "
            f"leads/s, keys worked out in Python, one UPDATE a key {lead_by_lead:,.0f} leads/s)"
        )
        print(line)
    with connection.cursor() as cursor:
        if filled:
            # What autovacuum does after a million updated rows: the old versions leave
            # the index (a loose scan would otherwise step over each of them).
            cursor.execute("VACUUM ANALYZE campaigns_contact")
        cursor.execute("ANALYZE campaigns_campaignphone")
        cursor.execute("ANALYZE campaigns_donotcallnumber")
    return line


def start_server(
    workers: int | None, log_path: Path, root: Path = ROOT
) -> tuple[subprocess.Popen, int]:
    """gunicorn with the production settings (gunicorn.conf.py) of the code in ``root``
    on a loopback port."""
    from django.conf import settings

    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "0",
        "WEB_BIND": "127.0.0.1",
        "PORT": str(port),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # As production writes them: one JSON line per request.
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        # Production counts API throttling in Redis (crm/settings.py, CACHE_URL).
        "CACHE_URL": os.environ.get("CACHE_URL") or os.environ["CELERY_BROKER_URL"],
        # The key the bench signed its sessions with (another checkout has its own).
        "SECRET_KEY": settings.SECRET_KEY,
    }
    if workers:
        env["WEB_CONCURRENCY"] = str(workers)
    command = [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py"]
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, cwd=root, env=env, stderr=log, stdout=log)
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.05)
    process.terminate()
    raise SystemExit(f"gunicorn did not start: see {log_path}")


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:  # a loaded machine: stop it for sure
        process.kill()
        process.wait()


def session_cookies(users: list) -> list[str]:
    """A signed-in session per caller, as the login page leaves in a browser."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils.module_loading import import_string

    # The backend that signs people in (the first ones only guard the login: axes).
    backend = next(
        path
        for path in settings.AUTHENTICATION_BACKENDS
        if hasattr(import_string(path), "get_user")
    )
    cookies = []
    for user in users:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = backend
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        cookies.append(f"{settings.SESSION_COOKIE_NAME}={session.session_key}")
    return cookies


def caller_process(
    port: int,
    path: str,
    cookie: str,
    rounds: int,
    database_url: str,
    barrier: Any,
    out: Any,
    floor: bool = False,
) -> None:
    """One caller (a process of its own, as a browser is): ask, log a final outcome, ask
    again. Sends back (ms, contact id or None) per ask. ``floor``: the path is a campaign
    nobody may work, and its 404 is the answer timed (contact id 0)."""
    import psycopg

    results = []
    with psycopg.connect(database_url, autocommit=True, application_name=CALLER_APP) as db:
        barrier.wait()
        for _ in range(rounds):
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("GET", path, headers={"Cookie": cookie, "Accept": "application/json"})
            response = conn.getresponse()
            body = response.read()
            conn.close()
            elapsed = (time.perf_counter() - started) * 1000
            if floor and response.status == 404:
                results.append((elapsed, 0, ""))
                continue
            if response.status == 204:
                results.append((elapsed, None, response.getheader("X-Reason")))
                continue
            if response.status != 200:
                results.append((elapsed, None, f"HTTP {response.status}: {body[:200]!r}"))
                continue
            contact = json.loads(body)["contact"]["id"]
            results.append((elapsed, contact, ""))
            # The caller logs a final outcome: the lead leaves the queue and is freed (one
            # statement, one commit: the bench's own work shares the server's two cores).
            db.execute(
                "WITH done AS (UPDATE campaigns_contact SET queue = 'done' "
                "WHERE id = %(id)s AND queue <> 'done') "
                "DELETE FROM campaigns_leadlease WHERE contact_id = %(id)s",
                {"id": contact},
            )
    out.put(results)


def callers_ask(
    campaign: Any, port: int, cookies: list[str], rounds: int, floor: bool = False
) -> tuple[list[float], list[int]]:
    from django.db import connections

    # The floor asks for a campaign that does not exist: the same sign-in, permissions,
    # throttle and campaign statement, answered 404 before any lead is looked for.
    path = f"/api/campaigns/{2**62 if floor else campaign.pk}/next/"
    connections.close_all()  # nothing of this process's connection goes into the fork
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(cookies))
    out = context.Queue()
    processes = [
        context.Process(
            target=caller_process,
            args=(port, path, cookie, rounds, os.environ["DATABASE_URL"], barrier, out, floor),
        )
        for cookie in cookies
    ]
    for process in processes:
        process.start()
    results = [row for _ in processes for row in out.get(timeout=600)]
    for process in processes:
        process.join()
    refused = [reason for _, contact, reason in results if contact is None]
    for reason in sorted(set(refused)):
        print(f"  no lead ({refused.count(reason)}x): {reason}")
    timings = [ms for ms, contact, _ in results if contact is not None]
    handed = [contact for _, contact, _ in results if contact]
    return timings, handed


def check(campaign: Any, handed: list[int]) -> tuple[int, int, int]:
    """Leads handed twice, out of their window, or with a number on the do-not-call list."""
    from django.utils import timezone

    from campaigns.calling_window import window_state
    from campaigns.models import Contact, DoNotCallNumber

    twice = len(handed) - len(set(handed))
    now = timezone.now()
    out_of_window = on_dnc = 0
    contacts = Contact.objects.filter(campaign=campaign, pk__in=handed).select_related("phone")
    numbers = [c.phone.number for c in contacts]
    dnc = set(DoNotCallNumber.objects.filter(number__in=numbers).values_list("number", flat=True))
    for contact in contacts:
        state = window_state(
            zones=(contact.time_zone,),
            start=campaign.call_window_start,
            end=campaign.call_window_end,
            now=now,
        )
        out_of_window += not state.open
        on_dnc += contact.phone.number in dnc
    return twice, out_of_window, on_dnc


def caller_id_bench(owned: int, samples: int) -> list[float]:
    from django.utils import timezone

    from telephony import caller_ids
    from telephony.models import Call, CallerIdUsage, OwnedNumber

    numbers = [
        OwnedNumber(number=f"+1{AREA_CODES[i % 10]}9{i:06d}", label="bench") for i in range(owned)
    ]
    OwnedNumber.objects.bulk_create(numbers)
    pool = list(OwnedNumber.objects.filter(label="bench"))
    now = timezone.now()
    Call.objects.bulk_create(
        Call(
            direction="outbound",
            from_number=str(random.choice(pool).number),
            to_number="+16785550000",
            external_id=f"bench-{i}-{now.timestamp()}",
            started_at=now,
        )
        for i in range(owned * 5)
    )
    # The day's calls were placed through the counters, as click-to-call does.
    caller_ids.usage_start(pool)
    timings = []
    try:
        for i in range(samples):
            lead = f"+1{random.choice([*AREA_CODES, '907', '808'])}555{i % 10000:04d}"
            started = time.perf_counter()
            caller_ids.caller_id_choose(lead_e164=lead, pool=pool)
            timings.append((time.perf_counter() - started) * 1000)
    finally:
        Call.objects.filter(external_id__startswith="bench-").delete()
        CallerIdUsage.objects.filter(owned_number__label="bench").delete()
        OwnedNumber.objects.filter(label="bench").delete()
    return timings


DNC_REASON = "bench-import"


def dnc_file(lines: int, path: Path) -> None:
    with path.open("w") as out:
        for i in range(lines):
            area = AREA_CODES[i % len(AREA_CODES)]
            exchange, line = 200 + (i // 10_000) % 800, i % 10_000
            if i % 1000 == 999:
                out.write("not a number\n")
            elif i % 10 == 0:
                out.write(f"{area},{exchange}{line:04d}\n")
            else:
                out.write(f"({area}) {exchange}-{line:04d}\n")


def dnc_import_child(path: str) -> None:
    """Runs in a child process, so its peak RSS is the import's alone."""
    import resource

    from campaigns import dnc

    started = time.perf_counter()
    with open(path, "rb") as handle:
        state = dnc.ReadState()
        parsed = sum(len(batch) for batch in dnc.read_numbers(handle, state))
    parse_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with open(path, "rb") as handle:
        total, state = dnc.numbers_import(binary=handle, reason=DNC_REASON, by_id=None)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"do-not-call import: {state.lines:,} lines in {seconds:.1f} s (reading and parsing "
        f"alone, baseline: {parse_seconds:.1f} s for {parsed:,}), peak RSS {peak_mb:.0f} MB; "
        f"added {total.added:,}, already listed {total.already:,}, bad lines {state.rejected:,}"
    )


def dnc_import_bench(lines: int) -> str:
    import subprocess
    import tempfile

    from campaigns.models import DoNotCallNumber

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dnc.txt"
        dnc_file(lines, path)
        done = subprocess.run(
            [sys.executable, __file__, "--dnc-import", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
    DoNotCallNumber.objects.filter(reason=DNC_REASON).delete()
    if done.returncode:
        return f"do-not-call import failed: {done.stderr[-500:]}"
    return done.stdout.strip()


def ask_in_process(campaign: Any, user: Any) -> Any:
    """What the next-lead view does past authentication, then the outcome as the bench's
    callers log it."""
    from campaigns import dialing, selectors
    from campaigns.models import Contact, Queue

    campaign = selectors.campaign_to_dial(user, campaign.pk)
    if not campaign.outcomes_seeded:
        dialing.campaign_outcomes_seed(campaign=campaign)
    lead = dialing.lead_next(campaign=campaign, caller=user)
    if isinstance(lead, dialing.Lead):
        dialing.lead_payload(lead)
        Contact.objects.filter(pk=lead.contact.pk).update(queue=Queue.DONE)
        dialing.lead_release(contact=lead.contact)
    return lead


def statements(campaign: Any, user: Any, show: bool = False) -> int:
    """The statements of one ask past authentication (the view's: the campaign with
    whether its outcomes exist, then the next lead), the lead then logged done (a lead
    turned away, e.g. listed, costs a few more). bench/dialing_request.py counts the
    whole request, sign-in included."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from campaigns import dialing, selectors
    from campaigns.models import Contact, Queue

    with CaptureQueriesContext(connection) as queries:
        campaign = selectors.campaign_to_dial(user, campaign.pk)
        if not campaign.outcomes_seeded:
            dialing.campaign_outcomes_seed(campaign=campaign)
        lead = dialing.lead_next(campaign=campaign, caller=user)
    if isinstance(lead, dialing.Lead):
        Contact.objects.filter(pk=lead.contact.pk).update(queue=Queue.DONE)
        dialing.lead_release(contact=lead.contact)
    if show:
        for query in queries.captured_queries:
            print(f"  {query['time']} s  {' '.join(query['sql'].split())[:200]}")
    return len(queries.captured_queries)


def profiled(campaign: Any, user: Any, rounds: int) -> None:
    """One caller's asks in this process under cProfile, and the statements of one ask:
    what a next lead costs past HTTP (docs/profiles/dialing.md)."""
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(rounds):
        ask_in_process(campaign, user)
    profile.disable()
    pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
    statements(campaign, user, show=True)


def callers(campaign: Any, count: int) -> list:
    """Callers assigned to the campaign (the Caller role)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from crm.roles import CALLER

    User = get_user_model()
    group = Group.objects.get(name=CALLER)
    users = []
    for i in range(count):
        user = User.objects.get_or_create(username=f"bench-caller-{campaign.pk}-{i}")[0]
        user.groups.add(group)
        users.append(user)
    campaign.callers.add(*users)
    return users


def serve_and_ask(
    campaign: Any, args: argparse.Namespace, cookies: list[str], log: Path, root: Path
) -> tuple[list[float], list[float], list[int], int]:
    """gunicorn from ``root``; one caller alone (the baseline), then all at once."""
    server, port = start_server(args.workers, log, root)
    try:
        time.sleep(2)  # the workers forked
        workers = len(
            subprocess.run(
                ["pgrep", "-P", str(server.pid)], capture_output=True, text=True, check=False
            ).stdout.split()
        )
        print(
            f"gunicorn ({root}/gunicorn.conf.py) on 127.0.0.1:{port}, {workers} sync workers; "
            f"each caller a process; {os.cpu_count()} cores; load average "
            f"{os.getloadavg()[0]:.1f}; log {log}"
        )
        callers_ask(campaign, port, cookies[:1], 5)  # warm-up: every worker's first request
        used = process_cpu([pid for pids in server_pids(server) for pid in pids])
        alone, handed_alone = callers_ask(campaign, port, cookies[:1], args.rounds * 2)
        workers_pids, backends = server_pids(server)
        cpu_alone = cpu_since(used, workers_pids + backends) / max(1, len(alone)) * 1000
        used = process_cpu(workers_pids + backends)
        timings, handed = callers_ask(campaign, port, cookies, args.rounds)
        # Backends a worker opened meanwhile count whole (they did nothing before).
        workers_pids, backends = server_pids(server)
        asks = max(1, len(timings))
        cpu_web = cpu_since(used, workers_pids) / asks * 1000
        cpu_db = cpu_since(used, backends) / asks * 1000
        print(
            f"server CPU per ask ({root.name}): {cpu_alone:.1f} ms with 1 caller; with "
            f"{len(cookies)}: {cpu_web + cpu_db:.1f} ms (gunicorn workers {cpu_web:.1f} ms, "
            f"their PostgreSQL backends {cpu_db:.1f} ms)"
        )
        used = process_cpu(workers_pids + backends)
        floor, _ = callers_ask(campaign, port, cookies, args.rounds, floor=True)
        workers_pids, backends = server_pids(server)
        cpu_floor = cpu_since(used, workers_pids + backends) / max(1, len(floor)) * 1000
        print(
            f"floor ({root.name}): the same {len(cookies)} callers asking for a campaign that "
            f"does not exist (sign-in, throttle, the campaign's 404): {describe(floor)}; "
            f"server CPU {cpu_floor:.1f} ms an ask"
        )
    finally:
        stop_server(server)
    return alone, timings, handed_alone + handed, workers


def server_pids(server: subprocess.Popen) -> tuple[list[int], list[int]]:
    """gunicorn's workers and the PostgreSQL backends they hold (not the callers' own
    connections, which log their outcomes)."""
    from django.db import connection

    workers = subprocess.run(
        ["pgrep", "-P", str(server.pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND application_name <> %s",
            [CALLER_APP],
        )
        backends = [row[0] for row in cursor.fetchall()]
    connection.close()  # not carried into the callers' fork
    return [int(pid) for pid in workers], backends


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
    after = process_cpu(pids)
    return sum(used - before.get(pid, 0.0) for pid, used in after.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--callers", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--workers", type=int, default=None, help="gunicorn workers (default: gunicorn.conf.py)"
    )
    parser.add_argument("--refill", action="store_true", help="clear the zone keys, time the fill")
    parser.add_argument(
        "--before", type=Path, help="a checkout whose server answers the same asks first"
    )
    parser.add_argument("--owned", type=int, default=1_000)
    parser.add_argument("--dnc", type=int, default=1_000_000, help="do-not-call file lines")
    parser.add_argument("--profile", action="store_true", help="profile one caller's asks")
    parser.add_argument("--dnc-import", help=argparse.SUPPRESS)
    args = parser.parse_args()
    setup_django()  # after the arguments: --help touches no database
    if args.dnc_import:
        dnc_import_child(args.dnc_import)
        return
    from campaigns.models import LeadLease

    campaign = campaign_ready(args.leads)
    fill_line = zones_fill(campaign, args.refill)
    users = callers(campaign, args.callers)
    log_dir = Path(tempfile.mkdtemp(prefix="bench-dialing-"))
    if args.profile:
        profiled(campaign, users[0], args.rounds)
    counts = [statements(campaign, users[0]) for _ in range(5)]
    print(f"statements per ask past sign-in (5 asks): {counts}")
    cookies = session_cookies(users)
    before = None
    if args.before:
        # The same asks served by the code in another checkout (same schema), first.
        before = serve_and_ask(campaign, args, cookies, log_dir / "before.log", args.before)
    alone, timings, handed, workers = serve_and_ask(
        campaign, args, cookies, log_dir / "gunicorn.log", ROOT
    )
    twice, out_of_window, on_dnc = check(campaign, handed + (before[2] if before else []))
    if before:
        print(f"BEFORE ({args.before}) next lead, 1 caller: {describe(before[0])}")
        print(f"BEFORE ({args.before}) next lead, {args.callers} callers: {describe(before[1])}")
    print(f"next lead, 1 caller (baseline, same run): {describe(alone)}")
    print(f"next lead, {args.callers} callers at once: {describe(timings)}")
    print(
        f"leads handed {len(handed):,}; to two callers {twice}; out of window "
        f"{out_of_window}; on do-not-call {on_dnc}"
    )
    try:
        few = caller_id_bench(10, 500)
        print(f"caller-ID choice, 10 owned numbers (baseline, same run): {describe(few)}")
        choice = caller_id_bench(args.owned, 500)
        print(f"caller-ID choice, {args.owned:,} owned numbers: {describe(choice)}")
        dnc_line = dnc_import_bench(args.dnc) if args.dnc else "do-not-call import: skipped"
        print(dnc_line)
        print(
            f"HEADLINE next lead over HTTP p95 {percentile(timings, 95):.1f} ms with "
            f"{args.callers} callers at once (1 caller: p95 {percentile(alone, 95):.1f} ms) "
            f"at {args.leads:,} leads, {workers} gunicorn workers; {twice} handed twice, "
            f"{out_of_window} out of window, {on_dnc} on DNC; caller ID p95 "
            f"{percentile(choice, 95):.2f} ms at {args.owned:,} numbers; {dnc_line}"
            + (f"; {fill_line}" if fill_line else "")
        )
    finally:
        # The campaign stays for the next run; its leases go.
        LeadLease.objects.filter(campaign=campaign).delete()


if __name__ == "__main__":
    main()
