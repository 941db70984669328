"""Helpers for tests that race two transactions on PostgreSQL: no sleeps as signals."""

import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import connection


def backend_pid() -> int:
    """This thread's PostgreSQL backend (its own connection)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def waiting_on_a_lock(pid: int) -> bool:
    """Whether backend ``pid`` waits for a lock (a row, an advisory lock) right now."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return bool(row and row[0] == "Lock")


def until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Poll ``condition`` (work done in another transaction) until it holds, or fail."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.01)


class Worker(threading.Thread):
    """Runs ``work`` on a connection of its own; keeps its result, its error and its
    backend pid (set before the work starts)."""

    def __init__(self, work: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.work = work
        self.pid: int | None = None
        self.started_work = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.pid = backend_pid()
            self.started_work.set()
            self.result = self.work()
        except BaseException as exc:
            self.error = exc
        finally:
            self.started_work.set()
            connection.close()

    def done_or_waiting(self) -> bool:
        """Finished, or blocked on a lock another transaction holds."""
        return not self.is_alive() or (self.pid is not None and waiting_on_a_lock(self.pid))


def pause_before_first(
    markers: tuple[str, ...], release: threading.Event, reached: threading.Event | None = None
) -> Callable[..., Any]:
    """A ``connection.execute_wrapper`` that, the first time a statement containing one of
    ``markers`` is about to run on this thread's connection, signals ``reached`` and waits
    for ``release``."""
    paused = []

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any):
        if not paused and any(marker in str(sql) for marker in markers):
            paused.append(True)
            if reached is not None:
                reached.set()
            assert release.wait(timeout=30), "never released"
        return execute(sql, params, many, context)

    return wrapper
