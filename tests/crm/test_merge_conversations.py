"""A merge moves the SMS conversation, notes, messages, voicemails and opt-outs to the kept
profile, and its undo gives each back (crm/merge_parts.py, telephony/inbox.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from crm import services
from crm.merges import customer_merge_undo
from crm.models import Note, PhoneNumber
from telephony.models import Call, Conversation, Message
from tests.telephony.factories import CallFactory, MessageFactory

pytestmark = pytest.mark.django_db

SHARED = "+16785550101"
JANES = "+14045550142"
KEPTS = "+17705550100"


@pytest.fixture
def pair():
    kept = services.customer_create(
        name="Jane D.", numbers=[services.NewNumber(KEPTS, type=PhoneNumber.Type.OFFICE)]
    )
    merged = services.customer_create(
        name="Jane Doe",
        numbers=[services.NewNumber(JANES, type=PhoneNumber.Type.MOBILE, sms=True)],
    )
    return kept, merged


def _conversation(customer, minutes_ago, **fields):
    at = timezone.now() - timedelta(minutes=minutes_ago)
    return Conversation.objects.create(
        customer=customer, last_message_at=at, last_inbound_at=at, **fields
    )


def test_the_merged_profiles_conversation_moves_and_comes_back(pair, agent, administrator):
    kept, merged = pair
    MessageFactory(customer=merged, from_number=JANES, body="Can you call me?")
    conversation = _conversation(merged, 5, assigned_to=agent)

    record = services.customer_merge(keep=kept, merge=merged, actor=agent)

    conversation.refresh_from_db()
    assert conversation.customer_id == kept.pk
    assert record.moved["SMS conversations"] == 1

    back = customer_merge_undo(record=record, actor=administrator)

    conversation.refresh_from_db()
    assert conversation.customer_id == merged.pk
    assert conversation.assigned_to_id == agent.pk
    assert not Conversation.objects.filter(customer=kept).exists()
    assert back["SMS conversations"] == 1
    assert Message.objects.get().customer_id == merged.pk


def test_two_conversations_become_one_and_the_undo_parts_them(pair, agent, administrator):
    kept, merged = pair
    mine = _conversation(
        kept, 60, awaiting_reply=False, status="resolved", resolved_at=timezone.now()
    )
    theirs = _conversation(merged, 5, awaiting_reply=True, assigned_to=agent)
    theirs_at = theirs.last_message_at

    record = services.customer_merge(keep=kept, merge=merged, actor=agent)

    one = Conversation.objects.get()
    assert one.customer_id == kept.pk
    # A text nobody answered is never lost to a merge: open, awaiting, still assigned.
    assert (one.status, one.awaiting_reply, one.assigned_to_id) == ("open", True, agent.pk)
    assert one.last_message_at == theirs_at

    customer_merge_undo(record=record, actor=administrator)

    mine_back = Conversation.objects.get(customer=kept)
    theirs_back = Conversation.objects.get(customer=merged)
    assert mine_back.pk == mine.pk
    assert (mine_back.status, mine_back.awaiting_reply, mine_back.assigned_to_id) == (
        "resolved",
        False,
        None,
    )
    assert mine_back.last_message_at == mine.last_message_at
    assert (theirs_back.status, theirs_back.awaiting_reply) == ("open", True)
    assert theirs_back.assigned_to_id == agent.pk
    assert theirs_back.last_message_at == theirs_at


def test_notes_and_voicemails_go_back_on_undo(pair, agent, administrator):
    kept, merged = pair
    note = services.note_create(customer=merged, author=agent, text="Jane wants a callback")
    voicemail = CallFactory(
        customer=merged, from_number=JANES, voicemail=True, recording_url="https://x.test/RE1"
    )
    record = services.customer_merge(keep=kept, merge=merged, actor=agent)
    assert Note.objects.get(pk=note.pk).customer_id == kept.pk
    assert Call.objects.get(pk=voicemail.pk).customer_id == kept.pk

    back = customer_merge_undo(record=record, actor=administrator)

    assert Note.objects.get(pk=note.pk).customer_id == merged.pk
    assert Call.objects.get(pk=voicemail.pk).customer_id == merged.pk
    assert back["notes"] == 1


def test_an_opt_out_on_the_merged_copy_of_a_shared_number_survives_merge_and_undo(
    pair, agent, administrator
):
    kept, merged = pair
    services.phone_number_add(customer=kept, number=SHARED, type=PhoneNumber.Type.OTHER)
    copy = services.phone_number_add(
        customer=merged, number=SHARED, type=PhoneNumber.Type.HOME, cause="added after STOP"
    )
    stopped_at = timezone.now() - timedelta(days=3)
    PhoneNumber.objects.filter(pk=copy.pk).update(sms_opted_out=True, sms_opted_out_at=stopped_at)

    record = services.customer_merge(keep=kept, merge=merged, actor=agent)

    on_kept = PhoneNumber.objects.get(customer=kept, number=SHARED)
    assert on_kept.sms_opted_out is True
    assert on_kept.sms_opted_out_at == stopped_at

    customer_merge_undo(record=record, actor=administrator)

    back = PhoneNumber.objects.get(customer=merged, number=SHARED)
    assert back.sms_opted_out is True
    assert back.sms_opted_out_at == stopped_at
