from __future__ import annotations

from celery import shared_task
from django.db import IntegrityError

from billing.models import BillingAccount, ReplacedSubscription
from billing.stripe_gateway import (
    SUBSCRIPTION_CANCEL_TASK,
    meter_usage_push,
    replaced_subscription_cancel,
    replaced_subscriptions_cancel,
    stripe_customer_provision,
)
from tenants.models import Tenant

TENANT_GONE = "tenant_gone"


@shared_task(name="billing.stripe_customer_provision_task", bind=True, max_retries=8, default_retry_delay=5)
def stripe_customer_provision_task(self, tenant_id: int) -> str:
    """The subscription's status; `tenant_gone` for a tenant erased before (or while) it ran, or inactive
    (being erased)."""
    import stripe

    try:
        return stripe_customer_provision(tenant=Tenant.objects.get(pk=tenant_id)).subscription_status
    except (Tenant.DoesNotExist, BillingAccount.DoesNotExist, IntegrityError):
        if Tenant.objects.filter(pk=tenant_id, is_active=True).exists():
            raise
        return TENANT_GONE
    except stripe.StripeError as exc:
        raise self.retry(exc=exc) from exc


@shared_task(name="billing.meter_usage_push_task")
def meter_usage_push_task() -> int:
    return meter_usage_push()


@shared_task(name=SUBSCRIPTION_CANCEL_TASK)
def stripe_subscription_cancel_task(replaced_id: int) -> bool:
    """The first try at canceling a replaced subscription, queued by the webhook that replaced it; beat's
    `replaced_subscriptions_cancel_task` tries again until Stripe confirms. True once it has."""
    import stripe

    replaced = ReplacedSubscription.objects.filter(pk=replaced_id).first()
    if replaced is None or replaced.canceled_at is not None:
        return True
    try:
        return replaced_subscription_cancel(replaced=replaced)
    except stripe.StripeError:
        return False


@shared_task(name="billing.replaced_subscriptions_cancel_task")
def replaced_subscriptions_cancel_task() -> int:
    return replaced_subscriptions_cancel()
