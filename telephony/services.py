"""Every write to calls and messages; the one place an interaction is linked to a customer.

Linking (docs/product.md, "Linking calls and messages"): an inbound call or SMS is identified
only by the caller's number. The profile holding that number gets the interaction (the
one holding it as Mobile, else the most recently active one), or a profile is created.
The profile's counters move in the same transaction, so lists and analytics never scan
the history.
"""

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from psycopg import sql

from crm.actors import Actor
from crm.db import LockNamespace, is_postgresql, number_lock_key, prepared_cursor
from crm.models import Customer, Note, PhoneNumber, PhoneNumberChange
from crm.services import note_create, phone_number_change_record, phone_number_set_type
from telephony import inbox, linking
from telephony.counters import customer_counters_recompute
from telephony.identification import services as identification
from telephony.models import (
    Assistant,
    Call,
    CallNote,
    Channel,
    Direction,
    Message,
    TelephonySettings,
)
from telephony.parties import party_identify

Medium = str  # "call" or "sms": what reached us, which decides how a new number is filed
CALL: Medium = "call"
SMS: Medium = "sms"


@dataclass(frozen=True)
class NumberFiling:
    type: str
    sms: bool
    type_source: str


def new_caller_number_filing(*, e164: str, medium: Medium) -> NumberFiling:
    """How a number we have never seen is filed on the profile it creates.

    An SMS proves the number takes texts: Mobile + SMS. A voice call proves nothing, so
    the number is Other, and mobile identification looks it up once the linking
    transaction commits (``caller_number_identify_queue``; docs/identification.md).
    """
    if medium == SMS:
        return NumberFiling(PhoneNumber.Type.MOBILE, True, PhoneNumber.TypeSource.INBOUND_SMS)
    return NumberFiling(PhoneNumber.Type.OTHER, False, PhoneNumber.TypeSource.INBOUND_CALL)


def _lock_number_and_find(
    e164: str | None, model: type[Call] | type[Message], external_id: str
) -> Any:
    """Serialise every linking decision about one number until this transaction ends,
    then return the ``model`` row already recorded under ``external_id`` (or ``None``).

    Why an advisory lock and not a uniqueness constraint: a voice caller's number is
    filed as Other, and Other numbers may legitimately sit on several profiles, so no
    unique index can refuse the second of two simultaneous "first calls". A claim table
    keyed on the number would work too, but costs a write and a row per number forever
    and must follow merges; ``pg_advisory_xact_lock`` blocks only requests about the
    same number and is released by commit or rollback, whatever happens. The second
    request then re-reads (READ COMMITTED: a fresh snapshot per statement) and finds the
    profile the first one made.

    The lock and the look-up travel in one round trip (two statements, so the look-up's
    snapshot is taken after the lock is granted): this is the webhook's hot path.
    SQLite needs no lock: its IMMEDIATE transactions already serialise every writer.
    """
    if e164 is None:
        # No number, no profile to decide about: the unique external id settles a retry.
        return model.objects.select_for_update().filter(external_id=external_id).first()
    if not is_postgresql():
        return model.objects.filter(external_id=external_id).first()
    key = number_lock_key(e164)
    lock, find = _LOCK_SQL, _FIND_SQL[model]
    namespace = int(LockNamespace.NUMBER_LINK)
    with connection.cursor() as cursor:
        if connection.settings_dict["OPTIONS"].get("server_side_binding"):
            # Server-side binding cannot carry two statements: two round trips then.
            cursor.execute(lock, [namespace, key])
            cursor.execute(find, [external_id])
        else:
            cursor.execute(lock + sql.SQL("; ") + find, [namespace, key, external_id])
            cursor.nextset()
        row = cursor.fetchone()
    return model.objects.get(pk=row[0]) if row else None


_LOCK_SQL = sql.SQL("SELECT pg_advisory_xact_lock(%s, %s)")
_FIND_SQL = {
    model: sql.SQL("SELECT id FROM {} WHERE external_id = %s FOR UPDATE").format(
        sql.Identifier(model._meta.db_table)
    )
    for model in (Call, Message)
}

_HOLDERS_SQL = """
    SELECT p.id, p.customer_id, p.type, p.sms, c.merged_into_id IS NOT NULL
    FROM crm_phonenumber p JOIN crm_customer c ON c.id = p.customer_id
    WHERE p.number = %s
    ORDER BY c.last_interaction_at DESC NULLS LAST, p.customer_id DESC
"""


def _holders(e164: str) -> list["_Holder"]:
    """Every profile holding ``e164``, the most recently active first.

    Merged-away profiles are included: they are never linked to, but one of them may still
    hold the number as Mobile. Hand-written SQL because this runs on every webhook and
    the ORM spends more time compiling this join than PostgreSQL spends running it.
    """
    with prepared_cursor() as cursor:  # planned once per connection, not per webhook
        cursor.execute(_HOLDERS_SQL, [e164])
        return [_Holder(*row) for row in cursor.fetchall()]


class _Holder(NamedTuple):
    phone_id: int
    customer_id: int
    type: str
    sms: bool
    merged: bool


def customer_count_interaction(
    *, e164: str, medium: Medium, cause: str, at: datetime, name: str = ""
) -> int:
    """The id of the profile an interaction at ``at`` from ``e164`` belongs to, with the
    interaction counted on it.

    Finds, makes or updates it as the rules say. Call with the number locked
    (:func:`_lock_number_and_find`) inside the linking transaction.
    """
    for _attempt in range(_MERGE_RACE_ATTEMPTS):
        every_holder = _holders(e164)
        holders = [h for h in every_holder if not h.merged]
        if not holders:
            hidden_mobile = any(h.type == PhoneNumber.Type.MOBILE for h in every_holder)
            customer = _file_new_caller(
                e164=e164,
                medium=medium,
                cause=cause,
                at=at,
                name=name,
                hidden_mobile=hidden_mobile,
            )
            return customer.pk
        chosen, texted_from_it = _choose(holders, medium)
        if _count_if_still_holder(chosen.customer_id, e164, at):
            break
        # Merged into another profile, or erased, since the holders were read: the number
        # has moved or gone, so look again.
    else:
        raise RuntimeError(f"{e164}: its profiles kept being merged while linking")

    if texted_from_it:
        _set_type(chosen, cause=cause)
    return chosen.customer_id


# Each attempt that finds its profile merged away follows a merge that has committed, so
# a few are plenty.
_MERGE_RACE_ATTEMPTS = 5


def _choose(holders: list["_Holder"], medium: Medium) -> tuple["_Holder", bool]:
    """The holder the interaction belongs to, and whether its number becomes Mobile + SMS
    because it texted us."""
    mobile = next((h for h in holders if h.type == PhoneNumber.Type.MOBILE), None)
    if mobile is not None:
        # A text makes the "Mobile + SMS" tag a fact.
        return mobile, medium == SMS and not mobile.sms
    if medium == SMS:
        others = [h for h in holders if h.type == PhoneNumber.Type.OTHER]
        if len(others) == 1:
            # One profile holds it as Other and nobody as Mobile: it is that person's
            # mobile. Never split them into a second profile for the message.
            return others[0], True
    # Several profiles and none holds it as Mobile: the most recently active one.
    return holders[0], False


def _file_new_caller(
    *, e164: str, medium: Medium, cause: str, at: datetime, name: str, hidden_mobile: bool
) -> Customer:
    """A profile for a number nobody holds, with the interaction already counted.

    This is every new caller's path, so it is written for round trips: the profile is
    born with its counters (no UPDATE after), and the number is inserted directly rather
    than through ``crm.services.phone_number_add``, whose savepoints only turn a
    constraint violation into a form error. Here the number lock already rules out every
    conflict but a person adding the same Mobile at the same instant; that violation
    rolls the whole link back and it is retried once (:func:`_retry_once_on_conflict`),
    finding the person's profile. The audit row is crm's own.
    """
    filing = new_caller_number_filing(e164=e164, medium=medium)
    type_, sms = filing.type, filing.sms
    if hidden_mobile and type_ == PhoneNumber.Type.MOBILE:
        # A merged-away profile still holds it as Mobile (a Mobile has one owner).
        type_, sms = PhoneNumber.Type.OTHER, False
    customer = Customer(
        name=name[:200],
        source=Customer.Source.SMS if medium == SMS else Customer.Source.CALL,
        interaction_count=1,
        first_interaction_at=at,
        last_interaction_at=at,
    )
    phone = PhoneNumber(number=e164, type=type_, sms=sms, type_source=filing.type_source)
    if is_postgresql():
        # The three rows in one statement (telephony/linking.py): two round trips fewer.
        change = PhoneNumberChange(
            number=e164,
            action=PhoneNumberChange.Action.ADDED,
            new_type=type_,
            new_sms=sms,
            type_source=filing.type_source,
            cause=cause[:255],
        )
        linking.new_caller_insert(customer=customer, phone=phone, change=change)
    else:
        customer.save(force_insert=True)
        phone.customer = customer
        phone.save(force_insert=True)
        phone_number_change_record(phone=phone, action=PhoneNumberChange.Action.ADDED, cause=cause)
    if type_ == PhoneNumber.Type.OTHER:
        identification_queue(phone_id=phone.pk)
    return customer


def _set_type(holder: _Holder, *, cause: str) -> None:
    """The number texted us: it becomes Mobile + SMS, audited by crm's service."""
    phone = PhoneNumber.objects.get(pk=holder.phone_id)
    # If someone made it another profile's Mobile meanwhile (an agent in the admin), the
    # interaction still links and the number is left as it is.
    with contextlib.suppress(ValidationError):
        phone_number_set_type(
            phone=phone,
            type=PhoneNumber.Type.MOBILE,
            sms=True,
            type_source=PhoneNumber.TypeSource.INBOUND_SMS,
            cause=cause,
        )


# One literal per database, nothing spliced in: MIN/MAX are SQLite's LEAST/GREATEST.
_COUNT_SQL = {
    True: "UPDATE crm_customer SET interaction_count = interaction_count + 1, "
    "first_interaction_at = LEAST(COALESCE(first_interaction_at, %s), %s), "
    "last_interaction_at = GREATEST(COALESCE(last_interaction_at, %s), %s) "
    "WHERE id = %s AND merged_into_id IS NULL AND EXISTS "
    "(SELECT 1 FROM crm_phonenumber p WHERE p.customer_id = crm_customer.id AND p.number = %s)",
    False: "UPDATE crm_customer SET interaction_count = interaction_count + 1, "
    "first_interaction_at = MIN(COALESCE(first_interaction_at, %s), %s), "
    "last_interaction_at = MAX(COALESCE(last_interaction_at, %s), %s) "
    "WHERE id = %s AND merged_into_id IS NULL AND EXISTS "
    "(SELECT 1 FROM crm_phonenumber p WHERE p.customer_id = crm_customer.id AND p.number = %s)",
}


def _count_if_still_holder(customer_id: int, e164: str, at: datetime) -> bool:
    """One more interaction at ``at``, unless the profile has been merged away or no
    longer holds ``e164`` (an erasure took it): says whether it was counted.

    Merges and erasures take this number's lock before anything else (crm.selectors.
    profiles_lock), so one that has not committed by now waits for this link and then
    takes the call with the rest. Whatever did commit since the holders were read (a
    merge, an erasure, an agent removing the number) is seen by this statement, so no call
    is linked to a profile that no longer holds its number. The UPDATE keeps the row
    locked until commit. Counters move in SQL, so concurrent links add up.
    Hand-written for the same reason as :data:`_HOLDERS_SQL` (the ORM's Least/Greatest
    expression costs more to compile than to run); MIN/MAX are SQLite's LEAST/GREATEST.
    """
    statement = _COUNT_SQL[is_postgresql()]
    value = connection.ops.adapt_datetimefield_value(at)
    with prepared_cursor() as cursor:
        cursor.execute(statement, [value, value, value, value, customer_id, e164])
        return cursor.rowcount == 1


def _retry_once_on_conflict(work: Any) -> Any:
    """Run a linking transaction; if the database refused it, run it once more.

    The number lock already serialises everything about one number; what is left is the
    same external id reported with two different numbers, or a person editing the same
    number at that instant. The loser's transaction rolls back whole (profile included)
    and the second attempt sees the winner's rows.
    """
    try:
        return work()
    except IntegrityError:
        return work()


@dataclass
class CallFacts:
    """What a webhook or report says about a call; ``None`` means "not said"."""

    status: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_seconds: int | None = None
    satisfaction: int | None = None
    reason: str | None = None
    transcript: str | None = None
    assistant: str | None = None
    voicemail: bool | None = None


@dataclass(frozen=True)
class Recorded:
    record: Any
    created: bool


def call_record(
    *,
    external_id: str,
    direction: str,
    from_number: str,
    to_number: str,
    channel: str,
    facts: CallFacts,
    caller_name: str = "",
) -> Recorded:
    """Record a call (Twilio webhook, status callback or an assistant's end-of-call report).

    Idempotent on ``external_id``: a retried webhook or a later report updates the call
    it already made, and the customer's counters move only when the call is new.
    ``from_number``/``to_number`` are as sent; the customer is the far end (the caller of
    an inbound call, the callee of an outbound one), and only a phone number there links
    a profile (:func:`telephony.parties.party_identify`).
    """
    return _retry_once_on_conflict(
        lambda: _call_record(
            external_id=external_id,
            direction=direction,
            from_number=from_number,
            to_number=to_number,
            channel=channel,
            facts=facts,
            caller_name=caller_name,
        )
    )


@transaction.atomic
def _call_record(
    *,
    external_id: str,
    direction: str,
    from_number: str,
    to_number: str,
    channel: str,
    facts: CallFacts,
    caller_name: str,
) -> Recorded:
    caller, callee = party_identify(from_number), party_identify(to_number)
    e164 = (caller if direction == Direction.INBOUND else callee).e164
    existing = _lock_number_and_find(e164, Call, external_id)
    if existing is not None:
        _apply_facts(existing, facts)
        return Recorded(existing, False)

    call = _new_call(external_id, direction, caller.address, callee.address, channel, facts)
    if e164 is not None:
        call.customer_id = customer_count_interaction(
            e164=e164, medium=CALL, cause=_cause(call), at=call.started_at, name=caller_name
        )
    call.save(force_insert=True)
    return Recorded(call, True)


def _new_call(
    external_id: str, direction: str, caller: str, callee: str, channel: str, facts: CallFacts
) -> Call:
    """The call as it is first stored (no customer yet)."""
    call = Call(
        direction=direction,
        channel=channel,
        from_number=caller,
        to_number=callee,
        external_id=external_id,
        started_at=facts.started_at or _start_from_end(facts) or timezone.now(),
    )
    _apply_facts(call, facts, save=False)
    return call


def _cause(call: Call) -> str:
    kind = "call" if call.channel == Channel.TWILIO else "assistant report"
    return f"{call.direction} {kind} {call.external_id}"


def identification_queue(*, phone_id: int) -> None:
    """Queue a new caller's lookup once the linking transaction commits, whether
    identification is on or not: the task reads the setting when it runs, so a caller
    filed as an Administrator switches it on is still looked up (docs/identification.md).
    """
    transaction.on_commit(lambda: identification.caller_number_identify_queue(phone_id=phone_id))


def _start_from_end(facts: CallFacts) -> datetime | None:
    if facts.ended_at and facts.duration_seconds is not None:
        return facts.ended_at - timedelta(seconds=facts.duration_seconds)
    return None


def _apply_facts(call: Call, facts: CallFacts, *, save: bool = True) -> None:
    changed: list[str] = []

    def put(name: str, value: Any) -> None:
        if value is not None and getattr(call, name) != value:
            setattr(call, name, value)
            changed.append(name)

    # Twilio may deliver callbacks late or out of order: a finished call stays finished.
    if facts.status and not (
        call.status in Call.FINAL_STATUSES and facts.status not in Call.FINAL_STATUSES
    ):
        put("status", facts.status)
    if call.pk and facts.started_at is not None:
        put("started_at", facts.started_at)
    put("ended_at", facts.ended_at)
    put("duration_seconds", facts.duration_seconds)
    put("satisfaction", facts.satisfaction)
    put("reason", facts.reason)
    put("transcript", facts.transcript)
    put("voicemail", facts.voicemail)
    if facts.assistant:
        assistant = assistant_get_or_create(name=facts.assistant)
        if call.assistant_id != assistant.pk:
            call.assistant = assistant
            changed.append("assistant")
    if save and changed:
        call.save(update_fields=[*changed, "updated_at"])


def assistant_get_or_create(*, name: str) -> Assistant:
    name = name.strip()[:100]
    assistant = Assistant.objects.filter(name=name).first()
    if assistant is not None:
        return assistant
    # Two first reports from a new assistant: the unique name decides, in a savepoint.
    assistant, _ = Assistant.objects.get_or_create(name=name)
    return assistant


def message_record(
    *,
    external_id: str,
    direction: str,
    from_number: str,
    to_number: str,
    body: str,
    status: str = Message.Status.RECEIVED,
    sent_at: datetime | None = None,
    awaits_reply: bool = True,
) -> Recorded:
    """Record an SMS, linked by the same rules as a call plus the SMS ones; idempotent.

    A new inbound message opens its customer's inbox conversation; ``awaits_reply=False``
    (a STOP or HELP the webhook answered itself) leaves it as it was.
    """
    return _retry_once_on_conflict(
        lambda: _message_record(
            external_id=external_id,
            direction=direction,
            from_number=from_number,
            to_number=to_number,
            body=body,
            status=status,
            sent_at=sent_at,
            awaits_reply=awaits_reply,
        )
    )


@transaction.atomic
def _message_record(
    *,
    external_id: str,
    direction: str,
    from_number: str,
    to_number: str,
    body: str,
    status: str,
    sent_at: datetime | None,
    awaits_reply: bool,
) -> Recorded:
    sender, recipient = party_identify(from_number), party_identify(to_number)
    e164 = (sender if direction == Direction.INBOUND else recipient).e164
    existing = _lock_number_and_find(e164, Message, external_id)
    if existing is not None:
        return Recorded(existing, False)
    sent_at = sent_at or timezone.now()
    customer_id = (
        None
        if e164 is None
        else customer_count_interaction(
            e164=e164, medium=SMS, cause=f"inbound SMS {external_id}", at=sent_at
        )
    )
    message = Message(
        customer_id=customer_id,
        direction=direction,
        from_number=sender.address,
        to_number=recipient.address,
        external_id=external_id,
        status=status,
        body=body,
        sent_at=sent_at,
    )
    message.save(force_insert=True)
    if customer_id is not None and direction == Direction.INBOUND:
        inbox.conversation_inbound(customer_id=customer_id, at=sent_at, awaits_reply=awaits_reply)
    return Recorded(message, True)


@transaction.atomic
def calls_delete(*, call_ids: list[int]) -> int:
    """Delete calls (an Administrator in the admin) and keep the profiles' counters true."""
    calls = Call.objects.filter(id__in=call_ids, customer__isnull=False)
    customer_ids = set(calls.values_list("customer_id", flat=True))
    deleted = Call.objects.filter(id__in=call_ids).delete()[0]
    customer_counters_recompute(customer_ids=customer_ids)
    return deleted


@transaction.atomic
def messages_delete(*, message_ids: list[int]) -> int:
    messages = Message.objects.filter(id__in=message_ids, customer__isnull=False)
    customer_ids = set(messages.values_list("customer_id", flat=True))
    deleted = Message.objects.filter(id__in=message_ids).delete()[0]
    customer_counters_recompute(customer_ids=customer_ids)
    return deleted


@transaction.atomic
def telephony_settings_save(*, config: TelephonySettings) -> TelephonySettings:
    config.full_clean()
    config.save()
    return config


@transaction.atomic
def call_note_create(*, call: Call, author: Actor, text: str) -> Note:
    """A note on a call: on the call's customer's timeline too, when the call has one."""
    note = note_create(customer=call.customer, author=author, text=text)
    CallNote.objects.create(call=call, note=note)
    return note
