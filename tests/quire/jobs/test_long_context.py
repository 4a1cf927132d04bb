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

from billing.entitlements import account_for
from billing.models import Plan, UsageEvent
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
RAG_TOKENS = 400
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
                "QUIRE_RAG_TOKENS": str(RAG_TOKENS),
            },
        ).start()
        wait_http(f"{url}/health", server, timeout=120)
        provisioned = make_tenant("long-context")
        yield SimpleNamespace(
            url=url,
            api=Api(provisioned.issued_key.secret),
            tenant=provisioned.tenant,
            make_tenant=make_tenant,
        )
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
    assert (record["strategy"], record["attention"], record["calls"], record["questions"]) == (
        "whole",
        "block_sparse",
        4,
        4,
    )
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
        "/v1/jobs",
        {
            "connector": "legal",
            "documents": [doc_id],
            "mode": "model",
            "options": {"context_policy": "whole"},
        },
    )
    error = refused.json()["error"]
    assert refused.status_code == 400 and error["param"] == "options.context_policy"
    assert "context_policy 'whole' cannot hold" in error["message"]


REPORT = "\n\n".join(
    f"Region {i} sold {i + 3} hundred units of the {kind} line this quarter, and its margin moved {i} points. "
    f"The {kind} team in region {i} expects steady orders through the winter months."
    for i, kind in enumerate(
        ["copper", "timber", "glass", "cobalt", "nickel", "cotton", "barley", "quartz"] * 2
    )
)


def assert_token_rows_once(job_id: str, record: dict) -> None:
    rows = list(UsageEvent.objects.filter(job_id=job_id).values_list("kind", "quantity"))
    tokens = {kind: quantity for kind, quantity in rows if kind.startswith("tokens")}
    assert len(rows) == len(dict(rows)) and tokens == {
        "tokens_in": record["tokens_in"] - record["cached_tokens"],
        "tokens_cached_in": record["cached_tokens"],
        "tokens_out": record["tokens_out"],
    }


def test_a_rag_job_reads_only_the_tenants_retrieved_chunks_and_names_them(stack):
    api = stack.api
    doc_id = ready_document(api, REPORT, "report.txt")
    text = api.get(f"/v1/documents/{doc_id}/text").json()["text"]
    job = api.post(
        "/v1/jobs",
        {
            "connector": "earnings",
            "documents": [doc_id],
            "mode": "model",
            "options": {"context_policy": "rag"},
        },
    ).json()
    done = wait_job(api, job["id"], timeout=300)
    assert done["status"] == "succeeded", done
    result = api.get(f"/v1/jobs/{job['id']}/result").json()
    record = result["context"]["documents"][0]
    assert (record["strategy"], record["calls"], record["policy"]) == ("rag", 4, "rag")
    assert f"retrieved chunks fill {RAG_TOKENS} tokens" in record["reason"]
    with tenant_context(stack.tenant):
        stored = {
            f"{doc_id}#{index}": (start, end)
            for index, start, end in Chunk.objects.filter(document_id=doc_id).values_list(
                "index", "start", "end"
            )
        }
    used = [(c["chunk_id"], c["start"], c["end"]) for c in record["chunks"]]
    assert used and all(stored[chunk_id] == (start, end) for chunk_id, start, end in used)
    assert used == sorted(used, key=lambda c: c[1]) and len(used) < len(stored)
    # Each question saw at most the retrieval budget of the document, never all of it.
    assert all(end - start <= RAG_TOKENS * 4 for _, start, end in used)
    assert record["alternative"]["strategy"] == "whole" and record["estimated_cost"]["amount"] > 0
    assert_nothing_unverified(result["output"], text, doc_id)
    assert_token_rows_once(job["id"], record)


def test_auto_past_a_small_plan_cap_reads_the_call_in_sections_each_over_its_cached_prefix(stack):
    provisioned = stack.make_tenant("long-context-small")
    small = Plan.objects.get(code="free")
    small.pk, small.code, small.max_context_tokens, small.is_default = None, "long-context-small", 600, False
    small.save()
    account = account_for(provisioned.tenant)
    account.plan = small
    account.save()
    api = Api(provisioned.issued_key.secret)
    doc_id = ready_document(api, CALL, "call.txt")
    text = api.get(f"/v1/documents/{doc_id}/text").json()["text"]
    job = api.post("/v1/jobs", {"connector": "earnings", "documents": [doc_id], "mode": "model"}).json()
    done = wait_job(api, job["id"], timeout=300)
    assert done["status"] == "succeeded", done
    result = api.get(f"/v1/jobs/{job['id']}/result").json()
    record = result["context"]["documents"][0]
    sections = record["sections"]
    assert record["strategy"] == "map_reduce" and "plan's context cap of 600" in record["reason"]
    assert [sections[0][0], sections[0][1], sections[1][1]] == [0, sections[1][0], len(text)]
    # Four questions per section; the three after each section's first find its prefix cached.
    assert record["calls"] >= 8 and record["cached_tokens"] >= 2 * 3 * 16
    assert_nothing_unverified(result["output"], text, doc_id)
    assert_token_rows_once(job["id"], record)
