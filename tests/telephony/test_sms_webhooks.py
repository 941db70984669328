"""SMS webhooks: STOP/START/HELP in the inbound webhook's TwiML, and the delivery status
callback (signed, idempotent, never moving a status backwards)."""

import pytest
from django.urls import reverse

from crm.models import PhoneNumber, PhoneNumberChange
from telephony.models import Conversation, Message, TelephonySettings
from tests.telephony.factories import MessageFactory, hold, message_sid
from tests.telephony.twilio_signing import OUR_NUMBER, sign

pytestmark = pytest.mark.django_db

SMS = "/webhooks/twilio/sms/"
STATUS = "/webhooks/twilio/sms/status/"
CUSTOMER = "+14155550142"


def sms_params(body: str, **overrides) -> dict:
    params = {
        "MessageSid": message_sid(),
        "AccountSid": "AC" + "0" * 32,
        "From": CUSTOMER,
        "To": OUR_NUMBER,
        "Body": body,
        "NumMedia": "0",
    }
    params.update(overrides)
    return params


def status_params(sid: str, status: str, **overrides) -> dict:
    params = {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": OUR_NUMBER,
        "To": CUSTOMER,
        "MessageStatus": status,
        "SmsStatus": status,
        "ApiVersion": "2010-04-01",
    }
    params.update(overrides)
    return params


def opted_out() -> set[bool]:
    return set(PhoneNumber.objects.filter(number=CUSTOMER).values_list("sms_opted_out", flat=True))


def test_the_status_callback_url_is_the_contract():
    assert reverse("telephony:twilio-sms-status") == STATUS


@pytest.mark.parametrize(
    "word", ["STOP", "stop", " Stop ", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "quit."]
)
def test_each_opt_out_keyword_opts_the_number_out_on_every_profile(twilio_post, word):
    hold(CUSTOMER, "home")
    hold(CUSTOMER, "office")

    response = twilio_post(SMS, sms_params(word))

    assert response.status_code == 200
    assert "unsubscribed" in response.content.decode()
    assert opted_out() == {True}
    assert PhoneNumberChange.objects.filter(action="sms_opt_out").count() == 2
    # Answered by the webhook itself: nothing waits in the inbox.
    assert not Conversation.objects.filter(awaiting_reply=True).exists()


def test_a_sentence_with_stop_in_it_is_not_an_opt_out(twilio_post):
    twilio_post(SMS, sms_params("Please stop by tomorrow"))
    assert opted_out() == {False}
    assert Conversation.objects.get().awaiting_reply


@pytest.mark.parametrize("word", ["START", "unstop"])
def test_start_opts_back_in(twilio_post, word):
    twilio_post(SMS, sms_params("STOP"))
    response = twilio_post(SMS, sms_params(word))
    assert "receive our messages again" in response.content.decode()
    assert opted_out() == {False}
    assert PhoneNumber.objects.get(number=CUSTOMER).sms_opted_out_at is None


def test_help_answers_with_the_configured_text_and_not_the_auto_reply(twilio_post):
    config = TelephonySettings.load()
    config.sms_help_text = "Acme Dental: call (800) 555-0100. Reply STOP to stop."
    config.sms_auto_reply = "Thanks, we will get back to you."
    config.save()

    body = twilio_post(SMS, sms_params("help")).content.decode()

    assert "Acme Dental: call (800) 555-0100" in body
    assert "we will get back" not in body
    assert opted_out() == {False}


def test_a_retried_stop_after_start_does_not_opt_out_again(twilio_post):
    stop = sms_params("STOP")
    twilio_post(SMS, stop)
    twilio_post(SMS, sms_params("START"))

    twilio_post(SMS, stop)  # Twilio retries the first webhook (same MessageSid)

    assert opted_out() == {False}
    assert Message.objects.count() == 2


def test_an_unsigned_stop_is_refused_and_changes_nothing(twilio_post):
    hold(CUSTOMER, "mobile")
    response = twilio_post(SMS, sms_params("STOP"), signature="bm90IGEgc2lnbmF0dXJl")
    assert response.status_code == 403
    assert opted_out() == {False}


# --- Delivery status ----------------------------------------------------------------------


def outbound(status: str = "queued", **fields) -> Message:
    return MessageFactory(
        direction="outbound",
        from_number=OUR_NUMBER,
        to_number=CUSTOMER,
        status=status,
        **fields,
    )


def test_a_signed_callback_moves_the_status_forward(twilio_post):
    message = outbound()
    response = twilio_post(STATUS, status_params(message.external_id, "delivered"))
    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == "delivered"


def test_a_forged_callback_is_refused_and_changes_nothing(twilio_post):
    message = outbound()
    response = twilio_post(
        STATUS, status_params(message.external_id, "failed"), signature="Zm9yZ2Vk"
    )
    assert response.status_code == 403
    message.refresh_from_db()
    assert message.status == "queued"


def test_the_same_callback_twice_changes_nothing_the_second_time(twilio_post):
    message = outbound()
    params = status_params(message.external_id, "undelivered", ErrorCode="30003")
    twilio_post(STATUS, params)
    message.refresh_from_db()
    first = (message.status, message.error_code)
    assert twilio_post(STATUS, params).status_code == 200
    message.refresh_from_db()
    assert (message.status, message.error_code) == first == ("undelivered", "30003")


@pytest.mark.parametrize(
    ("arrivals", "final"),
    [
        (["sent", "delivered"], "delivered"),
        (["delivered", "sent"], "delivered"),
        (["delivered", "sending", "queued"], "delivered"),
        (["sent", "queued"], "sent"),
        (["failed", "delivered"], "failed"),
        (["undelivered", "sent"], "undelivered"),
        (["delivered", "read"], "read"),
        (["read", "delivered"], "read"),
    ],
)
def test_out_of_order_callbacks_never_move_a_status_backwards(twilio_post, arrivals, final):
    message = outbound()
    for status in arrivals:
        assert twilio_post(STATUS, status_params(message.external_id, status)).status_code == 200
    message.refresh_from_db()
    assert message.status == final


def test_a_callback_for_an_unknown_message_is_answered_and_stores_nothing(twilio_post):
    response = twilio_post(STATUS, status_params(message_sid(), "delivered"))
    assert response.status_code == 200
    assert not Message.objects.exists()


def test_the_callback_settles_a_send_whose_answer_never_came(twilio_post):
    message = outbound("unknown", external_id=None)
    sid = message_sid()
    path = f"{STATUS}?message={message.pk}"

    assert twilio_post(path, status_params(sid, "sent")).status_code == 200

    message.refresh_from_db()
    assert (message.external_id, message.status) == (sid, "sent")


def test_the_callback_cannot_give_an_inbound_message_a_new_sid(twilio_post):
    inbound = MessageFactory(direction="inbound", external_id=message_sid())
    original = inbound.external_id
    twilio_post(f"{STATUS}?message={inbound.pk}", status_params(message_sid(), "sent"))
    inbound.refresh_from_db()
    assert (inbound.external_id, inbound.status) == (original, "received")


@pytest.mark.parametrize(
    ("path", "params", "problem"),
    [
        (STATUS, {"MessageStatus": "delivered"}, "MessageSid"),
        (STATUS, {"MessageSid": "CA" + "0" * 32, "MessageStatus": "sent"}, "MessageSid"),
        (STATUS, {"MessageSid": "SM" + "0" * 32, "MessageStatus": "teleported"}, "MessageStatus"),
        (STATUS, {"MessageSid": "SM" + "0" * 32, "MessageStatus": "pending"}, "MessageStatus"),
        (STATUS, {"MessageSid": "SM" + "0" * 32, "MessageStatus": ""}, "MessageStatus"),
        (
            STATUS,
            {"MessageSid": "SM" + "0" * 32, "MessageStatus": "failed", "ErrorCode": "x1"},
            "ErrorCode",
        ),
        (
            f"{STATUS}?message=abc",
            {"MessageSid": "SM" + "0" * 32, "MessageStatus": "sent"},
            "message",
        ),
    ],
)
def test_a_malformed_callback_is_a_400_with_the_reason(client, twilio_token, path, params, problem):
    response = client.post(
        path, params, HTTP_X_TWILIO_SIGNATURE=sign(f"http://testserver{path}", params)
    )
    assert response.status_code == 400
    assert response.content.decode().startswith(problem)
