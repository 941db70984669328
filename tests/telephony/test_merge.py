import pytest

from crm import services as crm_services
from crm.models import Customer
from telephony import services
from telephony.models import Call, Message

pytestmark = pytest.mark.django_db


def test_a_merge_moves_calls_and_messages_and_later_contact_follows_the_kept_profile(agent):
    call = services.call_record(
        external_id="CA" + "1" * 32,
        direction="inbound",
        from_number="+16785550101",
        to_number="+18005550100",
        channel="voice",
        facts=services.CallFacts(status="completed", duration_seconds=30),
    ).record
    text = services.message_record(
        external_id="SM" + "2" * 32,
        direction="inbound",
        from_number="+16785550102",
        to_number="+18005550100",
        body="It's me again, from my cell",
    ).record
    keep, gone = call.customer, text.customer
    assert keep != gone

    crm_services.customer_merge(keep=keep, merge=gone, actor=agent)

    keep.refresh_from_db()
    assert Message.objects.get(pk=text.pk).customer == keep
    assert keep.interaction_count == 2
    assert {str(p.number): p.type for p in keep.phone_numbers.all()} == {
        "+16785550101": "other",
        "+16785550102": "mobile",
    }
    later = services.call_record(
        external_id="CA" + "3" * 32,
        direction="inbound",
        from_number="+16785550102",
        to_number="+18005550100",
        channel="voice",
        facts=services.CallFacts(status="ringing"),
    ).record
    assert later.customer == keep
    assert Customer.objects.get(pk=gone.pk).merged_into == keep
    assert Call.objects.filter(customer=gone).count() == 0
