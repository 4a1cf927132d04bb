"""Child processes of the tests, each in a session of its own so that a signal reaches everything it
started: the Celery worker, beat, `runserver`, localstripe."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.support.paths import ROOT


def spawn(command: list[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start `command` in the repository root with this environment plus `env`, its output appended to
    `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def kill_process(proc: subprocess.Popen) -> None:
    """SIGKILL to the process's session."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def stop_process(proc: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM to the process's session; SIGKILL when it has not exited within `timeout` seconds."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_process(proc)


class WorkerProcess:
    """A `celery worker` subprocess on the test database and broker."""

    def __init__(self, queues: str = "ingest,jobs,webhooks,billing", concurrency: int = 2):
        self.queues, self.concurrency = queues, concurrency
        self.proc: subprocess.Popen | None = None
        self.log_path = ROOT / ".quire" / f"test-worker-{os.getpid()}.log"

    def start(self, timeout: float = 60) -> WorkerProcess:
        from quire.celery import app
        from quire.launcher import celery_command

        self.proc = spawn(
            celery_command(
                "worker",
                "-Q",
                self.queues,
                "--concurrency",
                str(self.concurrency),
                "-l",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"test-{os.getpid()}-{time.monotonic_ns()}@%h",
            ),
            self.log_path,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early; log: {self.log_path}")
            if app.control.ping(timeout=0.5):
                return self
        raise RuntimeError(f"worker not ready in {timeout}s; log: {self.log_path}")

    def kill(self) -> None:
        if self.proc:
            kill_process(self.proc)

    def stop(self) -> None:
        if self.proc:
            stop_process(self.proc)
