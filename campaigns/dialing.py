"""The next lead (docs/dialing.md, "Next lead"): services and reads of the dialling queue.

Callbacks due come first, then fresh leads, then recycled ones whose retry delay has
passed; never a disqualified contact, account or number, a wrong number, a number on the
do-not-call list, or a lead outside its calling window. Each lead stores its zones as one
key (``Contact.dial_zone``), so "inside its window now" is the set of keys open now, each
a range of the queue index: a campaign whose first hundred thousand leads sleep still
hands out its awake one at once (campaigns/dialing_zones.py).

A lead handed out is held for its caller by a ``LeadLease`` (unique per contact) for
``LEASE_MINUTES``: two callers asking at once never get the same lead. On PostgreSQL the
candidate is read ``FOR UPDATE SKIP LOCKED``, so callers asking together take different
rows instead of queueing on the first. SQLite has no SKIP LOCKED: every write
transaction there is IMMEDIATE, so one next-lead request runs at a time from its first
read to its lease, and the unique lease decides in both.
"""

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Exists, Min, OuterRef, Q, QuerySet
from django.utils import timezone

from campaigns import dialing_pick
from campaigns import dialing_zones as zones
from campaigns.calling_window import (
    WindowState,
    key_zones,
    lead_zones,
    local_label,
    window_state,
)
from campaigns.models import (
    Campaign,
    CampaignPhone,
    Contact,
    DoNotCallNumber,
    LeadLease,
    Outcome,
    Queue,
    Status,
)
from campaigns.outcomes import DEFAULT_OUTCOMES
from crm.actors import Actor, acting_user
from crm.db import is_postgresql
from crm.phones import display_number

LEASE_MINUTES = 10
CALLABLE = zones.CALLABLE
FILL_IN_REQUEST = 2_000  # leads given their zone key per request at most; a worker does the rest
TIERS = (("callback", Queue.CALLBACK), ("fresh", Queue.FRESH), ("retry", Queue.RETRY))
MAX_PICKS = 50  # candidates re-checked per request (a stale key) before answering "none now"
PREPARING_RETRY_SECONDS = 5


@dataclass
class Lead:
    contact: Contact
    numbers: list[CampaignPhone]
    window: WindowState
    reason: str
    expires_at: datetime


@dataclass
class NoLead:
    reason: str
    retry_at: datetime | None = None
    details: list[str] = field(default_factory=list)

    def retry_after(self, now: datetime) -> int | None:
        if self.retry_at is None:
            return None
        return max(1, math.ceil((self.retry_at - now).total_seconds()))


def caller_pk(actor: Actor) -> int:
    """The signed-in user's id: dialling always has a person behind it."""
    user = acting_user(actor)
    if user is None:
        raise PermissionDenied("Sign in to call.")
    return int(user.pk)


@transaction.atomic
def campaign_outcomes_ensure(*, campaign: Campaign) -> list[Outcome]:
    """The campaign's outcomes, the defaults created the first time they are needed."""
    campaign_outcomes_seed(campaign=campaign)
    return list(Outcome.objects.filter(campaign=campaign, active=True).order_by("position", "id"))


def campaign_outcomes_seed(*, campaign: Campaign) -> None:
    """The default outcomes created if the campaign has none yet: one read when it has
    (every next-lead request asks)."""
    if Outcome.objects.filter(campaign=campaign).exists():
        return
    Outcome.objects.bulk_create(
        [Outcome(campaign=campaign, position=i, **row) for i, row in enumerate(DEFAULT_OUTCOMES)],
        ignore_conflicts=True,
    )


def do_not_call_numbers(numbers: list[str]) -> set[str]:
    return set(DoNotCallNumber.objects.filter(number__in=numbers).values_list("number", flat=True))


def dialable_numbers(contact: Contact, do_not_call: set[str]) -> list[CampaignPhone]:
    return [p for p in contact.dialable_phones if p.number not in do_not_call]


def lead_window(
    contact: Contact, campaign: Campaign, numbers: list[CampaignPhone], now: datetime
) -> WindowState:
    """The window of the lead's first dialable number (its zone, or the contact's)."""
    number = numbers[0].number if numbers else ""
    zones = lead_zones(contact_zone=contact.time_zone, extra=contact.extra, number=number)
    return window_state(
        zones=zones, start=campaign.call_window_start, end=campaign.call_window_end, now=now
    )


def _candidates(campaign: Campaign, now: datetime, *, unheld: bool = True) -> QuerySet[Contact]:
    held = LeadLease.objects.filter(contact_id=OuterRef("pk"), expires_at__gt=now)
    contacts = (
        Contact.objects.filter(campaign=campaign, status=Status.ACTIVE)
        .filter(Q(account__isnull=True) | Q(account__status=Status.ACTIVE))
        .filter(
            Q(phone__status=Status.ACTIVE, phone_wrong=False)
            | Q(mobile__status=Status.ACTIVE, mobile_wrong=False)
        )
        .select_related("account", "phone", "mobile")
    )
    return contacts.filter(~Exists(held)) if unheld else contacts


def lead_hold(contact: Contact, caller: Actor, now: datetime) -> datetime | None:
    """Hold the lead for ``caller``; None when another caller holds it.

    One statement on the unique lease row: a new lease, or taking over an expired one (or
    the caller's own); a concurrent insert of the same contact waits for the other
    transaction and then finds its lease live, so it takes nothing.
    """
    expires = now + timedelta(minutes=LEASE_MINUTES)
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO campaigns_leadlease (campaign_id, contact_id, caller_id, expires_at) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (contact_id) DO UPDATE SET "
            "caller_id = excluded.caller_id, expires_at = excluded.expires_at, "
            "campaign_id = excluded.campaign_id "
            "WHERE campaigns_leadlease.expires_at <= %s "
            "OR campaigns_leadlease.caller_id = excluded.caller_id RETURNING id",
            [contact.campaign_id, contact.pk, caller_pk(caller), adapt(expires), adapt(now)],
        )
        taken = cursor.fetchone()
    return expires if taken else None


def _reason(tier: str, contact: Contact, now: datetime, window: WindowState) -> str:
    if tier == "callback" and contact.queue_at is not None:
        return f"Callback due {local_label(contact.queue_at, window.zone)}"
    if tier == "fresh":
        return "Fresh lead: not called yet"
    attempts = "1 attempt" if contact.attempts == 1 else f"{contact.attempts} attempts"
    return f"Recycled: called again after its retry delay ({attempts} so far)"


def _held_lead(campaign: Campaign, caller: Actor, now: datetime) -> Lead | None:
    """The lead this caller already holds here, still callable: asked again, the caller
    gets the same lead (a page reload never skips a lead)."""
    lease = (
        LeadLease.objects.filter(campaign=campaign, caller_id=caller_pk(caller), expires_at__gt=now)
        .order_by("-expires_at")
        .first()
    )
    if lease is None:
        return None
    contact = _candidates(campaign, now, unheld=False).filter(pk=lease.contact_id).first()
    if contact is None:
        lease.delete()
        return None
    numbers = dialable_numbers(
        contact, do_not_call_numbers([p.number for p in contact.dialable_phones])
    )
    window = lead_window(contact, campaign, numbers, now)
    if not numbers or not window.open:
        lease.delete()
        return None
    expires = lead_hold(contact, caller, now) or lease.expires_at
    return Lead(contact, numbers, window, _reason(_tier(contact), contact, now, window), expires)


def lead_next(*, campaign: Campaign, caller: Actor, now: datetime | None = None) -> Lead | NoLead:
    """Hand ``caller`` the next lead of ``campaign`` and hold it for them.

    Leads whose zone key is not worked out yet (a new upload) get it first, a bounded
    number per request in queue order, the rest by a worker; until then they are still
    candidates, checked one by one.
    """
    now = now or timezone.now()
    pairs = zones.queue_keys(campaign.pk)
    if any(key == "" for queue, key in pairs if queue in CALLABLE):
        if zones.lead_zones_fill(campaign_id=campaign.pk, limit=FILL_IN_REQUEST) >= FILL_IN_REQUEST:
            zones.fill_later(campaign.pk)
        pairs = zones.queue_keys(campaign.pk)
    return _lead_take(campaign, caller, now, pairs)


def _lead_take(
    campaign: Campaign, caller: Actor, now: datetime, pairs: list[tuple[str, str]]
) -> Lead | NoLead:
    start, end = campaign.call_window_start, campaign.call_window_end
    states = {
        key: window_state(
            zones=key_zones(key) or (settings.TIME_ZONE,), start=start, end=end, now=now
        )
        for queue, key in pairs
        if queue in CALLABLE and key
    }
    opens = [s.opens_at for s in states.values() if not s.open and s.opens_at is not None]
    keys = [
        (str(queue), key, rank)
        for rank, (_, queue) in enumerate(TIERS)
        for q, key in sorted(set(pairs))
        if q == queue and (key == "" or states[key].open)
    ]
    take = _take_one_statement if is_postgresql() else _take_portable
    lead = take(campaign, caller, now, keys, opens)
    if lead is not None:
        return lead
    if any(key == "" for queue, key in pairs if queue in CALLABLE):
        # A new upload whose keys a worker is still working out: ask again shortly.
        return NoLead(
            "No lead is callable yet: a new upload's leads are being prepared for calling",
            retry_at=now + timedelta(seconds=PREPARING_RETRY_SECONDS),
            details=["leads are being prepared"],
        )
    return _none_callable(campaign, now, opens)


def _checked(
    campaign: Campaign, contact: Contact, listed: set[str], now: datetime, opens: list[datetime]
) -> tuple[list[CampaignPhone], WindowState] | None:
    """The lead's numbers to dial and its window, or None when it cannot be handed out:
    every number on the do-not-call list (healed here), or its window shut."""
    listed = {p.number for p in contact.dialable_phones} & listed
    if listed:
        zones.dnc_heal(campaign, listed)
    numbers = dialable_numbers(contact, listed)
    if not numbers:
        return None
    window = lead_window(contact, campaign, numbers, now)
    if not window.open:
        # Its key was stale (or not worked out yet): stored now, so the lead is not
        # looked at again until its window opens.
        zones.key_store(contact)
        if window.opens_at is not None:
            opens.append(window.opens_at)
        return None
    return numbers, window


def _tier(contact: Contact) -> str:
    return contact.queue if contact.queue in ("callback", "fresh") else "retry"


def _take_one_statement(
    campaign: Campaign,
    caller: Actor,
    now: datetime,
    keys: list[tuple[str, str, int]],
    opens: list[datetime],
) -> Lead | None:
    """PostgreSQL: one statement a try (campaigns/dialing_pick.py)."""
    caller_id = caller_pk(caller)
    expires = now + timedelta(minutes=LEASE_MINUTES)
    seen: list[int] = []
    for _ in range(MAX_PICKS):
        found = dialing_pick.pick_and_hold(
            campaign_id=campaign.pk,
            caller_id=caller_id,
            keys=keys,
            now=now,
            expires=expires,
            seen=seen,
        )
        if found is None:
            return None
        contact = found.contact
        seen.append(contact.pk)
        if not found.leased:
            continue  # another caller's lease was committed first
        account = contact.account
        usable = (
            not found.held  # the pick's own conditions hold for a new lead
            or (
                contact.status == Status.ACTIVE
                and (contact.account_id is None or (account and account.status == Status.ACTIVE))
            )
        )
        checked = _checked(campaign, contact, found.listed, now, opens) if usable else None
        if checked is None:
            LeadLease.objects.filter(contact_id=contact.pk, caller_id=caller_id).delete()
            continue
        numbers, window = checked
        reason = _reason(_tier(contact), contact, now, window)
        return Lead(contact, numbers, window, reason, expires)
    return None


@transaction.atomic
def _take_portable(
    campaign: Campaign,
    caller: Actor,
    now: datetime,
    keys: list[tuple[str, str, int]],
    opens: list[datetime],
) -> Lead | None:
    """SQLite: the caller's held lead, else a pick per tier, then the lease."""
    held = _held_lead(campaign, caller, now)
    if held is not None:
        return held
    seen: list[int] = []
    picks = 0
    for rank, (tier, queue) in enumerate(TIERS):
        tier_keys = [key for _, key, r in keys if r == rank]
        while tier_keys and picks < MAX_PICKS:
            picks += 1
            contact = zones.pick(campaign, queue, tier_keys, now, seen)
            if contact is None:
                break
            seen.append(contact.pk)
            listed = do_not_call_numbers([p.number for p in contact.dialable_phones])
            checked = _checked(campaign, contact, listed, now, opens)
            if checked is None:
                continue
            expires = lead_hold(contact, caller, now)
            if expires is None:
                continue
            numbers, window = checked
            return Lead(contact, numbers, window, _reason(tier, contact, now, window), expires)
    return None


def _none_callable(campaign: Campaign, now: datetime, opens: list[datetime]) -> NoLead:
    waiting = _candidates(campaign, now).filter(
        queue__in=[Queue.CALLBACK, Queue.RETRY], queue_at__gt=now
    )
    soonest_due = waiting.aggregate(at=Min("queue_at"))["at"]
    soonest_lease = LeadLease.objects.filter(campaign=campaign, expires_at__gt=now).aggregate(
        at=Min("expires_at")
    )["at"]
    moments = [m for m in (*opens, soonest_due, soonest_lease) if m is not None]
    details = []
    if opens:
        details.append("leads are outside their calling window")
    if soonest_due is not None:
        details.append("retries and callbacks are waiting for their time")
    if soonest_lease is not None:
        details.append("other callers hold leads")
    if not moments:
        return NoLead("No lead is left to call in this campaign.")
    retry_at = min(moments)
    return NoLead(
        "No lead is callable now (" + "; ".join(details) + ")",
        retry_at=retry_at,
        details=details,
    )


@transaction.atomic
def lead_release(*, contact: Contact, caller: Actor = None) -> None:
    leases = LeadLease.objects.filter(contact_id=contact.pk)
    if caller is not None:
        leases = leases.filter(caller_id=caller_pk(caller))
    leases.delete()


def lead_holder(contact: Contact, now: datetime) -> int | None:
    """Who holds the lead now (a user id), if anyone."""
    return (
        LeadLease.objects.filter(contact_id=contact.pk, expires_at__gt=now)
        .values_list("caller_id", flat=True)
        .first()
    )


def lead_payload(lead: Lead) -> dict[str, Any]:
    """The next-lead answer (docs/api.md): the contact, its account, the numbers to dial."""
    contact = lead.contact
    account = contact.account
    return {
        "contact": {
            "id": contact.pk,
            "name": str(contact),
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "email": contact.email,
            "title": contact.title,
            "time_zone": lead.window.zone,
            "attempts": contact.attempts,
        },
        "account": None if account is None else {"id": account.pk, "name": account.name},
        "numbers": [
            {
                "number": p.number,
                "display": display_number(p.number),
                "column": "phone" if p.pk == contact.phone_id else "mobile",
            }
            for p in lead.numbers
        ],
        "lead_local_time": lead.window.local_time.isoformat(timespec="seconds"),
        "lead_time_zone": lead.window.zone,
        "reason": lead.reason,
        "held_until": lead.expires_at.isoformat(timespec="seconds"),
    }
