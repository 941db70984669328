"""A file read in parts by worker processes is read exactly as the whole file is.

The reading itself is checked without a database: every part read in this process as a
worker reads it, renumbered as the importer renumbers it, against the whole file read by
one reader, for files built to break the cut (a quoted line break across it, a quote left
open before it, records of several lines before it, a NUL beside it, other line endings
and encodings). Then the import end to end on PostgreSQL, where the parts are read by
forked workers: the same stored result as one process, a worker killed mid-file, a bad
encoding, two uploads racing into one campaign. The embedded default (SQLite) reads in
one process, and a test holds it to that.
"""

import codecs
import io
import os
import signal
import threading

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.db import connection

import campaigns.ingest.parts as parts
from campaigns import ingest, services
from campaigns.ingest import encoding, staging
from campaigns.ingest.reader import LeadFileReader, read_header
from campaigns.models import Contact, LeadRejection, LeadUpload
from tests.campaigns.factories import CampaignFactory
from tests.campaigns.test_ingest_parity import FIRST_FILE, SECOND_FILE, stored

HEADER = "First Name,Last Name,Email,Company,Phone,Mobile,Notes\r\n"


def body(rows: int, start: int = 0) -> str:
    return "".join(
        f"P{i},L{i},p{i}@example.com,Co {i % 7},404 555 {i % 10_000:04d},"
        f"(678) 999-{(i * 7) % 10_000:04d},note {i}\r\n"
        for i in range(start, start + rows)
    )


def whole(data: bytes) -> tuple[list, list, LeadFileReader]:
    reader = LeadFileReader(_file(data), upload_id=7)
    rows = list(reader)
    return rows, reader.stats.rejections, reader


_files: list = []


def _file(data: bytes):
    import tempfile

    handle = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the fixture
    handle.write(data)
    handle.seek(0)
    _files.append(handle)
    return handle


def in_parts(data: bytes, count: int = 2) -> tuple[list, list, list[parts.Part]] | None:
    """Read as the importer does with ``count`` workers, in this process; None where the
    importer would read the whole file instead."""
    binary = _file(data)
    found = encoding.detect(binary)
    plan = parts.plan(binary, found, read_header(binary, found), count)
    assert plan is not None, "the test file was not cut"
    assert len(plan) == count
    rows, rejections, last_rows = [], [], []
    for n, part in enumerate(plan):
        reader, _ = parts.part_reader(binary.fileno(), part, 7, {})
        rows += list(reader)
        rejections += reader.stats.rejections
        last_rows.append(reader.last_row_read)
        if reader.open_at_end and n < len(plan) - 1:
            return None
    for above, up_to, by in parts.renumbering(plan, last_rows):

        def moved(row: tuple, above=above, up_to=up_to, by=by) -> tuple:
            inside = row[1] > above and (up_to is None or row[1] <= up_to)
            return (row[0], row[1] - by, *row[2:]) if inside else row

        rows = [moved(row) for row in rows]
        rejections = [moved(r) for r in rejections]
    return rows, rejections, plan


@pytest.fixture(autouse=True)
def cut_small_files(monkeypatch):
    monkeypatch.setattr(parts, "MIN_BYTES", 0)
    yield
    while _files:
        _files.pop().close()


def same_in_parts(data: bytes, count: int = 2) -> list[parts.Part]:
    rows, rejections, _ = whole(data)
    result = in_parts(data, count)
    assert result is not None
    assert (result[0], result[1]) == (rows, rejections)
    return result[2]


@pytest.mark.parametrize("count", [2, 3, 4])
def test_plain_rows_read_in_parts_are_the_rows_of_the_whole_file(count):
    plan = same_in_parts((HEADER + body(500)).encode(), count)
    assert plan[1].after is not None
    assert plan[1].after.row > 1


def test_records_of_several_lines_before_a_cut_renumber_the_rows_after_it():
    lines = body(200).splitlines(keepends=True)
    lines[10] = '"Multi\r\nLine\r\nName",X,m@example.com,Co,404 555 0001,,"a\nb"\r\n'
    data = (HEADER + "".join(lines) + body(300, 200)).encode()
    same_in_parts(data, 2)
    rows, _, _ = whole(data)
    assert rows[-1][1] == 1 + 500  # the header's row, then one row a record


def test_a_quoted_line_break_across_the_cut_reads_the_whole_file():
    data = (HEADER + body(300)).encode()
    middle = data.index(b"\r\n", len(data) // 2) - 3
    # A record whose quoted cell holds the line break the cut would fall after.
    record = b'Q,R,q@example.com,Co,404 555 0002,,"before\r\nafter"\r\n'
    data = data[:middle] + b"\r\n" + record + data[middle + 2 :]
    assert in_parts(data, 2) is None or in_parts(data, 2)[:2] == whole(data)[:2]


@pytest.mark.parametrize("where", [0.2, 0.45, 0.55, 0.9])
def test_a_quote_left_open_anywhere_reads_as_the_whole_file_does(where):
    lines = body(400).splitlines(keepends=True)
    lines[int(len(lines) * where)] = 'Oops,"open,x@example.com,Co,404 555 0003,,\r\n'
    data = (HEADER + "".join(lines)).encode()
    rows, rejections, _ = whole(data)
    result = in_parts(data, 2)
    if result is not None:  # else the importer reads the whole file
        assert (result[0], result[1]) == (rows, rejections)
    assert any("unclosed quote" in r[4] for r in rejections)


def test_a_nul_beside_the_cut_rejects_its_row_only():
    lines = body(400).splitlines(keepends=True)
    for at in (199, 200, 201):
        lines[at] = f"N{at},L,n{at}@example.com,Co,404 555 \x000{at},,\r\n"
    data = (HEADER + "".join(lines)).encode()
    same_in_parts(data, 2)
    _, rejections, _ = whole(data)
    assert [r[1] for r in rejections] == [201, 202, 203]


@pytest.mark.parametrize("newline", ["\n", "\r", "\r\n"], ids=["lf", "cr", "crlf"])
def test_every_line_ending_is_read_in_parts_as_whole(newline):
    text = (HEADER + body(300)).replace("\r\n", newline)
    if newline == "\r":  # no line feed to cut after: one process
        binary = _file(text.encode())
        found = encoding.detect(binary)
        assert parts.plan(binary, found, read_header(binary, found), 2) is None
        return
    same_in_parts(("\n\n" + text).encode(), 2)  # blank lines above the header count


def test_a_bom_and_windows_1252_files_are_read_in_parts_as_whole():
    accents = "Zoë,Ü,z@example.com,Ç,404 555 0009,,é\r\n"
    same_in_parts(codecs.BOM_UTF8 + (HEADER + body(300) + accents).encode())
    cp1252 = (HEADER + body(300) + accents).encode("cp1252")
    binary = _file(cp1252)
    assert encoding.detect(binary).label == "Windows-1252"
    same_in_parts(cp1252)


def test_utf16_is_never_cut():
    data = codecs.BOM_UTF16_LE + (HEADER + body(300)).encode("utf-16-le")
    binary = _file(data)
    found = encoding.detect(binary)
    assert parts.plan(binary, found, read_header(binary, found), 2) is None


def test_rows_as_copy_text_escape_what_copy_reads_specially():
    row = (7, 2, "a\\b", "t\tab", "new\nline", "cr\rx", "", "", "+1", "", "", "", "{}", "k")
    assert parts.copy_text([row]) == (
        b"7\t2\ta\\\\b\tt\\tab\tnew\\nline\tcr\\rx\t\t\t+1\t\t\t\t{}\tk\n"
    )


# --- End to end on PostgreSQL, with forked workers ------------------------------------------


def _import(campaign, data: bytes, name: str = "leads.csv") -> LeadUpload:
    created = services.lead_upload_create(
        campaign=campaign, file=ContentFile(data, name=name), uploaded_by=None
    )
    return services.lead_upload_import(upload_id=created.pk)


def _no_children_left() -> bool:
    try:
        return os.waitpid(-1, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


@pytest.mark.postgresql
@pytest.mark.django_db
@pytest.mark.parametrize("count", [2, 3])
def test_the_differential_corpus_stores_the_same_read_in_parts(monkeypatch, count):
    """The parity corpus (every merge rule, bad cells, a NUL, a quoted line break)
    imported with its files cut into parts stores what one process stores."""

    start = parts.start
    started = []
    monkeypatch.setattr(parts, "start", lambda *a: started.append(1) or start(*a))
    monkeypatch.setattr(parts, "usable_cores", lambda: count)

    def run(cut: bool) -> dict:
        monkeypatch.setattr(parts, "MIN_BYTES", 0 if cut else 1 << 62)
        started.clear()
        campaign = CampaignFactory()
        _import(campaign, FIRST_FILE.encode(), "first.csv")
        _import(campaign, SECOND_FILE.encode(), "second.csv")
        assert bool(started) == cut
        return stored(campaign)

    assert run(cut=True) == run(cut=False)
    assert _no_children_left()


@pytest.mark.postgresql
@pytest.mark.django_db
def test_a_bigger_messy_file_stores_the_same_read_in_parts(monkeypatch):
    lines = body(3_000).splitlines(keepends=True)
    lines[100] = '"Multi\r\nLine",X,m@example.com,Co,404 555 0001,,"a\nb"\r\n'
    lines[1_600] = "Bad,Row,b@example.com,Co,12345,not a number,\r\n"
    lines[2_200] = "Nul,Row,nul@example.com,Co,404 555 \x000161,,\r\n"
    data = (HEADER + "".join(lines) + body(500)).encode()  # 500 emails again: merges

    def run(cut: bool) -> dict:
        monkeypatch.setattr(parts, "MIN_BYTES", 0 if cut else 1 << 62)
        campaign = CampaignFactory()
        upload = _import(campaign, data)
        assert upload.status == LeadUpload.State.COMPLETED
        return stored(campaign)

    cut, one = run(cut=True), run(cut=False)
    assert cut == one
    assert cut["uploads"][0]["rows_read"] == 3_500
    assert {r["row_number"] for r in cut["rejections"]} == {1_602, 2_202}


@pytest.mark.postgresql
@pytest.mark.django_db
def test_a_worker_killed_mid_file_fails_the_import_and_leaves_nothing(monkeypatch, campaign):
    copy_text = parts.copy_text
    _kill_the_third_batch(monkeypatch)
    created = services.lead_upload_create(
        campaign=campaign, file=ContentFile((HEADER + body(2_000)).encode()), uploaded_by=None
    )
    with pytest.raises(parts.WorkerDied):
        services.lead_upload_import(upload_id=created.pk)
    upload = LeadUpload.objects.get(pk=created.pk)
    assert upload.status == LeadUpload.State.FAILED
    assert "nothing was imported" in upload.error
    assert (upload.rows_read, upload.rows_rejected) == (0, 0)  # the receipt counts nothing
    assert not Contact.objects.filter(campaign=campaign).exists()
    assert not LeadRejection.objects.filter(upload=upload).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [f"campaigns_leadstage_{upload.pk}"])
        assert cursor.fetchone()[0] is None  # the staged rows are gone
    assert _no_children_left()  # the other worker was stopped and reaped
    # Imported again (a redelivered task), it completes.
    monkeypatch.setattr(parts, "copy_text", copy_text)
    LeadUpload.objects.filter(pk=upload.pk).update(status=LeadUpload.State.QUEUED)
    again = services.lead_upload_import(upload_id=upload.pk)
    assert again.status == LeadUpload.State.COMPLETED
    assert (again.rows_read, again.contacts_created) == (2_000, 2_000)


@pytest.mark.postgresql
@pytest.mark.django_db
def test_a_worker_that_fails_fails_the_import_with_nothing_imported(monkeypatch, campaign):
    def broken(*args):
        raise RuntimeError("a bug in reading")

    monkeypatch.setattr(parts, "copy_text", broken)
    created = services.lead_upload_create(
        campaign=campaign, file=ContentFile((HEADER + body(300)).encode()), uploaded_by=None
    )
    with pytest.raises(parts.WorkerFailed, match="a bug in reading"):
        services.lead_upload_import(upload_id=created.pk)
    upload = LeadUpload.objects.get(pk=created.pk)
    assert upload.status == LeadUpload.State.FAILED
    assert not Contact.objects.filter(campaign=campaign).exists()
    assert _no_children_left()


@pytest.mark.postgresql
@pytest.mark.django_db
def test_bad_bytes_late_in_a_cut_file_are_found_before_any_row_is_staged(campaign):
    good = (HEADER + body(2_000)).encode()
    neither = good + b"X,Y,x@example.com,Co,404 555 0001,,\x81\x8d\x90\r\n"
    upload = _import(campaign, neither)
    assert upload.status == LeadUpload.State.FAILED
    assert "is not UTF-8 text (line 2002" in upload.error
    assert (upload.rows_read, upload.rows_rejected) == (0, 0)
    windows = good + "Zoë,Y,z@example.com,Co,404 555 0001,,\r\n".encode("cp1252")
    upload = _import(CampaignFactory(), windows)
    assert upload.status == LeadUpload.State.COMPLETED
    assert (upload.encoding, upload.rows_read) == ("Windows-1252", 2_001)
    assert Contact.objects.get(upload=upload, email="z@example.com").first_name == "Zoë"


@pytest.mark.postgresql
@pytest.mark.django_db
def test_a_header_with_no_rows_is_refused_when_cut_too(campaign):
    upload = _import(campaign, (HEADER + "\r\n" * 5_000).encode())
    assert upload.status == LeadUpload.State.FAILED
    assert "header but no rows" in upload.error


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_uploads_racing_into_one_campaign_both_count_right():
    """Each reads in parts at once; their merges take turns, and the second merges into
    the first's contacts: the same contacts and counts as one after the other."""
    campaign = CampaignFactory()
    first = (HEADER + body(3_000)).encode()
    second = (HEADER + body(3_000, 1_500)).encode()  # half of it is the first's people
    uploads = [
        services.lead_upload_create(campaign=campaign, file=ContentFile(d), uploaded_by=None)
        for d in (first, second)
    ]
    results: dict[int, str] = {}

    def run(upload_id: int) -> None:
        try:
            results[upload_id] = services.lead_upload_import(upload_id=upload_id).status
        except Exception as exc:
            results[upload_id] = repr(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(u.pk,)) for u in uploads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {u.pk: LeadUpload.State.COMPLETED for u in uploads}
    done = [LeadUpload.objects.get(pk=u.pk) for u in uploads]
    assert sorted(u.contacts_created for u in done) == [1_500, 3_000]
    assert sorted(u.merged_by_email for u in done) == [0, 1_500]
    assert Contact.objects.filter(campaign=campaign).count() == 4_500
    assert _no_children_left()


@pytest.mark.django_db
def test_the_portable_path_reads_in_one_process(monkeypatch, campaign):
    """The embedded default (SQLite) stages with the ORM, reading in this process."""

    def no_fork(*args):
        raise AssertionError("forked")

    monkeypatch.setattr(parts, "start", no_fork)
    monkeypatch.setattr(ingest, "set_based", lambda: False)
    upload = _import(campaign, (HEADER + body(300)).encode())
    assert (upload.status, upload.rows_read) == (LeadUpload.State.COMPLETED, 300)


def test_the_cut_is_after_a_line_feed_past_the_header():
    data = (HEADER + body(100)).encode()
    binary = _file(data)
    found = encoding.detect(binary)
    plan = parts.plan(binary, found, read_header(binary, found), 2)
    assert plan is not None
    assert data[plan[1].start - 1 : plan[1].start] == b"\n"
    assert plan[1].start > len(HEADER)


def _kill_the_third_batch(monkeypatch) -> None:
    monkeypatch.setattr(parts, "MESSAGE_ROWS", 50)
    calls = []
    copy_text = parts.copy_text

    def die_on_the_third_batch(rows):
        calls.append(1)  # counted in each worker's own memory
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        return copy_text(rows)

    monkeypatch.setattr(parts, "copy_text", die_on_the_third_batch)


@pytest.mark.postgresql
@pytest.mark.django_db
def test_import_leads_says_plainly_when_a_worker_dies(monkeypatch, campaign, tmp_path):
    _kill_the_third_batch(monkeypatch)
    path = tmp_path / "leads.csv"
    path.write_bytes((HEADER + body(2_000)).encode())
    out = io.StringIO()
    with pytest.raises(CommandError, match="failed unexpectedly; nothing was imported"):
        call_command("import_leads", str(campaign.pk), str(path), stdout=out)
    assert "Refused: The import failed unexpectedly" in out.getvalue()
    assert not Contact.objects.filter(campaign=campaign).exists()
    assert _no_children_left()


@pytest.mark.postgresql
@pytest.mark.django_db
def test_an_upload_cannot_be_cancelled_while_its_workers_read(monkeypatch, campaign):
    """Cancelling is for an import not started: once its workers read, it is refused,
    and the import completes with every row (no receipt for half a file)."""
    monkeypatch.setattr(parts, "MESSAGE_ROWS", 100)
    created = services.lead_upload_create(
        campaign=campaign, file=ContentFile((HEADER + body(2_000)).encode()), uploaded_by=None
    )
    refused = []

    def cancel(current: LeadUpload) -> None:
        try:
            services.lead_upload_cancel(upload=current)
        except ValidationError as exc:
            refused.append(exc.messages[0])

    upload = services.lead_upload_import(upload_id=created.pk, progress=cancel)
    assert refused
    assert "already started" in refused[0]
    assert upload.status == LeadUpload.State.COMPLETED
    assert (upload.rows_read, upload.contacts_created) == (2_000, 2_000)


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_worker_of_the_broker_imports_in_parts(monkeypatch):
    """The task path: a Celery worker's process forks the readers (and reaps them)."""
    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_postrun

    from campaigns import tasks
    from crm.celery import app

    started = []
    start = parts.start
    monkeypatch.setattr(parts, "start", lambda *a: started.append(1) or start(*a))
    app.conf.task_always_eager = False
    imported = threading.Event()

    def record(sender: object = None, **_: object) -> None:
        if getattr(sender, "name", "") == tasks.lead_upload_import.name:
            imported.set()

    campaign = CampaignFactory()
    task_postrun.connect(record, weak=False)
    try:
        with start_worker(app, perform_ping_check=False, pool="solo", concurrency=1):
            upload = services.lead_upload_submit(
                campaign=campaign,
                file=ContentFile((HEADER + body(2_000)).encode(), name="leads.csv"),
                uploaded_by=None,
            )
            assert imported.wait(timeout=60), "the worker never ran the import"
    finally:
        task_postrun.disconnect(record)
    upload.refresh_from_db()
    assert upload.status == LeadUpload.State.COMPLETED, upload.error
    assert started
    assert Contact.objects.filter(campaign=campaign).count() == 2_000
    assert _no_children_left()


@pytest.mark.postgresql
@pytest.mark.django_db
def test_a_cut_inside_a_quoted_cell_reads_the_file_whole_with_the_same_result(monkeypatch):
    """The cut falls on the line break inside a quoted cell: the first part ends inside
    the open quote, the parts are dropped and the file is read in one process."""
    quoted = 'Q,R,q@example.com,Co,404 555 0002,,"' + "a" * 4_000 + '\r\nb"\r\n'
    data = (HEADER + body(40) + quoted + body(40, 40)).encode()
    middle = len(data) // 2
    assert data.index(b"a" * 4_000) < middle < data.index(b"\r\nb") + 1
    outcomes = []
    in_parts = staging._stage_in_parts

    def spy(*args):
        outcomes.append(in_parts(*args))
        return outcomes[-1]

    monkeypatch.setattr(staging, "_stage_in_parts", spy)
    started = []
    start = parts.start
    monkeypatch.setattr(parts, "start", lambda *a: started.append(1) or start(*a))

    def run(cut: bool) -> dict:
        monkeypatch.setattr(parts, "MIN_BYTES", 0 if cut else 1 << 62)
        campaign = CampaignFactory()
        upload = _import(campaign, data)
        assert upload.status == LeadUpload.State.COMPLETED
        return stored(campaign)

    assert run(cut=True) == run(cut=False)
    assert started  # the file was cut and read in parts,
    assert outcomes[0] is None  # which were thrown away: it was read whole
    contact = Contact.objects.filter(email="q@example.com").first()
    assert contact is not None
    assert contact.extra == {"Notes": "a" * 4_000 + "\r\nb"}
