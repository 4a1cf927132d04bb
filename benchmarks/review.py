"""A review of N documents x 10 columns, run as a worker runs it: wall time and the worker's peak memory.

    python benchmarks/review.py [--docs 1000] [--columns 10]

The documents are the 32 CUAD contracts and the first 16 ECTSum calls of tests/data, repeated (each copy a document of
its own, with its own rows of chunks); their chunks are cut and embedded once per distinct text by the
ingest code (`chunk_text`, all-MiniLM-L6-v2) and stored for every copy, so the review reads real
embeddings from pgvector. The job itself (`job_run`: load the documents and their chunk vectors, run the
connector, verify every span, save the result and the usage) runs in a fresh child process, which reports
its own time and peak resident memory. The chunks and vectors are cached in .quire/bench-review-chunks.pkl
(keyed by the texts) for the next run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import resource
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TENANT = "bench-review"
BROKER_DB = 13
CALLS = 16
COLUMNS = [
    {"key": "governing_law", "question": "Which law governs the contract?", "type": "text"},
    {"key": "effective_date", "question": "When does the contract take effect?", "type": "date"},
    {"key": "term", "question": "How long is the initial term?", "type": "duration"},
    {"key": "fees", "question": "What fees or payments are due?", "type": "money"},
    {"key": "revenue", "question": "What was total revenue?", "type": "money"},
    {"key": "margin", "question": "What was the gross margin?", "type": "percent"},
    {"key": "headcount", "question": "How many employees or customers are there?", "type": "number"},
    {"key": "terminate", "question": "May a party terminate for convenience?", "type": "yes_no"},
    {
        "key": "tone",
        "question": "Is the outlook positive, neutral or negative?",
        "type": "enum",
        "choices": ["positive", "neutral", "negative"],
    },
    {"key": "risks", "question": "Which risks are named?", "type": "list"},
    {"key": "parties", "question": "Who are the parties?", "type": "party"},
    {"key": "notices", "question": "How are notices given?", "type": "clause"},
]


def _setup() -> list:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quire.settings")
    os.environ.setdefault("QUIRE_LOG_LEVEL", "WARNING")
    from quire.embedded import ensure_service_urls

    servers = ensure_service_urls()
    # The job is run here, in a child process; the task job_create queues goes to a broker database no worker
    # reads (emptied at the end), never to one a `make run` worker would take it from and run the job again.
    broker = urlsplit(os.environ["REDIS_URL"])._replace(path=f"/{BROKER_DB}")
    os.environ["QUIRE_BROKER_URL"] = urlunsplit(broker)
    import django

    django.setup()
    return servers


def _drop(tenant) -> None:
    """Remove the bench tenant: its usage rows, its schema, then the tenant (and what cascades from it)."""
    from django.db import connection

    from billing.models import UsageEvent
    from tenants.models import Tenant

    connection.set_schema_to_public()
    UsageEvent.objects.filter(tenant=tenant).delete()
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{tenant.schema_name}" CASCADE')
    Tenant.objects.filter(pk=tenant.pk).delete()


def _texts() -> list[str]:
    data = ROOT / "tests" / "data"
    paths = (
        sorted((data / "cuad" / "contracts").glob("*.txt"))
        + sorted((data / "ectsum" / "calls").glob("*.txt"))[:CALLS]
    )
    return [path.read_text(encoding="utf-8") for path in paths]


def _embedded(texts: list[str]) -> tuple[list, list]:
    import torch

    from inference.embeddings import embed_texts
    from quire.documents.chunking import chunk_text

    torch.set_num_threads(1)
    spans = [[(c.start, c.end) for c in chunk_text(text)] for text in texts]
    vectors = [
        embed_texts([text[a:b] for a, b in chunked]) for text, chunked in zip(texts, spans, strict=True)
    ]
    return spans, vectors


def prepare(docs: int, columns: int) -> tuple[object, str]:
    import numpy
    from django.core.management import call_command
    from django_tenants.utils import tenant_context

    from billing.entitlements import entitlements_forget
    from billing.models import BillingAccount, Plan
    from connectors.text import normalise_text
    from quire.documents.models import Chunk, Document, DocumentStatus
    from quire.jobs.services import job_create
    from tenants.models import Tenant
    from tenants.services import tenant_provision

    started = time.perf_counter()
    call_command("migrate_schemas", interactive=False, verbosity=0)
    tenant = Tenant.objects.filter(slug=TENANT).first()
    if tenant is not None:
        _drop(tenant)
    tenant = tenant_provision(name="Bench Review", slug=TENANT).tenant
    BillingAccount.objects.filter(tenant=tenant).update(plan=Plan.objects.get(code="enterprise"))
    entitlements_forget(tenant.pk)
    print(f"migrated and provisioned in {time.perf_counter() - started:.0f}s", flush=True)
    texts = [normalise_text(text) for text in _texts()]
    started = time.perf_counter()
    cache = ROOT / ".quire" / "bench-review-chunks.pkl"
    key = hashlib.sha256("\0".join(texts).encode()).hexdigest()
    cached = pickle.loads(cache.read_bytes()) if cache.exists() else {}
    if cached.get("key") == key:
        spans, vectors = cached["spans"], cached["vectors"]
    else:
        spans, vectors = _embedded(texts)
        cache.parent.mkdir(exist_ok=True)
        cache.write_bytes(pickle.dumps({"key": key, "spans": spans, "vectors": vectors}))
    print(
        f"embedded {sum(len(s) for s in spans)} chunks of {len(texts)} texts in {time.perf_counter() - started:.0f}s",
        flush=True,
    )
    started = time.perf_counter()
    with tenant_context(tenant):
        ids = []
        for number in range(docs):
            which = number % len(texts)
            text = texts[which]
            document = Document.objects.create(
                filename=f"doc-{number:04d}.txt",
                content_type="text/plain",
                sha256=f"{number:064x}",
                size_bytes=len(text),
                file=f"bench/{number}",
                status=DocumentStatus.READY,
                text=text,
                chunk_count=len(spans[which]),
            )
            Chunk.objects.bulk_create(
                [
                    Chunk(
                        document=document,
                        index=i,
                        start=a,
                        end=b,
                        text=text[a:b],
                        embedding=numpy.asarray(v),
                    )
                    for i, ((a, b), v) in enumerate(zip(spans[which], vectors[which], strict=True))
                ]
            )
            ids.append(document.id)
        print(f"stored {docs} documents and their chunks in {time.perf_counter() - started:.0f}s", flush=True)
        job = job_create(
            tenant=tenant,
            connector="review",
            document_ids=ids,
            options={"columns": COLUMNS[:columns]},
            mode="analyzers",
        )
    return tenant, job.id


def run_job(job_id: str) -> None:
    """The worker's part, in this (child) process: prints the job's status, seconds and peak memory."""
    from django_tenants.utils import tenant_context

    from quire.jobs.models import JobResult
    from quire.jobs.services import job_run
    from tenants.models import Tenant

    tenant = Tenant.objects.get(slug=TENANT)
    with tenant_context(tenant):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        job = job_run(tenant=tenant, job_id=job_id)
        seconds = time.perf_counter() - started
        output = JobResult.objects.get(job_id=job_id).output
    statuses: dict[str, int] = {}
    for row in output["rows"]:
        for cell in row["cells"].values():
            statuses[cell["status"]] = statuses.get(cell["status"], 0) + 1
    print(
        json.dumps(
            {
                "status": job.status,
                "seconds": seconds,
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "rss_before_mib": before / 1024,
                "cells": output["cells"],
                "statuses": statuses,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--columns", type=int, default=10, choices=range(1, len(COLUMNS) + 1))
    parser.add_argument("--run-job", help=argparse.SUPPRESS)
    args = parser.parse_args()
    servers = _setup()
    try:
        if args.run_job:
            run_job(args.run_job)
            return
        tenant, job_id = prepare(args.docs, args.columns)
        child = subprocess.run(
            [sys.executable, __file__, "--run-job", job_id],
            capture_output=True,
            text=True,
            env=os.environ,
            check=True,
        )
        report = json.loads(child.stdout.strip().splitlines()[-1])
        _drop(tenant)
    finally:
        if not args.run_job:
            import redis

            redis.Redis.from_url(os.environ["QUIRE_BROKER_URL"]).flushdb()
        for server in servers:
            server.stop()
    cells = report["cells"]["total"]
    print(f"CPUs: {os.cpu_count()}  documents: {args.docs}  columns: {args.columns}  cells: {cells}")
    print(f"job {report['status']} in {report['seconds']:.1f}s ({cells / report['seconds']:.0f} cells/s)")
    print(
        f"worker peak RSS {report['peak_rss_mib']:.0f} MiB (after Django setup: {report['rss_before_mib']:.0f} MiB)"
    )
    print(f"cells by status: {report['statuses']}")


if __name__ == "__main__":
    main()
