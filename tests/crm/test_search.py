"""The one search rule (crm/search.py, docs/search.md) on both databases."""

import pytest
from django.urls import reverse

from crm import search, selectors, services
from crm.models import Customer
from tests.crm.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    def person(name, email="", *numbers):
        customer = CustomerFactory(name=name, email=email)
        for number in numbers:
            services.phone_number_add(customer=customer, number=number, type="other")
        return customer

    return {
        "ana": person("Ana García", "ana.garcia@example.com", "678 999 8212"),
        "jose": person("José Luis García-Pérez", "jl@perez.es", "404 555 0142"),
        "maria": person("MARÍA GARCIA", "maria@example.org"),
        "john": person("John Doe", "jdoe@corp.example", "770 555 0100"),
        "ole": person("Øle Ærø", "ole@dk.example"),
        "garcon": person("Garçon Sans", "gs@example.com", "212 555 8212"),
        "sean": person("Seán O'Brien", "sean@obrien.ie", "+1 312 555 0199"),
    }


def found(term):
    return [c.name for c in selectors.customer_search(selectors.customer_queryset(), term)]


@pytest.mark.parametrize(
    ("term", "names"),
    [
        ("garcia", {"Ana García", "José Luis García-Pérez", "MARÍA GARCIA"}),
        ("GARCÍA", {"Ana García", "José Luis García-Pérez", "MARÍA GARCIA"}),
        ("garc", {"Ana García", "José Luis García-Pérez", "MARÍA GARCIA", "Garçon Sans"}),
        ("Doe", {"John Doe"}),
        ("perez", {"José Luis García-Pérez"}),  # a word after a hyphen
        ("luis garc", {"José Luis García-Pérez"}),  # every word, any order of the name
        ("jose", {"José Luis García-Pérez"}),
        ("ole aero", {"Øle Ærø"}),  # letters Unicode does not decompose
        ("uis", set()),  # a word matches from its start, not the middle
        ("example.org", {"MARÍA GARCIA"}),  # part of an email
        ("jdoe@corp.example", {"John Doe"}),
        ("(678)-999 8212", {"Ana García"}),
        ("+1 678 999 8212", {"Ana García"}),
        ("8212", {"Ana García", "Garçon Sans"}),  # the last 4 digits
        ("999-8212", {"Ana García"}),
        ("5550100", {"John Doe"}),
        ("821", set()),  # 3 digits: too few to mean a number's end
        ("", None),
        ("o'brien", {"Seán O'Brien"}),  # an apostrophe parts two words, as in the name
        ("O\u2019Brien", {"Seán O'Brien"}),  # a typographic one too
        ("brien", {"Seán O'Brien"}),
        ("sean", {"Seán O'Brien"}),
        ("garcia-perez", {"José Luis García-Pérez"}),  # a hyphenated surname typed whole
        ("perez garcia", {"José Luis García-Pérez"}),  # words apart: any order
        ("perez-garcia", set()),  # joined: in that order, side by side
        ("GARCÍA PÉREZ", {"José Luis García-Pérez"}),
        ("gar\x00cia", {"Ana García", "José Luis García-Pérez", "MARÍA GARCIA"}),  # NUL dropped
        ("\x00", None),  # nothing left: the whole list
        ("0199", {"Seán O'Brien"}),  # 4 digits
        ("+1 312 555 0199", {"Seán O'Brien"}),  # + and spaces
        ("+13125550199", {"Seán O'Brien"}),
        ("312 555 0199", {"Seán O'Brien"}),
        ("  555 0199  ", {"Seán O'Brien"}),  # spaces around, 7 digits: a number's end
        ("ana garcía", {"Ana García"}),
        ("maria", {"MARÍA GARCIA"}),
        ("ærø", {"Øle Ærø"}),
    ],
)
def test_the_rule_finds_people_the_way_they_are_looked_for(people, term, names):
    result = set(found(term))
    if names is None:
        assert result == {p.name for p in people.values()}  # no term: the whole list
    else:
        assert result == names


def test_merged_profiles_are_not_found(people):
    kept = people["maria"]
    Customer.objects.filter(pk=people["ana"].pk).update(merged_into=kept)
    assert "Ana García" not in found("garcia")


def test_ranked_exact_number_then_name_then_partial(people):
    # "Sandy 2125558212" is named like a number part; the exact number comes first.
    exact = people["garcon"]
    named = CustomerFactory(name="Garçonnière Club", email="club@example.com")
    partial = CustomerFactory(name="Zed", email="garconne@example.com")
    assert found("garcon")[:2] == [named.name, exact.name] or found("garcon")[:2] == [
        exact.name,
        named.name,
    ]
    assert found("garcon")[-1] == partial.name  # the email part comes after the names
    ranked = selectors.customer_search(selectors.customer_queryset(), "(212) 555-8212")
    assert [c.pk for c in ranked] == [exact.pk]


def test_hostile_input_is_a_clear_empty_answer(people):
    assert found("\x00garcia") == found("garcia")
    assert found("x" * 10_000) == []
    assert found("%") == []  # LIKE wildcards are text, not patterns
    assert found("_") == []
    assert found("'; DROP TABLE crm_customer; --") == []


def test_fold_matches_the_database_function(people):
    assert search.fold("Ana García-López") == " ana garcia lopez"
    assert search.fold("Straße") == " strasse"
    assert search.fold(None) == " "


# --- the API ---------------------------------------------------------------------------------


def test_api_customers_search_and_phone_suffix(api_client, agent, people):
    api_client.force_authenticate(agent)
    body = api_client.get("/api/customers/", {"search": "garcia"}).json()
    assert {c["name"] for c in body["results"]} == {
        "Ana García",
        "José Luis García-Pérez",
        "MARÍA GARCIA",
    }
    body = api_client.get("/api/customers/", {"phone": "8212"}).json()
    assert {c["name"] for c in body["results"]} == {"Ana García", "Garçon Sans"}
    body = api_client.get("/api/customers/", {"phone": "999-8212"}).json()
    assert [c["name"] for c in body["results"]] == ["Ana García"]


def test_api_search_answers_one_ranked_list(api_client, agent, people):
    api_client.force_authenticate(agent)
    response = api_client.get("/api/search/", {"q": "(678) 999-8212"})
    assert response.status_code == 200
    assert response.json()[0] == {
        "kind": "customer",
        "id": people["ana"].pk,
        "label": "Ana García",
        "matched": "number",
    }
    hits = api_client.get("/api/search/", {"q": "garcia"}).json()
    assert {(h["kind"], h["label"]) for h in hits} >= {("customer", "Ana García")}
    assert all(set(h) == {"kind", "id", "label", "matched"} for h in hits)


@pytest.mark.parametrize(
    ("params", "field"),
    [({}, "q"), ({"q": "a", "limit": "0"}, "limit"), ({"q": "a", "limit": "x"}, "limit")],
)
def test_api_search_bad_input_is_a_400(api_client, agent, params, field):
    api_client.force_authenticate(agent)
    response = api_client.get("/api/search/", params)
    assert response.status_code == 400
    assert field in response.json()


def test_api_search_needs_a_sign_in(api_client, people):
    assert api_client.get("/api/search/", {"q": "garcia"}).status_code in (401, 403)


def test_a_caller_searches_only_the_leads_of_their_campaigns(api_client, caller, people):
    from tests.campaigns.factories import CampaignFactory, ContactFactory

    mine, other = CampaignFactory(), CampaignFactory()
    mine.callers.add(caller)
    lead = ContactFactory(campaign=mine, name="Lucía García")
    ContactFactory(campaign=other, name="Luis García")
    api_client.force_authenticate(caller)
    hits = api_client.get("/api/search/", {"q": "garcia"}).json()
    assert hits == [{"kind": "lead", "id": lead.pk, "label": "Lucía García", "matched": "name"}]


# --- the admin -------------------------------------------------------------------------------


def test_the_customers_list_searches_by_the_rule(client, agent, people):
    client.force_login(agent)
    for term, name in [("garcia", "Ana García"), ("999-8212", "Ana García"), ("Doe", "John Doe")]:
        response = client.get(reverse("admin:crm_customer_changelist"), {"q": term})
        assert response.status_code == 200
        assert name in response.content.decode()


def test_the_header_search_box_is_on_every_admin_page(client, agent):
    client.force_login(agent)
    for url in [reverse("admin:index"), reverse("admin:crm_customer_changelist")]:
        assert 'action="/admin/search/"' in client.get(url).content.decode()


def test_the_results_page_groups_by_kind(client, administrator, people):
    from tests.telephony.factories import CallFactory

    CallFactory(customer=people["ana"], from_number="+16789998212")
    client.force_login(administrator)
    response = client.get(reverse("admin:search"), {"q": "8212"})
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-kind="customer"' in page
    assert 'data-kind="call"' in page
    assert "Ana García" in page


def test_a_caller_cannot_reach_the_admin_search(client, caller):
    client.force_login(caller)
    response = client.get(reverse("admin:search"), {"q": "garcia"})
    assert response.status_code == 302
    assert "/login/" in response["Location"]


# --- the index behind the words (PostgreSQL: generated column; SQLite: FTS5) ----------------


def test_a_renamed_customer_is_found_by_the_new_name_only(people):
    john = people["john"]
    john.name = "John Ibáñez"
    services.customer_update(customer=john)
    assert found("ibanez") == ["John Ibáñez"]
    assert found("doe") == []


def test_bulk_writes_keep_the_index_in_step(people):
    Customer.objects.filter(name__startswith="MAR").update(name="Marta Núñez")
    Customer.objects.bulk_create([Customer(name=f"Núñez {i}") for i in range(3)])
    people["john"].delete()
    assert set(found("nunez")) == {"Marta Núñez", "Núñez 0", "Núñez 1", "Núñez 2"}
    assert found("doe") == []
    assert found("marta nun") == ["Marta Núñez"]


def test_word_search_reads_the_index_not_every_name(people):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert found("garcia")
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    if connection.vendor == "sqlite":
        assert "crm_customer_name_fts MATCH" in sql
        assert "sb_fold(" not in sql
    else:
        assert "name_folded" in sql


def test_the_sqlite_index_is_repaired_when_a_migration_drops_its_triggers(people):
    from django.db import connection

    from crm.search_sqlite import repair

    assert repair(connection) is False  # nothing missing (nothing to do on PostgreSQL)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:  # what remaking the table does to triggers
            cursor.execute("DROP TRIGGER crm_customer_name_fts_insert")
        CustomerFactory(name="Inés Lost")
        assert found("ines") == []
        assert repair(connection) is True
        assert found("ines") == ["Inés Lost"]  # re-filled from the table
    CustomerFactory(name="Inés Found")
    assert "Inés Found" in found("ines")


def test_ten_thousand_matches_page_through_the_best_ones(api_client, agent, people):
    """A common word: the API pages through the best SEARCH_CAP matches, newest first,
    with no row twice and the same rows on both databases."""
    Customer.objects.bulk_create(
        [Customer(name=f"Lucía Gómez {i}", email=f"l{i}@example.com") for i in range(10_000)]
    )
    newest = list(
        Customer.objects.filter(name__startswith="Lucía Gómez")
        .order_by("-id")
        .values_list("id", flat=True)[: search.SEARCH_CAP]
    )
    api_client.force_authenticate(agent)
    seen, url = [], "/api/customers/?search=gomez&page_size=60"
    while url:
        body = api_client.get(url).json()
        seen += [c["id"] for c in body["results"]]
        url = body["next"]
    assert seen == newest
    first = api_client.get("/api/customers/", {"search": "lucia gom"}).json()["results"]
    assert [c["id"] for c in first] == newest[:50]


# --- punctuation inside a name (docs/search.md, "Names") --------------------------------------


@pytest.mark.parametrize(
    ("term", "names"),
    [
        ("obrien", {"Liam O'Brien", "Aoife O\u2019Brien"}),  # the apostrophe left out
        ("obri", {"Liam O'Brien", "Aoife O\u2019Brien"}),  # and only its start typed
        ("o'brien", {"Liam O'Brien", "Aoife O\u2019Brien"}),  # as before
        ("o brien", {"Liam O'Brien", "Aoife O\u2019Brien"}),
        ("liam obrien", {"Liam O'Brien"}),
        ("garciaperez", {"Rosa Garcia-Perez"}),  # the hyphen left out
        ("garcia perez", {"Rosa Garcia-Perez"}),
        ("garcia-perez", {"Rosa Garcia-Perez"}),
        ("rosa garciap", {"Rosa Garcia-Perez"}),
        ("iamo", set()),  # still a word's start, never its middle
        ("brienl", set()),
    ],
)
def test_a_name_is_found_with_its_punctuation_left_out(db, term, names):
    for name in ("Liam O'Brien", "Aoife O\u2019Brien", "Rosa Garcia-Perez", "Bri Enright"):
        CustomerFactory(name=name, email=f"{name.split()[0].lower()}@example.com")
    assert set(found(term)) == names


def test_fold_name_matches_the_database_function(db):
    from django.db import connection

    names = [
        "Seán O'Brien",
        "José Luis García-Pérez",
        "Ana García",
        "Øle Ærø",
        "Aoife O\u2019Brien",
        "St.John-Smythe & Co.",
        "  double  spaced  ",
        "",
    ]
    assert search.fold_name("Seán O'Brien") == " sean o brien sean obrien"
    assert search.fold_name("Ana García") == " ana garcia"  # nothing joined: nothing added
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute("SELECT sb_fold_name(%s)", [name])
            assert cursor.fetchone()[0] == search.fold_name(name), name


@pytest.mark.postgresql
def test_a_joined_name_is_read_from_the_trigram_index(db):
    """No table scan: the stored folded name keeps its trigram index (EXPLAIN, with
    sequential scans priced out as a big table's would be)."""
    from django.db import connection

    for i in range(200):
        CustomerFactory(name=f"Person {i}", email=f"p{i}@example.com")
    CustomerFactory(name="Liam O'Brien", email="liam@example.com")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE crm_customer")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT id FROM crm_customer WHERE name_folded LIKE %s", ["% obrien%"]
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "crm_customer_name_fold" in plan
    assert found("obrien") == ["Liam O'Brien"]


def test_a_rare_word_beside_common_ones_finds_the_same_customers(db):
    """ "Bulk Customer 0333": the common words are checked on the rare word's matches
    (PostgreSQL, by the planner's estimates) and the answer is what every word finds."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for i in range(300):
        CustomerFactory(name=f"Bulk Customer {i:05d}", email=f"b{i}@example.com")
    CustomerFactory(name="Customer Bulkley 00033", email="other@example.com")
    CustomerFactory(name="Bulk 00033", email="no-customer-word@example.com")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE crm_customer")
    with CaptureQueriesContext(connection) as queries:
        names = set(found("Bulk Customer 0003"))
    assert names == {f"Bulk Customer {i:05d}" for i in range(30, 40)} | {"Customer Bulkley 00033"}
    assert set(found("customer 00033 bulk")) == {"Bulk Customer 00033", "Customer Bulkley 00033"}
    assert len(found("bulk customer")) == min(search.SEARCH_CAP, 301)
    if connection.vendor == "postgresql":
        sql = " ".join(q["sql"] for q in queries.captured_queries)
        assert "STRPOS" in sql
        assert "LIKE '% 0003%'" in sql


@pytest.mark.postgresql
def test_words_as_common_as_each_other_all_read_the_index(db):
    for i in range(50):
        CustomerFactory(name=f"Ann Lee {i}", email=f"a{i}@example.com")
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE crm_customer")
    assert search._common_words(Customer.objects.all(), "name", ("ann", "lee")) == set()
    assert search._common_words(Customer.objects.all(), "name", ("ann",)) == set()
