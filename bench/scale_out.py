"""Scale-out on one machine: two web processes and two Celery workers share the limits.

Builds a few thousand Other numbers eligible for identification (bench/backfill.py's mix)
and a few hundred monitored numbers (bench/reputation.py's), starts a loopback Twilio
Lookup stand-in (bench/fake_lookup.py: 50 ms, at most 50 in flight, so it allows 1,000
lookups/s) and a loopback reputation feed, then two gunicorn masters on two ports and
two ``celery worker`` processes (each consuming ``default`` and ``long``, plus a queue of
its own so each can be handed a task), all with production settings on one PostgreSQL
and one Redis. The shared lookup rate (``LINE_TYPE_LOOKUP_RATE``) is set below the
provider's, so it is what governs.

Then, as an operator and the outside world would: an Administrator switches
identification on through the admin on web 1 (the backfill is queued when it commits);
new callers ring both web processes (each new number's lookup is a task on
``default``); every worker is handed the same backfill run again and a daily reputation
check (two beat fires, one per worker). When all is done it prints what each limit
allowed against what happened, and which worker did what. Exits 1 when a limit broke.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/switchboard_bench \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/7 .venv/bin/python bench/scale_out.py \\
        [--numbers 4000] [--monitored 500] [--callers 200] [--rate 200]
"""

import argparse
import ast
import importlib.util
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlencode

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SECRET = secrets.token_urlsafe(50)
TWILIO_TOKEN = "bench-" + secrets.token_hex(16)
# The processes started here and this one share these (set before Django starts).
SHARED_ENV = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": SECRET,
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECURE_SSL_REDIRECT": "0",
    "SECURE_COOKIES": "0",
    "LOG_LEVEL": "INFO",
    # The real Twilio adapter, stamping when each request leaves (bench/_stamped_provider.py).
    "LINE_TYPE_PROVIDER": "bench._stamped_provider.StampedTwilioLineTypeProvider",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
    "TWILIO_WEBHOOK_BASE_URL": "",
    "REPUTATION_PROVIDER": "reputation.providers.http_feed.HttpFeedReputationProvider",
}
sys.path.insert(0, str(BENCH))
import backfill as backfill_bench  # noqa: E402  (bench/backfill.py: its data and helpers)
from _setup import free_port, get_json, setup_django, start_stand_in  # noqa: E402


def reputation_bench():
    """bench/reputation.py (its monitored numbers), loaded by path: it shares its name with
    the reputation app."""
    spec = importlib.util.spec_from_file_location("bench_reputation", BENCH / "reputation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


WORKERS = ("w1", "w2")
# New callers' numbers sort before the backfill's (+1470...) and ring once its cursor is
# past them, so the backfill never takes them: each is looked up by its own task only.
# --callers-ahead puts them after it instead: the backfill takes numbers whose caller's
# lookup is in flight, and the claim per number must keep either from paying twice
# (docs/identification.md, "One payer per number").
CALLERS_BEHIND = "+1205555"
CALLERS_AHEAD = "+1980555"
OUR_LINE = "+18005550100"
BURST = 10  # telephony.ratelimit.SharedRateLimit's default burst
# The limit spaces the slots it hands out; a request is stamped when it leaves, after its
# thread or coroutine wakes from the wait and gets the interpreter back (the ledger writer,
# the chunk bookkeeping), which on a loaded 2-core machine can be some milliseconds late
# and land among the next slots. Alone (no HTTP, no database), two processes of 20
# threads waiting on the limit at 200/s stamp at most 209-210 in 1 s and 1,009-1,010 in
# 5 s. The 5 s window allows this lateness.
SEND_JITTER_SECONDS = 0.02


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1).close()  # noqa: S310
    except OSError:
        return False
    return True


def start(name: str, command: list[str], env: dict, logs: Path) -> subprocess.Popen:
    log = (logs / f"{name}.log").open("w")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def admin_switch_on(base: str, password: str) -> int:
    """Log in to web 1's admin and switch Mobile identification on, like an Administrator."""
    import requests

    session = requests.Session()
    login = f"{base}/admin/login/"
    session.get(login, timeout=10)
    response = session.post(
        login,
        {
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "username": "scale-admin",
            "password": password,
            "next": "/admin/",
        },
        timeout=10,
    )
    assert response.url.endswith("/admin/"), f"login failed: {response.status_code}"
    page = f"{base}/admin/telephony/orchestrationsettings/1/change/"
    session.get(page, timeout=10).raise_for_status()
    response = session.post(
        page,
        {
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "mobile_identification": "on",
            "lookup_monthly_cap": "",
            "lookup_cache_days": "180",
            "_save": "Save",
        },
        timeout=30,
    )
    return response.status_code


def ring(port: int, number: str) -> int:
    """A new caller's signed voice webhook, as Twilio sends it."""
    from twilio.request_validator import RequestValidator

    url = f"http://127.0.0.1:{port}/webhooks/twilio/voice/"
    params = {
        "CallSid": "CA" + uuid.uuid4().hex,
        "AccountSid": SHARED_ENV["TWILIO_ACCOUNT_SID"],
        "From": number,
        "To": OUR_LINE,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }
    request = urllib.request.Request(
        url,
        data=urlencode(params).encode(),
        headers={
            "X-Twilio-Signature": RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.status


TASK_LINE = re.compile(r"Task (?P<task>[\w.]+)\[[\w-]+\] succeeded in (?P<s>[\d.e-]+)s: (?P<r>.*)")


def worker_tasks(log: Path) -> dict[str, list[tuple[float, str]]]:
    """Each task the worker finished: (seconds, result), by task name, from its log."""
    done: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for line in log.read_text(errors="replace").splitlines():
        try:
            message = json.loads(line).get("message", "")
        except ValueError:
            message = line
        if m := TASK_LINE.search(str(message)):
            done[m["task"].rsplit(".", 1)[-1]].append((float(m["s"]), m["r"].strip("'\"")))
    return done


# A web process gathers its new callers and publishes one task for them
# (``caller_numbers_identify``, its result one line type a number); a failed lookup is
# queued again on its own (``caller_number_identify``, which retries).
NEW_CALLER_TASKS = ("caller_numbers_identify", "caller_number_identify")


def new_callers_looked_up(done: dict[str, list[tuple[float, str]]]) -> int:
    """The new callers' numbers a worker looked up, from its finished tasks."""
    looked_up = len(done.get("caller_number_identify", []))
    for _, result in done.get("caller_numbers_identify", []):
        try:
            answers = ast.literal_eval(result)
        except (ValueError, SyntaxError):
            answers = [result]
        looked_up += len(answers) if isinstance(answers, list) else 1
    return looked_up


def sql(query: str, params: list | None = None) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchall() if cursor.description else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--numbers", type=int, default=4000)
    parser.add_argument("--monitored", type=int, default=500)
    parser.add_argument("--callers", type=int, default=200)
    parser.add_argument("--rate", type=float, default=200.0, help="the shared lookups/s")
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--provider-concurrency", type=int, default=50)
    parser.add_argument(
        "--callers-ahead",
        action="store_true",
        help="new callers' numbers ahead of the backfill's cursor (the backfill takes them too)",
    )
    parser.add_argument(
        "--small", action="store_true", help="1,000 numbers, 200 monitored, 50 new callers"
    )
    args = parser.parse_args()
    if args.small:
        args.numbers, args.monitored, args.callers = 1000, 200, 50
    # The processes started here and this one share these (set before Django starts).
    os.environ.update(SHARED_ENV)
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/7")
    setup_django()
    from django.contrib.auth.models import Group, User
    from django.utils import timezone

    from crm.celery import app
    from reputation.models import DailyCheckRun, MonitoredNumber, SourceCheck
    from telephony.models import BackfillRun, LineTypeLookup, OrchestrationSettings

    caller_area = CALLERS_AHEAD if args.callers_ahead else CALLERS_BEHIND
    allowed = args.provider_concurrency / args.latency

    eligible = backfill_bench.build(args.numbers)
    reputation_bench().build(args.monitored)
    sql("TRUNCATE telephony_call, telephony_message CASCADE")
    OrchestrationSettings.objects.update_or_create(pk=1, defaults={"mobile_identification": False})
    password = secrets.token_urlsafe(16)
    admin, _ = User.objects.update_or_create(
        username="scale-admin", defaults={"is_staff": True, "is_active": True}
    )
    admin.set_password(password)
    admin.save()
    admin.groups.add(Group.objects.get(name="Administrator"))
    sql("DELETE FROM axes_accessattempt")
    app.control.purge()
    print(
        f"built {args.numbers:,} numbers ({eligible:,} eligible for identification), "
        f"{args.monitored:,} monitored numbers; {args.callers} new callers will ring"
    )

    lookup_port = free_port()
    feed, feed_url = start_stand_in("fake_feed.py")
    lookup_url = f"http://127.0.0.1:{lookup_port}"
    logs = Path(tempfile.mkdtemp(prefix="scale_out_"))
    env = {
        **os.environ,
        "TWILIO_LOOKUP_BASE_URL": lookup_url,
        "REPUTATION_FEED_URL": f"{feed_url}/check",
        "LINE_TYPE_LOOKUP_RATE": str(args.rate),
        "WEB_BIND": "127.0.0.1",
        "WEB_CONCURRENCY": "1",
        "WEB_THREADS": "4",
    }
    subprocess.run(  # the release step, as Procfile.prod's
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    ports = [free_port(), free_port()]
    while ports[1] == ports[0]:
        ports[1] = free_port()
    celery = str(Path(sys.executable).parent / "celery")
    processes = [
        start(
            "lookup",
            [
                sys.executable,
                str(BENCH / "fake_lookup.py"),
                str(lookup_port),
                *("--latency", str(args.latency)),
                *("--concurrency", str(args.provider_concurrency)),
            ],
            env,
            logs,
        )
    ]
    for i, port in enumerate(ports, 1):
        processes.append(
            start(
                f"web{i}",
                [str(Path(sys.executable).parent / "gunicorn"), "--config", "gunicorn.conf.py"],
                {**env, "PORT": str(port)},
                logs,
            )
        )
    for name in WORKERS:
        command = [celery, "-A", "crm", "worker", "--queues", f"default,long,{name}"]
        command += ["--concurrency", "2", "--hostname", f"{name}@%h", "--loglevel", "INFO"]
        processes.append(start(name, command, env, logs))
    try:
        wait_until(lambda: answers(f"{lookup_url}/stats"), 20, "the fake lookup")
        for port in ports:
            wait_until(lambda p=port: answers(f"http://127.0.0.1:{p}/healthz"), 60, "gunicorn")
        wait_until(lambda: len(app.control.ping(timeout=1.0)) == 2, 90, "two workers")
        web = []
        for port in ports:
            ready = urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5)
            login = urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=5)
            web.append((port, ready.status, login.status))

        started = time.monotonic()
        switched = admin_switch_on(f"http://127.0.0.1:{ports[0]}", password)
        run = wait_until(lambda: BackfillRun.objects.first(), 10, "the backfill run")
        # Every worker is handed the same run again (a stalled-run restart, a redelivery).
        for name in WORKERS:
            app.send_task("telephony.tasks.backfill_run", args=[run.pk], queue=name)
        # New callers ring both web processes once the switch has reached them (the
        # settings cache, crm/singletons.py); each number's lookup is a task on default.
        wait_until(lambda: LineTypeLookup.objects.exists(), 30, "the backfill's first lookups")
        time.sleep(6)
        callers = [f"{caller_area}{i:04d}" for i in range(args.callers)]
        rang = Counter(ring(ports[i % 2], number) for i, number in enumerate(callers))
        # The day's check, fired twice (two beats, or one beat and an operator), once per worker.
        for name in WORKERS:
            app.send_task("reputation.tasks.daily_check_run", queue=name)

        def finished() -> bool:
            run.refresh_from_db()
            done_callers = LineTypeLookup.objects.filter(number__startswith=caller_area).count()
            checks = DailyCheckRun.objects.filter(day=timezone.localdate(), forced=False)
            return (
                run.status != BackfillRun.Status.RUNNING
                and done_callers >= args.callers
                and checks.filter(state=DailyCheckRun.State.DONE).exists()
            )

        wait_until(finished, 600, "the backfill, the callers' lookups and the daily check")
        elapsed = time.monotonic() - started
        time.sleep(3)  # the duplicate tasks' log lines
        provider = backfill_bench.stats(lookup_url)
        feed_stats = get_json(f"{feed_url}/stats")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        feed.terminate()

    ledger_rows, ledger_numbers = sql(
        "SELECT count(*), count(DISTINCT number) FROM telephony_linetypelookup"
    )[0]
    by_purpose = dict(
        sql("SELECT purpose, count(*) FROM telephony_linetypelookup GROUP BY purpose")
    )
    runs = list(
        BackfillRun.objects.values_list("status", "lookups", "answered_from_cache", "failed")
    )
    today = timezone.localdate()
    day_runs = list(
        DailyCheckRun.objects.filter(day=today).values_list("state", "numbers_checked", "requests")
    )
    checked = MonitoredNumber.objects.filter(daily_checked_on=today).count()
    check_rows, checked_numbers = sql(
        "SELECT count(*), count(DISTINCT number) FROM reputation_sourcecheck WHERE day = %s",
        [today],
    )[0]
    sources = SourceCheck.objects.filter(day=today).values("source").distinct().count()
    feed_requests = feed_stats["requests"]
    most_asks = feed_stats["most_asks_for_one_number"]
    expected_lookups = eligible + args.callers
    # GCRA lets at most rate x T + burst requests go within any T seconds.
    limit_per_second = args.rate + BURST
    limit_per_5_seconds = args.rate * 5 + BURST
    allowed_5_seconds = args.rate * (5 + SEND_JITTER_SECONDS) + BURST
    all_stamped = provider["stamped"] == provider["answered"] + provider["rejected"]
    peak_ledger = sql(
        "SELECT coalesce(max(n), 0) FROM (SELECT count(*) n FROM telephony_linetypelookup"
        " GROUP BY date_trunc('second', looked_up_at)) s"
    )[0][0]
    tasks = {name: worker_tasks(logs / f"{name}.log") for name in WORKERS}

    print(f"web: {', '.join(f'port {p} /readyz {r}, /admin/login/ {g}' for p, r, g in web)}")
    print(f"switched on through web 1's admin: HTTP {switched}; new callers rang: {dict(rang)}")
    print(
        f"lookups: ledger {ledger_rows:,} rows for {ledger_numbers:,} distinct numbers "
        f"({by_purpose}); eligible {eligible:,} + new callers {args.callers} = "
        f"{expected_lookups:,}; provider answered {provider['answered']:,} for "
        f"{provider['numbers']:,} numbers, most for one number "
        f"{provider['most_answers_for_one_number']}"
    )
    print(
        f"provider: allows {allowed:,.0f}/s ({args.provider_concurrency} in flight x "
        f"{args.latency * 1000:.0f} ms); most in flight {provider['most_in_flight']} of "
        f"{args.provider_concurrency}; 429s {provider['rejected']}"
    )
    print(
        f"shared rate: {args.rate:,.0f}/s + burst {BURST}: at most {limit_per_second:,.0f} "
        f"requests in any 1 s, {limit_per_5_seconds:,.0f} in any 5 s; sent in the busiest 1 s "
        f"{provider['busiest_second_sent']}, 5 s {provider['busiest_5_seconds_sent']} "
        f"({provider['stamped']:,} stamped; 5 s counts as breached past "
        f"{allowed_5_seconds:,.0f}, allowing {SEND_JITTER_SECONDS * 1000:.0f} ms late stamps); "
        f"arrived at the provider in the busiest 1 s "
        f"{provider['busiest_second']}, 5 s {provider['busiest_5_seconds']} (a request held up "
        f"on its way lands among the next ones); ledger's busiest clock second {peak_ledger} "
        f"(answers are recorded in batches); mean {ledger_rows / elapsed:,.0f}/s over "
        f"{elapsed:.1f} s"
    )
    print(f"backfill runs (status, lookups, from cache, failed): {runs}")
    print(
        f"daily check: runs today {day_runs} (state, checked, requests); monitored "
        f"{args.monitored}, checked today {checked}; source checks {check_rows:,} for "
        f"{checked_numbers} numbers x {sources} sources; feed requests {feed_requests} "
        f"(numbers / 100 = {-(-args.monitored // 100)}), most asks for one number "
        f"{most_asks}"
    )
    for name in WORKERS:
        done = tasks[name]
        described = "; ".join(
            f"{task} x{len(items)} ({', '.join(f'{s:.1f}s->{r}' for s, r in items[:3])}"
            f"{', ...' if len(items) > 3 else ''})"
            for task, items in sorted(done.items())
            if task not in NEW_CALLER_TASKS
        )
        print(
            f"worker {name}: new callers' lookups {new_callers_looked_up(done)} (in "
            f"{sum(len(done.get(t, [])) for t in NEW_CALLER_TASKS)} tasks); {described}"
        )

    ran_backfill = [n for n in WORKERS if any(s > 1 for s, _ in tasks[n].get("backfill_run", []))]
    ran_check = [
        n
        for n in WORKERS
        if any(r not in ("None", "") for _, r in tasks[n].get("daily_check_run", []))
    ]
    breaches = {
        "a number looked up twice": ledger_rows != ledger_numbers
        or provider["most_answers_for_one_number"] > 1,
        "lookups != eligible numbers": ledger_rows != expected_lookups,
        "provider's concurrency exceeded (429s)": provider["rejected"] > 0,
        "shared rate exceeded": not all_stamped
        or provider["busiest_5_seconds_sent"] > allowed_5_seconds,
        "the day's check ran more than once": len(day_runs) != 1,
        "a number checked twice or not at all": checked != args.monitored
        or checked_numbers != args.monitored
        or most_asks != 1,
        "feed requests != numbers / batch": feed_requests != -(-args.monitored // 100),
        "the backfill ran on more than one worker": len(ran_backfill) > 1,
        "a web process is not ready": any(r != 200 or g != 200 for _, r, g in web),
    }
    broken = [what for what, bad in breaches.items() if bad]
    print(
        f"backfill ran on {ran_backfill}; daily check answered a run on {ran_check}; logs in {logs}"
    )
    print(
        f"HEADLINE: 2 web + 2 workers: lookups {ledger_rows:,}, distinct numbers "
        f"{ledger_numbers:,}, eligible {expected_lookups:,}; most per number "
        f"{provider['most_answers_for_one_number']}; sent in the busiest 5 s "
        f"{provider['busiest_5_seconds_sent']} (limit {limit_per_5_seconds:,.0f}), 1 s "
        f"{provider['busiest_second_sent']} (limit {limit_per_second:,.0f}; shared "
        f"{args.rate:,.0f}/s + burst {BURST}); provider in flight "
        f"{provider['most_in_flight']}/{args.provider_concurrency}, 429s {provider['rejected']}; "
        f"daily runs {len(day_runs)}, checked {checked}/{args.monitored} once each in "
        f"{feed_requests} requests; {'OK' if not broken else 'BREACHED: ' + ', '.join(broken)}"
    )
    sys.exit(1 if broken else 0)


if __name__ == "__main__":
    main()
