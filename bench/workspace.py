"""The caller workspace on a campaign of a million leads: the contact list and searches.

Imports bench/ingest.py's generated file (1M rows, two messy numbers each) into a fresh
campaign, then renders the campaign page as an assigned Caller through Django's test
client, several rounds per page: the unfiltered list, a deep page, and a search by
number (typed any way), email, name prefix and company prefix. The same pages of a
1,000-lead campaign are the baseline measured in the same run. Each campaign first gets a
day's call outcomes (a fifth of them callbacks due today), which the list shows. Finally
deletes the big campaign as an administrator would and prints how long that took.

    DATABASE_URL=postgres://... .venv/bin/python bench/workspace.py [--rows N] [--rounds N]

Last line: the headline.
"""

import argparse
import resource
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import describe, setup_django

setup_django()  # Django on PostgreSQL, migrated

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.files import File  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402
from ingest import generate  # noqa: E402  (bench/ingest.py)

from campaigns import services  # noqa: E402
from campaigns.models import Campaign, Contact, Disposition, LeadUpload  # noqa: E402
from crm import roles  # noqa: E402


def load(path: Path, name: str) -> Campaign:
    campaign = Campaign.objects.create(name=name)
    with path.open("rb") as handle:
        upload = services.lead_upload_create(
            campaign=campaign, file=File(handle, name=path.name), uploaded_by=None
        )
    upload = services.lead_upload_import(upload_id=upload.pk)
    assert upload.status == LeadUpload.State.COMPLETED, upload.error
    return campaign


def searches(campaign: Campaign) -> dict[str, dict[str, str]]:
    """Pages to time, with queries taken from the campaign's own data."""
    in_campaign = Contact.objects.filter(campaign=campaign)
    contact = in_campaign.filter(phone__isnull=False, mobile__isnull=False, account__isnull=False)
    contact = contact.select_related("phone", "mobile", "account").order_by("id")[500]
    mobile, shared = contact.mobile.number[2:], contact.phone.number[2:]
    return {
        "list": {},
        "deep page (the middle one)": {"page": str(in_campaign.count() // 50 // 2)},
        "number typed any way": {"q": f"({mobile[:3]}) {mobile[3:6]}-{mobile[6:]}"},
        "shared office number": {"q": f"{shared[:3]}.{shared[3:6]}.{shared[6:]}"},
        "email": {"q": contact.email.upper()},
        "name prefix": {"q": contact.name[: max(4, len(contact.name) - 1)]},
        "company prefix": {"q": contact.account.name[:-4] if contact.account else "Company"},
    }


def log_outcomes(campaign: Campaign, count: int) -> None:
    """A day's work on the campaign: call outcomes on ``count`` contacts, a fifth of them
    "Call back later" due today, so the list shows its callbacks and last outcomes."""
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


def time_pages(client: Client, campaign: Campaign, rounds: int) -> dict[str, float]:
    url = f"/campaigns/{campaign.pk}/"
    medians = {}
    for label, params in searches(campaign).items():
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            response = client.get(url, params)
            samples.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, response.status_code
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, params)
        shown = len(response.context["page"].object_list)
        print(
            f"  {label:32} {describe(samples)}  queries {len(queries)}  rows {shown}  "
            f"{params.get('q', '')!r}"
        )
        medians[label] = statistics.median(samples)
    return medians


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()

    setup_test_environment()  # responses carry their template context (rows shown)
    caller, _ = get_user_model().objects.get_or_create(username="bench-caller")
    caller.groups.set([Group.objects.get(name=roles.CALLER)])
    client = Client()
    client.force_login(caller)

    with tempfile.TemporaryDirectory() as tmp:
        small_path, big_path = Path(tmp) / "small.csv", Path(tmp) / "big.csv"
        generate(small_path, 1_000)
        generate(big_path, args.rows)
        start = time.perf_counter()
        small = load(small_path, f"bench workspace small {time.time_ns()}")
        big = load(big_path, f"bench workspace big {time.time_ns()}")
        print(f"campaigns ready in {time.perf_counter() - start:.1f}s")
    results = {}
    for campaign in (small, big):
        campaign.callers.add(caller)
        log_outcomes(campaign, min(5_000, Contact.objects.filter(campaign=campaign).count() // 4))
        contacts = Contact.objects.filter(campaign=campaign).count()
        print(f"campaign of {contacts:,} contacts:")
        results[contacts] = time_pages(client, campaign, args.rounds)

    services.campaign_delete(campaign=small)
    start = time.perf_counter()
    deleted = services.campaign_delete(campaign=big)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"deleting the campaign of {deleted['contacts']:,} contacts and "
        f"{deleted['numbers']:,} numbers: {elapsed:.1f}s (peak RSS of this process {peak:.0f} MB)"
    )
    small_ms, big_ms = results[min(results)], results[max(results)]
    worst = max(big_ms, key=lambda label: big_ms[label])
    print(
        f"workspace at {max(results):,} contacts: worst page median {big_ms[worst]:.1f} ms "
        f"({worst}; {small_ms[worst]:.1f} ms at {min(results):,} contacts), "
        f"list {big_ms['list']:.1f} ms"
    )


if __name__ == "__main__":
    main()
