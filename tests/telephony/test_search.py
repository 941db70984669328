"""The search rule on calls, messages and owned numbers (telephony/search.py)."""

import pytest
from django.urls import reverse

from telephony.models import OwnedNumber
from tests.crm.factories import CustomerFactory
from tests.telephony.factories import CallFactory, MessageFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("typed", ["(770) 555-0100", "770 555 0100", "+17705550100", "0100"])
def test_owned_numbers_are_found_typed_any_way(client, administrator, typed):
    OwnedNumber.objects.create(number="+17705550100", label="Atlanta main")
    OwnedNumber.objects.create(number="+14045550199", label="Backup")
    client.force_login(administrator)
    page = client.get(reverse("admin:telephony_ownednumber_changelist"), {"q": typed})
    text = page.content.decode()
    assert page.status_code == 200
    assert "Atlanta main" in text
    assert "Backup" not in text


def test_owned_numbers_by_a_word_of_the_label(client, administrator):
    OwnedNumber.objects.create(number="+17705550100", label="Atlanta main")
    client.force_login(administrator)
    page = client.get(reverse("admin:telephony_ownednumber_changelist"), {"q": "main"})
    assert "Atlanta main" in page.content.decode()


def test_calls_by_number_suffix_and_customer_name(client, agent):
    ana = CustomerFactory(name="Ana García")
    hit = CallFactory(customer=ana, from_number="+16789998212")
    miss = CallFactory(customer=CustomerFactory(name="Bob"), from_number="+14045550142")
    client.force_login(agent)
    for term in ["8212", "999-8212", "garcia", "(678) 999-8212", hit.external_id]:
        page = client.get(reverse("admin:telephony_call_changelist"), {"q": term})
        text = page.content.decode()
        assert page.status_code == 200
        assert f"/admin/telephony/call/{hit.pk}/" in text, term
        assert f"/admin/telephony/call/{miss.pk}/" not in text, term


def test_messages_by_customer_name(client, agent):
    ana = CustomerFactory(name="Ana García")
    MessageFactory(customer=ana, body="see you at noon")
    MessageFactory(customer=CustomerFactory(name="Bob"), body="unrelated")
    client.force_login(agent)
    page = client.get(reverse("admin:telephony_message_changelist"), {"q": "garcía"})
    text = page.content.decode()
    assert "see you at noon" in text
    assert "unrelated" not in text


def test_api_search_finds_calls_and_owned_numbers(api_client, administrator):
    ana = CustomerFactory(name="Ana García")
    call = CallFactory(customer=ana, from_number="+17705550100")
    owned = OwnedNumber.objects.create(number="+17705550100", label="Atlanta")
    api_client.force_authenticate(administrator)
    hits = api_client.get("/api/search/", {"q": "(770) 555-0100"}).json()
    assert {(h["kind"], h["id"]) for h in hits} == {("call", call.pk), ("owned_number", owned.pk)}
    assert {h["matched"] for h in hits} == {"number"}


def test_an_agent_does_not_get_owned_numbers_they_cannot_view(api_client, agent):
    OwnedNumber.objects.create(number="+17705550100", label="Atlanta")
    api_client.force_authenticate(agent)
    hits = api_client.get("/api/search/", {"q": "770 555 0100"}).json()
    assert all(h["kind"] != "owned_number" for h in hits)


def test_calls_are_found_through_their_matched_customers_first(administrator):
    """The calls query names the matched customers' ids: it never joins or subqueries the
    customers, so 10M calls are read through the timeline index, not walked by date."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from crm import search
    from telephony.search import find_calls

    ana = CustomerFactory(name="Ana García")
    hit = CallFactory(customer=ana, from_number="+16789998212")
    CallFactory(customer=CustomerFactory(name="Bob Smith"), from_number="+14045550142")
    with CaptureQueriesContext(connection) as queries:
        hits = find_calls(search.parse("garcia"), administrator, 10)
    assert [h.id for h in hits] == [hit.pk]
    calls_sql = [q["sql"] for q in queries.captured_queries if '"telephony_call"' in q["sql"]]
    assert calls_sql
    assert all('FROM "crm_customer"' not in sql for sql in calls_sql)
