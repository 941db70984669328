"""One rate limit for line-type lookups, shared by every thread, worker and process.

Celery's ``rate_limit`` is per worker; a provider's limit is per account. So the limit
lives in Redis (``LOOKUP_RATE_LIMIT_REDIS_URL``, the broker by default) as one
"theoretical arrival time" (GCRA): each caller reserves the next free slot with one
atomic script and sleeps until it. When the provider says "too many requests", the
slot is pushed into the future for everyone. Without Redis (the embedded default runs
one worker) the process keeps the same schedule itself.
"""

import threading
import time
from typing import Any

from django.conf import settings

# The slot every caller reserves from (microseconds since the epoch, Redis's own clock).
_KEY = "switchboard:line-type-lookups:tat"

# KEYS[1]: the arrival time; ARGV: interval (µs per lookup), burst (µs), penalty (µs).
# Returns how many µs the caller waits before sending.
_SCRIPT = """
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000000 + tonumber(now[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local penalty = tonumber(ARGV[3])
if penalty > 0 then
  tat = math.max(tat, now + penalty)
  redis.call('SET', KEYS[1], tostring(tat), 'PX', 3600000)
  return 0
end
local go = tat - tonumber(ARGV[2])
redis.call('SET', KEYS[1], tostring(tat + tonumber(ARGV[1])), 'PX', 3600000)
if go > now then return go - now end
return 0
"""


class SharedRateLimit:
    """``wait()`` before each lookup; ``slow_down(seconds)`` when the provider pushes back."""

    def __init__(self, rate: float | None = None, *, burst: int = 10) -> None:
        self.rate = float(rate or settings.LINE_TYPE_LOOKUP_RATE)
        self.interval_us = int(1_000_000 / self.rate)
        self.burst_us = self.interval_us * max(burst - 1, 0)
        self._script: Any = None
        url = settings.LOOKUP_RATE_LIMIT_REDIS_URL
        if url:
            import redis

            self._script = redis.Redis.from_url(url).register_script(_SCRIPT)
        self._lock = threading.Lock()
        self._tat = 0.0

    def wait(self) -> None:
        delay = self._reserve(0)
        if delay > 0:
            time.sleep(delay)

    def slow_down(self, seconds: float) -> None:
        self._reserve(max(seconds, 0.001))

    def _reserve(self, penalty: float) -> float:
        if self._script is not None:
            args = [self.interval_us, self.burst_us, int(penalty * 1_000_000)]
            return int(self._script(keys=[_KEY], args=args)) / 1_000_000
        with self._lock:
            now = time.monotonic()
            tat = max(self._tat, now)
            if penalty:
                self._tat = max(tat, now + penalty)
                return 0.0
            self._tat = tat + self.interval_us / 1_000_000
            return max(0.0, tat - self.burst_us / 1_000_000 - now)
