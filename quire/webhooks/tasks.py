"""Celery tasks of the `webhooks` queue; each runs the service it is named after."""

from __future__ import annotations

from celery import Task, shared_task
from django.db import connection

from quire.api.provenance import model_catalogue
from quire.webhooks.services import deliveries_dispatch_due, events_purge_expired, models_announce_changes
from quire.webhooks.services.delivery import COUNTDOWN_MAX_S, DeliveryBusy, DeliveryNotDue, delivery_attempt
from quire.webhooks.services.outbox import DELIVERY_ATTEMPT_TASK
from tenants.services import for_each_tenant


@shared_task(name=DELIVERY_ATTEMPT_TASK, bind=True)
def delivery_attempt_task(self: Task, delivery_id: str) -> str:
    """Runs in the schema of the tenant that queued it (tenant_schemas_celery)."""
    try:
        delivery = delivery_attempt(tenant=connection.tenant, delivery_id=delivery_id)
    except DeliveryBusy as busy:
        raise self.retry(countdown=busy.seconds_left + 0.5) from None
    except DeliveryNotDue as early:
        if early.seconds_left <= COUNTDOWN_MAX_S:
            raise self.retry(countdown=early.seconds_left) from None
        return "not_due"
    return delivery.status if delivery is not None else "missing"


@shared_task(name="quire.webhooks.deliveries_dispatch_due_task")
def deliveries_dispatch_due_task() -> int:
    return sum(for_each_tenant(lambda tenant: deliveries_dispatch_due()))


@shared_task(name="quire.webhooks.events_purge_expired_task")
def events_purge_expired_task() -> int:
    return sum(for_each_tenant(lambda tenant: events_purge_expired(), include_inactive=True))


@shared_task(name="quire.webhooks.models_announce_changes_task")
def models_announce_changes_task() -> int:
    """Compares this worker's view of the shipped models (its files and its licence settings, as every
    process of the deployment should share them) with each workspace's record."""
    catalogue = model_catalogue()
    return sum(len(x) for x in for_each_tenant(lambda tenant: models_announce_changes(catalogue=catalogue)))
