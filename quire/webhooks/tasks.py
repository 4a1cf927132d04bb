import logging

from celery import shared_task
from django_tenants.utils import get_tenant_model, tenant_context

from quire.webhooks.services import (
    COUNTDOWN_MAX_S,
    DeliveryBusy,
    DeliveryNotDue,
    deliveries_dispatch_due,
    delivery_attempt,
    events_purge_expired,
)

logger = logging.getLogger(__name__)


@shared_task(name="quire.webhooks.deliver", bind=True, max_retries=None)
def deliver(self, delivery_id: str) -> str:
    try:
        delivery = delivery_attempt(delivery_id=delivery_id)
    except DeliveryBusy as busy:
        raise self.retry(countdown=busy.seconds_left + 0.5) from None
    except DeliveryNotDue as early:
        if early.seconds_left <= COUNTDOWN_MAX_S:
            raise self.retry(countdown=early.seconds_left) from None
        return "not_due"
    return delivery.status if delivery is not None else "missing"


@shared_task(name="quire.webhooks.dispatch_due_deliveries")
def dispatch_due_deliveries() -> int:
    queued = 0
    for tenant in get_tenant_model().objects.exclude(schema_name="public"):
        with tenant_context(tenant):
            queued += deliveries_dispatch_due()
    return queued


@shared_task(name="quire.webhooks.purge_expired_events")
def purge_expired_events() -> int:
    purged = 0
    for tenant in get_tenant_model().objects.exclude(schema_name="public"):
        with tenant_context(tenant):
            purged += events_purge_expired()
    return purged
