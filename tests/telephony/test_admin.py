"""Agents' views in the admin: the customer page's history, calls, frequent callers; roles."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from telephony import services
from telephony.models import TelephonySettings
from tests.crm.factories import CustomerFactory
from tests.telephony.factories import AssistantFactory, CallFactory, MessageFactory

pytestmark = pytest.mark.django_db


def with_history(calls: int, messages: int = 0, **kw):
    customer = CustomerFactory(**kw)
    now = timezone.now()
    assistant = AssistantFactory(name="Front desk")
    for i in range(calls):
        CallFactory(
            customer=customer,
            assistant=assistant,
            started_at=now - timedelta(days=i % 70, minutes=i),
            satisfaction=4,
            reason="Billing",
            transcript="Caller: hello",
        )
    for i in range(messages):
        MessageFactory(customer=customer, sent_at=now - timedelta(days=i, hours=1))
    services.customer_counters_recompute(customer_ids={customer.pk})
    customer.refresh_from_db()
    return customer


def test_the_customer_page_shows_the_timeline_and_the_charts(client, agent):
    customer = with_history(3, messages=1)
    client.force_login(agent)

    response = client.get(f"/admin/crm/customer/{customer.pk}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('data-kind="call"') == 3
    assert html.count('data-kind="sms"') == 1
    assert 'data-figure="calls">3<' in html
    assert "<details" in html
    assert "Caller: hello" in html
    for chart in ("sb-bar-chart", "sb-line-chart", "sb-hbar-chart"):
        assert chart in html
    assert "Billing" in html


def test_a_profile_without_history_shows_empty_states(client, agent):
    customer = CustomerFactory()
    client.force_login(agent)
    html = client.get(f"/admin/crm/customer/{customer.pk}/change/").content.decode()
    assert "No calls or messages yet." in html
    assert "sb-bar-chart" not in html


def test_the_timeline_is_paginated_newest_first(client, agent):
    customer = with_history(45)
    client.force_login(agent)

    first = client.get(f"/admin/crm/customer/{customer.pk}/change/").content.decode()
    third = client.get(f"/admin/crm/customer/{customer.pk}/change/?timeline=3").content.decode()

    assert first.count('data-kind="call"') == 20
    assert third.count('data-kind="call"') == 5
    assert "Page 1 of 3" in first
    assert "Page 3 of 3" in third


def test_the_customer_page_costs_the_same_queries_at_any_history_length(client, agent):
    # Both pages show calls and messages: the count depends on the page, not the history.
    small = with_history(3, messages=1)
    big = with_history(150, messages=30)
    client.force_login(agent)
    client.get(f"/admin/crm/customer/{small.pk}/change/")  # warm caches (content types…)

    with CaptureQueriesContext(connection) as few:
        client.get(f"/admin/crm/customer/{small.pk}/change/")
    with CaptureQueriesContext(connection) as many:
        client.get(f"/admin/crm/customer/{big.pk}/change/")

    assert len(many.captured_queries) == len(few.captured_queries)


def test_reasons_are_escaped_in_the_charts_and_timeline(client, agent):
    customer = CustomerFactory()
    CallFactory(customer=customer, reason="<script>alert(1)</script>")
    services.customer_counters_recompute(customer_ids={customer.pk})
    client.force_login(agent)
    html = client.get(f"/admin/crm/customer/{customer.pk}/change/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?assistant__id__exact=1",
        "?reason=Billing",
        "?satisfaction=4",
        "?satisfaction=none",
        "?started_at__gte=2026-01-01+00:00:00%2B00:00",
        "?q=(415) 555-0142",
        "?q=Jane",
    ],
)
def test_agents_filter_the_calls_changelist(client, agent, query):
    customer = with_history(2)
    client.force_login(agent)
    assert client.get(f"/admin/telephony/call/{query}").status_code == 200
    response = client.get(f"/admin/telephony/call/?customer__id__exact={customer.pk}")
    assert response.status_code == 200
    assert response.context["cl"].result_count == 2


def test_the_frequent_callers_list_orders_by_interactions(client, agent):
    once = with_history(1, name="Once Only")
    often = with_history(5, name="Often Caller")
    sometimes = with_history(2, name="Sometimes Caller")
    client.force_login(agent)

    response = client.get("/admin/telephony/frequentcaller/")

    assert response.status_code == 200
    shown = list(response.context["cl"].result_list)
    assert shown == [often, sometimes]
    assert once not in shown


@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        ("Agent", "/admin/telephony/call/", 200),
        ("Agent", "/admin/telephony/message/", 200),
        ("Agent", "/admin/telephony/assistant/", 200),
        ("Agent", "/admin/telephony/frequentcaller/", 200),
        ("Agent", "/admin/telephony/telephonysettings/1/change/", 403),
        ("Agent", "/admin/telephony/retentionrun/", 403),
        ("Administrator", "/admin/telephony/telephonysettings/1/change/", 200),
        ("Administrator", "/admin/telephony/retentionrun/", 200),
        ("Administrator", "/admin/telephony/call/", 200),
        ("Caller", "/admin/telephony/call/", 302),
        ("Caller", "/admin/telephony/frequentcaller/", 302),
    ],
)
def test_role_matrix_on_telephony_pages(client, make_user, role, path, status):
    TelephonySettings.load()
    client.force_login(make_user(role))
    assert client.get(path).status_code == status


def test_agents_see_calls_read_only(client, agent):
    call = CallFactory()
    client.force_login(agent)
    response = client.post(
        f"/admin/telephony/call/{call.pk}/change/", {"reason": "changed by an agent"}
    )
    assert response.status_code == 403
    call.refresh_from_db()
    assert call.reason == ""


def test_the_settings_list_opens_the_one_settings_page(client, administrator):
    client.force_login(administrator)
    response = client.get("/admin/telephony/telephonysettings/")
    assert response.status_code == 302
    assert response["Location"].endswith("/admin/telephony/telephonysettings/1/change/")


def test_an_administrator_sets_retention_within_range(client, administrator):
    config = TelephonySettings.load()
    client.force_login(administrator)
    url = f"/admin/telephony/telephonysettings/{config.pk}/change/"
    form = {
        "greeting": "Hi",
        "forward_to": "(212) 555-0100",
        "sms_auto_reply": "",
        "transcript_retention_days": "30",
        "record_retention_days": "2000",
    }
    assert client.post(url, form).status_code == 200  # re-shown with the error
    assert TelephonySettings.load().record_retention_days is None

    assert client.post(url, {**form, "record_retention_days": "365"}).status_code == 302
    config = TelephonySettings.load()
    assert (config.transcript_retention_days, config.record_retention_days) == (30, 365)
    assert config.forward_to == "+12125550100"


def test_an_administrator_deleting_a_call_keeps_counters_true(client, administrator):
    customer = with_history(2)
    call = customer.calls.first()
    client.force_login(administrator)
    response = client.post(f"/admin/telephony/call/{call.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.interaction_count == 1


@pytest.mark.parametrize(
    ("role", "permission", "allowed"),
    [
        ("Administrator", "telephony.change_telephonysettings", True),
        ("Administrator", "telephony.add_call", True),
        ("Administrator", "telephony.view_retentionrun", True),
        ("Agent", "telephony.view_call", True),
        ("Agent", "telephony.view_message", True),
        ("Agent", "telephony.view_assistant", True),
        ("Agent", "telephony.view_frequentcaller", True),
        ("Agent", "telephony.add_call", False),
        ("Agent", "telephony.change_call", False),
        ("Agent", "telephony.view_telephonysettings", False),
        ("Agent", "telephony.view_retentionrun", False),
        ("Caller", "telephony.view_call", False),
        ("Caller", "telephony.view_frequentcaller", False),
    ],
)
def test_telephony_role_matrix(make_user, role, permission, allowed):
    assert make_user(role).has_perm(permission) is allowed


def test_the_phone_numbers_list_shows_links_checkboxes_and_sorts_by_number(client, administrator):
    from telephony.models import OwnedNumber

    OwnedNumber.objects.create(number="+14155550199", label="West <b>")
    OwnedNumber.objects.create(number="+12125550100", label="East")
    client.force_login(administrator)
    page = client.get("/admin/telephony/ownednumber/").text
    assert 'href="tel:+14155550199"' in page
    # The checkbox is built as a string; it names the number and its (escaped) label.
    assert 'name="_selected_action" value="' in page
    assert 'aria-label="Select this object for an action - +14155550199 West &lt;b&gt;"' in page
    assert "West <b>" not in page
    ascending = client.get("/admin/telephony/ownednumber/?o=1").text
    assert ascending.index("+12125550100") < ascending.index("+14155550199")
    descending = client.get("/admin/telephony/ownednumber/?o=-1").text
    assert descending.index("+14155550199") < descending.index("+12125550100")
