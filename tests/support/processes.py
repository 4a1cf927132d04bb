"""Child processes of the tests, each in a session of its own so that a signal reaches everything it
started: the Celery worker, beat, `runserver`, localstripe."""

from __future__ import annotations

import contextlib
import os
import re
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

    def __init__(
        self,
        queues: str = "ingest,jobs,webhooks,billing",
        concurrency: int = 2,
        *,
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
        loglevel: str = "INFO",
    ):
        self.queues, self.concurrency, self.env, self.loglevel = queues, concurrency, env, loglevel
        self.proc: subprocess.Popen | None = None
        self.log_path = log_path or ROOT / ".quire" / f"test-worker-{os.getpid()}.log"

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
                self.loglevel,
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"test-{os.getpid()}-{time.monotonic_ns()}@%h",
            ),
            self.log_path,
            self.env,
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

    def task_ids_received(self, task_name: str) -> list[str]:
        """The ids of the `task_name` tasks this worker received, first seen first (read from its log)."""
        pattern = re.compile(rf"Task {re.escape(task_name)}\[([0-9a-f-]+)\] received")
        return list(dict.fromkeys(pattern.findall(self.log_path.read_text(errors="replace"))))

    def task_succeeded(self, task_name: str, task_id: str) -> bool:
        return f"Task {task_name}[{task_id}] succeeded" in self.log_path.read_text(errors="replace")


def start_beat(directory: Path, env: dict[str, str]) -> subprocess.Popen:
    """A `celery beat` with its schedule file and log (`beat.log`) in `directory`, and `env` on top of
    this environment (the sweep intervals)."""
    from quire.launcher import celery_command

    return spawn(
        celery_command("beat", "-s", str(directory / "beat-schedule"), "-l", "INFO"),
        directory / "beat.log",
        env,
    )
