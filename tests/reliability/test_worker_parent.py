"""The worker's parent (Celery's main process) SIGKILLed while its pool child runs a job: whatever becomes of
the orphaned child, the job never stays `running`. Its lease lapses or the child finishes it; beat's sweep
hands a lapsed job to a new worker, and the job ends once, with one result and one set of usage rows."""

from __future__ import annotations

import contextlib
import os
import signal

import psutil
import pytest
from django_tenants.utils import tenant_context

from billing.models import UsageEvent
from quire.jobs.models import Job, JobResult
from quire.jobs.services import JOB_RUN_TASK
from tests.support import Api, literature_job, wait_job
from tests.support.recovery import RESCUER_VISIBILITY_S, rescued


@pytest.mark.timeout(300)
def test_a_job_whose_workers_parent_is_killed_ends_once(celery_worker, make_tenant, tmp_path):
    """The shared worker is the victim: its main process is killed, its pool child left orphaned."""
    provisioned = make_tenant("rel-parent")
    api = Api(provisioned.issued_key.secret)
    body = literature_job(api, papers=6, claims=3)
    with rescued(celery_worker, tmp_path, JOB_RUN_TASK) as rescue:
        job_id = api.post("/v1/jobs", body).json()["id"]
        wait_job(api, job_id, statuses=("running",), timeout=60)
        parent = celery_worker.proc
        assert psutil.Process(parent.pid).children(), "the worker has no pool process"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        try:
            rescue.start()
            done = wait_job(api, job_id, timeout=RESCUER_VISIBILITY_S)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(parent.pid, signal.SIGKILL)
        assert done["status"] == "succeeded", done
        # The job was finished by the orphaned child (attempt 1) or by beat's re-queued copy (attempt 2),
        # never by the broker's redelivery of the original task, which comes only after a minute.
        assert len(rescue.worker.task_ids_received(JOB_RUN_TASK)) == done["attempt"] - 1
    with tenant_context(provisioned.tenant):
        job = Job.objects.get(pk=job_id)
        assert (job.status, job.attempt) == ("succeeded", done["attempt"])
        [result] = JobResult.objects.filter(job_id=job_id)
        assert result.attempt == job.attempt
    kinds = sorted(UsageEvent.objects.filter(job_id=job_id).values_list("kind", flat=True))
    assert kinds == ["job", "pages"]
