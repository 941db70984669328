"""Search speed (target: p95 < 100 ms at 1M customers and 10M calls on PostgreSQL).

Builds N customers with realistic names (accents included), 1.3 numbers each, and M calls
on PostgreSQL with INSERT ... SELECT generate_series (skipped when the rows are there),
then times the search rule (crm/search.py) per kind of term: surname, first-name prefix,
part of an email, a full number in 4 formats, the last 4 digits; the customers list's
first page, the calls list's, and the header search box (/api/search/: every kind, its
queries counted). Beside each, Django's default ``search_fields`` (``icontains`` on name,
email and numbers, with DISTINCT) on the same data in the same run, and what each found.
Then the same customer queries on SQLite (the embedded default) at ``--sqlite-customers``.

    .venv/bin/python bench/search.py [--customers 1000000] [--calls 10000000]
                                     [--sqlite-customers 100000] [--rounds 15]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import ROOT, percentile

FIRST = (  # noqa: SIM905  (a list of names reads better as text)
    "Ana José María Lucía Sofía Mateo Noé Chloé Zoë Renée Hélène François Jürgen Björn "
    "Søren Łukasz Ólafur Iñaki Mónica Inés Andrés Ramón Raúl Joaquín Ángel Élodie Gaël "
    "Maëlle Anaïs Çağla Günther Małgorzata Tomáš Dávid Ömer John Mary James Patricia "
    "Robert Jennifer Michael Linda William Elizabeth David Barbara Richard Susan Joseph "
    "Jessica Thomas Sarah Charles Karen Daniel Nancy Matthew Lisa Anthony Betty Mark"
).split()
LAST = (  # noqa: SIM905
    "García Rodríguez Martínez Hernández López González Pérez Sánchez Ramírez Torres "
    "Flores Rivera Gómez Díaz Núñez Muñoz Peña Ibáñez Álvarez Jiménez Müller Schröder "
    "Weiß Krüger Jäger Böhm Dvořák Novák Kowalczyk Wójcik Søndergaard Åberg Østergaard "
    "Lefèvre Benoît Girard Bérubé Côté Gagné Doe Smith Johnson Williams Brown Jones "
    "Miller Davis Wilson Anderson Taylor Thomas Moore Jackson Martin Lee Thompson White "
    "Harris Clark Lewis Robinson Walker Young Allen King Wright Scott Green Baker Adams "
    "Nelson Hill Campbell Mitchell Roberts Carter Phillips Evans Turner Parker Collins"
).split()
AREAS = ("678", "404", "770", "212", "312", "415", "617", "713", "305", "206")

# What people type, by kind (the number terms are filled in from the data).
TERMS = {
    "surname": "garcia",
    "surname, accented": "Núñez",
    "first-name prefix": "mar",
    "two words": "ana garc",
    "email part": "rez12",
}


def sql_number(i: str) -> str:
    """The E.164 number of row ``i`` (an SQL expression): unique for i < 80,000,000, its
    last four digits spread evenly (as real numbers' are)."""
    areas = "ARRAY[" + ",".join(f"'{a}'" for a in AREAS) + "]"
    return (
        f"'+1' || ({areas})[1 + (({i}) / 10000) %% 10]"
        f" || lpad((200 + (({i}) / 100000) %% 800)::text, 3, '0')"
        f" || lpad((({i}) %% 10000)::text, 4, '0')"
    )


def py_number(i: int) -> str:
    return f"+1{AREAS[(i // 10000) % 10]}{200 + (i // 100000) % 800:03d}{i % 10000:04d}"


def fill_columns(cursor, table: str, given: dict[str, str]) -> tuple[str, str]:
    """Columns and SQL values for an INSERT: ``given``, plus a plain value for every other
    NOT NULL column without a default (other branches add columns to these tables)."""
    cursor.execute(
        "SELECT column_name, data_type, column_default, is_identity FROM "
        "information_schema.columns WHERE table_name = %s AND is_nullable = 'NO'",
        [table],
    )
    values = dict(given)
    for name, data_type, default, identity in cursor.fetchall():
        if name in values or default is not None or identity == "YES":
            continue
        if "timestamp" in data_type or data_type == "date":
            values[name] = "now()"
        elif data_type in ("integer", "bigint", "smallint", "numeric", "double precision"):
            values[name] = "0"
        elif data_type == "boolean":
            values[name] = "false"
        elif data_type in ("jsonb", "json"):
            values[name] = "'{}'"
        else:
            values[name] = "''"
    return ", ".join(values), ", ".join(values.values())


def build_postgresql(customers: int, calls: int) -> None:
    from django.db import connection

    first = "ARRAY[" + ",".join(f"'{n}'" for n in FIRST) + "]"
    last = "ARRAY[" + ",".join(f"'{n}'" for n in LAST) + "]"
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM crm_customer")
        have = cursor.fetchone()[0]
        if have < customers:
            started = time.perf_counter()
            cursor.execute("TRUNCATE crm_customer, telephony_call CASCADE")
            name = (
                f"({first})[1 + (i::bigint * 7919) %% {len(FIRST)}] || ' ' || "
                f"({last})[1 + (i::bigint * 104729 / 7) %% {len(LAST)}]"
            )
            columns, values = fill_columns(
                cursor,
                "crm_customer",
                {
                    "id": "i",
                    "name": name,
                    "email": f"lower(unaccent(replace({name}, ' ', '.'))) || i || '@example.com'",
                    "source": "'import'",
                    "interaction_count": "0",
                    "created_at": "now()",
                    "updated_at": "now()",
                },
            )
            cursor.execute(
                f"INSERT INTO crm_customer ({columns}) SELECT {values} "
                f"FROM generate_series(1, %s) AS i",
                [customers],
            )
            # 1.3 numbers each: every customer one, every third a second (rows N+1 ...).
            columns, values = fill_columns(
                cursor,
                "crm_phonenumber",
                {
                    "customer_id": "c",
                    "number": sql_number("n"),
                    "type": "'other'",
                    "sms": "false",
                    "type_source": "'import'",
                    "created_at": "now()",
                    "updated_at": "now()",
                },
            )
            cursor.execute(
                f"INSERT INTO crm_phonenumber ({columns}) SELECT {values} FROM ("
                f"SELECT i AS c, i AS n FROM generate_series(1, %s) AS i UNION ALL "
                f"SELECT i, %s + i / 3 FROM generate_series(3, %s, 3) AS i) AS rows",
                [customers, customers, customers],
            )
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('crm_customer', 'id'), %s)", [customers]
            )
            print(f"  built {customers:,} customers in {time.perf_counter() - started:.0f} s")
        cursor.execute("SELECT count(*) FROM telephony_call")
        have_calls = cursor.fetchone()[0]
        if have_calls < calls:
            started = time.perf_counter()
            cursor.execute("TRUNCATE telephony_call CASCADE")
            columns, values = fill_columns(
                cursor,
                "telephony_call",
                {
                    "customer_id": f"1 + i %% {customers}",
                    "direction": "'inbound'",
                    "channel": "'twilio'",
                    "from_number": sql_number(f"1 + i %% {customers}"),
                    "to_number": "'+18005550100'",
                    "external_id": "'CA' || md5(i::text)",
                    "status": "'completed'",
                    "started_at": "now() - make_interval(secs => i)",
                    "duration_seconds": "30 + i %% 600",
                    "reason": "''",
                    "transcript": "''",
                    "created_at": "now()",
                    "updated_at": "now()",
                },
            )
            step = 1_000_000
            for start in range(0, calls, step):
                cursor.execute(
                    f"INSERT INTO telephony_call ({columns}) SELECT {values} "
                    f"FROM generate_series(%s, %s) AS i",
                    [start + 1, min(calls, start + step)],
                )
            print(f"  built {calls:,} calls in {time.perf_counter() - started:.0f} s")
        for table in ("crm_customer", "crm_phonenumber", "telephony_call"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def timed(run, rounds: int) -> tuple[list[float], int, int]:
    """Milliseconds per run, the rows of the last run, the queries of one run."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    run()  # warm: the first run pays for parsing and the plan
    samples, rows = [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        rows = run()
        samples.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        run()
    return samples, rows, len(queries)


def line(label: str, samples: list[float], rows: int, queries: int) -> str:
    return (
        f"  {label:<34} median {statistics.median(samples):7.1f} ms  "
        f"p95 {percentile(samples, 95):7.1f} ms  {queries} q  found {rows:>6}"
    )


def measure(rounds: int, *, with_calls: bool) -> float:
    """Prints one line per kind, rule beside default; returns the worst p95 of the rule."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    from crm import search, selectors
    from crm.models import Customer
    from telephony.search import find_calls

    national = py_number(4321)[2:]
    terms = dict(TERMS)
    terms["number (678) 555-0100 style"] = f"({national[:3]}) {national[3:6]}-{national[6:]}"
    terms["number 678-555-0100 style"] = f"{national[:3]}-{national[3:6]}-{national[6:]}"
    terms["number +1 678 555 0100 style"] = f"+1 {national[:3]} {national[3:6]} {national[6:]}"
    terms["number 6785550100 style"] = national
    terms["last 4 digits"] = national[-4:]
    terms["last 7 digits, 555-0100 style"] = f"{national[3:6]}-{national[6:]}"

    live = selectors.customer_queryset()

    def rule(term):
        return lambda: len(list(selectors.customer_search(live, term)[:50]))

    def default(term):
        # Django's admin with search_fields = ("name", "email", "phone_numbers__number"):
        # icontains on each, DISTINCT for the join, newest first.
        condition = (
            Q(name__icontains=term)
            | Q(email__icontains=term)
            | Q(phone_numbers__number__icontains=term)
        )
        return lambda: len(list(live.filter(condition).distinct().order_by("-id")[:50]))

    worst = 0.0
    print("  customers list, first page of 50 (rule | Django's default icontains):")
    for kind, term in terms.items():
        samples, rows, queries = timed(rule(term), rounds)
        worst = max(worst, percentile(samples, 95))
        print(line(f"{kind} {term!r}", samples, rows, queries))
        samples, rows, queries = timed(default(term), max(3, rounds // 3))
        print(line("    default icontains", samples, rows, queries))
    user = get_user_model().objects.filter(is_superuser=True).first() or get_user_model()(
        is_superuser=True, is_staff=True, is_active=True
    )
    if with_calls:
        print("  calls list, first 10 by number and by customer name (rule):")
        for kind in ("last 4 digits", "number 6785550100 style", "surname"):
            query = search.parse(terms[kind])
            samples, rows, queries = timed(lambda q=query: len(find_calls(q, user, 10)), rounds)
            worst = max(worst, percentile(samples, 95))
            print(line(f"{kind} {terms[kind]!r}", samples, rows, queries))
        print("  header search box / api/search (every kind, 10 each):")
        for kind in ("surname", "last 4 digits", "number (678) 555-0100 style"):
            samples, rows, queries = timed(
                lambda t=terms[kind]: sum(
                    len(v)
                    for v in search.search_everything(term=t, user=user, limit=10)[1].values()
                ),
                rounds,
            )
            worst = max(worst, percentile(samples, 95))
            print(line(f"{kind} {terms[kind]!r}", samples, rows, queries))
    del Customer
    return worst


def sqlite_child(customers: int, rounds: int) -> None:
    """Runs in a subprocess with DATABASE_URL=sqlite:///…: the embedded default."""
    import django

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    call_command("migrate", verbosity=0, interactive=False)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        rows = []
        for i in range(1, customers + 1):
            name = f"{FIRST[(i * 7919) % len(FIRST)]} {LAST[(i * 104729 // 7) % len(LAST)]}"
            email = f"{name.replace(' ', '.').lower()}{i}@example.com"
            rows.append((i, name, email))
        cursor.executemany(
            "INSERT INTO crm_customer (id, name, email, source, interaction_count, created_at,"
            " updated_at) VALUES (%s, %s, %s, 'import', 0, datetime('now'), datetime('now'))",
            rows,
        )
        numbers = [(i, py_number(i)) for i in range(1, customers + 1)]
        numbers += [(i, py_number(customers + i // 3)) for i in range(3, customers + 1, 3)]
        cursor.executemany(
            "INSERT INTO crm_phonenumber (customer_id, number, type, sms, type_source,"
            " created_at, updated_at) VALUES (%s, %s, 'other', 0, 'import', datetime('now'),"
            " datetime('now'))",
            numbers,
        )
    print(f"  built {customers:,} customers in {time.perf_counter() - started:.0f} s")
    worst = measure(rounds, with_calls=False)
    print(f"  worst p95 on SQLite: {worst:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=10_000_000)
    parser.add_argument("--sqlite-customers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--sqlite-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sqlite_child:
        sqlite_child(args.sqlite_customers, args.rounds)
        return

    from _setup import setup_django

    setup_django()
    print(f"PostgreSQL: {args.customers:,} customers, {args.calls:,} calls")
    build_postgresql(args.customers, args.calls)
    worst = measure(args.rounds, with_calls=True)
    if args.sqlite_customers:
        print(f"SQLite: {args.sqlite_customers:,} customers")
        with tempfile.TemporaryDirectory() as var:
            env = {
                **os.environ,
                "DATABASE_URL": f"sqlite:///{var}/bench.sqlite3",
                "SWITCHBOARD_VAR_DIR": var,
                "CELERY_BROKER_URL": "filesystem://",
            }
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--sqlite-child",
                    "--sqlite-customers",
                    str(args.sqlite_customers),
                    "--rounds",
                    str(args.rounds),
                ],
                env=env,
                check=True,
            )
    print(
        f"search p95 at {args.customers:,} customers / {args.calls:,} calls on PostgreSQL: "
        f"worst kind {worst:.1f} ms (target < 100 ms)"
    )


if __name__ == "__main__":
    main()
