"""Two writers at once: one runs in a thread of its own (with its own database connection), the test pauses it
inside its transaction and waits until PostgreSQL has the other waiting on a lock it holds."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from tests.support.polling import wait_for


class Side:
    """`fn()` running in a thread of its own; `result()` waits for what it returned (or raises what it raised)."""

    def __init__(self, fn: Callable[[], Any]):
        self._fn, self._value, self._error = fn, None, None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from django.db import connection

        try:
            self._value = self._fn()
        except BaseException as exc:
            self._error = exc
        finally:
            connection.close()

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self, timeout: float = 20.0) -> Any:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the other side did not finish"
        if self._error is not None:
            raise self._error
        return self._value


class Pause:
    """Stands in for a function: a call that `when(*args, **kwargs)` selects waits until `release()`, before the
    function runs (or, `after`, once it has run); `entered` is set at the first such call, `count` counts them."""

    def __init__(self, real: Callable, when: Callable[..., bool], after: bool = False):
        self.real, self.when, self.after = real, when, after
        self.entered, self._released = threading.Event(), threading.Event()
        self.count = 0

    def __call__(self, *args, **kwargs):
        chosen = self.when(*args, **kwargs)
        value = self.real(*args, **kwargs) if self.after else None
        if chosen:
            self.count += 1
            self.entered.set()
            assert self._released.wait(20), "the test never released the paused call"
        return value if self.after else self.real(*args, **kwargs)

    def release(self) -> None:
        self._released.set()


def pause(
    monkeypatch, owner: Any, name: str, when: Callable[..., bool] = lambda *a, **k: True, after: bool = False
) -> Pause:
    """Put a `Pause` in place of `owner.name` (a method too: `when` is then given the instance first)."""
    paused = Pause(getattr(owner, name), when, after)
    if isinstance(owner, type):

        def method(self, *args, **kwargs):
            return paused(self, *args, **kwargs)

        monkeypatch.setattr(owner, name, method)
    else:
        monkeypatch.setattr(owner, name, paused)
    return paused


def waiting_on_a_lock() -> bool:
    """Whether a session of the test database waits on a lock (a row lock another transaction holds)."""
    from django.db import connections

    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def blocked_on_a_lock(timeout: float = 10.0) -> None:
    """Wait until a session of the test database waits on a lock."""
    wait_for(waiting_on_a_lock, timeout=timeout, interval=0.05, message=lambda: "no session waits on a lock")
