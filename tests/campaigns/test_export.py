import csv
import io

import pytest
from django.urls import reverse

from campaigns.export import spreadsheet_safe

pytestmark = pytest.mark.django_db


def export(client, campaign) -> list[dict[str, str]]:
    response = client.get(reverse("campaigns:export", args=[campaign.pk]))
    assert response.status_code == 200
    raw = b"".join(response.streaming_content)
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel reads it as UTF-8
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


@pytest.mark.parametrize(
    ("cell", "exported"),
    [
        ("+16789998212", "+16789998212"),  # a phone number in E.164: no formula
        ("-42", "-42"),
        ("+3.5", "+3.5"),
        ("=1+2", "'=1+2"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("+1 (678) 999-8212", "'+1 (678) 999-8212"),  # not a plain number: a spreadsheet parses it
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        ("", ""),
        (None, ""),
    ],
)
def test_only_cells_a_spreadsheet_could_run_are_quoted(cell, exported):
    assert spreadsheet_safe(cell) == exported


def test_export_has_first_and_last_name_and_every_extra_column(
    client, campaign, upload_csv, administrator
):
    upload_csv(
        campaign,
        "First Name,Last Name,Email,Company,Phone,Mobile,Lead Source,Notes\n"
        "Jane,Doe,jane@example.com,Doe Realty,678 999 8212,,Webinar,=cmd|' /C calc'!A0\n"
        "John,Smith,john@example.com,KW,,(404) 555-0100,,\n",
    )
    upload_csv(
        campaign,
        "name,email,phone,Region\nAna Garcia,ana@example.com,+44 20 7183 8750,EMEA\n",
        name="second.csv",
    )
    client.force_login(administrator)
    rows = {row["email"]: row for row in export(client, campaign)}

    jane, john, ana = rows["jane@example.com"], rows["john@example.com"], rows["ana@example.com"]
    assert (jane["first_name"], jane["last_name"]) == ("Jane", "Doe")
    assert (john["first_name"], john["last_name"]) == ("John", "Smith")
    assert ana["name"] == "Ana Garcia"
    # Every extra column of every upload is a column of its own.
    assert jane["Lead Source"] == "Webinar"
    assert jane["Notes"] == "'=cmd|' /C calc'!A0"  # a formula stays text
    assert ana["Region"] == "EMEA"
    assert jane["Region"] == ""
    # Numbers are exported as they are: no leading quote.
    assert jane["phone"] == "+16789998212"
    assert john["mobile"] == "+14045550100"
    assert ana["phone"] == "+442071838750"


def test_an_extra_column_named_like_ours_is_kept_apart(client, campaign, upload_csv, administrator):
    upload_csv(campaign, "name,email,phone,Phone_Status\nMia,mia@example.com,6789998212,VIP\n")
    client.force_login(administrator)
    (row,) = export(client, campaign)
    assert row["extra:Phone_Status"] == "VIP"
    assert row["contact_status"] == "active"


def test_export_has_last_outcome_callback_in_lead_time_attempts_and_notes(
    client, seeded, administrator
):
    from datetime import UTC, datetime

    from campaigns.models import Contact, Disposition

    contact = Contact.objects.get(campaign=seeded, email="jane.doe@example.com")
    Contact.objects.filter(pk=contact.pk).update(attempts=2, time_zone="America/Chicago")
    Disposition.objects.create(
        campaign=seeded,
        contact=contact,
        outcome=Disposition.Outcome.NO_ANSWER,
        target=Disposition.Target.CONTACT,
        note="=rang out",
        by=administrator,
    )
    Disposition.objects.create(
        campaign=seeded,
        contact=contact,
        outcome=Disposition.Outcome.CALLBACK,
        target=Disposition.Target.CONTACT,
        callback_at=datetime(2031, 1, 15, 16, 30, tzinfo=UTC),
        note="after lunch",
        by=administrator,
    )
    client.force_login(administrator)
    rows = {row["email"]: row for row in export(client, seeded)}
    jane = rows["jane.doe@example.com"]
    assert jane["last_outcome"] == "Call back later"
    assert (jane["callback_at"], jane["callback_zone"]) == ("2031-01-15 10:30", "America/Chicago")
    assert jane["attempts"] == "2"
    assert jane["call_notes"] == "'=rang out | after lunch"  # formula-safe, oldest first
    john = rows["john.smith@kw.example.com"]
    assert (john["last_outcome"], john["callback_at"], john["attempts"]) == ("", "", "0")
