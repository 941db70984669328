"""The daily reputation check at 10k monitored numbers, and the Phone numbers page.

A loopback HTTP feed (bench/fake_feed.py, the HttpFeed adapter's JSON, in a process of its
own as a real feed is elsewhere) answers each request after 100 ms. The check sends
numbers / batch size requests, so with N requests in flight it cannot take less than its
floor, requests / N x latency (100 requests / 4 in flight x 100 ms = 2.5 s at 10k). Prints
the check's duration (the median of 3 rounds on fresh rows) beside that floor and beside a
bare client sending the same requests with the same number in flight (no database, nothing
else to do; timed in each round just before the check), the most requests the feed saw in
flight, the queries per number, and the Phone numbers page's p95 and query
count at 1k and 10k checked numbers (the count must not grow with the table). The last
line is the headline.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/switchboard_bench \\
        .venv/bin/python bench/reputation.py [--numbers 10000] [--in-flight 4] [--rounds 3]

Takes about a minute at the defaults (most of it building the rows and timing the page);
``--small`` (1,000 numbers, one round) about 20 s.
"""

import argparse
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from _setup import describe, get_json, percentile, setup_django, start_stand_in

NUMBERS = 10_000
BASELINE_NUMBERS = 1_000
LATENCY = 0.100
PAGE_SAMPLES = 30


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--numbers", type=int, default=NUMBERS, help="monitored numbers checked")
    parser.add_argument(
        "--baseline-numbers",
        type=int,
        default=BASELINE_NUMBERS,
        help="the smaller table the page is timed on first",
    )
    parser.add_argument("--latency", type=float, default=LATENCY, help="the feed's, seconds")
    parser.add_argument(
        "--in-flight",
        type=int,
        default=None,
        help="requests in flight (default: REPUTATION_CHECK_CONCURRENCY, 4)",
    )
    parser.add_argument("--samples", type=int, default=PAGE_SAMPLES, help="page loads timed")
    parser.add_argument("--rounds", type=int, default=3, help="checks timed (median)")
    parser.add_argument(
        "--small",
        action="store_true",
        help="1,000 numbers, 200 for the page's baseline, 10 loads, 1 round",
    )
    args = parser.parse_args()
    if args.small:
        args.numbers, args.baseline_numbers, args.samples, args.rounds = 1_000, 200, 10, 1
    return args


def build(count: int) -> None:
    from django.db import connection

    from reputation import services
    from reputation.models import (
        NUMBERS_PER_BLOCK,
        MonitoredNumber,
        ReputationSettings,
        SlotClaim,
    )
    from telephony.models import OwnedNumber

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE reputation_sourcecheck, reputation_slotclaim, reputation_monitorednumber, "
            "reputation_dailycheckrun, reputation_numberreplacement, telephony_ownednumber CASCADE"
        )
    config = ReputationSettings.load()
    config.addon_enabled, config.blocks = True, max(1000, -(-count // NUMBERS_PER_BLOCK))
    services.reputation_settings_save(config=config)
    start, _ = services.current_cycle(config)
    numbers = OwnedNumber.objects.bulk_create(
        [
            OwnedNumber(
                number=f"+1{415 + i // 10_000}{5550000 + i % 10_000:07d}", label=f"Line {i}"
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


def page_figures(client, samples: int) -> tuple[list[float], int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get("/admin/telephony/ownednumber/")
    timings = []
    for _ in range(samples):
        t = time.perf_counter()
        response = client.get("/admin/telephony/ownednumber/")
        timings.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as ctx:
        client.get("/admin/telephony/ownednumber/")
    return timings, len(ctx.captured_queries)


def bare_client(url: str, numbers: list[str], size: int, in_flight: int) -> float:
    """The same requests, the same number in flight, from a client with nothing else to do:
    what this machine and this feed allow, beside the arithmetic floor."""
    import requests

    sessions = [requests.Session() for _ in range(in_flight)]
    batches = [numbers[i : i + size] for i in range(0, len(numbers), size)]

    def post(i: int) -> int:
        body = sessions[i % in_flight].post(url, json={"numbers": batches[i]}, timeout=30)
        return len(json.loads(body.content)["results"])

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        answered = sum(pool.map(post, range(len(batches))))
    assert answered == len(numbers)
    return time.perf_counter() - started


def main() -> None:
    args = parse_args()
    setup_django()
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from crm import providers
    from reputation import services
    from reputation.models import MonitoredNumber
    from reputation.providers.http_feed import BATCH_SIZE

    feed, base = start_stand_in("fake_feed.py", "--latency", str(args.latency))
    try:
        settings.REPUTATION_PROVIDER = "reputation.providers.http_feed.HttpFeedReputationProvider"
        settings.REPUTATION_FEED_URL = f"{base}/check"
        settings.ALLOWED_HOSTS = ["testserver"]
        if args.in_flight:
            settings.REPUTATION_CHECK_CONCURRENCY = args.in_flight
        providers.clear_providers()
        in_flight = settings.REPUTATION_CHECK_CONCURRENCY

        user, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_staff": True})
        user.groups.add(Group.objects.get(name="Administrator"))
        client = Client()
        client.force_login(user)

        # Each page is measured after the numbers' check, so every row carries its
        # per-carrier results (the hover table), as on a live page.
        build(args.baseline_numbers)
        services.daily_check_run()
        small_samples, small_queries = page_figures(client, args.samples)

        # Rounds alternate the bare client and the check on fresh rows, so both see the
        # same machine; the medians are the figures.
        bares, durations, most = [], [], []
        for _ in range(args.rounds):
            build(args.numbers)
            numbers = [
                str(n)
                for n in MonitoredNumber.objects.values_list("owned_number__number", flat=True)
            ]
            get_json(f"{base}/reset")
            bares.append(bare_client(f"{base}/check", numbers, BATCH_SIZE, in_flight))
            bare_most = get_json(f"{base}/reset")["most_in_flight"]
            with CaptureQueriesContext(connection) as ctx:
                t = time.perf_counter()
                run = services.daily_check_run()
                durations.append(time.perf_counter() - t)
            after = get_json(f"{base}/reset")
            most.append(after["most_in_flight"])
            queries = len(ctx.captured_queries)
            assert run is not None
            requests = after["requests"]
            assert after["most_asks_for_one_number"] == 1, "a number asked about twice"
        t = time.perf_counter()
        again = services.daily_check_run()
        second = time.perf_counter() - t
        second_requests = get_json(f"{base}/stats")["requests"]
        big_samples, big_queries = page_figures(client, args.samples)
    finally:
        feed.terminate()
        feed.wait()

    floor = requests / in_flight * args.latency
    bare, duration = statistics.median(bares), statistics.median(durations)
    print(
        f"daily check, {args.numbers:,} monitored numbers, feed latency "
        f"{args.latency * 1000:.0f} ms, {in_flight} requests in flight"
    )
    print(
        f"  floor                   {floor:7.2f} s  ({requests} requests / {in_flight} in flight "
        f"x {args.latency * 1000:.0f} ms; one at a time: {requests * args.latency:.1f} s)"
    )
    print(
        f"  bare client             {bare:7.2f} s  median of {', '.join(f'{b:.2f}' for b in bares)}"
        f" (the same requests, {in_flight} in flight, no database; the feed saw at most "
        f"{bare_most} in flight; {bare / floor:.2f}x the floor)"
    )
    print(
        f"  daily check             {duration:7.2f} s  median of "
        f"{', '.join(f'{d:.2f}' for d in durations)} ({duration / floor:.2f}x the floor, "
        f"{duration / bare:.2f}x the bare client; the feed saw at most {max(most)} in flight)"
    )
    print(
        f"  requests                {requests}  (numbers / batch size = "
        f"{-(-args.numbers // BATCH_SIZE)})"
    )
    print(f"  checked                 {run.numbers_checked:,}  (state {run.state})")
    print(f"  queries                 {queries}  ({queries / args.numbers:.3f} per number)")
    reused = "reused" if again is not None and again.pk == run.pk else "new"
    print(
        f"  second fire same day    {second * 1000:.0f} ms, {second_requests} requests  "
        f"(run {reused})"
    )
    print(
        f"phone numbers page, {args.baseline_numbers:,} numbers: {describe(small_samples)}  "
        f"queries {small_queries}"
    )
    print(
        f"phone numbers page, {args.numbers:,} numbers: {describe(big_samples)}  "
        f"queries {big_queries}"
    )
    print(
        f"headline: {args.numbers:,} numbers checked in {duration:.2f} s (median of "
        f"{args.rounds}) = "
        f"{duration / floor:.2f}x the floor of {floor:.2f} s ({requests} requests / {in_flight} "
        f"in flight x {args.latency * 1000:.0f} ms; bare client {bare:.2f} s), "
        f"{queries / args.numbers:.3f} queries/number; page p95 "
        f"{percentile(big_samples, 95):.1f} ms at {args.numbers:,} (median "
        f"{statistics.median(big_samples):.1f}), {big_queries} queries vs {small_queries} at "
        f"{args.baseline_numbers:,}"
    )


if __name__ == "__main__":
    main()
