"""The PostgreSQL health check without a round trip (crm/backends/postgresql): a quiet
connection is reused without ``SELECT 1``; one the server dropped is still found and
replaced before a request's first statement fails on it."""

import select

import pytest
from django.db import connections

from tests.waiting import wait_for

pytestmark = [pytest.mark.django_db, pytest.mark.postgresql]


@pytest.fixture
def wrapper():
    """A connection of its own (outside the test's transaction), health checks on."""
    own = connections.create_connection("default")
    # The settings' own (crm/settings.py); the dict is shared with every connection.
    assert own.settings_dict["CONN_HEALTH_CHECKS"]
    own.ensure_connection()
    yield own
    own.close()


def backend_pid(wrapper):
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def new_request(wrapper):
    # What Django's request_started signal leaves: the next cursor runs the check.
    wrapper.health_check_done = False


def test_a_quiet_connection_is_reused_without_a_statement(wrapper, monkeypatch):
    pid = backend_pid(wrapper)
    sent = []
    raw = wrapper.connection
    real_cursor = raw.cursor
    monkeypatch.setattr(raw, "cursor", lambda *a, **k: sent.append(a) or real_cursor(*a, **k))
    new_request(wrapper)
    wrapper.close_if_health_check_failed()
    assert sent == []
    assert wrapper.health_check_done
    assert wrapper.connection is raw
    monkeypatch.undo()
    assert backend_pid(wrapper) == pid


def test_a_connection_the_server_dropped_is_replaced_before_the_first_statement(wrapper):
    pid = backend_pid(wrapper)
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    # The server's goodbye reaches the socket.
    poller = select.poll()
    poller.register(wrapper.connection.fileno(), select.POLLIN)
    wait_for(lambda: poller.poll(0), timeout=10, interval=0.05)
    new_request(wrapper)
    assert backend_pid(wrapper) != pid  # no error: the check closed it, a new one answered


def test_a_connection_closed_on_our_side_is_checked_the_slow_way(wrapper):
    pid = backend_pid(wrapper)
    wrapper.connection.close()
    new_request(wrapper)
    assert backend_pid(wrapper) != pid
