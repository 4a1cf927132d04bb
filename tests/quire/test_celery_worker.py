"""A task sent over the real broker runs in a separate worker process, in the sender's tenant schema, and one
whose tenant no longer exists is skipped."""

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


def test_a_task_whose_tenant_is_gone_is_skipped_not_run_in_public(celery_worker, api_a: Api):
    from quire.celery import app
    from quire.jobs.services import JOB_RUN_TASK

    gone = app.send_task(JOB_RUN_TASK, args=["job_of_an_erased_tenant"], headers={"_schema_name": "t_erased"})

    wait_for(
        lambda: celery_worker.task_succeeded(JOB_RUN_TASK, gone.id),
        timeout=60,
        message=lambda: celery_worker.log_path.read_text(errors="replace")[-3000:],
    )
    log = celery_worker.log_path.read_text(errors="replace")
    assert f"task {JOB_RUN_TASK}[{gone.id}] skipped: no tenant has schema t_erased" in log
    doc_id = api_a.post("/v1/documents", {"text": "The worker still serves the tenants that exist."}).json()[
        "id"
    ]
    wait_for(lambda: api_a.get(f"/v1/documents/{doc_id}").json()["status"] == "ready", timeout=60)
