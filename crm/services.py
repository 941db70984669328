"""Every write to customers and their numbers goes through here."""

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import cast

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Cast
from django.utils import timezone

from crm.actors import Actor, acting_user
from crm.db import constraint_violation_message, number_locks
from crm.matches import (  # noqa: F401
    MATCH_MAX_HOLDERS,
    match_suggestion_dismiss,
    match_suggestions_refresh,
)

# Possible matches are crm/matches.py's; the names stay importable from here too.
from crm.merge_parts import merge_parts
from crm.models import (
    Customer,
    CustomerErasure,
    CustomerMerge,
    MatchSuggestion,
    Note,
    NoteEdit,
    PhoneNumber,
    PhoneNumberChange,
)
from crm.phones import InvalidPhoneNumber, normalize
from crm.selectors import (
    ProfilesChanged,
    customer_erasure_subject,
    numbers_held,
    profiles_lock,
)


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
def customer_update(*, customer: Customer, actor: Actor = None) -> Customer:
    """Save a profile edited by a person (the admin form, before its numbers are saved).

    Once the whole edit commits (numbers included), the profile is re-checked for
    possible matches: a new number or email may show it is someone we already know.
    """
    customer.save()
    customer_id = customer.pk
    transaction.on_commit(lambda: match_suggestions_refresh(customer_ids=[customer_id]))
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


@transaction.atomic
def phone_numbers_identify_mobile(
    *, causes: dict[int, str], sms: bool, type_source: str
) -> list[int]:
    """Make Mobile each of these numbers (``{phone id: cause}``) that is still the only
    profile's Other for its number, nobody holding it as Mobile; audited. Set-based, for
    the identification backfill. Returns the ids changed.

    The rule is checked again here, under each number's linking lock, because anything may
    have happened since the lookup was sent: an SMS made it someone's Mobile, a person
    added it to a second profile, a merge moved it.
    """
    if not causes:
        return []
    ids = sorted(causes)
    # Rows, not model instances, and the number as stored (E.164 text): a chunk of a
    # million-number backfill parses no phone number (docs/identification.md).
    stored = Cast("number", models.CharField())
    number_locks(PhoneNumber.objects.filter(id__in=ids).values_list(stored, flat=True))
    rivals = PhoneNumber.objects.filter(
        number=OuterRef("number"), type__in=[PhoneNumber.Type.MOBILE, PhoneNumber.Type.OTHER]
    ).exclude(pk=OuterRef("pk"))
    phones = list(
        PhoneNumber.objects.select_for_update(of=("self",))
        .filter(id__in=ids, type=PhoneNumber.Type.OTHER, customer__merged_into__isnull=True)
        .exclude(Exists(rivals))
        .order_by("id")
        .values_list("id", "customer_id", "sms", stored)
    )
    if not phones:
        return []
    changed = [phone_id for phone_id, *_ in phones]
    try:
        with transaction.atomic():
            PhoneNumber.objects.filter(id__in=changed).update(
                type=PhoneNumber.Type.MOBILE,
                sms=sms,
                type_source=type_source,
                updated_at=timezone.now(),
            )
    except IntegrityError:
        # A person made one of them another profile's Mobile this instant (the admin
        # takes no number lock): one at a time, the refused one left as it is.
        return _phone_numbers_identify_one_by_one(
            ids=changed, causes=causes, sms=sms, type_source=type_source
        )
    PhoneNumberChange.objects.bulk_create(
        PhoneNumberChange(
            customer_id=customer_id,
            phone_number_id=phone_id,
            number=number,
            action=PhoneNumberChange.Action.TYPE_CHANGED,
            old_type=PhoneNumber.Type.OTHER,
            new_type=PhoneNumber.Type.MOBILE,
            old_sms=old_sms,
            new_sms=sms,
            type_source=type_source,
            cause=causes[phone_id][:255],
        )
        for phone_id, customer_id, old_sms, number in phones
    )
    return changed


def _phone_numbers_identify_one_by_one(
    *, ids: list[int], causes: dict[int, str], sms: bool, type_source: str
) -> list[int]:
    changed = []
    for phone in PhoneNumber.objects.filter(id__in=ids).order_by("id"):
        try:
            phone_number_set_type(
                phone=phone,
                type=PhoneNumber.Type.MOBILE,
                sms=sms,
                type_source=type_source,
                cause=causes[phone.pk],
            )
            changed.append(phone.pk)
        except ValidationError:
            continue
    return changed


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
        actor=acting_user(actor),
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


# When both profiles hold the same number, the kept row takes the more specific type.
_TYPE_STRENGTH: dict[str, int] = {
    PhoneNumber.Type.OTHER: 0,
    PhoneNumber.Type.HOME: 1,
    PhoneNumber.Type.OFFICE: 1,
    PhoneNumber.Type.MOBILE: 2,
}


# The fields an agent picks from either profile on the merge page (docs/product.md,
# "Possible matches and merges"); "kept" or "merged" names whose value survives.
MERGE_FIELDS = ("name", "email")
MERGE_SOURCES = ("kept", "merged")
_COUNTERS = ("interaction_count", "first_interaction_at", "last_interaction_at")


def _merge_refusal(keep: Customer, merge: Customer) -> str | None:
    """Why these two (locked) profiles cannot be merged, if a rule forbids it."""
    if keep.merged_into_id or merge.merged_into_id:
        return "One of these profiles was already merged into another."
    erased = CustomerErasure.objects.filter(customer_id__in=[keep.pk, merge.pk])
    erased_ids = set(erased.values_list("customer_id", flat=True))
    if keep.pk in erased_ids:
        # Its numbers and history would come back under a profile erased on request.
        return f"Customer #{keep.pk} was erased on request: nothing may be merged into it."
    if merge.pk in erased_ids:
        return f"Customer #{merge.pk} was erased on request: it cannot be merged into a profile."
    return None


@transaction.atomic
def customer_merge(
    *,
    keep: Customer,
    merge: Customer,
    actor: Actor = None,
    fields: dict[str, str] | None = None,
) -> CustomerMerge:
    """Merge ``merge`` into ``keep``: numbers, history and everything else move over.

    The merged profile is kept, hidden, with ``merged_into`` set. Every model of any app
    that points at a customer is re-pointed by introspection, so crm needs no knowledge
    of the apps built on it (calls, messages, notes, ...), and the moved rows' ids are
    recorded so an Administrator can undo the merge (``crm.merges``). The Mobile rule
    holds throughout: a number both profiles hold ends up once, on the kept profile, with
    the stronger type. ``fields`` says per field of :data:`MERGE_FIELDS` whose value the
    kept profile takes (``"kept"`` or ``"merged"``); unsaid, the kept one unless empty.
    """
    if keep.pk == merge.pk:
        raise ValidationError("A profile cannot be merged into itself.")
    fields = fields or {}
    if set(fields) - set(MERGE_FIELDS) or set(fields.values()) - set(MERGE_SOURCES):
        raise ValidationError(f"Choose 'kept' or 'merged' for {', '.join(MERGE_FIELDS)}.")
    # The locks an erasure takes, in its order (numbers, then rows by id): a merge and an
    # erasure of one person, or a merge and a webhook linking one of its numbers, serialise.
    locked = profiles_lock([keep.pk, merge.pk], numbers_held([keep.pk, merge.pk]))
    keep, merge = locked[keep.pk], locked[merge.pk]
    refusal = _merge_refusal(keep, merge)
    if refusal:
        raise ValidationError(refusal)
    values = {
        role: {name: getattr(profile, name) for name in (*MERGE_FIELDS, *_COUNTERS)}
        for role, profile in (("kept", keep), ("merged", merge))
    }

    moved: dict[str, int] = {}
    moved_ids: dict[str, list[int]] = {}
    skip = {PhoneNumber, MatchSuggestion, CustomerMerge, CustomerErasure}
    for relation in Customer._meta.related_objects:
        model = cast(type[models.Model], relation.related_model)
        if model in skip or not relation.one_to_many:
            continue
        field = relation.field.name
        rows = model._base_manager.filter(**{field: merge})
        ids = list(rows.values_list("pk", flat=True))
        if ids:
            rows.update(**{field: keep})
            moved_ids[f"{model._meta.label_lower}.{field}"] = ids
            moved[str(model._meta.verbose_name_plural)] = len(ids)

    cause = f"merged from customer #{merge.pk}"
    kept_numbers = {str(p.number): p for p in keep.phone_numbers.all()}
    dropped, raised, moved_phones = [], [], []
    for phone in list(merge.phone_numbers.all()):
        existing = kept_numbers.get(str(phone.number))
        if existing is None:
            phone.customer = keep
            phone.save(update_fields=["customer", "updated_at"])
            moved_phones.append(phone.pk)
            phone_number_change_record(
                phone=phone, action=PhoneNumberChange.Action.MOVED, cause=cause, actor=actor
            )
        else:
            # Delete the merged copy first, so a Mobile can pass to the kept row without
            # two Mobile rows existing for an instant; its audit row goes where the
            # history now lives.
            dropped.append(_phone_values(phone) | {"opted_out_at": _opted_out_at(phone)})
            phone.customer = keep
            phone_number_remove(phone=phone, cause=cause, actor=actor)
            if _TYPE_STRENGTH[phone.type] > _TYPE_STRENGTH[existing.type]:
                raised.append({"id": existing.pk, **_phone_values(existing)})
                phone_number_set_type(
                    phone=existing,
                    type=phone.type,
                    sms=phone.sms,
                    type_source=phone.type_source,
                    cause=cause,
                    actor=actor,
                )
            if phone.sms_opted_out and not existing.sms_opted_out:
                # A handset's STOP outlives the copy that carried it (the undo restores it).
                existing.sms_opted_out, existing.sms_opted_out_at = True, phone.sms_opted_out_at
                existing.save(update_fields=["sms_opted_out", "sms_opted_out_at", "updated_at"])
                phone_number_change_record(
                    phone=existing, action=PhoneNumberChange.Action.SMS_OPT_OUT, cause=cause
                )
        moved["phone numbers"] = moved.get("phone numbers", 0) + 1
    moved_ids["crm.phonenumber.customer"] = moved_phones
    parts, parts_moved = merge_parts.merged(keep=keep, merge=merge)  # crm/merge_parts.py
    moved.update(parts_moved)

    taken = {}
    for name in MERGE_FIELDS:
        kept_value, merged_value = getattr(keep, name), getattr(merge, name)
        taken[name] = fields.get(name) or ("kept" if kept_value else "merged")
        setattr(keep, name, merged_value if taken[name] == "merged" else kept_value)
    values["taken"] = taken
    keep.interaction_count += merge.interaction_count
    firsts = [d for d in (keep.first_interaction_at, merge.first_interaction_at) if d]
    lasts = [d for d in (keep.last_interaction_at, merge.last_interaction_at) if d]
    keep.first_interaction_at = min(firsts) if firsts else None
    keep.last_interaction_at = max(lasts) if lasts else None
    keep.save()
    merge.merged_into = keep
    merge.save(update_fields=["merged_into", "updated_at"])

    low, high = sorted([keep.pk, merge.pk])
    MatchSuggestion.objects.filter(customer_id=low, other_id=high).update(
        status=MatchSuggestion.Status.MERGED,
        resolved_at=timezone.now(),
        resolved_by=acting_user(actor),
    )
    # The merged profile's other open suggestions are re-derived for the kept profile.
    MatchSuggestion.objects.filter(
        Q(customer=merge) | Q(other=merge), status=MatchSuggestion.Status.OPEN
    ).delete()
    transaction.on_commit(lambda: match_suggestions_refresh(customer_ids=[keep.pk]))
    return CustomerMerge.objects.create(
        kept=keep,
        merged=merge,
        merged_by=acting_user(actor),
        moved=moved,
        values=values,
        undo={"moved": moved_ids, "dropped": dropped, "raised": raised, "parts": parts},
    )


def _opted_out_at(phone: PhoneNumber) -> str | None:
    at = phone.sms_opted_out_at
    return (at or timezone.now()).isoformat() if phone.sms_opted_out else None


def _phone_values(phone: PhoneNumber) -> dict[str, object]:
    return {
        "number": str(phone.number),
        "type": phone.type,
        "sms": phone.sms,
        "type_source": phone.type_source,
    }


def customer_erase(
    *,
    customer: Customer,
    actor: Actor = None,
    chosen: Collection[str] = (),
    reference: str = "",
) -> CustomerErasure:
    """Erase a customer on request: every app's part, then the profile, in one transaction.

    The profile stays as an empty shell (its counters, and the calls' durations, reasons
    and satisfaction stay, for analytics); its name, email and numbers go, and each app's
    contributor (crm/erasure.py) erases what it holds. ``chosen`` names the optional items
    the Administrator ticked (``contributor:key``, e.g. campaign leads). Idempotent: when
    nothing is left to erase the last erasure is returned and nothing is recorded again.

    The person is locked as a merge locks it (``selectors.profiles_lock``) and read again
    under the lock; a merge that committed in between makes the transaction start over.
    """
    for _attempt in range(_ERASE_ATTEMPTS - 1):
        try:
            return _customer_erase(
                customer=customer, actor=actor, chosen=chosen, reference=reference
            )
        except ProfilesChanged:
            continue
    return _customer_erase(customer=customer, actor=actor, chosen=chosen, reference=reference)


# Each retry follows a merge that committed meanwhile: a few are plenty.
_ERASE_ATTEMPTS = 5


@transaction.atomic
def _customer_erase(
    *, customer: Customer, actor: Actor, chosen: Collection[str], reference: str
) -> CustomerErasure:
    from crm.erasure import erasure_registry

    customer, profiles, numbers = customer_erasure_subject(customer, lock=True)
    ids = [p.pk for p in profiles]
    erased: dict[str, int] = {}
    for contributor in erasure_registry:
        prefix = f"{contributor.key}:"
        mine = {c.removeprefix(prefix) for c in chosen if c.startswith(prefix)}
        for kind, count in contributor.erase(customer, numbers, mine).items():
            erased[kind] = erased.get(kind, 0) + count
    # crm's own part last: the contributors needed the numbers to find their rows.
    erased["profile names and emails"] = (
        Customer.objects.filter(id__in=ids).exclude(name="", email="").update(name="", email="")
    )
    erased["phone numbers"] = PhoneNumber.objects.filter(customer_id__in=ids).delete()[0]
    # The number history names the numbers; the erasure's own row is the audit now.
    erased["phone number changes"] = PhoneNumberChange.objects.filter(customer_id__in=ids).delete()[
        0
    ]
    erased["match suggestions"] = MatchSuggestion.objects.filter(
        Q(customer_id__in=ids) | Q(other_id__in=ids)
    ).delete()[0]
    erased = {kind: count for kind, count in erased.items() if count}
    previous = customer.erasures.order_by("-created_at", "-id").first()
    if not erased and previous is not None:
        return previous
    return CustomerErasure.objects.create(
        customer=customer, erased_by=acting_user(actor), reference=reference[:100], erased=erased
    )


# --- Notes ---------------------------------------------------------------------------------
NOTE_MAX_LENGTH = 5000


class NoteNotYours(PermissionError):
    """Only a note's author edits it (docs/search.md, "Notes")."""


def _note_text(text: object) -> str:
    cleaned = str(text if text is not None else "").replace("\x00", "").strip()
    if not cleaned:
        raise ValidationError("Write something: a note cannot be empty.")
    if len(cleaned) > NOTE_MAX_LENGTH:
        raise ValidationError(f"A note holds at most {NOTE_MAX_LENGTH:,} characters.")
    return cleaned


@transaction.atomic
def note_create(*, customer: Customer | None, author: Actor, text: str) -> Note:
    user = acting_user(author)
    if user is None:
        raise NoteNotYours("Notes are written by a signed-in person.")
    return Note.objects.create(customer=customer, author=user, text=_note_text(text))


@transaction.atomic
def note_edit(*, note: Note, by: Actor, text: str) -> Note:
    """The author's new text; the text it replaces is kept in a NoteEdit (the audit)."""
    note = Note.objects.select_for_update().get(pk=note.pk)
    user = acting_user(by)
    if user is None or note.author_id != user.pk:
        raise NoteNotYours("Only the author of a note may edit it.")
    cleaned = _note_text(text)
    if cleaned != note.text:
        NoteEdit.objects.create(note=note, text_before=note.text, edited_by=user)
        note.text = cleaned
        note.save(update_fields=["text", "updated_at"])
    return note
