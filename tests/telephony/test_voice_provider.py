"""VOICE_PROVIDER: Twilio's Calls API against a loopback server, the offline sandbox, and
a provider with only what the contract says."""

from urllib.parse import parse_qs, urlparse

import pytest

from telephony import outbound
from telephony.models import Call
from telephony.providers.offline import OfflineVoiceProvider
from telephony.providers.twilio import TwilioVoiceProvider
from telephony.providers.voice import VoiceCallFailed
from tests.telephony.twilio_calls_server import FakeTwilioCalls

ACCOUNT = "AC" + "a" * 32
CALLBACK = "https://crm.example.com/webhooks/twilio/voice/outbound/?call=7"


@pytest.fixture
def twilio(settings):
    with FakeTwilioCalls() as fake:
        settings.TWILIO_API_BASE_URL = fake.url
        settings.TWILIO_ACCOUNT_SID = ACCOUNT
        settings.TWILIO_AUTH_TOKEN = "secret"
        settings.PROVIDER_TIMEOUT_SECONDS = 0.5
        yield fake


def test_call_rings_the_caller_first_and_dials_the_lead_with_the_caller_id(twilio):
    answer = TwilioVoiceProvider().call("+16785550100", "+14045550199", "+16785551234", CALLBACK)
    assert answer.external_id.startswith("CA")
    assert answer.status == "queued"
    [request] = twilio.requests
    assert request["path"] == f"/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
    assert request["authorization"].startswith("Basic ")
    form = request["form"]
    assert form["To"] == ["+14045550199"]
    assert form["From"] == ["+16785550100"]
    assert form["StatusCallback"] == [CALLBACK]
    assert form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    twiml = form["Twiml"][0]
    assert '<Dial callerId="+16785550100"><Number>+16785551234</Number></Dial>' in twiml


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (21215, "geographic permissions"),
        (21216, "blocks calls"),
        (21217, "not appear to be a valid"),
        (20429, "rate limiting"),
        ((429, ""), "rate limiting"),
        ((503, "<html>down</html>"), "answered 503"),
        ((500, ""), "answered 500"),
        ((201, "not json"), "refused the call"),
        ((201, '{"sid": null}'), "without a call id"),
        ("timeout", "could not be reached"),
    ],
)
def test_errors_become_a_readable_failure(twilio, answer, message):
    twilio.answers.append(answer)
    with pytest.raises(VoiceCallFailed, match=message):
        TwilioVoiceProvider().call("+16785550100", "+14045550199", "+16785551234", CALLBACK)


def test_offline_sandbox_completes_every_call():
    answer = OfflineVoiceProvider().call("+16785550100", "+14045550199", "+16785551234", CALLBACK)
    assert answer.status == "completed"
    assert answer.external_id.startswith("CA")


class ContractOnly:
    """Exactly what docs/providers.md promises: ``call`` answering external_id and status."""

    calls: list[tuple[str, ...]] = []

    def call(self, from_e164, to_e164, bridge_to_e164, status_callback):
        ContractOnly.calls.append((from_e164, to_e164, bridge_to_e164, status_callback))
        return type("Answer", (), {"external_id": "CA" + "b" * 32, "status": "queued"})()


class Raises:
    def call(self, *args):
        raise RuntimeError("vendor exploded")


@pytest.mark.django_db
def test_a_contract_only_provider_works_and_the_callback_url_names_the_call(settings):
    settings.VOICE_PROVIDER = "tests.telephony.test_voice_provider.ContractOnly"
    call = outbound.outbound_call_create(from_e164="+16785550100", lead_e164="+16785551234")
    placed = outbound.outbound_call_place(
        call=call, caller_phone="+14045550199", status_callback="https://x.example/cb/"
    )
    assert placed.external_id == "CA" + "b" * 32
    assert placed.status == "queued"
    sent = ContractOnly.calls[-1]
    assert sent[:3] == ("+16785550100", "+14045550199", "+16785551234")
    assert parse_qs(urlparse(sent[3]).query) == {"call": [str(call.pk)]}


@pytest.mark.django_db
def test_a_provider_that_raises_leaves_the_call_failed_with_the_reason(settings):
    settings.VOICE_PROVIDER = "tests.telephony.test_voice_provider.Raises"
    call = outbound.outbound_call_create(from_e164="+16785550100", lead_e164="+16785551234")
    with pytest.raises(outbound.OutboundCallFailed, match="vendor exploded"):
        outbound.outbound_call_place(call=call, caller_phone="+14045550199", status_callback="x")
    call.refresh_from_db()
    assert call.status == Call.Status.FAILED
    assert call.reason == "vendor exploded"


@pytest.mark.django_db
def test_progress_is_idempotent_and_never_goes_backwards():
    call = outbound.outbound_call_create(from_e164="+16785550100", lead_e164="+16785551234")
    sid = "CA" + "c" * 32
    # A callback before the provider's answer was stored adopts the call by its id.
    outbound.outbound_call_progress(
        external_id=sid, call_id=call.pk, progress=outbound.Progress("ringing")
    )
    call.refresh_from_db()
    assert call.external_id == sid
    assert call.status == "ringing"
    done = outbound.Progress("completed", duration_seconds=61)
    outbound.outbound_call_progress(external_id=sid, progress=done)
    outbound.outbound_call_progress(external_id=sid, progress=outbound.Progress("in-progress"))
    outbound.outbound_call_progress(
        external_id=sid, progress=outbound.Progress("completed", duration_seconds=5)
    )
    call.refresh_from_db()
    assert call.status == "completed"
    assert call.duration_seconds == 61
    assert call.ended_at
    assert (
        outbound.outbound_call_progress(external_id="CA" + "d" * 32, progress=done, call_id=call.pk)
        is None
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"CallStatus": "completed"}, 400),
        ({"CallSid": "CA123", "CallStatus": "completed"}, 400),
        ({"CallSid": "CA" + "e" * 32}, 400),
        ({"CallSid": "CA" + "e" * 32, "CallStatus": "exploded"}, 400),
        ({"CallSid": "CA" + "e" * 32, "CallStatus": "completed", "CallDuration": "-5"}, 400),
        ({"CallSid": "CA" + "e" * 32, "CallStatus": "completed", "CallDuration": "x\x00"}, 400),
        ({"CallSid": "CA" + "e" * 32, "CallStatus": "completed"}, 200),
    ],
)
def test_outbound_webhook_refuses_bad_input_and_ignores_unknown_calls(twilio_post, params, status):
    call = outbound.outbound_call_create(from_e164="+16785550100", lead_e164="+16785551234")
    response = twilio_post(f"/webhooks/twilio/voice/outbound/?call={call.pk}0", params)
    assert response.status_code == status
    call.refresh_from_db()
    assert call.status == "queued"
    assert call.external_id.startswith("pending-")
