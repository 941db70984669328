import codecs

import pytest

from campaigns import ingest
from campaigns.ingest import partitions
from campaigns.models import Account, CampaignPhone, Contact, LeadRejection, LeadRow, LeadUpload
from tests.campaigns.factories import CampaignFactory, ContactFactory
from tests.campaigns.lead_files import SEED_CSV

pytestmark = pytest.mark.django_db


def numbers_of(contact: Contact) -> tuple[str | None, str | None]:
    return (
        contact.phone.number if contact.phone else None,
        contact.mobile.number if contact.mobile else None,
    )


def test_four_spellings_of_one_number_become_one_number(campaign, upload_csv):
    upload = upload_csv(
        campaign,
        "name,email,phone\n"
        "A,a@example.com,1 678-999-8212\n"
        "B,b@example.com,(678)-999 8212\n"
        "C,c@example.com,678 999 8212\n"
        "D,d@example.com,+1 (678) 999-8212\n",
    )
    assert upload.status == LeadUpload.State.COMPLETED
    phone = CampaignPhone.objects.get(campaign=campaign)
    assert (phone.number, phone.contact_count) == ("+16789998212", 4)
    assert upload.numbers_found == 1
    assert Contact.objects.filter(campaign=campaign, phone=phone).count() == 4


def test_seed_scenario_splits_accounts_and_contacts_and_counts_numbers(seeded):
    contacts = {c.email: c for c in Contact.objects.filter(campaign=seeded)}
    assert len(contacts) == 5
    assert set(Account.objects.filter(campaign=seeded).values_list("name", flat=True)) == {
        "Keller Williams",
        "KW Realty",
        "Doe Realty",
        "Petshop Supply",
    }
    counts = dict(
        CampaignPhone.objects.filter(campaign=seeded).values_list("number", "contact_count")
    )
    assert counts == {"+12127612846": 2, "+16789998212": 2, "+18327234097": 2}
    # Two emails, one shared mobile: still two contacts, at two accounts.
    john, john_r = contacts["john.smith@kw.example.com"], contacts["jrsmith@kwrealty.example.com"]
    assert numbers_of(john) == ("+12127612846", "+16789998212")
    assert numbers_of(john_r) == (None, "+16789998212")
    assert john.account.name == "Keller Williams"
    assert john_r.account.name == "KW Realty"
    assert john.extra == {"Notes": "retired?"}
    assert john.phone_raw == "+1-212-761-2846"


def test_rows_with_the_same_email_in_any_case_are_one_contact(campaign, upload_csv):
    upload = upload_csv(
        campaign,
        "first_name,last_name,email,company,phone,mobile\n"
        "Olivia,Brown,olivia.brown@example.com,Brown Homes,312 555 0150,\n"
        "OLIVIA,BROWN,Olivia.Brown@EXAMPLE.com,Brown Homes,,312 555 0160\n"
        "Noah,Wilson,noah@example.com,Brown Homes,312 555 0150,\n",
    )
    assert (upload.contacts_created, upload.merged_by_email) == (2, 1)
    olivia = Contact.objects.get(campaign=campaign, email="olivia.brown@example.com")
    # The first row wins; the merged row fills the mobile the first row lacked.
    assert (olivia.first_name, olivia.merged_rows) == ("Olivia", 1)
    assert numbers_of(olivia) == ("+13125550150", "+13125550160")
    shared = CampaignPhone.objects.get(campaign=campaign, number="+13125550150")
    assert shared.contact_count == 2


def test_a_later_upload_merges_into_existing_contacts_and_recounts(campaign, upload_csv):
    upload_csv(campaign, "email,phone\nann@example.com,404 555 0100\n")
    second = upload_csv(
        campaign,
        "email,phone,mobile\n"
        "ANN@example.com,404 555 0199,404 555 0111\n"
        "bob@example.com,404 555 0100,\n",
    )
    assert (second.contacts_created, second.merged_by_email) == (1, 1)
    ann = Contact.objects.get(campaign=campaign, email="ann@example.com")
    assert numbers_of(ann) == ("+14045550100", "+14045550111")  # keeps her phone, gains a mobile
    counts = dict(
        CampaignPhone.objects.filter(campaign=campaign).values_list("number", "contact_count")
    )
    assert counts["+14045550100"] == 2
    assert counts["+14045550111"] == 1


def test_same_number_in_both_columns_counts_the_contact_once(campaign, upload_csv):
    upload_csv(campaign, "email,phone,mobile\nx@example.com,678 999 8212,(678) 999-8212\n")
    assert CampaignPhone.objects.get(campaign=campaign).contact_count == 1


def test_bad_cells_are_reported_and_good_rows_kept(campaign, upload_csv):
    upload = upload_csv(
        campaign,
        "name,email,phone,mobile\n"
        "Good,good@example.com,678 999 8212,\n"
        "Half,half@example.com,not a number,404 555 0100\n"
        "Bad,bad@example.com,12345,\n"
        "None,none@example.com,,\n",
    )
    assert (upload.rows_read, upload.rows_rejected, upload.contacts_created) == (4, 2, 2)
    rejections = {
        (r.row_number, r.column): (r.reason, r.row_kept)
        for r in LeadRejection.objects.filter(upload=upload)
    }
    assert rejections == {
        (3, "phone"): ("it does not look like a phone number", True),
        (4, "phone"): ("wrong number of digits", False),
        (5, "phone, mobile"): ("no phone number", False),
    }
    half = Contact.objects.get(campaign=campaign, email="half@example.com")
    assert numbers_of(half) == (None, "+14045550100")


def test_rows_without_email_are_contacts_of_their_own_but_identical_rows_are_one(
    campaign, upload_csv
):
    upload = upload_csv(
        campaign,
        "name,company,phone\nAl,Acme,678 999 8212\nAl,Acme,678 999 8212\nBo,Acme,678 999 8212\n",
    )
    assert (upload.contacts_created, upload.duplicate_rows) == (2, 1)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty."),
        (b"\n\n", "The file is empty."),
        (b"name,email\nAl,al@example.com\n", "no \u201cphone\u201d or \u201cmobile\u201d column"),
        (b"name,phone\n", "header but no rows"),
        (b"name,phone\nJo\x81e,678 999 8212\n", "not UTF-8 text (line 2 is not)"),
        (b"x" * (ingest.MAX_RECORD_CHARS + 10) + b",phone\nAl,678 999 8212\n", "longer than"),
        (b"PK\x03\x04rest of a zip", "ZIP archive"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "This is a PDF, not a CSV"),
    ],
)
def test_bad_files_are_refused_with_a_clear_message_and_nothing_written(
    campaign, upload_csv, content, message
):
    if not content:
        from django.core.exceptions import ValidationError

        with pytest.raises(ValidationError, match="empty"):
            upload_csv(campaign, content)
        return
    upload = upload_csv(campaign, content)
    assert upload.status == LeadUpload.State.FAILED
    assert message in upload.error
    assert "Nothing was imported" in upload.error
    assert not Contact.objects.filter(campaign=campaign).exists()
    assert not CampaignPhone.objects.filter(campaign=campaign).exists()
    assert not LeadRow.objects.filter(upload=upload).exists()


def test_a_bad_encoding_late_in_the_file_leaves_nothing_half_written(
    campaign, upload_csv, settings
):
    good = "".join(f"P{i},p{i}@example.com,404 555 {i:04d}\n" for i in range(120))
    content = ("name,email,phone\n" + good).encode() + b"Jo\x81e,j@example.com,,\n"
    upload = upload_csv(campaign, content)
    assert upload.status == LeadUpload.State.FAILED
    assert not Contact.objects.filter(campaign=campaign).exists()
    assert not LeadRejection.objects.filter(upload=upload).exists()
    assert "line 122 is not" in upload.error


def test_utf8_bom_and_header_case_are_accepted(campaign, upload_csv):
    upload = upload_csv(
        campaign, "\ufeffNAME,E-Mail,Phone\nJos\u00e9,jose@example.com,678 999 8212\n"
    )
    assert upload.status == LeadUpload.State.COMPLETED
    contact = Contact.objects.get(campaign=campaign)
    assert (contact.name, contact.email) == ("Jos\u00e9", "jose@example.com")


def test_uploading_the_same_file_again_adds_nothing(seeded, upload_csv):
    before = (Contact.objects.count(), CampaignPhone.objects.count(), Account.objects.count())
    again = upload_csv(seeded, SEED_CSV)
    assert again.status == LeadUpload.State.COMPLETED
    assert again.duplicate_of is not None
    assert (
        Contact.objects.count(),
        CampaignPhone.objects.count(),
        Account.objects.count(),
    ) == before


def test_the_same_rows_in_another_file_add_nothing_twice(seeded, upload_csv):
    counts = dict(
        CampaignPhone.objects.filter(campaign=seeded).values_list("number", "contact_count")
    )
    again = upload_csv(seeded, SEED_CSV + "\n", name="copy.csv")  # different bytes, same rows
    assert again.duplicate_of is None
    assert (again.contacts_created, again.accounts_created, again.numbers_created) == (0, 0, 0)
    assert Contact.objects.filter(campaign=seeded).count() == 5
    assert (
        dict(CampaignPhone.objects.filter(campaign=seeded).values_list("number", "contact_count"))
        == counts
    )


def test_running_a_completed_upload_again_is_a_no_op(seeded):
    from campaigns import services

    upload = LeadUpload.objects.get(campaign=seeded)
    services.lead_upload_import(upload_id=upload.pk)
    assert Contact.objects.filter(campaign=seeded).count() == 5


def _leaf_tables(campaign) -> set[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT tableoid::regclass::text FROM campaigns_contact "
            "WHERE campaign_id = %s",
            [campaign.pk],
        )
        return {name for (name,) in cursor.fetchall()}


def _index_columns(table: str) -> list[tuple[bool, str]]:
    """(unique, columns) of each index of a table, names aside."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indisunique, split_part(pg_get_indexdef(indexrelid), ' USING ', 2) "
            "FROM pg_index WHERE indrelid = %s::regclass ORDER BY 2",
            [table],
        )
        return cursor.fetchall()


@pytest.mark.postgresql
def test_a_first_upload_becomes_the_campaigns_own_partition_with_every_index(campaign, upload_csv):
    upload_csv(campaign, SEED_CSV)
    partition = ingest.contact_partition(campaign.pk)
    assert _leaf_tables(campaign) == {partition}
    # Attached, so the parent's indexes were matched, not duplicated or left out.
    assert _index_columns(partition) == _index_columns("campaigns_contact_default")
    assert len(_index_columns(partition)) == len(_index_columns("campaigns_contact"))

    # A later upload goes through the parent into the same partition.
    second = upload_csv(
        campaign, "email,mobile\nnew.person@example.com,404 555 0101\n", name="2.csv"
    )
    assert second.contacts_created == 1
    assert _leaf_tables(campaign) == {partition}
    ids = list(Contact.objects.filter(campaign=campaign).values_list("id", flat=True))
    assert len(ids) == len(set(ids)) == 6


@pytest.mark.postgresql
def test_a_campaign_with_contacts_made_by_hand_keeps_them_in_the_default_partition(
    campaign, upload_csv
):
    ann = ContactFactory(campaign=campaign, email="ann@example.com")
    upload = upload_csv(
        campaign, "email,phone\nANN@example.com,404 555 0100\nbob@example.com,404 555 0100\n"
    )
    assert (upload.contacts_created, upload.merged_by_email) == (1, 1)
    assert _leaf_tables(campaign) == {"campaigns_contact_default"}
    ann.refresh_from_db()
    assert numbers_of(ann) == ("+14045550100", None)
    assert CampaignPhone.objects.get(campaign=campaign).contact_count == 2


@pytest.mark.postgresql
def test_a_disposition_must_name_its_contacts_campaign(seeded):
    from django.db import IntegrityError, connection, transaction

    from campaigns.models import Campaign, Disposition

    contact = Contact.objects.filter(campaign=seeded).first()
    other = Campaign.objects.create(name="other")

    def record(campaign):
        with transaction.atomic():
            Disposition.objects.create(
                campaign=campaign,
                contact=contact,
                outcome=Disposition.Outcome.NO_ANSWER,
                target=Disposition.Target.CONTACT,
            )
            connection.check_constraints()  # the pair's key is otherwise checked at commit

    with pytest.raises(IntegrityError):
        record(other)
    with pytest.raises(IntegrityError):
        record(None)
    record(seeded)


@pytest.mark.postgresql
def test_the_admins_estimate_of_contacts_sums_the_partitions(seeded):
    from django.db import connection

    from crm.admin_utils import estimated_row_count

    ContactFactory(campaign=CampaignFactory(name="by hand"))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE campaigns_contact")
    assert estimated_row_count("campaigns_contact") == 6  # 5 in the partition, 1 in default


def test_contacts_listed_by_id_read_in_file_order(campaign, upload_csv):
    rows = [f"Person {i},p{i % 400}@example.com,404 555 {i % 10_000:04d}" for i in range(600)]
    upload_csv(campaign, "name,email,phone\n" + "\n".join(rows) + "\n")
    firsts = list(
        Contact.objects.filter(campaign=campaign)
        .order_by("id")
        .values_list("row_number", flat=True)
    )
    assert len(firsts) == 400
    assert firsts == sorted(firsts)


@pytest.mark.parametrize(
    "set_based", [pytest.param(True, marks=pytest.mark.postgresql), False], ids=["copy", "orm"]
)
def test_cells_with_copy_delimiters_quotes_and_unicode_arrive_unchanged(
    campaign, upload_csv, monkeypatch, set_based
):
    # Staging writes a COPY stream: tabs, newlines, backslashes and COPY's own markers in
    # a cell are data, as is anything outside ASCII.
    monkeypatch.setattr(ingest, "set_based", lambda: set_based)
    tricky = 'a\tb\r\nc \\N \\. "q" \\\\ \u00e9\U0001f600'
    quoted = tricky.replace('"', '""')
    upload_csv(
        campaign,
        "first_name,last_name,email,company,title,phone,Notes,\u00dcber\n"
        f'"{quoted}",\\,a@example.com,"{quoted}","{quoted}", +1 (678) 999-8212 ,"{quoted}",\\\n'
        f',,,Co,,678 999 8213,,"{quoted}"\n',
    )
    first = Contact.objects.get(campaign=campaign, email="a@example.com")
    assert (first.first_name, first.last_name, first.title) == (tricky, "\\", tricky)
    assert first.name == f"{tricky} \\"
    assert first.account.name == tricky
    assert first.phone_raw == "+1 (678) 999-8212"
    assert first.extra == {"Notes": tricky, "\u00dcber": "\\"}
    second = Contact.objects.get(campaign=campaign, email="")
    assert second.extra == {"\u00dcber": tricky}
    assert second.dedup_key.startswith("r:")


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_first_uploads_of_two_campaigns_at_once_both_complete(monkeypatch):
    """Each first upload attaches a partition beside the default one; merged in the
    wrong interleaving the two would deadlock and one upload would fail."""
    import contextlib
    import threading

    from django.core.files.base import ContentFile
    from django.db import connection

    from campaigns import services
    from campaigns.models import Campaign

    uploads = [
        services.lead_upload_create(
            campaign=Campaign.objects.create(name=f"new {i}"),
            file=ContentFile(SEED_CSV.encode(), name="leads.csv"),
            uploaded_by=None,
        )
        for i in range(2)
    ]
    # Hold each merge just before it attaches until the other has got as far as it can:
    # both then hold whatever they took on the default partition.
    barrier = threading.Barrier(2)
    attach = partitions.attach_partition

    def attach_together(*args):
        # A broken barrier: the other merge is waiting for this one to commit.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=3)
        attach(*args)

    monkeypatch.setattr(partitions, "attach_partition", attach_together)
    results: dict[int, str] = {}

    def run(upload_id: int) -> None:
        try:
            results[upload_id] = services.lead_upload_import(upload_id=upload_id).status
        except Exception as exc:  # a deadlock surfaces here
            results[upload_id] = repr(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(u.pk,)) for u in uploads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {u.pk: LeadUpload.State.COMPLETED for u in uploads}
    for upload in uploads:
        assert Contact.objects.filter(campaign_id=upload.campaign_id).count() == 5


def test_a_file_refused_after_rows_were_read_reports_no_rows(campaign, upload_csv):
    good = "".join(f"P{i},404 555 {i:04d}\n" for i in range(2_000))
    # UTF-16 is decoded as it is read: a lone surrogate after 2,000 rows is found there.
    broken = b"\x00\xd8" + "b,404 555 9999\n".encode("utf-16-le")
    content = codecs.BOM_UTF16_LE + ("name,phone\n" + good).encode("utf-16-le") + broken
    upload = upload_csv(campaign, content)
    assert upload.status == LeadUpload.State.FAILED
    assert "not UTF-16 text (near line" in upload.error
    upload.refresh_from_db()
    assert (upload.rows_read, upload.rows_rejected) == (0, 0)
    assert not LeadRejection.objects.filter(upload=upload).exists()


def test_the_receipt_says_how_the_file_was_read(campaign, upload_csv):
    from campaigns import selectors

    data = (
        "First Name;Company;Business Phone;Home Phone;E-mail Address;Notes;Notes\n"
        "Jos\u00e9;Caf\u00e9 SA;404 555 0100;404 555 0111;jose@example.com;a;b\n"
    ).encode("cp1252")
    upload = upload_csv(campaign, data)
    assert upload.status == LeadUpload.State.COMPLETED
    assert (upload.encoding, upload.delimiter) == ("Windows-1252", ";")
    lines = selectors.lead_upload_receipt_lines(upload)
    assert lines[:4] == [
        "Read as:              Windows-1252, semicolon-separated",
        "  Read as Windows-1252: line 2 is not UTF-8 text.",
        "Columns read:         First Name \u2192 first_name, Company \u2192 company, "
        "Business Phone \u2192 phone, E-mail Address \u2192 email",
        "Kept as extra data:   Home Phone, Notes, Notes",
    ]
    contact = Contact.objects.get(campaign=campaign)
    assert (contact.first_name, contact.extra) == (
        "Jos\u00e9",
        {"Home Phone": "404 555 0111", "Notes": "a", "Notes (2)": "b"},
    )


def test_the_phase_holds_its_longest_message(seeded, upload_csv):
    first = LeadUpload.objects.get(campaign=seeded)
    LeadUpload.objects.filter(pk=first.pk).update(id=10**18)
    again = upload_csv(seeded, SEED_CSV)
    again.refresh_from_db()
    assert again.phase == (f"This file was already imported as upload #{10**18}: nothing added.")


def test_import_leads_on_an_empty_file_is_a_clean_error(campaign, tmp_path):
    from django.core.management import CommandError, call_command

    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(CommandError, match=r"The file is empty\."):
        call_command("import_leads", str(campaign.pk), str(empty))
    assert not LeadUpload.objects.filter(campaign=campaign).exists()
