"""One Redis client per URL and process, with short timeouts: a Redis that does not answer fails the caller
in seconds (a 503), never hangs it."""

from functools import cache

import redis


@cache
def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
