import logging
import time

from billiard.process import current_process
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import close_old_connections, connection

from common.processes import pool_process_retire
from quire.fairness import TenantShare, retry_delay
from quire.jobs.services import (
    JOB_RUN_TASK,
    JOBS_REQUEUE_STALLED_TASK,
    RETENTION_APPLY_TASK,
    JobPutOff,
    LeaseHeld,
    job_run,
    job_seen,
    jobs_requeue_stalled,
    retention_apply,
)
from quire.queueing import UNAVAILABLE
from tenants.services import for_each_tenant

logger = logging.getLogger(__name__)


@shared_task(
    name=JOB_RUN_TASK,
    bind=True,
    soft_time_limit=settings.QUIRE_JOB_SOFT_TIME_LIMIT,
    time_limit=settings.QUIRE_JOB_TIME_LIMIT,
)
def job_run_task(self, job_id: str) -> str:
    """Run the job within its tenant's share. `job_run` fails the attempt it claimed on an unexpected error, and
    as `timed_out` at the soft time limit; an error before the claim (PostgreSQL or Redis unreachable, a stale
    connection) is retried, since the job is still queued and nothing else would run it, and so is a run its
    tenant's maintenance stopped, which left the job queued. A pool process the soft limit interrupted exits once
    the job is failed."""
    soft_limit = (self.request.timelimit or (None, None))[1] or self.soft_time_limit
    started = time.monotonic()
    interrupted = False
    try:
        job_seen(job_id=job_id)
        with TenantShare(connection.schema_name, self.request.id) as share:
            if not share.granted:
                raise self.retry(countdown=retry_delay())
            try:
                return job_run(tenant=connection.tenant, job_id=job_id, time_limit=soft_limit).status
            except LeaseHeld as held:
                raise self.retry(countdown=max(1.0, held.seconds_left + 1)) from None
            except JobPutOff:
                raise self.retry(countdown=settings.QUIRE_MAINTENANCE_RETRY_SECONDS) from None
    except UNAVAILABLE as exc:
        logger.warning("job %s: %s before it could run; retried", job_id, type(exc).__name__)
        close_old_connections()
        raise self.retry(countdown=retry_delay()) from exc
    except SoftTimeLimitExceeded:
        interrupted = True
        return "failed"
    finally:
        # The pool's clock starts before `started`, so its signal can land a little before the task's own clock
        # reaches the limit; the elapsed time covers a signal some library code swallowed.
        past_limit = interrupted or time.monotonic() - started >= soft_limit
        if past_limit and current_process().name != "MainProcess":
            pool_process_retire(f"the job {job_id} ran past its soft time limit")


@shared_task(name=JOBS_REQUEUE_STALLED_TASK)
def jobs_requeue_stalled_task() -> int:
    """Beat: re-queue the jobs whose lease lapsed, in every tenant."""
    return sum(for_each_tenant(lambda tenant: jobs_requeue_stalled()))


@shared_task(name=RETENTION_APPLY_TASK)
def retention_apply_task() -> int:
    """Beat: purge what is past each tenant's retention period, deleting documents for at most
    `QUIRE_RETENTION_BUDGET_SECONDS` a run; the documents left wait for the next run, which begins one tenant
    further along, so one tenant's backlog cannot keep the others' waiting. Returns how many rows went."""
    deadline = time.monotonic() + settings.QUIRE_RETENTION_BUDGET_SECONDS
    run = int(time.time() // settings.QUIRE_RETENTION_SWEEP_SECONDS)
    swept = for_each_tenant(
        lambda tenant: retention_apply(tenant=tenant, deadline=deadline), include_inactive=True, start=run
    )
    return sum(sum(purged.values()) for purged in swept)
