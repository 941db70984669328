"""The customer page with its reply box and notes, at no history, 10 calls and 10k calls.

Builds three profiles on PostgreSQL that differ only in their history: each holds the same
kinds of numbers (a Mobile + SMS number, an Office number on the do-not-call list, a Home
number opted out of SMS), so the card's badges and the reply box render on every page.
The 10-call profile adds a text and notes; the 10k-call profile adds 1,000 texts (in and
out, some sent by the agent), 200 notes (some on a call, some edited) and voicemails, in a
table of other customers' calls. Each page is rendered as an Agent through Django's test
client, the profiles interleaved round by round so machine noise hits them alike. The
profile with no history is the baseline measured in the same run.

    DATABASE_URL=postgres://.../bench_x .venv/bin/python bench/profile_page.py [--rounds 30]
    ... --profile    # also: cProfile of the 10k-call page and its queries, slowest first

Last line: the headline, the ratio to the page with no history last.
"""

import argparse
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import percentile, setup_django, show_profile

REASONS = [
    "Billing question",
    "Appointment change",
    "Technical support",
    "Cancellation",
    "New order",
    "Delivery status",
    "Complaint",
]
OUR_NUMBER = "+18005550100"
# Which page markup each render must hold: what an agent works with.
MUST_SHOW = (
    b'id="customer-card"',
    b'id="customer-reply"',
    b'name="body"',
    b'id="customer-note"',
    b"sb-flag-do_not_call",
    b"SMS opted out",
)


def profile(name: str, prefix: str, calls: int, messages: int, notes: int) -> Any:
    """The bench profile ``name`` with exactly this history (rebuilt when it differs)."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from crm.models import Customer, Note, NoteEdit, PhoneNumber
    from telephony import services
    from telephony.models import Assistant, Call, CallNote, Message

    customer = Customer.objects.filter(name=name).first()
    if (
        customer is not None
        and customer.calls.count() == calls
        and customer.messages.count() == messages
        and customer.notes.count() == notes
    ):
        return customer
    rng = random.Random(name)
    now = timezone.now()
    agent = bench_agent()
    other, _ = get_user_model().objects.get_or_create(
        username="bench-other-agent", defaults={"is_staff": True}
    )
    mobile, office, home = f"{prefix}0", f"{prefix}1", f"{prefix}2"
    with transaction.atomic():
        if customer is not None:
            customer.delete()
        customer = Customer.objects.create(
            name=name, email=f"{prefix[1:]}@bench.example.com", source=Customer.Source.CALL
        )
        PhoneNumber.objects.create(customer=customer, number=mobile, type="mobile", sms=True)
        PhoneNumber.objects.create(customer=customer, number=office, type="office")
        PhoneNumber.objects.create(
            customer=customer,
            number=home,
            type="home",
            sms_opted_out=True,
            sms_opted_out_at=now - timedelta(days=3),
        )
        assistants = [Assistant.objects.get_or_create(name=n)[0] for n in ("Front desk", "Bot")]
        made = Call.objects.bulk_create(
            (
                Call(
                    customer=customer,
                    from_number=rng.choice((mobile, mobile, office)),
                    to_number=OUR_NUMBER,
                    external_id=f"bench-{customer.pk}-{i}",
                    assistant=rng.choice(assistants),
                    status=rng.choice(("completed",) * 8 + ("no-answer",)),
                    started_at=now - timedelta(minutes=rng.randint(1, 2 * 365 * 24 * 60)),
                    duration_seconds=rng.randint(20, 900),
                    satisfaction=rng.choice([None, 1, 2, 3, 4, 5]),
                    reason=rng.choice(REASONS),
                    transcript="Caller: hello\nAssistant: hi, how can I help?\n" * 20,
                    **(
                        {
                            "voicemail": True,
                            "recording_url": f"https://api.twilio.com/bench/RE{i}",
                            "recording_sid": f"RE{customer.pk}x{i}",
                            "recording_seconds": rng.randint(5, 60),
                        }
                        if i % 10 == 0
                        else {}
                    ),
                )
                for i in range(calls)
            ),
            batch_size=2000,
        )
        Message.objects.bulk_create(
            (
                Message(
                    customer=customer,
                    direction="inbound" if i % 2 else "outbound",
                    from_number=mobile if i % 2 else OUR_NUMBER,
                    to_number=OUR_NUMBER if i % 2 else mobile,
                    external_id=f"bench-sms-{customer.pk}-{i}",
                    body="Running late, sorry!" if i % 2 else "No problem, see you soon.",
                    status="received" if i % 2 else "delivered",
                    sent_by=None if i % 2 else agent,
                    sent_at=now - timedelta(minutes=rng.randint(1, 2 * 365 * 24 * 60)),
                )
                for i in range(messages)
            ),
            batch_size=2000,
        )
        made_notes = []
        for i in range(notes):
            note = Note.objects.create(
                customer=customer,
                author=agent if i % 2 else other,
                text=f"Bench note {i}: promised a call back about the invoice.",
            )
            made_notes.append(note)
        # Spread the notes over the history (created_at is auto_now_add).
        for note in made_notes:
            note.created_at = now - timedelta(minutes=rng.randint(1, 2 * 365 * 24 * 60))
        Note.objects.bulk_update(made_notes, ["created_at"], batch_size=1000)
        NoteEdit.objects.bulk_create(
            NoteEdit(note=note, text_before="first draft", edited_by=note.author)
            for note in made_notes[::5]
        )
        if made:
            CallNote.objects.bulk_create(
                CallNote(call=made[i % len(made)], note=note)
                for i, note in enumerate(made_notes[::3])
            )
        services.customer_counters_recompute(customer_ids={customer.pk})
    customer.refresh_from_db()
    return customer


def background(customers: int, calls_each: int) -> None:
    """Other customers' calls, so the page reads a slice of a big table, not all of it."""
    from django.db import transaction
    from django.utils import timezone

    from crm.models import Customer
    from telephony import services
    from telephony.models import Call

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
                        to_number=OUR_NUMBER,
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


def bench_agent() -> Any:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from crm import roles

    user, _ = get_user_model().objects.get_or_create(
        username="bench-agent", defaults={"is_staff": True}
    )
    user.groups.add(Group.objects.get(name=roles.AGENT))
    return user


def page_url(customer: Any) -> str:
    return f"/admin/crm/customer/{customer.pk}/change/"


def count_queries(client: Any, url: str) -> tuple[Any, list[tuple[str, float]]]:
    """One render with each statement and its time (an execute wrapper: Django empties
    its own query log when a request starts)."""
    from django.db import connection

    queries: list[tuple[str, float]] = []

    def timed(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries.append((sql, (time.perf_counter() - began) * 1000))

    with connection.execute_wrapper(timed):
        response = client.get(url)
    return response, queries


def check(response: Any, label: str, customer: Any) -> None:
    assert response.status_code == 200, (label, response.status_code)
    missing = [m.decode() for m in MUST_SHOW if m not in response.content]
    assert not missing, f"{label}: the page lacks {missing}"
    if customer.interaction_count:
        assert b'id="customer-timeline"' in response.content
        assert b'data-kind="call"' in response.content, label


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="renders of each page")
    parser.add_argument(
        "--background-customers",
        type=int,
        default=4000,
        help="other customers with 50 calls each (the table the page reads a slice of)",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the 10k-call page")
    parser.add_argument("--top", type=int, default=45, help="functions shown by --profile")
    args = parser.parse_args()
    setup_django()

    from django.db import connection
    from django.test import Client

    from campaigns.models import DoNotCallNumber
    from telephony.models import TelephonySettings

    began = time.perf_counter()
    background(args.background_customers, 50)
    pages = {
        "no history": profile("Bench profile, no history", "+1559555010", 0, 0, 0),
        "10 calls": profile("Bench profile, 10 calls", "+1559555011", 10, 1, 3),
        "10k calls": profile("Bench profile, 10k calls", "+1559555012", 10_000, 1_000, 200),
    }
    # The Office numbers are on the do-not-call list; the reply box needs a from-number
    # even for a customer who never texted.
    for prefix in ("+1559555010", "+1559555011", "+1559555012"):
        DoNotCallNumber.objects.get_or_create(number=f"{prefix}1", defaults={"reason": "bench"})
    settings = TelephonySettings.load()
    if not settings.sms_from:
        settings.sms_from = OUR_NUMBER
        settings.save()
    with connection.cursor() as cursor:
        # What autovacuum does in production: statistics and the visibility map.
        for table in ("telephony_call", "telephony_message", "crm_note", "crm_customer"):
            cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute("SELECT COUNT(*) FROM telephony_call")
        total = cursor.fetchone()[0]
    print(f"data ready in {time.perf_counter() - began:.1f} s: {total:,} calls in the table")

    client = Client()
    client.force_login(bench_agent())
    results: dict[str, list[float]] = {label: [] for label in pages}
    # This process's CPU time per render: the page's own work, less sensitive than the
    # wall clock to other work on the machine (the database's share is not in it).
    cpu: dict[str, list[float]] = {label: [] for label in pages}
    query_counts: dict[str, int] = {}
    for label, customer in pages.items():
        for _ in range(3):  # warm-up: templates, connections, caches
            client.get(page_url(customer))
        # The fewest of three renders: a settings cache that expires now and then adds a
        # query to whichever page comes next, whatever its history.
        counted = []
        for _ in range(3):
            response, queries = count_queries(client, page_url(customer))
            check(response, label, customer)
            counted.append(len(queries))
        query_counts[label] = min(counted)
    # Interleaved, a few renders of each page per turn, so noise hits the pages alike.
    per_turn = 3
    for _ in range(max(1, args.rounds // per_turn)):
        for label, customer in pages.items():
            url = page_url(customer)
            for _ in range(per_turn):
                t0, c0 = time.perf_counter(), time.process_time()
                response = client.get(url)
                results[label].append((time.perf_counter() - t0) * 1000)
                cpu[label].append((time.process_time() - c0) * 1000)
                assert response.status_code == 200
    for label, timings in results.items():
        print(
            f"{label:>10}: median {statistics.median(timings):6.1f} ms, "
            f"p95 {percentile(timings, 95):6.1f} ms, "
            f"CPU median {statistics.median(cpu[label]):5.1f} ms, "
            f"{query_counts[label]} queries ({len(timings)} renders)"
        )
    if args.profile:
        show_profile(client, page_url(pages["10k calls"]), args.top, "the 10k-call page")
    base = statistics.median(results["no history"])
    small_ms = statistics.median(results["10 calls"])
    big_ms = statistics.median(results["10k calls"])
    big_p95 = percentile(results["10k calls"], 95)
    counts = [query_counts[label] for label in pages]
    same = "same" if counts[1] == counts[2] else "DIFFERENT"
    print(
        f"customer page with reply box and notes: 10k calls median {big_ms:.1f} ms "
        f"(p95 {big_p95:.1f}), 10 calls {small_ms:.1f} ms, no history {base:.1f} ms; queries "
        f"{counts[0]}/{counts[1]}/{counts[2]} ({same} at 10 and 10k); CPU 10k / no history "
        f"{statistics.median(cpu['10k calls']) / statistics.median(cpu['no history']):.2f}x; "
        f"target < 100 ms and <= 1.3x: 10k calls / no history = {big_ms / base:.2f}x"
    )


if __name__ == "__main__":
    main()
