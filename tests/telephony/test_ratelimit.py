"""The lookup rate limit is one schedule in Redis, shared by every worker and process."""

import asyncio
import itertools

import pytest
import redis

from telephony import ratelimit
from telephony.ratelimit import SharedRateLimit
from tests.telephony.event_loop import run_in_own_loop


@pytest.fixture
def shared(settings):
    settings.LOOKUP_RATE_LIMIT_REDIS_URL = settings.CELERY_BROKER_URL
    if not settings.LOOKUP_RATE_LIMIT_REDIS_URL.startswith("redis://"):
        pytest.skip("needs Redis (CELERY_BROKER_URL)")
    client = redis.Redis.from_url(settings.LOOKUP_RATE_LIMIT_REDIS_URL)
    client.delete(ratelimit._KEY)
    yield client
    client.delete(ratelimit._KEY)


def schedule_from_the_future(client: redis.Redis) -> int:
    """Pins the next free slot ten seconds ahead (µs, Redis's clock) and returns it.

    Every reservation then moves the stored slot by exactly its intervals, whatever the
    clock did between two calls: the tests read the schedule, not a loaded machine's
    wall clock (a wait is "slot minus now", and now moves while a busy runner switches).
    """
    seconds, micros = client.time()
    future = (seconds + 10) * 1_000_000 + micros
    client.set(ratelimit._KEY, str(future))
    return future


def slot(client: redis.Redis) -> int:
    return int(client.get(ratelimit._KEY))


# The PostgreSQL run is the one with the real Redis broker (Makefile); on the embedded
# default the limit is per process, tested below.
@pytest.mark.postgresql
def test_two_workers_share_one_schedule_and_a_slow_down_reaches_both(shared):
    first, second = SharedRateLimit(rate=1, burst=1), SharedRateLimit(rate=1, burst=1)
    assert first._reserve(0) == 0  # nothing reserved yet: the first lookup goes at once
    start = schedule_from_the_future(shared)

    slots = []
    for limit in (first, second, first, second):
        assert limit._reserve(0) > 8  # each waits for its slot, ten seconds out and more
        slots.append(slot(shared))

    # One lookup a second between them: each reservation is a second after the last,
    # whichever worker makes it.
    assert slots == [start + n * 1_000_000 for n in (1, 2, 3, 4)]
    second.slow_down(30)
    assert first._reserve(0) >= 29


def test_without_redis_a_process_keeps_the_schedule_itself(settings):
    settings.LOOKUP_RATE_LIMIT_REDIS_URL = ""
    limit = SharedRateLimit(rate=1, burst=2)
    waits, slots = [], []
    for _ in range(4):
        waits.append(limit._reserve(0))
        slots.append(limit._tat)
    # A burst of two goes at once; then one a second, read from the schedule the process
    # keeps (a wait is that slot minus now, and now moves on a loaded machine).
    assert waits[:2] == [0.0, 0.0]
    assert 0 < waits[2] <= 1 < waits[3] <= 2
    assert [b - a for a, b in itertools.pairwise(slots)] == [pytest.approx(1.0)] * 3
    assert settings.LOOKUP_RATE_LIMIT_REDIS_URL == ""


@pytest.mark.postgresql
def test_a_batch_reserved_on_an_event_loop_holds_its_slots_from_every_other_worker(shared):
    """The backfill's event loop reserves several slots per round trip; the next worker's
    slot comes after all of them."""
    batch_owner, other = SharedRateLimit(rate=10, burst=1), SharedRateLimit(rate=10, burst=1)
    start = schedule_from_the_future(shared)

    async def turns() -> list[int]:
        await batch_owner._areserve(0, count=5)
        slots = [slot(shared)]
        for _ in range(2):
            await batch_owner._areserve(0)
            slots.append(slot(shared))
        await batch_owner.aclose()
        return slots

    slots = run_in_own_loop(turns())
    other._reserve(0)
    slots.append(slot(shared))

    # Five slots of 0.1 s went to the batch in one reservation, the next two follow at
    # 0.5 s and 0.6 s, and the other worker's turn comes after those, at 0.7 s.
    assert slots == [start + ms * 1000 for ms in (500, 600, 700, 800)]


def test_turns_on_an_event_loop_keep_the_rate(settings, monkeypatch):
    """The schedule, not the loop's wake-ups: each caller's turn is when it was told to
    go (now, or after the sleep it was given), so a busy machine waking a sleeper late
    changes nothing here."""
    settings.LOOKUP_RATE_LIMIT_REDIS_URL = ""
    limit = SharedRateLimit(rate=50, burst=1)
    assert limit._batch == 1  # 20 ms of slots at 50 a second
    told: dict[object, float] = {}
    real_sleep = asyncio.sleep

    async def told_to_sleep(delay: float, *args, **kwargs) -> None:
        told[asyncio.current_task()] = asyncio.get_running_loop().time() + delay
        await real_sleep(0)

    monkeypatch.setattr(ratelimit.asyncio, "sleep", told_to_sleep)

    async def turns() -> list[float]:
        loop = asyncio.get_running_loop()
        times: list[float] = []

        async def one() -> None:
            went = loop.time()
            await limit.await_turn()
            times.append(told.get(asyncio.current_task(), went))

        await asyncio.gather(*(one() for _ in range(6)))
        return sorted(times)

    times = run_in_own_loop(turns())
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Six callers at once are given turns 20 ms apart, never two together.
    assert gaps == [pytest.approx(0.02, abs=0.002)] * 5


@pytest.mark.postgresql
def test_the_schedule_keeps_every_microsecond(shared):
    """300 a second is 3,333 µs each: the stored time moves by exactly that, not by a
    rounded 3,300 (which would let the limit run 1% fast)."""
    future = schedule_from_the_future(shared)

    SharedRateLimit(rate=300, burst=1)._reserve(0)

    assert slot(shared) == future + 3333
