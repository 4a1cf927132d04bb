import logging

from celery import shared_task
from django.db import connection

from quire.fairness import TenantShare, retry_delay
from quire.jobs.services import (
    JOB_RUN_TASK,
    JOBS_REQUEUE_STALLED_TASK,
    RETENTION_APPLY_TASK,
    LeaseHeld,
    job_fail_unexpectedly,
    job_run,
    jobs_requeue_stalled,
    retention_apply,
)
from tenants.services import for_each_tenant

logger = logging.getLogger(__name__)


@shared_task(name=JOB_RUN_TASK, bind=True, max_retries=None)
def job_run_task(self, job_id: str) -> str:
    with TenantShare(connection.schema_name, self.request.id) as share:
        if not share.granted:
            raise self.retry(countdown=retry_delay())
        try:
            return job_run(tenant=connection.tenant, job_id=job_id).status
        except LeaseHeld as held:
            raise self.retry(countdown=max(1.0, held.seconds_left + 1)) from None
        except Exception as exc:
            logger.exception("job %s failed", job_id)
            job_fail_unexpectedly(job_id=job_id, exc=exc)
            return "failed"


@shared_task(name=JOBS_REQUEUE_STALLED_TASK)
def jobs_requeue_stalled_task() -> int:
    """Beat: re-queue the jobs whose lease lapsed, in every tenant."""
    return sum(for_each_tenant(lambda tenant: jobs_requeue_stalled()))


@shared_task(name=RETENTION_APPLY_TASK)
def retention_apply_task() -> int:
    """Beat: purge what is past each tenant's retention period."""
    return sum(
        sum(purged.values()) for purged in for_each_tenant(lambda tenant: retention_apply(tenant=tenant))
    )
