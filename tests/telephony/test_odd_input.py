"""Odd input at every edge: NUL bytes and out-of-range times answer clearly, never 500."""

import json

import pytest
from django.urls import reverse

from campaigns.models import Campaign
from crm.inputs import clean_data, clean_text, moment_problem
from crm.models import Customer
from telephony.models import Call, Message
from tests.crm.factories import CustomerFactory
from tests.telephony.test_api import REPORT, as_user
from tests.telephony.test_webhooks import SMS, STATUS, VOICE, sms_params, voice_params

pytestmark = pytest.mark.django_db


def test_clean_text_drops_what_postgresql_text_cannot_hold():
    assert clean_text("a\x00b") == "ab"
    assert clean_text("caf\u00e9 \ud800x") == "caf\u00e9 x"
    assert clean_text("plain") == "plain"
    assert clean_data({"a\x00": ["x\x00", {"y": "\udfff"}], "n": 3}) == {
        "a": ["x", {"y": ""}],
        "n": 3,
    }


def test_a_nul_in_the_customer_search_is_stripped(api_client, agent):
    CustomerFactory(name="Abby Road")
    response = as_user(api_client, agent).get("/api/customers/?search=a%00b")
    assert response.status_code == 200
    assert [c["name"] for c in response.json()["results"]] == ["Abby Road"]


def test_a_nul_in_a_phone_filter_is_a_clear_400_or_a_match(api_client, agent):
    client = as_user(api_client, agent)
    assert client.get("/api/customers/?phone=%00").status_code == 400
    assert client.get("/api/calls/?caller=%00").status_code == 200  # empty: no filter
    assert client.get("/api/calls/?caller=4%0015").status_code == 400
    assert client.get("/api/calls/?reason=a%00").status_code == 200


def test_a_nul_in_the_workspace_search_and_phone_filter(client, api_client, administrator):
    campaign = Campaign.objects.create(name="Atlanta realtors")
    client.force_login(administrator)
    assert client.get(f"/campaigns/{campaign.pk}/?q=%00").status_code == 200
    assert client.get(f"/campaigns/{campaign.pk}/?q=Jo%00hn").status_code == 200
    assert client.get(f"/campaigns/{campaign.pk}/phones/?q=%00&status=%00").status_code == 200
    api = as_user(api_client, administrator)
    assert api.get(f"/api/campaigns/{campaign.pk}/phones/?status=%00").status_code == 200
    assert api.get(f"/api/campaigns/{campaign.pk}/phones/?number=4%0015").status_code == 400


def test_a_nul_in_an_admin_search(client, administrator):
    client.force_login(administrator)
    for name in ("crm_customer", "telephony_call", "telephony_message"):
        response = client.get(reverse(f"admin:{name}_changelist"), {"q": "a\x00b"})
        assert response.status_code == 200, name


def test_an_sms_body_with_a_nul_is_stored_without_it(twilio_post):
    # Signed over the body as Twilio sent it, NUL included.
    response = twilio_post(SMS, sms_params(Body="Running\x00 late"))
    assert response.status_code == 200
    assert Message.objects.get().body == "Running late"


def test_a_caller_name_with_a_nul_names_the_profile_without_it(twilio_post):
    response = twilio_post(VOICE, voice_params(CallerName="DANA\x00 REYES"))
    assert response.status_code == 200
    assert Customer.objects.get().name == "DANA REYES"


def test_a_json_report_with_a_nul_and_a_lone_surrogate(api_client, administrator):
    body = json.dumps({**REPORT, "reason": "Bil\u0000ling", "transcript": "hi \ud800there"})
    response = as_user(api_client, administrator).post(
        "/api/calls/", body, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    call = Call.objects.get()
    assert (call.reason, call.transcript) == ("Billing", "hi there")


# --- Times ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"started_at": None, "ended_at": "0001-01-01T00:00:05Z", "duration_seconds": 10},
            "ended_at",
        ),
        ({"started_at": None, "ended_at": "9999-12-31T23:59:59Z"}, "ended_at"),
        ({"ended_at": "9999-12-31T23:59:59-23:59"}, "ended_at"),
        ({"started_at": "1999-12-31T23:59:59Z"}, "started_at"),
        ({"started_at": "2026-11-20T09:30:00Z", "ended_at": "2026-11-20T09:29:00Z"}, "ended_at"),
        (
            {"started_at": None, "ended_at": "2000-01-01T00:00:05Z", "duration_seconds": 10},
            "ended_at",
        ),
    ],
)
def test_implausible_call_times_are_a_400_naming_the_field(
    api_client, administrator, change, field
):
    response = as_user(api_client, administrator).post(
        "/api/calls/", {**REPORT, **change}, format="json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Call.objects.exists()


def test_a_plausible_end_with_a_duration_dates_the_start(api_client, administrator):
    report = {
        **REPORT,
        "started_at": None,
        "ended_at": "2026-11-20T09:30:10Z",
        "duration_seconds": 10,
    }
    response = as_user(api_client, administrator).post("/api/calls/", report, format="json")
    assert response.status_code == 201
    assert response.json()["started_at"] == "2026-11-20T09:30:00Z"


def test_a_status_callback_from_the_year_9999_is_a_400_naming_the_timestamp(twilio_post):
    params = voice_params(CallStatus="completed", Timestamp="Fri, 31 Dec 9999 23:59:59 -2359")
    response = twilio_post(STATUS, params)
    assert response.status_code == 400
    assert "Timestamp" in response.content.decode()
    assert not Call.objects.exists()


def test_a_status_callback_with_a_real_timestamp_ends_the_call(twilio_post):
    params = voice_params(CallStatus="completed", Timestamp="Tue, 01 Dec 2026 10:00:00 +0000")
    assert twilio_post(STATUS, params).status_code == 200
    assert Call.objects.get().ended_at.isoformat() == "2026-12-01T10:00:00+00:00"


@pytest.mark.parametrize(
    "params",
    [{"until": "9999-12-31T23:59:59-23:59"}, {"since": "0001-01-01T00:00:00+23:59"}],
)
def test_out_of_range_filters_are_a_400(api_client, agent, params):
    response = as_user(api_client, agent).get("/api/calls/", params)
    assert response.status_code == 400
    assert set(params) <= set(response.json())


def test_far_filters_in_range_are_fine(api_client, agent):
    response = as_user(api_client, agent).get("/api/calls/", {"until": "9999-01-01T00:00:00Z"})
    assert response.status_code == 200


def test_moment_problem():
    from datetime import UTC, datetime

    assert moment_problem(datetime(2026, 1, 1, tzinfo=UTC)) is None
    assert "before" in moment_problem(datetime(1999, 1, 1, tzinfo=UTC))
    assert "future" in moment_problem(datetime(9999, 1, 1, tzinfo=UTC))
