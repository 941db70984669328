"""The lookup rate limit is one schedule in Redis, shared by every worker and process."""

import pytest
import redis

from telephony import ratelimit
from telephony.ratelimit import SharedRateLimit


@pytest.fixture
def shared(settings):
    settings.LOOKUP_RATE_LIMIT_REDIS_URL = settings.CELERY_BROKER_URL
    if not settings.LOOKUP_RATE_LIMIT_REDIS_URL.startswith("redis://"):
        pytest.skip("needs Redis (CELERY_BROKER_URL)")
    client = redis.Redis.from_url(settings.LOOKUP_RATE_LIMIT_REDIS_URL)
    client.delete(ratelimit._KEY)
    yield
    client.delete(ratelimit._KEY)


# The PostgreSQL run is the one with the real Redis broker (Makefile); on the embedded
# default the limit is per process, tested below.
@pytest.mark.postgresql
def test_two_workers_share_one_schedule_and_a_slow_down_reaches_both(shared):
    first, second = SharedRateLimit(rate=1, burst=1), SharedRateLimit(rate=1, burst=1)

    waits = [first._reserve(0), second._reserve(0), first._reserve(0), second._reserve(0)]

    # One lookup a second between them: each reservation is a second after the last,
    # whichever worker makes it.
    assert waits[0] == pytest.approx(0, abs=0.05)
    for n in (1, 2, 3):
        assert waits[n] == pytest.approx(n, abs=0.1)
    second.slow_down(30)
    assert first._reserve(0) >= 29


def test_without_redis_a_process_keeps_the_schedule_itself(settings):
    settings.LOOKUP_RATE_LIMIT_REDIS_URL = ""
    limit = SharedRateLimit(rate=1, burst=2)
    waits = [limit._reserve(0) for _ in range(4)]
    assert waits[:2] == [0.0, 0.0]
    assert waits[2] == pytest.approx(1, abs=0.05)
    assert waits[3] == pytest.approx(2, abs=0.05)
    assert settings.LOOKUP_RATE_LIMIT_REDIS_URL == ""
