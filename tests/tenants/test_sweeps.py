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
