"""Phase 1: the file's valid rows into a staging table, in committed chunks.

The staging shape is ``LeadRow`` (its migrations give its types and byte-wise
collations), in the order the reader builds a row (``STAGED_FIELDS``). On PostgreSQL
each upload stages into an UNLOGGED table of its own, created as a copy of that shape
without indexes: COPY writes no WAL and maintains no index, and the merge drops the
whole table at the end instead of deleting a million rows. The binary COPY takes its
column types from that table's catalogue entry, so nothing here repeats them. Other
databases stage into ``LeadRow`` itself.
"""

import json
from collections.abc import Callable, Iterator
from itertools import islice
from typing import IO, Any

from django.db import connection, transaction
from django.db.models import F
from psycopg import postgres, pq, sql
from psycopg.adapt import Dumper

import campaigns.ingest.encoding as encoding
import campaigns.ingest.parts as parts
from campaigns.ingest.errors import FileRefused
from campaigns.ingest.headers import layout
from campaigns.ingest.reader import (
    REJECTION_FIELDS,
    STAGED_FIELDS,
    LeadFileReader,
    ReadStats,
    read_header,
)
from campaigns.models import LeadRejection, LeadRow, LeadUpload

CHUNK_ROWS = 50_000
ProgressCallback = Callable[[LeadUpload], None] | None


def staging_table(upload_id: int) -> sql.Identifier:
    return sql.Identifier(f"campaigns_leadstage_{int(upload_id)}")


def _columns(names: tuple[str, ...]) -> sql.Composed:
    return sql.SQL(", ").join(map(sql.Identifier, names))


def create_staging_table(upload_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL(
                "CREATE UNLOGGED TABLE IF NOT EXISTS {stage} AS "
                "SELECT {columns} FROM {model} WITH NO DATA"
            ).format(
                stage=staging_table(upload_id),
                columns=_columns(STAGED_FIELDS),
                model=sql.Identifier(LeadRow._meta.db_table),
            )
        )


def _column_types(cursor: Any, table: sql.Identifier) -> list[int]:
    cursor.execute(
        "SELECT atttypid FROM pg_attribute WHERE attrelid = %s::regclass "
        "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        [table.as_string(cursor.connection)],
    )
    return [oid for (oid,) in cursor.fetchall()]


def stage(
    upload: LeadUpload,
    binary: IO[bytes],
    progress: ProgressCallback = None,
    *,
    copy: bool,
) -> ReadStats:
    """Write the file's valid rows to the staging table (COPY when ``copy``, else the ORM)
    in committed chunks, each with the upload's progress so the admin's bar moves.

    With COPY, a file big enough is read in parts by one worker process per core
    (``parts``); the ORM path (the embedded SQLite) reads in this process."""
    found = encoding.detect(binary)
    if copy:
        stats = _stage_in_parts(upload, binary, progress, found)
        if stats is not None:
            return stats
    reader = LeadFileReader(binary, upload_id=upload.pk, mapping=upload.mapping, found=found)
    rows = iter(reader)
    if copy:
        create_staging_table(upload.pk)
    while True:
        with transaction.atomic():
            written = _copy_staged(rows, upload.pk) if copy else _create_staged(rows)
            _flush_rejections(reader.stats, copy=copy)
            _save_progress(upload, reader.stats, binary.tell())
        if progress:
            progress(upload)
        if written < CHUNK_ROWS:
            return reader.stats


def _stage_in_parts(
    upload: LeadUpload, binary: IO[bytes], progress: ProgressCallback, found: encoding.Encoding
) -> ReadStats | None:
    """Stage the file read in parts by worker processes; None when it is to be read in
    this process instead (too small, not cut, or a cut that fell inside a record)."""
    header = read_header(binary, found)
    columns = layout(header.cells, upload.mapping).columns  # refuses before any fork
    plan = parts.plan(binary, found, header, min(parts.usable_cores(), parts.MAX_PARTS))
    if plan is None:
        return None
    stats = ReadStats(
        encoding=found.label,
        encoding_note=found.note,
        delimiter=header.delimiter,
        header_line=header.line,
        columns=columns,
    )
    create_staging_table(upload.pk)
    read, rejected = [0] * len(plan), [0] * len(plan)
    positions = [part.start for part in plan]
    ends: dict[int, parts.Message] = {}
    workers = parts.start(binary.fileno(), plan, upload.pk, upload.mapping)
    try:
        incoming = parts.messages(workers)
        while len(ends) < len(plan):
            # One commit (and one progress step) per CHUNK_ROWS rows, whichever worker
            # sent them: a commit waits for the disk, a message does not.
            with transaction.atomic():
                staged = 0
                for message in incoming:
                    if message.refused:
                        # A part's reader refused what the whole file's did not (a cut
                        # in the header): the whole file's reader decides.
                        raise _StartOver
                    if message.error:
                        raise parts.WorkerFailed(message.error)
                    n = message.part
                    read[n], rejected[n] = message.rows_read, message.rows_rejected
                    positions[n] = message.position
                    if message.rows:
                        _copy_payload(message.copy, upload.pk)
                    stats.rejections = message.rejections
                    _flush_rejections(stats, copy=True)
                    staged += message.rows
                    if message.done:
                        ends[n] = message
                    if staged >= CHUNK_ROWS:
                        break
                stats.rows_read, stats.rows_rejected = sum(read), sum(rejected)
                done = sum(p - part.start for p, part in zip(positions, plan, strict=True))
                _save_progress(upload, stats, done)
            if progress:
                progress(upload)
    except _StartOver:
        ends.clear()
    finally:
        parts.stop(workers)
    # A part's reader refused, or a part before the last ended inside a record: the
    # parts do not read as the whole file does.
    if len(ends) < len(plan) or any(ends[n].open_at_end for n in range(len(plan) - 1)):
        discard(upload.pk, postgresql=True)
        return None
    _renumber(upload.pk, plan, ends)
    if stats.rows_read == 0:
        raise FileRefused("The file has a header but no rows.")
    return stats


class _StartOver(Exception):
    """The parts cannot be trusted to read as the whole file: read it whole."""


def _renumber(upload_id: int, plan: list[parts.Part], ends: dict[int, parts.Message]) -> None:
    """Each part's rows were numbered from the lines before it; where a part before held
    records of several lines, they are fewer: the rows after it move up by the difference."""
    last_rows = [ends[n].last_row for n in range(len(plan))]
    for above, up_to, by in parts.renumbering(plan, last_rows):
        rows = {"row_number__gt": above}
        if up_to is not None:
            rows["row_number__lte"] = up_to
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                sql.SQL(
                    "UPDATE {} SET row_number = row_number - %(by)s WHERE row_number > %(above)s "
                    "AND (%(up_to)s::int IS NULL OR row_number <= %(up_to)s)"
                ).format(staging_table(upload_id)),
                {"by": by, "above": above, "up_to": up_to},
            )
            LeadRejection.objects.filter(upload_id=upload_id, **rows).update(
                row_number=F("row_number") - by
            )


def _copy_payload(payload: bytes, upload_id: int) -> None:
    """COPY rows a worker wrote as COPY text."""
    with connection.cursor() as cursor:
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            staging_table(upload_id), _columns(STAGED_FIELDS)
        )
        with cursor.cursor.copy(statement) as copy:
            copy.write(payload)


def _save_progress(upload: LeadUpload, stats: ReadStats, bytes_read: int) -> None:
    stats.bytes_read = bytes_read
    fields = {
        "bytes_read": bytes_read,
        "rows_read": stats.rows_read,
        "rows_rejected": stats.rows_rejected,
        "phase": f"Reading: {stats.rows_read:,} rows",
        "encoding": stats.encoding,
        "encoding_note": stats.encoding_note,
        "delimiter": stats.delimiter,
        "header_line": stats.header_line,
        "columns": [{"header": header, "read_as": read_as} for header, read_as in stats.columns],
    }
    for name, value in fields.items():
        setattr(upload, name, value)
    LeadUpload.objects.filter(pk=upload.pk).update(**fields)


def _copy_staged(rows: Iterator[tuple[Any, ...]], upload_id: int) -> int:
    """COPY up to CHUNK_ROWS rows in binary: psycopg formats a binary row in half the
    time of a text one (there is nothing to escape); formatting was the largest cost of
    staging after reading the file."""
    table = staging_table(upload_id)
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3: COPY support
        types = _column_types(raw, table)
        # This cursor alone dumps the staged JSON text as jsonb.
        raw.adapters.register_dumper(None, _JsonTextBinaryDumper)
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            table, _columns(STAGED_FIELDS)
        )
        with raw.copy(statement) as copy:
            copy.set_types(types)
            return _write(copy, rows)


def _copy_text(rows: Iterator[tuple[Any, ...]], table: str, columns: tuple[str, ...]) -> None:
    with connection.cursor() as cursor:
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), _columns(columns)
        )
        with cursor.cursor.copy(statement) as copy:
            _write(copy, rows)


def _write(copy: Any, rows: Iterator[tuple[Any, ...]]) -> int:
    written = 0
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


def _create_staged(rows: Iterator[tuple[Any, ...]]) -> int:
    batch = [
        LeadRow(**dict(zip(STAGED_FIELDS, row, strict=True))) for row in islice(rows, CHUNK_ROWS)
    ]
    for row in batch:
        row.extra = json.loads(row.extra)
    LeadRow.objects.bulk_create(batch, batch_size=2_000)
    return len(batch)


def _flush_rejections(stats: ReadStats, *, copy: bool) -> None:
    if not stats.rejections:
        return
    if copy:
        _copy_text(iter(stats.rejections), LeadRejection._meta.db_table, REJECTION_FIELDS)
    else:
        LeadRejection.objects.bulk_create(
            [
                LeadRejection(**dict(zip(REJECTION_FIELDS, r, strict=True)))
                for r in stats.rejections
            ],
            batch_size=2_000,
        )
    stats.rejections.clear()


def drop_staging_table(cursor: Any, upload_id: int) -> None:
    cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(staging_table(upload_id)))


def discard(upload_id: int, *, postgresql: bool) -> None:
    """Drop what an earlier or failed attempt staged for this upload."""
    with transaction.atomic():
        if postgresql:
            with connection.cursor() as cursor:
                drop_staging_table(cursor, upload_id)
        LeadRow.objects.filter(upload_id=upload_id).delete()
        LeadRejection.objects.filter(upload_id=upload_id).delete()
