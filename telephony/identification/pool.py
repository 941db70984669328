"""Line-type lookups in flight: up to N at a time, each answer recorded before its slot
frees.

One event-loop thread sends the lookups: N coroutines, each taking a slot before it
sends. A provider with an asyncio client (Twilio's) costs the loop a fraction of a
millisecond per lookup, which is what lets one worker keep a provider's whole rate busy
(threads spent theirs waiting for the GIL: docs/identification.md); a provider with only
the blocking ``lookup`` runs in N threads. One recorder coroutine on the same loop writes
each batch of answers to the ledger in its own commit and only then gives their slots
back, so at any instant at most N lookups are sent-but-unrecorded: that is all a killed
worker can ever pay for twice. Numbers wait in a queue ahead of the senders, so the
caller's own database work never leaves a slot idle.
"""

import asyncio
import contextlib
import logging
import queue
import sys
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from telephony.identification.ledger import (
    Job,
    Ledger,
    Outcome,
    Recorder,
    answer_read,
    provider_price,
    timed_out_attempt,
)
from telephony.providers.base import (
    AsyncLineTypeProvider,
    AsyncLookup,
    LineTypeAnswerLike,
    LineTypeLookupFailed,
    LineTypeProvider,
    LineTypeRateLimited,
    LineTypeRefused,
    LineTypeTimedOut,
)
from telephony.ratelimit import SharedRateLimit

logger = logging.getLogger(__name__)

# A rate-limited lookup is retried after slowing everyone down; a 5xx or timeout after a
# growing pause. Past these many tries the number counts as failed, for a later pass.
RATE_LIMITED_TRIES = 8
UNAVAILABLE_TRIES = 4
BACKOFF_SECONDS = 0.5
# The GIL's turn while a pool runs (Python's default is 5 ms).
SWITCH_INTERVAL_SECONDS = 0.0005


class LookupPool:
    def __init__(
        self,
        *,
        provider: LineTypeProvider,
        concurrency: int,
        ledger: Ledger,
        limiter: SharedRateLimit | None = None,
        at_provider: int | None = None,
        price: Decimal | None = None,
    ) -> None:
        self.provider = provider
        # What a timed-out attempt is counted at, and an answer without a readable cost.
        self.price = provider_price(provider) if price is None else price
        self.concurrency = max(1, concurrency)
        # Requests waiting on the provider at once: at most the lookups in flight, and
        # fewer when the provider's own concurrency limit is lower. A slot is held from
        # the send until the ledger commit, a provider's concurrency only until it
        # answers: with N a little above the provider's limit, the ledger's commit does
        # not leave the provider's capacity idle (docs/identification.md).
        self.at_provider = min(self.concurrency, at_provider or self.concurrency)
        self.ledger = ledger
        self.limiter = limiter or SharedRateLimit()
        self.refused: LineTypeRefused | None = None
        self.fatal: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._done: queue.Queue[Outcome] = queue.Queue()
        self._pending = 0
        self._count_lock = threading.Lock()

    def __enter__(self) -> "LookupPool":
        # The sender thread makes a few system calls per lookup and must take the GIL
        # back after each; the caller's thread works meanwhile, and by default it keeps the
        # GIL for up to 5 ms each time. Shorter turns, while the pool runs, keep a provider's
        # whole rate busy (docs/identification.md).
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
        self._sender = threading.Thread(target=self._loop.run_forever, name="lookups", daemon=True)
        self._sender.start()
        try:
            self._call(self._start())
        except BaseException:
            self._stop_loop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._call(self._drain_and_stop())  # every queued number is still looked up
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._sender.join()
        self._loop.close()
        sys.setswitchinterval(self._switch_interval)

    @property
    def pending(self) -> int:
        """Numbers handed to the pool whose outcome has not been collected yet."""
        return self._pending

    @property
    def queued(self) -> int:
        return self._work.qsize()

    def submit(self, jobs: list[Job]) -> None:
        with self._count_lock:
            self._pending += len(jobs)
        self._loop.call_soon_threadsafe(self._queue_up, jobs)

    def cancel_queued(self) -> list[Job]:
        """Take back the numbers no sender has started on."""
        jobs: list[Job] = self._call(self._take_queued())
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

    # On the event loop.

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    async def _start(self) -> None:
        self._work: asyncio.Queue[Job | None] = asyncio.Queue()
        self._answers: asyncio.Queue[Outcome | None] = asyncio.Queue()
        self._slots = asyncio.Semaphore(self.concurrency)
        self._provider_slots = asyncio.Semaphore(self.at_provider)
        self._client = contextlib.AsyncExitStack()
        self._client.push_async_callback(self.limiter.aclose)
        try:
            record = await self._client.enter_async_context(self.ledger())
            lookup = await self._client.enter_async_context(self._open_client())
        except BaseException:
            await self._client.aclose()
            raise
        self._recorder = asyncio.ensure_future(self._recording(record))
        self._senders = [
            asyncio.ensure_future(self._sending(lookup)) for _ in range(self.concurrency)
        ]

    @contextlib.asynccontextmanager
    async def _open_client(self) -> AsyncIterator[AsyncLookup]:
        if isinstance(self.provider, AsyncLineTypeProvider):  # optional: detected
            async with self.provider.async_client() as lookup:
                yield lookup
            return
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="lookup") as threads:

            async def lookup_in_thread(e164: str) -> LineTypeAnswerLike:
                return await self._loop.run_in_executor(threads, self.provider.lookup, e164)

            yield lookup_in_thread

    def _queue_up(self, jobs: list[Job]) -> None:
        for job in jobs:
            self._work.put_nowait(job)

    async def _take_queued(self) -> list[Job]:
        jobs: list[Job] = []
        while not self._work.empty():
            job = self._work.get_nowait()
            if job is not None:
                jobs.append(job)
        return jobs

    async def _drain_and_stop(self) -> None:
        try:
            for _ in self._senders:
                self._work.put_nowait(None)
            await asyncio.gather(*self._senders)
            self._answers.put_nowait(None)
            await self._recorder
        finally:
            await self._client.aclose()

    async def _sending(self, lookup: AsyncLookup) -> None:
        while (job := await self._work.get()) is not None:
            await self._slots.acquire()  # given back once the answer is committed
            self._answers.put_nowait(await self._look_up(job, lookup))

    async def _look_up(self, job: Job, lookup: AsyncLookup) -> Outcome:
        if self.refused is not None:
            return Outcome(job, error="not sent: the provider refuses lookups", sent=False)
        rate_limited = unavailable = 0
        while True:
            try:
                async with self._provider_slots:
                    await self.limiter.await_turn()
                    if self.refused is not None:  # refused while this one waited its turn
                        return Outcome(job, error="not sent: the provider refuses", sent=False)
                    answer = await lookup(job.number)
                return Outcome(job, answer=answer_read(answer, price=self.price))
            except (LineTypeTimedOut, TimeoutError) as exc:
                # Sent, and no answer: it may have been billed. Not retried in this pass
                # (each try could be billed); a retry pass takes the number again.
                return timed_out_attempt(job, price=self.price, error=str(exc)[:255])
            except LineTypeRateLimited as exc:
                rate_limited += 1
                if rate_limited >= RATE_LIMITED_TRIES:
                    return Outcome(job, error=str(exc))
                await self.limiter.aslow_down(exc.retry_after or BACKOFF_SECONDS * rate_limited)
            except LineTypeLookupFailed as exc:
                unavailable += 1
                if unavailable >= UNAVAILABLE_TRIES:
                    return Outcome(job, error=str(exc))
                await asyncio.sleep(BACKOFF_SECONDS * 2 ** (unavailable - 1))
            except LineTypeRefused as exc:
                self.refused = exc
                # Refused, not answered: not paid, so the number stays pending.
                return Outcome(job, error=str(exc), sent=False)
            except Exception as exc:  # any exception from a provider is a failed call
                logger.warning("line-type lookup of %s failed", job.number, exc_info=True)
                return Outcome(job, error=f"{type(exc).__name__}: {exc}"[:255])

    async def _recording(self, record: Recorder) -> None:
        """Answers that arrived while the last batch was being written go in the next one,
        so the ledger takes one commit per batch, not per answer."""
        while (first := await self._answers.get()) is not None:
            batch, stop = [first], False
            while not self._answers.empty():
                if (item := self._answers.get_nowait()) is None:
                    stop = True
                    break
                batch.append(item)
            answered = [o for o in batch if o.answer is not None]
            if answered and self.fatal is None:
                try:
                    await record(answered)
                except Exception as exc:  # the database is gone: stop handing out work
                    self.fatal = exc
                    self.refused = self.refused or LineTypeRefused(
                        "ledger", "the ledger is unreachable"
                    )
                    logger.exception("recording line-type answers failed")
            for outcome in batch:
                self._slots.release()
                self._done.put(outcome)
            if stop:
                break
