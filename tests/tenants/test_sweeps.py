"""The per-tenant sweeps (`for_each_tenant`) read every tenant schema on one connection; PostgreSQL caches the
catalog of each schema read for that connection's life, so a sweep closes its connection when it ends."""

from django.db import connection, transaction

from quire.documents.models import Document
from tenants.services import for_each_tenant


def _backend() -> tuple[int, int]:
    """This connection's backend process and the bytes of its memory contexts."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), (SELECT sum(total_bytes) FROM pg_backend_memory_contexts)")
        pid, cached = cursor.fetchone()
        return pid, int(cached)


def test_a_sweep_leaves_no_connection_holding_every_schemas_caches(tenant_a, tenant_b):
    connection.close()
    before = _backend()
    seen = for_each_tenant(lambda tenant: (Document.objects.count(), _backend())[1])
    assert len(seen) >= 2 and {pid for pid, _ in seen} == {before[0]}
    assert seen[-1][1] > seen[0][1]
    after = _backend()
    assert after[0] != before[0] and after[1] < seen[-1][1]


def test_a_sweep_inside_a_transaction_keeps_its_connection(tenant_a, tenant_b):
    with transaction.atomic():
        before = _backend()
        for_each_tenant(lambda tenant: Document.objects.count())
        assert _backend()[0] == before[0]


def test_a_tenant_that_fails_does_not_stop_the_sweep_and_is_named_at_its_end(tenant_a, tenant_b):
    import pytest

    from tenants.services import SweepFailed

    order = for_each_tenant(lambda tenant: tenant.slug)
    first, second = order[0], order[1]
    visited = []

    def action(tenant):
        if tenant.slug == first:
            raise ValueError("a fault in this tenant only")
        visited.append(tenant.slug)
        return Document.objects.count()

    with pytest.raises(SweepFailed, match=f"{first} \\(ValueError: a fault in this tenant only\\)") as failed:
        for_each_tenant(action)
    assert visited == order[1:] and second in visited
    assert list(failed.value.failures) == [first] and len(failed.value.results) == len(order) - 1


def test_a_sweep_visits_inactive_tenants_only_when_asked(make_tenant, tenant_a):
    dormant = make_tenant("dormant").tenant
    dormant.is_active = False
    dormant.save(update_fields=["is_active"])
    try:
        assert dormant.slug not in for_each_tenant(lambda tenant: tenant.slug)
        assert tenant_a.tenant.slug in for_each_tenant(lambda tenant: tenant.slug)
        assert dormant.slug in for_each_tenant(lambda tenant: tenant.slug, include_inactive=True)
    finally:
        dormant.delete(force_drop=True)


def test_a_sweep_past_its_soft_time_limit_stops_at_once(tenant_a, tenant_b):
    import pytest
    from celery.exceptions import SoftTimeLimitExceeded

    reached = []

    def action(tenant):
        reached.append(tenant.slug)
        raise SoftTimeLimitExceeded()

    with pytest.raises(SoftTimeLimitExceeded):
        for_each_tenant(action)
    assert len(reached) == 1
