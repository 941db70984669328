"""Importing a file of numbers onto the global do-not-call list (docs/dialing.md).

The file is read as a stream, a batch at a time, so a million lines need neither a
million objects nor a million statements: on PostgreSQL each batch is COPYed into a
temporary table and inserted with ``ON CONFLICT DO NOTHING``; elsewhere it is one
``executemany``. A line that is not a number is reported on the receipt, never fatal.
"""

import contextlib
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from campaigns.models import (
    Campaign,
    CampaignPhone,
    Disposition,
    DoNotCallImport,
    DoNotCallNumber,
    Scope,
    Status,
)
from crm.db import is_postgresql
from crm.phones import InvalidPhoneNumber, normalize_stripped

BATCH = 20_000
KEEP_REJECTIONS = 100  # the receipt lists this many bad lines; the rest are only counted
PROGRESS_EVERY = 100_000  # lines between progress writes
MAX_LINE = 64


@dataclass
class Batch:
    numbers: list[str] = field(default_factory=list)


@dataclass
class ReadState:
    lines: int = 0
    rejected: int = 0
    rejections: list[list[object]] = field(default_factory=list)


def parse_line(line: str, region: str, *, first: bool = False) -> str | None:
    """The number on one line in E.164, ``None`` for a blank line or (``first``, the
    file's first line with text) a header; raises ``InvalidPhoneNumber``. A line is one
    number, or the national registry's ``area code,number``."""
    text = line.strip().strip("\ufeff").strip()
    if not text:
        return None
    if len(text) > MAX_LINE:
        raise InvalidPhoneNumber(text[:MAX_LINE] + "…", "too long")
    if "\x00" in text:
        raise InvalidPhoneNumber(text.replace("\x00", ""), "contains a NUL character")
    if "," in text:
        parts = [p.strip().strip('"') for p in text.split(",")]
        if len(parts) != 2:
            raise InvalidPhoneNumber(text, "expected one number, or area code,number")
        area, rest = parts
        if first and not any(c.isdigit() for c in text):
            return None  # the registry file's header
        if not (area.isdigit() and len(area) == 3 and rest.isdigit() and len(rest) == 7):
            raise InvalidPhoneNumber(text, "area code,number wants 3 and 7 digits")
        text = area + rest
    elif first and not any(c.isdigit() for c in text):
        return None  # a header such as "phone"
    return normalize_stripped(text, region)


def read_numbers(binary: IO[bytes], state: ReadState) -> Iterator[list[str]]:
    """Batches of E.164 numbers from the file, counting and keeping its bad lines."""
    region = settings.PHONENUMBER_DEFAULT_REGION
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="replace", newline=None)
    batch: list[str] = []
    first = True
    try:
        for line in text:
            state.lines += 1
            try:
                number = parse_line(line, region, first=first)
                first = first and not line.strip()
            except InvalidPhoneNumber as exc:
                first = False
                state.rejected += 1
                if len(state.rejections) < KEEP_REJECTIONS:
                    state.rejections.append([state.lines, exc.raw[:MAX_LINE], exc.reason])
                continue
            if number:
                batch.append(number)
            if len(batch) >= BATCH:
                yield batch
                batch = []
        if batch:
            yield batch
    finally:
        text.detach()  # the caller owns (and closes) the binary file


@dataclass
class Added:
    added: int = 0
    already: int = 0
    leads: int = 0


def _disqualify_leads(numbers: list[str], reason: str, by_id: int | None) -> int:
    """Every campaign's row for a newly listed number is disqualified everywhere, and
    logged as one disposition per number so an Administrator can undo it."""
    if not numbers:
        return 0
    now = timezone.now()
    if is_postgresql():
        # One array parameter, not 20,000; by campaign, the leading column of the
        # (campaign, number) index, as campaigns/models.py keeps it.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT number FROM campaigns_campaignphone "
                "WHERE campaign_id IN (SELECT id FROM campaigns_campaign) AND number = ANY(%s)",
                [numbers],
            )
            hit = [row[0] for row in cursor.fetchall()]
    else:
        hit = list(
            CampaignPhone.objects.filter(
                campaign_id__in=Campaign.objects.values("id"), number__in=numbers
            )
            .values_list("number", flat=True)
            .distinct()
        )
    if not hit:
        return 0
    updated = CampaignPhone.objects.filter(
        campaign_id__in=Campaign.objects.values("id"), number__in=hit
    ).update(
        status=Status.DISQUALIFIED,
        status_scope=Scope.EVERYWHERE,
        status_reason=reason,
        status_changed_at=now,
        status_changed_by_id=by_id,
    )
    Disposition.objects.bulk_create(
        Disposition(
            outcome=Disposition.Outcome.DISQUALIFIED,
            target=Disposition.Target.PHONE,
            scope=Scope.EVERYWHERE,
            number=number,
            note=reason,
            by_id=by_id,
        )
        for number in hit
    )
    return updated


def _insert_postgresql(cursor: object, numbers: list[str], reason: str, by_id: int | None) -> Added:
    raw = cursor.cursor  # type: ignore[attr-defined]
    raw.execute("TRUNCATE dnc_staging")
    with raw.copy("COPY dnc_staging (number) FROM STDIN") as copy:
        # One block of text: E.164 numbers need no escaping, and a row at a time was
        # a Python call per number.
        copy.write("\n".join(numbers) + "\n")
    raw.execute(
        "INSERT INTO campaigns_donotcallnumber (number, reason, added_by_id, created_at) "
        "SELECT DISTINCT number, %s, %s::integer, now() FROM dnc_staging "
        "ON CONFLICT (number) DO NOTHING RETURNING number",
        [reason, by_id],
    )
    new = [row[0] for row in raw.fetchall()]
    return Added(
        added=len(new),
        already=len(set(numbers)) - len(new),
        leads=_disqualify_leads(new, reason, by_id),
    )


def _insert_portable(cursor: object, numbers: list[str], reason: str, by_id: int | None) -> Added:
    unique = list(dict.fromkeys(numbers))
    listed: set[str] = set()
    for i in range(0, len(unique), 500):  # SQLite's bound-variable limit
        chunk = unique[i : i + 500]
        listed.update(
            DoNotCallNumber.objects.filter(number__in=chunk).values_list("number", flat=True)
        )
    new = [n for n in unique if n not in listed]
    now = timezone.now()
    cursor.executemany(  # type: ignore[attr-defined]
        "INSERT INTO campaigns_donotcallnumber (number, reason, added_by_id, created_at) "
        "VALUES (%s, %s, %s, %s) ON CONFLICT (number) DO NOTHING",
        [(n, reason, by_id, now) for n in new],
    )
    return Added(
        added=len(new), already=len(unique) - len(new), leads=_disqualify_leads(new, reason, by_id)
    )


def numbers_import(
    *, binary: IO[bytes], reason: str, by_id: int | None, progress: object = None
) -> tuple[Added, ReadState]:
    """Put every number in the file on the list; answers what was added and the bad lines.
    ``progress(state, bytes)`` is called every ``PROGRESS_EVERY`` lines."""
    reason = (reason or "").replace("\x00", "").strip()[:255] or "Imported do-not-call list"
    state = ReadState()
    total = Added()
    postgresql = is_postgresql()
    next_progress = PROGRESS_EVERY
    with connection.cursor() as cursor:
        if postgresql:
            cursor.execute(
                "CREATE TEMP TABLE IF NOT EXISTS dnc_staging (number varchar(16) NOT NULL)"
            )
        insert = _insert_postgresql if postgresql else _insert_portable
        for batch in read_numbers(binary, state):
            with transaction.atomic():
                added = insert(cursor, batch, reason, by_id)
            total.added += added.added
            total.already += added.already
            total.leads += added.leads
            if progress is not None and state.lines >= next_progress:
                progress(state, total, binary.tell())  # type: ignore[operator]
                next_progress = state.lines + PROGRESS_EVERY
        if postgresql:
            cursor.execute("DROP TABLE IF EXISTS dnc_staging")
    return total, state


def import_run(*, import_id: int) -> DoNotCallImport:
    """Run one queued import (a worker's task): progress on its row while it reads, then
    the receipt. A file that cannot be read fails the import with the reason."""
    claimed = DoNotCallImport.objects.filter(
        # RUNNING too: a worker that died mid-file left it so; importing again is harmless.
        pk=import_id,
        status__in=[DoNotCallImport.State.QUEUED, DoNotCallImport.State.RUNNING],
    ).update(status=DoNotCallImport.State.RUNNING, started_at=timezone.now())
    job = DoNotCallImport.objects.get(pk=import_id)
    if not claimed:
        return job

    def progress(state: ReadState, total: Added, offset: int) -> None:
        DoNotCallImport.objects.filter(pk=import_id).update(
            lines_read=state.lines,
            bytes_read=offset,
            numbers_added=total.added,
            numbers_already_listed=total.already,
            lines_rejected=state.rejected,
        )

    try:
        with job.file.storage.open(job.file.name, "rb") as handle:
            total, state = numbers_import(
                binary=handle, reason=job.reason, by_id=job.uploaded_by_id, progress=progress
            )
    except OSError as exc:
        job.status, job.error = DoNotCallImport.State.FAILED, f"The file could not be read: {exc}"
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "error", "finished_at"])
        return job
    job.status = DoNotCallImport.State.DONE
    job.lines_read, job.lines_rejected, job.rejections = (
        state.lines,
        state.rejected,
        state.rejections,
    )
    job.numbers_added, job.numbers_already_listed = total.added, total.already
    job.leads_disqualified, job.bytes_read, job.finished_at = total.leads, job.size, timezone.now()
    job.save()
    return job


def import_queue(
    *, upload: IO[bytes], name: str, size: int, reason: str, by_id: int | None
) -> DoNotCallImport:
    """Store an uploaded file and queue its import for a worker (after commit, so the
    worker finds the row)."""
    from django.core.files import File

    from campaigns import tasks

    with transaction.atomic():
        job = DoNotCallImport(
            original_name=(name or "")[:255],
            size=size,
            reason=(reason or "").replace("\x00", "").strip()[:255],
            uploaded_by_id=by_id,
        )
        job.file.save((name or "numbers.txt")[-100:], File(upload), save=False)
        job.save()
        job_id = job.pk
        transaction.on_commit(lambda: tasks.do_not_call_import.delay(job_id))
    return job


def file_numbers_listed(binary: IO[bytes], *, delimiter: str, columns: list[int]) -> int:
    """How many distinct numbers in a lead file's number ``columns`` are on the list: the
    upload preview says so before the import (which skips them). Streams the file; no
    read at all while the list is empty."""
    from campaigns.ingest import encoding

    if not columns or not DoNotCallNumber.objects.exists():
        return 0
    region = settings.PHONENUMBER_DEFAULT_REGION
    binary.seek(0)
    found = encoding.detect(binary)
    text = io.TextIOWrapper(binary, encoding=found.codec, errors="replace", newline="")
    listed: set[str] = set()
    try:
        reader = csv.reader(text, delimiter=delimiter)
        next(reader, None)  # the header
        batch: set[str] = set()
        for row in reader:
            for i in columns:
                raw = row[i].strip() if i < len(row) else ""
                if raw:
                    with contextlib.suppress(InvalidPhoneNumber):
                        batch.add(normalize_stripped(raw, region))
            if len(batch) >= 5_000:
                listed.update(_listed(batch))
                batch = set()
        listed.update(_listed(batch))
    except csv.Error:
        pass  # the import reports the broken line; the count so far stands
    finally:
        text.detach()
        binary.seek(0)
    return len(listed)


def _listed(numbers: set[str]) -> list[str]:
    if not numbers:
        return []
    chunk = list(numbers)
    out: list[str] = []
    for i in range(0, len(chunk), 500):
        out += DoNotCallNumber.objects.filter(number__in=chunk[i : i + 500]).values_list(
            "number", flat=True
        )
    return out


def listed_numbers(numbers: list[str]) -> set[str]:
    """Which of these E.164 numbers are on the list (crm's number flags, the workspace)."""
    return set(_listed(set(numbers)))
