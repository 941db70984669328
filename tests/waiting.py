"""Waiting for work done elsewhere (a worker, a thread) by polling its outcome."""

import time


def wait_for(condition, timeout: float = 15.0, interval: float = 0.1):
    """Poll ``condition`` until it is truthy (work done by a worker elsewhere), or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
