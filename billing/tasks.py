from __future__ import annotations

from celery import shared_task

from billing.stripe_gateway import (
    SUBSCRIPTION_CANCEL_TASK,
    meter_usage_push,
    stripe_customer_provision,
    stripe_subscription_cancel,
)
from tenants.models import Tenant


@shared_task(name="billing.stripe_customer_provision_task", bind=True, max_retries=8, default_retry_delay=5)
def stripe_customer_provision_task(self, tenant_id: int) -> str:
    import stripe

    try:
        return stripe_customer_provision(tenant=Tenant.objects.get(pk=tenant_id)).subscription_status
    except stripe.StripeError as exc:
        raise self.retry(exc=exc) from exc


@shared_task(name="billing.meter_usage_push_task")
def meter_usage_push_task() -> int:
    return meter_usage_push()


@shared_task(name=SUBSCRIPTION_CANCEL_TASK, bind=True, max_retries=8, default_retry_delay=5)
def stripe_subscription_cancel_task(self, subscription_id: str) -> str:
    import stripe

    try:
        return stripe_subscription_cancel(subscription_id=subscription_id)
    except stripe.StripeError as exc:
        raise self.retry(exc=exc) from exc
