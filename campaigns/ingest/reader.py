"""Reading a leads file: encoding, delimiter, header mapping, and each row's cells.

No database here: the reader turns bytes into staged rows (tuples in ``STAGED_FIELDS``
order) and rejections, and the staging module writes them wherever the database wants.
"""

import csv
import io
from collections.abc import Generator, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii as _json_str
from operator import itemgetter
from typing import IO, Any

from django.conf import settings

import campaigns.ingest.encoding as encoding
import campaigns.ingest.rules as rules
from campaigns.ingest.errors import FileRefused
from campaigns.ingest.headers import Layout, detect_delimiter, layout
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
    """The file's lines for the CSV parser, checked one by one. The lines since the last
    ``forget()`` stay at hand (with their numbers), so that a record an unclosed quote
    made of several lines can be parsed again from its second line."""

    def __init__(self, text: IO[str]) -> None:
        self.recent: list[tuple[int, str]] = []
        self.exhausted = False
        self.source = self._read(text)

    @property
    def number(self) -> int:
        """The physical line last read (0 before the first)."""
        return self.recent[-1][0] if self.recent else self._forgotten

    _forgotten = 0

    def forget(self) -> None:
        if self.recent:
            self._forgotten = self.recent[-1][0]
        self.recent.clear()

    def _read(self, text: IO[str]) -> Iterator[str]:
        readline, keep = text.readline, self.recent.append
        number = 0
        while line := readline(MAX_LINE_CHARS + 1):
            number += 1
            if len(line) > MAX_LINE_CHARS:
                raise FileRefused(
                    f"Line {number} is longer than {MAX_LINE_CHARS:,} characters: "
                    "this does not look like a leads CSV."
                )
            if "\x00" in line:  # text never holds one, and PostgreSQL text cannot
                raise FileRefused(
                    f"Line {number} contains a NUL character: this is not a "
                    f"text CSV. {encoding.SAVE_AS}"
                )
            keep((number, line))
            yield line
        self.exhausted = True

    def again(self, lines: list[tuple[int, str]]) -> Iterator[str]:
        """``lines`` once more, then the rest of the file."""
        keep = self.recent.append
        for number, line in lines:
            keep((number, line))
            yield line
        yield from self.source


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

    def __init__(
        self, binary: IO[bytes], *, upload_id: int, mapping: dict[str, str] | None = None
    ) -> None:
        self.binary = binary
        self.upload_id = upload_id
        self.mapping = mapping or {}
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
        for line in lines.source:
            if line.strip(" \t\r\n\ufeff,;|"):
                break
        else:
            raise FileRefused("The file is empty.")
        header_row = lines.number
        delimiter = detect_delimiter(line)
        self.stats.delimiter = delimiter
        read_again = lines.recent[-1:]
        lines.forget()
        reader = csv.reader(lines.again(read_again), delimiter=delimiter)
        header = next(reader)
        lines.forget()
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
        reader, header, row_number = self._header(lines)
        columns = layout(header, self.mapping)
        self.stats.columns = columns.columns
        while reader is not None:
            # Only after an unclosed quote does this go round again, with a new parser.
            reader, row_number = yield from self._parse(reader, lines, columns, row_number)
        if self.stats.rows_read == 0:
            raise FileRefused("The file has a header but no rows.")

    def _parse(
        self, reader: Any, lines: _Lines, columns: Layout, row_number: int
    ) -> Generator[tuple[Any, ...], None, tuple[Any, int]]:
        """The rows the parser gives, staged. Returns at the end of the file, or with a
        new parser and the row reached when an unclosed quote swallowed lines."""
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
        email_prefix, row_key = rules.EMAIL_KEY, rules.row_key
        normalize, region = normalize_stripped, self.region
        recent, forget = lines.recent, lines.forget
        last_line = reader.line_num
        try:
            for cells in reader:
                row_number += 1
                # A record of several lines is a cell with line breaks, or an unclosed quote.
                consumed = reader.line_num - last_line
                if consumed > 1 and self._swallowed(
                    cells, recent[-consumed:], width, lines.exhausted
                ):
                    return self._read_again_after(row_number, recent[-consumed:], lines), row_number
                last_line = reader.line_num
                if len(recent) > 1024:
                    forget()
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
                try:
                    phone = normalize(phone_raw, region) if phone_raw else ""
                    mobile = normalize(mobile_raw, region) if mobile_raw else ""
                    numbers: tuple[str, str] | None = (phone, mobile) if phone or mobile else None
                except InvalidPhoneNumber:
                    numbers = None
                if numbers is None:  # the rare row with a bad or no number
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
                    email_prefix + email.lower()
                    if email
                    else row_key(name=name, company=company, phone=phone, mobile=mobile),
                )
        except csv.Error as exc:  # a quoted cell past the parser's size limit
            consumed = reader.line_num - last_line
            if consumed < 2:
                raise FileRefused(f"Line {lines.number} is not valid CSV: {exc}.") from None
            record = recent[-consumed:]
            return self._read_again_after(row_number + 1, record, lines), row_number + 1
        return None, row_number

    def _swallowed(
        self, cells: list[str], record: list[tuple[int, str]], width: int, at_end: bool
    ) -> bool:
        """Whether a record of several lines is an unclosed quote that swallowed the
        lines after it (rather than a cell with line breaks, as notes have): its cells do
        not fit the header, a line inside it looks like a row, or it ends the file inside
        the quote."""
        if len(cells) < width or any(cell.strip() for cell in cells[width:]):
            return True
        delimiter = self.stats.delimiter
        # A line inside the cell with as many delimiters as a row has is a row.
        if width > 1 and any(line.count(delimiter) >= width - 1 for _, line in record[1:]):
            return True
        return at_end and _quote_left_open(record, delimiter)

    def _read_again_after(
        self, row_number: int, record: list[tuple[int, str]], lines: _Lines
    ) -> Any:
        """Reject the unclosed quote's row; a new parser reads the lines after its first."""
        self.stats.rows_read += 1
        self.stats.rows_rejected += 1
        first_line = record[0][1].rstrip("\r\n")[:100]
        self._reject(row_number, "(row)", first_line, UNCLOSED_QUOTE, False)
        lines.forget()
        return csv.reader(lines.again(record[1:]), delimiter=self.stats.delimiter)
