"""Telephony's part of erasing or exporting a customer (crm/erasure.py).

Calls and messages stay, so the profile's counters and the analytics (durations, reasons,
satisfaction, calls per week) stay true; what identifies or quotes the person goes: the
transcripts (a voicemail's transcription is its call's transcript), the voicemail
recordings' addresses, the message bodies and delivery errors (Twilio's error text may
quote the number), the caller's number on each record, the notes on their calls (crm's
contributor erases the notes on the profile) and their SMS conversation in the inbox.
"""

from collections.abc import Collection
from typing import Any

from django.db.models import Q, QuerySet

from crm.erasure import ErasurePart, notes_delete
from crm.models import Customer, Note, PhoneNumber
from telephony.models import Call, Conversation, Direction, LineTypeLookup, Message

CALL_EXPORT_FIELDS = (
    "external_id",
    "direction",
    "channel",
    "from_number",
    "to_number",
    "assistant__name",
    "status",
    "started_at",
    "ended_at",
    "duration_seconds",
    "satisfaction",
    "reason",
    "transcript",
    "voicemail",
    "recording_url",
    "recording_seconds",
)
MESSAGE_EXPORT_FIELDS = (
    "external_id",
    "direction",
    "from_number",
    "to_number",
    "status",
    "body",
    "sent_at",
    "error_code",
    "error_message",
)


# The person's side of a record: the caller of an inbound one, the callee of an outbound.
THEIR_NUMBER = (Q(direction=Direction.INBOUND) & ~Q(from_number="")) | (
    Q(direction=Direction.OUTBOUND) & ~Q(to_number="")
)


def _call_notes(customer: Customer, *, also_profile: bool = False) -> QuerySet[Note]:
    """Notes on the person's calls. Those also on the profile are crm's to erase (its
    contributor runs first); these are the ones written when the call had no profile."""
    notes = Note.objects.filter(call_link__call__customer=customer)
    return notes if also_profile else notes.exclude(customer=customer)


class TelephonyErasure:
    key = "telephony"

    def describe(self, customer: Customer, numbers: Collection[str]) -> list[ErasurePart]:
        # A merge moved every call and message of the merged profiles to this one.
        calls = Call.objects.filter(customer=customer)
        messages = Message.objects.filter(customer=customer)
        keeps = "The calls and messages stay (dates, durations, reasons, satisfaction)."
        return [
            ErasurePart(
                self.key, "call transcripts", calls.exclude(transcript="").count(), keeps=keeps
            ),
            ErasurePart(self.key, "voicemail recordings", calls.exclude(recording_url="").count()),
            ErasurePart(self.key, "message bodies", messages.exclude(body="").count()),
            ErasurePart(
                self.key, "message error texts", messages.exclude(error_message="").count()
            ),
            ErasurePart(self.key, "notes on calls", _call_notes(customer).count()),
            ErasurePart(
                self.key,
                "SMS conversations",
                Conversation.objects.filter(customer=customer).count(),
            ),
            ErasurePart(
                self.key,
                "caller numbers on calls and messages",
                calls.filter(THEIR_NUMBER).count() + messages.filter(THEIR_NUMBER).count(),
            ),
        ]

    def erase(
        self, customer: Customer, numbers: Collection[str], chosen: Collection[str]
    ) -> dict[str, int]:
        calls = Call.objects.filter(customer=customer)
        messages = Message.objects.filter(customer=customer)
        erased = {
            "call transcripts": calls.exclude(transcript="").update(transcript=""),
            # The audio stays at Twilio until deleted there (docs/operations.md); what
            # we hold is its address, which also lets the player fetch it.
            "voicemail recordings": calls.exclude(recording_url="", recording_sid="").update(
                recording_url="", recording_sid=""
            ),
            "message bodies": messages.exclude(body="").update(body=""),
            "message error texts": messages.exclude(error_message="").update(error_message=""),
            "notes on calls": notes_delete(_call_notes(customer)),
            # The inbox row only points at the person; an erased profile awaits no answer.
            "SMS conversations": Conversation.objects.filter(customer=customer).delete()[0],
        }
        numbers_erased = 0
        for queryset in (calls, messages):
            numbers_erased += (
                queryset.filter(direction=Direction.INBOUND)
                .exclude(from_number="")
                .update(from_number="")
            )
            numbers_erased += (
                queryset.filter(direction=Direction.OUTBOUND)
                .exclude(to_number="")
                .update(to_number="")
            )
        erased["caller numbers on calls and messages"] = numbers_erased
        return erased

    def export(self, customer: Customer, numbers: Collection[str]) -> dict[str, Any]:
        return {
            "call notes": list(
                _call_notes(customer, also_profile=True)
                .order_by("created_at", "id")
                .values("call_link__call__external_id", "text", "created_at")
            ),
            "conversation": list(
                Conversation.objects.filter(customer=customer).values(
                    "status", "awaiting_reply", "last_message_at", "resolved_at"
                )
            ),
            "calls": list(
                Call.objects.filter(customer=customer)
                .order_by("started_at", "id")
                .values(*CALL_EXPORT_FIELDS)
            ),
            "messages": list(
                Message.objects.filter(customer=customer)
                .order_by("sent_at", "id")
                .values(*MESSAGE_EXPORT_FIELDS)
            ),
        }


class LookupLedgerErasure:
    """The carrier lookups of the person's numbers. What each cost, when and from whom
    stays (it is money spent); the number and carrier go, unless another profile holds the
    number too (a shared line is not this person's alone, and its answer still serves)."""

    key = "telephony-lookups"

    def _theirs(self, customer: Customer, numbers: Collection[str]) -> list[str]:
        shared = set(
            PhoneNumber.objects.filter(number__in=list(numbers))
            .exclude(customer=customer)
            .values_list("number", flat=True)
        )
        return [n for n in numbers if n not in {str(s) for s in shared}]

    def describe(self, customer: Customer, numbers: Collection[str]) -> list[ErasurePart]:
        count = LineTypeLookup.objects.filter(number__in=self._theirs(customer, numbers)).count()
        keeps = "What each lookup cost, when and from which provider stays (money spent)."
        return [ErasurePart(self.key, "numbers in the carrier lookup ledger", count, keeps=keeps)]

    def erase(
        self, customer: Customer, numbers: Collection[str], chosen: Collection[str]
    ) -> dict[str, int]:
        erased = LineTypeLookup.objects.filter(number__in=self._theirs(customer, numbers)).update(
            number="", carrier=""
        )
        return {"numbers in the carrier lookup ledger": erased}

    def export(self, customer: Customer, numbers: Collection[str]) -> dict[str, Any]:
        return {
            "carrier lookups": list(
                LineTypeLookup.objects.filter(number__in=list(numbers))
                .order_by("looked_up_at", "id")
                .values("number", "line_type", "carrier", "cost", "provider", "looked_up_at")
            )
        }
