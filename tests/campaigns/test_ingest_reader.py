"""The file reader alone: bytes in, staged rows and rejections out, no database."""

import codecs
import io
import json
import re
import zipfile

import pytest

import campaigns.ingest.reader as reader_module
import campaigns.ingest.records as records_module
from campaigns.ingest import rules
from campaigns.ingest.reader import STAGED_FIELDS, FileRefused, LeadFileReader

pytestmark = pytest.mark.database_free


def read(data: bytes | str) -> tuple[list[dict], LeadFileReader]:
    raw = data.encode() if isinstance(data, str) else data
    reader = LeadFileReader(io.BytesIO(raw), upload_id=7)
    rows = [dict(zip(STAGED_FIELDS, row, strict=True)) for row in reader]
    return rows, reader


def rejections(reader: LeadFileReader) -> list[tuple]:
    return [r[1:6] for r in reader.stats.rejections]


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


# --- Files as people export them --------------------------------------------------------

PLAIN = "name,email,phone\nAnn,ann@example.com,678 999 8212\nBo,bo@example.com,678 999 8213\n"


@pytest.mark.parametrize(
    "delimiter", [",", ";", "\t", "|"], ids=["comma", "semicolon", "tab", "pipe"]
)
def test_the_delimiter_is_detected(delimiter):
    rows, reader = read(PLAIN.replace(",", delimiter))
    assert [(r["name"], r["phone"]) for r in rows] == [
        ("Ann", "+16789998212"),
        ("Bo", "+16789998213"),
    ]
    assert reader.stats.delimiter == delimiter


def test_a_semicolon_file_with_commas_inside_cells_is_read_by_semicolons():
    rows, reader = read('name;company;phone\n"Lee, Ann";Acme, Inc.;678 999 8212\n')
    assert (rows[0]["name"], rows[0]["company"]) == ("Lee, Ann", "Acme, Inc.")
    assert reader.stats.delimiter == ";"


@pytest.mark.parametrize(
    ("data", "label"),
    [
        (PLAIN.encode(), "UTF-8"),
        (PLAIN.encode("utf-8-sig"), "UTF-8 with BOM"),
        (PLAIN.encode("utf-16"), "UTF-16"),  # with its BOM, little-endian here
        (codecs.BOM_UTF16_BE + PLAIN.encode("utf-16-be"), "UTF-16"),
    ],
    ids=["utf8", "utf8-bom", "utf16-le", "utf16-be"],
)
def test_unicode_encodings_are_read(data, label):
    rows, reader = read(data)
    assert [r["name"] for r in rows] == ["Ann", "Bo"]
    assert (reader.stats.encoding, reader.stats.encoding_note) == (label, "")


def test_bytes_that_are_not_utf8_are_read_as_windows_1252_and_the_receipt_says_why():
    lines = [f"P{i},p{i}@example.com,404 555 {i:04d}" for i in range(500)]
    lines[397] = "Jos\u00e9 \u2013 caf\u00e9,jose@example.com,404 555 9999"  # line 399
    rows, reader = read(("name,email,phone\n" + "\n".join(lines) + "\n").encode("cp1252"))
    assert rows[397]["name"] == "Jos\u00e9 \u2013 caf\u00e9"
    assert reader.stats.encoding == "Windows-1252"
    assert reader.stats.encoding_note == "Read as Windows-1252: line 399 is not UTF-8 text."


def test_bytes_neither_utf8_nor_windows_1252_are_refused_naming_the_line():
    data = b"name,phone\n" + b"Al,678 999 8212\n" * 300 + b"B\x81b,678 999 8213\n"
    with pytest.raises(FileRefused, match=r"not UTF-8 text \(line 302 is not\)"):
        read(data)


def test_a_bom_file_that_breaks_utf8_later_is_refused_naming_the_line():
    data = codecs.BOM_UTF8 + b"name,phone\nAl,678 999 8212\nJos\xe9,678 999 8213\n"
    with pytest.raises(FileRefused, match=r"line 3 is not"):
        read(data)


OUTLOOK = (
    "First Name,Last Name,Company,Job Title,Business Phone,Home Phone,Mobile Phone,"
    "E-mail Address,Notes\n"
    "Ann,Lee,Acme,CEO,404 555 0100,404 555 0111,678 999 8212,ann@example.com,hi\n"
)


def test_outlook_headers_are_read_and_the_other_columns_kept_as_extra_data():
    rows, reader = read(OUTLOOK)
    row = rows[0]
    assert (row["first_name"], row["last_name"], row["company"], row["title"]) == (
        "Ann",
        "Lee",
        "Acme",
        "CEO",
    )
    assert (row["phone"], row["mobile"], row["email"]) == (
        "+14045550100",
        "+16789998212",
        "ann@example.com",
    )
    # Business Phone is the phone; the Home Phone is kept, not dropped.
    assert json.loads(row["extra"]) == {"Home Phone": "404 555 0111", "Notes": "hi"}
    assert reader.stats.columns == [
        ("First Name", "first_name"),
        ("Last Name", "last_name"),
        ("Company", "company"),
        ("Job Title", "title"),
        ("Business Phone", "phone"),
        ("Home Phone", "extra data"),
        ("Mobile Phone", "mobile"),
        ("E-mail Address", "email"),
        ("Notes", "extra data"),
    ]


@pytest.mark.parametrize(
    "header",
    [
        "First Name,Last Name,Company Name,Phone Number,Mobile Phone Number,Email",  # HubSpot
        "First Name,Last Name,Account Name,Phone,Mobile,Email",  # Salesforce
    ],
    ids=["hubspot", "salesforce"],
)
def test_hubspot_and_salesforce_headers_are_read(header):
    rows, reader = read(f"{header}\nAnn,Lee,Acme,404 555 0100,678 999 8212,a@example.com\n")
    row = rows[0]
    assert (row["company"], row["phone"], row["mobile"]) == (
        "Acme",
        "+14045550100",
        "+16789998212",
    )
    assert "extra data" not in dict(reader.stats.columns).values()


def test_salesforce_title_is_the_title():
    rows, _ = read("Name,Title,Phone\nAnn Lee,Broker,404 555 0100\n")
    assert rows[0]["title"] == "Broker"


def test_an_unclosed_quote_rejects_its_row_and_the_next_lines_are_read():
    rows, reader = read(
        'name,phone,notes\nAl,678 999 8212,"oops\nBo,678 999 8213,fine\nCy,678 999 8214,"ok"\n'
    )
    assert [(r["row_number"], r["name"]) for r in rows] == [(3, "Bo"), (4, "Cy")]
    assert rejections(reader) == [
        (2, "(row)", 'Al,678 999 8212,"oops', records_module.UNCLOSED_QUOTE, False)
    ]


def test_an_unclosed_quote_at_the_end_of_the_file_rejects_only_its_row():
    rows, reader = read('name,phone\nAl,"678 999 8212\nBo,678 999 8213\nCy,678 999 8214\n')
    assert [r["name"] for r in rows] == ["Bo", "Cy"]
    assert [r[:2] for r in rejections(reader)] == [(2, "(row)")]
    assert (reader.stats.rows_read, reader.stats.rows_rejected) == (3, 1)


def test_cells_with_line_breaks_are_still_one_row():
    rows, reader = read('name,phone,notes\nAl,678 999 8212,"called twice\nleft a message"\n')
    assert json.loads(rows[0]["extra"]) == {"notes": "called twice\nleft a message"}
    assert not reader.stats.rejections


def test_row_numbers_are_the_spreadsheets_after_blank_lines_before_the_header():
    rows, reader = read("\n,,\n\nname,phone\nAl,678 999 8212\n,\nBo,12345\n")
    assert [r["row_number"] for r in rows] == [5]
    assert [r[:2] for r in rejections(reader)] == [(7, "phone")]


def test_duplicate_extra_headers_keep_every_value():
    rows, _ = read("phone,notes,notes,NOTES,\n678 999 8212,a,b,c,d\n")
    assert json.loads(rows[0]["extra"]) == {
        "notes": "a",
        "notes (2)": "b",
        "NOTES (3)": "c",
        "Column 5": "d",
    }


def _zip(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "x")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_zip("[Content_Types].xml", "xl/workbook.xml"), "Excel workbook (.xlsx)"),
        (_zip("leads.csv"), "This is a ZIP archive, not a CSV"),
        (b"PK\x03\x04not really a zip", "This is a ZIP archive, not a CSV"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 50, "Excel 97-2003 workbook"),
    ],
    ids=["xlsx", "zip", "broken-zip", "xls"],
)
def test_documents_are_refused_for_what_they_are(data, message):
    with pytest.raises(FileRefused, match=re.escape(message)):
        read(data)


def test_a_number_repeated_on_many_rows_reads_the_same_on_each_and_a_bad_one_is_refused_on_each(
    monkeypatch,
):
    # The reader remembers numbers it accepted (a bounded memory, cleared when full): a
    # tiny bound makes it forget and ask again within this file.
    monkeypatch.setattr(reader_module, "KNOWN_NUMBERS", 2)
    lines = ["name,phone,mobile"]
    for i in range(12):
        lines.append(f"P{i},678 999 8212,{['555-01', f'(404) 555-0{i % 3:03d}'][i % 2]}")
    rows, reader = read("\n".join(lines) + "\n")
    assert [r["phone"] for r in rows] == ["+16789998212"] * 12
    assert [r["mobile"] for r in rows] == [
        "" if i % 2 == 0 else f"+1404555000{i % 3}" for i in range(12)
    ]
    refused = rejections(reader)
    assert [(row, column, value) for row, column, value, _, _ in refused] == [
        (row, "mobile", "555-01") for row in range(2, 14, 2)
    ]
    assert all(kept for *_, kept in refused)
    assert len({reason for _, _, _, reason, _ in refused}) == 1
