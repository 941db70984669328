"""The customer page (timeline + analytics) at 10 and 10,000 calls: time and query count.

Builds three profiles on PostgreSQL (no history, 10 calls, 10k calls plus 1k messages),
then renders each one's admin page as an Agent through Django's test client, several
rounds each. The profile with no history is the baseline measured in the same run
(the page without any timeline or chart work).

    DATABASE_URL=postgres://... .venv/bin/python bench/profile_page.py [--rounds 25]

Last line: the headline.
"""

import argparse
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import setup_django

setup_django()  # Django on PostgreSQL, migrated

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from crm import roles  # noqa: E402
from crm.models import Customer, PhoneNumber  # noqa: E402
from telephony import services  # noqa: E402
from telephony.models import Assistant, Call, Message  # noqa: E402

REASONS = [
    "Billing question",
    "Appointment change",
    "Technical support",
    "Cancellation",
    "New order",
    "Delivery status",
    "Complaint",
]


def profile(name: str, number: str, calls: int, messages: int) -> Customer:
    """The bench profile ``name`` with exactly this history (rebuilt when it differs)."""
    customer = Customer.objects.filter(name=name).first()
    if (
        customer is not None
        and customer.calls.count() == calls
        and customer.messages.count() == messages
    ):
        return customer
    rng = random.Random(name)
    now = timezone.now()
    with transaction.atomic():
        if customer is not None:
            customer.delete()
        customer = Customer.objects.create(name=name, source=Customer.Source.CALL)
        PhoneNumber.objects.create(customer=customer, number=number, type="mobile", sms=True)
        assistants = [Assistant.objects.get_or_create(name=n)[0] for n in ("Front desk", "Bot")]
        Call.objects.bulk_create(
            (
                Call(
                    customer=customer,
                    from_number=number,
                    to_number="+18005550100",
                    external_id=f"bench-{customer.pk}-{i}",
                    assistant=rng.choice(assistants),
                    status="completed",
                    started_at=now - timedelta(minutes=rng.randint(1, 2 * 365 * 24 * 60)),
                    duration_seconds=rng.randint(20, 900),
                    satisfaction=rng.choice([None, 1, 2, 3, 4, 5]),
                    reason=rng.choice(REASONS),
                    transcript="Caller: hello\nAssistant: hi, how can I help?\n" * 20,
                )
                for i in range(calls)
            ),
            batch_size=2000,
        )
        Message.objects.bulk_create(
            (
                Message(
                    customer=customer,
                    from_number=number,
                    to_number="+18005550100",
                    external_id=f"bench-sms-{customer.pk}-{i}",
                    body="Running late, sorry!",
                    sent_at=now - timedelta(minutes=rng.randint(1, 2 * 365 * 24 * 60)),
                )
                for i in range(messages)
            ),
            batch_size=2000,
        )
        services.customer_counters_recompute(customer_ids={customer.pk})
    customer.refresh_from_db()
    return customer


def background(customers: int, calls_each: int) -> None:
    """Other customers' calls, so the page reads a slice of a big table, not all of it."""
    prefix = "Bench background "
    if Customer.objects.filter(name__startswith=prefix).count() >= customers:
        return
    rng = random.Random(7)
    now = timezone.now()
    Customer.objects.filter(name__startswith=prefix).delete()
    for start in range(0, customers, 500):
        with transaction.atomic():
            batch = Customer.objects.bulk_create(
                Customer(name=f"{prefix}{i:05d}", source=Customer.Source.CALL)
                for i in range(start, min(start + 500, customers))
            )
            Call.objects.bulk_create(
                (
                    Call(
                        customer=customer,
                        from_number=f"+1559600{i % 10_000:04d}",
                        to_number="+18005550100",
                        external_id=f"bench-bg-{customer.pk}-{n}",
                        status="completed",
                        started_at=now - timedelta(minutes=rng.randint(1, 2 * 365 * 24 * 60)),
                        duration_seconds=rng.randint(20, 900),
                        satisfaction=rng.choice([None, 1, 2, 3, 4, 5]),
                        reason=rng.choice(REASONS),
                    )
                    for i, customer in enumerate(batch, start=start)
                    for n in range(calls_each)
                ),
                batch_size=5000,
            )
            services.customer_counters_recompute(customer_ids={c.pk for c in batch})


def agent_client() -> Client:
    user, _ = get_user_model().objects.get_or_create(
        username="bench-agent", defaults={"is_staff": True}
    )
    user.groups.add(Group.objects.get(name=roles.AGENT))
    client = Client()
    client.force_login(user)
    return client


def measure(client: Client, customer: Customer, rounds: int) -> tuple[list[float], int]:
    url = f"/admin/crm/customer/{customer.pk}/change/"
    for _ in range(3):  # warm-up
        assert client.get(url).status_code == 200
    # Counted by an execute wrapper: Django empties its query log when a request starts.
    queries: list[str] = []

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = client.get(url)
    assert response.status_code == 200
    if customer.interaction_count:
        assert b'id="customer-timeline"' in response.content
    timings = []
    for _ in range(rounds):
        began = time.perf_counter()
        client.get(url)
        timings.append((time.perf_counter() - began) * 1000)
    return timings, len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument(
        "--background-customers",
        type=int,
        default=4000,
        help="other customers with 50 calls each (the table the page reads a slice of)",
    )
    args = parser.parse_args()

    began = time.perf_counter()
    background(args.background_customers, 50)
    empty = profile("Bench profile, no history", "+15595550100", 0, 0)
    small = profile("Bench profile, 10 calls", "+15595550110", 10, 1)
    big = profile("Bench profile, 10k calls", "+15595550120", 10_000, 1_000)
    with connection.cursor() as cursor:
        # What autovacuum does in production: statistics and the visibility map (so the
        # covering index answers the analytics without visiting the table).
        cursor.execute("VACUUM ANALYZE telephony_call")
        cursor.execute("VACUUM ANALYZE telephony_message")
        cursor.execute("SELECT COUNT(*) FROM telephony_call")
        total = cursor.fetchone()[0]
    print(f"data ready in {time.perf_counter() - began:.1f} s: {total:,} calls in the table")

    client = agent_client()
    results = {}
    # Interleave the profiles round by round so machine noise hits them alike.
    for label in ("no history", "10 calls", "10k calls"):
        results[label] = []
    query_counts = {}
    for _ in range(3):
        for label, customer in (("no history", empty), ("10 calls", small), ("10k calls", big)):
            timings, query_counts[label] = measure(client, customer, max(1, args.rounds // 3))
            results[label].extend(timings)
    for label, timings in results.items():
        print(
            f"{label:>10}: median {statistics.median(timings):6.1f} ms, "
            f"p95 {sorted(timings)[int(0.95 * (len(timings) - 1))]:6.1f} ms, "
            f"{query_counts[label]} queries ({len(timings)} renders)"
        )
    base = statistics.median(results["no history"])
    small_ms = statistics.median(results["10 calls"])
    big_ms = statistics.median(results["10k calls"])
    same = query_counts["10 calls"] == query_counts["10k calls"]
    print(
        f"customer page: 10 calls {small_ms:.1f} ms, 10k calls {big_ms:.1f} ms "
        f"({big_ms / base:.2f}x the page with no history, {base:.1f} ms); queries "
        f"{query_counts['10 calls']} vs {query_counts['10k calls']} "
        f"({'same' if same else 'DIFFERENT'}) (target < 200 ms, same query count)"
    )


if __name__ == "__main__":
    main()
