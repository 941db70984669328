"""Phase 2 with the ORM, row by row: the embedded default (SQLite) and any other database.

The same rules as the set-based merge (``rules``), applied one staged row at a time in
file order; the parity test holds the two to the same stored result.
"""

from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.utils import timezone

import campaigns.ingest.rules as rules
from campaigns.ingest.postgresql import CampaignGone
from campaigns.models import (
    Account,
    Campaign,
    CampaignPhone,
    Contact,
    DoNotCallNumber,
    LeadRow,
    LeadUpload,
    Status,
)


class _Merge:
    def __init__(self, upload: LeadUpload) -> None:
        self.upload = upload
        self.campaign_id = upload.campaign_id
        self.result = rules.MergeResult()
        self.now = timezone.now()
        accounts = Account.objects.filter(campaign_id=self.campaign_id)
        self.accounts = {
            rules.account_key(name): pk for pk, name in accounts.values_list("id", "name")
        }
        phones = CampaignPhone.objects.filter(campaign_id=self.campaign_id)
        self.phones = dict(phones.values_list("number", "id"))
        self.do_not_call = dict(DoNotCallNumber.objects.values_list("number", "reason"))
        self.found: set[str] = set()
        self.contacts: dict[str, Contact] = {}
        self.rows = {"email": 0, "other": 0}
        self.created = {"email": 0, "other": 0}

    def account_id(self, company: str) -> int | None:
        if not company:
            return None
        key = rules.account_key(company)
        if key not in self.accounts:
            account = Account.objects.create(campaign_id=self.campaign_id, name=company)
            self.accounts[key] = account.pk
            self.result.accounts_created += 1
        return self.accounts[key]

    def phone_id(self, number: str) -> int | None:
        if not number:
            return None
        self.found.add(number)
        if number not in self.phones:
            phone = CampaignPhone(campaign_id=self.campaign_id, number=number)
            if number in self.do_not_call:
                fields = rules.do_not_call_fields(reason=self.do_not_call[number], now=self.now)
                for name, value in fields.items():
                    setattr(phone, name, value)
            phone.save()
            self.phones[number] = phone.pk
            self.result.numbers_created += 1
        return self.phones[number]

    def existing_contact(self, key: str) -> Contact | None:
        return self.contacts.get(key) or (
            Contact.objects.filter(campaign_id=self.campaign_id, dedup_key=key).first()
        )

    def add(self, row: LeadRow) -> None:
        ids = {
            "account_id": self.account_id(row.company),
            "phone_id": self.phone_id(row.phone),
            "mobile_id": self.phone_id(row.mobile),
        }
        kind = "email" if rules.is_email_key(row.dedup_key) else "other"
        self.rows[kind] += 1
        contact = self.existing_contact(row.dedup_key)
        if contact is None:
            contact = self.create_contact(row, ids)
            self.created[kind] += 1
        else:
            for name in rules.FILLED_FIELDS:  # keeps what it has, gains what it lacked
                setattr(contact, name, getattr(contact, name) or ids[name])
            contact.merged_rows += 1
            contact.save(update_fields=[*rules.FILLED_FIELDS, "merged_rows"])
        self.contacts[row.dedup_key] = contact

    def create_contact(self, row: LeadRow, ids: dict[str, int | None]) -> Contact:
        return Contact.objects.create(
            campaign_id=self.campaign_id,
            first_name=row.first_name,
            last_name=row.last_name,
            name=row.name,
            email=row.email,
            title=row.title,
            phone_raw=row.phone_raw,
            mobile_raw=row.mobile_raw,
            extra=row.extra,
            dedup_key=row.dedup_key,
            upload_id=self.upload.pk,
            row_number=row.row_number,
            **ids,
        )

    def finish(self) -> rules.MergeResult:
        self.result.numbers_found = len(self.found)
        self.result.numbers_do_not_call = len(self.found & self.do_not_call.keys())
        self.result.count_rows(
            email_rows=self.rows["email"],
            other_rows=self.rows["other"],
            email_created=self.created["email"],
            other_created=self.created["other"],
        )
        self.disqualify_listed()
        recount_phones(campaign_id=self.campaign_id, numbers=self.found)
        return self.result

    def disqualify_listed(self) -> None:
        """The campaign's active numbers that are on the do-not-call list (those already
        in the campaign before this file; new ones arrived disqualified)."""
        listed = CampaignPhone.objects.filter(
            campaign_id=self.campaign_id,
            number__in=DoNotCallNumber.objects.values("number"),
            status=Status.ACTIVE,
        )
        fields = rules.do_not_call_fields(reason="", now=self.now)
        fields["status_reason"] = Subquery(
            DoNotCallNumber.objects.filter(number=OuterRef("number")).values("reason")[:1]
        )
        listed.update(**fields)


def merge(upload: LeadUpload) -> rules.MergeResult:
    """Turn the staged rows into accounts, contacts and Campaign Phone Counts (atomic)."""
    with transaction.atomic():
        # SQLite's IMMEDIATE transaction holds the write lock from here to the commit, so
        # a campaign still here now is here when its contacts are committed; one deleted
        # while the file was read would otherwise fail the commit on its foreign keys.
        if not Campaign.objects.filter(pk=upload.campaign_id).exists():
            raise CampaignGone(f"Campaign {upload.campaign_id} was deleted during the import.")
        run = _Merge(upload)
        staged = LeadRow.objects.filter(upload_id=upload.pk).order_by("row_number")
        for row in staged.iterator():
            run.add(row)
        result = run.finish()
        LeadRow.objects.filter(upload_id=upload.pk).delete()
    return result


def recount_phones(*, campaign_id: int, numbers: set[str] | None = None) -> None:
    """contact_count from scratch for some (or all) numbers of a campaign (ORM)."""
    phones = CampaignPhone.objects.filter(campaign_id=campaign_id)
    if numbers is not None:
        phones = phones.filter(number__in=numbers)
    for phone in phones.annotate(
        by_phone=Count("contacts_by_phone", distinct=True),
        by_mobile_only=Count(
            "contacts_by_mobile",
            filter=~Q(contacts_by_mobile__phone_id=F("id"))
            | Q(contacts_by_mobile__phone_id__isnull=True),
            distinct=True,
        ),
    ).iterator():
        count = phone.by_phone + phone.by_mobile_only
        if count != phone.contact_count:
            CampaignPhone.objects.filter(pk=phone.pk).update(contact_count=count)
