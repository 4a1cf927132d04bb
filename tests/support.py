"""Helpers shared by the platform's tests: an API client, a real Celery worker process, polling."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class WorkerProcess:
    """A `celery worker` subprocess on the test database and broker."""

    def __init__(self, queues: str = "ingest,jobs,webhooks,billing", concurrency: int = 2):
        self.queues, self.concurrency = queues, concurrency
        self.proc: subprocess.Popen | None = None
        self.log_path = ROOT / ".quire" / f"test-worker-{os.getpid()}.log"

    def start(self, timeout: float = 60) -> WorkerProcess:
        from quire.celery import app
        from quire.launcher import celery_command

        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
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
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early; log: {self.log_path}")
            if app.control.ping(timeout=0.5):
                return self
        raise RuntimeError(f"worker not ready in {timeout}s; log: {self.log_path}")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


class Api:
    """An in-process HTTP client for /v1 with an API key."""

    def __init__(self, secret: str | None):
        from django.test import Client

        self.client = Client(raise_request_exception=False)
        self.secret = secret

    def _headers(self, headers: dict | None) -> dict:
        result = {"HTTP_AUTHORIZATION": f"Bearer {self.secret}"} if self.secret else {}
        for name, value in (headers or {}).items():
            result["HTTP_" + name.upper().replace("-", "_")] = value
        return result

    def get(self, path: str, headers: dict | None = None, **params):
        return self.client.get(path, params, **self._headers(headers))

    def post(
        self, path: str, data=None, headers: dict | None = None, content_type: str = "application/json", **kw
    ):
        return self.client.post(path, data, content_type=content_type, **self._headers(headers), **kw)

    def delete(self, path: str, headers: dict | None = None):
        return self.client.delete(path, **self._headers(headers))

    def request(self, method: str, path: str, headers: dict | None = None, **kw):
        return getattr(self.client, method.lower())(path, **self._headers(headers), **kw)


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def ready_document(api: Api, text: str, filename: str = "doc.txt") -> str:
    """Upload a text document and wait until a worker has ingested it."""
    doc_id = api.post("/v1/documents", {"text": text, "filename": filename}).json()["id"]
    wait_for(
        lambda: api.get(f"/v1/documents/{doc_id}").json()["status"] == "ready", timeout=120, interval=0.2
    )
    return doc_id


def wait_job(
    api: Api, job_id: str, statuses=("succeeded", "failed", "canceled"), timeout: float = 180
) -> dict:
    return wait_for(
        lambda: (body := api.get(f"/v1/jobs/{job_id}").json())["status"] in statuses and body,
        timeout=timeout,
        interval=0.2,
    )


def literature_job(api: Api, *, papers: int, claims: int) -> dict:
    """A literature job body over the first SciFact sample papers (uploaded and ingested) and claims."""
    import json

    scifact = ROOT / "tests" / "data" / "scifact"
    corpus = [json.loads(line) for line in (scifact / "corpus.jsonl").open()][:papers]
    claim_rows = [json.loads(line) for line in (scifact / "claims.jsonl").open()][:claims]
    documents = [ready_document(api, f"{paper['title']}\n\n{paper['abstract']}") for paper in corpus]
    options = {"claims": [{"claim_id": str(c["claim_id"]), "claim": c["claim"]} for c in claim_rows]}
    return {"connector": "literature", "documents": documents, "options": options}


def start_job_and_kill_its_worker(api: Api, celery_worker: WorkerProcess, body: dict) -> str:
    """Stop the shared worker, run the job on a worker of its own, SIGKILL that worker once the job runs.
    The shared worker stays stopped; the caller restarts it."""
    celery_worker.stop()
    victim = WorkerProcess(queues="jobs", concurrency=1).start()
    try:
        job_id = api.post("/v1/jobs", body).json()["id"]
        wait_job(api, job_id, statuses=("running",), timeout=60)
    finally:
        victim.kill()
    return job_id


def start_of_fresh_window(period: int, margin: int = 15) -> None:
    """Wait out the end of the current fixed rate-limit window when fewer than `margin` seconds are left, so a
    test's requests all fall in one window."""
    left = period - int(time.time()) % period
    if left < margin:
        time.sleep(left + 0.5)
