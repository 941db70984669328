"""Click-to-call and call outcomes (docs/dialing.md): the services behind "Start calling".

``call_start`` checks the lead may be called now (its contact, account and number
active, not a wrong number, not on the do-not-call list, inside its calling window),
picks the caller ID, records the attempt and its ``Call``, and only then, outside any
transaction, asks the voice provider to ring the caller. ``call_outcome_log`` applies
the campaign's outcome to the lead's place in the queue and frees the lead.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from campaigns import dialing, selectors, services
from campaigns.calling_window import lead_zones, local_label, shown_zone, window_state
from campaigns.models import (
    CallAttempt,
    Campaign,
    CampaignPhone,
    Contact,
    Disposition,
    DoNotCallNumber,
    Outcome,
    Queue,
    Scope,
    Status,
)
from crm.actors import Actor, acting_user
from crm.models import StaffProfile
from crm.phones import InvalidPhoneNumber, display_number, normalize
from telephony import caller_ids, outbound
from telephony.models import Call, OwnedNumber


class CallRefused(Exception):
    """The call may not be placed now; the message says why (409)."""


class CallNotStarted(Exception):
    """The voice provider failed; the attempt is kept as failed (502)."""

    def __init__(self, reason: str, attempt: CallAttempt) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempt = attempt


@dataclass(frozen=True)
class CallStarted:
    attempt: CallAttempt
    call: Call
    caller_id: str
    reason: str


def caller_phone(user: Actor) -> str:
    return (
        StaffProfile.objects.filter(user_id=dialing.caller_pk(user))
        .values_list("phone", flat=True)
        .first()
        or ""
    )


def caller_id_pool(campaign: Campaign) -> list[OwnedNumber]:
    """The campaign's caller IDs when it has some, else every active owned number."""
    pool = selectors.campaign_dialing_numbers(campaign=campaign)
    return pool or list(OwnedNumber.objects.filter(status=OwnedNumber.Status.ACTIVE))


def _the_number(contact: Contact, raw: str) -> CampaignPhone:
    try:
        e164 = normalize(raw)
    except InvalidPhoneNumber as exc:
        raise ValidationError({"number": str(exc)}) from exc
    for phone in (contact.phone, contact.mobile):
        if phone is not None and phone.number == e164:
            return phone
    raise ValidationError({"number": f"{e164} is not one of this contact's numbers."})


def _refusal(contact: Contact, phone: CampaignPhone) -> str | None:
    if contact.status == Status.DISQUALIFIED:
        return f"{contact} is disqualified."
    if contact.account is not None and contact.account.status == Status.DISQUALIFIED:
        return f"The account {contact.account} is disqualified."
    if DoNotCallNumber.objects.filter(number=phone.number).exists() or (
        phone.status_scope == Scope.EVERYWHERE and phone.status == Status.DISQUALIFIED
    ):
        return f"{display_number(phone.number)} is on the do-not-call list."
    if phone.status == Status.DISQUALIFIED:
        return f"{display_number(phone.number)} is disqualified in this campaign."
    wrong = contact.phone_wrong if phone.pk == contact.phone_id else contact.mobile_wrong
    if wrong:
        return f"{display_number(phone.number)} is a wrong number for {contact}."
    return None


@transaction.atomic
def _prepare(
    *,
    campaign: Campaign,
    contact_id: int,
    raw_number: str,
    caller: Actor,
    now: datetime,
    in_browser: bool = False,
) -> tuple[CallAttempt, caller_ids.CallerIdChoice, str]:
    contact = (
        Contact.objects.select_for_update(of=("self",))
        .select_related("account", "phone", "mobile")
        .get(campaign=campaign, pk=contact_id)
    )
    phone = _the_number(contact, raw_number)
    refusal = _refusal(contact, phone)
    if refusal:
        raise CallRefused(refusal)
    zones = lead_zones(contact_zone=contact.time_zone, extra=contact.extra, number=phone.number)
    window = window_state(
        zones=zones, start=campaign.call_window_start, end=campaign.call_window_end, now=now
    )
    if not window.open:
        raise CallRefused(window.refusal())
    holder = dialing.lead_holder(contact, now)
    if holder is not None and holder != dialing.caller_pk(caller):
        raise CallRefused(f"Another caller is working {contact} now.")
    own_phone = caller_phone(caller)
    if not own_phone and not in_browser:
        raise CallRefused(
            "Set your own phone first (Start calling > Your phone): click-to-call rings it, "
            "then dials the lead."
        )
    try:
        # Claimed in this transaction: the call not recorded gives its slot back.
        choice = caller_ids.caller_id_take(
            lead_e164=phone.number,
            pool=caller_id_pool(campaign),
            default=campaign.default_caller_id,
            now=now,
        )
    except caller_ids.NoCallerId as exc:
        raise CallRefused(str(exc)) from exc
    dialing.lead_hold(contact, caller, now)
    call = outbound.outbound_call_create(from_e164=choice.e164, lead_e164=phone.number)
    Contact.objects.filter(campaign=campaign, pk=contact.pk).update(attempts=F("attempts") + 1)
    attempt = CallAttempt.objects.create(
        call=call,
        campaign=campaign,
        contact=contact,
        caller=acting_user(caller),
        number=phone.number,
        from_number=choice.e164,
        caller_id_reason=choice.reason[:200],
    )
    return attempt, choice, own_phone


def call_start(
    *,
    campaign: Campaign,
    contact_id: int,
    number: str,
    caller: Actor,
    status_callback: str,
    now: datetime | None = None,
    in_browser: bool = False,
) -> CallStarted:
    """Click-to-call: ring the caller's own phone, then the lead, from the chosen caller
    ID. Raises ValidationError (bad input), CallRefused (409) or CallNotStarted (502).

    ``in_browser``: the caller talks through the browser softphone (telephony/softphone.py)
    instead; the same checks, caller ID and records, but nothing is placed here: the call
    waits, queued, for the browser to connect it."""
    now = now or timezone.now()
    attempt, choice, own_phone = _prepare(
        campaign=campaign,
        contact_id=contact_id,
        raw_number=number,
        caller=caller,
        now=now,
        in_browser=in_browser,
    )
    assert attempt.call is not None
    if in_browser:
        return CallStarted(
            attempt=attempt, call=attempt.call, caller_id=choice.e164, reason=choice.reason
        )
    try:
        call = outbound.outbound_call_place(
            call=attempt.call, caller_phone=own_phone, status_callback=status_callback
        )
    except outbound.OutboundCallFailed as exc:
        CallAttempt.objects.filter(pk=attempt.pk).update(
            state=CallAttempt.State.FAILED, error=exc.reason[:255]
        )
        attempt.refresh_from_db()
        raise CallNotStarted(exc.reason, attempt) from exc
    return CallStarted(attempt=attempt, call=call, caller_id=choice.e164, reason=choice.reason)


# --- Outcomes ---------------------------------------------------------------------------


def outcome_find(*, campaign: Campaign, ref: object) -> Outcome:
    outcomes = dialing.campaign_outcomes_ensure(campaign=campaign)
    text = str(ref).strip() if isinstance(ref, (str, int)) and not isinstance(ref, bool) else ""
    if not text:
        raise ValidationError({"outcome": "Choose an outcome (its name or id)."})
    for outcome in outcomes:
        if (text.isdigit() and int(text) == outcome.pk) or outcome.name.lower() == text.lower():
            return outcome
    names = ", ".join(o.name for o in outcomes)
    raise ValidationError(
        {"outcome": f"“{text[:60]}” is not an outcome of this campaign ({names})."}
    )


def lead_zone(contact: Contact, number: str) -> str:
    """The zone a lead's times are entered and shown in."""
    return shown_zone(
        lead_zones(contact_zone=contact.time_zone, extra=contact.extra, number=number)
    )


def callback_moment(
    *, value: object, contact: Contact, number: str, now: datetime
) -> datetime | None:
    """A callback time as the caller typed it, in the lead's local time (ISO 8601 without
    offset, e.g. ``2026-12-08T10:30``); refused when it is not a time or already past."""
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 40 or "\x00" in value:
        raise ValidationError({"callback_at": "Give the callback time as 2026-12-08T10:30."})
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(
            {"callback_at": f"“{value[:40]}” is not a date and time (e.g. 2026-12-08T10:30)."}
        ) from None
    zone_name = lead_zone(contact, number)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, ZoneInfo(zone_name))
    if moment <= now:
        shown = local_label(now, zone_name)
        raise ValidationError({"callback_at": f"That time is past: it is {shown} for the lead."})
    if moment > now + timedelta(days=366):
        raise ValidationError({"callback_at": "Choose a time within a year."})
    return moment


def _apply(
    *,
    contact: Contact,
    outcome: Outcome,
    number: str,
    callback_at: datetime | None,
    now: datetime,
    by: Actor,
    note: str,
) -> None:
    """What an outcome does to the lead's place in the queue."""
    changes: dict[str, object] = {}
    if outcome.kind == Outcome.Kind.FINAL:
        changes = {"queue": Queue.DONE, "queue_at": None}
    elif outcome.kind == Outcome.Kind.CALLBACK:
        changes = {"queue": Queue.CALLBACK, "queue_at": callback_at}
    elif outcome.kind == Outcome.Kind.RETRY:
        attempts = Contact.objects.filter(
            campaign_id=contact.campaign_id, pk=contact.pk
        ).values_list("attempts", flat=True)[0]
        if outcome.max_attempts and attempts >= outcome.max_attempts:
            changes = {"queue": Queue.DONE, "queue_at": None}
        else:
            delay = timedelta(minutes=outcome.retry_after_minutes or 0)
            changes = {"queue": Queue.RETRY, "queue_at": now + delay}
    elif outcome.kind == Outcome.Kind.WRONG_NUMBER:
        # That number leaves this contact for good; the contact stays with its others.
        if contact.phone is not None and contact.phone.number == number:
            changes["phone_wrong"] = True
            contact.phone_wrong = True
        if contact.mobile is not None and contact.mobile.number == number:
            changes["mobile_wrong"] = True
            contact.mobile_wrong = True
        others = bool(contact.dialable_phones)
        # Its zone may be its other number's: worked out again when next asked for.
        changes.update(
            {"queue": Queue.RETRY if others else Queue.DONE, "queue_at": now, "dial_zone": ""}
        )
    Contact.objects.filter(campaign_id=contact.campaign_id, pk=contact.pk).update(**changes)
    if outcome.disqualifies and contact.status == Status.ACTIVE:
        services.contact_disqualify(contact=contact, by=by, reason=note or outcome.name)


@transaction.atomic
def call_outcome_log(
    *,
    call: Call,
    outcome: object,
    by: Actor,
    note: str = "",
    callback_at: object = None,
    now: datetime | None = None,
) -> CallAttempt:
    """The caller's outcome of an outbound call: logged, and applied to the lead."""
    now = now or timezone.now()
    attempt = (
        CallAttempt.objects.select_for_update().select_related("campaign").filter(call=call).first()
    )
    if attempt is None:
        raise ValidationError("This call was not placed from a campaign.")
    if attempt.state == CallAttempt.State.LOGGED:
        raise ValidationError(f"This call's outcome is already logged ({attempt.outcome}).")
    contact = (
        Contact.objects.select_related("account", "phone", "mobile")
        .filter(campaign_id=attempt.campaign_id, pk=attempt.contact_id)
        .first()
    )
    if contact is None:
        raise ValidationError("The lead of this call no longer exists.")
    chosen = outcome_find(campaign=attempt.campaign, ref=outcome)
    if not isinstance(note, str):
        raise ValidationError({"note": "A note is text."})
    note = note.replace("\x00", "").strip()[:2000]
    when = callback_moment(value=callback_at, contact=contact, number=attempt.number, now=now)
    if chosen.kind == Outcome.Kind.CALLBACK and when is None:
        raise ValidationError({"callback_at": "Say when to call back, in the lead's local time."})
    _apply(
        contact=contact,
        outcome=chosen,
        number=attempt.number,
        callback_at=when,
        now=now,
        by=by,
        note=note,
    )
    Disposition.objects.create(
        campaign_id=attempt.campaign_id,
        outcome=chosen.disposition,
        target=Disposition.Target.CONTACT,
        contact=contact,
        number=attempt.number,
        note=note,
        callback_at=when if chosen.kind == Outcome.Kind.CALLBACK else None,
        by=acting_user(by),
    )
    attempt.outcome = chosen
    attempt.note = note
    attempt.callback_at = when if chosen.kind == Outcome.Kind.CALLBACK else None
    attempt.state = CallAttempt.State.LOGGED
    attempt.logged_at = now
    attempt.save(update_fields=["outcome", "note", "callback_at", "state", "logged_at"])
    dialing.lead_release(contact=contact)
    return attempt


def disposition_applied(*, contact: Contact, disposition: Disposition, by: Actor) -> None:
    """An outcome logged from the contacts list (no call placed here) moves the lead in the
    queue as the campaign's outcome of that kind would."""
    outcome = (
        Outcome.objects.filter(
            campaign_id=contact.campaign_id, disposition=disposition.outcome, active=True
        )
        .order_by("position", "id")
        .first()
    )
    if outcome is None:
        return
    _apply(
        contact=contact,
        outcome=outcome,
        number=disposition.number,
        callback_at=disposition.callback_at,
        now=timezone.now(),
        by=by,
        note=disposition.note,
    )
    dialing.lead_release(contact=contact)


# --- Do not call ------------------------------------------------------------------------


@transaction.atomic
def do_not_call_add(*, number: str, reason: str, by: Actor) -> DoNotCallNumber:
    """Put one number on the global do-not-call list: every campaign's row for it is
    disqualified everywhere (logged, undoable by an Administrator), uploads skip it."""
    try:
        e164 = normalize(number)
    except InvalidPhoneNumber as exc:
        raise ValidationError({"number": str(exc)}) from exc
    reason = (reason or "").replace("\x00", "").strip()[:255] or "Added to the do-not-call list"
    actor = acting_user(by)
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO campaigns_donotcallnumber (number, reason, added_by_id, created_at) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (number) DO NOTHING",
            [e164, reason, actor.pk if actor else None, now],
        )
        created = cursor.rowcount == 1
    entry = DoNotCallNumber.objects.get(number=e164)
    if created:
        CampaignPhone.objects.filter(
            campaign_id__in=Campaign.objects.values("id"), number=e164
        ).update(
            status=Status.DISQUALIFIED,
            status_scope=Scope.EVERYWHERE,
            status_reason=reason,
            status_changed_at=now,
            status_changed_by=actor,
        )
        Disposition.objects.create(
            outcome=Disposition.Outcome.DISQUALIFIED,
            target=Disposition.Target.PHONE,
            scope=Scope.EVERYWHERE,
            number=e164,
            note=reason,
            by=actor,
        )
    return entry


def lead_number(contact: Contact) -> str:
    """The number a lead's times are read by: its first dialable one, else any."""
    phones = contact.dialable_phones or [p for p in (contact.phone, contact.mobile) if p]
    return phones[0].number if phones else ""


@transaction.atomic
def contact_outcome_log(
    *,
    contact: Contact,
    by: Actor,
    outcome: str,
    note: str = "",
    callback_at: object = None,
) -> Disposition:
    """An outcome logged from the contacts list (the caller dialled elsewhere): the callback
    time is the lead's local time; the lead moves in the queue as the outcome says."""
    when = callback_moment(
        value=callback_at, contact=contact, number=lead_number(contact), now=timezone.now()
    )
    entry = services.disposition_log(
        contact=contact, by=by, outcome=outcome, note=note, callback_at=when
    )
    disposition_applied(contact=contact, disposition=entry, by=by)
    return entry
