"""Django's PostgreSQL backend with a health check that costs no round trip when the
connection is quiet.

``CONN_HEALTH_CHECKS`` makes Django send ``SELECT 1`` before the first statement of every
request that reuses a connection: a round trip and ~0.3 ms of CPU on each webhook and
each next-lead ask (docs/profiles/webhooks.md). A connection the server has dropped (a
restart, ``pg_terminate_backend``, ``idle_session_timeout``, a pooler closing it) has
bytes waiting on its socket, the server's last message or the end of the stream, while
a healthy idle connection has none. So the socket is polled without waiting: nothing to
read means the connection is as Django left it and the check is done; anything to read,
or a connection psycopg already knows is closed, gets Django's own ``SELECT 1``. A peer
gone without a word (no FIN, no RST) is missed by both alike: ``SELECT 1`` would wait
for TCP's timeout on it just as the first real statement does.
"""

import select
from typing import Any

from django.db.backends.postgresql import base


def socket_quiet(fileno: int) -> bool:
    """Whether nothing is waiting to be read on ``fileno`` (without waiting). Where
    ``poll`` is missing (Windows) nothing counts as quiet: Django's ``SELECT 1`` decides."""
    if not hasattr(select, "poll"):
        return False
    poller = select.poll()
    poller.register(fileno, select.POLLIN | select.POLLPRI)
    return not poller.poll(0)


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self) -> None:
        connection = self.connection
        state: Any = self  # django-stubs do not know the health check's attributes
        if (
            connection is not None
            and state.health_check_enabled
            and not state.health_check_done
            and not state.pool
            and not connection.closed
            and self._quiet(connection)
        ):
            state.health_check_done = True
            return
        super().close_if_health_check_failed()

    @staticmethod
    def _quiet(connection: object) -> bool:
        try:
            return socket_quiet(connection.fileno())  # type: ignore[attr-defined]
        except (OSError, ValueError):  # closed underneath us: let SELECT 1 decide
            return False
