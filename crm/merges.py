"""Undoing a merge (docs/product.md, "Possible matches and merges").

A merge records, on its ``CustomerMerge`` row, the ids of every row it re-pointed (by
model and field, whatever app the model belongs to), the merged profile's copies of the
numbers both profiles held, the kept numbers whose type it raised, and both profiles'
name, email and counters. Undoing moves exactly those rows back, so anything an app
points at a customer (calls, messages, notes) goes back without crm knowing the app.
Rows added to the kept profile since the merge stay with it.
"""

from datetime import datetime, timedelta
from typing import Any, cast

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from crm.actors import Actor, acting_user
from crm.formatting import local_datetime
from crm.matches import match_suggestions_refresh
from crm.merge_parts import merge_parts
from crm.models import (
    Customer,
    CustomerErasure,
    CustomerMerge,
    MatchSuggestion,
    PhoneNumber,
    PhoneNumberChange,
)
from crm.selectors import numbers_held, profiles_lock
from crm.services import (
    MERGE_FIELDS,
    phone_number_add,
    phone_number_change_record,
    phone_number_set_type,
)

PHONES = "crm.phonenumber.customer"


def merge_undo_refusal(record: CustomerMerge, *, now: datetime | None = None) -> str | None:
    """Why this merge can no longer be undone, or None when it can."""
    now = now or timezone.now()
    if record.undone_at is not None:
        return f"This merge was already undone on {local_datetime(record.undone_at)}."
    if now - record.created_at > timedelta(days=CustomerMerge.UNDO_DAYS):
        return f"A merge can be undone for {CustomerMerge.UNDO_DAYS} days; this one is older."
    if not record.undo:
        return "This merge was made before merges could be undone: nothing was recorded."
    return None


def _refusal_under_lock(record: CustomerMerge, kept: Customer, merged: Customer) -> str | None:
    refusal = merge_undo_refusal(record)
    if refusal:
        return refusal
    if kept.merged_into_id is not None:
        # The rows moved on with the later merge: that one is undone first.
        return (
            f"Customer #{kept.pk} was merged into #{kept.merged_into_id} since: "
            "undo that merge first."
        )
    if merged.merged_into_id != kept.pk:
        return f"Customer #{merged.pk} is no longer merged into #{kept.pk}."
    if CustomerErasure.objects.filter(customer_id__in=[kept.pk, merged.pk]).exists():
        return "The person was erased on request since: there is nothing to give back."
    return None


@transaction.atomic
def customer_merge_undo(*, record: CustomerMerge, actor: Actor = None) -> dict[str, int]:
    """Give the merged profile back what the merge moved (Administrators, for
    ``CustomerMerge.UNDO_DAYS`` days). Returns how many rows went back, by kind.

    Locked as a merge locks (the numbers, then both profiles' rows by id), so an undo,
    a merge, an erasure and a webhook linking one of these numbers serialise.
    """
    record = CustomerMerge.objects.select_for_update().get(pk=record.pk)
    ids = [record.kept_id, record.merged_id]
    locked = profiles_lock(ids, numbers_held(ids))
    kept, merged = locked[record.kept_id], locked[record.merged_id]
    refusal = _refusal_under_lock(record, kept, merged)
    if refusal:
        raise ValidationError(refusal)
    cause = f"merge #{record.pk} undone"
    back: dict[str, int] = {}
    for key, row_ids in record.undo.get("moved", {}).items():
        if key == PHONES or not row_ids:
            continue
        label, field = key.rsplit(".", 1)
        model = cast(type[models.Model], apps.get_model(label))
        count = model._base_manager.filter(pk__in=row_ids, **{field: kept}).update(
            **{field: merged}
        )
        if count:
            back[str(model._meta.verbose_name_plural)] = count
    back["phone numbers"] = _numbers_back(record, kept, merged, cause=cause, actor=actor)
    for kind, count in merge_parts.undone(
        kept=kept, merged=merged, recorded=record.undo.get("parts", {})
    ).items():
        back[kind] = back.get(kind, 0) + count

    _values_back(record, kept, merged)
    merged.merged_into = None
    merged.save()
    record.undone_at, record.undone_by = timezone.now(), acting_user(actor)
    record.save(update_fields=["undone_at", "undone_by"])
    # The pair is a possible match again: an agent merges it the right way or dismisses it.
    low, high = sorted(ids)
    MatchSuggestion.objects.filter(customer_id=low, other_id=high).update(
        status=MatchSuggestion.Status.OPEN, resolved_at=None, resolved_by=None
    )
    transaction.on_commit(lambda: match_suggestions_refresh(customer_ids=ids))
    return {kind: count for kind, count in back.items() if count}


def _numbers_back(
    record: CustomerMerge, kept: Customer, merged: Customer, *, cause: str, actor: Actor
) -> int:
    """The numbers the merge moved go back; a kept number whose type the merge raised
    gets its type back; the merged profile's copy of a shared number is added again (as
    Other if someone made it a Mobile elsewhere since). Audited like any change."""
    count = 0
    for phone in PhoneNumber.objects.filter(pk__in=record.undo["moved"].get(PHONES, [])):
        if phone.customer_id != kept.pk:
            continue
        phone.customer = merged
        phone.save(update_fields=["customer", "updated_at"])
        phone_number_change_record(
            phone=phone, action=PhoneNumberChange.Action.MOVED, cause=cause, actor=actor
        )
        count += 1
    for raised in record.undo.get("raised", []):
        still = PhoneNumber.objects.filter(pk=raised["id"], customer=kept).first()
        if still is not None:
            phone_number_set_type(
                phone=still,
                type=raised["type"],
                sms=raised["sms"],
                type_source=raised["type_source"],
                cause=cause,
                actor=actor,
            )
    for copy in record.undo.get("dropped", []):
        count += _add_back(merged, copy, cause=cause, actor=actor)
    return count


def _add_back(merged: Customer, copy: dict[str, Any], *, cause: str, actor: Actor) -> int:
    for type_, sms in ((copy["type"], copy["sms"]), (PhoneNumber.Type.OTHER, False)):
        try:
            phone = phone_number_add(
                customer=merged,
                number=copy["number"],
                type=type_,
                sms=sms,
                type_source=copy["type_source"],
                cause=cause,
                actor=actor,
            )
        except ValidationError:
            continue
        if copy.get("opted_out_at"):
            # The copy's STOP comes back with it: the handset never texted START.
            phone.sms_opted_out, phone.sms_opted_out_at = True, _moment(copy["opted_out_at"])
            phone.save(update_fields=["sms_opted_out", "sms_opted_out_at", "updated_at"])
        return 1
    return 0


def _values_back(record: CustomerMerge, kept: Customer, merged: Customer) -> None:
    """Name and email as they were (unless someone edited them since); counters split
    again: the merged profile's as they were, the kept one's less them."""
    before = record.values
    taken = before.get("taken", {})
    for name in MERGE_FIELDS:
        if taken.get(name) == "merged" and getattr(kept, name) == before["merged"][name]:
            setattr(kept, name, before["kept"][name])
    theirs = before["merged"]
    kept.interaction_count = max(0, kept.interaction_count - theirs["interaction_count"])
    since = kept.last_interaction_at and kept.last_interaction_at > record.created_at
    kept.first_interaction_at = _moment(before["kept"]["first_interaction_at"]) or (
        kept.last_interaction_at if since else None
    )
    if not since:
        kept.last_interaction_at = _moment(before["kept"]["last_interaction_at"])
    kept.save()
    merged.interaction_count = theirs["interaction_count"]
    merged.first_interaction_at = _moment(theirs["first_interaction_at"])
    merged.last_interaction_at = _moment(theirs["last_interaction_at"])


def _moment(value: datetime | str | None) -> datetime | None:
    # Stored as ISO text (the record's JSON); a record not yet reloaded holds datetimes.
    if isinstance(value, datetime) or value is None:
        return value
    return parse_datetime(value)
