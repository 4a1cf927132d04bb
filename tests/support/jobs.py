"""Documents ingested and jobs run by real worker processes, through the API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.api import Api
from tests.support.paths import DATA
from tests.support.polling import wait_for
from tests.support.processes import WorkerProcess

# The broker's visibility timeout of `redelivering_worker`: a killed worker's job comes back after this
# rather than after the tests' QUIRE_BROKER_VISIBILITY_TIMEOUT, and its lease (6 s) has lapsed by then.
REDELIVERY_VISIBILITY_S = 10


def ready_document(api: Api, text: str, filename: str = "doc.txt") -> str:
    """Upload a text document and wait until a worker has ingested it."""
    return ready_documents(api, [text], filename)[0]


def ready_documents(api: Api, texts: list[str], filename: str = "doc.txt") -> list[str]:
    """Upload text documents, all before waiting, so that the workers ingest them side by side; their ids
    once all are ready."""
    ids = [api.post("/v1/documents", {"text": text, "filename": filename}).json()["id"] for text in texts]
    for doc_id in ids:
        wait_for(
            lambda doc_id=doc_id: api.get(f"/v1/documents/{doc_id}").json()["status"] == "ready",
            timeout=120,
            interval=0.2,
        )
    return ids


def wait_job(
    api: Api, job_id: str, statuses=("succeeded", "failed", "canceled"), timeout: float = 180
) -> dict:
    return wait_for(
        lambda: (body := api.get(f"/v1/jobs/{job_id}").json())["status"] in statuses and body,
        timeout=timeout,
        interval=0.2,
        message=lambda: f"job {job_id} is {api.get(f'/v1/jobs/{job_id}').json()}",
    )


def literature_job(api: Api, *, papers: int, claims: int) -> dict:
    """A literature job body over the first SciFact sample papers (uploaded and ingested) and claims."""
    scifact = DATA / "scifact"
    corpus = [json.loads(line) for line in (scifact / "corpus.jsonl").open()][:papers]
    claim_rows = [json.loads(line) for line in (scifact / "claims.jsonl").open()][:claims]
    documents = ready_documents(
        api, [f"{paper['title']}\n\n{' '.join(paper['abstract'])}" for paper in corpus]
    )
    options = {"claims": [{"claim_id": str(c["claim_id"]), "claim": c["claim"]} for c in claim_rows]}
    return {"connector": "literature", "documents": documents, "options": options}


def start_job_and_kill_its_worker(
    api: Api,
    celery_worker: WorkerProcess,
    body: dict,
    log_path: Path | None = None,
    *,
    stop_worker: bool = False,
) -> str:
    """Run the job on a worker of its own (logging to `log_path`, by default a file of its own), SIGKILL that
    worker once the job runs. Meanwhile the shared worker stops (`stop_worker`) or, when running, keeps its
    other queues but takes no jobs from then on: the caller hands `jobs` back
    (`celery_worker.consume("jobs")`, a rescuer) or starts it again."""
    victim = WorkerProcess(
        queues="jobs", concurrency=1, log_path=log_path or celery_worker.log_path.with_suffix(".victim.log")
    ).start(wait=False)
    try:
        if stop_worker:
            celery_worker.stop()
        elif celery_worker.running:
            celery_worker.stop_consuming("jobs")
        victim.wait_ready()
        job_id = api.post("/v1/jobs", body).json()["id"]
        wait_job(api, job_id, statuses=("running",), timeout=60)
    except BaseException:
        if celery_worker.running:
            celery_worker.consume("jobs")
        raise
    finally:
        victim.kill()
    return job_id


@contextmanager
def redelivering_worker(celery_worker: WorkerProcess) -> Iterator[WorkerProcess]:
    """A worker whose broker visibility timeout is REDELIVERY_VISIBILITY_S, starting on the ingest and
    billing queues (ingesting the job's documents loads the embedding model in its processes); the caller
    hands it `jobs` (`consume("jobs")`) once the job's worker is killed. On the way out it stops and the
    shared worker takes jobs again."""
    worker = WorkerProcess(
        queues="ingest,billing",
        env={"QUIRE_BROKER_VISIBILITY_TIMEOUT": str(REDELIVERY_VISIBILITY_S)},
        log_path=celery_worker.log_path.with_suffix(".redelivery.log"),
    ).start(wait=False)
    try:
        yield worker
    finally:
        worker.stop()
        if celery_worker.running:
            celery_worker.consume("jobs")
