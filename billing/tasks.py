from __future__ import annotations

from celery import shared_task

from billing.stripe_gateway import meter_usage_push, stripe_customer_provision, stripe_subscription_cancel
from tenants.models import Tenant


@shared_task(name="billing.provision_stripe_customer", bind=True, max_retries=8, default_retry_delay=5)
def provision_stripe_customer(self, tenant_id: int) -> str:
    import stripe

    try:
        return stripe_customer_provision(tenant=Tenant.objects.get(pk=tenant_id)).stripe_customer_id
    except stripe.StripeError as exc:
        raise self.retry(exc=exc) from exc


@shared_task(name="billing.push_meter_usage")
def push_meter_usage() -> int:
    return meter_usage_push()


@shared_task(name="billing.cancel_stripe_subscription", bind=True, max_retries=8, default_retry_delay=5)
def cancel_stripe_subscription(self, subscription_id: str) -> str:
    import stripe

    try:
        return stripe_subscription_cancel(subscription_id=subscription_id)
    except stripe.StripeError as exc:
        raise self.retry(exc=exc) from exc
