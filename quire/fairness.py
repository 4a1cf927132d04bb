"""Fair shares of the workers. At most QUIRE_TENANT_MAX_RUNNING heavy tasks (ingestion and jobs) of one
tenant run at once across every worker; a task past its tenant's share goes back to the queue for
QUIRE_TENANT_RETRY_SECONDS and the other tenants' tasks run meanwhile.

The share is a Redis sorted set per tenant: members are the running tasks' ids, scores the moment their
claim lapses. A running task renews its claim every third of QUIRE_TENANT_SLOT_SECONDS, so the claim of a
killed worker's task lapses by itself."""

from __future__ import annotations

import contextlib
import random
import secrets
import threading
import time

import redis
from django.conf import settings

from quire.redisclient import redis_client

# KEYS[1]: the tenant's set; ARGV: task id, now, claim lapses at, share. 1 when the task holds a claim.
_CLAIM_LUA = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  redis.call('EXPIRE', KEYS[1], math.ceil(ARGV[3] - ARGV[2]) + 1)
  return 1
end
return 0
"""


def _key(schema: str) -> str:
    return f"{settings.QUIRE_REDIS_PREFIX}:running:{schema}"


def share_claim(*, schema: str, task_id: str) -> bool:
    """Claim (or renew) one of `schema`'s running places for `task_id`; False when its share is taken."""
    client = redis_client(settings.REDIS_URL)
    now = time.time()
    lapses = now + settings.QUIRE_TENANT_SLOT_SECONDS
    script = client.register_script(_CLAIM_LUA)
    return bool(script(keys=[_key(schema)], args=[task_id, now, lapses, settings.QUIRE_TENANT_MAX_RUNNING]))


def share_release(*, schema: str, task_id: str) -> None:
    redis_client(settings.REDIS_URL).zrem(_key(schema), task_id)


def share_running(*, schema: str) -> list[str]:
    """The ids of `schema`'s tasks holding a running place now."""
    members = redis_client(settings.REDIS_URL).zrangebyscore(_key(schema), time.time(), "+inf")
    return [member.decode() for member in members]


def retry_delay() -> float:
    """Seconds a task past its tenant's share waits before it asks again, jittered so deferred tasks do not
    return in step."""
    return settings.QUIRE_TENANT_RETRY_SECONDS * random.uniform(0.75, 1.25)


class TenantShare:
    """`with TenantShare(schema, task_id) as share:` claims a running place; `share.granted` says whether it
    did. While granted, a thread renews the claim; on the way out the place is released. The place is this
    delivery's (the task id and a token of its own): a second delivery of the same message (Redis redelivers a
    message unacknowledged past its visibility timeout) takes a place of its own, and releasing it leaves the
    first delivery's alone."""

    def __init__(self, schema: str, task_id: str):
        self.schema, self.task_id = schema, f"{task_id}:{secrets.token_hex(4)}"
        self.granted = False
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def __enter__(self) -> TenantShare:
        self.granted = share_claim(schema=self.schema, task_id=self.task_id)
        if self.granted:
            self._renewer = threading.Thread(target=self._renew, name="tenant-share", daemon=True)
            self._renewer.start()
        return self

    def _renew(self) -> None:
        while not self._stop.wait(settings.QUIRE_TENANT_SLOT_SECONDS / 3):
            with contextlib.suppress(redis.RedisError):
                share_claim(schema=self.schema, task_id=self.task_id)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self.granted:
            self._renewer.join()
            with contextlib.suppress(redis.RedisError):
                share_release(schema=self.schema, task_id=self.task_id)
