"""Per-API-key rate limit: a fixed-window counter in Redis, one round trip per request."""

from __future__ import annotations

import time
from functools import cache
from typing import TYPE_CHECKING

import redis
from django.conf import settings
from rest_framework.throttling import BaseThrottle

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView

_PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """'600/min' -> (600, 60)."""
    count, _, period = rate.partition("/")
    if period not in _PERIODS or not count.isdigit():
        raise ValueError(f"rate must look like '600/min', got {rate!r}")
    return int(count), _PERIODS[period]


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def hit(key: str, limit: int, period: int) -> tuple[bool, int, int]:
    """Count one request against `key`. Returns (allowed, remaining, seconds until the window resets)."""
    window = int(time.time()) // period
    redis_key = f"{settings.QUIRE_REDIS_PREFIX}:rate:{key}:{window}"
    pipe = _client(settings.REDIS_URL).pipeline(transaction=False)
    pipe.incr(redis_key)
    pipe.expire(redis_key, period + 1)
    count, _ = pipe.execute()
    reset = period - int(time.time()) % period
    return count <= limit, max(0, limit - count), reset


class ApiKeyRateThrottle(BaseThrottle):
    scope = "api_key"

    def allow_request(self, request: Request, view: APIView) -> bool:
        principal = request.user
        if principal is None or not getattr(principal, "is_authenticated", False):
            return True
        limit, period = parse_rate(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][self.scope])
        allowed, remaining, reset = hit(f"key:{principal.api_key.pk}", limit, period)
        request._request.rate_limit = {"limit": limit, "remaining": remaining, "reset": reset}
        self._wait = reset
        return allowed

    def wait(self) -> float:
        return self._wait
