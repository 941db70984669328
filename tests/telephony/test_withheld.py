"""Withheld and non-phone callers: answered like any call, recorded with no profile."""

import pytest
from django.urls import reverse

from crm.models import Customer
from telephony import services
from telephony.models import Call, Message, TelephonySettings
from telephony.parties import party_identify, party_label
from telephony.retention import retention_run
from tests.crm.factories import CustomerFactory
from tests.telephony.factories import CallFactory, call_sid, message_sid
from tests.telephony.test_api import REPORT, as_user
from tests.telephony.test_webhooks import SMS, STATUS, VOICE, sms_params, voice_params

pytestmark = pytest.mark.django_db

WITHHELD_OR_NOT_A_PHONE = [
    "anonymous",
    "Anonymous",
    "Restricted",
    "Unknown",
    "Blocked",
    "+266696687",
    "client:alice",
    "sip:alice@example.sip.twilio.com",
]


@pytest.mark.parametrize("caller", WITHHELD_OR_NOT_A_PHONE)
def test_a_withheld_or_non_phone_caller_is_answered_and_recorded_without_a_profile(
    twilio_post, caller
):
    config = TelephonySettings.load()
    config.forward_to = "+14155550100"
    config.save()
    normal = twilio_post(VOICE, voice_params())
    Call.objects.all().delete()
    Customer.objects.all().delete()

    params = voice_params(From=caller)
    response = twilio_post(VOICE, params)

    assert response.status_code == 200
    assert response.content == normal.content  # the same greeting and forwarding
    assert b"<Number>+14155550100</Number>" in response.content
    call = Call.objects.get()
    assert (call.customer_id, call.from_number, call.external_id) == (
        None,
        caller,
        params["CallSid"],
    )
    assert not Customer.objects.exists()
    assert twilio_post(VOICE, params).status_code == 200  # Twilio's retry: still one call
    assert Call.objects.count() == 1


def test_the_status_callback_of_a_withheld_call_completes_it(twilio_post):
    params = voice_params(From="anonymous")
    twilio_post(VOICE, params)
    response = twilio_post(STATUS, {**params, "CallStatus": "completed", "CallDuration": "42"})
    assert response.status_code == 200
    call = Call.objects.get()
    assert (call.status, call.duration_seconds, call.customer_id) == ("completed", 42, None)


def test_a_status_callback_first_records_the_withheld_call(twilio_post):
    params = voice_params(From="Restricted", CallStatus="completed", CallDuration="5")
    assert twilio_post(STATUS, params).status_code == 200
    assert twilio_post(STATUS, params).status_code == 200
    call = Call.objects.get()
    assert (call.customer_id, call.status) == (None, "completed")


def test_an_outbound_call_to_a_sip_address_has_no_profile(twilio_post):
    params = voice_params(
        From="+18005550100", To="sip:desk@example.sip.twilio.com", Direction="outbound-api"
    )
    assert twilio_post(VOICE, params).status_code == 200
    call = Call.objects.get()
    assert (call.customer_id, call.to_number) == (None, "sip:desk@example.sip.twilio.com")


@pytest.mark.parametrize("sender", ["72345", "262966", "Amazon", "VERIFY", "MyBank Ltd"])
def test_an_sms_from_a_short_code_or_sender_id_is_stored_without_a_profile(twilio_post, sender):
    params = sms_params(From=sender, Body="Your code is 123456")
    response = twilio_post(SMS, params)
    assert response.status_code == 200
    assert twilio_post(SMS, params).status_code == 200  # retried: one message
    message = Message.objects.get()
    assert (message.customer_id, message.from_number, message.body) == (
        None,
        sender,
        "Your code is 123456",
    )
    assert not Customer.objects.exists()


def test_a_real_number_still_makes_a_profile(twilio_post):
    twilio_post(VOICE, voice_params(From="+1 (415) 555-0142"))
    call = Call.objects.get()
    assert call.customer is not None
    assert call.from_number == "+14155550142"


@pytest.mark.parametrize(
    ("address", "kind", "label"),
    [
        ("anonymous", "withheld", "Withheld number"),
        ("+266696687", "withheld", "Withheld number"),
        ("client:alice", "client", "client:alice"),
        ("sip:alice@example.sip.twilio.com", "sip", "sip:alice@example.sip.twilio.com"),
        ("72345", "short code", "Short code 72345"),
        ("Amazon", "sender id", "Amazon"),
        ("(415) 555-0142", "number", "+14155550142"),
        ("%%%", "unrecognised", "%%%"),
    ],
)
def test_parties_are_told_apart(address, kind, label):
    assert party_identify(address).kind == kind
    assert party_label(party_identify(address).address) == label


def test_an_assistant_report_from_a_withheld_caller_is_recorded(api_client, administrator):
    client = as_user(api_client, administrator)
    for n, caller in enumerate(["anonymous", "client:alice", "sip:bob@example.com"]):
        response = client.post(
            "/api/calls/", {**REPORT, "external_id": f"w-{n}", "from": caller}, format="json"
        )
        assert response.status_code == 201, response.content
        assert response.json()["customer"] is None
        assert response.json()["from_number"] == caller
    assert not Customer.objects.exists()
    listed = client.get("/api/calls/").json()["results"]
    assert {c["customer"] for c in listed} == {None}


def test_a_mistyped_number_in_a_report_is_still_a_400(api_client, administrator):
    response = as_user(api_client, administrator).post(
        "/api/calls/", {**REPORT, "from": "+1 123 456"}, format="json"
    )
    assert response.status_code == 400
    assert "from" in response.json()


def test_the_calls_list_shows_who_called_and_links_only_profiles(client, agent):
    customer = CustomerFactory(name="Dana Reyes")
    CallFactory(customer=customer, from_number="+14155550142")
    CallFactory(customer=None, from_number="anonymous")
    CallFactory(customer=None, from_number="client:alice")
    client.force_login(agent)
    url = reverse("admin:telephony_call_changelist")
    page = client.get(url).content.decode()
    assert "Withheld number" in page
    assert "client:alice" in page
    assert "No profile" in page
    assert page.count(reverse("admin:crm_customer_change", args=[customer.pk])) == 1
    only_withheld = client.get(url, {"customer__id__exact": "none"}).content.decode()
    assert "Withheld number" in only_withheld
    assert "Dana Reyes" not in only_withheld.split("result_list")[-1]
    assert client.get(reverse("admin:telephony_message_changelist")).status_code == 200


def test_a_call_without_a_profile_opens_in_the_admin(client, administrator):
    call = CallFactory(customer=None, from_number="Restricted")
    client.force_login(administrator)
    response = client.get(reverse("admin:telephony_call_change", args=[call.pk]))
    assert response.status_code == 200


def test_retention_and_deletion_keep_counters_with_profileless_calls(settings):
    from datetime import timedelta

    from django.utils import timezone

    customer = CustomerFactory()
    old = timezone.now() - timedelta(days=400)
    services.call_record(
        external_id="CA" + "1" * 32,
        direction="inbound",
        from_number="+14155550142",
        to_number="+18005550100",
        channel="twilio",
        facts=services.CallFacts(started_at=old),
    )
    kept = services.call_record(
        external_id="CA" + "2" * 32,
        direction="inbound",
        from_number="+14155550142",
        to_number="+18005550100",
        channel="twilio",
        facts=services.CallFacts(),
    ).record
    CallFactory(customer=None, from_number="anonymous", started_at=old)
    withheld = CallFactory(customer=None, from_number="anonymous")
    config = TelephonySettings.load()
    config.record_retention_days = 30
    config.save()

    run = retention_run()

    assert run.calls_deleted == 2
    assert set(Call.objects.values_list("pk", flat=True)) == {kept.pk, withheld.pk}
    linked = kept.customer
    linked.refresh_from_db()
    assert linked.interaction_count == 1
    assert services.calls_delete(call_ids=[withheld.pk, kept.pk]) == 2
    linked.refresh_from_db()
    assert linked.interaction_count == 0
    customer.refresh_from_db()
    assert customer.interaction_count == 0


def test_a_profileless_message_can_be_deleted():
    message = services.message_record(
        external_id=message_sid(),
        direction="inbound",
        from_number="VERIFY",
        to_number="+18005550100",
        body="code",
    ).record
    assert message.customer_id is None
    assert services.messages_delete(message_ids=[message.pk]) == 1


def test_call_sids_for_withheld_calls_are_still_unique():
    first = services.call_record(
        external_id=call_sid(),
        direction="inbound",
        from_number="anonymous",
        to_number="",
        channel="twilio",
        facts=services.CallFacts(status="ringing"),
    )
    again = services.call_record(
        external_id=first.record.external_id,
        direction="inbound",
        from_number="anonymous",
        to_number="",
        channel="twilio",
        facts=services.CallFacts(status="completed"),
    )
    assert (first.created, again.created) == (True, False)
    assert Call.objects.get().status == "completed"
