"""Reading a leads file: its encoding, how its header maps to fields, and each row (as
``records`` gives them, RFC 4180) as a staged row or a rejection.

No database here: the reader turns bytes into staged rows (tuples in ``STAGED_FIELDS``
order) and rejections, and the staging module writes them wherever the database wants.
"""

import io
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii as _json_str
from operator import itemgetter
from typing import IO, Any

from django.conf import settings

import campaigns.ingest.encoding as encoding
import campaigns.ingest.rules as rules
from campaigns.ingest.errors import FileRefused
from campaigns.ingest.headers import layout
from campaigns.ingest.records import MAX_RECORD_CHARS, Records, shown
from crm.phones import InvalidPhoneNumber, normalize_stripped

__all__ = [
    "MAX_RECORD_CHARS",
    "STAGED_FIELDS",
    "FileRefused",
    "Header",
    "LeadFileReader",
    "ReadStats",
    "read_header",
]

MAX_TEXT = 255
# Numbers remembered as normalised, per reader: a file repeats a company's switchboard,
# typed the same way, on hundreds of rows. Bounded, so memory does not grow with the file.
KNOWN_NUMBERS = 50_000

# The order of a staged row's values: the staging table's columns (``LeadRow``'s fields).
STAGED_FIELDS = (
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
# ``original``: a row that was not imported, as it was in the file (to fix and upload again).
REJECTION_FIELDS = (
    "upload_id",
    "row_number",
    "column",
    "value",
    "reason",
    "row_kept",
    "original",
)


@dataclass
class ReadStats:
    rows_read: int = 0
    rows_rejected: int = 0
    bytes_read: int = 0
    rejections: list[tuple[Any, ...]] = field(default_factory=list)
    # How the file was read, for the receipt.
    encoding: str = ""
    encoding_note: str = ""
    delimiter: str = ""
    header_line: str = ""  # as in the file: the first line of the rejected rows' CSV
    columns: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Header:
    """A file's header as read from its start: what a part of the file that starts
    after it needs to read its rows as the whole file's would be read."""

    delimiter: str
    cells: list[str]
    labels: list[str]
    line: str  # as in the file
    row: int  # the header's row in a spreadsheet


def read_header(binary: IO[bytes], found: encoding.Encoding) -> Header:
    """The header of a file whose encoding was found; refuses what the import would
    refuse for it. Leaves the file at its start."""
    text = io.TextIOWrapper(binary, encoding=found.codec, errors="strict", newline="")
    records = Records(text, lambda *rejected: None)
    try:
        cells = records.header()
    except UnicodeDecodeError:
        raise FileRefused(
            f"The file is not {found.label} text (near line {records.line_number + 1}). "
            f"{encoding.SAVE_AS}"
        ) from None
    finally:
        with suppress(ValueError):
            text.detach()
        binary.seek(0)
    return Header(records.delimiter, cells, records.labels, records.header_line, records.header_row)


def _known_numbers(region: str) -> Callable[[str], str]:
    """normalize_stripped() in ``region``, remembering the numbers it accepted (a number
    it refuses is asked again: the slow path gives each row its own reason)."""
    known: dict[str, str] = {}

    def normalize(text: str) -> str:
        e164 = known.get(text)
        if e164 is None:
            e164 = normalize_stripped(text, region)
            if len(known) >= KNOWN_NUMBERS:
                known.clear()
            known[text] = e164
        return e164

    return normalize


def _extra_json(labels: list[str], values: tuple[str, ...]) -> str:
    """json.dumps() of the non-empty extra cells by label, the same text at a quarter of
    the cost (json.dumps sets up an encoder per call)."""
    extra = {label: value for label, value in zip(labels, values, strict=False) if value}
    return "{" + ", ".join(f"{_json_str(k)}: {_json_str(v)}" for k, v in extra.items()) + "}"


class LeadFileReader:
    """Iterates the valid rows of a leads file as staging tuples; collects rejections."""

    def __init__(
        self,
        binary: IO[bytes],
        *,
        upload_id: int,
        mapping: dict[str, str] | None = None,
        found: encoding.Encoding | None = None,
        last_row: int | None = None,
        after: Header | None = None,
        part: bool = False,
    ) -> None:
        """``found``: the encoding, when already detected; ``last_row``: read no further
        than this row of the spreadsheet (the preview's check of the first rows).
        ``part``: ``binary`` is one part of a file, which may hold no row; ``after``: a
        part that starts after the file's header, its first record the row after
        ``after.row``."""
        self.binary = binary
        self.upload_id = upload_id
        self.mapping = mapping or {}
        self.stats = ReadStats()
        self.region = settings.PHONENUMBER_DEFAULT_REGION
        self.found = found
        self.last_row = last_row
        self.after = after
        self.part = part or after is not None
        self.read_to_end = False  # the whole file was read
        # Where the reading ended: the last record's row, and whether a record was still
        # open there (a part that ends inside a quote may not end where a record does).
        self.last_row_read = 0
        self.open_at_end = False

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        found = self.found or encoding.detect(self.binary)
        self.stats.encoding, self.stats.encoding_note = found.label, found.note
        text = io.TextIOWrapper(self.binary, encoding=found.codec, errors="strict", newline="")
        records = Records(text, self._reject_row)
        try:
            yield from self._rows(records)
        except UnicodeDecodeError:  # only UTF-16 is decoded unchecked
            raise FileRefused(
                f"The file is not {found.label} text (near line {records.line_number + 1}). "
                f"{encoding.SAVE_AS}"
            ) from None
        finally:
            with suppress(ValueError):  # already closed
                text.detach()  # the caller owns (and closes) the binary file

    def _reject(
        self, row_number: int, column: str, value: str, reason: str, kept: bool, original: str = ""
    ) -> None:
        self.stats.rejections.append(
            (
                self.upload_id,
                row_number,
                column[:64],
                shown(value[:100]),
                reason[:255],
                kept,
                "" if kept else shown(original),
            )
        )

    def _reject_row(
        self, row_number: int, column: str, value: str, reason: str, original: str
    ) -> None:
        """A row the file's grammar could not give (a quote left open, too long, a NUL)."""
        self.stats.rows_read += 1
        self.stats.rows_rejected += 1
        self._reject(row_number, column, value, reason, False, original)

    def _numbers(
        self, row_number: int, phone_raw: str, mobile_raw: str, original: str
    ) -> tuple[str, str] | None:
        """Both numbers in E.164 ('' when absent or bad), or None when the row has none."""
        phone = mobile = ""
        bad: list[tuple[str, str, str]] = []
        if phone_raw:
            try:
                phone = normalize_stripped(phone_raw, self.region)
            except InvalidPhoneNumber as exc:
                bad.append(("phone", phone_raw[:100], exc.reason))
        if mobile_raw:
            try:
                mobile = normalize_stripped(mobile_raw, self.region)
            except InvalidPhoneNumber as exc:
                bad.append(("mobile", mobile_raw[:100], exc.reason))
        if not bad and (phone or mobile):
            return phone, mobile
        kept = bool(phone or mobile)
        for column, raw, reason in bad:
            # The row's text goes with its first rejection only.
            self._reject(row_number, column, raw, reason, kept, original)
            original = ""
        if not kept and not bad:
            self._reject(row_number, "phone, mobile", "", "no phone number", False, original)
        return (phone, mobile) if kept else None

    def _rows(self, records: Records) -> Iterator[tuple[Any, ...]]:
        if self.after is None:
            header = records.header()
        else:
            header = self.after.cells
            records.resume(self.after.delimiter, self.after.labels, self.after.row)
            records.header_line = self.after.line
        stats = self.stats
        stats.delimiter, stats.header_line = records.delimiter, records.header_line
        columns = layout(header, self.mapping)
        stats.columns = columns.columns
        width = columns.width
        upload_id = self.upload_id
        # Missing columns read from one padding cell past the row's end, so the loop
        # below indexes without checks (this loop runs once per row of big files).
        i_first, i_last, i_name = map(columns.at, ("first_name", "last_name", "name"))
        i_email, i_company, i_title = map(columns.at, ("email", "company", "title"))
        i_phone, i_mobile = columns.at("phone"), columns.at("mobile")
        padding = [""] * (width + 1)
        labels = [label for _, label in columns.extras]
        # With the padding cell last, a row's extra cells come as a tuple even for one
        # extra column; a cheap any() over them skips the dict and JSON for most rows.
        extra_cells = itemgetter(*(p for p, _ in columns.extras), width)
        email_prefix, row_key = rules.EMAIL_KEY, rules.row_key
        normalize = _known_numbers(self.region)
        for row_number, cells, original in records.rows(self.last_row):
            length = len(cells)
            if length == width:
                cells.append("")
            elif length < width:
                cells += padding[length:]
            elif any(c.strip() for c in cells[width:]):
                stats.rows_read += 1
                stats.rows_rejected += 1
                reason = f"the row has {length} cells but the header has {width}"
                self._reject(row_number, "(row)", "", reason, False, original)
                continue
            else:
                cells = [*cells[:width], ""]
            stats.rows_read += 1
            phone_raw, mobile_raw = cells[i_phone].strip(), cells[i_mobile].strip()
            try:
                phone = normalize(phone_raw) if phone_raw else ""
                mobile = normalize(mobile_raw) if mobile_raw else ""
                numbers: tuple[str, str] | None = (phone, mobile) if phone or mobile else None
            except InvalidPhoneNumber:
                numbers = None
            if numbers is None:  # the rare row with a bad or no number
                numbers = self._numbers(row_number, phone_raw, mobile_raw, original)
                if numbers is None:
                    stats.rows_rejected += 1
                    continue
                phone, mobile = numbers
            email = cells[i_email].strip()
            if email and ("@" not in email or len(email) > 254 or " " in email):
                self._reject(row_number, "email", email[:100], "not an email address", True)
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
                email_prefix + email.lower()
                if email
                else row_key(name=name, company=company, phone=phone, mobile=mobile),
            )
        self.read_to_end = records.exhausted
        self.last_row_read, self.open_at_end = records.last_row, records.open_at_end
        if stats.rows_read == 0 and records.exhausted and not self.part:
            raise FileRefused("The file has a header but no rows.")
