"""Next lead under 20 concurrent callers, and caller-ID choice among 1,000 owned numbers.

Builds a campaign of --leads leads (default 1,000,000; a fifth of them in a zone where it
is night now, 1% of their numbers on the do-not-call list) with set-based SQL, then
--callers threads each ask for their next lead --rounds times (logging an outcome between
asks, as a caller does) and the time of each ask is recorded. Checks: no lead handed to two
callers, none out of window, none on the do-not-call list. Then times caller-ID choice for
leads across area codes with --owned owned numbers, a day's calls spread over them.
Last, imports a do-not-call file of --dnc lines (default 1,000,000; one number a line,
every tenth in the registry's area code,number form, every thousandth a bad line) in a
child process, whose wall time and peak RSS are printed.

    DATABASE_URL=postgres://... .venv/bin/python bench/dialing.py [--leads N] [--callers N]

Last line: the headline.
"""

import argparse
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import describe, percentile, setup_django

setup_django()  # Django on PostgreSQL, migrated

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from campaigns import dialing  # noqa: E402
from campaigns.calling_window import window_state  # noqa: E402
from campaigns.models import Campaign, Contact, DoNotCallNumber, LeadLease, Queue  # noqa: E402
from telephony import caller_ids  # noqa: E402
from telephony.models import Call, OwnedNumber  # noqa: E402
from tests.campaigns.dialing_helpers import daytime_zone, night_zone  # noqa: E402

AREA_CODES = ["212", "312", "404", "415", "512", "617", "678", "702", "713", "818"]


def build(leads: int) -> Campaign:
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
        cursor.execute("ANALYZE campaigns_contact")
        cursor.execute("ANALYZE campaigns_campaignphone")
    return campaign


def callers_ask(campaign: Campaign, users: list, rounds: int) -> tuple[list[float], list[int]]:
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


def check(campaign: Campaign, handed: list[int]) -> tuple[int, int, int]:
    """Leads handed twice, out of their window, or with a number on the do-not-call list."""
    twice = len(handed) - len(set(handed))
    now = timezone.now()
    out_of_window = on_dnc = 0
    dnc = set(DoNotCallNumber.objects.values_list("number", flat=True))
    contacts = Contact.objects.filter(campaign=campaign, pk__in=handed).select_related("phone")
    for contact in contacts.iterator():
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
    timings = []
    for i in range(samples):
        lead = f"+1{random.choice([*AREA_CODES, '907', '808'])}555{i % 10000:04d}"
        started = time.perf_counter()
        caller_ids.caller_id_choose(lead_e164=lead, pool=pool)
        timings.append((time.perf_counter() - started) * 1000)
    Call.objects.filter(external_id__startswith="bench-").delete()
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
        total, state = dnc.numbers_import(binary=handle, reason=DNC_REASON, by_id=None)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"do-not-call import: {state.lines:,} lines in {seconds:.1f} s, peak RSS "
        f"{peak_mb:.0f} MB; added {total.added:,}, already listed {total.already:,}, "
        f"bad lines {state.rejected:,}"
    )


def dnc_import_bench(lines: int) -> str:
    import subprocess
    import tempfile

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--callers", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--owned", type=int, default=1_000)
    parser.add_argument("--dnc", type=int, default=1_000_000, help="do-not-call file lines")
    parser.add_argument("--dnc-import", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dnc_import:
        dnc_import_child(args.dnc_import)
        return
    started = time.perf_counter()
    campaign = build(args.leads)
    print(f"built {args.leads:,} leads in {time.perf_counter() - started:.1f} s")
    User = get_user_model()
    users = [
        User.objects.create(username=f"bench-caller-{campaign.pk}-{i}") for i in range(args.callers)
    ]
    try:
        alone, _ = callers_ask(campaign, users[:1], args.rounds * 2)
        print(f"next lead, 1 caller (baseline, same run): {describe(alone)}")
        timings, handed = callers_ask(campaign, users, args.rounds)
        twice, out_of_window, on_dnc = check(campaign, handed)
        print(f"next lead, {args.callers} callers at once: {describe(timings)}")
        print(
            f"leads handed {len(handed):,}; to two callers {twice}; out of window "
            f"{out_of_window}; on do-not-call {on_dnc}"
        )
        choice = caller_id_bench(args.owned, 500)
        print(f"caller-ID choice, {args.owned:,} owned numbers: {describe(choice)}")
        dnc_line = dnc_import_bench(args.dnc) if args.dnc else "do-not-call import: skipped"
        print(dnc_line)
        print(
            f"HEADLINE next lead p95 {percentile(timings, 95):.1f} ms at {args.leads:,} leads "
            f"x {args.callers} callers; {twice} handed twice; caller ID p95 "
            f"{percentile(choice, 95):.2f} ms at {args.owned:,} numbers; {dnc_line}"
        )
    finally:
        LeadLease.objects.filter(campaign=campaign).delete()
        from campaigns import services

        services.campaign_delete(campaign=campaign)
        DoNotCallNumber.objects.filter(reason="bench").delete()
        User.objects.filter(pk__in=[u.pk for u in users]).delete()


if __name__ == "__main__":
    main()
