"""Child processes of the tests, each in a session of its own so that a signal reaches everything it
started: the Celery worker, beat, `runserver`, localstripe."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
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
        self.name, self._timeout, self._deadline = "", 0.0, 0.0
        self.log_path = log_path or ROOT / ".quire" / f"test-worker-{os.getpid()}.log"

    def start(self, timeout: float = 60, *, wait: bool = True) -> WorkerProcess:
        """Spawn the worker under a node name of its own; unless `wait` is false, return once that node
        answers a ping (other workers may be running)."""
        from quire.launcher import celery_command

        self.name = f"test-{os.getpid()}-{time.monotonic_ns()}@{socket.gethostname()}"
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
                self.name,
            ),
            self.log_path,
            self.env,
        )
        self._timeout, self._deadline = timeout, time.monotonic() + timeout
        return self.wait_ready() if wait else self

    def wait_ready(self) -> WorkerProcess:
        from quire.celery import app

        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early; log: {self.log_path}")
            if app.control.ping(destination=[self.name], timeout=0.5):
                return self
            if time.monotonic() > self._deadline:
                raise RuntimeError(f"worker not ready in {self._timeout}s; log: {self.log_path}")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def consume(self, queue: str) -> None:
        """Start consuming `queue` (a remote control command; returns once the worker has done it)."""
        self.wait_ready()
        self._control("add_consumer", queue)

    def stop_consuming(self, queue: str) -> None:
        self._control("cancel_consumer", queue)

    def _control(self, command: str, queue: str) -> None:
        from quire.celery import app

        replies = getattr(app.control, command)(queue, destination=[self.name], reply=True, timeout=10)
        assert replies and "ok" in replies[0][self.name], (command, queue, replies)

    def kill(self) -> None:
        if self.proc:
            kill_process(self.proc)

    def stop(self) -> None:
        if self.proc:
            stop_process(self.proc)

    def task_ids_received(self, task_name: str, schema: str | None = None) -> list[str]:
        """The ids of the `task_name` tasks this worker received (for the tenant of `schema` only, where given),
        first seen first (read from its log)."""
        return task_ids_received(self.log_path, task_name, schema)

    def task_succeeded(self, task_name: str, task_id: str) -> bool:
        return f"Task {task_name}[{task_id}] succeeded" in self.log_path.read_text(errors="replace")


def task_ids_received(log_path: Path, task_name: str, schema: str | None = None) -> list[str]:
    """The ids of the `task_name` tasks a worker logging to `log_path` received, first seen first; with
    `schema`, only those that ran for that tenant (its log lines carry `[<task id> <schema>]`): a worker may
    also take what earlier tests left queued for other tenants."""
    log = log_path.read_text(errors="replace")
    pattern = re.compile(rf"Task {re.escape(task_name)}\[([0-9a-f-]+)\] received")
    ids = dict.fromkeys(pattern.findall(log))
    return [task_id for task_id in ids if schema is None or f"[{task_id} {schema}]" in log]


def start_beat(directory: Path, env: dict[str, str]) -> subprocess.Popen:
    """A `celery beat` with its schedule file and log (`beat.log`) in `directory`, and `env` on top of
    this environment (the sweep intervals)."""
    from quire.launcher import celery_command

    return spawn(
        celery_command("beat", "-s", str(directory / "beat-schedule"), "-l", "INFO"),
        directory / "beat.log",
        env,
    )
