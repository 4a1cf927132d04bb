"""Waiting for a condition that another process or thread makes true."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(
    predicate, timeout: float = 30.0, interval: float = 0.1, message: Callable[[], str] | None = None
):
    """The first truthy value of `predicate()`, polled every `interval` seconds for at most `timeout`; past
    that, an AssertionError that says `message()` when given."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s" + (f": {message()}" if message else ""))
