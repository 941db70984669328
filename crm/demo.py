"""Demo data for crm: role users, customers with mixed numbers, and a bulk loader.

Everything here is idempotent: running it again adds nothing already there.
"""

import secrets
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone

from crm import roles
from crm.db import is_postgresql
from crm.models import Customer, PhoneNumber
from crm.phones import normalize
from crm.services import customer_create, match_suggestions_refresh, phone_number_add

DEMO_USERS = [
    ("admin", roles.ADMINISTRATOR, True),
    ("agent", roles.AGENT, False),
    ("caller", roles.CALLER, False),
]

# (name, email, [(number, type, sms)]). The Garcias share a home landline; Keller
# Williams' switchboard sits on three profiles as Office.
DEMO_CUSTOMERS: list[tuple[str, str, list[tuple[str, str, bool]]]] = [
    ("Jane Doe", "jane.doe@example.com", [("(678)-999 8212", "mobile", True)]),
    (
        "Maria Garcia",
        "maria.garcia@example.com",
        [("+1 404 555 0142", "home", False), ("404-555-0199", "mobile", True)],
    ),
    (
        "Luis Garcia",
        "luis.garcia@example.com",
        [("+1 404 555 0142", "home", False), ("404 555 0177", "mobile", False)],
    ),
    ("Ana Garcia", "ana.garcia@example.com", [("+1 404 555 0142", "home", False)]),
    (
        "John Smith",
        "john.smith@kw.example.com",
        [("212-761-2846", "office", False), ("(646) 555-0111", "mobile", True)],
    ),
    (
        "Priya Patel",
        "priya.patel@kw.example.com",
        [("212-761-2846", "office", False), ("646 555 0112", "other", False)],
    ),
    ("Tom Becker", "tom.becker@kw.example.com", [("212-761-2846", "office", False)]),
    ("Chen Wei", "chen.wei@example.com", [("+1 832 723 4097", "other", False)]),
    (
        "Olivia Brown",
        "olivia.brown@example.com",
        [("312 555 0150", "mobile", True), ("312 555 0160", "office", False)],
    ),
    ("Noah Wilson", "noah.wilson@example.com", [("415-555-0133", "other", False)]),
    ("Emma Johnson", "emma.johnson@example.com", [("+44 20 7183 8750", "office", False)]),
    ("Liam Martinez", "liam.martinez@example.com", [("305 555 0188", "mobile", False)]),
    ("Sophia Lee", "sophia.lee@example.com", [("+1 (206) 555-0123", "home", False)]),
    ("Mason Davis", "", [("617 555 0101", "other", False)]),
    ("", "unknown.caller@example.com", [("702-555-0191", "other", False)]),
    # Likely duplicates, for the match suggestions: the same email typed differently, and
    # a number one profile holds as its own that another holds as Home.
    ("J. Doe", "Jane.Doe@example.com", [("404 555 0300", "other", False)]),
    ("Wei Chen", "", [("(832) 723-4097", "home", False)]),
]

BULK_EMAIL_DOMAIN = "bulk.example.com"


def ensure_users(credentials_file: str) -> list[tuple[str, str, str]]:
    """Demo logins per role. Passwords are generated once and kept under var/ (not git)."""
    from pathlib import Path

    path = Path(credentials_file)
    known: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            username, _, password = line.partition(" ")
            known[username] = password
    User = get_user_model()
    result = []
    for username, role, superuser in DEMO_USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            password = secrets.token_urlsafe(9)
            user = User.objects.create_user(
                username=username,
                password=password,
                email=f"{username}@switchboard.example.com",
                is_staff=role in roles.STAFF_ROLES,
                is_superuser=superuser,
            )
            known[username] = password
        user.groups.add(Group.objects.get(name=role))
        result.append((username, role, known.get(username, "(set before; unchanged)")))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{u} {p}\n" for u, p in known.items()))
    path.chmod(0o600)
    return result


@transaction.atomic
def ensure_customers() -> int:
    created = 0
    now = timezone.now()
    for index, (name, email, numbers) in enumerate(DEMO_CUSTOMERS):
        lookup = {"email": email} if email else {"name": name, "email": ""}
        customer = Customer.objects.filter(**lookup).first()
        if customer is None:
            customer = customer_create(
                name=name, email=email, source=Customer.Source.MANUAL, cause="demo data"
            )
            customer.created_at = now - timedelta(days=40 - index)
            customer.save(update_fields=["created_at"])
            created += 1
        for number, type_, sms in numbers:
            if not customer.phone_numbers.filter(number=normalize(number)).exists():
                phone_number_add(
                    customer=customer, number=number, type=type_, sms=sms, cause="demo data"
                )
    return created


def bulk_number(prefix: str, i: int) -> str:
    """A valid, distinct NANP number per ``i`` (up to 7M per prefix)."""
    exchange = 200 + (i // 10_000) % 700
    return f"+1{prefix}{exchange}{i % 10_000:04d}"


def ensure_bulk_customers(total: int, progress: Callable[[int], None] | None = None) -> int:
    """Make sure ``total`` bulk customers exist; returns how many were added.

    Each gets a unique Mobile; every 3rd shares an Office switchboard with 49 others,
    every 5th has a Home number. PostgreSQL loads with COPY; SQLite with bulk_create.
    """
    existing = Customer.objects.filter(email__endswith=f"@{BULK_EMAIL_DOMAIN}").count()
    if existing >= total:
        return 0
    start, stop = existing, total
    now = timezone.now()
    if is_postgresql():
        _copy_bulk(start, stop, now, progress)
    else:
        _bulk_create(start, stop, now, progress)
    return stop - start


def _bulk_customer(i: int) -> tuple[str, str]:
    return f"Bulk Customer {i:07d}", f"customer{i:07d}@{BULK_EMAIL_DOMAIN}"


def _bulk_numbers(i: int) -> list[tuple[str, str, bool]]:
    numbers = [(bulk_number("305", i), "mobile", i % 2 == 0)]
    if i % 3 == 0:
        numbers.append((bulk_number("404", i // 50), "office", False))
    if i % 5 == 0:
        numbers.append((bulk_number("770", i), "home", False))
    return numbers


@transaction.atomic
def _copy_bulk(start: int, stop: int, now, progress) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM crm_customer")
        first_id = cursor.fetchone()[0] + 1
        raw = cursor.cursor  # psycopg 3 cursor: COPY support
        with raw.copy(
            "COPY crm_customer (id, name, email, source, interaction_count, "
            "created_at, updated_at) FROM STDIN"
        ) as copy:
            for offset, i in enumerate(range(start, stop)):
                name, email = _bulk_customer(i)
                copy.write_row((first_id + offset, name, email, "import", 0, now, now))
                if progress and offset % 100_000 == 0:
                    progress(offset)
        with raw.copy(
            "COPY crm_phonenumber (customer_id, number, type, sms, type_source, "
            "created_at, updated_at) FROM STDIN"
        ) as copy:
            for offset, i in enumerate(range(start, stop)):
                for number, type_, sms in _bulk_numbers(i):
                    copy.write_row((first_id + offset, number, type_, sms, "import", now, now))
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('crm_customer', 'id'), "
            "(SELECT MAX(id) FROM crm_customer))"
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE crm_customer")
        cursor.execute("ANALYZE crm_phonenumber")


def _bulk_create(start: int, stop: int, now, progress) -> None:
    batch = 5_000
    for chunk_start in range(start, stop, batch):
        chunk = range(chunk_start, min(chunk_start + batch, stop))
        with transaction.atomic():
            customers = Customer.objects.bulk_create(
                [
                    Customer(name=_bulk_customer(i)[0], email=_bulk_customer(i)[1], source="import")
                    for i in chunk
                ]
            )
            PhoneNumber.objects.bulk_create(
                [
                    PhoneNumber(customer=c, number=n, type=t, sms=s, type_source="import")
                    for c, i in zip(customers, chunk, strict=True)
                    for n, t, s in _bulk_numbers(i)
                ]
            )
        if progress:
            progress(chunk_start - start)


def credentials_path() -> str:
    return str(settings.VAR_DIR / "demo_logins.txt")


def seed(stdout) -> None:
    created = ensure_customers()
    matches = match_suggestions_refresh()
    stdout.write(
        f"crm: {created} demo customers added ({len(DEMO_CUSTOMERS)} in the demo set), "
        f"{matches} possible matches found."
    )
