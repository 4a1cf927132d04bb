"""A clock that moves only when a test moves it.

The `limiter_clock` fixture (tests/conftest.py) puts one in place of `quire.api.throttling.clock`, so the rate
limiters' windows start, slide and end where the test says, never with the wall clock."""

from __future__ import annotations


class FakeClock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
