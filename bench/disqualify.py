"""Disqualifying a number in a 1M-lead campaign: queries and time.

Builds (once, kept for later runs) a campaign of 1M contacts with a phone and a mobile
each, where company lines are shared by 25 contacts, then disqualifies numbers through
the service exactly as the API does (look the number up in any format, disqualify,
log the disposition) and prints the query count and the median time. A second
campaign of 1k leads is the baseline: query count must not grow with leads.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/switchboard_bench \\
        .venv/bin/python bench/disqualify.py [--leads 1000000] [--small]

The campaigns are kept between runs; building the 1M-lead one takes a few minutes the
first time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import setup_django

if TYPE_CHECKING:
    from campaigns.models import Campaign


def build(name: str, leads: int) -> Campaign:
    from django.db import connection, transaction

    from campaigns import services
    from campaigns.ingest import rules
    from campaigns.models import Campaign

    campaign = Campaign.objects.filter(name=name).first()
    if campaign and campaign.contacts.count() == leads:
        return campaign
    if campaign:
        services.campaign_delete(campaign=campaign)
    campaign = Campaign.objects.create(name=name)
    companies = max(1, leads // 25)
    with transaction.atomic(), connection.cursor() as cursor:
        params = {"c": campaign.pk, "n": leads, "k": companies, "email_key": rules.EMAIL_KEY}
        # Company lines +1404 2xx xxxx (shared by 25 contacts each), mobiles +1678 ...
        cursor.execute(
            """
            INSERT INTO campaigns_campaignphone (campaign_id, number, contact_count,
                status, status_scope, status_reason, created_at)
            SELECT %(c)s, '+1404' || (2000000 + g)::text, 25, 'active', '', '', now()
            FROM generate_series(0, %(k)s - 1) g
            UNION ALL
            SELECT %(c)s, '+1678' || (2000000 + g)::text, 1, 'active', '', '', now()
            FROM generate_series(0, %(n)s - 1) g
            """,
            params,
        )
        # Fresh statistics, or the planner joins a million rows with nested loops.
        cursor.execute("ANALYZE campaigns_campaignphone")
        cursor.execute(
            """
            INSERT INTO campaigns_contact (campaign_id, first_name, last_name, name, email, title,
                phone_id, mobile_id, phone_raw, mobile_raw, extra, status, dedup_key,
                merged_rows, created_at)
            SELECT %(c)s, 'First', 'Last', 'Lead ' || g, 'lead' || g || '@example.com', '',
                   office.id, mobile.id, '', '', '{}', 'active',
                   %(email_key)s || 'lead' || g || '@example.com',
                   0, now()
            FROM generate_series(0, %(n)s - 1) g
            JOIN campaigns_campaignphone office
              ON office.campaign_id = %(c)s
             AND office.number = '+1404' || (2000000 + g %% %(k)s)::text
            JOIN campaigns_campaignphone mobile
              ON mobile.campaign_id = %(c)s AND mobile.number = '+1678' || (2000000 + g)::text
            """,
            params,
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE campaigns_contact")
        cursor.execute("ANALYZE campaigns_campaignphone")
    return campaign


def measure(campaign: Campaign, rounds: int, scope: str) -> tuple[list[int], list[float], int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from campaigns import selectors, services
    from campaigns.models import Disposition

    queries, times = [], []
    carried = 0
    for i in range(rounds):
        typed = f"(404) {200 + i // 10_000 % 10:03d}-{i % 10_000:04d}"  # typed any way
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            phone = selectors.campaign_phone_get(campaign=campaign, raw_number=typed)
            assert phone is not None, typed
            services.campaign_phone_disqualify(
                phone=phone, by=None, reason="bench: asked not to be called", scope=scope
            )
            times.append((time.perf_counter() - start) * 1000)
        queries.append(len(captured))
        if i == 0 and os.environ.get("BENCH_SHOW_SQL"):
            print("\n".join(q["sql"][:160] for q in captured.captured_queries))
        carried = campaign.contacts.filter(phone=phone).count()
    # Put the campaign back as it was for the next run.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE campaigns_campaignphone SET status = 'active', status_scope = '', "
            "status_reason = '' WHERE status_reason LIKE 'bench:%%'"
        )
        cursor.execute("DELETE FROM campaigns_donotcallnumber WHERE reason LIKE 'bench:%%'")
    Disposition.objects.filter(note__startswith="bench:").delete()
    return queries, times, carried


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--small", action="store_true", help="20,000 leads instead of 1M")
    args = parser.parse_args()
    if args.small:
        args.leads = 20_000
    setup_django()
    from campaigns.models import CampaignPhone

    start = time.perf_counter()
    small = build("bench disqualify 1k", 1_000)
    big = build(f"bench disqualify {args.leads:,}", args.leads)
    print(f"campaigns ready in {time.perf_counter() - start:.1f}s: 1,000 and {args.leads:,} leads")

    for label, campaign in (("1k-lead baseline", small), (f"{args.leads:,}-lead", big)):
        rounds = min(args.rounds, CampaignPhone.objects.filter(campaign=campaign).count())
        for scope in ("campaign", "everywhere"):
            queries, times, carried = measure(campaign, rounds, scope)
            print(
                f"{label}, scope {scope}: {max(queries)} queries (with BEGIN, COMMIT), median "
                f"{statistics.median(times):.1f} ms, p95 "
                f"{sorted(times)[int(len(times) * 0.95) - 1]:.1f} ms over {rounds} numbers "
                f"(each on {carried} contacts)"
            )
            if label != "1k-lead baseline" and scope == "campaign":
                headline = (max(queries), statistics.median(times))
    print(
        f"disqualify a number in a {args.leads:,}-lead campaign: {headline[0]} queries, "
        f"{headline[1]:.1f} ms median (target <= 5 queries, < 50 ms)"
    )


if __name__ == "__main__":
    main()
