"""Fair shares: a tenant past its share of a worker pool's running tasks waits in the queue while another
tenant's job runs on the same worker, and its job's record shows how long it waited."""

import os
import threading
import time
import uuid

import pytest
from django.conf import settings
from django_tenants.utils import tenant_context

from quire.celery import app
from quire.fairness import Pool, pool_of, share_claim, share_release, share_running
from quire.jobs.models import TERMINAL, Job
from quire.jobs.services import JOB_RUN_TASK, job_cancel
from tests.support import Api, WorkerProcess, ready_document, wait_job
from tests.support.documents import CONTRACT
from tests.support.paths import ROOT
from tests.support.polling import wait_for
from tests.support.portal import stored_document


def test_a_share_holds_at_most_its_size_and_a_killed_tasks_claim_lapses(tenant_a, monkeypatch):
    schema = tenant_a.tenant.schema_name + "-unit"
    limit = settings.QUIRE_TENANT_MAX_RUNNING
    claimed = [share_claim(schema=schema, task_id=f"t{i}") for i in range(limit + 1)]
    assert claimed == [True] * limit + [False]
    assert share_claim(schema=schema, task_id="t0"), "a holder renews its own claim"
    share_release(schema=schema, task_id="t0")
    assert share_claim(schema=schema, task_id=f"t{limit}")
    for i in range(1, limit + 1):
        share_release(schema=schema, task_id=f"t{i}")
    assert share_running(schema=schema) == []

    monkeypatch.setattr(settings, "QUIRE_TENANT_SLOT_SECONDS", 0.3)
    assert share_claim(schema=schema, task_id="killed")
    time.sleep(0.4)
    assert share_running(schema=schema) == []


def test_a_tenant_holds_fewer_places_on_one_worker_than_its_children_and_pools_count_apart(tenant_a):
    schema = tenant_a.tenant.schema_name + "-pools"
    jobs = [Pool(node=f"jobs@{host}", queues="jobs", size=4) for host in ("one", "two")]
    claimed = [share_claim(schema=schema, task_id=f"jobs@one/t{i}", pool=jobs[0]) for i in range(4)]
    assert claimed == [True, True, True, False], "one of the worker's four children stays free"
    assert share_claim(schema=schema, task_id="jobs@two/t3", pool=jobs[1])
    assert not share_claim(schema=schema, task_id="jobs@two/t4", pool=jobs[1]), "QUIRE_TENANT_MAX_RUNNING"
    ingest = Pool(node="ingest@one", queues="ingest", size=2)
    assert share_claim(schema=schema, task_id="ingest@one/t0", pool=ingest)
    assert not share_claim(schema=schema, task_id="ingest@one/t1", pool=ingest)
    assert len(share_running(schema=schema, pool=jobs[0])) == 4
    assert share_running(schema=schema, pool=ingest) == ["ingest@one/t0"]
    for pool in (*jobs, ingest):
        for task_id in share_running(schema=schema, pool=pool):
            share_release(schema=schema, task_id=task_id, pool=pool)
    assert pool_of("jobs, ingest") == Pool(queues="ingest,jobs")


def test_the_claim_of_a_pool_process_that_died_gives_way_on_its_worker(tenant_a):
    from common.processes import process_identity

    schema = tenant_a.tenant.schema_name + "-dead-process"
    pool = Pool(node="jobs@one", queues="jobs", size=2)
    host, namespace, pid, _ = process_identity().split(":")
    dead = f"jobs@one/{host}:{namespace}:{pid}:0/task-1:0a"
    alive = f"jobs@one/{process_identity()}/task-2:0b"
    assert share_claim(schema=schema, task_id=alive, pool=pool)
    assert not share_claim(schema=schema, task_id=f"jobs@one/{process_identity()}/task-3:0c", pool=pool)
    share_release(schema=schema, task_id=alive, pool=pool)
    assert share_claim(schema=schema, task_id=dead, pool=pool)
    assert share_claim(schema=schema, task_id=alive, pool=pool)
    assert share_running(schema=schema, pool=pool) == [alive]
    share_release(schema=schema, task_id=alive, pool=pool)


def test_a_second_delivery_of_a_message_leaves_the_first_deliverys_place_alone(tenant_a):
    from quire.fairness import TenantShare

    schema = tenant_a.tenant.schema_name + "-redelivered"
    with TenantShare(schema, "task-1") as first:
        with TenantShare(schema, "task-1") as second:
            assert first.granted and second.granted
        assert share_running(schema=schema) == [first.task_id]
    assert share_running(schema=schema) == []


def test_a_tenant_past_its_share_waits_while_another_tenant_runs(
    tenant_a, api_a: Api, api_b: Api, celery_worker
):
    doc_a = ready_document(api_a, CONTRACT, "nda.txt")
    doc_b = ready_document(api_b, CONTRACT, "nda.txt")
    schema, pool = tenant_a.tenant.schema_name, pool_of(celery_worker.queues)
    # The session's worker may still be finishing a task an earlier test queued for this tenant.
    wait_for(
        lambda: share_running(schema=schema, pool=pool) == [],
        timeout=120,
        message=lambda: str(share_running(schema=schema, pool=pool)),
    )
    held = [f"held-{i}" for i in range(settings.QUIRE_TENANT_MAX_RUNNING)]
    assert all(share_claim(schema=schema, task_id=task_id, pool=pool) for task_id in held)
    try:
        job_a = api_a.post("/v1/jobs", {"connector": "legal", "documents": [doc_a]}).json()["id"]
        job_b = api_b.post("/v1/jobs", {"connector": "legal", "documents": [doc_b]}).json()["id"]
        assert wait_job(api_b, job_b)["status"] == "succeeded"
        waiting = api_a.get(f"/v1/jobs/{job_a}").json()
        assert waiting["status"] == "queued"
        assert waiting["queue_wait_seconds"] > 0
        time.sleep(2 * settings.QUIRE_TENANT_RETRY_SECONDS)
        assert api_a.get(f"/v1/jobs/{job_a}").json()["status"] == "queued"
    finally:
        for task_id in held:
            share_release(schema=schema, task_id=task_id, pool=pool)
    done = wait_job(api_a, job_a)
    assert done["status"] == "succeeded"
    assert done["queue_wait_seconds"] >= 2 * settings.QUIRE_TENANT_RETRY_SECONDS
    wait_for(
        lambda: share_running(schema=schema, pool=pool) == [],
        timeout=5,
        message=lambda: (
            f"the finished job's task still holds a place: {share_running(schema=schema, pool=pool)}"
        ),
    )


@pytest.mark.timeout(300)
def test_one_tenants_long_jobs_leave_a_child_of_the_jobs_worker_to_another_tenant(make_tenant):
    """A worker on a jobs queue alone, at the default share: tenant A's jobs, held in model calls, take fewer
    than all of its children, and tenant B's job starts within seconds."""
    from tests.connectors.conftest import ScriptedServer

    queue = f"jobs-fair-{os.getpid()}"
    release = threading.Event()
    server = ScriptedServer()

    def held_until_released(messages: list[dict]) -> str:
        release.wait(120)
        return "{}"

    server.responder = held_until_released
    log_path = ROOT / ".quire" / f"test-fair-worker-{os.getpid()}.log"
    env = {
        "QUIRE_INFERENCE_URL": server.url,
        "QUIRE_INFERENCE_MODEL": "scripted",
        "QUIRE_INFERENCE_TIMEOUT": "150",
    }
    worker = WorkerProcess(queues=queue, concurrency=2, env=env, log_path=log_path)
    first, second = make_tenant("fair-first"), make_tenant("fair-second")
    try:
        worker.start(timeout=120)

        def run(provisioned, mode: str) -> str:
            document = stored_document(provisioned, f"nda-{uuid.uuid4().hex}.txt", CONTRACT)
            with tenant_context(provisioned.tenant):
                job = Job.objects.create(connector="legal", document_ids=[document.pk], mode=mode)
                app.send_task(JOB_RUN_TASK, args=[job.pk], queue=queue)
            return job.pk

        def statuses(provisioned, job_ids: list[str]) -> list[str]:
            with tenant_context(provisioned.tenant):
                return [Job.objects.get(pk=job_id).status for job_id in job_ids]

        held = [run(first, "model") for _ in range(2)]
        wait_for(lambda: len(server.requests) >= 1, timeout=120, message=log_path.read_text)
        other = run(second, "analyzers")
        with tenant_context(second.tenant):
            done = wait_for(
                lambda: Job.objects.filter(pk=other, status__in=("succeeded", "failed")).first(),
                timeout=120,
                message=lambda: f"the first tenant's jobs: {statuses(first, held)}",
            )
        assert done.status == "succeeded"
        assert (done.started_at - done.created_at).total_seconds() < 10
        assert sorted(statuses(first, held)) == ["queued", "running"]
    finally:
        with tenant_context(first.tenant):
            for job in Job.objects.exclude(status__in=TERMINAL):
                job_cancel(job=job)
        release.set()
        worker.stop()
        server.close()
