from __future__ import annotations

from celery import shared_task
from django.db import IntegrityError

from billing.models import BillingAccount
from billing.stripe_gateway import (
    SUBSCRIPTION_CANCEL_TASK,
    meter_usage_push,
    stripe_customer_provision,
    stripe_subscription_cancel,
)
from tenants.models import Tenant

TENANT_GONE = "tenant_gone"


@shared_task(name="billing.stripe_customer_provision_task", bind=True, max_retries=8, default_retry_delay=5)
def stripe_customer_provision_task(self, tenant_id: int) -> str:
    """The subscription's status; `tenant_gone` for a tenant erased before (or while) it ran."""
    import stripe

    try:
        return stripe_customer_provision(tenant=Tenant.objects.get(pk=tenant_id)).subscription_status
    except (Tenant.DoesNotExist, BillingAccount.DoesNotExist, IntegrityError):
        if Tenant.objects.filter(pk=tenant_id).exists():
            raise
        return TENANT_GONE
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
