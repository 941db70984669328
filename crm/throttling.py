"""DRF's API throttles, counted in Redis with one round trip.

DRF's ``SimpleRateThrottle`` keeps each client's recent request times as a pickled list
in the cache: a ``GET`` and a ``SET`` an API request (0.6-0.8 ms of CPU an ask,
docs/profiles/dialing.md), and a list that grows to the rate (1,200 times a minute) to
unpickle and pickle each time. With the Redis cache (``crm.cache.RedisCache``) the same
sliding window is a sorted set of request times that one Lua script
(``RedisCache.run_script``) trims, counts and adds to, atomically: the same requests are
allowed and refused, with the same ``wait`` (``Retry-After``). Any other cache is DRF's
own code. The sorted set lives under its own key, so the pickled lists counted before are
simply not read (one window, at most, of requests uncounted at the switch).
"""

import os
from typing import Any

from rest_framework import throttling

# DRF's allow_request: drop the times at or before now - duration; refuse at the limit,
# else record now and keep the record for duration. Times are returned as strings: Redis
# turns a Lua number into an integer.
_WINDOW = """
local now, duration, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - duration)
local count = redis.call('ZCARD', KEYS[1])
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
if count >= limit then
    return {0, count, oldest or false}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('EXPIRE', KEYS[1], duration)
return {1, count + 1, oldest or ARGV[1]}
"""


class RedisWindowMixin(throttling.SimpleRateThrottle):
    num_requests: int
    duration: int

    def _in_redis(self) -> bool:
        # DRF's ``cache`` is Django's proxy of the default cache: ask what it stands for.
        return getattr(self.cache, "run_script", None) is not None

    def allow_request(self, request: Any, view: Any) -> bool:
        if self.rate is None or not self._in_redis():
            return super().allow_request(request, view)
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        # Two requests in the same instant are two members, as they are two list items.
        member = f"{self.now!r}:{os.urandom(6).hex()}"
        run_script = self.cache.run_script  # type: ignore[attr-defined]
        allowed, count, oldest = run_script(
            _WINDOW,
            keys=[f"{self.key}:window"],
            args=[repr(self.now), self.duration, self.num_requests, member],
        )
        self._count = int(count)
        self._oldest = float(oldest) if oldest else None
        return self.throttle_success() if allowed else self.throttle_failure()

    def throttle_success(self) -> bool:
        if not self._in_redis():
            return super().throttle_success()
        return True  # recorded by the script

    def wait(self) -> float | None:
        if not self._in_redis():
            return super().wait()
        # DRF's formula, on the window as the script left it.
        oldest = self._oldest
        remaining = self.duration - (self.now - oldest) if oldest is not None else self.duration
        available = self.num_requests - self._count + 1
        if available <= 0:
            return None
        return remaining / float(available)


class UserRateThrottle(RedisWindowMixin, throttling.UserRateThrottle):
    pass


class AnonRateThrottle(RedisWindowMixin, throttling.AnonRateThrottle):
    pass
