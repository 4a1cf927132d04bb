"""The sweeper queues again a delivery no attempt has begun, waiting twice as long after each time, so a message
waiting behind a backlog is not multiplied every minute."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from django.utils import timezone
from django_tenants.utils import tenant_context

from quire.webhooks.models import ALL_EVENTS, Delivery, Event, WebhookEndpoint


def test_a_delivery_waiting_in_a_backlog_is_queued_again_once_in_three_minutes_then_less_often(
    make_tenant, monkeypatch
):
    from quire.webhooks.services import outbox

    tenant = make_tenant("redispatch").tenant
    start = timezone.now()
    clock = [start]
    sent: list[str] = []
    monkeypatch.setattr(outbox, "timezone", SimpleNamespace(now=lambda: clock[0]))
    monkeypatch.setattr(outbox, "queue_after_commit", lambda ids, countdown=None: sent.extend(ids))

    def sweep_until(minutes: float) -> None:
        while clock[0] < start + timedelta(minutes=minutes):
            outbox.deliveries_dispatch_due()
            clock[0] += timedelta(seconds=5)

    with tenant_context(tenant):
        endpoint = WebhookEndpoint.objects.create(
            url="https://hooks.example.com/in", event_types=[ALL_EVENTS], secret="whsec_redispatch"
        )
        delivery = Delivery.objects.create(
            event=Event.objects.create(type="webhook.test", data={}),
            endpoint=endpoint,
            next_attempt_at=start,
            dispatched_at=start,
        )
        sweep_until(3)
        assert sent == [delivery.pk]
        sweep_until(8)
        assert sent == [delivery.pk] * 3
        delivery.refresh_from_db()
        assert delivery.redispatches == 3 and delivery.status == "pending" and delivery.attempts == 0


def test_an_event_whose_deliveries_the_broker_refuses_leaves_them_to_the_sweep(make_tenant, monkeypatch):
    """The event's transaction has committed when the broker refuses its deliveries: the caller neither fails
    after its commit nor loses the hooks queued after the event's (an ingest, a job run)."""
    from django.db import transaction
    from kombu.exceptions import OperationalError

    from quire.webhooks.services import event_publish, outbox

    def broker_down(name, args, **options):
        raise OperationalError("Error 111 connecting to redis: Connection refused.")

    monkeypatch.setattr(outbox, "current_app", SimpleNamespace(send_task=broker_down))
    tenant = make_tenant("refused").tenant
    later: list[str] = []
    with tenant_context(tenant):
        WebhookEndpoint.objects.create(
            url="https://hooks.example.com/in", event_types=[ALL_EVENTS], secret="whsec_refused"
        )
        with transaction.atomic():
            event = event_publish(event_type="webhook.test", data={})
            transaction.on_commit(lambda: later.append("ran"))
        assert later == ["ran"]
        delivery = Delivery.objects.get(event=event)
        assert delivery.status == "pending"
        sent: list[str] = []
        monkeypatch.setattr(outbox, "queue_after_commit", lambda ids, countdown=None: sent.extend(ids))
        monkeypatch.setattr(
            outbox, "timezone", SimpleNamespace(now=lambda: timezone.now() + outbox.REDISPATCH_AFTER * 2)
        )
        assert outbox.deliveries_dispatch_due() == 1 and sent == [delivery.pk]
