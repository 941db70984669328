"""SMS replies: the send rules, the provider's answers, retries that never send twice, the
API per role (docs/messaging.md)."""

from types import SimpleNamespace

import pytest

from crm import providers
from crm.models import PhoneNumber
from crm.optout import phone_number_sms_opt_out_set
from telephony import messaging, services, tasks
from telephony.models import Message, TelephonySettings
from telephony.providers.messaging import MessagingRejected, MessagingRetryable
from tests.crm.factories import CustomerFactory
from tests.telephony.factories import hold, message_sid
from tests.telephony.messaging_fakes import RecordingProvider
from tests.telephony.twilio_messages_server import FakeTwilioMessages

pytestmark = pytest.mark.django_db

OURS, OUR_OTHER = "+18005550100", "+18005550199"
CUSTOMER = "+14155550142"


@pytest.fixture
def provider(settings):
    settings.MESSAGING_PROVIDER = "tests.telephony.messaging_fakes.RecordingProvider"
    RecordingProvider.reset()
    providers.clear_providers()
    yield RecordingProvider
    providers.clear_providers()


@pytest.fixture
def queued(monkeypatch):
    """The retries the service queues, instead of a broker."""
    sent: list[dict] = []
    monkeypatch.setattr(
        tasks.message_send_retry,
        "apply_async",
        lambda kwargs, countdown: sent.append({**kwargs, "countdown": countdown}),
    )
    return sent


def texted(body: str = "Can I move my appointment?", *, from_=CUSTOMER, to=OURS):
    """The customer texts us (the webhook's linking path): their profile."""
    recorded = services.message_record(
        external_id=message_sid(), direction="inbound", from_number=from_, to_number=to, body=body
    )
    return recorded.record.customer


def send(api_client, user, customer, **payload):
    api_client.force_authenticate(user)
    return api_client.post(f"/api/customers/{customer.pk}/messages/", payload, format="json")


def outbound() -> list[Message]:
    return list(Message.objects.filter(direction="outbound").order_by("id"))


def test_a_reply_is_stored_before_the_provider_is_called_then_takes_its_answer(provider, agent):
    customer = texted()

    message = messaging.message_send(customer=customer, body="3 pm works", by=agent)

    (call,) = provider.calls
    assert call["stored"] == ["pending"]  # the row existed, pending, when the provider ran
    assert (call["from"], call["to"], call["body"]) == (OURS, CUSTOMER, "3 pm works")
    assert message.status == "queued"
    assert message.external_id.startswith("SM")
    assert (message.direction, message.from_number, message.to_number) == (
        "outbound",
        OURS,
        CUSTOMER,
    )
    assert (message.sent_by, message.attempts, message.customer) == (agent, 1, customer)
    customer.refresh_from_db()
    assert customer.interaction_count == 2


def test_the_reply_goes_from_the_number_the_customer_last_wrote_to(provider, agent):
    customer = texted(to=OURS)
    texted("Also, parking?", to=OUR_OTHER)

    message = messaging.message_send(customer=customer, body="Yes", by=agent)

    assert message.from_number == OUR_OTHER


def test_without_an_inbound_text_it_goes_from_the_settings_number(provider, agent):
    customer = CustomerFactory()
    hold(CUSTOMER, "mobile", customer=customer)
    config = TelephonySettings.load()
    config.sms_from = "(800) 555-0199"
    config.full_clean()
    config.save()

    message = messaging.message_send(customer=customer, body="Hello", by=agent)

    assert message.from_number == OUR_OTHER


def test_with_nothing_to_send_from_it_is_refused_and_nothing_is_stored(provider, api_client, agent):
    customer = CustomerFactory()
    hold(CUSTOMER, "mobile", customer=customer)

    response = send(api_client, agent, customer, body="Hello")

    assert response.status_code == 409
    assert "No number to send from" in response.json()["detail"]
    assert outbound() == []
    assert provider.calls == []


def test_the_api_answers_201_with_the_stored_message(provider, api_client, agent):
    customer = texted()

    response = send(api_client, agent, customer, body="  See you at 3  ")

    assert response.status_code == 201
    body = response.json()
    (message,) = outbound()
    assert {k: body[k] for k in ("id", "external_id", "status", "from", "to", "body")} == {
        "id": message.pk,
        "external_id": message.external_id,
        "status": "queued",
        "from": OURS,
        "to": CUSTOMER,
        "body": "See you at 3",
    }


def test_an_opted_out_number_is_refused_with_the_reason(provider, api_client, agent):
    customer = texted()
    phone_number_sms_opt_out_set(e164=CUSTOMER, opted_out=True, cause="test")

    response = send(api_client, agent, customer, body="Hello?")

    assert response.status_code == 409
    assert "opted out of SMS" in response.json()["detail"]
    assert outbound() == []
    assert provider.calls == []


def test_a_customer_without_an_sms_capable_number_is_refused(provider, api_client, agent):
    customer = CustomerFactory()
    hold(CUSTOMER, "home", customer=customer)

    response = send(api_client, agent, customer, body="Hello")

    assert response.status_code == 409
    assert "no SMS-capable number" in response.json()["detail"]


def test_to_takes_any_format_of_one_of_the_customers_mobiles(provider, api_client, agent):
    customer = texted()
    hold("+14155550143", "mobile", customer=customer)

    response = send(api_client, agent, customer, body="Hi", to="(415) 555-0143")
    assert response.status_code == 201
    assert response.json()["to"] == "+14155550143"

    elsewhere = send(api_client, agent, customer, body="Hi", to="+1 212 555 0100")
    assert elsewhere.status_code == 409
    assert "not one of this customer's Mobile numbers" in elsewhere.json()["detail"]
    invalid = send(api_client, agent, customer, body="Hi", to="12345")
    assert invalid.status_code == 409


@pytest.mark.parametrize(
    "payload",
    [{}, {"body": ""}, {"body": "   "}, {"body": "x" * 1601}, {"body": 5}, {"body": None}],
)
def test_a_bad_body_is_a_400_and_nothing_is_sent(provider, api_client, agent, payload):
    customer = texted()
    response = send(api_client, agent, customer, **payload)
    assert response.status_code == 400
    assert "body" in response.json()
    assert outbound() == []
    assert provider.calls == []


def test_a_nul_in_the_body_never_reaches_the_provider(provider, agent):
    customer = texted()
    message = messaging.message_send(customer=customer, body="a\x00b", by=agent)
    assert message.body == "ab"
    assert provider.calls[0]["body"] == "ab"


@pytest.mark.parametrize(
    ("role", "expected"), [("Administrator", 201), ("Agent", 201), ("Caller", 403)]
)
def test_who_may_send(provider, api_client, make_user, role, expected):
    customer = texted()
    assert send(api_client, make_user(role), customer, body="Hi").status_code == expected


def test_an_anonymous_request_cannot_send(provider, api_client):
    customer = texted()
    response = api_client.post(f"/api/customers/{customer.pk}/messages/", {"body": "Hi"})
    assert response.status_code in (401, 403)
    assert outbound() == []


def test_a_merged_away_profile_is_a_404(provider, api_client, agent):
    customer = texted()
    kept = CustomerFactory()
    customer.merged_into = kept
    customer.save()
    assert send(api_client, agent, customer, body="Hi").status_code == 404


def test_21610_from_the_provider_opts_the_number_out_everywhere(provider, api_client, agent):
    customer = texted()
    other_profile = hold(CUSTOMER, "other")
    provider.reset(
        [MessagingRejected("21610", "Attempt to send to unsubscribed recipient", opted_out=True)]
    )

    response = send(api_client, agent, customer, body="Hi")

    assert response.status_code == 409
    assert "unsubscribed" in response.json()["detail"]
    (message,) = outbound()
    assert (message.status, message.error_code) == ("failed", "21610")
    assert set(
        PhoneNumber.objects.filter(number=CUSTOMER).values_list("sms_opted_out", flat=True)
    ) == {True}
    other_profile.refresh_from_db()
    assert other_profile.sms_opted_out_at is not None


def test_another_refusal_is_a_502_and_the_attempt_is_kept_failed(provider, api_client, agent):
    customer = texted()
    provider.reset([MessagingRejected("21211", "The 'To' number is not a valid phone number.")])

    response = send(api_client, agent, customer, body="Hi")

    assert response.status_code == 502
    (message,) = outbound()
    assert (message.status, message.error_code) == ("failed", "21211")
    assert not PhoneNumber.objects.get(number=CUSTOMER).sms_opted_out


def test_a_busy_provider_is_retried_later_and_a_retry_delivered_twice_sends_once(
    provider, agent, queued
):
    customer = texted()
    provider.reset([MessagingRetryable("429", retry_after=3), "ok"])

    message = messaging.message_send(customer=customer, body="Hi", by=agent)

    assert (message.status, message.attempts, message.external_id) == ("pending", 1, None)
    (retry,) = queued
    assert (retry["attempt"], retry["countdown"]) == (2, 3)
    kwargs = {k: retry[k] for k in ("message_id", "attempt", "callback")}
    assert tasks.message_send_retry(**kwargs) == "queued"
    assert tasks.message_send_retry(**kwargs) == "queued"  # the broker delivered it twice
    assert len(provider.calls) == 2
    message.refresh_from_db()
    assert (message.attempts, message.external_id is not None) == (2, True)


def test_a_provider_busy_every_time_ends_failed_after_the_last_attempt(provider, agent, queued):
    customer = texted()
    provider.reset([MessagingRetryable("503")])
    messaging.message_send(customer=customer, body="Hi", by=agent)
    while queued:
        retry = queued.pop()
        tasks.message_send_retry(
            message_id=retry["message_id"], attempt=retry["attempt"], callback=retry["callback"]
        )
    (message,) = outbound()
    assert (message.status, message.attempts) == ("failed", messaging.MAX_ATTEMPTS)
    assert "Not sent after 5 attempts" in message.error_message
    assert len(provider.calls) == messaging.MAX_ATTEMPTS


def test_an_unconfirmed_send_is_never_resent_and_its_callback_settles_it(provider, agent, queued):
    customer = texted()
    provider.reset([TimeoutError("read timed out")])

    message = messaging.message_send(
        customer=customer, body="Hi", by=agent, callback_base="https://crm.example.com/"
    )

    assert message.status == "unknown"
    assert "not sent again" in message.error_message
    assert queued == []
    assert len(provider.calls) == 1
    assert provider.calls[0]["callback"] == (
        f"https://crm.example.com/webhooks/twilio/sms/status/?message={message.pk}"
    )
    sid = message_sid()
    found = messaging.message_status_update(
        report=messaging.StatusReport(external_id=sid, status="delivered", message_id=message.pk)
    )
    message.refresh_from_db()
    assert found
    assert (message.external_id, message.status, message.error_message) == (
        sid,
        "delivered",
        "",
    )


def test_through_twilio_a_timeout_after_it_took_the_message_sends_once(settings, agent, queued):
    customer = texted()
    with FakeTwilioMessages(["timeout", "ok"]) as fake:
        settings.MESSAGING_PROVIDER = "telephony.providers.twilio.TwilioMessagingProvider"
        settings.TWILIO_API_BASE_URL = fake.url
        settings.PROVIDER_TIMEOUT_SECONDS = 0.3
        providers.clear_providers()
        message = messaging.message_send(customer=customer, body="Hi", by=agent)
        assert message.status == "unknown"
        assert len(fake.requests) == 1
        assert queued == []
    providers.clear_providers()


def test_through_twilio_429_then_201_sends_once(settings, agent, queued):
    customer = texted()
    with FakeTwilioMessages([20429, "ok"]) as fake:
        settings.MESSAGING_PROVIDER = "telephony.providers.twilio.TwilioMessagingProvider"
        settings.TWILIO_API_BASE_URL = fake.url
        providers.clear_providers()
        message = messaging.message_send(customer=customer, body="Hi", by=agent)
        assert message.status == "pending"
        (retry,) = queued
        assert retry["countdown"] == 7  # Twilio's Retry-After
        tasks.message_send_retry(
            message_id=retry["message_id"], attempt=retry["attempt"], callback=retry["callback"]
        )
        assert [r["fields"]["Body"] for r in fake.requests] == ["Hi", "Hi"]
    providers.clear_providers()
    message.refresh_from_db()
    assert message.status == "queued"
    assert message.external_id.startswith("SM")


def test_the_customers_api_shows_the_opt_out_on_each_number(api_client, agent):
    customer = texted()
    phone_number_sms_opt_out_set(e164=CUSTOMER, opted_out=True, cause="test")
    api_client.force_authenticate(agent)
    (number,) = api_client.get(f"/api/customers/{customer.pk}/").json()["numbers"]
    assert number["sms_opted_out"] is True
    assert number["sms_opted_out_at"]


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_deliveries_of_one_retry_racing_send_once(provider, agent, queued):
    import threading

    from django.db import connection

    customer = texted()
    provider.reset([MessagingRetryable("503"), "ok"])
    messaging.message_send(customer=customer, body="Hi", by=agent)
    (retry,) = queued
    kwargs = {k: retry[k] for k in ("message_id", "attempt", "callback")}
    start = threading.Barrier(2)

    def deliver() -> None:
        start.wait()
        try:
            tasks.message_send_retry(**kwargs)
        finally:
            connection.close()

    workers = [threading.Thread(target=deliver) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert len(provider.calls) == 2  # the first attempt and one retry, not two
    (message,) = outbound()
    assert (message.status, message.attempts) == ("queued", 2)


@pytest.mark.parametrize(
    ("answer", "external_id", "status"),
    [
        (object(), None, "accepted"),
        (SimpleNamespace(external_id=12345, status="QUEUED"), "12345", "queued"),
        (SimpleNamespace(external_id="SM" + "f" * 200, status=None), "SM" + "f" * 62, "accepted"),
        (SimpleNamespace(external_id="", status="teleported"), None, "accepted"),
    ],
)
def test_a_malformed_answer_is_kept_as_taken_never_a_500(
    provider, api_client, agent, answer, external_id, status
):
    customer = texted()
    provider.reset([answer])

    response = send(api_client, agent, customer, body="Hi")

    assert response.status_code == 201
    (message,) = outbound()
    assert (message.external_id, message.status) == (external_id, status)
