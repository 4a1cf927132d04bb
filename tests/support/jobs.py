"""Documents ingested and jobs run by real worker processes, through the API."""

from __future__ import annotations

import json

from tests.support.api import Api
from tests.support.paths import DATA
from tests.support.polling import wait_for
from tests.support.processes import WorkerProcess


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
    scifact = DATA / "scifact"
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
