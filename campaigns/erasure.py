"""Campaigns' part of erasing or exporting a customer (crm/erasure.py).

A campaign lead is not linked to a customer profile: it is the same person when it carries
one of the profile's numbers (or its email), and a shared office line can sit on many
people's leads. So every such lead is offered on the confirmation page and only the ones
the Administrator ticks are erased. An erased lead keeps its place in the campaign's
counts and log as an empty contact: its names, email, title, extra columns and numbers go,
and a number no other lead carries leaves Campaign Phone Counts. A disqualified number
and the do-not-call list stay: they are how the person is never called again.
"""

from collections.abc import Collection
from typing import Any

from django.db.models import Exists, F, OuterRef, Q, QuerySet

from campaigns.models import CampaignPhone, Contact, Disposition, DoNotCallNumber, Status
from campaigns.selectors import campaign_phones_numbered
from crm.erasure import ErasureChoice, ErasurePart
from crm.models import Customer, PhoneNumber
from crm.phones import display_number

ERASED_PREFIX = "erased:"
LEAD_EXPORT_FIELDS = (
    "id",
    "campaign_id",
    "campaign__name",
    "account__name",
    "first_name",
    "last_name",
    "name",
    "email",
    "title",
    "phone__number",
    "mobile__number",
    "phone_raw",
    "mobile_raw",
    "extra",
    "status",
    "created_at",
)


def _profiles(customer: Customer) -> QuerySet[Customer]:
    return Customer.objects.filter(Q(pk=customer.pk) | Q(merged_into=customer))


def _emails(customer: Customer) -> list[str]:
    profiles = _profiles(customer)
    return [e.lower() for e in profiles.exclude(email="").values_list("email", flat=True)]


def _held(customer: Customer) -> dict[str, str]:
    """``{e164: type}`` of the numbers the person holds now (Mobile first if several)."""
    rows = PhoneNumber.objects.filter(customer__in=_profiles(customer)).values_list(
        "number", "type"
    )
    held: dict[str, str] = {}
    for number, type_ in rows:
        if held.get(str(number)) != PhoneNumber.Type.MOBILE:
            held[str(number)] = type_
    return held


def _tie(contact: Contact, emails: set[str], held: dict[str, str]) -> tuple[bool, str]:
    """Whether a lead is surely this person, and why it matched.

    Surely: the same email, or a number the person holds as Mobile (a Mobile has one
    owner). A number held as Home, Office or Other, or held before, may be a shared line
    (an office switchboard, a family phone): such a lead is offered, not ticked.
    """
    if contact.email and contact.email.lower() in emails:
        return True, "Same email."
    numbers = [str(p.number) for p in (contact.mobile, contact.phone) if p is not None]
    for number in numbers:
        if held.get(number) == PhoneNumber.Type.MOBILE:
            return True, f"{display_number(number)} is this person's Mobile."
    for number in numbers:
        if number in held:
            kind = PhoneNumber.Type(held[number]).label
            return False, (
                f"Shares {display_number(number)}, {kind} on this profile: maybe a shared line."
            )
    shown = ", ".join(display_number(n) for n in numbers)
    return False, f"Carries {shown}, a number this profile held before."


def leads_of(customer: Customer, numbers: Collection[str]) -> QuerySet[Contact]:
    """The campaign leads that carry one of the numbers or the email, not yet erased."""
    phones = [phone.pk for phone in campaign_phones_numbered(numbers)]
    match = Q(phone_id__in=phones) | Q(mobile_id__in=phones)
    for email in _emails(customer):
        match |= Q(dedup_key=f"e:{email}")  # the indexed lower(email) key of a lead
    return (
        Contact.objects.filter(match)
        .exclude(dedup_key__startswith=ERASED_PREFIX)
        .select_related("campaign", "phone", "mobile")
        .order_by("campaign_id", "id")
    )


def _label(contact: Contact) -> tuple[str, str]:
    who = contact.name or " ".join(p for p in (contact.first_name, contact.last_name) if p)
    numbers = ", ".join(str(p.number) for p in (contact.phone, contact.mobile) if p is not None)
    label = f"{contact.campaign.name}: {who or contact.email or f'contact #{contact.pk}'}"
    return label, " · ".join(part for part in (contact.email, numbers) if part)


def contacts_erase(*, contacts: list[Contact]) -> int:
    """Empty these leads and take their numbers out of the campaigns' phone counts.

    Runs inside ``crm.services.customer_erase``'s transaction.
    """
    detached: dict[int, int] = {}
    for contact in contacts:
        # contact_count counts distinct contacts: a lead with one number in both columns
        # counts once.
        for phone_id in {contact.phone_id, contact.mobile_id}:
            if phone_id is not None:
                detached[phone_id] = detached.get(phone_id, 0) + 1
        Contact.objects.filter(pk=contact.pk, campaign_id=contact.campaign_id).update(
            first_name="",
            last_name="",
            name="",
            email="",
            title="",
            phone_raw="",
            mobile_raw="",
            extra={},
            phone=None,
            mobile=None,
            account=None,
            dedup_key=f"{ERASED_PREFIX}{contact.pk}",
        )
    for phone_id, count in detached.items():
        CampaignPhone.objects.filter(pk=phone_id).update(contact_count=F("contact_count") - count)
    carried = Contact.objects.filter(Q(phone_id=OuterRef("pk")) | Q(mobile_id=OuterRef("pk")))
    logged = Disposition.objects.filter(phone_id=OuterRef("pk"))
    CampaignPhone.objects.filter(pk__in=list(detached), status=Status.ACTIVE).exclude(
        Exists(carried)
    ).exclude(Exists(logged)).delete()
    return len(contacts)


class CampaignsErasure:
    key = "campaigns"

    def describe(self, customer: Customer, numbers: Collection[str]) -> list[ErasurePart]:
        choices = []
        emails, held = set(_emails(customer)), _held(customer)
        for contact in leads_of(customer, numbers):
            label, detail = _label(contact)
            ticked, why = _tie(contact, emails, held)
            choices.append(
                ErasureChoice(
                    key=str(contact.pk), label=label, detail=detail, ticked=ticked, why=why
                )
            )
        return [
            ErasurePart(
                self.key,
                "campaign leads",
                len(choices),
                choices=tuple(choices),
                keeps=(
                    "Leads that carry one of the numbers or the email. Those with the same "
                    "email or this person's Mobile are ticked; the others may be someone "
                    "else on a shared line, so they are left for you to tick. Erased leads "
                    "stay counted as empty contacts; dispositions, disqualified numbers and "
                    "the do-not-call list stay so the person is never called again. "
                    "Uploaded files are kept as "
                    "uploaded."
                ),
            )
        ]

    def erase(
        self, customer: Customer, numbers: Collection[str], chosen: Collection[str]
    ) -> dict[str, int]:
        wanted = {int(key) for key in chosen if key.isdigit()}
        # Only leads the confirmation page could have offered: a forged id erases nothing.
        contacts = [c for c in leads_of(customer, numbers) if c.pk in wanted]
        return {"campaign leads": contacts_erase(contacts=contacts)}

    def export(self, customer: Customer, numbers: Collection[str]) -> dict[str, Any]:
        leads = leads_of(customer, numbers)
        dispositions = (
            Disposition.objects.filter(contact__in=leads.values("pk"))
            .order_by("created_at")
            .values("contact_id", "outcome", "target", "number", "note", "created_at")
        )
        do_not_call = DoNotCallNumber.objects.filter(number__in=list(numbers))
        return {
            "leads": list(leads.values(*LEAD_EXPORT_FIELDS)),
            "dispositions": list(dispositions),
            "do_not_call": list(do_not_call.values("number", "reason", "created_at")),
        }
