"""A saved or deleted API key, or a saved tenant, records that the cached key grants are to be rewritten, and they
are once the change commits (tenants/keycache.py), whatever made the change: a service, the admin, a shell."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django_tenants.signals import tenant_delete_callback

from tenants.keycache import grants_refresh_later
from tenants.models import ApiKey, Tenant

# django-tenants listens to every model's deletes to drop a deleted tenant's schema, and a model with a delete
# listener is never deleted in bulk: deleting a document loaded each of its chunks, vectors and all, and sent
# a signal for each. It listens to tenants only.
post_delete.disconnect(tenant_delete_callback)
post_delete.connect(tenant_delete_callback, sender=Tenant)


@receiver(post_save, sender=ApiKey, dispatch_uid="tenants.api_key_saved")
def _api_key_saved(sender, instance: ApiKey, **kwargs) -> None:
    grants_refresh_later(secret_hash=instance.secret_hash)


@receiver(post_delete, sender=ApiKey, dispatch_uid="tenants.api_key_deleted")
def _api_key_deleted(sender, instance: ApiKey, **kwargs) -> None:
    grants_refresh_later(secret_hash=instance.secret_hash)


@receiver(post_save, sender=Tenant, dispatch_uid="tenants.tenant_saved")
def _tenant_saved(sender, instance: Tenant, created: bool, **kwargs) -> None:
    if not created:
        grants_refresh_later(tenant_id=instance.pk)
