"""A saved or deleted API key, or a saved tenant, rewrites the cached key grants once the change commits
(tenants/keycache.py), whatever made the change: a service, the admin, a shell."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django_tenants.signals import tenant_delete_callback

from tenants.keycache import grant_tombstone, grants_refresh
from tenants.models import ApiKey, Tenant

# django-tenants listens to every model's deletes to drop a deleted tenant's schema, and a model with a delete
# listener is never deleted in bulk: deleting a document loaded each of its chunks, vectors and all, and sent
# a signal for each. It listens to tenants only.
post_delete.disconnect(tenant_delete_callback)
post_delete.connect(tenant_delete_callback, sender=Tenant)


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
