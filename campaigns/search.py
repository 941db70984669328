"""The search rule (crm/search.py) on campaign leads: the Contacts list, the caller
workspace and the ``lead`` kind of the header search box and ``/api/search/``."""

from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.urls import reverse

from campaigns.models import Account, Campaign, CampaignPhone, Contact
from crm import search


def lead_fields(campaigns: QuerySet[Campaign] | None = None) -> search.Fields:
    """A lead is found by its name or email, its company's name, or either of its numbers
    (each a CampaignPhone row, so a number is an index probe there, then the contacts)."""
    phones = CampaignPhone.objects.all()
    accounts = Account.objects.all()
    if campaigns is not None:
        phones, accounts = (
            phones.filter(campaign__in=campaigns),
            accounts.filter(campaign__in=campaigns),
        )
    numbers = search.Fields(numbers=("number",))
    return search.Fields(
        names=("name",),
        emails=("email",),
        via=[
            ("phone_id", phones, numbers),
            ("mobile_id", phones, numbers),
            ("account_id", accounts, search.Fields(names=("name",))),
        ],
    )


LEAD_FIELDS = lead_fields()
ACCOUNT_FIELDS = search.Fields(names=("name",))


def find_leads(query: search.Query, user: Any, limit: int) -> list[search.Hit]:
    # Imported here: the selectors module imports this one for the workspace.
    from campaigns.selectors import campaigns_for_user

    # Agents and Administrators search every lead; a Caller the leads of their campaigns.
    campaigns = Campaign.objects.all() if user.is_staff else campaigns_for_user(user)
    rows = search.ranked(
        search.best(
            Contact.objects.filter(campaign__in=campaigns).select_related("campaign", "account"),
            query,
            lead_fields(campaigns),
            limit=limit,
        ),
        "-id",
    )[:limit]
    in_admin = user.is_staff and user.has_perm("campaigns.view_contact")
    return [
        search.Hit(
            kind="lead",
            id=contact.pk,
            label=str(contact) + (f", {contact.account}" if contact.account_id else ""),
            matched=search.matched_text(query, search.rank_of(contact)),
            rank=search.rank_of(contact),
            url=reverse("admin:campaigns_contact_change", args=[contact.pk])
            if in_admin
            else reverse("campaigns:detail", args=[contact.campaign_id])
            + "?"
            + urlencode({"q": query.text}),
            detail=contact.campaign.name,
        )
        for contact in rows
    ]


def register() -> None:
    search.search_registry.add(
        search.SearchKind(
            "lead",
            "Campaign leads",
            None,  # scoped by campaigns_for_user: all for managers, assigned for callers
            find_leads,
            order=20,
            for_callers=True,
        )
    )
