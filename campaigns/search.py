"""The search rule (crm/search.py) on campaign leads: the Contacts list, the caller
workspace and the ``lead`` kind of the header search box and ``/api/search/``.

The admin's Contacts list applies the rule through :data:`LEAD_FIELDS`. The workspace and
the header search find leads with :func:`lead_ranks`, the same rule asked one condition
at a time: a number is a probe of the campaign's numbers and then of the contacts' phone
and mobile indexes, a word of a name is the trigram index on ``sb_fold(name)``, a company
word the one on the accounts and then the contacts' account index (migration 0013). One
query ORing those conditions across joins reads every contact of the campaign instead
(a million rows and ``sb_fold()`` on each).
"""

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from django.db.models import F, Q, QuerySet
from django.urls import reverse

from campaigns.ingest import rules
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


def _ids(rows: QuerySet[Any], limit: int, order: str) -> list[int]:
    """At most ``limit`` ids of ``rows``, the first in ``order`` when there are more.

    Asked unordered first, so PostgreSQL reads the few matches of a rare term from their
    index; only a common term (more than ``limit`` matches) is asked again in ``order``,
    which then walks the order's index and stops early.
    """
    found = list(rows.order_by().values_list("id", flat=True)[: limit + 1])
    if len(found) > limit:
        found = list(rows.order_by(order).values_list("id", flat=True)[:limit])
    return sorted(found, reverse=order.startswith("-"))


def _unindexed_campaign(rows: QuerySet[Any], campaign_ids: Sequence[int]) -> QuerySet[Any]:
    """``rows`` of these campaigns, by a condition no index answers (``campaign_id + 0``),
    so the planner reads the matches from the search index whatever its statistics say.
    An upload adds a million numbers and thousands of accounts that the statistics learn
    of only at the next ANALYZE; until then the planner took the campaign for a small
    one and read all of its rows through the campaign's index (0.4-0.7 s a search)."""
    return rows.alias(in_campaign=F("campaign_id") + 0).filter(in_campaign__in=campaign_ids)


def lead_conditions(
    query: search.Query, campaign_ids: Sequence[int], limit: int
) -> list[tuple[Q, int]]:
    """The rule's conditions on contacts (``lead_fields``), each one an indexed probe:
    the numbers and companies that match are fetched first, then named by id."""
    phones = CampaignPhone.objects.filter(campaign_id__in=campaign_ids)
    found: list[tuple[Q, int]] = []

    def by_phone(phone_ids: list[int], rank: int) -> None:
        if phone_ids:
            found.append((Q(phone_id__in=phone_ids), rank))
            found.append((Q(mobile_id__in=phone_ids), rank))

    if query.e164:
        by_phone(_ids(phones.filter(number=query.e164), limit, "id"), search.RANK_EXACT)
    if query.suffix:
        ending = _unindexed_campaign(CampaignPhone.objects.all(), campaign_ids)
        ending = ending.filter(search.suffix_q("number", query.suffix))
        by_phone(_ids(ending, limit, "id"), search.RANK_PARTIAL)
    if query.email:
        # A whole email is the contact's key in its campaign (any case): the unique
        # (campaign, dedup_key) index answers it. Part of one is the trigram index.
        found.append((Q(dedup_key=rules.email_key(query.email)), search.RANK_EXACT))
        found.append((Q(email__icontains=query.email), search.RANK_PARTIAL))
    if query.words:
        found.append((search.words_q("name", query.words), search.RANK_NAME))
        accounts = _unindexed_campaign(Account.objects.all(), campaign_ids)
        account_ids = _ids(accounts.filter(search.words_q("name", query.words)), limit, "id")
        if account_ids:
            found.append((Q(account_id__in=account_ids), search.RANK_NAME))
    return found


def lead_ranks(
    query: search.Query | str,
    *,
    campaign_ids: Sequence[int],
    limit: int,
    order: str = "id",
    exact_email_only: bool = False,
) -> dict[int, int]:
    """``{contact id: rank}`` of the best ``limit`` leads of these campaigns for the
    rule, best rank first, then in ``order`` within a rank.

    ``exact_email_only``: a whole email that names a lead answers with that lead alone
    (the workspace), instead of also every email containing it.
    """
    if isinstance(query, str):
        query = search.parse(query)
    campaign_ids = list(campaign_ids)
    if query.empty or not campaign_ids:
        return {}
    contacts = Contact.objects.filter(campaign_id__in=campaign_ids)
    whole_email = exact_email_only and query.email is not None and "@" in query.email
    by_rank: dict[int, list[Q]] = {}
    for condition, rank in lead_conditions(query, campaign_ids, limit):
        by_rank.setdefault(rank, []).append(condition)
    ranks: dict[int, int] = {}
    for rank in sorted(by_rank):
        if len(ranks) >= limit or (whole_email and ranks):
            break  # a whole email: its own lead, not the names and emails resembling it
        # The first ``wanted`` of each condition hold the first ``wanted`` of their union
        # (rows found at a better rank may come again, so as many more as those).
        wanted = limit + len(ranks)
        found: set[int] = set()
        for condition in by_rank[rank]:
            found.update(_ids(contacts.filter(condition), wanted, order))
        for pk in sorted(found, reverse=order.startswith("-")):
            if pk not in ranks and len(ranks) < limit:
                ranks[pk] = rank
    return ranks


def find_leads(query: search.Query, user: Any, limit: int) -> list[search.Hit]:
    # Imported here: the selectors module imports this one for the workspace.
    from campaigns.selectors import campaigns_for_user

    # Agents and Administrators search every lead; a Caller the leads of their campaigns.
    campaigns = Campaign.objects.all() if user.is_staff else campaigns_for_user(user)
    # Named, not a subquery: PostgreSQL then reads only these campaigns' partitions.
    campaign_ids = list(campaigns.order_by().values_list("id", flat=True))
    ranks = lead_ranks(query, campaign_ids=campaign_ids, limit=limit, order="-id")
    found = Contact.objects.filter(campaign_id__in=campaign_ids, id__in=list(ranks))
    rows = sorted(found.select_related("campaign", "account"), key=lambda c: (ranks[c.pk], -c.pk))
    in_admin = user.is_staff and user.has_perm("campaigns.view_contact")
    return [
        search.Hit(
            kind="lead",
            id=contact.pk,
            label=str(contact) + (f", {contact.account}" if contact.account_id else ""),
            matched=search.matched_text(query, ranks[contact.pk]),
            rank=ranks[contact.pk],
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
