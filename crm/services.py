"""Every write to customers and their numbers goes through here."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from crm.db import constraint_violation_message
from crm.models import Customer, PhoneNumber, PhoneNumberChange
from crm.phones import InvalidPhoneNumber, normalize

# Who did it: a person (admin, API) or None for the system (webhooks, tasks, lookups).
Actor = User | AnonymousUser | None


@dataclass(frozen=True)
class NewNumber:
    number: str
    type: str = PhoneNumber.Type.OTHER
    sms: bool = False


def _as_validation_error(exc: IntegrityError) -> ValidationError:
    message = constraint_violation_message(exc, PhoneNumber)
    return ValidationError(message or "This number conflicts with an existing number.")


def _check_sms(type_: str, sms: bool) -> None:
    if sms and type_ != PhoneNumber.Type.MOBILE:
        raise ValidationError("Only a Mobile number can be tagged Mobile + SMS.")


@transaction.atomic
def customer_create(
    *,
    name: str = "",
    email: str = "",
    source: str = Customer.Source.MANUAL,
    numbers: Iterable[NewNumber] = (),
    type_source: str = PhoneNumber.TypeSource.MANUAL,
    cause: str = "created",
    actor: Actor = None,
) -> Customer:
    customer = Customer.objects.create(name=name, email=email, source=source)
    for new in numbers:
        phone_number_add(
            customer=customer,
            number=new.number,
            type=new.type,
            sms=new.sms,
            type_source=type_source,
            cause=cause,
            actor=actor,
        )
    return customer


@transaction.atomic
def phone_number_add(
    *,
    customer: Customer,
    number: str,
    type: str = PhoneNumber.Type.OTHER,
    sms: bool = False,
    type_source: str = PhoneNumber.TypeSource.MANUAL,
    cause: str = "added",
    actor: Actor = None,
) -> PhoneNumber:
    """Add ``number`` (any format) to ``customer``.

    Raises ``ValidationError`` when the number is invalid or the database refuses it
    (already this customer's, or already another customer's Mobile). The constraint is
    the arbiter: two requests racing for one Mobile number get one winner, never two.
    """
    try:
        e164 = normalize(number)
    except InvalidPhoneNumber as exc:
        raise ValidationError(str(exc)) from exc
    _check_sms(type, sms)
    try:
        with transaction.atomic():
            phone = PhoneNumber.objects.create(
                customer=customer, number=e164, type=type, sms=sms, type_source=type_source
            )
    except IntegrityError as exc:
        raise _as_validation_error(exc) from exc
    phone_number_change_record(
        phone=phone, action=PhoneNumberChange.Action.ADDED, cause=cause, actor=actor
    )
    return phone


@transaction.atomic
def phone_number_set_type(
    *,
    phone: PhoneNumber,
    type: str,
    sms: bool,
    type_source: str,
    cause: str,
    actor: Actor = None,
) -> PhoneNumber:
    """Change a number's type/SMS tag, with an audit row saying why."""
    _check_sms(type, sms)
    old_type, old_sms = phone.type, phone.sms
    if (old_type, old_sms) == (type, sms):
        return phone
    phone.type, phone.sms, phone.type_source = type, sms, type_source
    try:
        with transaction.atomic():
            phone.save(update_fields=["type", "sms", "type_source", "updated_at"])
    except IntegrityError as exc:
        phone.type, phone.sms = old_type, old_sms
        raise _as_validation_error(exc) from exc
    phone_number_change_record(
        phone=phone,
        action=PhoneNumberChange.Action.TYPE_CHANGED,
        cause=cause,
        actor=actor,
        old_type=old_type,
        old_sms=old_sms,
    )
    return phone


def phone_number_change_record(
    *,
    phone: PhoneNumber,
    action: str,
    cause: str,
    actor: Actor = None,
    old_type: str = "",
    old_sms: bool | None = None,
) -> PhoneNumberChange:
    return PhoneNumberChange.objects.create(
        customer_id=phone.customer_id,
        phone_number=phone if action != PhoneNumberChange.Action.REMOVED else None,
        number=str(phone.number),
        action=action,
        old_type=old_type,
        new_type=phone.type if action != PhoneNumberChange.Action.REMOVED else "",
        old_sms=old_sms,
        new_sms=phone.sms if action != PhoneNumberChange.Action.REMOVED else None,
        type_source=phone.type_source,
        cause=cause[:255],
        actor=actor if isinstance(actor, User) else None,
    )


@transaction.atomic
def phone_number_save(*, phone: PhoneNumber, cause: str, actor: Actor = None) -> PhoneNumber:
    """Save a number edited by a person (admin form): create or update, audited."""
    _check_sms(phone.type, phone.sms)
    previous = (
        PhoneNumber.objects.filter(pk=phone.pk).values("number", "type", "sms").first()
        if phone.pk
        else None
    )
    phone.type_source = PhoneNumber.TypeSource.MANUAL
    try:
        with transaction.atomic():
            phone.save()
    except IntegrityError as exc:
        raise _as_validation_error(exc) from exc
    if previous is None:
        phone_number_change_record(
            phone=phone, action=PhoneNumberChange.Action.ADDED, cause=cause, actor=actor
        )
    elif (str(previous["number"]), previous["type"], previous["sms"]) != (
        str(phone.number),
        phone.type,
        phone.sms,
    ):
        phone_number_change_record(
            phone=phone,
            action=PhoneNumberChange.Action.TYPE_CHANGED,
            cause=cause,
            actor=actor,
            old_type=previous["type"],
            old_sms=previous["sms"],
        )
    return phone


@transaction.atomic
def phone_number_remove(*, phone: PhoneNumber, cause: str, actor: Actor = None) -> None:
    phone_number_change_record(
        phone=phone,
        action=PhoneNumberChange.Action.REMOVED,
        cause=cause,
        actor=actor,
        old_type=phone.type,
        old_sms=phone.sms,
    )
    phone.delete()
