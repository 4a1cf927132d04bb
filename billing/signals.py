"""A new tenant gets a billing account on the default plan, and (with Stripe configured) a Stripe customer
and subscription once the tenant's row is committed. Edits of plans and accounts (the admin included) drop
the cached entitlements they change."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from billing.entitlements import default_plan, entitlements_forget, entitlements_forget_all
from billing.models import BillingAccount, Plan
from tenants.models import Tenant


@receiver(post_save, sender=Tenant, dispatch_uid="billing-account-on-signup")
def open_billing_account(sender, instance: Tenant, created: bool, **kwargs) -> None:
    if not created or instance.schema_name == "public":
        return
    BillingAccount.objects.get_or_create(
        tenant=instance, defaults={"plan": default_plan(), "period_start": timezone.now()}
    )
    from billing.stripe_gateway import stripe_enabled

    if stripe_enabled():
        from billing.tasks import stripe_customer_provision_task

        tenant_id = instance.pk
        # A broker that cannot take it is logged: the customer is made when the tenant first checks out.
        transaction.on_commit(lambda: stripe_customer_provision_task.delay(tenant_id), robust=True)


@receiver(post_save, sender=BillingAccount, dispatch_uid="billing-account-changed")
def forget_account_entitlements(sender, instance: BillingAccount, **kwargs) -> None:
    tenant_id = instance.tenant_id
    transaction.on_commit(lambda: entitlements_forget(tenant_id))


@receiver(post_save, sender=Plan, dispatch_uid="billing-plan-changed")
def forget_plan_entitlements(sender, instance: Plan, **kwargs) -> None:
    transaction.on_commit(entitlements_forget_all)
