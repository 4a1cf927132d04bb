"""Deliveries through real worker processes to a real receiver on loopback."""

from __future__ import annotations

import pytest
from django.db import transaction
from django_tenants.utils import tenant_context

from quire.webhooks.models import Delivery, Event, WebhookEndpoint
from tests.support import Api, WorkerProcess, wait_for
from tests.support.documents import CONTRACT


def _deliveries(api: Api, endpoint_id: str) -> list[dict]:
    return api.get(f"/v1/webhook_endpoints/{endpoint_id}/deliveries").json()["data"]


def _settled(api: Api, endpoint_id: str, count: int = 1) -> list[dict]:
    def done():
        rows = _deliveries(api, endpoint_id)
        return len(rows) >= count and all(r["status"] != "pending" for r in rows) and rows

    return wait_for(done, timeout=60, interval=0.1)


def test_document_and_job_events_arrive_signed(celery_worker, api_hooks: Api, endpoints, receiver):
    endpoint = endpoints(receiver.url, ["document.ready", "job.succeeded"])
    receiver.secrets = [endpoint["secret"]]
    doc_id = api_hooks.post(
        "/v1/documents", {"text": CONTRACT + "\nWebhooks.", "filename": "nda.txt"}
    ).json()["id"]
    ready = wait_for(lambda: receiver.of_type("document.ready"), timeout=120)[0]
    assert ready.payload["data"]["id"] == doc_id and ready.payload["data"]["status"] == "ready"
    assert ready.message_id.startswith("evt_") and ready.payload["timestamp"].endswith("Z")

    job = api_hooks.post("/v1/jobs", {"connector": "legal", "documents": [doc_id]}).json()
    succeeded = wait_for(lambda: receiver.of_type("job.succeeded"), timeout=180)[0]
    data = succeeded.payload["data"]
    assert data["id"] == job["id"] and data["status"] == "succeeded"
    assert data["result"]["output"]["answers"]["Governing Law"] == "Delaware"
    assert data["result_url"] == f"/v1/jobs/{job['id']}/result"
    metered = api_hooks.get(f"/v1/jobs/{job['id']}", **{"expand[]": "usage"}).json()["usage"]
    assert data["usage"] == metered and metered["job"] == 1 and metered["pages"] >= 1
    assert set(succeeded.payload) == {"type", "timestamp", "data"}
    assert all(r.verified_with == [endpoint["secret"]] for r in receiver.requests)
    assert {r.headers["content-type"] for r in receiver.requests} == {"application/json"}
    event = api_hooks.get(f"/v1/events/{succeeded.message_id}").json()
    assert event["type"] == "job.succeeded" and event["data"]["id"] == job["id"]


def test_fails_twice_then_one_accepted_delivery(
    celery_worker, api_hooks: Api, endpoints, receiver, hooks_tenant
):
    """Three attempts, and a task that comes after the success (a duplicate) sends nothing."""
    from quire.webhooks.services import delivery_attempt, event_publish

    endpoint = endpoints(receiver.url, ["usage.threshold"])
    receiver.secrets = [endpoint["secret"]]
    receiver.statuses = [500, 503]
    receiver.response_body = b"try later"
    with tenant_context(hooks_tenant.tenant):
        event = event_publish(event_type="usage.threshold", data={"metric": "pages", "percent": 90})
    [delivery] = _settled(api_hooks, endpoint["id"])
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 3
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 503, 200]
    assert [a["status"] for a in delivery["attempt_log"]] == ["failed", "failed", "succeeded"]
    assert delivery["attempt_log"][0]["response_excerpt"] == "try later"
    assert all(a["latency_ms"] is not None for a in delivery["attempt_log"])
    assert len(receiver.accepted()) == 1 and len(receiver.requests) == 3
    assert {r.message_id for r in receiver.requests} == {event.id}
    assert all(r.verified_with for r in receiver.requests)
    gaps = [b.at - a.at for a, b in zip(receiver.requests, receiver.requests[1:], strict=False)]
    assert gaps[0] >= 0.3 * 0.8 and gaps[1] >= 0.6 * 0.8
    with tenant_context(hooks_tenant.tenant):
        late = delivery_attempt(tenant=hooks_tenant.tenant, delivery_id=delivery["id"])
    assert late.status == "succeeded" and late.attempts == 3 and len(receiver.requests) == 3


def test_schedule_exhausted_marks_the_delivery_failed(
    celery_worker, api_hooks: Api, endpoints, receiver, hooks_tenant
):
    from quire.webhooks.services import event_publish

    endpoint = endpoints(receiver.url, ["usage.threshold"])
    receiver.default_status = 500
    with tenant_context(hooks_tenant.tenant):
        event_publish(event_type="usage.threshold", data={"metric": "jobs", "percent": 100})
    [delivery] = _settled(api_hooks, endpoint["id"])
    assert (
        delivery["status"] == "failed" and delivery["attempts"] == 4 and delivery["last_status_code"] == 500
    )
    assert api_hooks.get(f"/v1/webhook_endpoints/{endpoint['id']}").json()["failing_since"] is not None


def test_410_disables_the_endpoint_and_notifies_the_tenant(
    celery_worker, api_hooks: Api, endpoints, receiver, hooks_tenant
):
    from quire.webhooks.models import EndpointNotification
    from quire.webhooks.services import event_publish

    endpoint = endpoints(receiver.url, ["usage.threshold"])
    receiver.statuses = [410]
    with tenant_context(hooks_tenant.tenant):
        event_publish(event_type="usage.threshold", data={"n": 1})
    [delivery] = _settled(api_hooks, endpoint["id"])
    assert delivery["status"] == "failed" and delivery["attempts"] == 1
    state = api_hooks.get(f"/v1/webhook_endpoints/{endpoint['id']}").json()
    assert state["status"] == "disabled" and "410" in state["disabled_reason"]
    with tenant_context(hooks_tenant.tenant):
        note = wait_for(lambda: EndpointNotification.objects.filter(endpoint_id=endpoint["id"]).first())
        assert note.kind == "endpoint_disabled"
        assert note.recipients == ["admin@hooks.example", "owner@hooks.example"]
        event_publish(event_type="usage.threshold", data={"n": 2})
        assert not Delivery.objects.filter(endpoint_id=endpoint["id"], event__data__n=2).exists()
    refused = api_hooks.post(f"/v1/webhook_endpoints/{endpoint['id']}/test")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "endpoint_disabled"


def test_test_event_and_replay(celery_worker, api_hooks: Api, endpoints, receiver):
    endpoint = endpoints(receiver.url, ["job.failed"])
    receiver.secrets = [endpoint["secret"]]
    sent = api_hooks.post(f"/v1/webhook_endpoints/{endpoint['id']}/test")
    assert sent.status_code == 202 and sent.json()["event_type"] == "webhook.test"
    first = wait_for(lambda: receiver.of_type("webhook.test"))[0]
    assert first.payload["data"]["endpoint"] == endpoint["id"] and first.verified_with

    replayed = api_hooks.post(f"/v1/events/{first.message_id}/replay", {"endpoint": endpoint["id"]})
    assert replayed.status_code == 202, replayed.content
    assert replayed.json()["data"][0]["is_replay"] is True
    wait_for(lambda: len(receiver.of_type("webhook.test")) == 2)
    again = receiver.of_type("webhook.test")[1]
    assert again.message_id == first.message_id and again.body == first.body and again.verified_with
    log = api_hooks.get(f"/v1/events/{first.message_id}/deliveries").json()["data"]
    assert sorted(d["is_replay"] for d in log) == [False, True]


def test_rotation_grace_period_both_secrets_verify(
    celery_worker, api_hooks: Api, endpoints, receiver, hooks_tenant
):
    endpoint = endpoints(receiver.url, ["*"])
    old = endpoint["secret"]
    new = api_hooks.post(
        f"/v1/webhook_endpoints/{endpoint['id']}/rotate_secret", {"grace_period_seconds": 3600}
    ).json()["secret"]
    receiver.secrets = [old, new]
    api_hooks.post(f"/v1/webhook_endpoints/{endpoint['id']}/test")
    during = wait_for(lambda: receiver.accepted())[0]
    assert during.verified_with == [old, new]

    newest = api_hooks.post(
        f"/v1/webhook_endpoints/{endpoint['id']}/rotate_secret", {"grace_period_seconds": 0}
    ).json()["secret"]
    receiver.secrets = [old, new, newest]
    api_hooks.post(f"/v1/webhook_endpoints/{endpoint['id']}/test")
    after = wait_for(lambda: len(receiver.accepted()) == 2 and receiver.accepted())[1]
    assert after.verified_with == [newest]


def test_rolled_back_change_sends_nothing(celery_worker, api_hooks: Api, endpoints, receiver, hooks_tenant):
    from quire.webhooks.services import event_publish

    endpoint = endpoints(receiver.url, ["usage.threshold"])
    with tenant_context(hooks_tenant.tenant):
        with pytest.raises(RuntimeError), transaction.atomic():
            event = event_publish(event_type="usage.threshold", data={"rolled": "back"})
            raise RuntimeError("the change failed")
        assert not Event.objects.filter(pk=event.id).exists()
        event_publish(event_type="usage.threshold", data={"rolled": "forward"})
    [delivery] = _settled(api_hooks, endpoint["id"])
    assert delivery["status"] == "succeeded"
    assert [r.payload["data"] for r in receiver.requests] == [{"rolled": "forward"}]


def test_lost_queueing_is_recovered_by_the_sweeper(
    celery_worker, api_hooks: Api, endpoints, receiver, hooks_tenant
):
    """A delivery committed but never queued (the process died after commit) is found and sent. Until
    the sweep, the worker delivers a later event and the orphan stays untouched."""
    from django.utils import timezone

    from quire.webhooks.services import event_publish
    from quire.webhooks.tasks import deliveries_dispatch_due_task

    endpoint = endpoints(receiver.url, ["usage.threshold"])
    with tenant_context(hooks_tenant.tenant):
        orphan = Delivery.objects.create(
            event=Event.objects.create(type="usage.threshold", data={"orphan": True}),
            endpoint=WebhookEndpoint.objects.get(pk=endpoint["id"]),
            next_attempt_at=timezone.now(),
        )
        marker = event_publish(event_type="usage.threshold", data={"marker": True})
    assert [r.message_id for r in wait_for(lambda: receiver.accepted())] == [marker.id]
    with tenant_context(hooks_tenant.tenant):
        orphan.refresh_from_db()
    assert orphan.status == "pending" and orphan.attempts == 0 and orphan.dispatched_at is None

    assert deliveries_dispatch_due_task() >= 1
    arrived = wait_for(lambda: len(receiver.accepted()) == 2 and receiver.accepted())[1]
    assert arrived.message_id == orphan.event_id
    assert deliveries_dispatch_due_task() == 0


def test_worker_killed_mid_delivery_still_delivers(
    celery_worker, beat, api_hooks: Api, endpoints, receiver, hooks_tenant
):
    """SIGKILL the worker while its request is in flight: once the attempt's lease runs out, beat's
    sweep queues the delivery again and another worker delivers it."""
    from quire.webhooks.services import event_publish

    endpoint = endpoints(receiver.url, ["usage.threshold"])
    receiver.secrets = [endpoint["secret"]]
    receiver.hold = 1
    celery_worker.stop()
    victim = WorkerProcess(queues="webhooks", concurrency=1).start()
    try:
        with tenant_context(hooks_tenant.tenant):
            event = event_publish(event_type="usage.threshold", data={"metric": "pages", "percent": 95})
        wait_for(lambda: receiver.requests, timeout=30)
        victim.kill()
    finally:
        victim.kill()
        receiver.released.set()
    celery_worker.start()
    [delivery] = wait_for(
        lambda: (
            (rows := _deliveries(api_hooks, endpoint["id"])) and rows[0]["status"] == "succeeded" and rows
        ),
        timeout=60,
    )
    assert [a["status"] for a in delivery["attempt_log"]] == ["interrupted", "succeeded"]
    assert [r.message_id for r in receiver.requests] == [event.id, event.id]
    assert all(r.verified_with for r in receiver.requests)


def test_failed_document_and_failed_job_events(
    celery_worker, api_hooks: Api, endpoints, receiver, hooks_tenant
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from quire.jobs.models import Job
    from quire.jobs.tasks import job_run_task

    endpoints(receiver.url, ["document.failed", "job.failed"])
    broken = api_hooks.client.post(
        "/v1/documents",
        {
            "file": SimpleUploadedFile(
                "broken.pdf", b"%PDF-1.4\nnot a pdf at all", content_type="application/pdf"
            )
        },
        **api_hooks._headers(None),
    ).json()
    failed_doc = wait_for(lambda: receiver.of_type("document.failed"), timeout=120)[0].payload["data"]
    assert failed_doc["id"] == broken["id"] and failed_doc["failure_reason"]

    with tenant_context(hooks_tenant.tenant):
        job = Job.objects.create(connector="legal", document_ids=["doc_deleted_before_it_ran"])
        job_run_task.delay(job.id)
    failed_job = wait_for(lambda: receiver.of_type("job.failed"), timeout=120)[0].payload["data"]
    assert failed_job["id"] == job.id and failed_job["error"]["code"] == "invalid_input"
