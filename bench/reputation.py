"""The daily reputation check at 10k monitored numbers, and the Phone numbers page.

A loopback HTTP feed (the HttpFeed adapter's JSON) answers each request after 100 ms.
Prints the check's duration against the sequential floor (requests x latency), the
requests made (= numbers / batch size), queries per number, and the Phone numbers page's
p95 and query count at 1k and 10k checked numbers (the count must not grow with the table).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/reputation.py
"""

import json
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from _setup import describe, percentile, setup_django

NUMBERS = 10_000
LATENCY = 0.100
PAGE_SAMPLES = 30
REQUESTS = {"n": 0}


class Feed(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        REQUESTS["n"] += 1
        time.sleep(LATENCY)
        answer = {
            "results": {
                n: [
                    {
                        "carrier": c,
                        "label": "",
                        "score": 10,
                        "flagged": n.endswith("7") and c != "T-Mobile",
                    }
                    for c in ("AT&T", "Verizon", "T-Mobile")
                ]
                for n in body["numbers"]
            }
        }
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def build(count: int) -> None:
    from django.db import connection

    from reputation.models import MonitoredNumber, ReputationSettings, SlotClaim
    from telephony.models import OwnedNumber

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE reputation_sourcecheck, reputation_slotclaim, reputation_monitorednumber, "
            "reputation_dailycheckrun, reputation_numberreplacement, telephony_ownednumber CASCADE"
        )
    config = ReputationSettings.load()
    config.addon_enabled, config.blocks = True, 1000
    from reputation import services

    services.reputation_settings_save(config=config)
    start, _ = services.current_cycle(config)
    numbers = OwnedNumber.objects.bulk_create(
        [
            OwnedNumber(
                number=f"+1{415 + i // 10_000 * 1}{5550000 + i % 10_000:07d}", label=f"Line {i}"
            )
            for i in range(count)
        ],
        batch_size=2000,
    )
    MonitoredNumber.objects.bulk_create(
        [MonitoredNumber(owned_number=n) for n in numbers], batch_size=2000
    )
    SlotClaim.objects.bulk_create(
        [SlotClaim(cycle_start=start, number=str(n.number), owned_number=n) for n in numbers],
        batch_size=2000,
    )
    # Planner statistics as autovacuum keeps them on a live table: measured seconds after a
    # bulk load, PostgreSQL still plans for the empty tables (a nested loop over "5 rows").
    with connection.cursor() as cursor:
        cursor.execute(
            "ANALYZE telephony_ownednumber, reputation_monitorednumber, reputation_slotclaim"
        )


def page_figures(client) -> tuple[list[float], int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get("/admin/telephony/ownednumber/")
    samples = []
    for _ in range(PAGE_SAMPLES):
        t = time.perf_counter()
        response = client.get("/admin/telephony/ownednumber/")
        samples.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as ctx:
        client.get("/admin/telephony/ownednumber/")
    return samples, len(ctx.captured_queries)


def main() -> None:
    setup_django()
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from crm import providers
    from reputation import services

    server = ThreadingHTTPServer(("127.0.0.1", 0), Feed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.REPUTATION_PROVIDER = "reputation.providers.http_feed.HttpFeedReputationProvider"
    settings.REPUTATION_FEED_URL = f"http://127.0.0.1:{server.server_address[1]}/check"
    settings.ALLOWED_HOSTS = ["testserver"]
    providers.clear_providers()
    concurrency = settings.REPUTATION_CHECK_CONCURRENCY

    user, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_staff": True})
    user.groups.add(Group.objects.get(name="Administrator"))
    client = Client()
    client.force_login(user)

    # Each page is measured after the numbers' check, so every row carries its per-carrier
    # results (the hover table), as on a live page.
    build(1_000)
    services.daily_check_run()
    small_samples, small_queries = page_figures(client)

    build(NUMBERS)
    REQUESTS["n"] = 0
    reset_queries()
    with CaptureQueriesContext(connection) as ctx:
        t = time.perf_counter()
        run = services.daily_check_run()
        duration = time.perf_counter() - t
    queries = len(ctx.captured_queries)
    assert run is not None
    floor = REQUESTS["n"] * LATENCY
    t = time.perf_counter()
    again = services.daily_check_run()
    second = time.perf_counter() - t
    big_samples, big_queries = page_figures(client)
    print(
        f"daily check, {NUMBERS:,} monitored numbers, feed latency {LATENCY * 1000:.0f} ms, "
        f"{concurrency} requests in flight"
    )
    print(
        f"  duration                {duration:7.2f} s  (sequential floor: {REQUESTS['n']} x "
        f"{LATENCY:.1f} s = {floor:.1f} s; ratio {duration / floor:.2f})"
    )
    print(f"  requests                {REQUESTS['n']}  (numbers / batch size = {NUMBERS // 100})")
    print(f"  checked                 {run.numbers_checked:,}  (state {run.state})")
    print(f"  queries                 {queries}  ({queries / NUMBERS:.3f} per number)")
    reused = "reused" if again is not None and again.pk == run.pk else "new"
    print(
        f"  second fire same day    {second * 1000:.0f} ms, requests after it: "
        f"{REQUESTS['n']}  (run {reused})"
    )
    print(f"phone numbers page, 1,000 numbers:  {describe(small_samples)}  queries {small_queries}")
    print(f"phone numbers page, 10,000 numbers: {describe(big_samples)}  queries {big_queries}")
    print(
        f"headline: 10k numbers checked in {duration:.2f} s with {REQUESTS['n']} requests, "
        f"{queries / NUMBERS:.3f} queries/number; page p95 {percentile(big_samples, 95):.1f} ms "
        f"at 10k (median {statistics.median(big_samples):.1f}), {big_queries} queries at 10k "
        f"vs {small_queries} at 1k"
    )
    server.shutdown()


if __name__ == "__main__":
    main()
