"""Line-type lookups in flight: up to N at a time, each answer recorded before its slot
frees.

Threads, because a lookup is an HTTP request that spends its time waiting: N worker
threads talk to the provider (never to the database, never inside a transaction), and
one recorder thread writes each batch of answers to the ledger in its own commit. A
worker takes a slot before it sends and the recorder gives it back only once the answer
is committed, so at any instant at most N lookups are sent-but-unrecorded: that is all a
killed worker can ever pay for twice. Numbers wait in a queue ahead of the workers, so
the caller's own database work never leaves a slot idle.
"""

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection

from telephony.providers.base import (
    LineTypeAnswer,
    LineTypeLookupFailed,
    LineTypeProvider,
    LineTypeRateLimited,
    LineTypeRefused,
)
from telephony.ratelimit import SharedRateLimit

logger = logging.getLogger(__name__)

# A rate-limited lookup is retried after slowing everyone down; a 5xx or timeout after a
# growing pause. Past these many tries the number counts as failed, for a later pass.
RATE_LIMITED_TRIES = 8
UNAVAILABLE_TRIES = 4
BACKOFF_SECONDS = 0.5


@dataclass(frozen=True)
class Job:
    number: str
    phone_id: int
    batch: int = 0  # the caller's own grouping (the backfill's chunk)


@dataclass
class Outcome:
    job: Job
    answer: LineTypeAnswer | None = None
    lookup_id: int | None = None  # the ledger row, once recorded
    error: str = ""


# Writes answered outcomes to the ledger (one commit) and sets their lookup_id.
Recorder = Callable[[list[Outcome]], None]


class LookupPool:
    def __init__(
        self,
        *,
        provider: LineTypeProvider,
        concurrency: int,
        record: Recorder,
        limiter: SharedRateLimit | None = None,
    ) -> None:
        self.provider = provider
        self.concurrency = max(1, concurrency)
        self.record = record
        self.limiter = limiter or SharedRateLimit()
        self.refused: LineTypeRefused | None = None
        self.fatal: BaseException | None = None
        self._slots = threading.Semaphore(self.concurrency)
        self._work: queue.Queue[Job | None] = queue.Queue()
        self._answers: queue.Queue[Outcome | None] = queue.Queue()
        self._done: queue.Queue[Outcome] = queue.Queue()
        self._pending = 0
        self._count_lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> "LookupPool":
        for i in range(self.concurrency):
            thread = threading.Thread(target=self._lookups, name=f"lookup-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._recorder = threading.Thread(target=self._recording, name="ledger", daemon=True)
        self._recorder.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for _ in self._threads:
            self._work.put(None)
        for thread in self._threads:
            thread.join()
        self._answers.put(None)
        self._recorder.join()

    @property
    def pending(self) -> int:
        """Numbers handed to the pool whose outcome has not been collected yet."""
        return self._pending

    @property
    def queued(self) -> int:
        return self._work.qsize()

    def submit(self, job: Job) -> None:
        with self._count_lock:
            self._pending += 1
        self._work.put(job)

    def cancel_queued(self) -> list[Job]:
        """Take back the numbers no worker has started on."""
        jobs: list[Job] = []
        while True:
            try:
                job = self._work.get_nowait()
            except queue.Empty:
                break
            if job is None:  # closing: put it back for the worker it was meant for
                self._work.put(None)
                break
            jobs.append(job)
        with self._count_lock:
            self._pending -= len(jobs)
        return jobs

    def finished(self, timeout: float = 0.0) -> list[Outcome]:
        """Outcomes recorded since the last call (waiting up to ``timeout`` for one)."""
        outcomes: list[Outcome] = []
        try:
            outcomes.append(self._done.get(timeout=timeout) if timeout else self._done.get_nowait())
            while True:
                outcomes.append(self._done.get_nowait())
        except queue.Empty:
            pass
        with self._count_lock:
            self._pending -= len(outcomes)
        if self.fatal is not None:
            raise self.fatal
        return outcomes

    def _lookups(self) -> None:
        while (job := self._work.get()) is not None:
            self._slots.acquire()  # given back by the recorder, once the answer is committed
            self._answers.put(self._look_up(job))

    def _look_up(self, job: Job) -> Outcome:
        if self.refused is not None:
            return Outcome(job, error="not sent: the provider refuses lookups")
        rate_limited = unavailable = 0
        while True:
            self.limiter.wait()
            try:
                return Outcome(job, answer=self.provider.lookup(job.number))
            except LineTypeRateLimited as exc:
                rate_limited += 1
                if rate_limited >= RATE_LIMITED_TRIES:
                    return Outcome(job, error=str(exc))
                self.limiter.slow_down(exc.retry_after or BACKOFF_SECONDS * rate_limited)
            except LineTypeLookupFailed as exc:
                unavailable += 1
                if unavailable >= UNAVAILABLE_TRIES:
                    return Outcome(job, error=str(exc))
                time.sleep(BACKOFF_SECONDS * 2 ** (unavailable - 1))
            except LineTypeRefused as exc:
                self.refused = exc
                return Outcome(job, error=str(exc))
            except Exception as exc:  # any exception from a provider is a failed call
                logger.warning("line-type lookup of %s failed", job.number, exc_info=True)
                return Outcome(job, error=f"{type(exc).__name__}: {exc}"[:255])

    def _recording(self) -> None:
        try:
            while (first := self._answers.get()) is not None:
                batch = [first]
                stop = False
                while True:
                    try:
                        item = self._answers.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stop = True
                        break
                    batch.append(item)
                answered = [o for o in batch if o.answer is not None]
                if answered:
                    self.record(answered)
                for outcome in batch:
                    self._slots.release()
                    self._done.put(outcome)
                if stop:
                    break
        except BaseException as exc:  # the database is gone: stop handing out work
            self.fatal = exc
            self.refused = self.refused or LineTypeRefused("ledger", "the ledger is unreachable")
            logger.exception("recording line-type answers failed")
            while (left := self._answers.get()) is not None:
                self._slots.release()
                self._done.put(left)
        finally:
            connection.close()
