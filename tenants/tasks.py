from __future__ import annotations

from celery import shared_task

from tenants.keycache import grants_refresh_pending

GRANTS_REFRESH_PENDING_TASK = "tenants.grants_refresh_pending_task"


@shared_task(name=GRANTS_REFRESH_PENDING_TASK)
def grants_refresh_pending_task() -> int:
    return grants_refresh_pending()
