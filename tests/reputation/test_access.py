"""Roles: the add-on, its API and the Phone numbers page's reputation are Administrators'."""

import pytest
from django.test import Client

from reputation.models import MonitoredNumber
from tests.reputation.fakes import ScriptedReputation, results

pytestmark = pytest.mark.django_db


def test_api_monitor_usage_and_unmonitor_for_an_administrator(
    api_client, administrator, addon, owned
):
    numbers = [owned() for _ in range(16)]
    ScriptedReputation.answers = {str(numbers[0].number): results(True, True, True)}
    api_client.force_authenticate(administrator)
    created = api_client.post(f"/api/reputation/numbers/{numbers[0].pk}/monitor/")
    assert created.status_code == 201
    assert created.json()["reputation"]["status"] == "spam"
    assert [r["carrier"] for r in created.json()["reputation"]["results"]] == [
        "AT&T",
        "Verizon",
        "T-Mobile",
    ]
    assert api_client.post(f"/api/reputation/numbers/{numbers[0].pk}/monitor/").status_code == 200
    for number in numbers[1:15]:
        assert api_client.post(f"/api/reputation/numbers/{number.pk}/monitor/").status_code == 201
    refused = api_client.post(f"/api/reputation/numbers/{numbers[15].pk}/monitor/")
    assert refused.status_code == 409
    assert "No free monitoring slot" in refused.json()["detail"]
    usage = api_client.get("/api/reputation/usage/").json()
    assert {
        k: usage[k]
        for k in ("used", "capacity", "clean", "flagged", "flagged_24h", "flagged_7d", "at_risk")
    } == {
        "used": 15,
        "capacity": 15,
        "clean": 14,
        "flagged": 1,
        "flagged_24h": 1,
        "flagged_7d": 1,
        "at_risk": 0,
    }
    listed = api_client.get("/api/reputation/numbers/").json()["results"]
    assert len(listed) == 16
    assert listed[-1]["monitored"] is False
    assert listed[-1]["reputation"] is None
    stopped = api_client.post(f"/api/reputation/numbers/{numbers[0].pk}/unmonitor/")
    assert stopped.status_code == 200
    assert stopped.json()["monitored"] is False
    assert api_client.get("/api/reputation/usage/").json()["used"] == 15  # held this cycle
    assert api_client.post("/api/reputation/numbers/999999/monitor/").status_code == 404


def test_api_refuses_with_409_while_the_addon_is_off(api_client, administrator, owned):
    api_client.force_authenticate(administrator)
    response = api_client.post(f"/api/reputation/numbers/{owned().pk}/monitor/")
    assert response.status_code == 409
    assert "switch it on" in response.json()["detail"]


@pytest.mark.parametrize("role", ["agent", "caller"])
def test_other_roles_get_no_reputation_api(api_client, request, role, addon, owned):
    number = owned()
    api_client.force_authenticate(request.getfixturevalue(role))
    assert api_client.get("/api/reputation/numbers/").status_code == 403
    assert api_client.get("/api/reputation/usage/").status_code == 403
    assert api_client.post(f"/api/reputation/numbers/{number.pk}/monitor/").status_code == 403
    assert not MonitoredNumber.objects.exists()


def test_anonymous_gets_no_reputation_api(api_client):
    assert api_client.get("/api/reputation/usage/").status_code in {401, 403}


def test_the_addon_page_shows_price_cycle_usage_and_the_slot_warning(administrator, addon):
    client = Client()
    client.force_login(administrator)
    page = client.get("/admin/reputation/reputationsettings/1/change/")
    assert page.status_code == 200
    text = page.text
    assert "$49.00 a month: 1 block x $49.00, 15 numbers each" in text
    assert "slot stays used until the next billing cycle" in text
    assert 'data-figure="usage">0/15<' in text
    response = client.post(
        "/admin/reputation/reputationsettings/1/change/",
        {
            "addon_enabled": "on",
            "blocks": "2",
            "at_risk_fraction": "0.60",
            "daily_call_warning": "75",
            "spam_threshold": "",
        },
    )
    assert response.status_code == 302
    assert "$98.00 a month" in client.get("/admin/reputation/reputationsettings/1/change/").text


@pytest.mark.parametrize("role", ["agent", "caller"])
def test_other_roles_cannot_open_the_addon_page(request, role, addon):
    client = Client()
    client.force_login(request.getfixturevalue(role))
    response = client.get("/admin/reputation/reputationsettings/1/change/")
    assert response.status_code in {302, 403}


def test_the_phone_numbers_page_shows_the_dashboard_column_and_actions(administrator, addon, owned):
    clean, flagged, plain = owned(), owned(), owned()
    ScriptedReputation.answers = {str(flagged.number): results(True, True, False)}
    client = Client()
    client.force_login(administrator)
    response = client.post(
        "/admin/telephony/ownednumber/",
        {"action": "monitor_reputation", "_selected_action": [clean.pk, flagged.pk]},
    )
    assert response.status_code == 302
    page = client.get("/admin/telephony/ownednumber/").text
    assert 'data-figure="usage">2/15<' in page
    assert 'data-figure="clean" class="sb-good">1<' in page
    assert page.count('data-status="safe"') == 1
    assert page.count('data-status="spam"') == 1
    assert 'title="Not monitored">\u2013<' in page
    assert "Stop monitoring" in page
    assert "Monitor reputation" in page
    # The row action (the ⋯ menu) posts to the reputation endpoint.
    row = client.post(f"/admin/telephony/ownednumber/reputation/{plain.pk}/monitor/")
    assert row.status_code == 302
    assert MonitoredNumber.objects.count() == 3
    detail = client.get(f"/admin/telephony/ownednumber/{flagged.pk}/change/").text
    assert "Carrier flags, last 90 days" in detail
    assert "Replace this number instead" in detail
    delete = client.get(f"/admin/telephony/ownednumber/{flagged.pk}/delete/").text
    assert "does not free its monitoring slot" in delete


def test_the_phone_numbers_page_query_count_does_not_grow_with_the_page(
    administrator, addon, owned
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    addon.blocks = 10
    addon.save()
    client = Client()
    client.force_login(administrator)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/admin/telephony/ownednumber/").status_code == 200
        return len(ctx.captured_queries)

    from reputation import services

    services.numbers_monitor(owned_number_ids=[owned().pk for _ in range(3)], by=None)
    queries()  # warm: the session and the settings row
    few = queries()
    services.numbers_monitor(owned_number_ids=[owned().pk for _ in range(40)], by=None)
    assert queries() == few
