"""What an API key grants, cached: the SHA-256 of its secret -> key id, tenant (and whether it is active, or in
maintenance), role, version, revoked.

Two layers. Each process trusts its own copy of a grant for `QUIRE_API_KEY_LOCAL_SECONDS` (0.5 s), then
reads Redis again, which keeps grants for `QUIRE_API_KEY_REDIS_SECONDS` and falls back to the database.
A change to a key or its tenant records a `GrantRefresh` in its transaction (`grants_refresh_later`); once it
commits, the grants it names are rewritten in Redis from the database (a deleted key's as revoked), so every
process refuses a revoked key, or uses a new role, after at most the local TTL. When Redis cannot be written
then (an outage, a crash after the commit), the record stays and beat's `grants_refresh_pending` sweep writes
it, so a Redis that comes back with its old data serves the old grant until that sweep at most
(`QUIRE_GRANT_REFRESH_SWEEP_SECONDS`), not for the grant's whole TTL. Rewrites run one at a time and read the
database once they hold their lock, so the last one to write read the last change. A fill from the database
never overwrites a grant (`cache.add`), so a fill that read the row before the change cannot undo the rewrite.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q

from tenants.models import ApiKey, GrantRefresh, Tenant

logger = logging.getLogger("tenants.keycache")

# The local layer's time source (tests may put a clock they move by hand in its place).
clock = time.monotonic


@dataclass(frozen=True)
class ApiKeyGrant:
    key_id: str
    role: str
    version: str
    revoked: bool
    tenant_id: int
    tenant_schema: str
    tenant_slug: str
    tenant_public_id: str
    tenant_active: bool
    tenant_maintenance: bool

    @classmethod
    def of(cls, api_key: ApiKey) -> ApiKeyGrant:
        tenant = api_key.tenant
        return cls(
            key_id=api_key.pk,
            role=api_key.role,
            version=api_key.version,
            revoked=api_key.revoked_at is not None,
            tenant_id=tenant.pk,
            tenant_schema=tenant.schema_name,
            tenant_slug=tenant.slug,
            tenant_public_id=tenant.public_id,
            tenant_active=tenant.is_active,
            tenant_maintenance=tenant.maintenance_since is not None,
        )

    @property
    def active(self) -> bool:
        return not self.revoked and self.tenant_active

    @property
    def tenant(self) -> Tenant:
        """The key's tenant without a query: these fields are loaded, any other one on first access."""
        loaded = {
            "id": self.tenant_id,
            "schema_name": self.tenant_schema,
            "slug": self.tenant_slug,
            "public_id": self.tenant_public_id,
            "is_active": self.tenant_active,
        }
        names = [f.attname for f in Tenant._meta.concrete_fields if f.attname in loaded]
        return Tenant.from_db(None, names, [loaded[name] for name in names])


# What Redis holds for a hash no key has.
MISSING = "missing"


def _redis_key(secret_hash: str) -> str:
    return f"tenants:api_key_grant:2:{secret_hash}"  # bump the 2 when ApiKeyGrant changes shape


def _shared_grant(secret_hash: str) -> ApiKeyGrant | None:
    """The key's grant from Redis, else the database. A hash no key has is remembered as such for
    `QUIRE_API_KEY_MISSING_SECONDS`, so an integration retrying a mistyped or deleted key costs no query each
    time; a key made later with that hash (its secret unguessable before) is written over it when it commits."""
    grant = cache.get(_redis_key(secret_hash))
    if grant == MISSING:
        return None
    if grant is None:
        api_key = ApiKey.objects.select_related("tenant").filter(secret_hash=secret_hash).first()
        if api_key is None:
            cache.add(_redis_key(secret_hash), MISSING, settings.QUIRE_API_KEY_MISSING_SECONDS)
            return None
        grant = ApiKeyGrant.of(api_key)
        cache.add(_redis_key(secret_hash), grant, settings.QUIRE_API_KEY_REDIS_SECONDS)
    return grant


class GrantCache:
    """One process's copies of grants, each trusted for `ttl` seconds (`QUIRE_API_KEY_LOCAL_SECONDS`)."""

    def __init__(self, ttl: float | None = None, max_entries: int = 10_000):
        self._ttl, self.max_entries = ttl, max_entries
        self._entries: dict[str, tuple[float, ApiKeyGrant]] = {}

    @property
    def ttl(self) -> float:
        return settings.QUIRE_API_KEY_LOCAL_SECONDS if self._ttl is None else self._ttl

    def get(self, secret_hash: str) -> ApiKeyGrant | None:
        """The grant for this hash (revoked ones too), or None for a key that does not exist."""
        now = clock()
        entry = self._entries.get(secret_hash)
        if entry is not None and now - entry[0] < self.ttl:
            return entry[1]
        grant = _shared_grant(secret_hash)
        if grant is None:
            self._entries.pop(secret_hash, None)
            return None
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[secret_hash] = (now, grant)
        return grant

    def forget(self, secret_hash: str) -> None:
        self._entries.pop(secret_hash, None)


# This process's cache: `api_key_authenticate` reads it, `grants_refresh` clears what it rewrites.
local_grants = GrantCache()


# The advisory lock under which grants are rewritten, one rewrite at a time.
GRANTS_LOCK = 0x5155495245_0001


def grants_refresh_later(*, secret_hash: str = "", tenant_id: int | None = None) -> None:
    """Record, in the current transaction, that this key's grant (or all of the tenant's keys') is to be
    rewritten, and rewrite it once the transaction commits."""
    pending = GrantRefresh.objects.create(secret_hash=secret_hash, tenant_id=tenant_id)
    transaction.on_commit(lambda: grants_refresh_pending(ids=[pending.pk]))


def grants_refresh_pending(*, ids: Iterable[int] | None = None, limit: int = 1000) -> int:
    """Rewrite the grants the pending `GrantRefresh` records name (these `ids`, else the oldest `limit`) and
    delete the records; how many were done. Redis unreachable: nothing is deleted, the next sweep tries again."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [GRANTS_LOCK])
        records = GrantRefresh.objects.order_by("id")
        if ids is not None:
            records = records.filter(pk__in=list(ids))
        records = list(records[:limit])
        if not records:
            return 0
        try:
            grants_refresh(
                secret_hashes=[r.secret_hash for r in records if r.secret_hash],
                tenant_ids=[r.tenant_id for r in records if r.tenant_id is not None],
            )
        except redis.RedisError as exc:
            logger.warning("API-key grants not rewritten, %d left for the next sweep: %s", len(records), exc)
            return 0
        GrantRefresh.objects.filter(pk__in=[r.pk for r in records]).delete()
    return len(records)


def grants_refresh(*, secret_hashes: Iterable[str] = (), tenant_ids: Iterable[int] = ()) -> None:
    """Rewrite the shared grants of these keys (a hash no key has any more as revoked) and of all these
    tenants' keys from the database, and drop this process's copies. Raises Redis's errors."""
    secret_hashes, tenant_ids = set(secret_hashes), set(tenant_ids)
    keys = ApiKey.objects.select_related("tenant").filter(
        Q(secret_hash__in=secret_hashes) | Q(tenant_id__in=tenant_ids)
    )
    grants = {key.secret_hash: ApiKeyGrant.of(key) for key in keys}
    grants |= {h: _revoked() for h in secret_hashes - grants.keys()}
    cache.set_many(
        {_redis_key(h): grant for h, grant in grants.items()}, settings.QUIRE_API_KEY_REDIS_SECONDS
    )
    for secret_hash in grants:
        local_grants.forget(secret_hash)


def _revoked(api_key: ApiKey | None = None) -> ApiKeyGrant:
    """A revoked grant; without the key (deleted), revoked and nothing else."""
    return ApiKeyGrant(
        key_id=api_key.pk if api_key else "",
        role=api_key.role if api_key else "",
        version=api_key.version if api_key else "",
        revoked=True,
        tenant_id=api_key.tenant_id if api_key else 0,
        tenant_schema="",
        tenant_slug="",
        tenant_public_id="",
        tenant_active=False,
        tenant_maintenance=False,
    )


def grant_tombstone(api_key: ApiKey) -> None:
    """Write the key's shared grant revoked, before the revoke commits: a process that dies between the commit
    and the rewrite leaves no active grant behind. Needs no query."""
    cache.set(_redis_key(api_key.secret_hash), _revoked(api_key), settings.QUIRE_API_KEY_REDIS_SECONDS)
    local_grants.forget(api_key.secret_hash)
