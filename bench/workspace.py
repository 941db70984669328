"""The caller workspace on a campaign of a million leads: the contact list and searches.

Imports bench/ingest.py's generated file (1M rows, two messy numbers each) into a
campaign, then renders the campaign page as an assigned Caller through Django's test
client, several rounds per page: the unfiltered list, a deep page (the middle one), the
page after it (the "Next" link), and a search by number (typed any way), shared office
number, email, name prefix and company prefix. The same pages of a 1,000-lead campaign
are the baseline measured in the same run, printed beside each figure with the ratio.
Each campaign first gets a day's call outcomes (a fifth of them callbacks due today),
which the list shows.

The campaigns are kept between runs (found by name) unless ``--fresh``; ``--delete``
finally deletes the big campaign as an administrator would and prints how long that
took (the next run then imports it again).

    DATABASE_URL=postgres://.../bench_x nice -n 10 .venv/bin/python bench/workspace.py \
        [--rows N] [--rounds N] [--delete] [--fresh]

Last line: the headline (the worst ratio to the small campaign and the worst p95).
"""

import argparse
import re
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import describe, percentile, setup_django

SMALL = 1_000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the big file")
    parser.add_argument("--rounds", type=int, default=20, help="timed renders per page")
    parser.add_argument("--delete", action="store_true", help="time deleting the big campaign")
    parser.add_argument("--fresh", action="store_true", help="import both campaigns again")
    return parser.parse_args()


def campaign_name(rows: int) -> str:
    return f"bench workspace {rows} rows"


def load(path: Path, name: str) -> Any:
    from django.core.files import File

    from campaigns import services
    from campaigns.models import Campaign, LeadUpload

    campaign = Campaign.objects.create(name=name)
    with path.open("rb") as handle:
        upload = services.lead_upload_create(
            campaign=campaign, file=File(handle, name=path.name), uploaded_by=None
        )
    upload = services.lead_upload_import(upload_id=upload.pk)
    assert upload.status == LeadUpload.State.COMPLETED, upload.error
    return campaign


def campaign_for(rows: int, fresh: bool) -> Any:
    """The campaign of ``rows`` generated leads with a day's outcomes, made once."""
    from ingest import generate  # bench/ingest.py

    from campaigns import services
    from campaigns.models import Campaign, Contact, LeadUpload

    name = campaign_name(rows)
    for old in Campaign.objects.filter(name=name):
        done = LeadUpload.objects.filter(campaign=old, status=LeadUpload.State.COMPLETED)
        if fresh or not done.exists():
            services.campaign_delete(campaign=old)
        else:
            return old
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"leads-{rows}.csv"
        generate(path, rows)
        start = time.perf_counter()
        campaign = load(path, name)
        print(f"imported {rows:,} rows in {time.perf_counter() - start:.1f}s")
    log_outcomes(campaign, min(5_000, Contact.objects.filter(campaign=campaign).count() // 4))
    return campaign


def log_outcomes(campaign: Any, count: int) -> None:
    """A day's work on the campaign: call outcomes on ``count`` contacts, a fifth of them
    "Call back later" due later today, so the list shows its callbacks and last outcomes."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from campaigns.models import Contact, Disposition

    ids = list(
        Contact.objects.filter(campaign=campaign)
        .order_by("id")
        .values_list("id", flat=True)[: count * 3 : 3]
    )
    now = timezone.now()
    outcomes = [o for o in Disposition.CALL_OUTCOMES if o != Disposition.Outcome.CALLBACK]
    Disposition.objects.bulk_create(
        Disposition(
            campaign=campaign,
            contact_id=contact_id,
            target=Disposition.Target.CONTACT,
            outcome=Disposition.Outcome.CALLBACK if n % 5 == 0 else outcomes[n % len(outcomes)],
            callback_at=now + timedelta(minutes=n % 600) if n % 5 == 0 else None,
        )
        for n, contact_id in enumerate(ids)
    )
    with connection.cursor() as cursor:
        # As autovacuum would within a minute of the insert: the callbacks query joins
        # the log on fresh statistics.
        cursor.execute("ANALYZE campaigns_disposition")


def pages(client: Any, campaign: Any) -> dict[str, dict[str, str]]:
    """Pages to time, with queries taken from the campaign's own data."""
    from campaigns.models import Contact

    url = f"/campaigns/{campaign.pk}/"
    in_campaign = Contact.objects.filter(campaign=campaign)
    with_all = in_campaign.filter(phone__isnull=False, mobile__isnull=False, account__isnull=False)
    contact: Any = with_all.select_related("phone", "mobile", "account").order_by("id")[500]
    mobile, shared = contact.mobile.number[2:], contact.phone.number[2:]
    # The middle page, then its "Next" link as the page prints it.
    middle = str(max(1, in_campaign.count() // 50 // 2))
    html = client.get(url, {"page": middle}).content.decode()
    found = re.search(r'<a href="\?([^"]*)" rel="next">', html)
    next_query = found.group(1).replace("&amp;", "&") if found else f"page={int(middle) + 1}"
    following = dict(p.split("=", 1) for p in next_query.split("&") if p)
    return {
        "list": {},
        "deep page (the middle one)": {"page": middle},
        "next after the deep page": following,
        "number typed any way": {"q": f"({mobile[:3]}) {mobile[3:6]}-{mobile[6:]}"},
        "shared office number": {"q": f"{shared[:3]}.{shared[3:6]}.{shared[6:]}"},
        "last 4 digits": {"q": mobile[-4:]},
        "email": {"q": contact.email.upper()},
        "name prefix": {"q": contact.name[: max(4, len(contact.name) - 1)]},
        "company prefix": {"q": contact.account.name[:-4] if contact.account else "Company"},
    }


def time_pages(client: Any, campaign: Any, rounds: int) -> dict[str, list[float]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = f"/campaigns/{campaign.pk}/"
    samples: dict[str, list[float]] = {}
    for label, params in pages(client, campaign).items():
        client.get(url, params)  # warm: the first render of a kind compiles templates
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            response = client.get(url, params)
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, response.status_code
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, params)
        shown = response.content.count(b"<tr data-contact=")
        print(
            f"  {label:28} {describe(times)}  queries {len(queries):2}  rows {shown:2}  "
            f"{params.get('q', '') or params.get('page', '') or params.get('after', '')!r}"
        )
        samples[label] = times
        if params.get("q"):
            searched[label] = time_search(campaign, params["q"], rounds)
    return samples


# The search alone (the ids it answers), per page that searches: the part of the page that
# reads the campaign. The rest renders the rows found, and a bigger campaign finds more
# rows for the same company or office number.
searched: dict[str, list[float]] = {}


def time_search(campaign: Any, term: str, rounds: int) -> list[float]:
    from campaigns import selectors

    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        selectors.campaign_contact_ids(campaign=campaign, search=term)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    args = parse_args()
    setup_django()  # Django on the benchmark's PostgreSQL database, migrated

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client

    from campaigns import services
    from campaigns.models import Contact
    from crm import roles

    # Not setup_test_environment(): its instrumented template rendering copies the
    # context for every include (three a row), a cost production never pays.
    caller, _ = get_user_model().objects.get_or_create(username="bench-caller")
    caller.groups.set([Group.objects.get(name=roles.CALLER)])
    client = Client()
    client.force_login(caller)

    small, big = (campaign_for(rows, args.fresh) for rows in (SMALL, args.rows))
    results, searches = {}, {}
    for campaign in (small, big):
        campaign.callers.add(caller)
        contacts = Contact.objects.filter(campaign=campaign).count()
        print(f"campaign of {contacts:,} contacts:")
        results[contacts] = time_pages(client, campaign, args.rounds)
        searches[contacts] = dict(searched)
    small_n, big_n = min(results), max(results)
    print(f"each page at {big_n:,} contacts beside {small_n:,} (median, ratio):")
    ratios = {}
    for label, big_times in results[big_n].items():
        small_median = statistics.median(results[small_n][label])
        big_median = statistics.median(big_times)
        ratios[label] = big_median / small_median
        print(
            f"  {label:28} {big_median:7.1f} ms vs {small_median:7.1f} ms  "
            f"x{ratios[label]:.2f}  p95 {percentile(big_times, 95):7.1f} ms"
        )

    print(f"the search alone (campaign_contact_ids) at {big_n:,} beside {small_n:,} (median):")
    for label, big_times in searches[big_n].items():
        small_median = statistics.median(searches[small_n][label])
        big_median = statistics.median(big_times)
        print(
            f"  {label:28} {big_median:7.1f} ms vs {small_median:7.1f} ms  "
            f"x{big_median / small_median:.2f}  p95 {percentile(big_times, 95):7.1f} ms"
        )

    if args.delete:
        start = time.perf_counter()
        deleted = services.campaign_delete(campaign=big)
        elapsed = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"deleting the campaign of {deleted['contacts']:,} contacts and "
            f"{deleted['numbers']:,} numbers: {elapsed:.2f}s (peak RSS {peak:.0f} MB)"
        )
    worst = max(ratios, key=lambda label: ratios[label])
    worst_p95 = max(percentile(t, 95) for t in results[big_n].values())
    print(
        f"workspace at {big_n:,} contacts: worst page x{ratios[worst]:.2f} of {small_n:,} "
        f"contacts ({worst}: {statistics.median(results[big_n][worst]):.1f} ms vs "
        f"{statistics.median(results[small_n][worst]):.1f} ms), worst p95 {worst_p95:.1f} ms"
    )


if __name__ == "__main__":
    main()
