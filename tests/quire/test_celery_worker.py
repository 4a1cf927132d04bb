"""A task sent over the real broker runs in a separate worker process, in the sender's tenant schema."""

import os

from django.db import connection
from django_tenants.utils import tenant_context

from quire.documents.models import Document
from tests.support import Api, wait_for


def test_ingest_runs_in_a_worker_in_the_right_schema(
    celery_worker, api_a: Api, api_b: Api, tenant_a, tenant_b
):
    text = "A worker process normalises this text.\r\nSecond line."
    doc_id = api_a.post("/v1/documents", {"text": text}).json()["id"]

    def ready():
        return api_a.get(f"/v1/documents/{doc_id}").json()["status"] == "ready"

    wait_for(ready, timeout=60)
    with tenant_context(tenant_a.tenant):
        document = Document.objects.get(pk=doc_id)
        assert document.text == "A worker process normalises this text.\nSecond line."
    with tenant_context(tenant_b.tenant):
        assert not Document.objects.filter(pk=doc_id).exists()
    assert connection.schema_name == "public"
    assert celery_worker.proc.poll() is None


def test_pool_children_share_the_cores_for_torch(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from quire import celery
    from quire.celery import _share_cores, available_cores, torch_threads_per_child

    assert [torch_threads_per_child(n, 8) for n in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    assert torch_threads_per_child("auto", 8) == 1
    assert torch_threads_per_child(None, 2) == 1
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3})
    cpu_max = tmp_path / "cpu.max"
    for written, cores in [
        ("max 100000", 4),
        ("150000 100000", 2),
        ("800000 100000", 4),
        ("50000 100000", 1),
    ]:
        cpu_max.write_text(written + "\n")
        assert available_cores(cpu_max) == cores
    assert available_cores(tmp_path / "absent") == 4
    monkeypatch.setattr(celery, "available_cores", lambda: 4)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    _share_cores(sender=SimpleNamespace(concurrency=2))
    assert os.environ["OMP_NUM_THREADS"] == "2"
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    _share_cores(sender=SimpleNamespace(concurrency=4))
    assert os.environ["OMP_NUM_THREADS"] == "3"
