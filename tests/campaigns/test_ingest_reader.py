"""The file reader alone: bytes in, staged rows and rejections out, no database."""

import io
import json

import pytest

from campaigns.ingest import rules
from campaigns.ingest.reader import STAGED_FIELDS, FileRefused, LeadFileReader


def read(data: bytes | str) -> tuple[list[dict], LeadFileReader]:
    raw = data.encode() if isinstance(data, str) else data
    reader = LeadFileReader(io.BytesIO(raw), upload_id=7)
    rows = [dict(zip(STAGED_FIELDS, row, strict=True)) for row in reader]
    return rows, reader


def rejections(reader: LeadFileReader) -> list[tuple]:
    return [r[1:] for r in reader.stats.rejections]


def test_a_row_becomes_a_staged_row_with_its_key_and_extra_data():
    rows, reader = read(
        "First Name,Last Name,E-Mail,Company,Title,Phone,Mobile,Notes\n"
        "Ann,Lee,Ann@Example.com,Acme,CEO,678 999 8212,,met at expo\n"
    )
    assert rows == [
        {
            "upload_id": 7,
            "row_number": 2,
            "first_name": "Ann",
            "last_name": "Lee",
            "name": "Ann Lee",
            "email": "Ann@Example.com",
            "company": "Acme",
            "title": "CEO",
            "phone": "+16789998212",
            "mobile": "",
            "phone_raw": "678 999 8212",
            "mobile_raw": "",
            "extra": json.dumps({"Notes": "met at expo"}),
            "dedup_key": rules.email_key("ann@example.com"),
        }
    ]
    assert (reader.stats.rows_read, reader.stats.rows_rejected) == (1, 0)


def test_rows_without_email_are_keyed_by_their_content():
    rows, _ = read("name,company,phone\nAl,Acme,678 999 8212\nAl,ACME,678-999-8212\n")
    assert rows[0]["dedup_key"] == rows[1]["dedup_key"]
    assert rows[0]["dedup_key"].startswith(rules.ROW_KEY)


def test_bad_cells_are_rejected_and_rows_with_a_good_number_kept():
    rows, reader = read(
        "name,email,phone,mobile\n"
        "Half,half@example.com,not a number,404 555 0100\n"
        "Bad,bad@example.com,12345,\n"
        "None,none at example.com,,\n"
    )
    assert [r["row_number"] for r in rows] == [2]
    assert rejections(reader) == [
        (2, "phone", "not a number", "it does not look like a phone number", True),
        (3, "phone", "12345", "wrong number of digits", False),
        (4, "phone, mobile", "", "no phone number", False),
    ]
    assert (reader.stats.rows_read, reader.stats.rows_rejected) == (3, 2)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\n\n", "The file is empty."),
        (b"name,email\nAl,al@example.com\n", "no \u201cphone\u201d or \u201cmobile\u201d column"),
        (b"name,phone\n", "header but no rows"),
        (b"phone,Phone\n1,2\n", "appears twice"),
    ],
)
def test_files_that_cannot_be_leads_are_refused(content, message):
    with pytest.raises(FileRefused, match=message):
        read(content)
