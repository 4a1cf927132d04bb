"""A worker started for one queue (as deploy/ runs them: one Deployment per queue) takes only that queue's
tasks; the others wait in their Redis lists, the lists KEDA scales the other workers on."""

from __future__ import annotations

import json
import os

import redis
from celery import Celery
from django.conf import settings

from tests.support import ROOT, WorkerProcess, wait_for

SWEEPS = {
    "webhooks": "quire.webhooks.deliveries_dispatch_due_task",
    "jobs": "quire.jobs.jobs_requeue_stalled_task",
    "ingest": "quire.documents.documents_requeue_stuck_task",
    "billing": "billing.meter_usage_push_task",
}


def test_a_worker_on_the_webhooks_queue_takes_only_webhook_tasks():
    # A broker prefix of its own, so no other worker of the test session can take these tasks.
    prefix = f"{settings.QUIRE_REDIS_PREFIX}-queues"
    producer = Celery("queues-test", broker=settings.CELERY_BROKER_URL, set_as_current=False)
    producer.conf.update(
        broker_transport_options={
            **settings.CELERY_BROKER_TRANSPORT_OPTIONS,
            "global_keyprefix": f"{prefix}:",
        },
        task_routes=settings.CELERY_TASK_ROUTES,
    )
    sent = {queue: producer.send_task(name).id for queue, name in SWEEPS.items()}
    worker = WorkerProcess(
        queues="webhooks",
        concurrency=1,
        env={"QUIRE_REDIS_PREFIX": prefix},
        log_path=ROOT / ".quire" / f"test-worker-webhooks-{os.getpid()}.log",
    )
    worker.log_path.unlink(missing_ok=True)
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        worker.proc = _spawn(worker)
        wait_for(
            lambda: worker.task_succeeded(SWEEPS["webhooks"], sent["webhooks"]),
            timeout=90,
            message=lambda: worker.log_path.read_text(errors="replace")[-2000:],
        )
        received = {name for name in SWEEPS.values() if worker.task_ids_received(name)}
        assert received == {SWEEPS["webhooks"]}
        waiting = {queue: _task_ids(client, f"{prefix}:{queue}") for queue in SWEEPS}
        assert sent["webhooks"] not in waiting["webhooks"]
        assert all(waiting[queue] == [sent[queue]] for queue in ("jobs", "ingest", "billing")), waiting
    finally:
        worker.stop()
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)


def _task_ids(client: redis.Redis, queue: str) -> list[str]:
    """The ids of the tasks waiting in a queue's Redis list (the sweep the worker ran may queue deliveries that
    other tests left due)."""
    return [json.loads(message)["headers"]["id"] for message in client.lrange(queue, 0, -1)]


def _spawn(worker: WorkerProcess):
    from quire.launcher import celery_command
    from tests.support import spawn

    return spawn(
        celery_command(
            "worker",
            "-Q",
            worker.queues,
            "--concurrency",
            "1",
            "-l",
            "DEBUG",
            "--without-gossip",
            "--without-mingle",
        ),
        worker.log_path,
        worker.env,
    )
