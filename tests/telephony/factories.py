import uuid
from decimal import Decimal

import factory
from django.utils import timezone

from crm.models import Customer, PhoneNumber
from telephony.models import Assistant, BackfillRun, Call, LineTypeLookup, Message
from tests.crm.factories import CustomerFactory


def call_sid() -> str:
    return "CA" + uuid.uuid4().hex


def message_sid() -> str:
    return "SM" + uuid.uuid4().hex


def hold(
    number: str, type_: str = "other", customer: Customer | None = None, **customer_fields
) -> PhoneNumber:
    """``number`` held as ``type_`` by ``customer`` (else a new one with these fields)."""
    return PhoneNumber.objects.create(
        customer=customer or CustomerFactory(**customer_fields), number=number, type=type_
    )


class AssistantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Assistant
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Assistant {n}")


class CallFactory(factory.django.DjangoModelFactory):
    """A stored call, made without the linking service (for reads, retention, admin)."""

    class Meta:
        model = Call

    customer = factory.SubFactory(CustomerFactory)
    from_number = "+16785550100"
    to_number = "+18005550100"
    external_id = factory.LazyFunction(call_sid)
    status = Call.Status.COMPLETED
    started_at = factory.LazyFunction(timezone.now)
    duration_seconds = 60


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    customer = factory.SubFactory(CustomerFactory)
    from_number = "+16785550100"
    to_number = "+18005550100"
    external_id = factory.LazyFunction(message_sid)
    body = "Hello"
    sent_at = factory.LazyFunction(timezone.now)


def ledger_rows(
    run: BackfillRun | None, count: int, cost: str = "0.008", *, at_risk: bool = False
) -> list[LineTypeLookup]:
    """``count`` ledger rows paid by ``run`` (a new caller's when None), numbers unique."""
    start = LineTypeLookup.objects.count()
    return LineTypeLookup.objects.bulk_create(
        LineTypeLookup(
            number=f"+1678555{start + i:04d}",
            line_type="unknown" if at_risk else "landline",
            cost=Decimal(cost),
            provider="twilio",
            purpose="backfill" if run else "new_caller",
            backfill=run,
            at_risk=at_risk,
        )
        for i in range(count)
    )
