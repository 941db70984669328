"""A CSV text's records, numbered as a spreadsheet numbers its rows.

RFC 4180: a quoted cell may hold delimiters and line breaks, so one row (record) may span
several lines of the file; Python's csv module parses that as long as it is given the
lines with their endings untouched (``newline=""``). What this module adds is what a
person's file needs beyond the grammar, one row at a time:

- **Row numbers** are the spreadsheet's: the header's row counts the blank lines above it,
  and a row holding a quoted line break is still one row.
- **A quote left open** makes the parser swallow the lines after it. A record of several
  lines that is not valid RFC 4180 (checked strictly), or that ends the file inside its
  quote, is that: its row is rejected and the lines after its first are read as rows
  again.
- **Size**: a record (a row with all its lines) of more than ``MAX_RECORD_CHARS`` is
  rejected as one row and the lines after its first read again; memory holds one record
  at most, whatever the file's size.
- **NUL**: no text holds one (and PostgreSQL text cannot); the row holding it is
  rejected, naming the column.
"""

import csv
import io
from collections import deque
from collections.abc import Callable, Iterator
from typing import IO

from campaigns.ingest.errors import FileRefused
from campaigns.ingest.headers import detect_delimiter

# A leads row is a few hundred characters; a long note a few thousand. A megabyte is a
# quote left open or a file that is no CSV, and one record is all memory ever holds.
MAX_RECORD_CHARS = 1 << 20
# The parser refuses a cell past its field limit (131,072 by default): a cell may be as
# long as a record is allowed to be. The limit is the process's; this only ever raises it.
if csv.field_size_limit() < MAX_RECORD_CHARS:
    csv.field_size_limit(MAX_RECORD_CHARS)

UNCLOSED_QUOTE = "unclosed quote: a cell opens a quote that no later cell closes"
TOO_LONG = (
    f"the row is longer than {MAX_RECORD_CHARS:,} characters "
    "(a quote left open, or a cell that is no lead's)"
)
HAS_NUL = "the cell holds a NUL character, which no text has: delete it"
# How a rejection shows a NUL (which a database text column cannot hold): the symbol for it.
NUL_SHOWN = "\u2400"

# row number, column, value, reason, the row's original text
Reject = Callable[[int, str, str, str, str], None]


def shown(text: str) -> str:
    """``text`` as a rejection stores it: a NUL as its visible symbol."""
    return text.replace("\x00", NUL_SHOWN)


class _TooLong(Exception):
    """The record being read passed MAX_RECORD_CHARS."""


class _Lines:
    """The file's lines for the parser, the current record's lines kept at hand."""

    def __init__(self, text: IO[str]) -> None:
        self.text = text
        self.record: list[str] = []  # the lines of the record being parsed
        self.again: deque[str] = deque()  # lines to give the parser once more
        self.number = 0  # physical lines read from the file
        # Set when a NUL was read or the file ended: the record then gets a closer look.
        self.unusual = False
        self.exhausted = False

    def parser(self, delimiter: str) -> "Iterator[list[str]]":
        return csv.reader(self._read(), delimiter=delimiter)

    def _read(self) -> Iterator[str]:
        readline, record, again = self.text.readline, self.record, self.again
        keep, limit = record.append, MAX_RECORD_CHARS
        held = 0
        while True:
            if again:
                line = again.popleft()
            else:
                # Never more than the limit at once: a file of one endless line is read
                # in pieces, not into memory.
                line = readline(limit + 1)
                if not line:
                    self.exhausted = self.unusual = True
                    return
                self.number += 1
            if not record:  # a new record
                held = 0
            held += len(line)
            keep(line)
            if "\x00" in line:
                self.unusual = True
            if held > limit:
                raise _TooLong
            yield line

    def skip_rest_of_line(self) -> None:
        """After a piece of an overlong line: read on to its end, a piece at a time."""
        if self.record and not self.record[-1].endswith(("\n", "\r")):
            self.record.pop()
            while piece := self.text.readline(MAX_RECORD_CHARS):
                if piece.endswith(("\n", "\r")):
                    break


def _valid(lines: list[str], delimiter: str) -> bool:
    """Whether a record is valid RFC 4180 read strictly: every quote closes before the
    text ends, and a closing quote is followed by a delimiter or the line's end."""
    text = "".join(lines)
    try:
        for _ in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True):
            pass
    except csv.Error:
        return False
    return True


class Records:
    """The header, then each non-blank row as (row number, cells, original text).

    Rows that cannot be read (a quote left open, too long, a NUL) are passed to
    ``reject`` instead; ``reading()`` is what the parser is doing now (for messages).
    """

    def __init__(self, text: IO[str], reject: Reject) -> None:
        self.lines = _Lines(text)
        self.reject = reject
        self.delimiter = ","
        self.header_row = 0  # the header's row in a spreadsheet
        self.header_line = ""  # the header as it is in the file
        self.labels: list[str] = []
        self._parser: Iterator[list[str]] | None = None
        # A record reached the end of the text unreadable (a quote still open there): when
        # the text is one part of a file, that record may go on in the next part.
        self.open_at_end = False
        self.last_row = 0  # the spreadsheet row of the last record read

    @property
    def line_number(self) -> int:
        return self.lines.number

    @property
    def exhausted(self) -> bool:
        return self.lines.exhausted

    def header(self) -> list[str]:
        lines = self.lines
        source = lines._read()
        try:
            for line in source:
                if line.strip(" \t\r\n\ufeff,;|"):
                    break
                lines.record.clear()
            else:
                raise FileRefused("The file is empty.")
            self.header_row = lines.number
            self.delimiter = detect_delimiter(line)
            lines.record.clear()
            lines.again.append(line)
            self._parser = csv.reader(source, delimiter=self.delimiter)
            cells = next(self._parser)
        except _TooLong:
            raise FileRefused(
                f"The header row is longer than {MAX_RECORD_CHARS:,} characters: "
                "this is not a leads CSV."
            ) from None
        if len(lines.record) > 1 and not _valid(lines.record, self.delimiter):
            raise FileRefused("The header row opens a quote that no cell closes.")
        if any("\x00" in cell for cell in cells):
            raise FileRefused("The header row holds a NUL character: this is not a text CSV.")
        self.header_line = "".join(lines.record)
        lines.record.clear()
        lines.unusual = lines.exhausted
        self.labels = [cell.strip() or f"Column {i + 1}" for i, cell in enumerate(cells)]
        return cells

    def resume(self, delimiter: str, labels: list[str], row: int) -> None:
        """Read a part of a file that starts after its header (already read, with
        ``delimiter`` and ``labels``): its records are the rows after ``row``."""
        self.delimiter, self.labels, self.header_row = delimiter, labels, row
        self._parser = self.lines.parser(delimiter)

    def rows(self, last_row: int | None = None) -> Iterator[tuple[int, list[str], str]]:
        """Each non-blank row after the header, up to ``last_row`` (a spreadsheet's row)."""
        lines, row = self.lines, self.header_row
        record = lines.record
        last = last_row if last_row is not None else 1 << 62
        parser = self._parser
        try:
            while parser is not None:
                try:
                    for cells in parser:
                        row += 1
                        if row > last:
                            return
                        if len(record) > 1 or lines.unusual:
                            original = "".join(record)
                            if not self._readable(row, cells):
                                parser = self._after_unreadable()
                                break
                        else:
                            original = record[0]
                        record.clear()
                        if any(cells):
                            yield row, cells, original
                    else:
                        return
                except _TooLong:
                    row += 1
                    self.reject(row, "(row)", record[0][:100], TOO_LONG, "")
                    lines.skip_rest_of_line()
                    parser = self._after_unreadable()
                except csv.Error as exc:  # the grammar alone: any other trouble is handled above
                    row += 1
                    self.open_at_end |= lines.exhausted
                    self.reject(row, "(row)", record[0][:100] if record else "", f"{exc}", "")
                    parser = self._after_unreadable()
        finally:
            self.last_row = min(row, last)

    def _readable(self, row: int, cells: list[str]) -> bool:
        """False for a record that swallowed lines (rejected); a row with a NUL is
        rejected here too, but its record was read right (True, and no cells)."""
        lines, record = self.lines, self.lines.record
        if (len(record) > 1 or lines.exhausted) and not _valid(record, self.delimiter):
            self.open_at_end |= lines.exhausted
            self.reject(row, "(row)", record[0].rstrip("\r\n")[:100], UNCLOSED_QUOTE, record[0])
            return False
        lines.unusual = lines.exhausted
        for i, cell in enumerate(cells):
            if "\x00" in cell:
                column = self.labels[i] if i < len(self.labels) else f"Column {i + 1}"
                self.reject(row, column, cell[:100], HAS_NUL, "".join(record))
                cells.clear()
                break
        return True

    def _after_unreadable(self) -> Iterator[list[str]]:
        """A new parser, reading the lines after the rejected record's first again."""
        lines = self.lines
        lines.again.extendleft(reversed(lines.record[1:]))
        lines.record.clear()
        lines.unusual = lines.exhausted
        return lines.parser(self.delimiter)
