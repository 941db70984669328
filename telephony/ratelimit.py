"""One rate limit for line-type lookups, shared by every thread, worker and process.

Celery's ``rate_limit`` is per worker; a provider's limit is per account. So the limit
lives in Redis (``LOOKUP_RATE_LIMIT_REDIS_URL``, the broker by default) as one
"theoretical arrival time" (GCRA): each caller reserves the next free slot with one
atomic script and sleeps until it. When the provider says "too many requests", the
slot is pushed into the future for everyone. Without Redis (the embedded default runs
one worker) the process keeps the same schedule itself.
"""

import asyncio
import collections
import threading
import time
from typing import Any

import redis
import redis.asyncio
from django.conf import settings

# The slot every caller reserves from (microseconds since the epoch, Redis's own clock).
_KEY = "switchboard:line-type-lookups:tat"

# Times are written with %d: Lua's tostring keeps 14 significant digits, which rounds a
# microsecond timestamp to 100 µs and lets the rate run up to 2% fast.
# KEYS[1]: the arrival time; ARGV: interval (µs per lookup), burst (µs), penalty (µs),
# count (slots reserved at once). Returns how many µs the caller waits before the first.
_SCRIPT = """
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000000 + tonumber(now[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local penalty = tonumber(ARGV[3])
if penalty > 0 then
  tat = math.max(tat, now + penalty)
  redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', 3600000)
  return 0
end
local go = tat - tonumber(ARGV[2])
redis.call('SET', KEYS[1],
  string.format('%d', tat + tonumber(ARGV[1]) * tonumber(ARGV[4] or '1')), 'PX', 3600000)
if go > now then return go - now end
return 0
"""

# On an event loop, slots are reserved this many milliseconds' worth at a time: one
# Redis round trip per batch instead of per lookup (each round trip is a wait for the
# GIL while other threads work: docs/identification.md). Unused ones simply lapse.
ASYNC_BATCH_MS = 20


class SharedRateLimit:
    """``wait()`` before each lookup; ``slow_down(seconds)`` when the provider pushes back.
    ``await_turn()`` and ``aslow_down()`` are the same for code on an event loop, which
    must not block on Redis; call ``aclose()`` before that loop ends."""

    def __init__(self, rate: float | None = None, *, burst: int = 10) -> None:
        self.rate = float(rate or settings.LINE_TYPE_LOOKUP_RATE)
        self.interval_us = int(1_000_000 / self.rate)
        self.burst_us = self.interval_us * max(burst - 1, 0)
        self._url = settings.LOOKUP_RATE_LIMIT_REDIS_URL
        self._script: Any = None
        self._async_redis: Any = None
        self._async_script: Any = None
        self._lock = threading.Lock()
        self._tat = 0.0
        self._batch = max(1, min(50, int(self.rate * ASYNC_BATCH_MS / 1000)))
        self._reserved: collections.deque[float] = collections.deque()  # loop.time() of each
        self._refill = asyncio.Lock()

    def wait(self) -> None:
        delay = self._reserve(0)
        if delay > 0:
            time.sleep(delay)

    def slow_down(self, seconds: float) -> None:
        self._reserve(max(seconds, 0.001))

    async def await_turn(self) -> None:
        loop = asyncio.get_running_loop()
        async with self._refill:  # one reservation at a time; the others wait for it
            now = loop.time()
            while self._reserved and self._reserved[0] < now - self.interval_us / 1_000_000:
                self._reserved.popleft()  # lapsed: its moment is gone
            if not self._reserved:
                first = now + await self._areserve(0, count=self._batch)
                step = self.interval_us / 1_000_000
                self._reserved.extend(first + i * step for i in range(self._batch))
            turn = self._reserved.popleft()
        delay = turn - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)

    async def aslow_down(self, seconds: float) -> None:
        self._reserved.clear()
        await self._areserve(max(seconds, 0.001))

    async def aclose(self) -> None:
        if self._async_redis is not None:
            await self._async_redis.aclose()
            self._async_redis = self._async_script = None

    def _args(self, penalty: float, count: int = 1) -> list[int]:
        return [self.interval_us, self.burst_us, int(penalty * 1_000_000), count]

    def _reserve(self, penalty: float) -> float:
        if not self._url:
            return self._local(penalty)
        if self._script is None:
            self._script = redis.Redis.from_url(self._url).register_script(_SCRIPT)
        return int(self._script(keys=[_KEY], args=self._args(penalty))) / 1_000_000

    async def _areserve(self, penalty: float, count: int = 1) -> float:
        if not self._url:
            return self._local(penalty, count)
        if self._async_script is None:
            self._async_redis = redis.asyncio.Redis.from_url(self._url)
            self._async_script = self._async_redis.register_script(_SCRIPT)
        args = self._args(penalty, count)
        return int(await self._async_script(keys=[_KEY], args=args)) / 1_000_000

    def _local(self, penalty: float, count: int = 1) -> float:
        """The same schedule kept by this process alone (no Redis)."""
        with self._lock:
            now = time.monotonic()
            tat = max(self._tat, now)
            if penalty:
                self._tat = max(tat, now + penalty)
                return 0.0
            self._tat = tat + count * self.interval_us / 1_000_000
            return max(0.0, tat - self.burst_us / 1_000_000 - now)
