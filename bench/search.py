"""Search speed (target: p95 < 100 ms at 1M customers and 10M calls on PostgreSQL).

Builds N customers with realistic names (accents, apostrophes, hyphenated and double
surnames), 1.3 numbers each, M calls (ten per customer, from their number) and a campaign
of leads at companies, on the benchmarks' PostgreSQL database with INSERT ... SELECT
generate_series (indexes dropped during the load and built after it; the data is kept
and reused by the next run when its size and generator version match). Then, per kind of
term (surname, first-name prefix, email part, a full number in 4 formats, the last 4
digits, company), the search rule (crm/search.py):

- the customers list / ``GET /api/customers/?search=``: the first page of 50;
- the header search box / ``GET /api/search/``: every kind (customers, leads, calls,
  owned numbers), 10 each;

each with its median, p95 and query count, beside Django's default ``search_fields``
(``icontains`` on name, email and numbers, duplicates removed as the changelist does) on
the same data in the same run, and what each found. ``--explain`` prints EXPLAIN ANALYZE of
every query the rule runs per kind. Then the same terms on SQLite (the embedded default)
at ``--sqlite-customers``. The last line is the headline.

    nice -n 10 .venv/bin/python bench/search.py [--customers 1000000] [--calls 10000000]
        [--leads 100000] [--sqlite-customers 100000] [--rounds 15] [--explain]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import ROOT, percentile

FIRST = (  # noqa: SIM905  (a list of names reads better as text)
    "Ana José María Lucía Sofía Mateo Noé Chloé Zoë Renée Hélène François Jürgen Björn "
    "Søren Łukasz Ólafur Iñaki Mónica Inés Andrés Ramón Raúl Joaquín Ángel Élodie Gaël "
    "Maëlle Anaïs Çağla Günther Małgorzata Tomáš Dávid Ömer John Mary James Patricia "
    "Robert Jennifer Michael Linda William Elizabeth David Barbara Richard Susan Joseph "
    "Jessica Thomas Sarah Charles Karen Daniel Nancy Matthew Lisa Anthony Betty Mark "
    "Marco Martina Marcel Mariam Nguyen Wei Priya Aisha Fatima Olumide Siobhán Seán"
).split()
LAST = (  # noqa: SIM905
    "García Rodríguez Martínez Hernández López González Pérez Sánchez Ramírez Torres "
    "Flores Rivera Gómez Díaz Núñez Muñoz Peña Ibáñez Álvarez Jiménez Müller Schröder "
    "Weiß Krüger Jäger Böhm Dvořák Novák Kowalczyk Wójcik Søndergaard Åberg Østergaard "
    "Lefèvre Benoît Girard Bérubé Côté Gagné Doe Smith Johnson Williams Brown Jones "
    "Miller Davis Wilson Anderson Taylor Thomas Moore Jackson Martin Lee Thompson White "
    "Harris Clark Lewis Robinson Walker Young Allen King Wright Scott Green Baker Adams "
    "Nelson Hill Campbell Mitchell Roberts Carter Phillips Evans Turner Parker Collins "
    "O'Brien D'Angelo N'Diaye O'Connor Van-der-Berg Nakamura Kim Patel Singh Okafor"
).split()
COMPANY = (  # noqa: SIM905
    "Logística Construcciones Bäckerei Plomberie Consulting Dental Motors Transportes "
    "Électricité Holdings Seguros Imprenta Zahnarzt Café Ingeniería Partners"
).split()
AREAS = ("678", "404", "770", "212", "312", "415", "617", "713", "305", "206")
# Bumped when the generator changes, so a kept database is rebuilt rather than measured.
VERSION = 3
STAMP_TABLE = "bench_search_built"
SAVED_INDEXES = "bench_search_dropped_indexes"


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


def py_name(i: int) -> str:
    """The name of customer ``i``, as ``SQL_NAME`` makes it."""
    name = f"{FIRST[(i * 7919) % len(FIRST)]} {LAST[(i * 104729 // 7) % len(LAST)]}"
    if i % 4 == 0:  # a second surname, every other one hyphenated
        name += ("-" if i % 8 == 0 else " ") + LAST[(i * 31) % len(LAST)]
    return name


# %(first)s and %(last)s are the lists as text[] parameters.
SQL_NAME = (
    f"(%(first)s::text[])[1 + (i::bigint * 7919) %% {len(FIRST)}] || ' ' || "
    f"(%(last)s::text[])[1 + (i::bigint * 104729 / 7) %% {len(LAST)}] || CASE WHEN i %% 4 = 0 THEN "
    "(CASE WHEN i %% 8 = 0 THEN '-' ELSE ' ' END) || (%(last)s::text[])[1 + (i::bigint * 31) "
    f"%% {len(LAST)}] ELSE '' END"
)


def py_email(i: int, name: str) -> str:
    from crm.search import fold

    return ".".join(fold(name).split()) + f"{i}@example.com"


def fill_columns(cursor, table: str, given: dict[str, str]) -> tuple[str, str]:
    """Columns and SQL values for an INSERT: ``given``, plus a plain value for every other
    NOT NULL column without a default (other branches add columns to these tables)."""
    cursor.execute(
        "SELECT column_name, data_type, column_default, is_identity, is_generated FROM "
        "information_schema.columns WHERE table_name = %s AND is_nullable = 'NO'",
        [table],
    )
    values = dict(given)
    for name, data_type, default, identity, generated in cursor.fetchall():
        if name in values or default is not None or identity == "YES" or generated != "NEVER":
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


def restore_indexes(cursor) -> None:
    """Indexes a load dropped come back (also after a load that was killed)."""
    cursor.execute(f"CREATE TABLE IF NOT EXISTS {SAVED_INDEXES} (name text, definition text)")
    cursor.execute(f"SELECT name, definition FROM {SAVED_INDEXES}")
    for name, definition in cursor.fetchall():
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [name])
        if cursor.fetchone() is None:
            started = time.perf_counter()
            cursor.execute(definition)
            print(f"  index {name} built in {time.perf_counter() - started:.0f} s", flush=True)
    cursor.execute(f"DELETE FROM {SAVED_INDEXES}")


def drop_indexes(cursor, tables: list[str]) -> None:
    """Drop every index of ``tables`` that backs no constraint (saved first): a load into
    a table without them, then one sorted build each, is several times faster."""
    cursor.execute(f"CREATE TABLE IF NOT EXISTS {SAVED_INDEXES} (name text, definition text)")
    cursor.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i JOIN pg_class c ON c.relname = "
        "i.indexname WHERE i.tablename = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint "
        "k WHERE k.conindid = c.oid)",
        [tables],
    )
    for name, definition in cursor.fetchall():
        cursor.execute(f"INSERT INTO {SAVED_INDEXES} VALUES (%s, %s)", [name, definition])
        cursor.execute(f'DROP INDEX "{name}"')


def built(cursor, what: str) -> int:
    cursor.execute(f"CREATE TABLE IF NOT EXISTS {STAMP_TABLE} (what text, rows bigint, v int)")
    cursor.execute(f"SELECT rows FROM {STAMP_TABLE} WHERE what = %s AND v = %s", [what, VERSION])
    row = cursor.fetchone()
    return row[0] if row else -1


def stamp(cursor, what: str, rows: int) -> None:
    cursor.execute(f"DELETE FROM {STAMP_TABLE} WHERE what = %s", [what])
    cursor.execute(f"INSERT INTO {STAMP_TABLE} VALUES (%s, %s, %s)", [what, rows, VERSION])


def build_customers(cursor, customers: int) -> None:
    started = time.perf_counter()
    cursor.execute("TRUNCATE crm_customer, telephony_call CASCADE")
    drop_indexes(cursor, ["crm_customer", "crm_phonenumber"])
    name = SQL_NAME
    email = (
        f"regexp_replace(lower(unaccent({name})), '[^a-z0-9]+', '.', 'g') || i || '@example.com'"
    )
    columns, values = fill_columns(
        cursor,
        "crm_customer",
        {
            "id": "i",
            "name": name,
            "email": email,
            "source": "'import'",
            "interaction_count": "10",
            "created_at": "now()",
            "updated_at": "now()",
        },
    )
    names = {"first": FIRST, "last": LAST, "n": customers}
    cursor.execute(
        f"INSERT INTO crm_customer ({columns}) SELECT {values} FROM generate_series(1, %(n)s) AS i",
        names,
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
    cursor.execute("SELECT setval(pg_get_serial_sequence('crm_customer', 'id'), %s)", [customers])
    print(f"  loaded {customers:,} customers in {time.perf_counter() - started:.0f} s", flush=True)
    restore_indexes(cursor)
    stamp(cursor, "customers", customers)
    stamp(cursor, "calls", 0)


def build_calls(cursor, customers: int, calls: int) -> None:
    started = time.perf_counter()
    cursor.execute("TRUNCATE telephony_call CASCADE")
    drop_indexes(cursor, ["telephony_call"])
    columns, values = fill_columns(
        cursor,
        "telephony_call",
        {
            "customer_id": f"1 + i %% {customers}",
            "direction": "'inbound'",
            "channel": "'twilio'",
            "from_number": sql_number(f"1 + i %% {customers}"),
            "to_number": "'+18005550100'",
            "external_id": "'CA' || lpad(i::text, 32, '0')",
            "status": "'completed'",
            "started_at": "now() - make_interval(secs => i * 3)",
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
    print(f"  loaded {calls:,} calls in {time.perf_counter() - started:.0f} s", flush=True)
    restore_indexes(cursor)
    stamp(cursor, "calls", calls)


def build_leads(cursor, leads: int) -> None:
    """One campaign of ``leads`` contacts at ``leads / 20`` companies (the company kind)."""
    from campaigns.models import Campaign

    started = time.perf_counter()
    Campaign.objects.filter(name="bench search").delete()
    campaign = Campaign.objects.create(name="bench search")
    companies = max(1, leads // 20)
    columns, values = fill_columns(
        cursor,
        "campaigns_account",
        {
            "campaign_id": str(campaign.pk),
            "name": f"(%(last)s::text[])[1 + (i * 7) %% {len(LAST)}] || ' ' || "
            f"(%(company)s::text[])[1 + i %% {len(COMPANY)}] || ' ' || i",
            "status": "'active'",
            "created_at": "now()",
        },
    )
    cursor.execute(
        f"INSERT INTO campaigns_account ({columns}) SELECT {values} "
        f"FROM generate_series(1, %(k)s) AS i",
        {"last": LAST, "company": COMPANY, "k": companies},
    )
    columns, values = fill_columns(
        cursor,
        "campaigns_contact",
        {
            "campaign_id": str(campaign.pk),
            "account_id": "(SELECT min(id) FROM campaigns_account WHERE campaign_id = "
            f"{campaign.pk}) + i %% %(k)s",
            "name": SQL_NAME,
            "email": "'lead' || i || '@example.net'",
            "extra": "'{}'",
            "status": "'active'",
            "dedup_key": "'bench' || i",
            "created_at": "now()",
        },
    )
    cursor.execute(
        f"INSERT INTO campaigns_contact ({columns}) SELECT {values} "
        f"FROM generate_series(1, %(n)s) AS i",
        {"first": FIRST, "last": LAST, "k": companies, "n": leads},
    )
    cursor.execute("ANALYZE campaigns_account")
    cursor.execute("ANALYZE campaigns_contact")
    print(f"  loaded {leads:,} leads in {time.perf_counter() - started:.0f} s", flush=True)
    stamp(cursor, "leads", leads)


def build_postgresql(customers: int, calls: int, leads: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        cursor.execute("SET synchronous_commit = off")
        restore_indexes(cursor)
        if built(cursor, "customers") != customers:
            build_customers(cursor, customers)
        if built(cursor, "calls") != calls:
            build_calls(cursor, customers, calls)
        if built(cursor, "leads") != leads:
            build_leads(cursor, leads)
        for table in ("crm_customer", "crm_phonenumber", "telephony_call"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def terms() -> dict[str, str]:
    national = py_number(4321)[2:]
    return {
        "surname": "garcia",
        "surname, accented": "Núñez",
        "surname with apostrophe": "o'brien",
        "first-name prefix": "mar",
        "two words": "ana garc",
        "email part": "rez12",
        "number (678) 555-0100": f"({national[:3]}) {national[3:6]}-{national[6:]}",
        "number 678-555-0100": f"{national[:3]}-{national[3:6]}-{national[6:]}",
        "number +1 678 555 0100": f"+1 {national[:3]} {national[3:6]} {national[6:]}",
        "number 6785550100": national,
        "last 4 digits": national[-4:],
        "company": "backerei",
    }


def timed(run: Callable[[], int], rounds: int) -> tuple[list[float], int, int]:
    """Milliseconds per run, the rows of the last run, the queries of one run (counted on
    the first, untimed run, which also pays for parsing and planning)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        run()
    samples, rows = [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        rows = run()
        samples.append((time.perf_counter() - started) * 1000)
    return samples, rows, len(queries)


def line(label: str, samples: list[float], rows: int, queries: int) -> str:
    return (
        f"  {label:<40} median {statistics.median(samples):7.1f} ms  "
        f"p95 {percentile(samples, 95):7.1f} ms  {queries:2d} q  found {rows:>5}"
    )


def django_default(model, search_fields: tuple[str, ...], order: str):
    """What Django's admin does with ``search_fields`` alone: icontains per word and field,
    duplicates from a to-many join removed with EXISTS as the changelist does."""
    from django.contrib.admin import AdminSite, ModelAdmin
    from django.db.models import Exists, OuterRef

    admin = type("Default", (ModelAdmin,), {"search_fields": search_fields})(model, AdminSite())
    root = model._default_manager.all()

    def search(term: str, size: int) -> int:
        found, duplicates = admin.get_search_results(None, root, term)
        if duplicates:
            found = root.filter(Exists(found.filter(pk=OuterRef("pk"))))
        return len(list(found.order_by(order)[:size]))

    return search


def explain(label: str, run: Callable[[], int]) -> None:
    """EXPLAIN ANALYZE of every query one run of ``run`` makes."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        run()
    print(f"  -- {label}: {len(captured)} queries")
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            plan = [row[0] for row in cursor.fetchall()]
            print(f"     {sql[:300]}")
            for row in plan:
                print(f"       {row}")


def measure(rounds: int, *, everything: bool, show_plans: bool) -> float:
    """One line per kind and surface, the rule beside the default; the rule's worst p95
    (customers list, header search without the lead kind, which campaigns/search.py
    answers and is printed on its own line)."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from crm import search, selectors
    from crm.models import Customer

    live = selectors.customer_queryset()
    user = get_user_model()(is_superuser=True, is_staff=True, is_active=True)
    default = django_default(Customer, ("name", "email", "phone_numbers__number"), "-id")
    kinds = search.search_registry.for_user(user)

    def page(term: str) -> Callable[[], int]:
        return lambda: len(list(selectors.customer_search(live, term)[:50]))

    def header(term: str, only: str | None = None, but: str | None = None):
        def run() -> int:
            query = search.parse(term)
            wanted = [k for k in kinds if k.kind == only or (only is None and k.kind != but)]
            return sum(len(k.find(query, user, 10)) for k in wanted)

        return run

    def floor() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return len(cursor.fetchall())

    # What one round trip costs on this machine now: a loaded server inflates every query.
    samples, rows, queries = timed(floor, rounds * 3)
    print(line("floor: one round trip (SELECT 1)", samples, rows, queries), flush=True)
    worst = 0.0
    for kind, term in terms().items():
        print(f"{kind} {term!r}:", flush=True)
        surfaces = [("customers list / api ?search=, page 1", page(term), True)]
        if everything:
            surfaces.append(
                ("header search, all but leads (10 each)", header(term, but="lead"), True)
            )
            surfaces.append(("  of which calls", header(term, only="call"), False))
            surfaces.append(("  leads (campaigns/search.py)", header(term, only="lead"), False))
            surfaces.append(("header search / api/search, all kinds", header(term), False))
        for label, run, counts in surfaces:
            samples, rows, queries = timed(run, rounds)
            if counts:
                worst = max(worst, percentile(samples, 95))
            print(line(label, samples, rows, queries), flush=True)
            if show_plans and counts:
                explain(f"{kind}, {label}", run)
        samples, rows, queries = timed(lambda t=term: default(t, 50), max(2, rounds // 5))
        print(line("Django default icontains, page 1", samples, rows, queries), flush=True)
    if everything:
        from telephony.models import Call

        calls_default = django_default(
            Call, ("from_number", "to_number", "customer__name"), "-started_at"
        )
        print("Django default icontains on the calls list (search_fields from, to, customer):")
        for kind in ("surname", "last 4 digits"):
            term = terms()[kind]
            samples, rows, queries = timed(lambda t=term: calls_default(t, 50), 2)
            print(line(f"{kind} {term!r}", samples, rows, queries), flush=True)
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
            name = py_name(i)
            rows.append((i, name, py_email(i, name)))
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
    cursor = connection.cursor()
    cursor.execute("ANALYZE")
    print(f"  built {customers:,} customers in {time.perf_counter() - started:.0f} s")
    worst = measure(rounds, everything=False, show_plans=False)
    print(f"SQLite worst p95 (customers list): {worst:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=10_000_000)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--sqlite-customers", type=int, default=100_000, help="0: skip SQLite")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE per kind")
    parser.add_argument("--sqlite-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sqlite_child:
        sqlite_child(args.sqlite_customers, args.rounds)
        return

    from _setup import setup_django

    setup_django()
    print(f"PostgreSQL: {args.customers:,} customers, {args.calls:,} calls, {args.leads:,} leads")
    build_postgresql(args.customers, args.calls, args.leads)
    worst = measure(args.rounds, everything=True, show_plans=args.explain)
    if args.sqlite_customers:
        print(f"SQLite: {args.sqlite_customers:,} customers", flush=True)
        with tempfile.TemporaryDirectory() as var:
            env = {
                **os.environ,
                "DATABASE_URL": f"sqlite:///{var}/bench.sqlite3",
                "SWITCHBOARD_VAR_DIR": var,
                "CELERY_BROKER_URL": "filesystem://",
            }
            command = [sys.executable, __file__, "--sqlite-child"]
            command += ["--sqlite-customers", str(args.sqlite_customers)]
            subprocess.run([*command, "--rounds", str(args.rounds)], env=env, check=True)
    print(
        f"search p95 at {args.customers:,} customers / {args.calls:,} calls on PostgreSQL: "
        f"worst kind {worst:.1f} ms (target < 100 ms)"
    )


if __name__ == "__main__":
    main()
