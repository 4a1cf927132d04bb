"""A task sent over the real broker runs in a separate worker process, in the sender's tenant schema."""

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
