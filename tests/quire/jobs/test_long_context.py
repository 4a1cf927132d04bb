"""Model jobs on our own stack: a real worker reads documents through `python -m inference.server` serving a tiny
random Llama; the context record, the server's metrics and the ledger agree."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest
from celery.app.routes import MapRoute
from django.conf import settings
from django_tenants.utils import tenant_context

from billing.models import UsageEvent
from connectors.spans import walk_spans
from quire.celery import app
from quire.documents.models import Chunk
from quire.documents.selectors import question_chunks
from quire.jobs.services import JOB_RUN_TASK
from tests.support import (
    Api,
    WorkerProcess,
    free_port,
    ready_document,
    spawn,
    stop_process,
    wait_http,
    wait_job,
)
from tests.support.checkpoints import build_checkpoint
from tests.support.paths import ROOT

QUEUE = "jobs-long-context"
SPARSE_FROM = 256
MODEL_WINDOW = 2048
CALL = "\n\n".join(
    f"Jane Doe: Quarterly revenue rose twelve percent to one point two billion dollars in region {i}. "
    "Guidance for the full year was raised on strong demand for cloud services."
    for i in range(8)
)


@pytest.fixture(scope="module")
def stack(celery_worker, make_tenant, tmp_path_factory) -> Iterator[SimpleNamespace]:
    """The inference server on the tiny checkpoint and a worker that reads through it; job runs go to that
    worker's own queue while the module runs (the shared worker keeps ingesting)."""
    checkpoint = build_checkpoint(tmp_path_factory.mktemp("long-context"), max_positions=MODEL_WINDOW)
    port = free_port()
    server = spawn(
        [
            sys.executable,
            "-m",
            "inference.server",
            "--model",
            str(checkpoint),
            "--port",
            str(port),
            "--device",
            "cpu",
            "--kv-cache-mb",
            "32",
            "--served-model-name",
            "tiny",
        ],
        ROOT / ".quire" / "test-long-context-server.log",
        {"QUIRE_SPARSE_FROM": str(SPARSE_FROM)},
    )
    url = f"http://127.0.0.1:{port}"
    route = MapRoute({JOB_RUN_TASK: {"queue": QUEUE}})
    app.amqp.routes.insert(0, route)
    worker = None
    try:
        worker = WorkerProcess(
            queues=QUEUE,
            concurrency=1,
            env={
                "QUIRE_INFERENCE_URL": url,
                "QUIRE_MODEL_WINDOW": str(MODEL_WINDOW),
                "QUIRE_RESERVED_OUTPUT_TOKENS": "24",
                "QUIRE_SPARSE_FROM": str(SPARSE_FROM),
            },
        ).start()
        wait_http(f"{url}/health", server, timeout=120)
        provisioned = make_tenant("long-context")
        yield SimpleNamespace(url=url, api=Api(provisioned.issued_key.secret), tenant=provisioned.tenant)
    finally:
        if worker is not None:
            worker.stop()
        stop_process(server)
        app.amqp.routes.remove(route)


def metric(url: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", httpx.get(f"{url}/metrics").text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def assert_nothing_unverified(output: dict, text: str, doc_id: str) -> None:
    for site in walk_spans({k: v for k, v in output.items() if k != "context"}):
        assert text[site.span["start"] : site.span["end"]] == site.span["quote"], site.path
    dropped = sum("quote not found" in w or "empty quote" in w for w in output["warnings"])
    assert output["context"]["quotes_dropped"] >= dropped


@pytest.mark.timeout(400)
def test_a_model_job_reads_the_call_whole_once_and_asks_every_question_over_the_cached_prefix(stack):
    api = stack.api
    doc_id = ready_document(api, CALL, "call.txt")
    text = api.get(f"/v1/documents/{doc_id}/text").json()["text"]
    job = api.post("/v1/jobs", {"connector": "earnings", "documents": [doc_id], "mode": "model"}).json()
    done = wait_job(api, job["id"], timeout=300)
    assert done["status"] == "succeeded", done
    result = api.get(f"/v1/jobs/{job['id']}/result").json()
    record = result["context"]["documents"][0]
    assert (record["strategy"], record["attention"], record["calls"]) == ("whole", "block_sparse", 4)
    assert record["model"] == "tiny" and record["tokens_out"] > 0
    assert record["estimated_cost"]["amount"] > 0 and record["alternative"]["strategy"] == "rag"
    # Only the first question's prompt was prefilled block-sparse: the other three found the document's
    # blocks in the prefix cache, and the server counted what the record says.
    assert metric(stack.url, "quire_block_sparse_prefills_total") == 1
    assert record["cached_tokens"] == metric(stack.url, "quire_prefix_cache_hit_tokens_total") >= 3 * 16
    assert result["output"]["context"] == result["context"]
    assert_nothing_unverified(result["output"], text, doc_id)
    ledger = dict(UsageEvent.objects.filter(job_id=job["id"]).values_list("kind", "quantity"))
    assert ledger == {
        "job": 1,
        "pages": 1,
        "tokens_in": record["tokens_in"] - record["cached_tokens"],
        "tokens_cached_in": record["cached_tokens"],
        "tokens_out": record["tokens_out"],
    }
    assert UsageEvent.objects.filter(job_id=job["id"]).count() == 5


def test_retrieval_packs_the_tenants_chunks_in_document_order_and_analyzers_claim_no_reading(stack):
    api = stack.api
    doc_id = ready_document(api, CALL, "call.txt")
    plain = api.post("/v1/jobs", {"connector": "earnings", "documents": [doc_id]}).json()
    with tenant_context(stack.tenant):
        chunks = list(Chunk.objects.filter(document_id=doc_id).order_by("index").values_list("start", "end"))
        question = "revenue in region 7"
        everything = question_chunks(document_id=doc_id, question=question, token_budget=10_000)
        budget = max((end - start + 3) // 4 for start, end in chunks)
        best = question_chunks(document_id=doc_id, question=question, token_budget=budget)
    assert [(c["start"], c["end"]) for c in everything] == chunks and len(chunks) > 1
    assert len(best) == 1 and "region 7" in CALL[best[0]["start"] : best[0]["end"]]
    assert wait_job(api, plain["id"])["status"] == "succeeded"
    analyzers = api.get(f"/v1/jobs/{plain['id']}/result").json()["context"]
    assert analyzers["strategy"] == "analyzers" and analyzers["documents"][0]["calls"] == 0
    assert set(UsageEvent.objects.filter(job_id=plain["id"]).values_list("kind", flat=True)) == {
        "job",
        "pages",
    }


def test_context_policy_is_checked_when_the_job_is_created(stack, monkeypatch):
    api = stack.api
    doc_id = ready_document(api, CALL, "call.txt")
    unknown = api.post(
        "/v1/jobs", {"connector": "legal", "documents": [doc_id], "options": {"context_policy": "all"}}
    )
    assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "options.context_policy"
    monkeypatch.setattr(settings, "QUIRE_MODEL_WINDOW", 2_600)
    refused = api.post(
        "/v1/jobs", {"connector": "legal", "documents": [doc_id], "options": {"context_policy": "whole"}}
    )
    error = refused.json()["error"]
    assert refused.status_code == 400 and error["param"] == "options.context_policy"
    assert "context_policy 'whole' cannot hold" in error["message"]
