"""The API-key grant cache: a cached request costs only its view's query, and a revoked key or a new role
reaches every web process (here: two independent per-process caches over the same Redis) within 1 s."""

import time

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tenants import keycache, services
from tenants.keycache import GrantCache
from tenants.models import ApiKey
from tenants.services import api_key_issue, api_key_revoke, api_key_update
from tests.support import Api, FakeClock


def test_a_cached_request_runs_only_the_views_query(tenant_a, api_a: Api):
    created = api_a.post("/v1/documents", {"text": "Cached keys cost no query.", "filename": "c.txt"})
    assert created.status_code == 201, created.content
    path = f"/v1/documents/{created.json()['id']}"
    api = Api(api_key_issue(tenant=tenant_a.tenant, name="cached", role="viewer").secret)
    assert api.get(path).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = api.get(path)
    assert response.status_code == 200, response.content
    statements = [q["sql"] for q in queries.captured_queries]
    # The tenant switch (django-tenants sets search_path before a query) and the view's reads: the document,
    # its attachments and the e-mails it is attached to; nothing reads the key.
    assert statements[0] == f'SET search_path = "{tenant_a.tenant.schema_name}","public"', statements
    reads = [s for s in statements if not s.startswith("SET ")]
    assert len(reads) == 3 and all("documents_" in s and "apikey" not in s for s in reads), statements


def test_last_used_is_written_once_a_minute(tenant_a):
    issued = api_key_issue(tenant=tenant_a.tenant, name="usage-once", role="viewer")
    api = Api(issued.secret)
    api.get("/v1/health")
    first = ApiKey.objects.get(pk=issued.api_key.pk).last_used_at
    assert first is not None
    api.get("/v1/health")
    assert ApiKey.objects.get(pk=issued.api_key.pk).last_used_at == first


@pytest.fixture
def two_processes(monkeypatch):
    """Two per-process caches, neither the one in which the change is made, so neither is told of it."""
    caches = GrantCache(), GrantCache()

    def as_process(index: int) -> None:
        monkeypatch.setattr(services, "local_grants", caches[index])

    return as_process


def _seconds_until(as_process, api: Api, path: str, status: int, since: float) -> list[float]:
    """For each of the two processes, the seconds from `since` until `path` answers `status`."""
    waited = [None, None]
    while None in waited and time.monotonic() - since < 3:
        for index in (0, 1):
            if waited[index] is None:
                as_process(index)
                if api.get(path).status_code == status:
                    waited[index] = time.monotonic() - since
        time.sleep(0.02)
    return waited


def _warm(as_process, api: Api, path: str, status: int) -> None:
    for index in (0, 1):
        as_process(index)
        assert api.get(path).status_code == status
        with CaptureQueriesContext(connection) as queries:
            assert api.get(path).status_code == status
        assert not any('"secret_hash" =' in q["sql"] for q in queries.captured_queries)


def test_a_revoked_key_is_refused_by_every_process_within_a_second(tenant_a, two_processes):
    issued = api_key_issue(tenant=tenant_a.tenant, name="revoke-everywhere", role="viewer")
    api = Api(issued.secret)
    _warm(two_processes, api, "/v1/health", 200)
    revoked_at = time.monotonic()
    api_key_revoke(api_key=issued.api_key)
    waited = _seconds_until(two_processes, api, "/v1/health", 401, revoked_at)
    assert None not in waited and max(waited) < 1.0, waited


def test_a_role_change_reaches_every_process_within_a_second(tenant_a, two_processes):
    issued = api_key_issue(tenant=tenant_a.tenant, name="demote-everywhere", role="admin")
    api = Api(issued.secret)
    _warm(two_processes, api, "/v1/api_keys", 200)
    changed_at = time.monotonic()
    api_key_update(api_key=issued.api_key, role="developer")
    waited = _seconds_until(two_processes, api, "/v1/api_keys", 403, changed_at)
    assert None not in waited and max(waited) < 1.0, waited


def test_a_process_trusts_its_copy_for_the_local_ttl_only(tenant_a, monkeypatch):
    clock = FakeClock(1000.0)
    monkeypatch.setattr(keycache, "clock", clock)
    other = GrantCache()
    issued = api_key_issue(tenant=tenant_a.tenant, name="ttl", role="viewer")
    secret_hash = issued.api_key.secret_hash
    assert other.get(secret_hash).active
    api_key_revoke(api_key=issued.api_key)
    clock.advance(settings.QUIRE_API_KEY_LOCAL_SECONDS)
    assert other.get(secret_hash).revoked


def test_a_deleted_key_stays_refused(tenant_a):
    issued = api_key_issue(tenant=tenant_a.tenant, name="deleted", role="viewer")
    api = Api(issued.secret)
    assert api.get("/v1/health").status_code == 200
    ApiKey.objects.filter(pk=issued.api_key.pk).get().delete()
    assert api.get("/v1/health").status_code == 401
    assert GrantCache().get(issued.api_key.secret_hash).revoked


def test_a_revoke_whose_process_died_before_the_refresh_leaves_the_key_refused(tenant_a, monkeypatch):
    from django.db import transaction

    issued = api_key_issue(tenant=tenant_a.tenant, name="revoke-then-crash", role="viewer")
    secret_hash = issued.api_key.secret_hash
    assert GrantCache().get(secret_hash).active
    monkeypatch.setattr(transaction, "on_commit", lambda hook, **kwargs: None)
    api_key_revoke(api_key=issued.api_key)
    monkeypatch.undo()
    assert GrantCache().get(secret_hash).revoked
    assert Api(issued.secret).get("/v1/health").status_code == 401


def test_revoking_again_writes_the_grant_a_failed_refresh_left_active(tenant_a, monkeypatch):
    import redis
    from django.db import transaction

    from tenants import services

    def unreachable(api_key):
        raise redis.ConnectionError("Redis is unreachable")

    issued = api_key_issue(tenant=tenant_a.tenant, name="revoke-during-a-blip", role="viewer")
    secret_hash = issued.api_key.secret_hash
    assert GrantCache().get(secret_hash).active
    monkeypatch.setattr(transaction, "on_commit", lambda hook, **kwargs: None)
    monkeypatch.setattr(services, "grant_tombstone", unreachable)
    api_key_revoke(api_key=issued.api_key)
    monkeypatch.undo()
    assert GrantCache().get(secret_hash).active, "the shared grant Redis kept through the outage"
    api_key_revoke(api_key=ApiKey.objects.get(pk=issued.api_key.pk))
    assert GrantCache().get(secret_hash).revoked


def test_an_unknown_key_is_looked_up_once_then_refused_from_redis(tenant_a):
    from django.core.cache import cache

    from tenants.identifiers import API_KEY_PREFIX

    unknown = Api(f"{API_KEY_PREFIX}{'0' * 40}")
    assert unknown.get("/v1/documents").status_code == 401
    with CaptureQueriesContext(connection) as queries:
        again = unknown.get("/v1/documents")
    assert again.status_code == 401, again.content
    assert not any("apikey" in q["sql"] for q in queries.captured_queries), queries.captured_queries

    issued = api_key_issue(tenant=tenant_a.tenant, name="once unknown", role="viewer")
    secret_hash = ApiKey.objects.get(pk=issued.api_key.pk).secret_hash
    cache.set(keycache._redis_key(secret_hash), keycache.MISSING)
    keycache.grants_refresh(secret_hashes=[secret_hash])
    assert Api(issued.secret).get("/v1/documents").status_code == 200


class _Unreachable:
    """Redis during an outage."""

    def __getattr__(self, name: str):
        import redis

        def fails(*args, **kwargs):
            raise redis.ConnectionError("Redis is unreachable")

        return fails


def test_a_role_change_redis_missed_is_written_by_the_next_sweep(tenant_a, monkeypatch):
    from tenants.models import GrantRefresh
    from tenants.tasks import grants_refresh_pending_task

    issued = api_key_issue(tenant=tenant_a.tenant, name="demoted-in-an-outage", role="admin")
    secret_hash, api = issued.api_key.secret_hash, Api(issued.secret)
    assert api.get("/v1/api_keys").status_code == 200
    monkeypatch.setattr(keycache, "cache", _Unreachable())
    api_key_update(api_key=issued.api_key, role="developer")
    monkeypatch.undo()
    assert GrantCache().get(secret_hash).role == "admin", "Redis came back with the grant it held"
    assert GrantRefresh.objects.filter(secret_hash=secret_hash).exists()

    assert grants_refresh_pending_task() >= 1
    assert GrantCache().get(secret_hash).role == "developer"
    assert api.get("/v1/api_keys").status_code == 403
    assert not GrantRefresh.objects.filter(secret_hash=secret_hash).exists()


def test_a_key_deleted_while_redis_is_unreachable_is_refused_after_the_next_sweep(tenant_a, monkeypatch):
    issued = api_key_issue(tenant=tenant_a.tenant, name="deleted-in-an-outage", role="viewer")
    api = Api(issued.secret)
    assert api.get("/v1/health").status_code == 200
    monkeypatch.setattr(keycache, "cache", _Unreachable())
    ApiKey.objects.get(pk=issued.api_key.pk).delete()
    monkeypatch.undo()
    assert GrantCache().get(issued.api_key.secret_hash).active

    keycache.grants_refresh_pending()
    assert GrantCache().get(issued.api_key.secret_hash).revoked
    assert api.get("/v1/health").status_code == 401


def test_a_tenant_suspended_in_an_outage_is_refused_after_the_sweep(make_tenant, monkeypatch):
    other = make_tenant("grants-outage")
    try:
        api = Api(other.issued_key.secret)
        assert api.get("/v1/health").status_code == 200
        monkeypatch.setattr(keycache, "cache", _Unreachable())
        other.tenant.is_active = False
        other.tenant.save(update_fields=["is_active"])
        monkeypatch.undo()
        secret_hash = other.issued_key.api_key.secret_hash
        assert GrantCache().get(secret_hash).active

        keycache.grants_refresh_pending()
        assert not GrantCache().get(secret_hash).active
        assert api.get("/v1/health").status_code == 401
    finally:
        other.tenant.delete(force_drop=True)


def test_rewrites_wait_for_one_another(tenant_a):
    """A rewrite reads the database only once it holds the lock, so one that started before a change committed
    cannot write its older read after the change's own rewrite."""
    import threading

    from django.db import connections

    from tenants.models import GrantRefresh

    issued = api_key_issue(tenant=tenant_a.tenant, name="serialised", role="viewer")
    record = GrantRefresh.objects.create(secret_hash=issued.api_key.secret_hash)
    holder = connections.create_connection("default")
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [keycache.GRANTS_LOCK])
        done = []

        def rewrite() -> None:
            try:
                done.append(keycache.grants_refresh_pending(ids=[record.pk]))
            finally:
                connections.close_all()

        thread = threading.Thread(target=rewrite)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive() and not done, "the rewrite ran while another held the lock"
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [keycache.GRANTS_LOCK])
        thread.join(10)
        assert done == [1]
    finally:
        holder.close()


def test_beat_sweeps_pending_grants_on_a_queue_the_workers_consume():
    from quire.celery import app
    from quire.launcher import QUEUES

    entry = settings.CELERY_BEAT_SCHEDULE["rewrite-pending-grants"]
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks
    assert app.amqp.router.route({}, entry["task"])["queue"].name in QUEUES.split(",")
    assert entry["schedule"] == settings.QUIRE_GRANT_REFRESH_SWEEP_SECONDS
