import os

import pytest
from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from pytest_django.plugin import blocking_manager_key
from rest_framework.test import APIClient

from crm import roles
from crm.db import is_postgresql


def pytest_collection_modifyitems(config, items):
    # PostgreSQL-only tests skip elsewhere; .ci/run fails the build on any skip.
    if os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if "postgresql" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    # A transactional test ends with a flush that wipes the data migration's groups. Once
    # every fixture (and so the flush) is torn down, put them back so later tests see the
    # database as the migrations left it.
    result = yield
    marker = item.get_closest_marker("django_db")
    fixtures = getattr(item, "fixturenames", ())
    if (marker and marker.kwargs.get("transaction")) or {
        "transactional_db",
        "live_server",
    } & set(fixtures):
        with item.config.stash[blocking_manager_key].unblock():
            roles.sync_roles(django_apps)
    return result


@pytest.fixture(autouse=True)
def fresh_settings_cache():
    # Each test's database starts over; the per-process settings cache must too.
    from crm import singletons

    singletons.clear_cache()
    yield
    singletons.clear_cache()


@pytest.fixture
def role_groups(db):
    # Transactional tests flush the data migration's groups; put them back when missing.
    if Group.objects.filter(name__in=roles.ROLE_PERMISSIONS).count() < len(roles.ROLE_PERMISSIONS):
        roles.sync_roles(django_apps)
    return {group.name: group for group in Group.objects.filter(name__in=roles.ROLE_PERMISSIONS)}


@pytest.fixture
def make_user(role_groups):
    def make(role: str | None, username: str | None = None, **extra):
        username = username or f"{(role or 'nobody').lower()}-user"
        user = get_user_model().objects.create_user(
            username=username,
            password="pass-for-tests-1",
            is_staff=role in roles.STAFF_ROLES,
            **extra,
        )
        if role:
            user.groups.add(role_groups[role])
        return user

    return make


@pytest.fixture
def administrator(make_user):
    return make_user(roles.ADMINISTRATOR)


@pytest.fixture
def agent(make_user):
    return make_user(roles.AGENT)


@pytest.fixture
def caller(make_user):
    return make_user(roles.CALLER)


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def on_postgresql():
    assert is_postgresql(), "this test needs PostgreSQL"


@pytest.fixture
def celery_worker_thread(transactional_db):
    """A real Celery worker (in a thread) consuming from the configured broker (Redis)."""
    from celery.contrib.testing.worker import start_worker

    from crm.celery import app

    if app.conf.broker_url.startswith("filesystem://"):
        pytest.skip("needs a real broker (set CELERY_BROKER_URL)")
    app.control.purge()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as worker:
        yield worker


def wait_for(condition, timeout: float = 15.0, interval: float = 0.1):
    """Poll ``condition`` until it is truthy (work done by a worker elsewhere), or fail."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


@pytest.fixture(autouse=True)
def _fresh_cache():
    # API throttling counts requests in the cache: one test's requests never count in another's.
    from django.core.cache import cache

    cache.clear()
