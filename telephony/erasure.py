"""Telephony's part of erasing or exporting a customer (crm/erasure.py).

Calls and messages stay, so the profile's counters and the analytics (durations, reasons,
satisfaction, calls per week) stay true; what identifies or quotes the person goes: the
transcripts, the message bodies and the caller's number on each record.
"""

from collections.abc import Collection
from typing import Any

from django.db.models import Q

from crm.erasure import ErasurePart
from crm.models import Customer
from telephony.models import Call, Direction, Message

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
)
MESSAGE_EXPORT_FIELDS = (
    "external_id",
    "direction",
    "from_number",
    "to_number",
    "status",
    "body",
    "sent_at",
)


# The person's side of a record: the caller of an inbound one, the callee of an outbound.
THEIR_NUMBER = (Q(direction=Direction.INBOUND) & ~Q(from_number="")) | (
    Q(direction=Direction.OUTBOUND) & ~Q(to_number="")
)


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
            ErasurePart(self.key, "message bodies", messages.exclude(body="").count()),
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
            "message bodies": messages.exclude(body="").update(body=""),
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
