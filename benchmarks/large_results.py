"""What reading large results costs in the portal and the API: a review's grid page, one cell's panel and
`GET /v1/jobs/{id}/cells`, and a legal job's page over many documents, through Django's test client, against
`GET /healthz` through the same client and middleware (the reference, a view that reads nothing, measured in
the same run).

Starts its own PostgreSQL and Redis under `--data-dir` (removed first), provisions one tenant with an owner,
stores `--docs` documents and a succeeded review of them with `--columns` text columns (each cell a value,
one span and a confidence, as the review connector writes them), and a succeeded legal job over the first
`--job-docs` of them with `--findings` clause findings each, then times each request `--repeat` times and
prints the median.

    python benchmarks/large_results.py [--docs 1000] [--columns 20] [--job-docs 200] [--findings 40]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.fresh_platform import fresh_platform  # noqa: E402

EMAIL, PASSWORD = "owner@bench.example", "bench-password-1234"
TEXT = "The Supplier shall deliver the Products within thirty days of each order. " * 40


def _review(tenant, docs: int, columns: int) -> tuple[str, list[str]]:
    from django_tenants.utils import tenant_context

    from quire.documents.models import Document
    from quire.jobs.models import Job, JobResult

    quote = TEXT[:74]
    with tenant_context(tenant):
        stored = Document.objects.bulk_create(
            Document(
                filename=f"contract-{n:04d}.txt",
                content_type="text/plain",
                sha256=f"{n:064d}",
                size_bytes=len(TEXT),
                text=TEXT,
                status="ready",
            )
            for n in range(docs)
        )
        ids = [document.pk for document in stored]
        keys = [{"key": f"c{n}", "question": f"Question {n}?", "type": "text"} for n in range(columns)]
        rows = [
            {
                "document_id": document_id,
                "cells": {
                    column["key"]: {
                        "value": quote,
                        "normalised": quote,
                        "spans": [
                            {"document_id": document_id, "start": 0, "end": len(quote), "quote": quote}
                        ],
                        "confidence": 0.8,
                        "status": "answered",
                    }
                    for column in keys
                },
            }
            for document_id in ids
        ]
        job = Job.objects.create(
            connector="review", document_ids=ids, status="succeeded", options={"columns": keys}, attempt=1
        )
        output = {"connector": "review", "columns": keys, "rows": rows}
        JobResult.objects.create(job=job, output=output, context={}, attempt=1)
    return job.pk, ids


def _legal_job(tenant, ids: list[str], findings: int) -> str:
    from django_tenants.utils import tenant_context

    from quire.jobs.models import Job, JobResult

    step = len(TEXT) // (findings + 1)
    clauses = [
        {
            "category": f"Category {n}",
            "confidence": 0.8,
            "span": {
                "document_id": document_id,
                "start": step * n,
                "end": step * n + 60,
                "quote": TEXT[step * n : step * n + 60],
            },
        }
        for document_id in ids
        for n in range(1, findings + 1)
    ]
    with tenant_context(tenant):
        job = Job.objects.create(connector="legal", document_ids=ids, status="succeeded", attempt=1)
        JobResult.objects.create(
            job=job, output={"connector": "legal", "clauses": clauses}, context={}, attempt=1
        )
    return job.pk


def _median_ms(get, repeat: int) -> tuple[float, int]:
    seconds, size = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        response = get()
        seconds.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
        size = len(response.content)
    return statistics.median(seconds) * 1000, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--columns", type=int, default=20)
    parser.add_argument("--job-docs", type=int, default=200)
    parser.add_argument("--findings", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/qlargeresults"))
    args = parser.parse_args()

    with fresh_platform(args.data_dir):
        from django.conf import settings
        from django.test import Client

        from tenants.services import tenant_provision

        provisioned = tenant_provision(name="Bench", slug="bench", owner_email=EMAIL, owner_password=PASSWORD)
        job_id, ids = _review(provisioned.tenant, args.docs, args.columns)
        legal_id = _legal_job(provisioned.tenant, ids[: args.job_docs], args.findings)
        portal = Client(HTTP_HOST=f"bench.{settings.QUIRE_BASE_DOMAIN}")
        assert portal.post("/login", {"username": EMAIL, "password": PASSWORD}).status_code == 302
        api = Client(HTTP_AUTHORIZATION=f"Bearer {provisioned.issued_key.secret}")
        requests = {
            "portal: the review's page (the grid)": lambda: portal.get(f"/reviews/{job_id}"),
            "portal: one cell's panel": lambda: portal.get(
                f"/reviews/{job_id}/cell", {"document": ids[len(ids) // 2], "key": f"c{args.columns // 2}"}
            ),
            "API: GET /v1/jobs/{id}/cells": lambda: api.get(f"/v1/jobs/{job_id}/cells"),
            f"portal: a legal job's page ({args.job_docs} documents x {args.findings} findings)": lambda: (
                portal.get(f"/jobs/{legal_id}")
            ),
        }
        floor, _ = _median_ms(lambda: portal.get("/healthz"), max(args.repeat, 20))
        print(f"{args.docs} documents x {args.columns} columns, median of {args.repeat}\n")
        print("| request | ms | bytes | vs GET /healthz |")
        print("|---|---|---|---|")
        print(f"| GET /healthz (reference) | {floor:.2f} | | 1x |")
        for name, get in requests.items():
            get()
            ms, size = _median_ms(get, args.repeat)
            print(f"| {name} | {ms:.1f} | {size:,} | {ms / floor:.0f}x |", flush=True)


if __name__ == "__main__":
    main()
