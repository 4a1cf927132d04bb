from celery import shared_task

from quire.api.idempotency import idempotency_records_purge
from tenants.services import for_each_tenant


@shared_task(name="quire.api.idempotency_records_purge_task")
def idempotency_records_purge_task() -> int:
    return sum(for_each_tenant(lambda tenant: idempotency_records_purge(), include_inactive=True))
