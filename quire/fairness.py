"""Fair shares of the workers. A worker's pool serves the queues it consumes (one in production: ingest, jobs),
and a tenant's running tasks are counted per pool: at most QUIRE_TENANT_MAX_RUNNING over every worker of that
pool, and on each worker QUIRE_TENANT_FREE_CHILDREN fewer than its children, so another tenant's task always
finds a free child of a worker, however long the first tenant's tasks run. A task past its tenant's share goes back to the queue
for QUIRE_TENANT_RETRY_SECONDS and the other tenants' tasks run meanwhile.

The share is a Redis sorted set per pool and tenant: members are the running tasks' ids (each after its
worker's node name and its process), scores the moment their claim lapses. A running task renews its claim
every third of QUIRE_TENANT_SLOT_SECONDS, so the claim of a killed worker's task lapses by itself; a claim
whose pool process is known to have died (`common.processes.process_gone`: the worker lives, and the broker
redelivers the task to another of its processes at once) is dropped when a claim on its worker is refused."""

from __future__ import annotations

import contextlib
import random
import secrets
import threading
import time
from dataclasses import dataclass

import redis
from django.conf import settings

from common.processes import process_gone, process_identity
from quire.redisclient import redis_client

# KEYS[1]: the pool's set of the tenant; ARGV: member, now, claim lapses at, share over every worker, this
# worker's node prefix, share on this worker. 1 when the member holds a claim.
_CLAIM_LUA = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local claimed = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not claimed then
  local members = redis.call('ZRANGE', KEYS[1], 0, -1)
  if #members >= tonumber(ARGV[4]) then
    return 0
  end
  local own = 0
  for _, member in ipairs(members) do
    if string.sub(member, 1, #ARGV[5]) == ARGV[5] then
      own = own + 1
    end
  end
  if own >= tonumber(ARGV[6]) then
    return 0
  end
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('EXPIRE', KEYS[1], math.ceil(ARGV[3] - ARGV[2]) + 1)
return 1
"""


@dataclass(frozen=True)
class Pool:
    """The worker a process serves: its node name, the queues it consumes (comma-separated, sorted: the tasks
    of those queues share its children) and how many children it has (None outside a worker)."""

    node: str = ""
    queues: str = ""
    size: int | None = None

    def on_each_worker(self) -> int:
        """A tenant's running places on one worker of this pool: QUIRE_TENANT_FREE_CHILDREN fewer than its
        children, at least one."""
        if self.size is None:
            return settings.QUIRE_TENANT_MAX_RUNNING
        return max(1, self.size - settings.QUIRE_TENANT_FREE_CHILDREN)


# Set by `quire.celery` as a worker starts; its pool children inherit it.
this_pool = Pool()


def pool_of(queues: str) -> Pool:
    """A pool named by the queues a worker consumes, as `celery worker -Q` takes them."""
    return Pool(queues=",".join(sorted(q.strip() for q in queues.split(",") if q.strip())))


def _key(pool: Pool, schema: str) -> str:
    return f"{settings.QUIRE_REDIS_PREFIX}:running:{pool.queues}:{schema}"


def share_claim(*, schema: str, task_id: str, pool: Pool | None = None) -> bool:
    """Claim (or renew) one of `schema`'s running places in `pool` (this process's) for `task_id`, a member
    named after the pool's node; False when its share is taken, over every worker of the pool or on this one."""
    pool = pool or this_pool
    client = redis_client(settings.REDIS_URL)
    key, script = _key(pool, schema), client.register_script(_CLAIM_LUA)

    def claimed() -> bool:
        now = time.time()
        lapses = now + settings.QUIRE_TENANT_SLOT_SECONDS
        args = [
            task_id,
            now,
            lapses,
            settings.QUIRE_TENANT_MAX_RUNNING,
            f"{pool.node}/",
            pool.on_each_worker(),
        ]
        return bool(script(keys=[key], args=args))

    return claimed() or (_forget_dead_processes(client, key, pool.node) > 0 and claimed())


def _forget_dead_processes(client: redis.Redis, key: str, node: str) -> int:
    """Drop the claims of this worker's pool processes that have died; how many."""
    dead = [
        member
        for member in (raw.decode() for raw in client.zrange(key, 0, -1))
        if member.startswith(f"{node}/") and process_gone(member.split("/", 2)[1])
    ]
    return client.zrem(key, *dead) if dead else 0


def share_member(task_id: str) -> str:
    """The member a task of this process claims a place as: its worker's node, this process, the task id and a
    token of this delivery's own."""
    return f"{this_pool.node}/{process_identity()}/{task_id}:{secrets.token_hex(4)}"


def share_release(*, schema: str, task_id: str, pool: Pool | None = None) -> None:
    redis_client(settings.REDIS_URL).zrem(_key(pool or this_pool, schema), task_id)


def share_running(*, schema: str, pool: Pool | None = None) -> list[str]:
    """The ids of `schema`'s tasks holding a running place in `pool` (this process's) now."""
    members = redis_client(settings.REDIS_URL).zrangebyscore(
        _key(pool or this_pool, schema), time.time(), "+inf"
    )
    return [member.decode() for member in members]


def retry_delay() -> float:
    """Seconds a task past its tenant's share waits before it asks again, jittered so deferred tasks do not
    return in step."""
    return settings.QUIRE_TENANT_RETRY_SECONDS * random.uniform(0.75, 1.25)


class TenantShare:
    """`with TenantShare(schema, task_id) as share:` claims a running place in this worker's pool;
    `share.granted` says whether it did. While granted, a thread renews the claim; on the way out the place is released. The place is this
    delivery's (the task id and a token of its own): a second delivery of the same message (Redis redelivers a
    message unacknowledged past its visibility timeout) takes a place of its own, and releasing it leaves the
    first delivery's alone."""

    def __init__(self, schema: str, task_id: str):
        self.schema, self.task_id = schema, share_member(task_id)
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
