"""The first rows of a stored file as the import would read them, before it runs.

The admin shows this so a person can check the encoding and delimiter and correct how a
column is read; no database here.
"""

import csv
import io
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
    detect_delimiter,
    header_key,
    layout,
)

PREVIEW_ROWS = 8
PREVIEW_CHARS = 256 * 1024  # enough text for the header and the first rows


@dataclass
class PreviewColumn:
    header: str  # as in the file (a mapping's key)
    label: str  # as shown ("Column 3" when the header is empty)
    choice: str  # one of headers.CHOICES
    samples: list[str] = field(default_factory=list)


@dataclass
class Preview:
    encoding: str
    encoding_reason: str
    delimiter: str
    columns: list[PreviewColumn]
    rows: int  # how many sample rows each column shows
    do_not_call: int = 0  # the file's numbers on the do-not-call list (campaigns/dnc.py)

    @property
    def delimiter_name(self) -> str:
        return DELIMITERS[self.delimiter]


def _choice(read_as: str) -> str:
    if read_as == EXTRA:
        return "extra"
    if read_as == IGNORED:
        return IGNORE
    return read_as


def preview(binary: IO[bytes], *, remembered: dict[str, str] | None = None) -> Preview:
    """The file's first rows, each column with the choice the import would make: the one
    remembered for its header, else the one its spelling suggests. Refuses as the
    import would (not text, no header)."""
    found = encoding.detect(binary)
    raw = binary.read(PREVIEW_CHARS * 4)
    binary.seek(0)
    text = raw.decode(found.codec, errors="replace")[:PREVIEW_CHARS]
    lines = io.StringIO(text, newline="")
    for line in lines:
        if line.strip(" \t\r\n\ufeff,;|"):
            break
    else:
        raise FileRefused("The file is empty.")
    delimiter = detect_delimiter(line)
    reader = csv.reader(lines, delimiter=delimiter)
    header = next(csv.reader([line], delimiter=delimiter))
    samples = [row for row in islice(reader, PREVIEW_ROWS * 3) if any(c.strip() for c in row)]
    samples = samples[:PREVIEW_ROWS]
    known = {header_key(h): v for h, v in (remembered or {}).items()}
    mapping = {h: known[header_key(h)] for h in header if header_key(h) in known}
    try:
        read = [read_as for _, read_as in layout(header, mapping).columns]
    except FileRefused:  # no number column yet: the person chooses one
        read = [mapping.get(h, "extra") for h in header]
    columns = [
        PreviewColumn(
            header=cell.strip(),
            label=cell.strip() or f"Column {i + 1}",
            choice=_choice(read_as),
            samples=[row[i].strip() if i < len(row) else "" for row in samples],
        )
        for i, (cell, read_as) in enumerate(zip(header, read, strict=True))
    ]
    return Preview(
        encoding=found.label,
        encoding_reason=found.reason,
        delimiter=delimiter,
        columns=columns,
        rows=len(samples),
    )
