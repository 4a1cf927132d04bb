"""What one large tenant's lists, pages and exports cost: SQL statements and milliseconds per request on a
workspace seeded at an enterprise's size, through Django's test client.

Starts its own PostgreSQL and Redis under `--data-dir` (removed first), provisions one tenant with an owner and
`--members` members each with an API key, and stores in bulk `--docs` documents (each with `--chunks` chunks),
`--jobs` finished jobs (four in five with a result), a succeeded review of `--review-docs` documents x 20
columns, `--deliveries` webhook events each delivered once, and `--audit` audit events; then prints, per
request, its status, statements, median milliseconds of `--repeat`, that time over a bare Django view's
(`/healthz`, timed in the same run) and bytes. "deep cursor" pages start at
the cursor of the row nine tenths down the list. Then, each in a transaction rolled back: deleting one and then
30 of the review's documents, the retention purge of the documents older than `--retention-days` (the review
kept), the portal's polled jobs table with the 100 newest jobs made reviews of 1,000 documents each, and the
re-embedding sweep's lookup of stale documents (`EXPLAIN ANALYZE`; every document is stored as embedded by the
current chunk encoder).

    python benchmarks/tenant_scale.py [--docs 5000] [--jobs 2000] [--audit 50000] [--deliveries 1000]
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
COLUMNS = 20


def _seed(args: argparse.Namespace) -> dict:
    import numpy as np
    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from quire.documents.models import Chunk, Document
    from quire.documents.services import chunk_encoder_name
    from quire.jobs.models import Job, JobResult
    from quire.webhooks.models import Delivery, Event, WebhookEndpoint
    from tenants.models import AuditEvent
    from tenants.services import api_key_issue, member_add, tenant_provision

    provisioned = tenant_provision(name="Bench", slug="bench", owner_email=EMAIL, owner_password=PASSWORD)
    tenant = provisioned.tenant
    for n in range(args.members):
        member = member_add(tenant=tenant, email=f"m{n}@bench.example", role="developer")
        api_key_issue(tenant=tenant, name=f"key {n}", role="developer", created_by=member)
    now = timezone.now()
    rng = np.random.default_rng(0)
    encoder = chunk_encoder_name()
    with tenant_context(tenant):
        documents = Document.objects.bulk_create(
            (
                Document(
                    filename=f"contract-{n:06d}.txt",
                    content_type="text/plain",
                    sha256=f"{n:064d}",
                    size_bytes=len(TEXT),
                    text=TEXT,
                    status="ready",
                    page_starts=[0],
                    chunk_count=args.chunks,
                    metadata={"matter": f"m{n % 100}"},
                    encoder=encoder,
                )
                for n in range(args.docs)
            ),
            batch_size=1000,
        )
        ids = [document.pk for document in documents]
        for first in range(0, len(ids), 500):
            vectors = rng.standard_normal((500 * args.chunks, 384)).astype("float32")
            Chunk.objects.bulk_create(
                Chunk(document_id=d, index=i, start=0, end=100, text=TEXT[:100], embedding=vectors[k])
                for k, (d, i) in enumerate(
                    (d, i) for d in ids[first : first + 500] for i in range(args.chunks)
                )
            )
        jobs = Job.objects.bulk_create(
            (
                Job(
                    connector="legal",
                    document_ids=ids[n % len(ids) : n % len(ids) + 3],
                    status="succeeded" if n % 5 else "failed",
                    attempt=1,
                )
                for n in range(args.jobs)
            ),
            batch_size=1000,
        )
        clause = {"category": "Governing Law", "confidence": 0.8}
        JobResult.objects.bulk_create(
            (
                JobResult(
                    job=job,
                    output={
                        "connector": "legal",
                        "clauses": [
                            {**clause, "span": {"document_id": job.document_ids[0], "start": 0, "end": 30}}
                        ],
                    },
                    attempt=1,
                )
                for job in jobs
                if job.status == "succeeded"
            ),
            batch_size=1000,
        )
        columns = [{"key": f"c{n}", "question": f"Question {n}?", "type": "text"} for n in range(COLUMNS)]
        quote = TEXT[:74]
        cell = {"value": quote, "normalised": quote, "confidence": 0.8, "status": "answered"}
        rows = [
            {
                "document_id": d,
                "cells": {
                    c["key"]: {**cell, "spans": [{"document_id": d, "start": 0, "end": 74, "quote": quote}]}
                    for c in columns
                },
            }
            for d in ids[: args.review_docs]
        ]
        review = Job.objects.create(
            connector="review", document_ids=ids[: args.review_docs], status="succeeded", attempt=1
        )
        JobResult.objects.create(
            job=review, output={"connector": "review", "columns": columns, "rows": rows}, attempt=1
        )
        endpoint = WebhookEndpoint.objects.create(
            url="https://hooks.example/", event_types=["*"], secret="s" * 32
        )
        events = Event.objects.bulk_create(
            Event(type="job.succeeded", data={"n": n}) for n in range(args.deliveries)
        )
        Delivery.objects.bulk_create(
            Delivery(event=e, endpoint=endpoint, status="succeeded", attempts=1, next_attempt_at=now)
            for e in events
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE documents_document SET created_at = now() - random() * interval '365 days'"
            )
            cursor.execute("UPDATE jobs_job SET created_at = now() - random() * interval '365 days'")
    actions = ("document.create", "job.create", "member.sign_in", "api_key.issue", "export.create")
    for first in range(0, args.audit, 5000):
        AuditEvent.objects.bulk_create(
            AuditEvent(
                tenant_id=tenant.pk,
                action=actions[n % len(actions)],
                object_type="document",
                object_id=ids[n % len(ids)],
                actor_type="api_key",
                actor_id=f"key_{n % 100}",
            )
            for n in range(first, min(first + 5000, args.audit))
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {
        "provisioned": provisioned,
        "review": review.pk,
        "document": ids[len(ids) // 2],
        "job": jobs[1].pk,
    }


def _deep_cursor(rows) -> str:
    from quire.api.pagination import CreatedCursorPagination

    newest = rows.order_by("-created_at", "-pk")
    return CreatedCursorPagination.encode_cursor(newest[newest.count() * 9 // 10])


class _RolledBack(Exception):
    pass


def _rolled_back(measure) -> None:
    from django.db import transaction

    try:
        with transaction.atomic():
            measure()
            raise _RolledBack
    except _RolledBack:
        pass


def _writes(tenant, review_id: str, portal, retention_days: int) -> None:
    """Deletes, the retention purge, the polled jobs table and the stale lookup, each rolled back."""
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from quire.documents.models import Document
    from quire.documents.services import documents_delete, documents_stale
    from quire.jobs.models import Job
    from quire.jobs.services import retention_apply

    print("\n| what | SQL statements | s |\n|---|---|---|")

    def timed(name: str, action) -> None:
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            done = action()
            seconds = time.perf_counter() - started
        print(
            f"| {name}{done if isinstance(done, str) else ''} | {len(queries)} | {seconds:.2f} |", flush=True
        )

    with tenant_context(tenant):
        review = Job.objects.get(pk=review_id)

        def deletes() -> None:
            timed(
                "delete 1 document of the review",
                lambda: documents_delete(document_ids=review.document_ids[:1]),
            )
            timed(
                "delete 30 documents of the review at once",
                lambda: documents_delete(document_ids=review.document_ids[1:31]),
            )

        _rolled_back(deletes)

        def purge() -> None:
            Job.objects.filter(pk=review_id).update(created_at=timezone.now())
            tenant.retention_days = retention_days
            cutoff = timezone.now() - timedelta(days=retention_days)
            old = Document.objects.filter(created_at__lt=cutoff)
            quoted = old.filter(pk__in=review.document_ids).count()
            timed(
                f"retention purge of {old.count():,} documents ({quoted} in the review)",
                lambda: f": {retention_apply(tenant=tenant)}",
            )

        _rolled_back(purge)

        def poll() -> None:
            newest = list(Job.objects.order_by("-created_at").values_list("pk", flat=True)[:100])
            ids = list(Document.objects.values_list("pk", flat=True)[:1000])
            Job.objects.filter(pk__in=newest).update(connector="review", document_ids=ids, status="running")
            connection.set_schema_to_public()
            portal.get("/jobs/table")
            timed(
                "portal: /jobs/table, 100 reviews of 1,000 documents",
                lambda: portal.get("/jobs/table"),
            )
            connection.set_tenant(tenant)

        _rolled_back(poll)

        def stale() -> None:
            with connection.cursor() as cursor:
                with CaptureQueriesContext(connection) as queries:
                    assert documents_stale(limit=50) == []
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {queries.captured_queries[-1]['sql']}")
                plan = [row[0] for row in cursor.fetchall()]
            print("\nThe re-embedding sweep's lookup, every document up to date:\n")
            print("\n".join(f"    {line}" for line in plan))

        _rolled_back(stale)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--chunks", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--review-docs", type=int, default=500)
    parser.add_argument("--audit", type=int, default=50000)
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--retention-days", type=int, default=180)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/qtenantscale"))
    args = parser.parse_args()

    with fresh_platform(args.data_dir):
        from django.conf import settings
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext
        from django_tenants.utils import tenant_context

        from quire.documents.models import Document
        from quire.jobs.models import Job
        from tenants.models import AuditEvent

        started = time.perf_counter()
        seeded = _seed(args)
        print(f"seeded in {time.perf_counter() - started:.0f} s\n")
        tenant = seeded["provisioned"].tenant
        with tenant_context(tenant):
            deep = {
                "documents": _deep_cursor(Document.objects.all()),
                "jobs": _deep_cursor(Job.objects.all()),
                "audit_events": _deep_cursor(AuditEvent.objects.filter(tenant=tenant)),
            }
        portal = Client(HTTP_HOST=f"bench.{settings.QUIRE_BASE_DOMAIN}")
        assert portal.post("/login", {"username": EMAIL, "password": PASSWORD}).status_code == 302
        api = Client(HTTP_AUTHORIZATION=f"Bearer {seeded['provisioned'].issued_key.secret}")
        review, document, job = seeded["review"], seeded["document"], seeded["job"]
        requests = {
            "GET /v1/documents?limit=100": lambda: api.get("/v1/documents", {"limit": 100}),
            "GET /v1/documents, deep cursor": lambda: api.get(
                "/v1/documents", {"limit": 100, "cursor": deep["documents"]}
            ),
            "GET /v1/documents?metadata[matter]=m7": lambda: api.get(
                "/v1/documents", {"metadata[matter]": "m7"}
            ),
            "GET /v1/documents/{id}": lambda: api.get(f"/v1/documents/{document}"),
            "GET /v1/jobs?limit=100": lambda: api.get("/v1/jobs", {"limit": 100}),
            "GET /v1/jobs, deep cursor": lambda: api.get("/v1/jobs", {"limit": 100, "cursor": deep["jobs"]}),
            "GET /v1/jobs?status=failed": lambda: api.get("/v1/jobs", {"status": "failed", "limit": 100}),
            "GET /v1/jobs/{id}?expand[]=result&expand[]=usage": lambda: api.get(
                f"/v1/jobs/{job}", {"expand[]": ["result", "usage"]}
            ),
            "GET /v1/jobs/{review}/cells": lambda: api.get(f"/v1/jobs/{review}/cells"),
            "GET /v1/jobs/{review}/result.csv": lambda: api.get(f"/v1/jobs/{review}/result.csv"),
            "GET /v1/jobs/{review}/result.xlsx": lambda: api.get(f"/v1/jobs/{review}/result.xlsx"),
            "GET /v1/audit_events?limit=100": lambda: api.get("/v1/audit_events", {"limit": 100}),
            "GET /v1/audit_events, deep cursor": lambda: api.get(
                "/v1/audit_events", {"limit": 100, "cursor": deep["audit_events"]}
            ),
            "GET /v1/audit_events?object_id=": lambda: api.get("/v1/audit_events", {"object_id": document}),
            "GET /v1/audit_events?actor_id=": lambda: api.get("/v1/audit_events", {"actor_id": "key_7"}),
            "GET /v1/audit_events/export": lambda: api.get("/v1/audit_events/export"),
            "GET /v1/api_keys?limit=100": lambda: api.get("/v1/api_keys", {"limit": 100}),
            "GET /v1/events?limit=100": lambda: api.get("/v1/events", {"limit": 100}),
            "portal: documents": lambda: portal.get("/documents"),
            "portal: jobs": lambda: portal.get("/jobs"),
            "portal: reviews": lambda: portal.get("/reviews"),
            "portal: the review's page": lambda: portal.get(f"/reviews/{review}"),
            "portal: audit": lambda: portal.get("/audit"),
            "portal: audit, ?page=900": lambda: portal.get("/audit", {"page": 900}),
            "portal: audit.csv": lambda: portal.get("/audit.csv"),
            "portal: members": lambda: portal.get("/members"),
            "GET /metrics": lambda: Client().get("/metrics"),
        }
        print(
            f"{args.docs} documents, {args.jobs} jobs, {args.audit} audit events, median of {args.repeat}\n"
        )

        def measured(get):
            get()
            seconds = []
            for _ in range(args.repeat):
                with CaptureQueriesContext(connection) as queries:
                    started = time.perf_counter()
                    response = get()
                    body = b"".join(response.streaming_content) if response.streaming else response.content
                    seconds.append(time.perf_counter() - started)
            return response.status_code, len(queries), statistics.median(seconds) * 1000, len(body)

        *_, bare_ms, _ = measured(lambda: Client().get("/healthz"))
        print(f"reference: GET /healthz, a bare Django view, {bare_ms:.2f} ms\n")
        print("| request | status | SQL statements | ms | x the bare view | bytes |")
        print("|---|---|---|---|---|---|")
        for name, get in requests.items():
            status, statements, ms, size = measured(get)
            print(
                f"| {name} | {status} | {statements} | {ms:.1f} | {ms / bare_ms:.0f} | {size:,} |", flush=True
            )
        _writes(tenant, review, portal, args.retention_days)


if __name__ == "__main__":
    main()
