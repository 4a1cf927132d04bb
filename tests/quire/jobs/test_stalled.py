"""A job whose worker dies is re-queued by beat once its lease lapses, long before the broker would
redeliver it, and finishes exactly once, even when the broker redelivers the original task afterwards."""

from __future__ import annotations

import time
from datetime import timedelta
from types import SimpleNamespace

import psutil
import pytest
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from billing.models import UsageEvent
from quire.jobs.models import Job, JobResult
from quire.jobs.services import JOB_RUN_TASK, jobs_requeue_stalled
from tests.support import Api, WorkerProcess, literature_job, start_job_and_kill_its_worker, wait_job
from tests.support.processes import task_ids_received
from tests.support.recovery import RESCUER_VISIBILITY_S, rescued

LEASE_S = settings.QUIRE_JOB_LEASE_SECONDS


@pytest.mark.timeout(420)
def test_a_killed_workers_job_is_requeued_within_lease_periods_and_finishes_once(
    celery_worker, make_tenant, tmp_path
):
    provisioned = make_tenant("stalled-jobs")
    api = Api(provisioned.issued_key.secret)
    body = literature_job(api, papers=6, claims=3)
    with rescued(celery_worker, tmp_path, JOB_RUN_TASK) as rescue:
        job_id = start_job_and_kill_its_worker(
            api, celery_worker, body, log_path=tmp_path / "victim.log", stop_worker=True
        )
        with tenant_context(provisioned.tenant):
            interrupted = Job.objects.get(pk=job_id)
            assert (interrupted.status, interrupted.attempt) == ("running", 1)
            assert not JobResult.objects.filter(job_id=job_id).exists()
        rescue.start()
        done = wait_job(api, job_id, timeout=RESCUER_VISIBILITY_S)
        assert done["status"] == "succeeded" and done["attempt"] == 2, done
        # Beat's re-queued copy ran it, a task of its own: the broker has not redelivered the original yet.
        schema = provisioned.tenant.schema_name
        [rescuing] = rescue.worker.task_ids_received(JOB_RUN_TASK, schema)
        assert rescuing not in task_ids_received(tmp_path / "victim.log", JOB_RUN_TASK), rescue.timeline(
            tmp_path / "victim.log"
        )
        usage = sorted(UsageEvent.objects.filter(job_id=job_id).values_list("kind", "quantity"))

        rescue.wait_for_redelivered_original(tmp_path / "victim.log", schema)
    with tenant_context(provisioned.tenant):
        job = Job.objects.get(pk=job_id)
        assert (job.status, job.attempt) == ("succeeded", 2)
        assert JobResult.objects.filter(job_id=job_id).count() == 1
        assert JobResult.objects.get(job_id=job_id).attempt == 2
    assert sorted(kind for kind, _ in usage) == ["job", "pages"]
    assert sorted(UsageEvent.objects.filter(job_id=job_id).values_list("kind", "quantity")) == usage


@pytest.mark.timeout(300)
def test_a_job_whose_pool_process_died_is_taken_over_at_once_by_the_redelivered_task(
    celery_worker, make_tenant, tmp_path
):
    """The worker lives and its pool process dies mid-job (killed for memory, say): the broker redelivers the
    task at once and the fresh pool process takes the job over (attempt 2) though the dead attempt's lease,
    600 s here, has most of its time left."""
    provisioned = make_tenant("pool-death-jobs")
    api = Api(provisioned.issued_key.secret)
    body = literature_job(api, papers=6, claims=3)
    worker = WorkerProcess(
        queues="jobs", concurrency=1, env={"QUIRE_JOB_LEASE_SECONDS": "600"}, log_path=tmp_path / "jobs.log"
    ).start(wait=False)
    celery_worker.stop_consuming("jobs")
    try:
        worker.wait_ready()
        job_id = api.post("/v1/jobs", body).json()["id"]
        wait_job(api, job_id, statuses=("running",), timeout=60)
        [child] = psutil.Process(worker.proc.pid).children()
        child.kill()
        done = wait_job(api, job_id, timeout=240)
        assert done["status"] == "succeeded" and done["attempt"] == 2, done
        assert f"job {job_id}: attempt 1's process" in worker.log_path.read_text()
        with tenant_context(provisioned.tenant):
            assert JobResult.objects.filter(job_id=job_id).count() == 1
    finally:
        worker.stop()
        celery_worker.consume("jobs")


@pytest.mark.timeout(300)
def test_a_job_blocked_in_a_step_fails_timed_out_at_its_soft_time_limit(make_tenant):
    """A model call the server never answers holds the job inside one step: at QUIRE_JOB_SOFT_TIME_LIMIT the
    job fails `timed_out`, its place in the tenant's share is given back, and the pool process it ran in exits
    (the limit may have landed anywhere in it)."""
    import os
    import threading

    from quire.celery import app
    from quire.fairness import pool_of, share_running
    from quire.jobs import tasks
    from tests.connectors.conftest import ScriptedServer
    from tests.support.paths import ROOT
    from tests.support.polling import wait_for
    from tests.support.portal import stored_document

    queue = f"jobs-hung-{os.getpid()}"
    release = threading.Event()
    server = ScriptedServer()

    def never_answers(messages: list[dict]) -> str:
        release.wait(120)
        return "{}"

    server.responder = never_answers
    env = {
        "QUIRE_INFERENCE_URL": server.url,
        "QUIRE_INFERENCE_MODEL": "scripted",
        "QUIRE_INFERENCE_TIMEOUT": "150",
        "QUIRE_JOB_SOFT_TIME_LIMIT": "12",
        "QUIRE_JOB_TIME_LIMIT": "60",
    }
    worker = WorkerProcess(
        queues=queue, concurrency=1, env=env, log_path=ROOT / ".quire" / f"test-hung-worker-{os.getpid()}.log"
    )
    try:
        worker.start(timeout=120)
        provisioned = make_tenant("hung-jobs")
        document = stored_document(
            provisioned, "nda.txt", "This Agreement is governed by the laws of Delaware."
        )
        with tenant_context(provisioned.tenant):
            job = Job.objects.create(connector="legal", mode="model", document_ids=[document.pk])
            # A sender's message carries the time limits its own process has for the task (Celery reads them from
            # its registry), and the worker keeps them: send this worker's, as the web process sends its own.
            app.send_task(JOB_RUN_TASK, args=[job.pk], queue=queue, soft_time_limit=12, time_limit=60)
            done = wait_for(
                lambda: Job.objects.filter(pk=job.pk, status__in=("succeeded", "failed")).first(),
                timeout=60,
                message=worker.log_path.read_text,
            )
        assert len(server.requests) == 1, (server.requests, done.error)
        assert (done.error["code"], done.error["message"]) == (
            "timed_out",
            "the job ran longer than its 12 s limit (QUIRE_JOB_SOFT_TIME_LIMIT)",
        )
        assert (done.finished_at - done.started_at).total_seconds() < 20
        # The task gives its place back as it returns, a moment after the job is marked failed.
        wait_for(
            lambda: share_running(schema=provisioned.tenant.schema_name, pool=pool_of(queue)) == [],
            timeout=10,
            message=worker.log_path.read_text,
        )
        wait_for(
            lambda: "exits: the job" in worker.log_path.read_text(),
            timeout=30,
            message=worker.log_path.read_text,
        )
    finally:
        release.set()
        worker.stop()
        server.close()
    assert (tasks.job_run_task.soft_time_limit, tasks.job_run_task.time_limit) == (
        settings.QUIRE_JOB_SOFT_TIME_LIMIT,
        settings.QUIRE_JOB_TIME_LIMIT,
    )


def test_a_run_stops_itself_between_steps_a_little_before_its_time_limit(make_tenant, monkeypatch):
    import connectors
    from quire.jobs.services import job_run
    from quire.webhooks.models import Event

    def endless(*args, progress, **kwargs):
        while True:
            progress(0.5, "a step")
            time.sleep(0.05)

    monkeypatch.setattr(connectors, "run_connector", endless)
    tenant = make_tenant("own-deadline").tenant
    with tenant_context(tenant):
        job = Job.objects.create(connector="legal", document_ids=[])
        started = time.monotonic()
        failed = job_run(tenant=tenant, job_id=job.pk, time_limit=1)
        assert 0.8 <= time.monotonic() - started < 5
        assert (failed.status, failed.error["code"]) == ("failed", "timed_out")
        assert Event.objects.filter(type="job.failed", data__id=job.pk).exists()


def test_the_sweep_requeues_only_running_jobs_whose_lease_lapsed(make_tenant, monkeypatch):
    from quire import queueing

    sent = []
    app = SimpleNamespace(send_task=lambda name, args, **options: sent.append((name, args)))
    monkeypatch.setattr(queueing, "current_app", app)
    tenant = make_tenant("stalled-sweep").tenant
    now = timezone.now()
    with tenant_context(tenant):
        lapsed = Job.objects.create(
            connector="legal", status="running", attempt=1, lease_until=now - timedelta(seconds=1)
        )
        Job.objects.create(
            connector="legal", status="running", attempt=1, lease_until=now + timedelta(hours=1)
        )
        Job.objects.create(connector="legal", status="queued")
        unqueued = Job.objects.create(connector="legal", status="queued", run_unqueued=True)
        Job.objects.create(
            connector="legal", status="succeeded", attempt=1, lease_until=now - timedelta(days=1)
        )
        assert jobs_requeue_stalled() == 2
        assert jobs_requeue_stalled() == 0
        lapsed.refresh_from_db()
        assert not Job.objects.filter(run_unqueued=True).exists()
    assert sorted(sent) == sorted([(JOB_RUN_TASK, [lapsed.pk]), (JOB_RUN_TASK, [unqueued.pk])])
    assert (lapsed.status, lapsed.lease_until, lapsed.attempt) == ("queued", None, 1)
    assert lapsed.stage == "requeued (attempt 1 stalled)"


def test_the_beat_schedule_sweeps_about_every_lease_period():
    entries = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert entries["quire.jobs.jobs_requeue_stalled_task"] <= LEASE_S
    assert entries["quire.documents.documents_requeue_stuck_task"] <= LEASE_S


@pytest.mark.parametrize("started", [4, 5])
def test_a_job_whose_worker_died_on_every_attempt_fails_at_the_attempt_limit(make_tenant, started):
    """A job that kills its worker each time (a memory limit, say) fails as `worker_lost` once
    QUIRE_JOB_MAX_ATTEMPTS attempts have started, rather than being taken over forever."""
    from quire.jobs.services import job_run

    assert settings.QUIRE_JOB_MAX_ATTEMPTS == 5
    provisioned = make_tenant("crashing-jobs")
    with tenant_context(provisioned.tenant):
        job = Job.objects.create(
            connector="legal",
            document_ids=[],
            status="running",
            attempt=started,
            lease_until=timezone.now() - timedelta(seconds=1),
        )
        if started < 5:
            claimed = job_run(tenant=provisioned.tenant, job_id=job.pk)
            assert claimed.attempt == 5
        else:
            failed = job_run(tenant=provisioned.tenant, job_id=job.pk)
            assert (failed.status, failed.attempt, failed.error["code"]) == ("failed", 5, "worker_lost")
            assert failed.error["message"].startswith("the job did not finish in 5 attempts")


def test_attempts_stopped_for_maintenance_do_not_count_toward_the_attempt_limit(make_tenant):
    """Five attempts started, one of them stopped by a restore's maintenance: four count, so a fifth is run
    rather than the job failed `worker_lost`; the next attempt is numbered 6 all the same."""
    from quire.jobs.services import job_run
    from tests.support.portal import stored_document

    provisioned = make_tenant("crashing-jobs")
    document = stored_document(provisioned, "nda.txt", "This Agreement is governed by the laws of Delaware.")
    with tenant_context(provisioned.tenant):
        job = Job.objects.create(
            connector="legal",
            document_ids=[document.pk],
            status="running",
            attempt=5,
            maintenance_stops=1,
            lease_until=timezone.now() - timedelta(seconds=1),
        )
        ran = job_run(tenant=provisioned.tenant, job_id=job.pk)
        assert (ran.status, ran.attempt) == ("succeeded", 6), ran.error


def test_an_attempt_killed_past_the_time_limit_fails_timed_out_instead_of_starting_again(make_tenant):
    """A pool process killed at the hard time limit leaves its job running; a claim that finds it so (a
    redelivery) fails it `timed_out` rather than running it up to QUIRE_JOB_MAX_ATTEMPTS times more. An attempt
    that ended sooner (a crash) is taken over."""
    from quire.jobs.services import job_run

    tenant = make_tenant("hard-limit-jobs").tenant
    now = timezone.now()
    with tenant_context(tenant):
        killed, crashed = (
            Job.objects.create(
                connector="legal",
                document_ids=[],
                status="running",
                attempt=1,
                lease_until=now - timedelta(seconds=1),
                attempt_started_at=now - timedelta(seconds=ran),
            )
            for ran in (130, 20)
        )
        failed = job_run(tenant=tenant, job_id=killed.pk, time_limit=120)
        assert (failed.status, failed.attempt, failed.error["code"]) == ("failed", 1, "timed_out")
        assert (
            failed.error["message"] == "the job ran longer than its 120 s limit (QUIRE_JOB_SOFT_TIME_LIMIT)"
        )
        taken = job_run(tenant=tenant, job_id=crashed.pk, time_limit=120)
        assert taken.attempt == 2 and taken.status != "running"
        assert Job.objects.get(pk=crashed.pk).attempt_started_at > now


def test_the_sweep_fails_timed_out_a_job_whose_attempt_was_killed_past_the_time_limit(
    make_tenant, monkeypatch
):
    """The path a hard-limit kill takes: the lease lapses, the stalled sweep finds the job. It is failed
    `timed_out` there (announced once), not queued for another attempt of up to the same time limit; an attempt
    that ended sooner (a crash) is queued again, also when the sweep finds it long after (beat was down)."""
    from quire import queueing
    from quire.jobs.services import job_run
    from quire.webhooks.models import Event

    sent = []
    app = SimpleNamespace(send_task=lambda name, args, **options: sent.append((name, args)))
    monkeypatch.setattr(queueing, "current_app", app)
    tenant = make_tenant("hard-limit-sweep").tenant
    now = timezone.now()
    soft = settings.QUIRE_JOB_SOFT_TIME_LIMIT
    with tenant_context(tenant):
        long_ago = now - timedelta(seconds=2 * settings.QUIRE_JOB_TIME_LIMIT)
        killed, crashed, found_late = (
            Job.objects.create(
                connector="legal",
                document_ids=[],
                status="running",
                attempt=1,
                lease_until=started + timedelta(seconds=ran),
                attempt_started_at=started,
            )
            for started, ran in (
                (
                    now - timedelta(seconds=settings.QUIRE_JOB_TIME_LIMIT + LEASE_S),
                    settings.QUIRE_JOB_TIME_LIMIT,
                ),
                (now - timedelta(seconds=21), 20),
                (long_ago, 20),
            )
        )
        assert jobs_requeue_stalled() == 2
        assert sorted(sent) == sorted([(JOB_RUN_TASK, [crashed.pk]), (JOB_RUN_TASK, [found_late.pk])])
        killed.refresh_from_db()
        assert (killed.status, killed.attempt, killed.error["code"]) == ("failed", 1, "timed_out")
        assert (
            killed.error["message"]
            == f"the job ran longer than its {soft:g} s limit (QUIRE_JOB_SOFT_TIME_LIMIT)"
        )
        assert Event.objects.filter(type="job.failed", data__id=killed.pk).count() == 1
        assert job_run(tenant=tenant, job_id=killed.pk, time_limit=soft).attempt == 1
        assert Job.objects.get(pk=crashed.pk).status == Job.objects.get(pk=found_late.pk).status == "queued"


def test_an_unexpected_error_fails_its_own_attempt_and_not_one_that_took_over(make_tenant, monkeypatch):
    from quire.jobs import services
    from quire.jobs.services import job_run
    from quire.webhooks.models import Event

    tenant = make_tenant("attempts-apart").tenant

    def taken_over_then_raises(job, tenant, report):
        Job.objects.filter(pk=job.pk).update(
            attempt=job.attempt + 1, lease_until=timezone.now() + timedelta(hours=1)
        )
        raise RuntimeError("the inference server went away")

    def raises(job, tenant, report):
        raise RuntimeError("the inference server went away")

    with tenant_context(tenant):
        taken = Job.objects.create(connector="legal", document_ids=[])
        monkeypatch.setattr(services, "_run_claimed", taken_over_then_raises)
        assert job_run(tenant=tenant, job_id=taken.pk).status == "running"
        assert not Event.objects.filter(type="job.failed", data__id=taken.pk).exists()
        own = Job.objects.create(connector="legal", document_ids=[])
        monkeypatch.setattr(services, "_run_claimed", raises)
        failed = job_run(tenant=tenant, job_id=own.pk)
        assert (failed.status, failed.error["code"]) == ("failed", "internal_error")
        assert failed.error["message"] == "internal error while running the job: RuntimeError"


def test_a_job_task_that_cannot_reach_postgresql_before_its_claim_is_retried(tenant_a, monkeypatch):
    from django.db import OperationalError

    from quire.jobs import tasks

    calls = []

    def unreachable_once(*, tenant, job_id, time_limit):
        calls.append(job_id)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return SimpleNamespace(status="succeeded", error=None)

    monkeypatch.setattr(tasks, "job_run", unreachable_once)
    with tenant_context(tenant_a.tenant):
        assert tasks.job_run_task.apply(args=["job_unreachable"]).get() == "succeeded"
    assert calls == ["job_unreachable", "job_unreachable"]


def test_a_heartbeat_goes_on_after_a_beat_that_raised(tenant_a):
    from quire.heartbeat import TenantHeartbeat

    beats = []

    def beat() -> bool:
        beats.append(time.monotonic())
        if len(beats) == 1:
            raise RuntimeError("the connection dropped")
        return True

    with TenantHeartbeat("test-heartbeat", tenant_a.tenant, 0.05, beat) as heart:
        wait_for_beats = time.monotonic() + 5
        while len(beats) < 3 and time.monotonic() < wait_for_beats:
            time.sleep(0.05)
    assert len(beats) >= 3 and not heart.lost.is_set()


def test_a_queued_job_no_worker_has_seen_for_hours_is_sent_again_once(make_tenant, monkeypatch):
    from quire import queueing

    sent = []
    monkeypatch.setattr(
        queueing, "current_app", SimpleNamespace(send_task=lambda name, args, **o: sent.append(args))
    )
    tenant = make_tenant("lost-messages").tenant
    hours_ago = timezone.now() - timedelta(seconds=settings.QUIRE_JOB_QUEUED_LOST_SECONDS + 60)
    with tenant_context(tenant):
        lost = Job.objects.create(connector="legal")
        seen = Job.objects.create(connector="legal")
        fresh = Job.objects.create(connector="legal")
        Job.objects.filter(pk__in=[lost.pk, seen.pk]).update(created_at=hours_ago)
        Job.objects.filter(pk=seen.pk).update(queued_seen_at=timezone.now())
        assert jobs_requeue_stalled() == 1
        assert jobs_requeue_stalled() == 0
    assert sent == [[lost.pk]] and fresh.pk not in sent


@pytest.mark.timeout(300)
def test_a_running_job_is_put_back_in_the_queue_when_its_tenant_enters_maintenance(make_tenant):
    """A job in the middle of a model call when its tenant enters maintenance (a restore about to swap its
    schema) stops its attempt, storing nothing, and is queued again, neither failed nor canceled; it runs
    once the tenant is back in service."""
    import os

    from quire.celery import app
    from tenants.services import tenant_maintenance_begin, tenant_maintenance_end
    from tests.connectors.conftest import ScriptedServer
    from tests.support.paths import ROOT
    from tests.support.polling import wait_for
    from tests.support.portal import stored_document

    queue = f"jobs-maintenance-{os.getpid()}"
    server = ScriptedServer()
    release = server.held()
    worker = WorkerProcess(
        queues=queue,
        concurrency=1,
        env={**server.model_env(), "QUIRE_MAINTENANCE_RETRY_SECONDS": "1"},
        log_path=ROOT / ".quire" / f"test-maintenance-worker-{os.getpid()}.log",
    )
    try:
        worker.start(timeout=120)
        provisioned = make_tenant("maintenance-jobs")
        tenant = provisioned.tenant
        document = stored_document(
            provisioned, "nda.txt", "This Agreement is governed by the laws of Delaware."
        )
        with tenant_context(tenant):
            job = Job.objects.create(connector="legal", mode="model", document_ids=[document.pk])
            app.send_task(JOB_RUN_TASK, args=[job.pk], queue=queue)
            wait_for(lambda: server.requests, timeout=60, message=worker.log_path.read_text)
            assert Job.objects.get(pk=job.pk).status == "running"
            tenant_maintenance_begin(tenant=tenant)
            put_back = wait_for(
                lambda: Job.objects.filter(pk=job.pk).exclude(status="running").first(),
                timeout=30,
                message=worker.log_path.read_text,
            )
            assert (put_back.status, put_back.attempt, put_back.lease_until) == ("queued", 1, None)
            assert put_back.maintenance_stops == 1
            release.set()
            wait_for(
                lambda: "retry: Retry in 1s" in worker.log_path.read_text(),
                timeout=30,
                message=worker.log_path.read_text,
            )
            assert Job.objects.get(pk=job.pk).status == "queued"
            assert not JobResult.objects.filter(job_id=job.pk).exists()
            tenant_maintenance_end(tenant=tenant)
            done = wait_for(
                lambda: Job.objects.filter(pk=job.pk, status__in=("succeeded", "failed", "canceled")).first(),
                timeout=60,
                message=worker.log_path.read_text,
            )
        assert (done.status, done.attempt) == ("succeeded", 2), done.error
        with tenant_context(tenant):
            assert JobResult.objects.get(job_id=job.pk).attempt == 2
    finally:
        release.set()
        worker.stop()
        server.close()
