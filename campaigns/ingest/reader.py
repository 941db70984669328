"""Reading a leads file: encoding, CSV shape, header mapping, and each row's cells.

No database here: the reader turns bytes into staged rows (tuples in ``STAGED_FIELDS``
order) and rejections, and the staging module writes them wherever the database wants.
"""

import codecs
import csv
import io
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii as _json_str
from operator import itemgetter
from typing import IO, Any

from django.conf import settings

import campaigns.ingest.rules as rules
from crm.phones import InvalidPhoneNumber, normalize_stripped

# A CSV line longer than this is not a lead: it is a binary file or a broken export, and
# refusing it keeps one "line" from filling memory.
MAX_LINE_CHARS = 64 * 1024
KNOWN_COLUMNS = ("first_name", "last_name", "name", "email", "company", "title", "phone", "mobile")
NUMBER_COLUMNS = ("phone", "mobile")
MAX_TEXT = 255

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


def header_key(cell: str) -> str:
    key = "_".join(cell.strip().lower().replace("-", " ").split())
    return HEADER_ALIASES.get(key, key)


def _extra_json(labels: list[str], values: tuple[str, ...]) -> str:
    """json.dumps() of the non-empty extra cells by label, the same text at a quarter of
    the cost (json.dumps sets up an encoder per call)."""
    extra = {label: value for label, value in zip(labels, values, strict=False) if value}
    return "{" + ", ".join(f"{_json_str(k)}: {_json_str(v)}" for k, v in extra.items()) + "}"


@dataclass
class _Layout:
    """Where each known column sits in a row; missing ones point at a padding cell."""

    width: int
    index: dict[str, int]
    extras: list[tuple[int, str]]

    def at(self, column: str) -> int:
        return self.index.get(column, self.width)


def _layout(header: list[str]) -> _Layout:
    keys = [header_key(cell) for cell in header]
    index: dict[str, int] = {}
    for position, key in enumerate(keys):
        if key in KNOWN_COLUMNS:
            if key in index:
                raise FileRefused(f"The column “{key}” appears twice in the header.")
            index[key] = position
    if not any(column in index for column in NUMBER_COLUMNS):
        found = ", ".join(cell.strip() for cell in header if cell.strip())[:200]
        raise FileRefused(f"The file has no “phone” or “mobile” column (the header has: {found}).")
    extras = [
        (position, header[position].strip())
        for position, key in enumerate(keys)
        if key and key not in index
    ]
    return _Layout(width=len(header), index=index, extras=extras)


class LeadFileReader:
    """Iterates the valid rows of a leads file as staging tuples; collects rejections."""

    def __init__(self, binary: IO[bytes], *, upload_id: int) -> None:
        self.binary = binary
        self.upload_id = upload_id
        self.stats = ReadStats()
        self.region = settings.PHONENUMBER_DEFAULT_REGION
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

    def _header(self, reader: Any) -> list[str]:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)
        if header is None:
            raise FileRefused("The file is empty.")
        return list(header)

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

    def _rows(self, reader: Any) -> Iterator[tuple[Any, ...]]:
        header = self._header(reader)
        layout = _layout(header)
        width = layout.width
        stats, upload_id = self.stats, self.upload_id
        # Missing columns read from one padding cell past the row's end, so the loop
        # below indexes without checks (this loop runs once per row of big files).
        i_first, i_last, i_name = map(layout.at, ("first_name", "last_name", "name"))
        i_email, i_company, i_title = map(layout.at, ("email", "company", "title"))
        i_phone, i_mobile = layout.at("phone"), layout.at("mobile")
        padding = [""] * (width + 1)
        labels = [label for _, label in layout.extras]
        # With the padding cell last, a row's extra cells come as a tuple even for one
        # extra column; a cheap any() over them skips the dict and JSON for most rows.
        extra_cells = itemgetter(*(p for p, _ in layout.extras), width)
        email_key, row_key = rules.email_key, rules.row_key

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
