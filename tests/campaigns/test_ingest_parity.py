"""Both merges (set-based SQL, portable ORM) store the same thing, field by field.

The corpus exercises every merge rule: fills from later rows, one email in several cases,
rows without email (identical and not), bad cells that keep their row and bad rows that
do not (a NUL among them), a quoted cell with line breaks, a number in both columns,
do-not-call numbers (listed before the first upload, and one listed between the uploads,
already in the campaign), and a second upload into the same campaign that merges into
its contacts and accounts. The expected result is written down
(``parity_expected.json``), so the embedded default (SQLite) is held to what PostgreSQL
stores, and on PostgreSQL the two paths are also compared with each other.
"""

import json
from pathlib import Path
from typing import Any

import pytest
from django.db import models

from campaigns import ingest
from campaigns.models import (
    Account,
    Campaign,
    CampaignPhone,
    Contact,
    DoNotCallNumber,
    LeadRejection,
    LeadUpload,
)
from tests.campaigns.factories import CampaignFactory

pytestmark = pytest.mark.django_db

EXPECTED = Path(__file__).with_name("parity_expected.json")

FIRST_FILE = (
    "first_name,last_name,email,company,title,phone,mobile,Notes\n"
    # Ann: her first row lacks company and phone; the next rows of her email fill them.
    "Ann,Lee,ann@example.com,,CEO,,404 555 0101,first\n"
    "ANN,LEE,Ann@Example.COM,Acme,,404 555 0100,,later fill\n"
    "Ann,L,ann@example.com,Other Co,,404 555 0199,404 555 0198,\n"
    # A bad mobile cell: the row is kept with its phone. "ACME" is Acme's account.
    "Bob,Ray,bob@example.com,ACME,,(404) 555-0100,not a number,\n"
    # No email: its own contact; the identical row after it is a duplicate.
    "Cy,Doe,,acme,,678 999 8212,,\n"
    "Cy,Doe,,acme,,678 999 8212,,\n"
    "Cy,Doe,,acme,,678 999 8213,,\n"
    # A bad email is dropped (row kept); a row whose only number is bad is rejected.
    "Dee,Fox,dee at example.com,Fox Inc,,404 555 0140,,\n"
    "Dan,Fox,dan@example.com,Fox Inc,,12345,,\n"
    # The same number in both columns, on the do-not-call list.
    "Eve,Moe,eve@example.com,Fox Inc,,832 723 4097,(832) 723-4097,\n"
    "Fay,,fay@example.com,,,,,\n"
    ",,,,,,,\n"
    'Gus,Hu,gus@example.com,Hu LLC,,212 761 2846,,"quoted, note"\n'
    "Hal,Ng,hal@example.com,Ng,,,+1 (213) 555-0123,\n"
    "Ivy,,ivy@example.com,,,404 555 0111,,,too many\n"
    # Quoted line breaks are data: one row, the next rows read as they are.
    '"Jo\r\nAnn",Kim,jo@example.com,,,404 555 0160,,"line one\nline, two"\n'
    # A NUL in one cell rejects its row, not the file.
    "Kay,Nul,kay@example.com,,,404 555 \x000161,,\n"
    "Lou,Ash,lou@example.com,,,404 555 0162,,\n"
)

SECOND_FILE = (
    "email,phone,mobile,company,name,Notes\n"
    # Ann already has both numbers and an account: she only counts the merged row.
    "ann@example.com,,404 555 0177,Acme,Ann Again,\n"
    # Hal lacks a phone: he gains one already in the campaign, and keeps his account.
    "HAL@example.com,404 555 0100,,Ng Two,,\n"
    "new@example.com,212 761 2846,,,New Person,second\n"
    "NEW@example.com,,678 999 8212,New Co,,\n"
    # Cy Doe's identical row again: a duplicate of the contact made by the first file.
    ",678 999 8212,,acme,Cy Doe,\n"
    "zed@example.com,,555-01,,Zed,\n"
)


def _value(obj: models.Model, field: models.Field, uploads: dict[int, int]) -> Any:
    value = getattr(obj, field.attname)
    if field.name in {"created_at", "started_at", "finished_at", "status_changed_at"}:
        return value is not None
    if field.name in {"upload", "duplicate_of"}:
        return uploads.get(value)
    if field.name == "account":
        return obj.account.name if obj.account_id else None  # type: ignore[attr-defined]
    if field.name in {"phone", "mobile"}:
        return getattr(obj, field.name).number if value else None
    return value


def _rows(queryset: models.QuerySet, uploads: dict[int, int], skip: set[str]) -> list[dict]:
    fields = [
        f
        for f in queryset.model._meta.concrete_fields
        if not f.primary_key and f.name not in skip | {"campaign"}
    ]
    rows = [{f.name: _value(obj, f, uploads) for f in fields} for obj in queryset]
    return sorted(rows, key=lambda row: json.dumps(row, sort_keys=True, default=str))


def stored(campaign: Campaign) -> dict[str, list[dict]]:
    """Every stored field of what the uploads made, ids and clocks aside."""
    upload_rows = LeadUpload.objects.filter(campaign=campaign).order_by("pk")
    uploads = {pk: n for n, pk in enumerate(upload_rows.values_list("pk", flat=True), 1)}
    return {
        "uploads": _rows(upload_rows, uploads, {"file", "checksum", "uploaded_by"}),
        "rejections": _rows(
            LeadRejection.objects.filter(upload__campaign=campaign), uploads, set()
        ),
        "accounts": _rows(Account.objects.filter(campaign=campaign), uploads, set()),
        "phones": _rows(CampaignPhone.objects.filter(campaign=campaign), uploads, set()),
        "contacts": _rows(
            Contact.objects.filter(campaign=campaign).select_related("account", "phone", "mobile"),
            uploads,
            {"dedup_key"},
        ),
    }


@pytest.fixture
def import_corpus(upload_csv, monkeypatch):
    """Import the corpus into a new campaign by one path; returns what it stored."""
    DoNotCallNumber.objects.get_or_create(number="+18327234097", defaults={"reason": "asked"})

    def run(set_based: bool) -> dict[str, list[dict]]:
        monkeypatch.setattr(ingest, "set_based", lambda: set_based)
        campaign = CampaignFactory()
        upload_csv(campaign, FIRST_FILE, name="first.csv")
        DoNotCallNumber.objects.get_or_create(
            number="+14045550101", defaults={"reason": "listed between the uploads"}
        )
        upload_csv(campaign, SECOND_FILE, name="second.csv")
        DoNotCallNumber.objects.filter(number="+14045550101").delete()
        return stored(campaign)

    return run


def test_the_portable_merge_stores_the_expected_result(import_corpus):
    result = import_corpus(set_based=False)
    assert result == json.loads(EXPECTED.read_text())


@pytest.mark.postgresql
def test_the_set_based_merge_stores_the_expected_result(import_corpus):
    result = import_corpus(set_based=True)
    assert result == json.loads(EXPECTED.read_text())


@pytest.mark.postgresql
def test_both_merges_store_the_same_on_postgresql(import_corpus):
    assert import_corpus(set_based=True) == import_corpus(set_based=False)


def test_a_number_listed_after_it_arrived_is_disqualified_with_the_lists_reason(import_corpus):
    phones = {p["number"]: p for p in import_corpus(set_based=ingest.set_based())["phones"]}
    assert phones["+14045550101"]["status"] == "disqualified"
    assert phones["+14045550101"]["status_scope"] == "everywhere"
    assert phones["+14045550101"]["status_reason"] == "listed between the uploads"
    assert phones["+18327234097"]["status_reason"] == "asked"
    assert phones["+18327234097"]["contact_count"] == 1  # both columns, one contact
