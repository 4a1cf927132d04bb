"""A worker SIGKILLed mid-meter-push, at the worst moment: Stripe has recorded the meter event, the worker
has not yet marked the batch sent. The next push sends the batch again with the same identifier and
`Idempotency-Key`, and Stripe counts the usage once.

The push runs on a queue of this test's own, so that no other worker of the test run takes it."""

from __future__ import annotations

import time

import stripe
from celery import current_app
from django.utils import timezone

from billing.models import MeterBatch
from billing.services import usage_record
from billing.stripe_gateway import meter_batches_create, meter_usage_push, stripe_customer_provision
from tests.support import WorkerProcess

QUEUE = "reliability-billing"
METER_EVENTS = ("POST", "/v1/billing/meter_events")


def test_a_worker_killed_mid_meter_push_bills_the_usage_exactly_once(stripe_server, make_tenant, tmp_path):
    tenant = make_tenant("rel-meter").tenant
    account = stripe_customer_provision(tenant=tenant)
    meter_batches_create()
    MeterBatch.objects.filter(sent_at=None).update(sent_at=timezone.now())
    usage_record(tenant=tenant, job_id="job_rel_meter", quantities={"pages": 9, "job": 1})
    posts_before = stripe_server.state.requests.count(METER_EVENTS)

    hold = stripe_server.state.hold_after(*METER_EVENTS)
    victim = WorkerProcess(queues=QUEUE, concurrency=1, log_path=tmp_path / "victim.log").start()
    try:
        current_app.send_task("billing.meter_usage_push_task", queue=QUEUE)
        assert hold.reached.wait(60), f"no meter event posted; see {victim.log_path}"
        victim.kill()
    finally:
        victim.kill()
        hold.release.set()
    [batch] = MeterBatch.objects.filter(tenant=tenant)
    assert batch.sent_at is None and batch.units == 9
    assert batch.id in stripe_server.state.meter_events

    assert meter_usage_push() >= 1
    assert meter_usage_push() == 0
    batch.refresh_from_db()
    assert batch.sent_at is not None
    assert stripe_server.state.requests.count(METER_EVENTS) - posts_before >= 2
    meter_id = next(m["id"] for m in stripe_server.state.meters.values() if m["event_name"] == "quire_pages")
    summary = stripe.billing.Meter.list_event_summaries(
        meter_id, customer=account.stripe_customer_id, start_time=0, end_time=int(time.time()) + 300
    )
    assert summary.data[0].aggregated_value == 9
