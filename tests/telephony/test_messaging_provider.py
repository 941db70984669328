"""TwilioMessagingProvider against a loopback server answering as Twilio documents."""

import base64
import socket

import pytest

from telephony.providers.messaging import MessagingRejected, MessagingRetryable, SentMessage
from telephony.providers.offline import OfflineMessagingProvider
from telephony.providers.twilio import TwilioMessagingProvider
from telephony.providers.twilio_messaging import MessagingUnconfirmed
from tests.telephony.twilio_messages_server import FakeTwilioMessages

pytestmark = pytest.mark.database_free

ACCOUNT = "AC" + "a" * 32
FROM, TO = "+18005550100", "+14155550142"
CALLBACK = "https://crm.example.com/webhooks/twilio/sms/status/?message=7"


@pytest.fixture
def twilio(settings):
    def make(
        answers, *, timeout: float = 5.0
    ) -> tuple[FakeTwilioMessages, TwilioMessagingProvider]:
        fake = FakeTwilioMessages(answers).__enter__()
        settings.TWILIO_API_BASE_URL = fake.url
        settings.TWILIO_ACCOUNT_SID = ACCOUNT
        settings.TWILIO_AUTH_TOKEN = "secret-token"
        settings.PROVIDER_TIMEOUT_SECONDS = timeout
        made.append(fake)
        return fake, TwilioMessagingProvider()

    made: list[FakeTwilioMessages] = []
    yield make
    for fake in made:
        fake.__exit__(None, None, None)


def test_the_request_is_the_messages_api_shape_and_the_answer_its_sid(twilio):
    fake, provider = twilio(["ok"])

    answer = provider.send(FROM, TO, "Your table is ready", CALLBACK)

    (request,) = fake.requests
    assert request["path"] == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert request["content_type"] == "application/x-www-form-urlencoded"
    assert request["fields"] == {
        "To": TO,
        "From": FROM,
        "Body": "Your table is ready",
        "StatusCallback": CALLBACK,
    }
    expected = base64.b64encode(f"{ACCOUNT}:secret-token".encode()).decode()
    assert request["authorization"] == f"Basic {expected}"
    assert answer.external_id.startswith("SM")
    assert len(answer.external_id) == 34
    assert answer.status == "queued"


def test_no_status_callback_field_without_a_callback(twilio):
    fake, provider = twilio(["ok"])
    provider.send(FROM, TO, "Hi", "")
    assert "StatusCallback" not in fake.requests[0]["fields"]


def test_21610_unsubscribed_recipient_is_a_refusal_that_says_opted_out(twilio):
    _, provider = twilio([21610])
    with pytest.raises(MessagingRejected) as refused:
        provider.send(FROM, TO, "Hi", CALLBACK)
    assert (refused.value.code, refused.value.opted_out) == ("21610", True)
    assert "unsubscribed" in refused.value.message


def test_21211_invalid_number_is_a_refusal_not_an_opt_out(twilio):
    _, provider = twilio([21211])
    with pytest.raises(MessagingRejected) as refused:
        provider.send(FROM, "+1555", "Hi", CALLBACK)
    assert (refused.value.code, refused.value.opted_out) == ("21211", False)


def test_429_is_retryable_after_twilio_says(twilio):
    _, provider = twilio([20429])
    with pytest.raises(MessagingRetryable) as busy:
        provider.send(FROM, TO, "Hi", CALLBACK)
    assert busy.value.retry_after == 7.0


@pytest.mark.parametrize("code", [20500, 20503])
def test_5xx_is_retryable(twilio, code):
    _, provider = twilio([code])
    with pytest.raises(MessagingRetryable):
        provider.send(FROM, TO, "Hi", CALLBACK)


def test_a_connection_never_made_is_retryable(settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{port}"  # nobody listens there now
    with pytest.raises(MessagingRetryable):
        TwilioMessagingProvider().send(FROM, TO, "Hi", CALLBACK)


def test_a_timeout_after_the_request_left_is_not_retryable(twilio):
    # Twilio has the request (the server counted it): sending again could text twice.
    fake, provider = twilio(["timeout"], timeout=0.3)
    with pytest.raises(MessagingUnconfirmed):
        provider.send(FROM, TO, "Hi", CALLBACK)
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    "answer",
    [(201, "not json", {}), (201, '{"status": "queued"}', {}), (200, "[1, 2]", {})],
)
def test_a_success_we_cannot_read_is_unconfirmed_not_retried(twilio, answer):
    _, provider = twilio([answer])
    with pytest.raises(MessagingUnconfirmed):
        provider.send(FROM, TO, "Hi", CALLBACK)


def test_the_offline_provider_keeps_what_it_was_given_and_sends_nothing():
    answer = OfflineMessagingProvider().send(FROM, TO, "Offline hello", CALLBACK)
    assert isinstance(answer, SentMessage)
    assert answer.external_id.startswith("SM")
    assert answer.status == "sent"
    assert OfflineMessagingProvider.outbox[-1] == {
        "sid": answer.external_id,
        "from": FROM,
        "to": TO,
        "body": "Offline hello",
    }
