"""Reading a leads file: encoding, delimiter, header mapping, and each row's cells.

No database here: the reader turns bytes into staged rows (tuples in ``STAGED_FIELDS``
order) and rejections, and the staging module writes them wherever the database wants.
"""

import csv
import io
from collections import deque
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii as _json_str
from operator import itemgetter
from typing import IO, Any

from django.conf import settings

import campaigns.ingest.encoding as encoding
import campaigns.ingest.rules as rules
from campaigns.ingest.errors import FileRefused
from campaigns.ingest.headers import detect_delimiter, layout
from crm.phones import InvalidPhoneNumber, normalize_stripped

__all__ = ["STAGED_FIELDS", "FileRefused", "LeadFileReader", "ReadStats"]

# A CSV line longer than this is not a lead: it is a binary file or a broken export, and
# refusing it keeps one "line" from filling memory.
MAX_LINE_CHARS = 64 * 1024
MAX_TEXT = 255
UNCLOSED_QUOTE = "unclosed quote: a cell opens a quote that no later cell closes"

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
REJECTION_FIELDS = ("upload_id", "row_number", "column", "value", "reason", "row_kept")


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
    columns: list[tuple[str, str]] = field(default_factory=list)


def _extra_json(labels: list[str], values: tuple[str, ...]) -> str:
    """json.dumps() of the non-empty extra cells by label, the same text at a quarter of
    the cost (json.dumps sets up an encoder per call)."""
    extra = {label: value for label, value in zip(labels, values, strict=False) if value}
    return "{" + ", ".join(f"{_json_str(k)}: {_json_str(v)}" for k, v in extra.items()) + "}"


class _Lines:
    """The file's lines for the CSV parser, checked one by one, remembering the lines of
    the record being parsed so that a record swallowed by an unclosed quote can be
    parsed again from its second line."""

    def __init__(self, text: IO[str]) -> None:
        self.readline = text.readline
        self.number = 0  # the physical line last handed out
        self.record: list[tuple[int, str]] = []
        self.replay: deque[tuple[int, str]] = deque()
        self.exhausted = False

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        if self.replay:
            self.number, line = self.replay.popleft()
        else:
            line = self._read()
        self.record.append((self.number, line))
        return line

    def _read(self) -> str:
        line = self.readline(MAX_LINE_CHARS + 1)
        if not line:
            self.exhausted = True
            raise StopIteration
        self.number += 1
        if len(line) > MAX_LINE_CHARS:
            raise FileRefused(
                f"Line {self.number} is longer than {MAX_LINE_CHARS:,} characters: "
                "this does not look like a leads CSV."
            )
        if "\x00" in line:  # text never holds one, and PostgreSQL text cannot
            raise FileRefused(
                f"Line {self.number} contains a NUL character: this is not a "
                f"text CSV. {encoding.SAVE_AS}"
            )
        return line

    def parse_again_after_first(self) -> None:
        """Hand out the current record's lines again, all but its first."""
        self.replay.extendleft(reversed(self.record[1:]))
        self.record.clear()


_UNCLOSED: list[str] = []  # a marker, compared by identity


def _quote_left_open(lines: list[tuple[int, str]], delimiter: str) -> bool:
    text = "".join(line for _, line in lines)
    try:
        for _ in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True):
            pass
    except csv.Error:
        return True
    return False


class LeadFileReader:
    """Iterates the valid rows of a leads file as staging tuples; collects rejections."""

    def __init__(self, binary: IO[bytes], *, upload_id: int) -> None:
        self.binary = binary
        self.upload_id = upload_id
        self.stats = ReadStats()
        self.region = settings.PHONENUMBER_DEFAULT_REGION

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        found = encoding.detect(self.binary)
        self.stats.encoding, self.stats.encoding_note = found.label, found.note
        text = io.TextIOWrapper(self.binary, encoding=found.codec, errors="strict", newline="")
        lines = _Lines(text)
        try:
            yield from self._rows(lines)
        except UnicodeDecodeError:  # only UTF-16 is decoded unchecked
            raise FileRefused(
                f"The file is not {found.label} text (near line {lines.number + 1}). "
                f"{encoding.SAVE_AS}"
            ) from None
        finally:
            with suppress(ValueError):  # already closed
                text.detach()  # the caller owns (and closes) the binary file

    def _header(self, lines: _Lines) -> tuple[Any, list[str], int]:
        """The CSV parser, the header's cells and the header's row in a spreadsheet
        (blank lines before it are rows too)."""
        for line in lines:
            if line.strip(" \t\r\n\ufeff,;|"):
                break
        else:
            raise FileRefused("The file is empty.")
        header_row = lines.number
        delimiter = detect_delimiter(line)
        self.stats.delimiter = delimiter
        lines.replay.append((lines.number, line))
        lines.record.clear()
        reader = csv.reader(lines, delimiter=delimiter)
        header = next(reader)
        lines.record.clear()
        return reader, header, header_row

    def _reject(self, row_number: int, column: str, value: str, reason: str, kept: bool) -> None:
        self.stats.rejections.append((self.upload_id, row_number, column, value, reason, kept))

    def _numbers(self, row_number: int, phone_raw: str, mobile_raw: str) -> tuple[str, str] | None:
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
            self._reject(row_number, column, raw, reason, kept)
        if not kept and not bad:
            self._reject(row_number, "phone, mobile", "", "no phone number", False)
        return (phone, mobile) if kept else None

    def _rows(self, lines: _Lines) -> Iterator[tuple[Any, ...]]:
        reader, header, header_row = self._header(lines)
        columns = layout(header)
        self.stats.columns = columns.columns
        width = columns.width
        stats, upload_id = self.stats, self.upload_id
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
        email_key, row_key = rules.email_key, rules.row_key
        record = lines.record

        next_record = reader.__next__
        row_number = header_row  # as a spreadsheet shows it
        while True:
            try:
                cells = next_record()
            except StopIteration:
                break
            except csv.Error as exc:  # a quoted cell past the parser's size limit
                if len(record) < 2:
                    raise FileRefused(f"Line {lines.number} is not valid CSV: {exc}.") from None
                cells = _UNCLOSED
            row_number += 1
            if len(record) > 1 and self._swallowed(cells, lines, width):
                self._reject_unclosed(row_number, lines)
                continue
            record.clear()
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
                reason = f"the row has {length} cells but the header has {width}"
                self._reject(row_number, "(row)", "", reason, False)
                continue
            else:
                cells = [*cells[:width], ""]
            stats.rows_read += 1
            phone_raw, mobile_raw = cells[i_phone].strip(), cells[i_mobile].strip()
            numbers = self._numbers(row_number, phone_raw, mobile_raw)
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
                email_key(email)
                if email
                else row_key(name=name, company=company, phone=phone, mobile=mobile),
            )
        if stats.rows_read == 0:
            raise FileRefused("The file has a header but no rows.")

    def _swallowed(self, cells: list[str], lines: _Lines, width: int) -> bool:
        """Whether a record of several lines is an unclosed quote that swallowed the
        lines after it (rather than a cell with line breaks, as notes have): its cells do
        not fit the header, a line inside it looks like a row, or it ends the file inside
        the quote."""
        if cells is _UNCLOSED or len(cells) < width:
            return True
        if any(cell.strip() for cell in cells[width:]):
            return True
        delimiter = self.stats.delimiter
        # A line inside the cell with as many delimiters as a row has is a row.
        if width > 1 and any(line.count(delimiter) >= width - 1 for _, line in lines.record[1:]):
            return True
        return lines.exhausted and _quote_left_open(lines.record, delimiter)

    def _reject_unclosed(self, row_number: int, lines: _Lines) -> None:
        self.stats.rows_read += 1
        self.stats.rows_rejected += 1
        first_line = lines.record[0][1].rstrip("\r\n")[:100]
        self._reject(row_number, "(row)", first_line, UNCLOSED_QUOTE, False)
        lines.parse_again_after_first()
