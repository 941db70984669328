"""Twilio webhooks: signatures, parameters, TwiML answers, the status callback."""

import pytest
from django.urls import reverse

from crm.models import Customer
from telephony.models import Call, Message, TelephonySettings
from tests.telephony.factories import call_sid, message_sid
from tests.telephony.twilio_signing import OUR_NUMBER, sign

pytestmark = pytest.mark.django_db

VOICE = "/webhooks/twilio/voice/"
STATUS = "/webhooks/twilio/voice/status/"
SMS = "/webhooks/twilio/sms/"
CALLER = "+14155550142"


def voice_params(**overrides) -> dict:
    params = {
        "CallSid": call_sid(),
        "AccountSid": "AC" + "0" * 32,
        "From": CALLER,
        "To": OUR_NUMBER,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }
    params.update(overrides)
    return params


def sms_params(**overrides) -> dict:
    params = {
        "MessageSid": message_sid(),
        "AccountSid": "AC" + "0" * 32,
        "From": CALLER,
        "To": OUR_NUMBER,
        "Body": "Can I move my appointment?",
        "NumMedia": "0",
    }
    params.update(overrides)
    return params


def test_the_public_urls_are_the_contracts():
    assert reverse("telephony:twilio-voice") == VOICE
    assert reverse("telephony:twilio-voice-status") == STATUS
    assert reverse("telephony:twilio-sms") == SMS


def test_a_signed_call_from_an_unknown_number_makes_a_profile_and_answers_twiml(twilio_post):
    params = voice_params()
    response = twilio_post(VOICE, params)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    body = response.content.decode()
    assert "<Say>" in body
    assert TelephonySettings.load().greeting in body
    call = Call.objects.get(external_id=params["CallSid"])
    assert (call.status, call.from_number, call.to_number) == ("ringing", CALLER, OUR_NUMBER)
    assert str(call.customer.phone_numbers.get().number) == CALLER


def test_the_greeting_and_dial_are_configurable(twilio_post):
    config = TelephonySettings.load()
    config.greeting = ""
    config.forward_to = "+1 (212) 555-0100"
    config.full_clean()
    config.save()

    body = twilio_post(VOICE, voice_params()).content.decode()

    assert "<Say>" not in body
    assert "<Number>+12125550100</Number>" in body
    assert 'action="http://testserver/webhooks/twilio/voice/dial-done/"' in body


def test_a_forged_signature_is_refused_and_nothing_is_stored(twilio_post):
    response = twilio_post(VOICE, voice_params(), signature="bm90IGEgc2lnbmF0dXJl")
    assert response.status_code == 403
    assert not Customer.objects.exists()
    assert not Call.objects.exists()


def test_a_signature_for_other_parameters_is_refused(twilio_post):
    params = voice_params()
    signature = sign(f"http://testserver{VOICE}", {**params, "From": "+19998887777"})
    assert twilio_post(VOICE, params, signature=signature).status_code == 403
    assert not Call.objects.exists()


def test_a_signature_for_another_url_is_refused(twilio_post):
    params = voice_params()
    signature = sign(f"http://testserver{SMS}", params)
    assert twilio_post(VOICE, params, signature=signature).status_code == 403


def test_an_unsigned_request_is_refused_when_the_token_is_set(client, twilio_token):
    response = client.post(VOICE, voice_params())
    assert response.status_code == 403
    assert not Call.objects.exists()


def test_unsigned_requests_are_accepted_when_no_token_is_configured(client, settings):
    settings.TWILIO_AUTH_TOKEN = ""
    assert client.post(VOICE, voice_params()).status_code == 200
    assert Call.objects.count() == 1


def test_production_without_a_token_refuses_everything(client, settings):
    settings.TWILIO_AUTH_TOKEN = ""
    settings.PRODUCTION = True
    assert client.post(VOICE, voice_params()).status_code == 403
    assert not Call.objects.exists()


def test_the_signature_uses_the_public_base_url_behind_a_proxy(twilio_post, settings):
    settings.TWILIO_WEBHOOK_BASE_URL = "https://crm.example.com"
    params = voice_params()
    signature = sign(f"https://crm.example.com{VOICE}", params)
    assert twilio_post(VOICE, params, signature=signature).status_code == 200


def test_another_twilio_account_is_refused(twilio_post, settings):
    settings.TWILIO_ACCOUNT_SID = "AC" + "1" * 32
    assert twilio_post(VOICE, voice_params()).status_code == 403
    assert not Call.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"CallSid": ""}, "CallSid: missing"),
        ({"CallSid": "CA123"}, "CallSid"),
        ({"CallSid": "SM" + "0" * 32}, "CallSid"),
        ({"From": ""}, "From: missing"),
        ({"CallStatus": "exploded"}, "CallStatus"),
        ({"Direction": "sideways"}, "Direction"),
    ],
)
def test_malformed_parameters_get_a_400_with_the_reason(twilio_post, overrides, reason):
    response = twilio_post(VOICE, voice_params(**overrides))
    assert response.status_code == 400
    assert reason in response.content.decode()
    assert not Call.objects.exists()
    assert not Customer.objects.exists()


def test_a_get_is_not_a_webhook(client, twilio_token):
    assert client.get(VOICE).status_code == 405


def test_a_retried_voice_webhook_makes_one_call(twilio_post):
    params = voice_params()
    assert twilio_post(VOICE, params).status_code == 200
    assert twilio_post(VOICE, params).status_code == 200
    assert Call.objects.count() == 1
    assert Customer.objects.get().interaction_count == 1


def test_the_status_callback_fills_status_duration_and_end(twilio_post):
    params = voice_params()
    twilio_post(VOICE, params)
    status = {
        **params,
        "CallStatus": "completed",
        "CallDuration": "125",
        "Timestamp": "Sun, 22 Nov 2026 10:15:30 +0000",
    }
    response = twilio_post(STATUS, status)

    assert response.status_code == 200
    call = Call.objects.get()
    assert (call.status, call.duration_seconds) == ("completed", 125)
    assert call.ended_at.isoformat() == "2026-11-22T10:15:30+00:00"


def test_a_status_callback_for_an_unseen_call_records_it(twilio_post):
    params = voice_params(CallStatus="no-answer", Timestamp="Sun, 22 Nov 2026 10:15:30 +0000")
    assert twilio_post(STATUS, params).status_code == 200
    call = Call.objects.get()
    assert call.status == "no-answer"
    assert call.customer.interaction_count == 1


def test_a_child_leg_status_is_not_a_customer_call(twilio_post):
    params = voice_params(
        CallStatus="completed", ParentCallSid=call_sid(), Direction="outbound-dial"
    )
    assert twilio_post(STATUS, params).status_code == 200
    assert not Call.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"CallStatus": ""}, "CallStatus: missing"),
        ({"CallDuration": "ten"}, "CallDuration"),
        ({"Timestamp": "yesterday"}, "Timestamp"),
    ],
)
def test_a_malformed_status_callback_gets_a_400(twilio_post, overrides, reason):
    params = voice_params(CallStatus="completed", **{})
    params.update(overrides)
    response = twilio_post(STATUS, params)
    assert response.status_code == 400
    assert reason in response.content.decode()


def test_an_sms_from_an_unknown_number_makes_a_mobile_sms_profile(twilio_post):
    params = sms_params()
    response = twilio_post(SMS, params)

    assert response.status_code == 200
    assert response.content.decode().endswith("<Response />")
    message = Message.objects.get()
    assert message.body == params["Body"]
    phone = message.customer.phone_numbers.get()
    assert (phone.type, phone.sms) == ("mobile", True)


def test_the_sms_auto_reply_is_configurable(twilio_post):
    config = TelephonySettings.load()
    config.sms_auto_reply = "Thanks! We'll text you back shortly."
    config.save()
    body = twilio_post(SMS, sms_params()).content.decode()
    assert "<Message>Thanks! We'll text you back shortly.</Message>" in body


def test_a_caller_who_texts_stays_one_person_through_the_webhooks(twilio_post):
    twilio_post(VOICE, voice_params())
    twilio_post(SMS, sms_params())
    assert Customer.objects.count() == 1
    assert Customer.objects.get().interaction_count == 2


def test_a_malformed_sms_gets_a_400(twilio_post):
    response = twilio_post(SMS, sms_params(MessageSid="nope"))
    assert response.status_code == 400
    assert "MessageSid" in response.content.decode()
    assert not Message.objects.exists()


def test_a_forged_sms_is_refused(twilio_post):
    assert twilio_post(SMS, sms_params(), signature="Zm9yZ2Vk").status_code == 403
    assert not Message.objects.exists()
