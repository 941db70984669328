"""Reading a file in parts, one worker process per core, so staging uses every core.

Reading a row (RFC 4180, both numbers normalised, the dedup key) is Python: one process
reads at one core's speed while the other core waits (``docs/profiles/ingest.md`` has
its share of an import). So a file is cut at
line boundaries into one part per core, a forked worker reads each part with the same
:class:`~campaigns.ingest.reader.LeadFileReader` as a whole file is read, and sends its
rows as ready COPY text, with its rejections, to the importing process, which COPYs
them in the database connection (its transaction) and saves the progress.

A part is read exactly as the whole file would be, given where its rows start:

- **Where a part starts.** The cut is after a line break; if a quoted cell's line break
  sits there, the part before it ends inside an open quote, which its reader notices
  (``open_at_end``); the parts are then thrown away and the file read whole, in one
  process (a file with a quote left open near a cut pays the reading twice).
- **Row numbers.** A part's rows are numbered from the lines before it (one row a line
  when no record spans lines, counted in bytes before the workers start). Where the part
  before it held records of several lines, its reader ends on a smaller row, and the next
  parts' rows (staged and rejected) are renumbered by the difference in one UPDATE.
- **Encodings.** Only files read as UTF-8 or Windows-1252 are cut (a line break is one
  byte there, and the encoding was checked over the whole file before): a UTF-16 file,
  and any file on a storage without a file descriptor, is read in one process.

A worker that dies or fails fails the import (nothing of it is imported, as for any
failed import); an importing process that dies takes its workers with it
(``PR_SET_PDEATHSIG``), or they stop at their next write to its closed pipe.
"""

import contextlib
import ctypes
import gc
import io
import os
import signal
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice, pairwise
from multiprocessing import Pipe
from multiprocessing.connection import Connection, wait
from typing import IO, Any

import campaigns.ingest.encoding as encoding
from campaigns.ingest.errors import FileRefused
from campaigns.ingest.reader import STAGED_FIELDS, Header, LeadFileReader

# Smaller files are read in one process: a fork and its pipe cost more than they save.
MIN_BYTES = 1 << 20
MAX_PARTS = 4
# Rows per message from a worker: a few megabytes of COPY text at most.
MESSAGE_ROWS = 10_000
SCAN_CHUNK = 1 << 20

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_TABS = len(STAGED_FIELDS) - 1


def copy_text(rows: list[tuple[Any, ...]]) -> bytes:
    """Staged rows as COPY's text format (no value is NULL; a row with a NUL never gets
    here). A row is joined once and escaped only when it holds a character to escape."""
    lines: list[str] = []
    append = lines.append
    for row in rows:
        line = "\t".join(map(str, row))
        if line.count("\t") != _TABS or "\\" in line or "\n" in line or "\r" in line:
            line = "\t".join(str(value).translate(_ESCAPES) for value in row)
        append(line)
    lines.append("")
    return "\n".join(lines).encode()


@dataclass(frozen=True)
class Part:
    start: int  # byte offsets in the file
    end: int
    # None for the first part (it reads the header); for the others, the header with the
    # row the part's first record follows (predicted: lines before it).
    after: Header | None
    codec: str


@dataclass
class Message:
    """What a worker sends: a batch of rows, then its end (``done``)."""

    part: int
    copy: bytes = b""
    rows: int = 0
    rejections: list[tuple[Any, ...]] = field(default_factory=list)
    rows_read: int = 0  # the part's, so far
    rows_rejected: int = 0
    position: int = 0  # the byte offset its reading reached
    done: bool = False
    last_row: int = 0
    open_at_end: bool = False
    refused: str = ""
    error: str = ""


class _Slice(io.RawIOBase):
    """Bytes ``start`` to ``end`` of a file descriptor, read with pread: each worker keeps
    its own position in the one open file it inherited."""

    def __init__(self, fd: int, start: int, end: int) -> None:
        self.fd, self.position, self.end = fd, start, end

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), self.end - self.position)
        if size <= 0:
            return 0
        data = os.pread(self.fd, size, self.position)
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _lines_before(fd: int, offset: int) -> int:
    """Line breaks in the first ``offset`` bytes, as a text reader with universal line
    endings counts them (``\\n``, ``\\r\\n`` and a lone ``\\r``)."""
    lines, position, carried_cr = 0, 0, False
    while position < offset:
        chunk = os.pread(fd, min(SCAN_CHUNK, offset - position), position)
        if not chunk:
            break
        if carried_cr and chunk.startswith(b"\n"):
            lines -= 1  # that \r\n was counted once for its \r
        lines += chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
        carried_cr = chunk.endswith(b"\r")
        position += len(chunk)
    return lines


def _cut_after(fd: int, offset: int, end: int) -> int | None:
    """The offset just past the first line feed at or after ``offset``."""
    position = offset
    while position < end:
        chunk = os.pread(fd, min(1 << 16, end - position), position)
        if not chunk:
            return None
        found = chunk.find(b"\n")
        if found >= 0:
            return position + found + 1
        position += len(chunk)
    return None


def plan(
    binary: IO[bytes], found: encoding.Encoding, header: Header, parts: int
) -> list[Part] | None:
    """The file's parts (``header`` read from its start), or None when it is read in one
    process."""
    if found.codec not in ("utf-8", "utf-8-sig", "cp1252") or parts < 2:
        return None
    try:
        fd = binary.fileno()
        size = os.fstat(fd).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None
    if size < MIN_BYTES:
        return None
    # A cut inside the header (or the blank lines above it) makes the first part's reader
    # refuse its header: the file is then read whole. This keeps it from happening.
    header_bytes = len(header.line.encode(found.codec)) + 3
    cuts = [0]
    for k in range(1, parts):
        cut = _cut_after(fd, max(size * k // parts, cuts[-1] + 1, header_bytes), size)
        if cut is None or cut >= size:
            break
        cuts.append(cut)
    if len(cuts) < 2:
        return None
    cuts.append(size)
    # Later parts are decoded from their first byte: no BOM there.
    codec = "utf-8" if found.codec == "utf-8-sig" else found.codec
    result = [Part(0, cuts[1], None, found.codec)]
    for start, end in pairwise(cuts[1:]):
        row = _lines_before(fd, start)
        after = Header(header.delimiter, header.cells, header.labels, header.line, row)
        result.append(Part(start, end, after, codec))
    return result


# --- The worker ---------------------------------------------------------------------------


def part_reader(
    fd: int, part: Part, upload_id: int, mapping: dict
) -> tuple[LeadFileReader, "_Slice"]:
    """The reader of one part, and its bytes (their position is how far it has read, a
    buffer ahead)."""
    raw = _Slice(fd, part.start, part.end)
    binary = io.BufferedReader(raw, buffer_size=1 << 20)
    found = encoding.Encoding(part.codec, part.codec)
    reader = LeadFileReader(
        binary, upload_id=upload_id, mapping=mapping, found=found, after=part.after, part=True
    )
    return reader, raw


def renumbering(plan: list[Part], last_rows: list[int]) -> list[tuple[int, int | None, int]]:
    """How to renumber the parts' rows, given the last row each part's reader numbered:
    (above, up to, by) for each part whose rows move up ``by`` (rows above ``above`` and
    up to ``up to``, None for the last part)."""
    moves = []
    shift = 0
    for n in range(1, len(plan)):
        after = plan[n].after
        assert after is not None
        # The row the part before truly ended on, minus the row this part was told.
        shift = after.row - (last_rows[n - 1] - shift)
        if shift:
            following = plan[n + 1].after if n + 1 < len(plan) else None
            moves.append((after.row, following.row if following else None, shift))
    return moves


def _read_part(
    sender: Connection, number: int, fd: int, part: Part, upload_id: int, mapping: dict
) -> None:
    reader, raw = part_reader(fd, part, upload_id, mapping)
    stats = reader.stats
    rows = iter(reader)
    while True:
        batch = list(islice(rows, MESSAGE_ROWS))
        message = Message(
            number,
            copy=copy_text(batch) if batch else b"",
            rows=len(batch),
            rejections=stats.rejections,
            rows_read=stats.rows_read,
            rows_rejected=stats.rows_rejected,
            position=raw.position,
        )
        if len(batch) < MESSAGE_ROWS:
            message.done = True
            message.last_row, message.open_at_end = reader.last_row_read, reader.open_at_end
        sender.send(message)
        stats.rejections = []
        if message.done:
            return


def _child(
    sender: Connection, number: int, fd: int, part: Part, upload_id: int, mapping: dict
) -> None:
    """The forked worker's whole life: it never returns (``os._exit``), so nothing of the
    importing process (its database connection, its buffered output) is touched."""
    code = 1
    try:
        _die_with_parent()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            _read_part(sender, number, fd, part, upload_id, mapping)
        except FileRefused as exc:
            sender.send(Message(number, refused=str(exc)))
        except Exception:
            sender.send(Message(number, error=traceback.format_exc()))
        code = 0
    except BaseException:  # a broken pipe (the importer is gone), or a signal
        code = 1
    finally:
        os._exit(code)


_PR_SET_PDEATHSIG = 1
_prctl: Any
try:  # looked up before any fork: a forked child of a threaded process loads nothing
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux
    _prctl = None


def _die_with_parent() -> None:
    """Linux kills this process when the one that forked it dies (elsewhere it stops at
    its next write to the closed pipe)."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Worker:
    pid: int
    receiver: Connection


def start(fd: int, parts: list[Part], upload_id: int, mapping: dict) -> list[Worker]:
    workers: list[Worker] = []
    # A worker shares the importer's pages until it writes to them, and a collection in
    # it would write to every object the importer had (Django, the libraries): frozen,
    # the worker's collector leaves them alone, and they stay shared.
    gc.freeze()
    try:
        for number, part in enumerate(parts):
            receiver, sender = Pipe(duplex=False)
            pid = os.fork()
            if pid == 0:
                # Only its own pipe's writing end: the other workers' pipes close (to the
                # importer's reading) when those workers end, whatever this one does.
                receiver.close()
                for other in workers:
                    other.receiver.close()
                _child(sender, number, fd, part, upload_id, mapping)
            sender.close()
            workers.append(Worker(pid, receiver))
    except BaseException:
        stop(workers)
        raise
    finally:
        gc.unfreeze()
    return workers


def messages(workers: list[Worker]) -> Iterator[Message]:
    """The workers' messages as they come; a worker that dies is an error."""
    waiting = {worker.receiver: worker for worker in workers}
    while waiting:
        for ready in wait(list(waiting)):
            worker = waiting[ready]  # type: ignore[index]
            try:
                message: Message = worker.receiver.recv()
            except EOFError:
                raise WorkerDied(
                    f"The worker reading part of the file (pid {worker.pid}) died."
                ) from None
            if message.done or message.refused or message.error:
                del waiting[worker.receiver]
            yield message


class WorkerDied(Exception):
    """A worker process reading a part of the file stopped without finishing it."""


class WorkerFailed(Exception):
    """A worker process reading a part of the file failed (its traceback is the message)."""


def stop(workers: list[Worker]) -> None:
    """End and reap the workers (those still reading are killed: their rows are unwanted)."""
    for worker in workers:
        worker.receiver.close()
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.pid, signal.SIGKILL)
    for worker in workers:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(worker.pid, 0)
