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


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_call_linked_while_its_profile_is_merged_lands_on_the_kept_profile(agent, monkeypatch):
    """The link reads the number's holders, then a merge of that profile starts: the merge
    waits for the number's linking lock (or, were it to commit first, the link re-checks
    and follows it). Either way the call ends on the kept profile, counted once."""
    import threading

    from tests.crm.concurrency import Worker, until

    keep = Customer.objects.create(name="Kept")
    gone = Customer.objects.create(name="Merged away")
    crm_services.phone_number_add(customer=gone, number="+16785550177", type="mobile")

    holders_read, go_on = threading.Event(), threading.Event()
    read_holders = services._holders

    def holders_then_wait(e164):
        found = read_holders(e164)
        if not holders_read.is_set():
            holders_read.set()
            assert go_on.wait(timeout=30)
        return found

    monkeypatch.setattr(services, "_holders", holders_then_wait)
    link = Worker(
        lambda: services.call_record(
            external_id="CA" + "7" * 32,
            direction="inbound",
            from_number="+16785550177",
            to_number="+18005550100",
            channel="voice",
            facts=services.CallFacts(status="ringing"),
        )
    )
    link.start()
    assert holders_read.wait(timeout=20)
    merge = Worker(lambda: crm_services.customer_merge(keep=keep, merge=gone, actor=agent))
    merge.start()
    until(merge.done_or_waiting, "the merge commits or waits")
    go_on.set()
    link.join(timeout=30)
    merge.join(timeout=30)

    assert (link.error, merge.error) == (None, None)
    assert Call.objects.get(external_id="CA" + "7" * 32).customer_id == keep.pk
    keep.refresh_from_db()
    assert keep.interaction_count == 1
