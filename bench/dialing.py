"""Next lead under 20 concurrent callers, and caller-ID choice among 1,000 owned numbers.

Builds a campaign of --leads leads (default 1,000,000; a fifth of them in a zone where it
is night now, 1% of their numbers on the do-not-call list) with set-based SQL, gives
every lead its zone key (timed), then --callers threads each ask for their next lead
--rounds times (logging an outcome between asks, as a caller does) and the time of each
ask is recorded. Checks: no lead handed to two callers, none out of window, none on the
do-not-call list. The campaign is kept for the next run (its handed leads go back to
the queue), so only the first run pays for building it. Then times caller-ID choice for
leads across area codes with --owned owned numbers, a day's calls spread over them
(baseline: 10 owned numbers). Last, imports a do-not-call file of --dnc lines (default
1,000,000; one number a line, every tenth in the registry's area code,number form, every
thousandth a bad line) in a child process, whose wall time and peak RSS are printed
beside the time to read and parse the file alone (the baseline).

    DATABASE_URL=postgres://.../bench_x .venv/bin/python bench/dialing.py [--leads N] [--callers N]

Last line: the headline.
"""

import argparse
import cProfile
import pstats
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import describe, percentile, setup_django

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


def zones_fill(campaign: Any) -> None:
    from django.db import connection

    from campaigns import dialing_zones

    started = time.perf_counter()
    filled = dialing_zones.lead_zones_fill_all(campaign_id=campaign.pk)
    if filled:
        print(f"zone keys worked out for {filled:,} leads in {time.perf_counter() - started:.1f} s")
    with connection.cursor() as cursor:
        if filled:
            # What autovacuum does after a million updated rows: the old versions leave
            # the index (a loose scan would otherwise step over each of them).
            cursor.execute("VACUUM ANALYZE campaigns_contact")
        cursor.execute("ANALYZE campaigns_campaignphone")
        cursor.execute("ANALYZE campaigns_donotcallnumber")


def callers_ask(campaign: Any, users: list, rounds: int) -> tuple[list[float], list[int]]:
    from django.db import connection

    from campaigns import dialing
    from campaigns.models import Contact, Queue

    timings: list[float] = []
    handed: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(users))

    def work(user) -> None:
        try:
            barrier.wait()
            for _ in range(rounds):
                started = time.perf_counter()
                lead = dialing.lead_next(campaign=campaign, caller=user)
                elapsed = (time.perf_counter() - started) * 1000
                if isinstance(lead, dialing.NoLead):
                    print(f"  no lead: {lead.reason}")
                    continue
                # The caller logs a final outcome: the lead leaves the queue and is freed.
                Contact.objects.filter(campaign=campaign, pk=lead.contact.pk).update(
                    queue=Queue.DONE
                )
                dialing.lead_release(contact=lead.contact)
                with lock:
                    timings.append(elapsed)
                    handed.append(lead.contact.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(u,)) for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
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


def profiled(campaign: Any, user: Any, rounds: int) -> None:
    """One caller's asks under cProfile, and the queries of one ask: what a next lead
    costs (docs/profiles/dialing.md)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from campaigns import dialing

    profile = cProfile.Profile()
    profile.enable()
    callers_ask(campaign, [user], rounds)
    profile.disable()
    pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
    with CaptureQueriesContext(connection) as queries:
        dialing.lead_next(campaign=campaign, caller=user)
    for query in queries.captured_queries:
        print(f"  {query['time']} s  {query['sql'][:160]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--callers", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--owned", type=int, default=1_000)
    parser.add_argument("--dnc", type=int, default=1_000_000, help="do-not-call file lines")
    parser.add_argument("--profile", action="store_true", help="profile one caller's asks")
    parser.add_argument("--dnc-import", help=argparse.SUPPRESS)
    args = parser.parse_args()
    setup_django()  # after the arguments: --help touches no database
    if args.dnc_import:
        dnc_import_child(args.dnc_import)
        return
    from django.contrib.auth import get_user_model

    from campaigns.models import LeadLease

    campaign = campaign_ready(args.leads)
    zones_fill(campaign)
    User = get_user_model()
    users = [
        User.objects.get_or_create(username=f"bench-caller-{campaign.pk}-{i}")[0]
        for i in range(args.callers)
    ]
    try:
        if args.profile:
            profiled(campaign, users[0], args.rounds)
        alone, _ = callers_ask(campaign, users[:1], args.rounds * 2)
        print(f"next lead, 1 caller (baseline, same run): {describe(alone)}")
        timings, handed = callers_ask(campaign, users, args.rounds)
        twice, out_of_window, on_dnc = check(campaign, handed)
        print(f"next lead, {args.callers} callers at once: {describe(timings)}")
        print(
            f"leads handed {len(handed):,}; to two callers {twice}; out of window "
            f"{out_of_window}; on do-not-call {on_dnc}"
        )
        few = caller_id_bench(10, 500)
        print(f"caller-ID choice, 10 owned numbers (baseline, same run): {describe(few)}")
        choice = caller_id_bench(args.owned, 500)
        print(f"caller-ID choice, {args.owned:,} owned numbers: {describe(choice)}")
        dnc_line = dnc_import_bench(args.dnc) if args.dnc else "do-not-call import: skipped"
        print(dnc_line)
        print(
            f"HEADLINE next lead p95 {percentile(timings, 95):.1f} ms at {args.leads:,} leads "
            f"x {args.callers} callers; {twice} handed twice, {out_of_window} out of window, "
            f"{on_dnc} on DNC; caller ID p95 {percentile(choice, 95):.2f} ms at "
            f"{args.owned:,} numbers; {dnc_line}"
        )
    finally:
        # The campaign stays for the next run; its leases go.
        LeadLease.objects.filter(campaign=campaign).delete()


if __name__ == "__main__":
    main()
