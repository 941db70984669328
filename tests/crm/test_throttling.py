"""API throttling counted in Redis with one round trip (crm/throttling.py): the same
requests allowed and refused, with the same waits, as DRF's throttle over a cache."""

import os
import uuid

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.test import RequestFactory
from rest_framework import throttling as drf
from rest_framework.request import Request

from crm import throttling
from crm.cache import RedisCache
from tests.campaigns.dialing_helpers import lead

pytestmark = [pytest.mark.django_db, pytest.mark.postgresql]  # Redis runs beside PostgreSQL


def _forget(cache: RedisCache) -> None:
    # Only this test's keys: the database is the Celery broker of the tests beside it.
    client = cache._cache.get_client(write=True)
    for key in client.scan_iter(match=f"{cache.key_prefix}:*"):
        client.delete(key)


@pytest.fixture
def redis_cache():
    prefix = f"throttling-tests-{uuid.uuid4().hex}"
    cache = RedisCache(os.environ["CELERY_BROKER_URL"], {"KEY_PREFIX": prefix})
    yield cache
    _forget(cache)


def request_of(user=None, address="10.0.0.1") -> Request:
    request = Request(RequestFactory().get("/", REMOTE_ADDR=address))
    if user is not None:
        request.user = user
    return request


def decisions(throttle_class, cache, asks) -> list:
    """(allowed, wait) for each (time, request), one throttle instance a request as DRF
    makes them."""
    answers = []
    for now, request in asks:
        throttle = throttle_class()
        throttle.cache, throttle.timer = cache, (lambda now=now: now)
        allowed = throttle.allow_request(request, None)
        answers.append((allowed, None if allowed else round(throttle.wait(), 9)))
    return answers


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (throttling.UserRateThrottle, drf.UserRateThrottle),
        (throttling.AnonRateThrottle, drf.AnonRateThrottle),
    ],
)
def test_the_window_allows_and_refuses_as_drf_does(ours, theirs, redis_cache, caller, agent):
    ours = type("Ours", (ours,), {"rate": "3/min"})
    theirs = type("Theirs", (theirs,), {"rate": "3/min"})
    one, two = (request_of(caller, "10.0.0.1"), request_of(agent, "10.0.0.2"))
    if ours.scope == "anon":
        one, two = request_of(address="10.0.0.1"), request_of(address="10.0.0.2")
    start = 1_790_000_000.25
    times = [0, 0, 0.001, 0.5, 30, 59.999, 60, 60, 60.001, 61, 200]
    asks = [(start + t, one) for t in times] + [(start + 1, two), (start + 1.5, two)]
    expected = decisions(theirs, LocMemCache("throttle-drf", {}), asks)
    assert decisions(ours, redis_cache, asks) == expected
    # The sequence does refuse, then allow again once the window has moved on.
    assert [a for a, _ in expected[:4]] == [True, True, True, False]
    assert expected[6][0] is True
    assert expected[4][1] is not None
    assert expected[4][1] > 0


def test_the_window_expires_with_its_duration(redis_cache, caller):
    throttle = type("Ours", (throttling.UserRateThrottle,), {"rate": "5/s"})()
    throttle.cache = redis_cache
    assert throttle.allow_request(request_of(caller), None)
    client = redis_cache._cache.get_client(write=True)
    [key] = client.keys(f"{redis_cache.key_prefix}:*")
    assert client.zcard(key) == 1
    assert 0 < client.ttl(key) <= 1


def test_other_caches_keep_drf_s_code(caller):
    ours = type("Ours", (throttling.UserRateThrottle,), {"rate": "2/min"})
    theirs = type("Theirs", (drf.UserRateThrottle,), {"rate": "2/min"})
    asks = [(100.0 + t, request_of(caller)) for t in (0, 1, 2, 61, 62)]
    assert decisions(ours, LocMemCache("ours", {}), asks) == decisions(
        theirs, LocMemCache("theirs", {}), asks
    )


def test_an_api_ask_over_the_limit_is_refused_with_retry_after(
    redis_cache, settings, monkeypatch, caller
):
    from django.test import Client

    from campaigns.models import Campaign

    settings.CACHES = {
        "default": {
            "BACKEND": "crm.cache.RedisCache",
            "LOCATION": os.environ["CELERY_BROKER_URL"],
            "KEY_PREFIX": redis_cache.key_prefix,
        }
    }
    from django.core.cache import cache

    monkeypatch.setattr(throttling.UserRateThrottle, "cache", cache)
    monkeypatch.setattr(throttling.UserRateThrottle, "rate", "2/min", raising=False)
    campaign = Campaign.objects.create(name="Realtors")
    campaign.callers.add(caller)
    lead(campaign, "First", number="+16785551001")
    client = Client()
    client.force_login(caller)
    url = f"/api/campaigns/{campaign.pk}/next/"
    assert [client.get(url).status_code for _ in range(2)] == [200, 200]
    refused = client.get(url)
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    # Counted in the sorted set, not in DRF's pickled list.
    client = redis_cache._cache.get_client(write=True)
    [key] = client.keys(f"{redis_cache.key_prefix}:*")
    assert key.endswith(f"throttle_user_{caller.pk}:window".encode())
    assert client.zcard(key) == 2
