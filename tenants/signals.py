"""A saved or deleted API key, or a saved tenant, rewrites the cached key grants once the change commits
(tenants/keycache.py), whatever made the change: a service, the admin, a shell."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from tenants.keycache import grant_tombstone, grants_refresh
from tenants.models import ApiKey, Tenant


@receiver(post_save, sender=ApiKey, dispatch_uid="tenants.api_key_saved")
def _api_key_saved(sender, instance: ApiKey, **kwargs) -> None:
    key_id = instance.pk
    transaction.on_commit(lambda: grants_refresh(key_ids=[key_id]))


@receiver(post_delete, sender=ApiKey, dispatch_uid="tenants.api_key_deleted")
def _api_key_deleted(sender, instance: ApiKey, **kwargs) -> None:
    transaction.on_commit(lambda: grant_tombstone(instance))


@receiver(post_save, sender=Tenant, dispatch_uid="tenants.tenant_saved")
def _tenant_saved(sender, instance: Tenant, created: bool, **kwargs) -> None:
    if not created:
        tenant_id = instance.pk
        transaction.on_commit(lambda: grants_refresh(tenant_id=tenant_id))
