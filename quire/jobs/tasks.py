import logging

from celery import shared_task
from django.db import connection

from quire.jobs.services import JOB_RUN_TASK, LeaseHeld, job_fail_unexpectedly, job_run

logger = logging.getLogger(__name__)


@shared_task(name=JOB_RUN_TASK, bind=True, max_retries=None)
def job_run_task(self, job_id: str) -> str:
    try:
        return job_run(tenant=connection.tenant, job_id=job_id).status
    except LeaseHeld as held:
        raise self.retry(countdown=max(1.0, held.seconds_left + 1)) from None
    except Exception as exc:
        logger.exception("job %s failed", job_id)
        job_fail_unexpectedly(job_id=job_id, exc=exc)
        return "failed"
