"""Recovering from a killed worker: beat sweeping for stalled work every 2 s, and a rescuer worker whose
broker visibility timeout is long enough to show that the sweep, not the broker's redelivery, saved the
work; then the broker's redelivery of the killed worker's task, which must change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.jobs import REDELIVERY_VISIBILITY_S
from tests.support.polling import wait_for
from tests.support.processes import WorkerProcess, start_beat, stop_process, task_ids_received

RESCUER_VISIBILITY_S = 120
SWEEP_ENV = {"QUIRE_STALLED_SWEEP_SECONDS": "2", "QUIRE_DOCUMENT_STUCK_SECONDS": "6"}


def queue_of(task_name: str) -> str:
    from quire.celery import app

    return app.amqp.router.route({}, task_name)["queue"].name


@dataclass
class Rescue:
    worker: WorkerProcess
    task_name: str
    queue: str
    celery_worker: WorkerProcess
    beat: object

    def start(self) -> None:
        """The rescuer, started with the other queues when the context was entered, takes `queue` too."""
        self.worker.wait_ready()
        self.worker.consume(self.queue)

    def timeline(self, *logs: Path) -> str:
        """What the rescuer (and each of `logs`) logged about `task_name` and the sweep, for a failure."""
        lines = []
        for log in (self.worker.log_path, *logs):
            lines += [
                f"{log.name}: {line}"
                for line in log.read_text(errors="replace").splitlines()
                if self.task_name in line or "stuck in" in line or "exceeded" in line
            ]
        return "\n".join(sorted(lines, key=lambda line: line.split(": ", 1)[1]))

    def wait_for_redelivered_original(self, victim_log: Path, schema: str) -> str:
        """The id of the killed worker's `task_name` task for the tenant of `schema`, once the broker has
        redelivered it and a worker has run it to success: one of those `victim_log` shows the victim received
        (it may have taken tasks earlier tests left queued for other tenants too, and died before logging whose
        each was) that the redelivering worker ran for that tenant. Beat and the rescuer stop; a worker on `queue`
        alone whose visibility timeout, REDELIVERY_VISIBILITY_S, is past for that task or soon will be takes it
        back (the shared worker's would keep the test waiting for half a minute); then that worker stops and the
        shared worker starts again."""
        victims = task_ids_received(victim_log, self.task_name)
        stop_process(self.beat)
        self.worker.stop()
        redeliverer = WorkerProcess(
            queues=self.queue,
            env={"QUIRE_BROKER_VISIBILITY_TIMEOUT": str(REDELIVERY_VISIBILITY_S)},
            log_path=self.worker.log_path.with_name("redelivery.log"),
        ).start()

        def redelivered() -> str | None:
            ran = redeliverer.task_ids_received(self.task_name, schema)
            return next(
                (
                    task_id
                    for task_id in ran
                    if task_id in victims and redeliverer.task_succeeded(self.task_name, task_id)
                ),
                None,
            )

        try:
            return wait_for(
                redelivered,
                timeout=REDELIVERY_VISIBILITY_S + 120,
                message=lambda: f"no redelivery of {victims}; see {redeliverer.log_path}",
            )
        finally:
            redeliverer.stop()
            self.celery_worker.start()


@contextmanager
def rescued(celery_worker: WorkerProcess, directory: Path, task_name: str) -> Iterator[Rescue]:
    """Beat with the short sweep interval of SWEEP_ENV and a rescuer worker (its sweeps with SWEEP_ENV's
    threshold) on every queue but `task_name`'s, starting, its log in `directory`; `Rescue.start` adds that
    queue. On the way out both stop and the shared worker runs again."""
    from quire.launcher import QUEUES

    queue = queue_of(task_name)
    beat = start_beat(directory, SWEEP_ENV)
    rescuer = WorkerProcess(
        queues=",".join(q for q in QUEUES.split(",") if q != queue),
        env={**SWEEP_ENV, "QUIRE_BROKER_VISIBILITY_TIMEOUT": str(RESCUER_VISIBILITY_S)},
        log_path=directory / "rescuer.log",
    ).start(wait=False)
    try:
        yield Rescue(rescuer, task_name, queue, celery_worker, beat)
    finally:
        stop_process(beat)
        rescuer.stop()
        if not celery_worker.running:
            celery_worker.start()
