"""A lead file loses no row: RFC 4180 quoted line breaks are data, one bad cell or one
huge record rejects its own row (never the file, never its neighbours), a file that is no
CSV is told what it is, and the rejected rows come back as they were."""

import csv
import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.urls import reverse

import campaigns.ingest.records as records_module
from campaigns import ingest, selectors, services
from campaigns.ingest import encoding
from campaigns.ingest.preview import preview
from campaigns.ingest.reader import STAGED_FIELDS, FileRefused, LeadFileReader
from campaigns.models import Contact, LeadRejection, LeadUpload

MULTI_LINE = (
    "Name,Phone,Email\r\n"
    '"Multi\r\nLine Name",678 999 8212,multi@example.com\r\n'
    "Bo Ray,678 999 8213,bo@example.com\r\n"
    "Cy Doe,678 999 8214,cy@example.com\r\n"
)


def read(data: bytes | str) -> tuple[list[dict], LeadFileReader]:
    raw = data.encode() if isinstance(data, str) else data
    reader = LeadFileReader(io.BytesIO(raw), upload_id=7)
    rows = [dict(zip(STAGED_FIELDS, row, strict=True)) for row in reader]
    return rows, reader


def rejections(reader: LeadFileReader) -> list[tuple]:
    return [r[1:6] for r in reader.stats.rejections]


@pytest.mark.parametrize("newline", ["\r\n", "\n"], ids=["crlf", "lf"])
def test_a_quoted_line_break_is_data_and_the_rows_after_it_are_read(newline):
    rows, reader = read(MULTI_LINE.replace("\r\n", newline))
    assert [(r["row_number"], r["name"]) for r in rows] == [
        (2, f"Multi{newline}Line Name"),
        (3, "Bo Ray"),
        (4, "Cy Doe"),
    ]
    assert not reader.stats.rejections
    assert (reader.stats.rows_read, reader.stats.rows_rejected) == (3, 0)


def test_a_line_inside_a_quoted_cell_that_looks_like_a_row_is_still_data():
    rows, reader = read(
        'name,phone,notes\nAl,678 999 8212,"called, twice\nleft, a, message"\nBo,678 999 8213,\n'
    )
    assert json.loads(rows[0]["extra"]) == {"notes": "called, twice\nleft, a, message"}
    assert [(r["row_number"], r["name"]) for r in rows] == [(2, "Al"), (3, "Bo")]
    assert not reader.stats.rejections


def test_a_quoted_line_break_in_a_short_row_is_data():
    rows, reader = read('name,phone,notes\n"Al\nAlbert",678 999 8212\nBo,678 999 8213\n')
    assert [r["name"] for r in rows] == ["Al\nAlbert", "Bo"]
    assert not reader.stats.rejections


def test_a_quoted_line_break_in_the_header_is_data():
    rows, reader = read('name,"Phone\nnumber"\nAl,678 999 8212\n')
    assert [(r["row_number"], r["phone"]) for r in rows] == [(2, "+16789998212")]
    assert reader.stats.columns == [("name", "name"), ("Phone\nnumber", "phone")]
    rows, _ = read('"Full\nName",phone\n\nAl,678 999 8212\n')
    assert [(r["row_number"], r["phone"]) for r in rows] == [(3, "+16789998212")]


def test_row_numbers_count_records_not_lines_after_a_quoted_line_break():
    rows, reader = read('name,phone,notes\nAl,678 999 8212,"a\nb\nc"\nBo,12345,\n')
    assert [r["row_number"] for r in rows] == [2]
    assert [r[:2] for r in rejections(reader)] == [(3, "phone")]


def test_a_180_kb_quoted_record_is_one_row():
    note = ("x" * 99 + "\n") * 1800  # 180 KB over 1,800 lines
    rows, reader = read(f'name,phone,notes\nAl,678 999 8212,"{note}"\nBo,678 999 8213,\n')
    assert [(r["row_number"], r["name"]) for r in rows] == [(2, "Al"), (3, "Bo")]
    assert json.loads(rows[0]["extra"])["notes"] == note
    assert not reader.stats.rejections


def test_a_180_kb_cell_on_one_line_is_one_row():
    rows, reader = read(f"name,phone,notes\nAl,678 999 8212,{'x' * 180_000}\nBo,678 999 8213,\n")
    assert [r["name"] for r in rows] == ["Al", "Bo"]
    assert not reader.stats.rejections


def test_a_record_past_the_cap_is_one_rejected_row_and_the_next_rows_are_read():
    cap = records_module.MAX_RECORD_CHARS
    huge = "y" * (cap + 10)
    rows, reader = read(f"name,phone,notes\nAl,678 999 8212,{huge}\nBo,678 999 8213,\n")
    assert [(r["row_number"], r["name"]) for r in rows] == [(3, "Bo")]
    [(row, column, _value, reason, kept)] = rejections(reader)
    assert (row, column, kept) == (2, "(row)", False)
    assert f"longer than {cap:,} characters" in reason
    assert (reader.stats.rows_read, reader.stats.rows_rejected) == (2, 1)


def test_a_quote_left_open_past_the_cap_rejects_one_row_and_the_rows_after_it_are_read():
    body = "".join(f"P{i},404 555 {i % 10_000:04d},note\n" for i in range(40_000))
    rows, reader = read('name,phone,notes\nAl,678 999 8212,"oops\n' + body)
    assert rejections(reader)[0][:2] == (2, "(row)")
    assert rows[0]["row_number"] == 3
    assert len(rows) == 40_000


def test_a_nul_in_one_cell_rejects_that_row_only():
    rows, reader = read("name,phone\nAl,678 999 8212\nB\x00b,678 999 8213\nCy,678 999 8214\n")
    assert [r["name"] for r in rows] == ["Al", "Cy"]
    [(row, column, value, reason, kept)] = rejections(reader)
    assert (row, column, value, kept) == (3, "name", "B\u2400b", False)
    assert "NUL" in reason
    assert (reader.stats.rows_read, reader.stats.rows_rejected) == (3, 1)


def test_a_rejected_row_keeps_its_original_text_and_a_kept_one_does_not():
    _, reader = read(
        'name,phone,email\n"Multi\nLine",12345,m@example.com\nBo,678 999 8213,bad email\n'
    )
    originals = {r[1]: r[6] for r in reader.stats.rejections}
    assert originals == {2: '"Multi\nLine",12345,m@example.com\n', 3: ""}
    assert reader.stats.header_line == "name,phone,email\n"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\n", "This is a PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "This is a PNG image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "This is a JPEG image"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "This is a gzip archive"),
        (bytes(range(256)) * 8, "This is a binary file"),
    ],
    ids=["pdf", "png", "jpeg", "gzip", "binary"],
)
def test_a_file_that_is_not_a_csv_is_told_what_it_is(data, message):
    with pytest.raises(FileRefused, match=message):
        read(data)
    with pytest.raises(FileRefused, match=message):
        preview(io.BytesIO(data))


def test_the_preview_shows_a_multi_line_cell_as_one_value():
    shown = preview(io.BytesIO(MULTI_LINE.encode()))
    names = next(c for c in shown.columns if c.header == "Name")
    assert names.samples == ["Multi\r\nLine Name", "Bo Ray", "Cy Doe"]


def test_the_preview_says_which_rows_the_import_will_refuse():
    shown = preview(
        io.BytesIO(b"name,phone\nAl,678 999 8212\nB\x00b,678 999 8213\nCy,12345\nDi,678 999 8215\n")
    )
    refused = [(r.row, r.column, r.kept) for r in shown.problems]
    assert refused == [(3, "name", False), (4, "phone", False)]
    assert "NUL" in shown.problems[0].reason
    assert shown.rows_checked == 4


def test_the_preview_checks_the_columns_as_chosen():
    data = b"name,tel\nAl,678 999 8212\nBo,\n"
    assert preview(io.BytesIO(data)).problems == []  # no phone column yet: nothing to check
    chosen = preview(io.BytesIO(data), mapping={"tel": "phone"})
    assert [(r.row, r.reason) for r in chosen.problems] == [(3, "no phone number")]


# --- Through the import, by either merge ---------------------------------------------------


# The set-based merge is PostgreSQL's: marked, so it skips only where CI allows it.
@pytest.fixture(params=[pytest.param("set-based", marks=pytest.mark.postgresql), "portable"])
def merge_path(request, monkeypatch):
    monkeypatch.setattr(ingest, "set_based", lambda: request.param == "set-based")
    return request.param


@pytest.mark.django_db
def test_a_multi_line_cell_imports_whole_by_either_merge(campaign, upload_csv, merge_path):
    upload = upload_csv(campaign, MULTI_LINE)
    assert upload.status == LeadUpload.State.COMPLETED
    contacts = Contact.objects.filter(campaign=campaign).order_by("row_number")
    assert [(c.row_number, c.name) for c in contacts] == [
        (2, "Multi\r\nLine Name"),
        (3, "Bo Ray"),
        (4, "Cy Doe"),
    ]
    assert (upload.rows_read, upload.rows_rejected, upload.contacts_created) == (3, 0, 3)
    assert not LeadRejection.objects.filter(upload=upload).exists()


@pytest.mark.django_db
def test_a_180_kb_record_imports_as_one_row_by_either_merge(campaign, upload_csv, merge_path):
    note = ("z" * 99 + "\r\n") * 1_800
    upload = upload_csv(campaign, f'name,phone,notes\nAl,678 999 8212,"{note}"\nBo,678 999 8213,\n')
    assert (upload.rows_read, upload.rows_rejected, upload.contacts_created) == (2, 0, 2)
    al = Contact.objects.get(campaign=campaign, name="Al")
    assert al.extra == {"notes": note}


@pytest.mark.django_db
def test_a_nul_in_one_cell_rejects_its_row_not_the_file(campaign, upload_csv, merge_path):
    upload = upload_csv(campaign, "name,phone\nAl,678 999 8212\nB\x00b,678 999 8213\n")
    assert upload.status == LeadUpload.State.COMPLETED
    assert [c.name for c in Contact.objects.filter(campaign=campaign)] == ["Al"]
    rejection = LeadRejection.objects.get(upload=upload)
    assert (rejection.row_number, rejection.column, rejection.row_kept) == (3, "name", False)
    assert rejection.original == "B\u2400b,678 999 8213\n"


@pytest.mark.django_db
def test_a_pdf_upload_is_refused_as_a_pdf(campaign, upload_csv):
    upload = upload_csv(campaign, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\nname,phone\n", name="leads.pdf")
    assert upload.status == LeadUpload.State.FAILED
    assert "This is a PDF, not a CSV" in upload.error
    assert "phone" not in upload.error


# --- The rejected rows, as they were ------------------------------------------------------


@pytest.mark.django_db
def test_the_rejected_rows_download_as_they_were_and_import_once_fixed(
    client, administrator, campaign, upload_csv
):
    upload = upload_csv(
        campaign,
        "Name;Phone;Notes\n"
        '"Multi\nLine";12345;"=HYPERLINK(""x"")"\n'
        "Bo;678 999 8213;\n"
        "Cy;;+SUM(A1)\n"
        "Di;678 999 8215;\n",
    )
    client.force_login(administrator)
    listed = client.get(reverse("admin:campaigns_leadupload_rejections", args=[upload.pk]))
    assert b"".join(listed.streaming_content).decode().splitlines()[0] == (
        "row,column,value,reason,row_kept"
    )
    url = reverse("admin:campaigns_leadupload_originals", args=[upload.pk])
    assert (
        url
        in client.get(
            reverse("admin:campaigns_leadupload_change", args=[upload.pk])
        ).content.decode()
    )
    response = client.get(url)
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert rows == [
        ["Name", "Phone", "Notes"],
        ["Multi\nLine", "12345", '\'=HYPERLINK("x")'],
        ["Cy", "", "'+SUM(A1)"],
    ]
    fixed = text.replace("12345", "678 999 8212").replace(";;", ";678 999 8214;")
    again = upload_csv(campaign, fixed.encode("utf-8-sig"), name="fixed.csv")
    assert (again.rows_read, again.rows_rejected) == (2, 0)
    assert Contact.objects.filter(campaign=campaign, name="Multi\nLine").exists()


@pytest.mark.django_db
def test_the_originals_download_is_for_administrators_only(client, agent, campaign, upload_csv):
    upload = upload_csv(campaign, "name,phone\nAl,12345\nBo,678 999 8213\n")
    client.force_login(agent)
    response = client.get(reverse("admin:campaigns_leadupload_originals", args=[upload.pk]))
    assert response.status_code in (302, 403)


# --- An upload whose columns were never confirmed ------------------------------------------


@pytest.mark.django_db
def test_an_upload_waiting_for_its_columns_says_so_and_can_be_cancelled(
    client, administrator, campaign, django_capture_on_commit_callbacks
):
    upload = services.lead_upload_create(
        campaign=campaign,
        file=ContentFile(b"name,phone\nAl,678 999 8212\n", name="a.csv"),
        uploaded_by=administrator,
    )
    client.force_login(administrator)
    home = client.get(reverse("admin:index")).content.decode()
    panel = home[home.index('id="dashboard-campaigns-uploads"') :]
    assert "Waiting for columns" in panel
    assert "waiting for a worker" not in panel
    cancel = reverse("admin:campaigns_leadupload_cancel", args=[upload.pk])
    assert cancel in panel
    with django_capture_on_commit_callbacks(execute=True) as queued:
        response = client.post(cancel)
    assert response.status_code == 302
    assert queued == []
    upload.refresh_from_db()
    assert upload.status == LeadUpload.State.CANCELLED
    assert services.lead_upload_import(upload_id=upload.pk).status == LeadUpload.State.CANCELLED
    assert not Contact.objects.filter(campaign=campaign).exists()
    home = client.get(reverse("admin:index")).content.decode()
    assert "No upload is running" in home[home.index('id="dashboard-campaigns-uploads"') :]
    columns = reverse("admin:campaigns_campaign_upload_columns", args=[campaign.pk, upload.pk])
    assert client.get(columns).status_code == 302


@pytest.mark.django_db
def test_a_queued_upload_cancelled_before_its_worker_is_not_imported(campaign, administrator):
    upload = services.lead_upload_submit(
        campaign=campaign,
        file=ContentFile(b"name,phone\nAl,678 999 8212\n", name="a.csv"),
        uploaded_by=administrator,
    )
    assert selectors.lead_upload_progress(upload)["heading"].startswith("Queued")
    services.lead_upload_cancel(upload=upload)
    assert services.lead_upload_import(upload_id=upload.pk).status == LeadUpload.State.CANCELLED
    assert not Contact.objects.filter(campaign=campaign).exists()


@pytest.mark.django_db
def test_an_import_that_started_is_not_cancelled_under_its_worker(campaign, administrator):
    upload = services.lead_upload_submit(
        campaign=campaign,
        file=ContentFile(b"name,phone\nAl,678 999 8212\n", name="a.csv"),
        uploaded_by=administrator,
    )
    # The worker's claim comes first: the cancellation is refused, the import completes.
    LeadUpload.objects.filter(pk=upload.pk).update(status=LeadUpload.State.RUNNING)
    with pytest.raises(ValidationError, match="already started"):
        services.lead_upload_cancel(upload=upload)
    assert services.lead_upload_import(upload_id=upload.pk).status == LeadUpload.State.COMPLETED


# --- The column preview says what the import refuses --------------------------------------


@pytest.mark.django_db
def test_the_columns_page_lists_the_rows_the_import_will_refuse_before_it_runs(
    client, administrator, campaign
):
    client.force_login(administrator)
    client.post(
        reverse("admin:campaigns_campaign_upload", args=[campaign.pk]),
        {"file": ContentFile(b"name,tel\nAl,678 999 8212\nB\x00b,678 999 8213\nCy,\n", "a.csv")},
    )
    upload = LeadUpload.objects.get(campaign=campaign)
    url = reverse("admin:campaigns_campaign_upload_columns", args=[campaign.pk, upload.pk])
    page = client.get(url).content.decode()
    assert "Choose the column that holds the phone" in page  # "tel" is no spelling of phone
    form = {"col_0": "name", "col_1": "phone", "check": "Check"}
    page = client.post(url, form).content.decode()
    upload.refresh_from_db()
    assert upload.waiting_for_columns  # checking starts nothing
    assert "2 rows will be refused" in page
    assert 'data-row="3"' in page
    assert "NUL character" in page
    assert 'data-row="4"' in page
    assert "no phone number" in page
    del form["check"]
    assert client.post(url, form).status_code == 302
    upload = services.lead_upload_import(upload_id=upload.pk)
    refused = LeadRejection.objects.filter(upload=upload, row_kept=False)
    assert sorted(refused.values_list("row_number", flat=True)) == [3, 4]


@pytest.mark.django_db
def test_a_file_that_is_no_csv_goes_from_the_columns_page_to_its_receipt(
    client, administrator, campaign, django_capture_on_commit_callbacks
):
    client.force_login(administrator)
    client.post(
        reverse("admin:campaigns_campaign_upload", args=[campaign.pk]),
        {"file": ContentFile(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "leads.pdf")},
    )
    upload = LeadUpload.objects.get(campaign=campaign)
    url = reverse("admin:campaigns_campaign_upload_columns", args=[campaign.pk, upload.pk])
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert client.get(url).status_code == 302
    assert len(queued) == 1
    upload = services.lead_upload_import(upload_id=upload.pk)
    assert "This is a PDF, not a CSV" in upload.error


@pytest.mark.django_db
def test_a_cancelled_upload_cannot_be_started_and_a_header_alone_is_refused_by_the_preview(
    campaign, administrator, django_capture_on_commit_callbacks
):
    upload = services.lead_upload_create(
        campaign=campaign,
        file=ContentFile(b"name,phone\n\n,\n", name="a.csv"),
        uploaded_by=administrator,
    )
    with pytest.raises(FileRefused, match="header but no rows"):
        preview(io.BytesIO(b"name,phone\n\n,\n"))
    services.lead_upload_cancel(upload=upload)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert services.lead_upload_preview_or_queue(upload=upload) is None
    assert queued == []
    with pytest.raises(ValidationError, match="cancelled"):
        services.lead_upload_start(upload=upload, mapping={"phone": "phone"})


def _peak_memory_reading(kind: str, rows: int) -> int:
    import tracemalloc

    body = "".join(f"P{i},404 555 {i % 10_000:04d}\n" for i in range(rows))
    if kind == "quote left open":
        data = 'name,phone,notes\nAl,678 999 8212,"oops\n' + body
    else:
        data = "name,phone,notes\nAl,678 999 8212," + "x" * 200_000 + "\n" + body
    # The encoding's scan reads a megabyte at a time (constant too); this is the reading.
    reader = LeadFileReader(io.BytesIO(data.encode()), upload_id=7, found=encoding.UTF8)
    del data, body
    tracemalloc.start()
    try:
        staged = sum(1 for _ in reader)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (staged, reader.stats.rows_rejected) == (rows, 1)
    return peak


@pytest.mark.parametrize("kind", ["quote left open", "one endless line"])
def test_memory_holds_one_record_whatever_the_file_size(monkeypatch, kind):
    monkeypatch.setattr(records_module, "MAX_RECORD_CHARS", 10_000)
    small = _peak_memory_reading(kind, 10_000)
    large = _peak_memory_reading(kind, 40_000)  # four times the file, the same memory
    assert large < small * 1.1 + 50_000


@pytest.mark.django_db
def test_the_columns_page_counts_the_problems_it_does_not_list(client, administrator, campaign):
    rows = "".join(f"P{i},12345\n" for i in range(25))
    upload = services.lead_upload_create(
        campaign=campaign,
        file=ContentFile(f"name,phone\n{rows}".encode(), name="a.csv"),
        uploaded_by=administrator,
    )
    client.force_login(administrator)
    url = reverse("admin:campaigns_campaign_upload_columns", args=[campaign.pk, upload.pk])
    page = client.get(url).content.decode()
    assert "25 rows will be refused" in page
    assert page.count("data-row=") == 20
    assert "… and 5 more" in page
