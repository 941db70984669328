"""Reads for the caller workspace, the admin and the API."""

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import User as AuthUser
from django.db import connection
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from campaigns.ingest import rules
from campaigns.ingest.partitions import contact_partition
from campaigns.models import (
    Account,
    Campaign,
    CampaignPhone,
    Contact,
    Disposition,
    LeadRejection,
    LeadUpload,
)
from crm.db import is_postgresql
from crm.selectors import number_search
from telephony.models import OwnedNumber

User = AuthUser | AnonymousUser
MANAGE_PERMISSION = "campaigns.change_campaign"
WORK_PERMISSION = "campaigns.work_campaign"


def campaigns_for_user(user: User) -> QuerySet[Campaign]:
    """Administrators see every campaign; callers the ones they are assigned to."""
    if not user.is_authenticated:
        return Campaign.objects.none()
    if user.has_perm(MANAGE_PERMISSION):
        return Campaign.objects.all()
    if user.has_perm(WORK_PERMISSION):
        return Campaign.objects.filter(callers=user)
    return Campaign.objects.none()


# A name or company prefix can match most of a campaign; past this many matches the list
# stops (the page says so) and the search should be narrowed.
SEARCH_MATCH_CAP = 5_000


def campaign_contacts(*, campaign: Campaign, search: str = "") -> QuerySet[Contact]:
    """Contacts with their account and numbers (one query per page, all joins)."""
    contacts = Contact.objects.filter(campaign=campaign).select_related(
        "account", "phone", "mobile"
    )
    search = search.strip()
    if not search:
        return contacts.order_by("id")
    # Each kind of search is answered by indexes: an OR across a join would read every
    # contact of the campaign (a second per search in a campaign of a million).
    by_number = number_search(CampaignPhone.objects.filter(campaign=campaign), search)
    if by_number is not None:
        phone_id = by_number.values_list("id", flat=True).first()
        return contacts.filter(Q(phone_id=phone_id) | Q(mobile_id=phone_id)).order_by("id")
    if "@" in search:
        return contacts.filter(dedup_key=rules.email_key(search)).order_by("id")
    # Prefix matches on the name or the company (both indexed, see migration 0002).
    in_campaign = Contact.objects.filter(campaign=campaign)
    by_name = in_campaign.filter(name__istartswith=search).values("id")
    by_company = in_campaign.filter(
        account__in=Account.objects.filter(campaign=campaign, name__istartswith=search)
    ).values("id")
    # The ids are fetched first: given the union as a subquery, the planner misjudges
    # how many rows match and walks the campaign in id order instead.
    ids = by_name.union(by_company).order_by("id").values_list("id", flat=True)
    return contacts.filter(id__in=list(ids[:SEARCH_MATCH_CAP])).order_by("id")


def campaign_contents(*, campaign: Campaign) -> dict[str, int]:
    """What deleting the campaign would delete, counted."""
    return {
        "contacts": Contact.objects.filter(campaign=campaign).count(),
        "numbers": CampaignPhone.objects.filter(campaign=campaign).count(),
        "accounts": Account.objects.filter(campaign=campaign).count(),
        "uploads": LeadUpload.objects.filter(campaign=campaign).count(),
        "log entries": Disposition.objects.filter(campaign=campaign).count(),
    }


def campaign_contacts_table(*, campaign: Campaign) -> str | None:
    """The campaign's own contacts partition, if an upload made one: its planner
    statistics count the campaign's contacts without reading them."""
    if not is_postgresql():
        return None
    table = contact_partition(campaign.pk)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
        row = cursor.fetchone()
    return table if row and row[0] else None


def campaign_phones(*, campaign: Campaign, status: str = "") -> QuerySet[CampaignPhone]:
    phones = CampaignPhone.objects.filter(campaign=campaign)
    if status:
        phones = phones.filter(status=status)
    return phones.order_by("-contact_count", "number")


def campaign_phone_get(*, campaign: Campaign, raw_number: str) -> CampaignPhone | None:
    """The campaign's row for a number typed any way; None when it is not in the campaign."""
    found = number_search(CampaignPhone.objects.filter(campaign=campaign), raw_number)
    return None if found is None else found.first()


def campaign_dialing_numbers(*, campaign: Campaign) -> list[OwnedNumber]:
    """The caller IDs to dial from: a replaced number stands for the end of its chain."""
    result: list[OwnedNumber] = []
    for number in campaign.caller_ids.all():
        seen = {number.pk}
        while number.replaced_by_id is not None and number.replaced_by_id not in seen:
            seen.add(number.replaced_by_id)
            number = OwnedNumber.objects.get(pk=number.replaced_by_id)
        if number.status == OwnedNumber.Status.ACTIVE and number not in result:
            result.append(number)
    return result


def campaign_dispositions(*, campaign: Campaign) -> QuerySet[Disposition]:
    return (
        Disposition.objects.filter(campaign=campaign)
        .select_related("by", "contact", "account", "phone", "undone_by")
        .order_by("-created_at", "-id")
    )


@dataclass
class DataQuality:
    invalid_numbers: QuerySet[LeadRejection]
    invalid_count: int
    shared_by_contacts: QuerySet[CampaignPhone]
    shared_by_accounts: QuerySet[CampaignPhone]
    merged_contacts: QuerySet[Contact]
    merged_rows: int
    uploads: QuerySet[LeadUpload]


def campaign_data_quality(*, campaign: Campaign, limit: int = 50) -> DataQuality:
    rejections = LeadRejection.objects.filter(
        upload__campaign=campaign, column__in=["phone", "mobile"]
    ).select_related("upload")
    shared = CampaignPhone.objects.filter(campaign=campaign, contact_count__gt=1)
    # Numbers carried by contacts of two or more accounts (e.g. a spouse's small business).
    accounts_carrying = (
        Contact.objects.filter(campaign=campaign)
        .filter(Q(phone_id=OuterRef("pk")) | Q(mobile_id=OuterRef("pk")))
        .order_by()
        .values("campaign_id")
        .annotate(n=Count("account_id", distinct=True))
        .values("n")
    )
    shared_by_accounts = (
        shared.annotate(accounts=Subquery(accounts_carrying))
        .filter(accounts__gt=1)
        .order_by("-contact_count", "number")
    )
    merged = Contact.objects.filter(campaign=campaign, merged_rows__gt=0).select_related("account")
    uploads = LeadUpload.objects.filter(campaign=campaign, status=LeadUpload.State.COMPLETED)
    return DataQuality(
        invalid_numbers=rejections.order_by("upload_id", "row_number")[:limit],
        invalid_count=rejections.count(),
        shared_by_contacts=shared.order_by("-contact_count", "number")[:limit],
        shared_by_accounts=shared_by_accounts[:limit],
        merged_contacts=merged.order_by("-merged_rows", "id")[:limit],
        merged_rows=sum(uploads.values_list("merged_by_email", flat=True)),
        uploads=uploads,
    )


def lead_upload_receipt_lines(upload: LeadUpload) -> list[str]:
    """The receipt as text, for the command line and the admin."""
    if upload.status == LeadUpload.State.FAILED:
        return [f"Refused: {upload.error}"]
    if upload.duplicate_of_id:
        return [upload.phase]
    lines = [
        f"Rows read:            {upload.rows_read:,}",
        f"Rows rejected:        {upload.rows_rejected:,}",
        f"Contacts created:     {upload.contacts_created:,}",
        f"Merged by email:      {upload.merged_by_email:,}",
        f"Duplicate rows:       {upload.duplicate_rows:,}",
        f"Accounts created:     {upload.accounts_created:,}",
        f"Numbers found:        {upload.numbers_found:,} ({upload.numbers_created:,} new)",
        f"On do-not-call list:  {upload.numbers_do_not_call:,}",
    ]
    problems = upload.rejections.order_by("row_number", "id")[:20]
    for rejection in problems:
        kept = " (row kept)" if rejection.row_kept else ""
        lines.append(
            f"  row {rejection.row_number}, {rejection.column}: {rejection.reason}"
            f" [{rejection.value}]{kept}"
        )
    more = upload.rejections.count() - len(problems)
    if more > 0:
        lines.append(f"  … and {more:,} more: download the rejected rows CSV from the admin.")
    return lines
