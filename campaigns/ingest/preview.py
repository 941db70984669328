"""The first rows of a stored file as the import would read them, before it runs.

The admin shows this so a person can check the encoding and delimiter and correct how a
column is read; no database here.
"""

import io
from contextlib import suppress
from dataclasses import dataclass, field
from itertools import islice
from typing import IO

import campaigns.ingest.encoding as encoding
from campaigns.ingest.errors import FileRefused
from campaigns.ingest.headers import (
    DELIMITERS,
    EXTRA,
    IGNORE,
    IGNORED,
    header_key,
    layout,
)
from campaigns.ingest.reader import LeadFileReader
from campaigns.ingest.records import Records

PREVIEW_ROWS = 8
# The rows the preview reads as the import will, to say before it runs what it refuses.
CHECKED_ROWS = 1_000


@dataclass
class PreviewColumn:
    header: str  # as in the file (a mapping's key)
    label: str  # as shown ("Column 3" when the header is empty)
    choice: str  # one of headers.CHOICES
    samples: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Problem:
    """What the import will say about a cell or a row of the rows checked."""

    row: int
    column: str
    value: str
    reason: str
    kept: bool  # the row is imported, this cell dropped


@dataclass
class Preview:
    encoding: str
    encoding_reason: str
    delimiter: str
    columns: list[PreviewColumn]
    rows: int  # how many sample rows each column shows
    problems: list[Problem] = field(default_factory=list)
    rows_checked: int = 0  # rows the import would count, of the first CHECKED_ROWS
    checked_all: bool = False  # the check read the whole file
    checked: bool = False  # False until a column is read as a number
    do_not_call: int = 0  # the file's numbers on the do-not-call list (campaigns/dnc.py)

    @property
    def delimiter_name(self) -> str:
        return DELIMITERS[self.delimiter]

    @property
    def refused(self) -> list[Problem]:
        return [p for p in self.problems if not p.kept]


def _choice(read_as: str) -> str:
    if read_as == EXTRA:
        return "extra"
    if read_as == IGNORED:
        return IGNORE
    return read_as


def _first_rows(
    binary: IO[bytes], found: encoding.Encoding
) -> tuple[str, list[str], list[list[str]]]:
    """The delimiter, the header and the first non-blank rows, read as the import reads
    them."""
    text = io.TextIOWrapper(binary, encoding=found.codec, errors="replace", newline="")
    try:
        records = Records(text, lambda *rejected: None)
        header = records.header()
        samples = [cells for _, cells, _ in islice(records.rows(), PREVIEW_ROWS)]
    finally:
        with suppress(ValueError):
            text.detach()
        binary.seek(0)
    return records.delimiter, header, samples


def _check(
    binary: IO[bytes], found: encoding.Encoding, mapping: dict[str, str], preview: Preview
) -> None:
    """Read the first rows as the import will and note what it will say about them."""
    reader = LeadFileReader(
        binary, upload_id=0, mapping=mapping, found=found, last_row=CHECKED_ROWS + 1
    )
    try:
        for _ in reader:
            pass
    finally:
        binary.seek(0)
    preview.problems = [
        Problem(row=r[1], column=r[2], value=r[3], reason=r[4], kept=r[5])
        for r in reader.stats.rejections
    ]
    preview.rows_checked = reader.stats.rows_read
    preview.checked_all = reader.read_to_end
    preview.checked = True


def preview(
    binary: IO[bytes],
    *,
    remembered: dict[str, str] | None = None,
    mapping: dict[str, str] | None = None,
) -> Preview:
    """The file's first rows, each column with the choice the import would make (as
    ``mapping`` says, else as remembered for its header, else as its spelling suggests),
    and what the import will refuse in its first ``CHECKED_ROWS`` rows. Refuses as the
    import would (not text, no header)."""
    found = encoding.detect(binary)
    delimiter, header, samples = _first_rows(binary, found)
    if mapping is None:
        known = {header_key(h): v for h, v in (remembered or {}).items()}
        mapping = {h.strip(): known[header_key(h)] for h in header if header_key(h) in known}
    try:
        read = [read_as for _, read_as in layout(header, mapping).columns]
        readable = True
    except FileRefused:  # no number column yet: the person chooses one
        read = [mapping.get(h.strip(), "extra") for h in header]
        readable = False
    columns = [
        PreviewColumn(
            header=cell.strip(),
            label=cell.strip() or f"Column {i + 1}",
            choice=_choice(read_as),
            samples=[row[i].strip() if i < len(row) else "" for row in samples],
        )
        for i, (cell, read_as) in enumerate(zip(header, read, strict=True))
    ]
    shown = Preview(
        encoding=found.label,
        encoding_reason=found.reason,
        delimiter=delimiter,
        columns=columns,
        rows=len(samples),
    )
    if readable:  # without a number column there is nothing to check yet
        _check(binary, found, mapping, shown)
    return shown
