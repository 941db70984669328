"""The import preview: each column's reading, chosen by a person, remembered per campaign."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from campaigns import services
from campaigns.ingest.headers import layout
from campaigns.ingest.preview import preview
from campaigns.models import Contact, LeadUpload

OUTLOOK = (
    "First Name;Company;Business Phone;Home Phone;Notes\n"
    "Ann;Acme;404 555 0100;404 555 0111;hi\n"
    "Bo;Acme;;404 555 0122;\n"
)


def test_a_mapping_reads_a_column_as_said_and_ignores_what_it_is_told_to():
    columns = layout(
        ["First Name", "Business Phone", "Home Phone", "Notes"],
        {"Home Phone": "phone", "business phone": "extra", "NOTES": "ignore"},
    )
    assert columns.columns == [
        ("First Name", "first_name"),
        ("Business Phone", "extra data"),
        ("Home Phone", "phone"),
        ("Notes", "ignored"),
    ]
    assert [label for _, label in columns.extras] == ["Business Phone"]


def test_the_preview_shows_the_reading_and_each_columns_choice():
    shown = preview(io.BytesIO(OUTLOOK.encode()))
    assert (shown.encoding, shown.delimiter_name, shown.rows) == ("UTF-8", "semicolon", 2)
    assert [(c.label, c.choice) for c in shown.columns] == [
        ("First Name", "first_name"),
        ("Company", "company"),
        ("Business Phone", "phone"),
        ("Home Phone", "extra"),
        ("Notes", "extra"),
    ]
    assert shown.columns[3].samples == ["404 555 0111", "404 555 0122"]


def test_the_preview_starts_from_the_campaigns_remembered_choices():
    shown = preview(
        io.BytesIO(OUTLOOK.encode()), remembered={"home phone": "phone", "Business Phone": "extra"}
    )
    choices = {c.label: c.choice for c in shown.columns}
    assert (choices["Home Phone"], choices["Business Phone"]) == ("phone", "extra")


@pytest.mark.django_db
def test_starting_an_upload_reads_it_as_chosen_and_remembers_the_choices(
    campaign, django_capture_on_commit_callbacks
):
    upload = services.lead_upload_create(
        campaign=campaign, file=ContentFile(OUTLOOK.encode(), name="o.csv"), uploaded_by=None
    )
    with django_capture_on_commit_callbacks(execute=False) as queued:
        services.lead_upload_start(
            upload=upload,
            mapping={"Home Phone": "phone", "Business Phone": "mobile", "Notes": "ignore"},
        )
    assert len(queued) == 1
    services.lead_upload_import(upload_id=upload.pk)
    ann = Contact.objects.get(campaign=campaign, first_name="Ann")
    assert (ann.phone.number, ann.mobile.number, ann.extra) == ("+14045550111", "+14045550100", {})
    campaign.refresh_from_db()
    assert campaign.column_mapping == {
        "Home Phone": "phone",
        "Business Phone": "mobile",
        "Notes": "ignore",
    }
    with pytest.raises(ValidationError, match="already started"):
        services.lead_upload_start(upload=upload, mapping={"Home Phone": "phone"})


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"Notes": "extra"}, "phone or the mobile"),
        ({"Home Phone": "phone", "Business Phone": "phone"}, "are all read as phone"),
        ({"Home Phone": "fax"}, "there is no field"),
    ],
)
def test_a_mapping_that_cannot_be_imported_is_refused(campaign, mapping, message):
    upload = services.lead_upload_create(
        campaign=campaign, file=ContentFile(OUTLOOK.encode(), name="o.csv"), uploaded_by=None
    )
    with pytest.raises(ValidationError, match=message):
        services.lead_upload_start(upload=upload, mapping=mapping)
    upload.refresh_from_db()
    assert (upload.mapping, upload.status) == ({}, LeadUpload.State.QUEUED)


@pytest.mark.django_db
def test_import_leads_reads_columns_as_mapped(campaign, tmp_path, capsys):
    path = tmp_path / "outlook.csv"
    path.write_text(OUTLOOK)
    call_command(
        "import_leads",
        str(campaign.pk),
        str(path),
        "--map",
        "Home Phone=phone",
        "--map",
        "Business Phone=ignore",
    )
    assert "Home Phone → phone" in capsys.readouterr().out
    ann = Contact.objects.get(campaign=campaign, first_name="Ann")
    assert (ann.phone.number, ann.extra) == ("+14045550111", {"Notes": "hi"})
    with pytest.raises(CommandError, match="HEADER=FIELD"):
        call_command("import_leads", str(campaign.pk), str(path), "--map", "phone")
    with pytest.raises(CommandError, match="there is no field"):
        call_command("import_leads", str(campaign.pk), str(path), "--map", "Notes=fax")


@pytest.mark.django_db
def test_the_admin_upload_goes_through_the_columns_page(
    client, campaign, administrator, django_capture_on_commit_callbacks
):
    client.force_login(administrator)
    response = client.post(
        reverse("admin:campaigns_campaign_upload", args=[campaign.pk]),
        {"file": SimpleUploadedFile("o.csv", OUTLOOK.encode(), content_type="text/csv")},
    )
    upload = LeadUpload.objects.get(campaign=campaign)
    columns_url = reverse("admin:campaigns_campaign_upload_columns", args=[campaign.pk, upload.pk])
    assert response.url == columns_url
    page = client.get(columns_url).content.decode()
    assert "semicolon" in page
    assert "Business Phone" in page
    form = {"col_0": "first_name", "col_1": "company", "col_2": "phone", "col_3": "phone"}
    form["col_4"] = "extra"
    refused = client.post(columns_url, form)
    assert "are all read as phone" in refused.content.decode()
    form["col_3"] = "mobile"
    with django_capture_on_commit_callbacks(execute=False) as queued:
        done = client.post(columns_url, form)
    assert done.url == reverse("admin:campaigns_leadupload_change", args=[upload.pk])
    assert len(queued) == 1
    services.lead_upload_import(upload_id=upload.pk)
    bo = Contact.objects.get(campaign=campaign, first_name="Bo")
    assert (bo.phone, bo.mobile.number) == (None, "+14045550122")
    # The started upload's columns page leads to its receipt.
    assert client.get(columns_url).url == done.url


@pytest.mark.django_db
def test_a_file_the_import_refuses_goes_straight_to_its_receipt(
    client, campaign, administrator, django_capture_on_commit_callbacks
):
    client.force_login(administrator)
    client.post(
        reverse("admin:campaigns_campaign_upload", args=[campaign.pk]),
        {"file": SimpleUploadedFile("x.csv", b"PK\x03\x04not a zip", content_type="text/csv")},
    )
    upload = LeadUpload.objects.get(campaign=campaign)
    columns_url = reverse("admin:campaigns_campaign_upload_columns", args=[campaign.pk, upload.pk])
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.get(columns_url)
    assert response.url == reverse("admin:campaigns_leadupload_change", args=[upload.pk])
    assert len(queued) == 1
    upload = services.lead_upload_import(upload_id=upload.pk)
    assert upload.status == LeadUpload.State.FAILED
    assert "ZIP archive" in upload.error
