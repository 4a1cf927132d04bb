"""Rate limits: the platform ceiling per API key (`QUIRE_API_RATE`) and the tenant's plan rates per tenant
and per API key, fixed-window counters in Redis counted in one round trip per request (a request one limit
refuses counts against none, so a key past its own limit does not spend its tenant's), which also says
whether the key's `last_used_at` is due (at most once a minute); sign-in attempts use a sliding window
(`hit_sliding`). The headers report the limit that refused the request, else the one with the fewest
requests left."""

from __future__ import annotations

import time
import uuid
from functools import cache
from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from quire.redisclient import redis_client
from tenants.services import LAST_USED_SECONDS

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView

# The limiters' time source, seconds since the epoch (tests put a clock they move by hand in its place).
clock = time.time

_PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


@cache
def parse_rate(rate: str) -> tuple[int, int]:
    """'600/min' -> (600, 60)."""
    count, _, period = rate.partition("/")
    if period not in _PERIODS or not count.isdigit():
        raise ValueError(f"rate must look like '600/min', got {rate!r}")
    return int(count), _PERIODS[period]


# KEYS: the window counters, then the once-per marker; ARGV: each counter's TTL, then each counter's limit,
# then the marker's TTL (0: no marker). The counters move only when every one of them allows the request, so a
# request one limit refuses spends nothing of the others. One command, so the whole per-request check is one
# round trip and one reply to parse: each counter with this request in it, then whether the marker was set.
_HIT_ALL_LUA = """
local n = #KEYS - 1
local replies = {}
local allowed = true
for i = 1, n do
  replies[i] = tonumber(redis.call('GET', KEYS[i]) or '0') + 1
  if replies[i] > tonumber(ARGV[n + i]) then allowed = false end
end
if allowed then
  for i = 1, n do
    redis.call('INCR', KEYS[i])
    if replies[i] == 1 then redis.call('EXPIRE', KEYS[i], ARGV[i]) end
  end
end
local ttl = tonumber(ARGV[2 * n + 1])
replies[n + 1] = (ttl > 0 and redis.call('SET', KEYS[n + 1], 1, 'NX', 'EX', ttl)) and 1 or 0
return replies
"""


@cache
def _hit_all_script(url: str):
    return redis_client(url).register_script(_HIT_ALL_LUA)


def hit_all(
    limits: list[tuple[str, int, int]], *, once_per: tuple[str, int] | None = None
) -> tuple[list[tuple[bool, int, int]], bool]:
    """Count one request against each (key, limit, period) in one round trip, when every limit allows it: a
    request that any of them refuses counts against none. One (allowed, remaining, reset seconds) per limit.
    `once_per` (key, seconds), in the same round trip, says whether this is the first request to ask in those
    seconds (the second value; False without `once_per`)."""
    now = int(clock())
    prefix = settings.QUIRE_REDIS_PREFIX
    marker, marker_ttl = once_per or ("none", 0)
    replies = _hit_all_script(settings.REDIS_URL)(
        keys=[
            *(f"{prefix}:rate:{key}:{now // period}" for key, _, period in limits),
            f"{prefix}:once:{marker}",
        ],
        args=[*(period + 1 for _, _, period in limits), *(limit for _, limit, _ in limits), marker_ttl],
    )
    counts = list(zip(replies[:-1], limits, strict=True))
    counted = all(count <= limit for count, (_, limit, _) in counts)
    outcomes = [
        (count <= limit, max(0, limit - (count if counted else count - 1)), period - now % period)
        for count, (_, limit, period) in counts
    ]
    return outcomes, bool(replies[-1])


def sliding_key(key: str) -> str:
    """The Redis key of `hit_sliding`'s window for `key`."""
    return f"{settings.QUIRE_REDIS_PREFIX}:rate:sliding:{key}"


def hit_sliding(key: str, limit: int, period: int) -> tuple[bool, int]:
    """Count one attempt against `key` in a sliding window: refused once more than `limit` attempts fall in
    any `period` seconds, with no doubled burst at a window edge. Returns (allowed, seconds until the oldest
    counted attempt leaves the window)."""
    now = clock()
    redis_key = sliding_key(key)
    pipe = redis_client(settings.REDIS_URL).pipeline(transaction=True)
    pipe.zremrangebyscore(redis_key, "-inf", now - period)
    pipe.zadd(redis_key, {f"{now:.6f}:{uuid.uuid4().hex[:8]}": now})
    pipe.zcard(redis_key)
    pipe.zrange(redis_key, 0, 0, withscores=True)
    pipe.expire(redis_key, period + 1)
    _, _, count, oldest, _ = pipe.execute()
    wait = int(oldest[0][1] + period - now) + 1 if oldest else period
    return count <= limit, wait


class ApiKeyRateThrottle(BaseThrottle):
    scope = "api_key"

    def allow_request(self, request: Request, view: APIView) -> bool:
        principal = request.user
        if principal is None or not getattr(principal, "is_authenticated", False):
            return True
        from billing.entitlements import entitlements_for

        entitled = entitlements_for(principal.tenant)
        ceiling = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][self.scope]
        key_id = principal.key_id
        limits = [
            (f"key:{key_id}", *parse_rate(ceiling)),
            (f"plan:tenant:{principal.tenant.pk}", *parse_rate(entitled.api_rate)),
            (f"plan:key:{key_id}", *parse_rate(entitled.api_key_rate)),
        ]
        outcomes, first_use = hit_all(limits, once_per=(f"used:{key_id}", LAST_USED_SECONDS))
        if first_use:
            request._request.api_key_used = key_id
        refused = [(o, lim) for o, lim in zip(outcomes, limits, strict=True) if not o[0]]
        (allowed, remaining, reset), (_, limit, _) = (
            refused[0] if refused else min(zip(outcomes, limits, strict=True), key=lambda pair: pair[0][1])
        )
        request._request.rate_limit = {"limit": limit, "remaining": remaining, "reset": reset}
        self._wait = reset
        return allowed

    def wait(self) -> float:
        return self._wait
