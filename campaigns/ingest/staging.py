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
from psycopg import postgres, pq, sql
from psycopg.adapt import Dumper

from campaigns.ingest.reader import REJECTION_FIELDS, STAGED_FIELDS, LeadFileReader, ReadStats
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
    in committed chunks, each with the upload's progress so the admin's bar moves."""
    reader = LeadFileReader(binary, upload_id=upload.pk, mapping=upload.mapping)
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
