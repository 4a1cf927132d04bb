"""Fair shares: a tenant past QUIRE_TENANT_MAX_RUNNING running tasks waits in the queue while another
tenant's job runs on the same worker, and its job's record shows how long it waited."""

import time

import pytest
from django.conf import settings

from quire.fairness import share_claim, share_release, share_running
from tests.support import Api, ready_document, wait_job
from tests.support.documents import CONTRACT
from tests.support.polling import wait_for


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


def test_a_second_delivery_of_a_message_leaves_the_first_deliverys_place_alone(tenant_a):
    from quire.fairness import TenantShare

    schema = tenant_a.tenant.schema_name + "-redelivered"
    with TenantShare(schema, "task-1") as first:
        with TenantShare(schema, "task-1") as second:
            assert first.granted and second.granted
        assert share_running(schema=schema) == [first.task_id]
    assert share_running(schema=schema) == []


@pytest.mark.usefixtures("celery_worker")
def test_a_tenant_past_its_share_waits_while_another_tenant_runs(tenant_a, api_a: Api, api_b: Api):
    doc_a = ready_document(api_a, CONTRACT, "nda.txt")
    doc_b = ready_document(api_b, CONTRACT, "nda.txt")
    schema = tenant_a.tenant.schema_name
    # The session's worker may still be finishing a task an earlier test queued for this tenant.
    wait_for(
        lambda: share_running(schema=schema) == [],
        timeout=120,
        message=lambda: str(share_running(schema=schema)),
    )
    held = [f"held-{i}" for i in range(settings.QUIRE_TENANT_MAX_RUNNING)]
    assert all(share_claim(schema=schema, task_id=task_id) for task_id in held)
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
            share_release(schema=schema, task_id=task_id)
    done = wait_job(api_a, job_a)
    assert done["status"] == "succeeded"
    assert done["queue_wait_seconds"] >= 2 * settings.QUIRE_TENANT_RETRY_SECONDS
    wait_for(
        lambda: share_running(schema=schema) == [],
        timeout=5,
        message=lambda: f"the finished job's task still holds a place: {share_running(schema=schema)}",
    )
