"""What text a leads file is: its encoding, decided before a row is read.

Exports arrive as UTF-8 (with a BOM from Excel's "CSV UTF-8", without from most
programs), UTF-16 with a BOM (Excel's "Unicode Text") and Windows-1252 (Excel's plain
"CSV" on Windows, Outlook). A UTF-8 check over the whole file costs a fraction of a
second per hundred megabytes, and settles the question before anything is staged: a
file that is not UTF-8 at line 400,000 is read as Windows-1252 from its first line.
"""

import codecs
import zipfile
from dataclasses import dataclass
from typing import IO

from campaigns.ingest.errors import FileRefused

SCAN_CHUNK = 1 << 20
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old .xls (and .doc) files
SAVE_AS = "Save it as “CSV UTF-8” and upload it again."
# What people upload by mistake, by the bytes it starts with.
KNOWN_FILES = (
    (b"%PDF-", "a PDF"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"{\\rtf", "a rich text (RTF) document"),
    (b"MZ", "a Windows program"),
    (b"\x7fELF", "a program"),
)
# Bytes no text holds (C0 controls other than tab, line feed, form feed and carriage
# return). A file with more than one in a hundred of them near its start is binary; a
# stray NUL in a cell is the cell's problem, not the file's.
BINARY_BYTES = bytes([*range(0, 9), 11, *range(14, 32)])
BINARY_SAMPLE = 64 * 1024


@dataclass(frozen=True)
class Encoding:
    codec: str  # the Python codec that reads it
    label: str  # as the receipt names it
    reason: str = ""  # why it was read so, when that is worth saying

    @property
    def note(self) -> str:
        return f"Read as {self.label}: {self.reason}." if self.reason else ""


UTF8 = Encoding("utf-8", "UTF-8")
UTF8_BOM = Encoding("utf-8-sig", "UTF-8 with BOM")
UTF16 = Encoding("utf-16", "UTF-16")


def detect(binary: IO[bytes]) -> Encoding:
    """The file's encoding; refuses what is not text. Leaves the file at its start."""
    sample = binary.read(BINARY_SAMPLE)
    binary.seek(0)
    head = sample[:8]
    _refuse_documents(head, binary)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return UTF16
    _refuse_binary(sample)
    bom = head.startswith(codecs.BOM_UTF8)
    bad_at = _first_non_utf8(binary)
    if bad_at is None:
        return UTF8_BOM if bom else UTF8
    line = _line_of(binary, bad_at)
    if bom or _first_non_cp1252(binary) is not None:
        raise FileRefused(f"The file is not UTF-8 text (line {line} is not). {SAVE_AS}")
    return Encoding("cp1252", "Windows-1252", f"line {line} is not UTF-8 text")


def _refuse_binary(sample: bytes) -> None:
    for magic, what in KNOWN_FILES:
        if sample.startswith(magic):
            raise FileRefused(f"This is {what}, not a CSV: upload the leads as “CSV UTF-8”.")
    if len(sample) - len(sample.translate(None, BINARY_BYTES)) > max(3, len(sample) // 100):
        raise FileRefused(
            "This is a binary file, not a CSV: upload the leads saved as “CSV UTF-8”."
        )


def _refuse_documents(head: bytes, binary: IO[bytes]) -> None:
    if head.startswith(OLE2_MAGIC):
        raise FileRefused(
            "This is an Excel 97-2003 workbook (.xls), not a CSV: save it as “CSV UTF-8”."
        )
    if not head.startswith(b"PK\x03\x04"):
        return
    try:
        names = zipfile.ZipFile(binary).namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        names = []
    finally:
        binary.seek(0)
    if any(name.startswith("xl/") for name in names):
        raise FileRefused("This is an Excel workbook (.xlsx), not a CSV: save it as “CSV UTF-8”.")
    if any(name.startswith("word/") for name in names):
        raise FileRefused("This is a Word document, not a CSV: save the leads as “CSV UTF-8”.")
    raise FileRefused("This is a ZIP archive, not a CSV: unpack it and upload the CSV inside.")


def _first_non_utf8(binary: IO[bytes]) -> int | None:
    """The offset of the first byte that is not UTF-8, or None when all of it is."""
    return _first_undecodable(binary, "utf-8")


def _first_non_cp1252(binary: IO[bytes]) -> int | None:
    return _first_undecodable(binary, "cp1252")


def _first_undecodable(binary: IO[bytes], codec: str) -> int | None:
    decoder = codecs.getincrementaldecoder(codec)()
    offset = 0
    try:
        while chunk := binary.read(SCAN_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return offset + exc.start
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return offset + exc.start
        return None
    finally:
        binary.seek(0)


def _line_of(binary: IO[bytes], offset: int) -> int:
    """The 1-based line holding byte ``offset``."""
    lines, read = 1, 0
    try:
        while read < offset:
            chunk = binary.read(min(SCAN_CHUNK, offset - read))
            if not chunk:
                break
            lines += chunk.count(b"\n")
            read += len(chunk)
        return lines
    finally:
        binary.seek(0)
