"""Erasure reaches what agents wrote and what the person left: notes (and their earlier
versions), notes on their calls, voicemail recordings and transcriptions, SMS bodies and
delivery errors, and their SMS conversation in the inbox (crm/erasure.py)."""

import json
import re
from io import StringIO

import pytest
from django.core.management import call_command

from crm import selectors, services
from crm.models import Note, NoteEdit, PhoneNumber
from telephony.models import Call, CallNote, Conversation, Message
from tests.crm.factories import CustomerFactory
from tests.telephony.factories import CallFactory, MessageFactory

pytestmark = pytest.mark.django_db

NUMBER = "+16789998212"
RECORDING = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE0123456789abcdef"


@pytest.fixture
def person(agent):
    customer = services.customer_create(
        name="Ada Lovelace",
        numbers=[services.NewNumber(NUMBER, type=PhoneNumber.Type.MOBILE, sms=True)],
    )
    note = services.note_create(customer=customer, author=agent, text="Ada's card ends 4242")
    services.note_edit(note=note, by=agent, text="Ada prefers mornings")
    voicemail = CallFactory(
        customer=customer,
        from_number=NUMBER,
        voicemail=True,
        recording_url=RECORDING,
        recording_sid="RE0123456789abcdef",
        recording_seconds=12,
        transcript="Hi, it is Ada, call me on my cell",
    )
    # Written while the call had no profile; the call was linked to Ada since.
    orphan = Note.objects.create(customer=None, author=agent, text="Ada sounded upset")
    CallNote.objects.create(call=voicemail, note=orphan)
    MessageFactory(
        customer=customer,
        direction="outbound",
        from_number="+18005550100",
        to_number=NUMBER,
        body="Hi Ada",
        status=Message.Status.FAILED,
        error_code="21211",
        error_message=f"The 'To' number {NUMBER} is not a valid phone number.",
    )
    Conversation.objects.create(customer=customer, last_message_at=voicemail.started_at)
    return customer


def test_erasing_a_person_removes_what_notes_and_voicemails_say_about_them(person, agent):
    someone_else = CustomerFactory(name="Byron")
    theirs = services.note_create(customer=someone_else, author=agent, text="Byron's note")

    erasure = services.customer_erase(customer=person, actor=agent)

    assert not Note.objects.exclude(pk=theirs.pk).exists()
    assert not NoteEdit.objects.exists()
    assert not CallNote.objects.exists()
    assert Note.objects.get().text == "Byron's note"
    call = Call.objects.get(customer=person)
    assert (call.recording_url, call.recording_sid, call.transcript) == ("", "", "")
    assert call.recording_seconds == 12  # how long, like a call's duration, stays
    message = Message.objects.get(customer=person)
    assert (message.body, message.error_message, message.error_code) == ("", "", "21211")
    assert not Conversation.objects.filter(customer=person).exists()
    assert erasure.erased["notes"] == 1
    assert erasure.erased["earlier versions of notes"] == 1
    assert erasure.erased["notes on calls"] == 1
    assert erasure.erased["voicemail recordings"] == 1
    assert erasure.erased["message error texts"] == 1
    assert erasure.erased["SMS conversations"] == 1


def test_the_confirmation_page_counts_notes_recordings_and_the_conversation(person):
    _customer, _numbers, parts = selectors.customer_erasure_plan(person)
    by_kind = {part.kind: part.count for part in parts}
    assert by_kind["notes"] == 1
    assert by_kind["earlier versions of notes"] == 1
    assert by_kind["notes on calls"] == 1
    assert by_kind["voicemail recordings"] == 1
    assert by_kind["SMS conversations"] == 1


def test_notes_of_a_profile_merged_into_the_person_go_too(person, agent):
    twin = CustomerFactory(name="A. Lovelace")
    services.note_create(customer=twin, author=agent, text="Ada again")
    services.customer_merge(keep=person, merge=twin, actor=agent)

    services.customer_erase(customer=twin, actor=agent)

    assert not Note.objects.exists()


def test_the_export_holds_the_notes_and_the_recording_then_nothing_after_erasure(person, agent):
    out = StringIO()
    call_command("export_customer", str(person.pk), stdout=out)
    data = json.loads(out.getvalue())
    assert [n["text"] for n in data["crm-notes"]["notes"]] == ["Ada prefers mornings"]
    assert [e["text_before"] for e in data["crm-notes"]["note_edits"]] == ["Ada's card ends 4242"]
    assert "Ada sounded upset" in {n["text"] for n in data["telephony"]["call notes"]}
    assert data["telephony"]["calls"][0]["recording_url"] == RECORDING

    services.customer_erase(customer=person, actor=agent)
    out = StringIO()
    call_command("export_customer", str(person.pk), stdout=out)
    # Twilio's random ids may hold "Ada" by chance: they are not the person's.
    text = re.sub(r'"(CA|SM|MM)[0-9a-f]{32}"', '"<sid>"', out.getvalue())
    for secret in ("Ada", "4242", "mornings", "upset", "RE0123456789abcdef", "9998212"):
        assert secret not in text


def test_a_second_erasure_finds_nothing_left(person, agent):
    first = services.customer_erase(customer=person, actor=agent)
    assert services.customer_erase(customer=person, actor=agent).pk == first.pk
