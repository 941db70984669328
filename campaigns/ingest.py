"""Reading a leads file and merging it into a campaign.

Two phases, so that a failure never leaves a half-imported campaign:

1. **Stage**: stream the file (constant memory), check its encoding and shape, normalise
   both number columns with :mod:`crm.phones` and write valid rows to the staging table
   (COPY on PostgreSQL) in chunks, each committed with the upload's progress so the
   admin's progress bar moves. Bad cells and rows go to the receipt.
2. **Merge**: one transaction of set-based SQL turns the staged rows into accounts,
   contacts (one per email) and Campaign Phone Counts, and writes the receipt. Natural
   keys and ``ON CONFLICT`` make a re-run add nothing twice.

SQLite (the embedded development setup) runs the same two phases with the ORM.
"""

import codecs
import csv
import hashlib
import io
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from itertools import islice
from json.encoder import encode_basestring_ascii as _json_str
from operator import itemgetter
from typing import IO, Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from psycopg import postgres, pq
from psycopg.adapt import Dumper

from campaigns.models import (
    Account,
    CampaignPhone,
    Contact,
    DoNotCallNumber,
    LeadRejection,
    LeadRow,
    LeadUpload,
    Scope,
    Status,
)
from crm.db import is_postgresql
from crm.phones import InvalidPhoneNumber, normalize_stripped

logger = logging.getLogger(__name__)

# A CSV line longer than this is not a lead: it is a binary file or a broken export, and
# refusing it keeps one "line" from filling memory.
MAX_LINE_CHARS = 64 * 1024
CHUNK_ROWS = 50_000
KNOWN_COLUMNS = ("first_name", "last_name", "name", "email", "company", "title", "phone", "mobile")
NUMBER_COLUMNS = ("phone", "mobile")
MAX_TEXT = 255

STAGE_COLUMNS = (
    "upload_id",
    "row_number",
    "first_name",
    "last_name",
    "name",
    "email",
    "company",
    "title",
    "phone",
    "mobile",
    "phone_raw",
    "mobile_raw",
    "extra",
    "dedup_key",
)
# For binary COPY into the staging table: as in _SQL_CREATE_STAGE, in STAGE_COLUMNS order.
STAGE_TYPES = (
    "int8",
    "int4",
    *("text",) * 6,
    "varchar",
    "varchar",
    "text",
    "text",
    "jsonb",
    "text",
)
REJECTION_COLUMNS = ("upload_id", "row_number", "column", "value", "reason", "row_kept")


class FileRefused(Exception):
    """The file as a whole cannot be imported; the message tells the uploader what to do."""


@dataclass
class ReadStats:
    rows_read: int = 0
    rows_rejected: int = 0
    bytes_read: int = 0
    rejections: list[tuple[Any, ...]] = field(default_factory=list)


# Spellings spreadsheets commonly use for the known columns.
HEADER_ALIASES = {
    "e_mail": "email",
    "email_address": "email",
    "firstname": "first_name",
    "lastname": "last_name",
    "full_name": "name",
    "company_name": "company",
    "phone_number": "phone",
    "mobile_phone": "mobile",
    "mobile_number": "mobile",
    "cell": "mobile",
}


def _header_key(cell: str) -> str:
    key = "_".join(cell.strip().lower().replace("-", " ").split())
    return HEADER_ALIASES.get(key, key)


def dedup_key(*, email: str, name: str, company: str, phone: str, mobile: str) -> str:
    """Contacts are one per email (any case); a row without email is its own contact,
    unless an identical row (name, company, numbers) is already there."""
    if email:
        return "e:" + email.lower()
    digest = hashlib.blake2b(
        "\x1f".join((name.lower(), company.lower(), phone, mobile)).encode(), digest_size=16
    )
    return "r:" + digest.hexdigest()


def _extra_json(labels: list[str], values: tuple[str, ...]) -> str:
    """json.dumps() of the non-empty extra cells by label, the same text at a quarter of
    the cost (json.dumps sets up an encoder per call)."""
    extra = {label: value for label, value in zip(labels, values, strict=False) if value}
    return "{" + ", ".join(f"{_json_str(k)}: {_json_str(v)}" for k, v in extra.items()) + "}"


class LeadFileReader:
    """Iterates the valid rows of a leads file as staging tuples; collects rejections."""

    def __init__(self, binary: IO[bytes], *, upload_id: int) -> None:
        self.binary = binary
        self.upload_id = upload_id
        self.stats = ReadStats()
        self._physical_line = 0

    def _lines(self, text: IO[str]) -> Iterator[str]:
        readline = text.readline
        while True:
            try:
                line = readline(MAX_LINE_CHARS + 1)
            except UnicodeDecodeError:
                raise FileRefused(
                    f"The file is not UTF-8 text (near line {self._physical_line + 1}). "
                    "Save it as “CSV UTF-8” and upload it again."
                ) from None
            if not line:
                return
            self._physical_line += 1
            if len(line) > MAX_LINE_CHARS:
                raise FileRefused(
                    f"Line {self._physical_line} is longer than {MAX_LINE_CHARS:,} characters: "
                    "this does not look like a leads CSV."
                )
            if "\x00" in line:  # text never holds one, and PostgreSQL text cannot
                raise FileRefused(
                    f"Line {self._physical_line} contains a NUL character: this is not a "
                    "text CSV. Save it as “CSV UTF-8” and upload it again."
                )
            yield line

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        head = self.binary.read(4)
        self.binary.seek(0)
        if head.startswith(b"PK\x03\x04"):
            raise FileRefused("This is an Excel workbook, not a CSV: save it as “CSV UTF-8”.")
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise FileRefused("The file is UTF-16 text: save it as “CSV UTF-8” and upload again.")
        # utf-8-sig drops the BOM Excel writes; strict errors refuse other encodings.
        text = io.TextIOWrapper(self.binary, encoding="utf-8-sig", errors="strict", newline="")
        reader = csv.reader(self._lines(text))
        try:
            yield from self._rows(reader)
        except csv.Error as exc:
            raise FileRefused(f"Line {self._physical_line} is not valid CSV: {exc}.") from None
        finally:
            with suppress(ValueError):  # already closed
                text.detach()  # the caller owns (and closes) the binary file

    def _rows(self, reader: Any) -> Iterator[tuple[Any, ...]]:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)
        if header is None:
            raise FileRefused("The file is empty.")
        keys = [_header_key(cell) for cell in header]
        index: dict[str, int] = {}
        for position, key in enumerate(keys):
            if key in KNOWN_COLUMNS:
                if key in index:
                    raise FileRefused(f"The column “{key}” appears twice in the header.")
                index[key] = position
        if not any(column in index for column in NUMBER_COLUMNS):
            found = ", ".join(cell.strip() for cell in header if cell.strip())[:200]
            raise FileRefused(
                f"The file has no “phone” or “mobile” column (the header has: {found})."
            )
        extras = [
            (position, header[position].strip())
            for position, key in enumerate(keys)
            if key and key not in index
        ]
        width = len(header)
        # Missing columns read from one padding cell past the row's end, so the loop
        # below indexes without checks (this loop runs once per row of big files).
        pad = width
        stats, upload_id, reject = self.stats, self.upload_id, self.stats.rejections.append
        i_first, i_last, i_name = (index.get(k, pad) for k in ("first_name", "last_name", "name"))
        i_email, i_company, i_title = (index.get(k, pad) for k in ("email", "company", "title"))
        i_phone, i_mobile = index.get("phone", pad), index.get("mobile", pad)
        region = settings.PHONENUMBER_DEFAULT_REGION
        padding = [""] * (width + 1)
        labels = [label for _, label in extras]
        # With the padding cell last, a row's extra cells come as a tuple even for one
        # extra column; a cheap any() over them skips the dict and JSON for most rows.
        extra_cells = itemgetter(*(p for p, _ in extras), pad)

        row_number = 1  # as a spreadsheet shows it: the header is row 1
        for cells in reader:
            row_number += 1
            length = len(cells)
            if length == width and any(cells):
                cells.append("")
            elif length <= width:
                if not any(cells):
                    continue
                cells += padding[length:]
            elif any(c.strip() for c in cells[width:]):
                stats.rows_read += 1
                stats.rows_rejected += 1
                reject(
                    (
                        upload_id,
                        row_number,
                        "(row)",
                        "",
                        f"the row has {length} cells but the header has {width}",
                        False,
                    )
                )
                continue
            else:
                cells = [*cells[:width], ""]
            stats.rows_read += 1
            phone_raw, mobile_raw = cells[i_phone].strip(), cells[i_mobile].strip()
            phone = mobile = ""
            bad: list[tuple[str, str, str]] | None = None
            if phone_raw:
                try:
                    phone = normalize_stripped(phone_raw, region)
                except InvalidPhoneNumber as exc:
                    bad = [("phone", phone_raw[:100], exc.reason)]
            if mobile_raw:
                try:
                    mobile = normalize_stripped(mobile_raw, region)
                except InvalidPhoneNumber as exc:
                    bad = (bad or []) + [("mobile", mobile_raw[:100], exc.reason)]
            if not phone and not mobile:
                stats.rows_rejected += 1
                for column, raw, reason in bad or ():
                    reject((upload_id, row_number, column, raw, reason, False))
                if not bad:
                    reject((upload_id, row_number, "phone, mobile", "", "no phone number", False))
                continue
            if bad:
                for column, raw, reason in bad:
                    reject((upload_id, row_number, column, raw, reason, True))
            email = cells[i_email].strip()
            if email and ("@" not in email or len(email) > 254 or " " in email):
                reject((upload_id, row_number, "email", email[:100], "not an email address", True))
                email = ""
            first, last = cells[i_first].strip()[:MAX_TEXT], cells[i_last].strip()[:MAX_TEXT]
            name = (cells[i_name].strip() or f"{first} {last}".strip())[:MAX_TEXT]
            company = cells[i_company].strip()[:MAX_TEXT]
            values = extra_cells(cells)
            yield (
                upload_id,
                row_number,
                first,
                last,
                name,
                email,
                company,
                cells[i_title].strip()[:MAX_TEXT],
                phone,
                mobile,
                phone_raw[:64],
                mobile_raw[:64],
                _extra_json(labels, values) if any(values) else "{}",
                ("e:" + email.lower())
                if email
                else dedup_key(email="", name=name, company=company, phone=phone, mobile=mobile),
            )
        if stats.rows_read == 0:
            raise FileRefused("The file has a header but no rows.")


# --- Phase 1: staging ---------------------------------------------------------------------


def staging_table(upload_id: int) -> str:
    return f"campaigns_leadstage_{int(upload_id)}"


# On PostgreSQL each upload stages into its own UNLOGGED table without indexes: COPY
# writes no WAL and maintains no index, and the merge drops the whole table at the end
# instead of deleting a million rows. (LeadRow, the model, is the same shape; the ORM
# path for SQLite stages there.)
_SQL_CREATE_STAGE = """
CREATE UNLOGGED TABLE IF NOT EXISTS {stage} (
    upload_id bigint NOT NULL,
    row_number integer NOT NULL,
    first_name text NOT NULL,
    last_name text NOT NULL,
    name text NOT NULL,
    email text NOT NULL,
    company text NOT NULL,
    title text NOT NULL,
    phone varchar(16) COLLATE "C" NOT NULL,
    mobile varchar(16) COLLATE "C" NOT NULL,
    phone_raw text NOT NULL,
    mobile_raw text NOT NULL,
    extra jsonb NOT NULL,
    dedup_key text COLLATE "C" NOT NULL
)
"""


def stage(
    upload: LeadUpload,
    binary: IO[bytes],
    progress: Callable[[LeadUpload], None] | None = None,
) -> ReadStats:
    """Write the file's valid rows to the staging table in committed chunks."""
    reader = LeadFileReader(binary, upload_id=upload.pk)
    rows = iter(reader)
    postgresql = is_postgresql()
    if postgresql:
        with connection.cursor() as cursor:
            cursor.execute(_SQL_CREATE_STAGE.format(stage=staging_table(upload.pk)))
    while True:
        with transaction.atomic():
            written = (
                _copy_rows(rows, staging_table(upload.pk), STAGE_COLUMNS, STAGE_TYPES)
                if postgresql
                else _create_rows(rows)
            )
            _flush_rejections(reader.stats, postgresql)
            reader.stats.bytes_read = binary.tell()
            LeadUpload.objects.filter(pk=upload.pk).update(
                bytes_read=reader.stats.bytes_read,
                rows_read=reader.stats.rows_read,
                rows_rejected=reader.stats.rows_rejected,
                phase=f"Reading: {reader.stats.rows_read:,} rows",
            )
        upload.bytes_read, upload.rows_read = reader.stats.bytes_read, reader.stats.rows_read
        upload.rows_rejected = reader.stats.rows_rejected
        if progress:
            progress(upload)
        if written < CHUNK_ROWS:
            return reader.stats


def _copy_rows(
    rows: Iterator[tuple[Any, ...]],
    table: str,
    columns: tuple[str, ...],
    types: tuple[str, ...] | None = None,
) -> int:
    """COPY up to CHUNK_ROWS rows into ``table``: in binary when the column ``types`` are
    given (for the staging table, whose types are fixed right here), else in text."""
    written = 0
    connection.ensure_connection()
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3: COPY support
        statement = "COPY {} ({}) FROM STDIN".format(table, ", ".join(f'"{c}"' for c in columns))
        if types:
            # psycopg formats a binary row in half the time of a text one (there is
            # nothing to escape); formatting was the largest cost of staging after
            # reading the file. This cursor alone dumps JSON text as jsonb.
            raw.adapters.register_dumper(None, _JsonTextBinaryDumper)
            statement += " (FORMAT BINARY)"
        with raw.copy(statement) as copy:
            if types:
                copy.set_types(types)
            write = copy.write_row
            for row in islice(rows, CHUNK_ROWS):
                write(row)
                written += 1
    return written


class _JsonTextBinaryDumper(Dumper):
    """Staged ``extra`` is JSON text already, for the ORM path too; psycopg's jsonb
    dumper would encode that string as a JSON string. jsonb's binary form is a version
    byte and the text."""

    format = pq.Format.BINARY
    oid = postgres.types["jsonb"].oid

    def dump(self, obj: str) -> bytes:
        return b"\x01" + obj.encode()


def _create_rows(rows: Iterator[tuple[Any, ...]]) -> int:
    batch = [
        LeadRow(**dict(zip(STAGE_COLUMNS, row, strict=True))) for row in islice(rows, CHUNK_ROWS)
    ]
    for row in batch:
        row.extra = json.loads(row.extra)
    LeadRow.objects.bulk_create(batch, batch_size=2_000)
    return len(batch)


def _flush_rejections(stats: ReadStats, postgresql: bool) -> None:
    if not stats.rejections:
        return
    if postgresql:
        _copy_rows(iter(stats.rejections), "campaigns_leadrejection", REJECTION_COLUMNS)
    else:
        LeadRejection.objects.bulk_create(
            [
                LeadRejection(**dict(zip(REJECTION_COLUMNS, r, strict=True)))
                for r in stats.rejections
            ],
            batch_size=2_000,
        )
    stats.rejections.clear()


def discard_staging(upload_id: int) -> None:
    """Drop what an earlier or failed attempt staged for this upload."""
    with transaction.atomic():
        if is_postgresql():
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {staging_table(upload_id)}")
        LeadRow.objects.filter(upload_id=upload_id).delete()
        LeadRejection.objects.filter(upload_id=upload_id).delete()


# --- Phase 2: merge -------------------------------------------------------------------------


@dataclass
class MergeResult:
    """The merge's counts for the receipt, each named as the LeadUpload field it fills."""

    contacts_created: int = 0
    merged_by_email: int = 0
    duplicate_rows: int = 0
    accounts_created: int = 0
    numbers_found: int = 0
    numbers_created: int = 0
    numbers_do_not_call: int = 0


def merge(upload: LeadUpload) -> MergeResult:
    """Turn the staged rows into accounts, contacts and Campaign Phone Counts (atomic)."""
    if is_postgresql():
        return _merge_postgresql(upload)
    return _merge_orm(upload)


_SQL_ACCOUNTS = """
WITH created AS (
    INSERT INTO campaigns_account (campaign_id, name, status, created_at)
    SELECT %(campaign)s, min(company), 'active', now()
    FROM {stage}
    WHERE company <> ''
    GROUP BY lower(company)
    ON CONFLICT (campaign_id, lower(name)) DO NOTHING
    RETURNING 1
)
SELECT count(*) FROM created
"""

# Every distinct number of the file with its CampaignPhone id: the existing row's, or a
# fresh id from the table's sequence. New numbers are inserted only after the contacts,
# with their final counts, so no row is written twice. (Merges into one campaign are
# serialised by an advisory lock, so nobody else can insert those numbers meanwhile.)
_SQL_NUMBERS = """
CREATE TEMP TABLE lead_numbers ON COMMIT DROP AS
SELECT number,
       COALESCE(id, nextval(%(phone_ids)s::regclass)) AS id,
       id IS NULL AS created
FROM (
    -- In number order, so new ids ascend with the numbers and the inserts below append
    -- to both of the table's unique indexes instead of landing at random pages.
    SELECT u.number, cp.id
    FROM (
        SELECT phone AS number FROM {stage} WHERE phone <> ''
        UNION
        SELECT mobile FROM {stage} WHERE mobile <> ''
    ) u
    LEFT JOIN campaigns_campaignphone cp
           ON cp.campaign_id = %(campaign)s AND cp.number = u.number
    ORDER BY u.number
) ordered
"""

# One line per contact-to-be: the first row of each dedup key, its row count, the
# contact already holding that key in the campaign, if any, else the new contact's id.
# Ids are drawn here, in file order (PostgreSQL evaluates nextval after the sort), so
# contacts listed by id read as the file did whatever plan the insert below takes.
_SQL_GROUPS = """
CREATE TEMP TABLE lead_groups ON COMMIT DROP AS
SELECT g.dedup_key, g.first_row, g.n, c.id AS contact_id,
       CASE WHEN c.id IS NULL THEN nextval(%(contact_ids)s::regclass) END AS new_id
FROM (
    SELECT dedup_key, min(row_number) AS first_row, count(*) AS n
    FROM {stage}
    GROUP BY dedup_key
) g
LEFT JOIN campaigns_contact c ON c.campaign_id = %(campaign)s AND c.dedup_key = g.dedup_key
ORDER BY g.first_row
"""

# A staged row r's account (a), phone (p) and mobile (m) ids.
_ROW_IDS = """
LEFT JOIN campaigns_account a
       ON a.campaign_id = %(campaign)s AND r.company <> '' AND lower(a.name) = lower(r.company)
LEFT JOIN lead_numbers p ON p.number = r.phone
LEFT JOIN lead_numbers m ON m.number = r.mobile
"""

# For a key on two or more rows, the first phone, mobile and account in file order: the
# numbers and company that its first row lacked are taken from the next rows that have
# them, before the contact is written, so no contact row is written twice.
_SQL_FILLS = (
    """
CREATE TEMP TABLE lead_fills ON COMMIT DROP AS
SELECT r.dedup_key,
       (array_agg(p.id ORDER BY r.row_number) FILTER (WHERE p.id IS NOT NULL))[1] AS phone_id,
       (array_agg(m.id ORDER BY r.row_number) FILTER (WHERE m.id IS NOT NULL))[1] AS mobile_id,
       (array_agg(a.id ORDER BY r.row_number) FILTER (WHERE a.id IS NOT NULL))[1] AS account_id
FROM lead_groups g
JOIN {stage} r ON r.dedup_key = g.dedup_key
"""
    + _ROW_IDS
    + """
WHERE g.n > 1
GROUP BY r.dedup_key
"""
)

# New contacts: a plain INSERT (no ON CONFLICT speculation per row), safe because merges
# into one campaign are serialised. The ids come with the groups (a bare partition-to-be
# would have no default for them anyway).
_SQL_NEW_CONTACTS = (
    """
INSERT INTO {contacts} (
    id, campaign_id, account_id, first_name, last_name, name, email, title,
    phone_id, mobile_id, phone_raw, mobile_raw, extra, status, dedup_key,
    merged_rows, upload_id, row_number, created_at
)
SELECT g.new_id, %(campaign)s, COALESCE(a.id, f.account_id),
       r.first_name, r.last_name, r.name, r.email, r.title,
       COALESCE(p.id, f.phone_id), COALESCE(m.id, f.mobile_id), r.phone_raw, r.mobile_raw,
       r.extra, 'active', r.dedup_key, g.n - 1, %(upload)s, r.row_number, now()
FROM lead_groups g
JOIN {stage} r ON r.row_number = g.first_row
"""
    + _ROW_IDS
    + """
LEFT JOIN lead_fills f ON f.dedup_key = g.dedup_key
WHERE g.contact_id IS NULL
"""
)

# Rows whose email is already a contact: the contact keeps what it has and gains what
# it lacked, from the file's first row of that email, else from the next rows.
_SQL_EXISTING_CONTACTS = (
    """
UPDATE campaigns_contact c
SET account_id = COALESCE(c.account_id, a.id, f.account_id),
    phone_id = COALESCE(c.phone_id, p.id, f.phone_id),
    mobile_id = COALESCE(c.mobile_id, m.id, f.mobile_id),
    merged_rows = c.merged_rows + g.n
FROM lead_groups g
JOIN {stage} r ON r.row_number = g.first_row
"""
    + _ROW_IDS
    + """
LEFT JOIN lead_fills f ON f.dedup_key = g.dedup_key
WHERE g.contact_id IS NOT NULL AND c.campaign_id = %(campaign)s AND c.id = g.contact_id
"""
)

# contact_count = distinct contacts carrying the number in either column: a contact
# with the same number in both columns counts once (NULLIF). Only this file's numbers
# can change ({only_this_file}; every number of a new partition is one of them).
_SQL_COUNTS = """
CREATE TEMP TABLE lead_counts ON COMMIT DROP AS
SELECT v.pid, count(*) AS n
FROM {contacts} c
CROSS JOIN LATERAL (VALUES (c.phone_id), (NULLIF(c.mobile_id, c.phone_id))) v (pid)
WHERE c.campaign_id = %(campaign)s AND v.pid IS NOT NULL {only_this_file}
GROUP BY v.pid
"""
_ONLY_THIS_FILE = "AND v.pid IN (SELECT id FROM lead_numbers)"

# New numbers arrive with their counts, and disqualified when on the do-not-call list
# (PRODUCT.md: "everywhere" covers uploads yet to come).
_SQL_NEW_PHONES = """
INSERT INTO campaigns_campaignphone (
    id, campaign_id, number, contact_count, status, status_scope, status_reason,
    status_changed_at, created_at
)
SELECT n.id, %(campaign)s, n.number, COALESCE(t.n, 0),
       CASE WHEN d.id IS NULL THEN 'active' ELSE 'disqualified' END,
       CASE WHEN d.id IS NULL THEN '' ELSE 'everywhere' END,
       COALESCE(d.reason, ''),
       CASE WHEN d.id IS NULL THEN NULL ELSE now() END,
       now()
FROM lead_numbers n
LEFT JOIN lead_counts t ON t.pid = n.id
LEFT JOIN campaigns_donotcallnumber d ON d.number = n.number
WHERE n.created
ORDER BY n.id
"""

_SQL_EXISTING_COUNTS = """
UPDATE campaigns_campaignphone cp SET contact_count = t.n
FROM lead_counts t JOIN lead_numbers n ON n.id = t.pid AND NOT n.created
WHERE cp.id = t.pid AND cp.contact_count <> t.n
"""

_SQL_DO_NOT_CALL = """
UPDATE campaigns_campaignphone cp
SET status = 'disqualified', status_scope = 'everywhere', status_reason = d.reason,
    status_changed_at = now()
FROM campaigns_donotcallnumber d
WHERE cp.campaign_id = %(campaign)s AND cp.number = d.number AND cp.status = 'active'
"""

_DROP_TEMP_TABLES = "DROP TABLE IF EXISTS lead_numbers, lead_groups, lead_fills, lead_counts"

# Two-key advisory lock namespaces: one merge per campaign at a time, and one merge at a
# time among those that touch the default contacts partition.
_MERGE_LOCK_NAMESPACE = 0x4C4D
_ATTACH_LOCK_NAMESPACE = 0x4C41


class CampaignGone(Exception):
    """The campaign was deleted while its upload was being imported."""


def lock_campaign(campaign_id: int) -> None:
    """Wait for (and then hold, until commit) the campaign's merge lock: merges into one
    campaign, and a deletion of it, happen one at a time."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)", [_MERGE_LOCK_NAMESPACE, int(campaign_id)]
        )


def contact_partition(campaign_id: int) -> str:
    """The table holding a campaign's contacts once its first upload made one."""
    return f"campaigns_contact_c{int(campaign_id)}"


# A campaign whose contacts table would start empty loads a bare table of its own: the
# rows go in without index upkeep, and each index is then built once, sorted (half the
# time of inserting a million rows into six indexes). It becomes the campaign's partition
# at the very end, because attaching locks the default partition until commit.
_SQL_HAS_CONTACTS = (
    "SELECT EXISTS (SELECT 1 FROM campaigns_contact WHERE campaign_id = %(campaign)s)"
)

_SQL_CREATE_PARTITION = """
CREATE TABLE {partition} (LIKE campaigns_contact INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
-- Proves the partition bound, so attaching does not scan the table.
ALTER TABLE {partition} ADD CONSTRAINT {partition}_bound CHECK (campaign_id = %(campaign)s);
"""

# The parent's indexes, read from the catalogue so that an index a later migration adds
# is built here too (attaching would otherwise build it, under the lock).
_SQL_PARENT_INDEXES = """
SELECT i.indisunique, c.relname, pg_get_indexdef(i.indexrelid), con.contype
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
WHERE i.indrelid = 'campaigns_contact'::regclass
ORDER BY c.relname
"""


def _index_partition(cursor: Any, partition: str) -> None:
    cursor.execute(_SQL_PARENT_INDEXES)
    for unique, parent_name, definition, constraint in cursor.fetchall():
        name = partition + parent_name.removeprefix("campaigns_contact")
        method_and_columns = definition.split(" USING ", 1)[1]
        cursor.execute(
            f"CREATE {'UNIQUE ' if unique else ''}INDEX {name} ON {partition} "
            f"USING {method_and_columns}"
        )
        if constraint in ("p", "u"):
            kind = "PRIMARY KEY" if constraint == "p" else "UNIQUE"
            cursor.execute(
                f"ALTER TABLE {partition} ADD CONSTRAINT {name} {kind} USING INDEX {name}"
            )


def _attach_partition(cursor: Any, partition: str, campaign_id: int) -> None:
    cursor.execute(
        f"ALTER TABLE campaigns_contact ATTACH PARTITION {partition} "
        f"FOR VALUES IN ({int(campaign_id)})"
    )
    cursor.execute(f"ALTER TABLE {partition} DROP CONSTRAINT {partition}_bound")


def _merge_postgresql(upload: LeadUpload) -> MergeResult:
    partition = contact_partition(upload.campaign_id)
    params: dict[str, Any] = {
        "campaign": upload.campaign_id,
        "upload": upload.pk,
        "partition": partition,
    }
    stage = staging_table(upload.pk)
    result = MergeResult()
    with transaction.atomic(), connection.cursor() as cursor:

        def scalar(sql: str) -> int:
            cursor.execute(sql, params)
            row = cursor.fetchone()
            return int(row[0]) if row else 0

        lock_campaign(upload.campaign_id)
        # A campaign deleted while its file was being read takes no contacts; holding its
        # row until commit keeps a deletion from starting meanwhile.
        if not scalar("SELECT 1 FROM campaigns_campaign WHERE id = %(campaign)s FOR KEY SHARE"):
            raise CampaignGone(f"Campaign {upload.campaign_id} was deleted during the import.")
        # Temp tables drop at commit; inside an enclosing transaction (tests, a caller's
        # atomic block) an earlier merge's may still be there.
        cursor.execute(_DROP_TEMP_TABLES)
        # Hash aggregates over a million rows stay in memory instead of spilling, and so
        # do the sorts that build a new partition's indexes.
        cursor.execute("SET LOCAL work_mem = '128MB'")
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        # Compiling these plain scans and joins costs more than it saves (up to 0.2 s each).
        cursor.execute("SET LOCAL jit = off")
        # Looked up once: in the statements, the lookup would run once per row.
        params["contact_ids"], params["phone_ids"] = _fetch(
            cursor,
            "SELECT pg_get_serial_sequence('campaigns_contact', 'id'), "
            "pg_get_serial_sequence('campaigns_campaignphone', 'id')",
        )
        starts_empty = False
        if not scalar("SELECT to_regclass(%(partition)s) IS NOT NULL"):
            # The campaign's contacts, if any, are in the default partition, and a new
            # partition is attached beside it: both hold locks on the default partition
            # until commit, so two such merges in one order and the other would deadlock.
            # They take turns instead (reading and staging still run side by side).
            cursor.execute("SELECT pg_advisory_xact_lock(%s, 0)", [_ATTACH_LOCK_NAMESPACE])
            starts_empty = not scalar(_SQL_HAS_CONTACTS)
            if not starts_empty:
                partition = "campaigns_contact_default"
        if starts_empty:
            cursor.execute(_SQL_CREATE_PARTITION.format(partition=partition), params)
            contacts = partition
        else:
            contacts = "campaigns_contact"
        cursor.execute(f"ANALYZE {stage}")
        result.accounts_created = scalar(_SQL_ACCOUNTS.format(stage=stage))
        cursor.execute(_SQL_NUMBERS.format(stage=stage), params)
        cursor.execute("ANALYZE lead_numbers")
        result.numbers_found, result.numbers_created = (
            int(v or 0)
            for v in _fetch(
                cursor, "SELECT count(*), count(*) FILTER (WHERE created) FROM lead_numbers"
            )
        )
        cursor.execute(_SQL_GROUPS.format(stage=stage), params)
        cursor.execute("ANALYZE lead_groups")
        email_created, other_created = _fetch(
            cursor,
            "SELECT count(*) FILTER (WHERE left(dedup_key, 2) = 'e:'), "
            "count(*) FILTER (WHERE left(dedup_key, 2) <> 'e:') "
            "FROM lead_groups WHERE contact_id IS NULL",
        )
        cursor.execute(_SQL_FILLS.format(stage=stage), params)
        cursor.execute(_SQL_NEW_CONTACTS.format(stage=stage, contacts=contacts), params)
        if not starts_empty:
            cursor.execute(_SQL_EXISTING_CONTACTS.format(stage=stage), params)
        if starts_empty:
            _index_partition(cursor, partition)
        # The contacts just written change the table's size by up to a million rows:
        # without fresh statistics the planner may join them by nested loops.
        cursor.execute(f"ANALYZE {partition}")
        cursor.execute(
            _SQL_COUNTS.format(
                contacts=contacts, only_this_file="" if starts_empty else _ONLY_THIS_FILE
            ),
            params,
        )
        cursor.execute("ANALYZE lead_counts")
        cursor.execute(_SQL_NEW_PHONES, params)
        cursor.execute(_SQL_EXISTING_COUNTS, params)
        if scalar("SELECT EXISTS (SELECT 1 FROM campaigns_donotcallnumber)"):
            cursor.execute(_SQL_DO_NOT_CALL, params)
            result.numbers_do_not_call = scalar(
                "SELECT count(*) FROM lead_numbers JOIN campaigns_donotcallnumber USING (number)"
            )
        email_rows, all_rows = _fetch(
            cursor,
            # The table name is built from an integer id (staging_table), never from input.
            f"SELECT count(*) FILTER (WHERE left(dedup_key, 2) = 'e:'), count(*) FROM {stage}",  # noqa: S608
            params,
        )
        cursor.execute(f"DROP TABLE {stage}")
        cursor.execute(_DROP_TEMP_TABLES)
        if starts_empty:
            _attach_partition(cursor, partition, upload.campaign_id)
    result.contacts_created = int(email_created) + int(other_created)
    result.merged_by_email = int(email_rows) - int(email_created)
    result.duplicate_rows = int(all_rows) - int(email_rows) - int(other_created)
    return result


def _fetch(cursor: Any, sql: str, params: dict[str, Any] | None = None) -> tuple[Any, ...]:
    cursor.execute(sql, params)
    return tuple(cursor.fetchone())


def _merge_orm(upload: LeadUpload) -> MergeResult:
    """The same rules with the ORM, row by row: for SQLite and small files."""
    campaign_id = upload.campaign_id
    result = MergeResult()
    with transaction.atomic():
        accounts = {
            name.lower(): pk
            for pk, name in Account.objects.filter(campaign_id=campaign_id).values_list(
                "id", "name"
            )
        }
        phones = dict(
            CampaignPhone.objects.filter(campaign_id=campaign_id).values_list("number", "id")
        )
        do_not_call = dict(DoNotCallNumber.objects.values_list("number", "reason"))
        found: set[str] = set()
        touched_contacts: dict[str, Contact] = {}
        for row in LeadRow.objects.filter(upload_id=upload.pk).order_by("row_number").iterator():
            account_id = None
            if row.company:
                account_id = accounts.get(row.company.lower())
                if account_id is None:
                    account = Account.objects.create(campaign_id=campaign_id, name=row.company)
                    account_id = accounts[row.company.lower()] = account.pk
                    result.accounts_created += 1
            ids: dict[str, int | None] = {}
            for column in ("phone", "mobile"):
                number = getattr(row, column)
                ids[column] = None
                if not number:
                    continue
                found.add(number)
                if number not in phones:
                    phone = CampaignPhone(campaign_id=campaign_id, number=number)
                    if number in do_not_call:
                        phone.status, phone.status_scope = Status.DISQUALIFIED, Scope.EVERYWHERE
                        phone.status_reason = do_not_call[number][:255]
                        phone.status_changed_at = timezone.now()
                    phone.save()
                    phones[number] = phone.pk
                    result.numbers_created += 1
                ids[column] = phones[number]
            contact = touched_contacts.get(row.dedup_key) or (
                Contact.objects.filter(campaign_id=campaign_id, dedup_key=row.dedup_key).first()
            )
            by_email = row.dedup_key.startswith("e:")
            if contact is None:
                contact = Contact.objects.create(
                    campaign_id=campaign_id,
                    account_id=account_id,
                    first_name=row.first_name,
                    last_name=row.last_name,
                    name=row.name,
                    email=row.email,
                    title=row.title,
                    phone_id=ids["phone"],
                    mobile_id=ids["mobile"],
                    phone_raw=row.phone_raw,
                    mobile_raw=row.mobile_raw,
                    extra=row.extra,
                    dedup_key=row.dedup_key,
                    upload_id=upload.pk,
                    row_number=row.row_number,
                )
                result.contacts_created += 1
            else:
                contact.account_id = contact.account_id or account_id
                contact.phone_id = contact.phone_id or ids["phone"]
                contact.mobile_id = contact.mobile_id or ids["mobile"]
                contact.merged_rows += 1
                contact.save(update_fields=["account_id", "phone_id", "mobile_id", "merged_rows"])
                if by_email:
                    result.merged_by_email += 1
                else:
                    result.duplicate_rows += 1
            touched_contacts[row.dedup_key] = contact
        result.numbers_found = len(found)
        result.numbers_do_not_call = len(found & do_not_call.keys())
        CampaignPhone.objects.filter(
            campaign_id=campaign_id, number__in=do_not_call.keys(), status=Status.ACTIVE
        ).update(
            status=Status.DISQUALIFIED,
            status_scope=Scope.EVERYWHERE,
            status_changed_at=timezone.now(),
        )
        recount_phones(campaign_id=campaign_id, numbers=found)
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
