from celery import shared_task
from django_tenants.utils import get_tenant_model, tenant_context

from quire.api.idempotency import purge_expired_records


@shared_task(name="quire.api.tasks.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    deleted = 0
    for tenant in get_tenant_model().objects.exclude(schema_name="public"):
        with tenant_context(tenant):
            deleted += purge_expired_records()
    return deleted
