"""Recovering from a killed worker: beat sweeping for stalled work every 2 s, and a rescuer worker whose
broker visibility timeout is long enough to show that the sweep, not the broker's redelivery, saved the
work; then the broker's redelivery of the killed worker's task, which must change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.polling import wait_for
from tests.support.processes import WorkerProcess, start_beat, stop_process

RESCUER_VISIBILITY_S = 60
SWEEP_ENV = {"QUIRE_STALLED_SWEEP_SECONDS": "2", "QUIRE_DOCUMENT_STUCK_SECONDS": "4"}


@dataclass
class Rescue:
    worker: WorkerProcess
    task_name: str

    def start(self) -> None:
        self.worker.start()

    def wait_for_redelivered_original(self) -> str:
        """The id of the killed worker's `task_name` task, once the broker has redelivered it to the
        rescuer (after RESCUER_VISIBILITY_S) and the rescuer has run it."""
        ids = wait_for(
            lambda: (seen := self.worker.task_ids_received(self.task_name))[1:] and seen,
            timeout=RESCUER_VISIBILITY_S + 60,
            message=lambda: f"no redelivery; see {self.worker.log_path}",
        )
        wait_for(lambda: self.worker.task_succeeded(self.task_name, ids[1]), timeout=60)
        return ids[1]


@contextmanager
def rescued(celery_worker: WorkerProcess, directory: Path, task_name: str) -> Iterator[Rescue]:
    """Beat with the short sweep interval of SWEEP_ENV and a rescuer worker on every queue (its sweeps
    with SWEEP_ENV's threshold), not started yet, its log in `directory`; on the way out both stop and the
    shared worker starts again."""
    beat = start_beat(directory, SWEEP_ENV)
    rescuer = WorkerProcess(
        env={**SWEEP_ENV, "QUIRE_BROKER_VISIBILITY_TIMEOUT": str(RESCUER_VISIBILITY_S)},
        log_path=directory / "rescuer.log",
    )
    try:
        yield Rescue(rescuer, task_name)
    finally:
        stop_process(beat)
        rescuer.stop()
        celery_worker.start()
