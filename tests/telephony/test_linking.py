"""The linking rules: who an inbound call or SMS belongs to, and what it does to numbers."""

from datetime import timedelta

import pytest
from django.utils import timezone

from crm import services as crm_services
from crm.models import Customer, PhoneNumber, PhoneNumberChange
from telephony import services
from telephony.models import Call, Message
from tests.crm.factories import CustomerFactory
from tests.telephony.factories import call_sid, message_sid

pytestmark = pytest.mark.django_db

NEW = "+14155550123"
OURS = "+18005550100"


def ring(number: str = NEW, sid: str | None = None, **facts) -> services.Recorded:
    return services.call_record(
        external_id=sid or call_sid(),
        direction="inbound",
        from_number=number,
        to_number=OURS,
        channel="twilio",
        facts=services.CallFacts(**facts),
    )


def text(number: str = NEW, sid: str | None = None, body: str = "hi") -> services.Recorded:
    return services.message_record(
        external_id=sid or message_sid(),
        direction="inbound",
        from_number=number,
        to_number=OURS,
        body=body,
    )


def holding(number: str, type_: str, *, active_days_ago: int | None = None, **kw) -> Customer:
    customer = CustomerFactory(**kw)
    if active_days_ago is not None:
        customer.last_interaction_at = timezone.now() - timedelta(days=active_days_ago)
        customer.save()
    crm_services.phone_number_add(customer=customer, number=number, type=type_)
    return customer


def test_an_unknown_caller_gets_a_profile_with_the_number_as_other_and_the_call():
    recorded = ring(status="ringing")

    customer = Customer.objects.get()
    assert recorded.created
    assert recorded.record.customer == customer
    assert customer.source == Customer.Source.CALL
    phone = customer.phone_numbers.get()
    assert (str(phone.number), phone.type, phone.sms, phone.type_source) == (
        NEW,
        "other",
        False,
        "inbound_call",
    )
    assert customer.interaction_count == 1
    assert (
        customer.first_interaction_at == customer.last_interaction_at == recorded.record.started_at
    )
    change = PhoneNumberChange.objects.get()
    assert change.action == "added"
    assert change.cause == f"inbound call {recorded.record.external_id}"


def test_a_known_number_links_to_its_holder_and_moves_the_counters():
    jane = holding(NEW, "mobile")
    first = ring()
    later = timezone.now() + timedelta(hours=1)
    ring(started_at=later)

    jane.refresh_from_db()
    assert Customer.objects.count() == 1
    assert jane.calls.count() == 2
    assert jane.interaction_count == 2
    assert jane.first_interaction_at == first.record.started_at
    assert jane.last_interaction_at == later


def test_the_mobile_holder_wins_over_a_more_recently_active_profile():
    mobile_holder = holding(NEW, "mobile", active_days_ago=300)
    holding(NEW, "home", active_days_ago=1)

    assert ring().record.customer == mobile_holder


def test_without_a_mobile_holder_the_most_recently_active_profile_wins():
    holding(NEW, "home", active_days_ago=30)
    recent = holding(NEW, "office", active_days_ago=2)
    holding(NEW, "other")  # never active: sorts last

    assert ring().record.customer == recent


def test_a_merged_profile_is_never_linked_to():
    kept = CustomerFactory()
    merged = holding(NEW, "mobile", merged_into=kept)

    customer = ring().record.customer
    assert customer not in (merged, kept)
    assert Customer.objects.count() == 3


def test_a_retried_webhook_makes_one_call_and_counts_once():
    sid = call_sid()
    first = ring(sid=sid, status="ringing")
    again = ring(sid=sid, status="ringing")

    assert first.created
    assert not again.created
    assert Call.objects.count() == 1
    assert Customer.objects.get().interaction_count == 1


def test_a_finished_call_stays_finished_when_a_late_callback_arrives():
    sid = call_sid()
    ring(sid=sid, status="completed", duration_seconds=42)
    ring(sid=sid, status="ringing")

    call = Call.objects.get()
    assert (call.status, call.duration_seconds) == ("completed", 42)


def test_outbound_calls_are_linked_by_the_number_called():
    recorded = services.call_record(
        external_id=call_sid(),
        direction="outbound",
        from_number=OURS,
        to_number=NEW,
        channel="twilio",
        facts=services.CallFacts(status="queued"),
    )
    assert str(recorded.record.customer.phone_numbers.get().number) == NEW


def test_an_sms_from_an_unknown_number_makes_a_profile_with_mobile_and_sms():
    recorded = text()

    customer = Customer.objects.get()
    assert recorded.record.customer == customer
    assert customer.source == "sms"
    phone = customer.phone_numbers.get()
    assert (phone.type, phone.sms, phone.type_source) == ("mobile", True, "inbound_sms")
    assert PhoneNumberChange.objects.get().cause == f"inbound SMS {recorded.record.external_id}"


def test_an_sms_from_a_number_one_profile_holds_as_other_makes_it_mobile_and_sms():
    chen = holding(NEW, "other")
    holding(NEW, "office", active_days_ago=1)  # a shared switchboard does not count

    recorded = text()

    assert recorded.record.customer == chen
    phone = chen.phone_numbers.get()
    assert (phone.type, phone.sms, phone.type_source) == ("mobile", True, "inbound_sms")
    change = PhoneNumberChange.objects.filter(action="type_changed").get()
    assert (change.old_type, change.new_type, change.new_sms) == ("other", "mobile", True)
    assert change.cause == f"inbound SMS {recorded.record.external_id}"
    assert Customer.objects.count() == 2


def test_an_sms_from_a_number_several_profiles_hold_as_other_changes_no_type():
    holding(NEW, "other", active_days_ago=10)
    recent = holding(NEW, "other", active_days_ago=1)

    assert text().record.customer == recent
    assert set(PhoneNumber.objects.values_list("type", flat=True)) == {"other"}
    assert not PhoneNumberChange.objects.filter(action="type_changed").exists()


def test_an_sms_tags_a_mobile_holder_as_sms():
    jane = holding(NEW, "mobile")
    text()
    phone = jane.phone_numbers.get()
    assert (phone.type, phone.sms) == ("mobile", True)


def test_a_caller_who_then_texts_stays_one_person():
    called = ring().record.customer
    texted = text().record.customer

    assert called == texted
    assert Customer.objects.count() == 1
    phone = called.phone_numbers.get()
    assert (phone.type, phone.sms) == ("mobile", True)
    called.refresh_from_db()
    assert called.interaction_count == 2
    assert Message.objects.get().customer == called


def test_a_retried_sms_makes_one_message():
    sid = message_sid()
    text(sid=sid)
    text(sid=sid)
    assert Message.objects.count() == 1
    assert Customer.objects.get().interaction_count == 1


def test_a_later_report_updates_the_same_call():
    sid = "vapi-0001"
    services.call_record(
        external_id=sid,
        direction="inbound",
        from_number=NEW,
        to_number=OURS,
        channel="assistant",
        facts=services.CallFacts(status="completed", reason="Billing", assistant="Front desk"),
    )
    again = services.call_record(
        external_id=sid,
        direction="inbound",
        from_number=NEW,
        to_number=OURS,
        channel="assistant",
        facts=services.CallFacts(satisfaction=4, transcript="Hello…"),
    )

    call = Call.objects.get()
    assert not again.created
    assert (call.reason, call.satisfaction, call.transcript) == ("Billing", 4, "Hello…")
    assert call.assistant.name == "Front desk"
    assert Customer.objects.get().interaction_count == 1


def test_an_sms_from_a_number_a_merged_profile_holds_as_mobile_makes_a_profile_anyway():
    kept = CustomerFactory()
    holding(NEW, "mobile", merged_into=kept)

    customer = text().record.customer

    assert customer.merged_into is None
    assert customer.phone_numbers.get().type == "other"  # a Mobile keeps its one owner
    assert Message.objects.get().customer == customer


def test_linking_works_with_server_side_binding(monkeypatch):
    from django.db import connection

    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "server_side_binding", True)
    sid = call_sid()
    ring(sid=sid)
    again = ring(sid=sid)
    assert not again.created
    assert Call.objects.count() == 1
