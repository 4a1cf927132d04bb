"""What reading a large review costs in the portal and the API: the grid page, one cell's panel and
`GET /v1/jobs/{id}/cells`, through Django's test client, against `GET /healthz` through the same client and
middleware (the reference, a view that reads nothing, measured in the same run).

Starts its own PostgreSQL and Redis under `--data-dir` (removed first), provisions one tenant with an owner,
stores `--docs` documents and a succeeded review of them with `--columns` text columns (each cell a value,
one span and a confidence, as the review connector writes them), then times each request `--repeat` times
and prints the median.

    python benchmarks/review_grid.py [--docs 1000] [--columns 20] [--repeat 5]
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
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/qreviewgrid"))
    args = parser.parse_args()

    with fresh_platform(args.data_dir):
        from django.conf import settings
        from django.test import Client

        from tenants.services import tenant_provision

        provisioned = tenant_provision(name="Bench", slug="bench", owner_email=EMAIL, owner_password=PASSWORD)
        job_id, ids = _review(provisioned.tenant, args.docs, args.columns)
        portal = Client(HTTP_HOST=f"bench.{settings.QUIRE_BASE_DOMAIN}")
        assert portal.post("/login", {"username": EMAIL, "password": PASSWORD}).status_code == 302
        api = Client(HTTP_AUTHORIZATION=f"Bearer {provisioned.issued_key.secret}")
        requests = {
            "portal: the review's page (the grid)": lambda: portal.get(f"/reviews/{job_id}"),
            "portal: one cell's panel": lambda: portal.get(
                f"/reviews/{job_id}/cell", {"document": ids[len(ids) // 2], "key": f"c{args.columns // 2}"}
            ),
            "API: GET /v1/jobs/{id}/cells": lambda: api.get(f"/v1/jobs/{job_id}/cells"),
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
