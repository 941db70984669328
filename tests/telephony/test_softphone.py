"""The optional browser softphone (telephony/softphone.py): the access token the server
mints, the TwiML App's signed Voice URL and its callbacks, and the "Call in browser" button
that shows only where the softphone is configured."""

import re
import uuid
from xml.etree import ElementTree

import jwt
import pytest
from django.urls import reverse

from campaigns.models import CallAttempt, Campaign
from crm import providers
from crm.models import StaffProfile
from telephony import outbound, softphone
from telephony.models import Call, OwnedNumber
from tests.campaigns.dialing_helpers import lead

pytestmark = pytest.mark.django_db

ACCOUNT = "AC" + "1" * 32
KEY_SID = "SK" + "2" * 32
KEY_SECRET = "softphone-key-secret-0123456789abcdef"
APP_SID = "AP" + "3" * 32
VOICE_URL = "/webhooks/twilio/voice/softphone/"
STATUS_URL = "/webhooks/twilio/voice/softphone/status/"
CALLER_ID = "+16785550100"
LEAD = "+16785551001"


def twiml(response) -> ElementTree.Element:
    # Our own server's answer in a test, not untrusted input.
    return ElementTree.fromstring(response.content)  # noqa: S314


def call_sid() -> str:
    return "CA" + uuid.uuid4().hex


@pytest.fixture
def configured(settings, twilio_post):
    settings.TWILIO_ACCOUNT_SID = ACCOUNT
    settings.TWILIO_API_KEY_SID = KEY_SID
    settings.TWILIO_API_KEY_SECRET = KEY_SECRET
    settings.TWILIO_TWIML_APP_SID = APP_SID
    settings.SOFTPHONE_TOKEN_TTL_SECONDS = 900
    settings.VOICE_PROVIDER = "telephony.providers.twilio.TwilioVoiceProvider"
    providers.clear_providers()
    yield
    providers.clear_providers()


@pytest.fixture
def pending(caller):
    return outbound.outbound_call_create(from_e164=CALLER_ID, lead_e164=LEAD)


def connect(twilio_post, call, user, *, sid=None, app=APP_SID, ticket=None):
    return twilio_post(
        VOICE_URL,
        {
            "AccountSid": ACCOUNT,
            "ApplicationSid": app,
            "CallSid": sid or call_sid(),
            "From": f"client:user_{user.pk}",
            "To": "",
            "Direction": "inbound",
            "CallStatus": "ringing",
            "ticket": ticket or softphone.call_ticket(call=call, user_id=user.pk),
        },
    )


# --- the access token -----------------------------------------------------------------


def test_a_caller_gets_a_voice_token_for_the_twiml_app(api_client, configured, caller):
    api_client.force_authenticate(caller)
    response = api_client.post("/api/softphone/token/")
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert (body["identity"], body["ttl"]) == (f"user_{caller.pk}", 900)
    header = jwt.get_unverified_header(body["token"])
    assert (header["alg"], header["cty"]) == ("HS256", "twilio-fpa;v=1")
    # Signed with the API key's secret: verifies with it, and only with it.
    claims = jwt.decode(body["token"], KEY_SECRET, algorithms=["HS256"])
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(body["token"], "another-secret-0123456789abcdef0123", algorithms=["HS256"])
    assert (claims["iss"], claims["sub"]) == (KEY_SID, ACCOUNT)
    assert claims["grants"]["identity"] == f"user_{caller.pk}"
    assert claims["grants"]["voice"] == {"outgoing": {"application_sid": APP_SID}}
    assert claims["exp"] - claims["nbf"] == 900


def test_who_may_have_a_token(api_client, configured, agent, administrator):
    assert api_client.post("/api/softphone/token/").status_code in (401, 403)
    api_client.force_authenticate(agent)  # Agents answer texts; they place no calls
    assert api_client.post("/api/softphone/token/").status_code == 403
    api_client.force_authenticate(administrator)
    assert api_client.post("/api/softphone/token/").status_code == 201


def test_no_token_where_the_softphone_is_not_configured(api_client, settings, caller):
    settings.TWILIO_TWIML_APP_SID = ""
    api_client.force_authenticate(caller)
    response = api_client.post("/api/softphone/token/")
    assert response.status_code == 404
    assert "not configured" in response.json()["detail"]


@pytest.mark.parametrize(
    "missing",
    ["TWILIO_ACCOUNT_SID", "TWILIO_API_KEY_SID", "TWILIO_API_KEY_SECRET", "TWILIO_TWIML_APP_SID"],
)
def test_each_setting_is_needed(settings, configured, missing):
    assert softphone.softphone_available()
    setattr(settings, missing, "")
    assert not softphone.softphone_available()


def test_the_offline_voice_provider_has_no_softphone(settings, configured):
    settings.VOICE_PROVIDER = "telephony.providers.offline.OfflineVoiceProvider"
    providers.clear_providers()
    assert not softphone.softphone_available()


# --- the TwiML App's Voice URL -----------------------------------------------------------


def test_the_voice_url_dials_the_lead_from_the_caller_id_and_adopts_the_call(
    twilio_post, configured, caller, pending
):
    sid = call_sid()
    response = connect(twilio_post, pending, caller, sid=sid)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    root = twiml(response)
    dial = root.find("Dial")
    assert dial is not None
    assert dial.get("callerId") == CALLER_ID
    assert dial.get("action").endswith(f"{STATUS_URL}?call={pending.pk}")
    number = dial.find("Number")
    assert number.text == LEAD
    assert number.get("statusCallback").endswith(f"{STATUS_URL}?call={pending.pk}")
    assert number.get("statusCallbackEvent") == "ringing answered completed"
    pending.refresh_from_db()
    assert (pending.external_id, pending.status) == (sid, Call.Status.RINGING)

    # Twilio retrying the same request gets the same answer; nothing is placed twice.
    assert connect(twilio_post, pending, caller, sid=sid).content == response.content


def test_the_voice_url_checks_the_signature(client, configured, caller, pending):
    response = client.post(
        VOICE_URL,
        {"CallSid": call_sid(), "From": f"client:user_{caller.pk}", "ApplicationSid": APP_SID},
        HTTP_X_TWILIO_SIGNATURE="forged",
    )
    assert response.status_code == 403
    pending.refresh_from_db()
    assert pending.external_id.startswith(outbound.PENDING_PREFIX)


def _refused(response) -> str:
    assert response.status_code == 200
    root = twiml(response)
    assert root.find("Dial") is None
    assert root.find("Hangup") is not None
    return root.find("Say").text


def test_the_voice_url_refuses_a_second_connection_another_callers_ticket_and_other_apps(
    twilio_post, configured, caller, make_user, pending
):
    other = make_user("Caller", "other-caller")
    assert "another caller" in _refused(
        connect(
            twilio_post,
            pending,
            other,
            ticket=softphone.call_ticket(call=pending, user_id=caller.pk),
        )
    )
    assert "TwiML App" in _refused(connect(twilio_post, pending, caller, app="AP" + "9" * 32))
    assert "not started from Switchboard" in _refused(
        connect(twilio_post, pending, caller, ticket="forged:ticket")
    )
    pending.refresh_from_db()
    assert pending.external_id.startswith(outbound.PENDING_PREFIX)  # none of them placed it

    assert connect(twilio_post, pending, caller).status_code == 200
    assert "already placed" in _refused(connect(twilio_post, pending, caller))


def test_a_malformed_voice_request_is_a_400(twilio_post, configured, caller, pending):
    response = twilio_post(VOICE_URL, {"AccountSid": ACCOUNT, "CallSid": "CA-not-a-sid"})
    assert response.status_code == 400
    assert "CallSid" in response.content.decode()


# --- the dial's callbacks ------------------------------------------------------------


def test_the_callbacks_complete_the_call_and_never_move_it_back(
    twilio_post, configured, caller, pending
):
    parent = call_sid()
    connect(twilio_post, pending, caller, sid=parent)
    url = f"{STATUS_URL}?call={pending.pk}"
    child = {"AccountSid": ACCOUNT, "CallSid": call_sid(), "ParentCallSid": parent}
    assert twilio_post(url, {**child, "CallStatus": "in-progress"}).status_code == 200
    pending.refresh_from_db()
    assert pending.status == Call.Status.IN_PROGRESS

    done = {"AccountSid": ACCOUNT, "CallSid": parent, "DialCallStatus": "completed"}
    response = twilio_post(url, {**done, "DialCallDuration": "42"})
    assert response.status_code == 200
    assert twiml(response).find("Hangup") is not None
    # Late and repeated callbacks change nothing.
    twilio_post(url, {**child, "CallStatus": "ringing"})
    twilio_post(url, {**done, "DialCallDuration": "42"})
    pending.refresh_from_db()
    assert (pending.status, pending.duration_seconds) == (Call.Status.COMPLETED, 42)
    assert pending.ended_at is not None


def test_a_callback_for_another_call_changes_nothing(twilio_post, configured, caller, pending):
    parent = call_sid()
    connect(twilio_post, pending, caller, sid=parent)
    other = outbound.outbound_call_create(from_e164=CALLER_ID, lead_e164="+16785551002")
    url = f"{STATUS_URL}?call={other.pk}"
    done = {"AccountSid": ACCOUNT, "CallSid": parent, "DialCallStatus": "busy"}
    assert twilio_post(url, done).status_code == 200
    pending.refresh_from_db()
    assert pending.status == Call.Status.RINGING


@pytest.mark.parametrize(
    "params",
    [
        {"DialCallStatus": "exploded"},
        {"ParentCallSid": "nope", "CallStatus": "ringing"},
        {"CallStatus": "ringing"},
    ],
)
def test_malformed_callbacks_are_400(twilio_post, configured, params):
    response = twilio_post(STATUS_URL, {"AccountSid": ACCOUNT, "CallSid": call_sid(), **params})
    assert response.status_code == 400


# --- the calling page ------------------------------------------------------------------


@pytest.fixture
def campaign(caller):
    campaign = Campaign.objects.create(name="Realtors")
    campaign.callers.add(caller)
    OwnedNumber.objects.create(number=CALLER_ID, label="Atlanta")
    StaffProfile.objects.create(user=caller, phone="+14045550199")
    return campaign


def test_no_call_in_browser_button_without_configuration(client, campaign, caller):
    lead(campaign, "Ada Lovelace", number=LEAD)
    client.force_login(caller)
    page = client.get(reverse("campaigns:dial", args=[campaign.pk])).content.decode()
    assert "Ada Lovelace" in page
    assert "Call in browser" not in page
    assert "twilio.min.js" not in page


def test_call_in_browser_records_the_call_and_hands_the_browser_its_ticket(
    client, configured, campaign, caller, monkeypatch
):
    contact = lead(campaign, "Ada Lovelace", number=LEAD)
    placed = []
    monkeypatch.setattr(outbound, "outbound_call_place", lambda **kw: placed.append(kw))
    client.force_login(caller)
    page = client.get(reverse("campaigns:dial", args=[campaign.pk])).content.decode()
    assert 'name="mode" value="browser"' in page
    assert "Call in browser" in page

    called = client.post(
        reverse("campaigns:dial-call", args=[campaign.pk, contact.pk]),
        {"number": LEAD, "mode": "browser"},
    )
    attempt = CallAttempt.objects.get(contact_id=contact.pk)
    assert called.status_code == 302
    assert called["Location"].endswith("?browser=1")
    assert placed == []  # nothing rings the caller's own phone
    call = attempt.call
    assert (call.from_number, call.to_number, call.status) == (CALLER_ID, LEAD, "queued")

    calling_page = client.get(called["Location"]).content.decode()
    assert "twilio-voice-sdk/twilio.min.js" in calling_page
    assert "Your phone rings first" not in calling_page
    ticket = re.search(r'data-ticket="([^"]+)"', calling_page).group(1)
    assert softphone._ticket_call(ticket, caller.pk) == call.pk
    assert "Log outcome and next lead" in calling_page
