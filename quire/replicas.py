"""Reads from a PostgreSQL read replica for safe requests, when `QUIRE_DATABASE_REPLICA_URL` is set.

`ReplicaReadsMiddleware` marks GET and HEAD requests under `QUIRE_DATABASE_REPLICA_PATHS` (by default
`/v1/`); inside them `ReplicaRouter` sends reads to the `replica` database, in the schema the primary
connection is in (the tenant the API key chose). Everything else reads the primary: writes, reads inside a
transaction (`select_for_update`, read-then-write), other requests, and every worker and beat task, which
must see the rows the request that queued them has just committed. A replica lags its primary, so a GET
right after a POST may not see what the POST wrote yet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse

REPLICA = "replica"
_replica_reads: ContextVar[bool] = ContextVar("quire_replica_reads", default=False)


@contextmanager
def replica_reads() -> Iterator[None]:
    """Route this block's reads outside transactions to the replica."""
    token = _replica_reads.set(True)
    try:
        yield
    finally:
        _replica_reads.reset(token)


class ReplicaReadsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.prefixes = tuple(settings.QUIRE_DATABASE_REPLICA_PATHS)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in ("GET", "HEAD") and request.path.startswith(self.prefixes):
            with replica_reads():
                return self.get_response(request)
        return self.get_response(request)


class ReplicaRouter:
    """Reads to the replica inside `replica_reads()` and outside transactions; writes to the primary."""

    def db_for_read(self, model: type, **hints: object) -> str | None:
        if not _replica_reads.get():
            return None
        primary = connections[DEFAULT_DB_ALIAS]
        if primary.in_atomic_block:
            return None
        replica = connections[REPLICA]
        if primary.tenant is not None and replica.schema_name != primary.schema_name:
            replica.set_tenant(primary.tenant)
        return REPLICA

    def db_for_write(self, model: type, **hints: object) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: object, obj2: object, **hints: object) -> bool:
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: object) -> bool | None:
        return False if db == REPLICA else None
