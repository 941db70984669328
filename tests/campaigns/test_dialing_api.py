"""The dialling API by role, and the click-to-call bridge end to end against a loopback
Twilio: call created with the right From/To/callerId, callbacks complete it, outcome
logged, next lead served."""

from urllib.parse import urlparse

import pytest
from django.utils import timezone
from twilio.request_validator import RequestValidator

from campaigns import dialing
from campaigns.models import CallAttempt, Campaign, Contact, DoNotCallNumber, Queue
from crm.models import StaffProfile
from telephony.models import Call, OwnedNumber
from tests.campaigns.dialing_helpers import daytime_zone, lead, night_zone
from tests.telephony.twilio_calls_server import FakeTwilioCalls

pytestmark = pytest.mark.django_db
TOKEN = "test-auth-token-0123456789abcdef"


@pytest.fixture
def campaign(caller):
    campaign = Campaign.objects.create(name="Realtors")
    campaign.callers.add(caller)
    OwnedNumber.objects.create(number="+16785550100", label="Atlanta")
    OwnedNumber.objects.create(number="+12125550100", label="New York")
    StaffProfile.objects.create(user=caller, phone="+14045550199")
    return campaign


@pytest.fixture
def as_caller(api_client, caller):
    api_client.force_authenticate(caller)
    return api_client


def url(campaign, what=""):
    return f"/api/campaigns/{campaign.pk}/{what}"


def test_next_lead_answers_the_contract_and_holds_it(as_caller, campaign):
    zone = daytime_zone()
    first = lead(
        campaign, "Ada Lovelace", number="+16785551001", mobile="+16785551002", time_zone=zone
    )
    response = as_caller.get(url(campaign, "next/"))
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"contact", "account", "numbers", "lead_local_time", "reason"}
    assert body["contact"]["id"] == first.pk
    assert [n["number"] for n in body["numbers"]] == ["+16785551001", "+16785551002"]
    assert body["lead_local_time"].startswith(
        timezone.now().astimezone(__import__("zoneinfo").ZoneInfo(zone)).strftime("%Y-%m-%dT%H")
    )
    assert body["reason"].startswith("Fresh lead")
    assert dialing.lead_holder(first, timezone.now()) is not None


def test_none_callable_is_204_with_retry_after(as_caller, campaign):
    lead(campaign, "Asleep", number="+16785551001", time_zone=night_zone())
    response = as_caller.get(url(campaign, "next/"))
    assert response.status_code == 204
    assert int(response["Retry-After"]) > 0
    assert "calling window" in response["X-Reason"]
    empty = Campaign.objects.create(name="Empty")
    empty.callers.add(as_caller.handler._force_user)
    response = as_caller.get(url(empty, "next/"))
    assert response.status_code == 204
    assert "Retry-After" not in response


def test_roles(api_client, campaign, caller, agent, make_user, administrator):
    other = Campaign.objects.create(name="Not yours")
    target = lead(other, "Other", number="+16785551001")
    api_client.force_authenticate(caller)
    assert api_client.get(url(other, "next/")).status_code == 404
    assert (
        api_client.post(
            url(other, f"contacts/{target.pk}/call/"), {"number": "+16785551001"}, format="json"
        ).status_code
        == 404
    )
    assert api_client.get(url(other, "outcomes/")).status_code == 404
    api_client.force_authenticate(agent)
    assert api_client.get(url(campaign, "next/")).status_code == 403
    for user in (agent, caller):
        api_client.force_authenticate(user)
        response = api_client.post("/api/do-not-call/", {"number": "+16785551001"}, format="json")
        assert response.status_code == 403
        assert api_client.get("/api/do-not-call/").status_code == 200
    assert not DoNotCallNumber.objects.exists()
    api_client.force_authenticate(None)
    assert api_client.get("/api/do-not-call/").status_code in (401, 403)


def test_do_not_call_api(api_client, administrator, campaign):
    target = lead(campaign, "Dnc", number="+16785551001")
    api_client.force_authenticate(administrator)
    response = api_client.post(
        "/api/do-not-call/", {"number": "(678) 555-1001", "reason": "asked"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["number"] == "+16785551001"
    assert body["reason"] == "asked"
    assert body["added_by"] == administrator.username
    assert body["added_at"]
    assert (
        api_client.post("/api/do-not-call/", {"number": "+16785551001"}, format="json").status_code
        == 200
    )
    for bad in (
        {"number": "nope"},
        {"number": ""},
        {},
        {"number": ["+16785551001"]},
        {"number": "+1678\x00"},
    ):
        assert api_client.post("/api/do-not-call/", bad, format="json").status_code == 400
    # A JSON body that is not an object (null, a list, a string) is refused, never a 500.
    for body in ("null", "[]", '["file"]', '"file"'):
        response = api_client.post("/api/do-not-call/", body, content_type="application/json")
        assert response.status_code == 400, body
    one = api_client.get("/api/do-not-call/?number=678-555-1001")
    assert one.status_code == 200
    assert [e["number"] for e in one.json()] == ["+16785551001"]
    assert api_client.get("/api/do-not-call/?number=%2B12125550000").json() == []
    assert api_client.get("/api/do-not-call/?number=").status_code == 400
    # Next lead and click-to-call respect it.
    api_client.force_authenticate(campaign.callers.get())
    assert api_client.get(url(campaign, "next/")).status_code == 204
    refused = api_client.post(
        url(campaign, f"contacts/{target.pk}/call/"), {"number": "+16785551001"}, format="json"
    )
    assert refused.status_code == 409
    assert "do-not-call" in refused.json()["reason"]


def test_outcomes_list(as_caller, campaign):
    body = as_caller.get(url(campaign, "outcomes/")).json()
    assert {"name": "Wrong number", "kind": "wrong_number"}.items() <= body[7].items() or any(
        o["kind"] == "wrong_number" for o in body
    )
    assert all(
        set(o) == {"id", "name", "kind", "retry_after_minutes", "max_attempts"} for o in body
    )


@pytest.mark.parametrize(
    "payload",
    [{}, {"number": ""}, {"number": "not a phone"}, {"number": 5}, {"number": "+1678\x00"}],
)
def test_click_to_call_bad_input_is_400(as_caller, campaign, payload):
    target = lead(campaign, "Any", number="+16785551001")
    response = as_caller.post(url(campaign, f"contacts/{target.pk}/call/"), payload, format="json")
    assert response.status_code == 400
    assert not Call.objects.exists()


def test_click_to_call_out_of_window_is_409_with_the_lead_time(as_caller, campaign):
    target = lead(campaign, "Asleep", number="+16785551001", time_zone=night_zone())
    response = as_caller.post(
        url(campaign, f"contacts/{target.pk}/call/"), {"number": "+16785551001"}, format="json"
    )
    assert response.status_code == 409
    assert "it is" in response.json()["reason"]
    assert "calls open at" in response.json()["reason"]


class Exploding:
    def call(self, *args):
        raise RuntimeError("Twilio is down")


def test_provider_failure_is_502_and_the_attempt_is_kept_failed(as_caller, campaign, settings):
    settings.VOICE_PROVIDER = "tests.campaigns.test_dialing_api.Exploding"
    target = lead(campaign, "Any", number="+16785551001")
    response = as_caller.post(
        url(campaign, f"contacts/{target.pk}/call/"), {"number": "+16785551001"}, format="json"
    )
    assert response.status_code == 502
    assert "Twilio is down" in response.json()["reason"]
    attempt = CallAttempt.objects.get()
    assert attempt.state == CallAttempt.State.FAILED
    assert attempt.call.status == "failed"


def test_outcome_by_another_caller_is_refused(api_client, campaign, caller, make_user):
    target = lead(campaign, "Any", number="+16785551001")
    api_client.force_authenticate(caller)
    call_id = api_client.post(
        url(campaign, f"contacts/{target.pk}/call/"), {"number": "+16785551001"}, format="json"
    ).json()["call"]["id"]
    other = make_user("Caller", "other")
    campaign.callers.add(other)
    api_client.force_authenticate(other)
    response = api_client.post(
        f"/api/calls/{call_id}/outcome/", {"outcome": "No answer"}, format="json"
    )
    assert response.status_code == 403
    api_client.force_authenticate(caller)
    for bad in (
        {},
        {"outcome": "Teleported"},
        {"outcome": "Call back later"},
        {"outcome": "Call back later", "callback_at": "2020-01-01T10:00"},
        {"outcome": "No answer", "note": 5 * "x" * 1000},
    ):
        assert (
            api_client.post(f"/api/calls/{call_id}/outcome/", bad, format="json").status_code == 400
        )
    assert (
        api_client.post(
            "/api/calls/999999/outcome/", {"outcome": "Busy"}, format="json"
        ).status_code
        == 404
    )


def _sign(path: str, params: dict) -> str:
    return RequestValidator(TOKEN).compute_signature(f"http://testserver{path}", params)


def test_bridge_end_to_end_against_loopback_twilio(as_caller, client, campaign, settings):
    settings.VOICE_PROVIDER = "telephony.providers.twilio.TwilioVoiceProvider"
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_ACCOUNT_SID = "AC" + "a" * 32
    settings.TWILIO_WEBHOOK_BASE_URL = ""
    first = lead(campaign, "First Lead", number="+16785551001")
    second = lead(campaign, "Second Lead", number="+12125551002")
    with FakeTwilioCalls() as twilio:
        settings.TWILIO_API_BASE_URL = twilio.url
        served = as_caller.get(url(campaign, "next/")).json()
        assert served["contact"]["id"] == first.pk
        started = as_caller.post(
            url(campaign, f"contacts/{first.pk}/call/"), {"number": "(678) 555-1001"}, format="json"
        )
        assert started.status_code == 201, started.content
        body = started.json()
        assert body["caller_id"] == "+16785550100"
        assert "area code (678)" in body["reason"]
        form = twilio.requests[0]["form"]
    assert form["To"] == ["+14045550199"]
    assert form["From"] == ["+16785550100"]
    assert 'callerId="+16785550100"' in form["Twiml"][0]
    assert "+16785551001" in form["Twiml"][0]
    callback = urlparse(form["StatusCallback"][0])
    assert callback.path == "/webhooks/twilio/voice/outbound/"
    call = Call.objects.get(pk=body["call"]["id"])
    assert call.external_id == twilio.sids[0]
    assert call.direction == "outbound"
    assert call.to_number == "+16785551001"
    assert call.status == "queued"
    path = f"{callback.path}?{callback.query}"
    for status, extra in (
        ("initiated", {}),
        ("ringing", {}),
        ("in-progress", {}),
        ("completed", {"CallDuration": "95"}),
        ("ringing", {}),
    ):
        params = {
            "CallSid": call.external_id,
            "AccountSid": "AC" + "a" * 32,
            "CallStatus": status,
            "From": "+16785550100",
            "To": "+14045550199",
            "Direction": "outbound-api",
            **extra,
        }
        response = client.post(path, params, HTTP_X_TWILIO_SIGNATURE=_sign(path, params))
        assert response.status_code == 200
    call.refresh_from_db()
    assert call.status == "completed"
    assert call.duration_seconds == 95
    assert call.ended_at
    unsigned = client.post(path, {"CallSid": call.external_id, "CallStatus": "failed"})
    assert unsigned.status_code == 403
    logged = as_caller.post(
        f"/api/calls/{call.pk}/outcome/",
        {"outcome": "Meeting booked", "note": "Tue 10:00"},
        format="json",
    )
    assert logged.status_code == 201
    assert logged.json()["outcome"]["kind"] == "final"
    assert Contact.objects.get(pk=first.pk).queue == Queue.DONE
    following = as_caller.get(url(campaign, "next/")).json()
    assert following["contact"]["id"] == second.pk


def test_callback_outcome_in_lead_local_time_via_api(as_caller, campaign):
    zone = daytime_zone()
    target = lead(campaign, "Later", number="+16785551001", time_zone=zone)
    call_id = as_caller.post(
        url(campaign, f"contacts/{target.pk}/call/"), {"number": "+16785551001"}, format="json"
    ).json()["call"]["id"]
    local_tomorrow = (timezone.now() + timezone.timedelta(days=1)).astimezone(
        __import__("zoneinfo").ZoneInfo(zone)
    )
    typed = local_tomorrow.strftime("%Y-%m-%dT09:15")
    response = as_caller.post(
        f"/api/calls/{call_id}/outcome/",
        {"outcome": "Call back later", "callback_at": typed},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert "09:15" in response.json()["callback_local"]
    assert zone in response.json()["callback_local"]
