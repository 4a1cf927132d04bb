"""The review grid fragment the portal polls: while the job runs, the cells of the documents done so far
appear, the others stay pending."""

from __future__ import annotations

import uuid

from django.db import transaction
from django_tenants.utils import tenant_context

from quire.jobs.models import Job, JobStatus, ReviewRow
from tests.support.portal import signed_in

COLUMNS = [{"key": "law", "question": "Which law governs?", "type": "text"}]


def test_a_running_review_shows_the_rows_already_done(workspace):
    with tenant_context(workspace.tenant):
        job = Job.objects.create(
            connector="review",
            document_ids=["doc_first", "doc_second"],
            options={"columns": COLUMNS},
            status=JobStatus.RUNNING,
            attempt=1,
        )
        cell = {"value": "Delaware", "normalised": "Delaware", "spans": [], "confidence": 0.9}
        ReviewRow.objects.create(
            job=job,
            index=0,
            document_id="doc_first",
            cells={"law": {**cell, "status": "answered"}},
            attempt=1,
        )
    client = signed_in(workspace, "viewer")
    grid = client.get(f"/reviews/{job.id}/grid").content.decode()
    assert 'data-rows-done="1"' in grid and "1 of 2 documents done" in grid
    assert 'class="cell cell-answered">Delaware<' in grid and 'class="cell cell-pending">…<' in grid
    assert 'hx-trigger="every 1s"' in grid

    with tenant_context(workspace.tenant):
        Job.objects.filter(pk=job.pk).update(status=JobStatus.CANCELED)
    grid = client.get(f"/reviews/{job.id}/grid").content.decode()
    assert "Delaware" not in grid and "documents done" not in grid


def test_a_long_review_is_shown_a_page_of_documents_at_a_time_running_and_done(workspace, monkeypatch):
    from quire.jobs.models import CellCorrection, JobResult
    from quire.jobs.review import review_cells
    from quire.portal.views import reviews

    monkeypatch.setattr(reviews, "GRID_ROWS", 2)
    documents = [f"doc_{n}" for n in range(5)]

    def cell(n: int) -> dict:
        return {
            "value": f"Law {n}",
            "normalised": f"Law {n}",
            "spans": [],
            "confidence": 0.9,
            "status": "answered",
        }

    with tenant_context(workspace.tenant):
        job = Job.objects.create(
            connector="review",
            document_ids=documents,
            options={"columns": COLUMNS},
            status=JobStatus.RUNNING,
            attempt=1,
        )
        for n in (0, 2, 3):
            ReviewRow.objects.create(
                job=job, index=n, document_id=documents[n], cells={"law": cell(n)}, attempt=1
            )
        assert review_cells(job, first=0, count=2)["next"] == 2
        assert review_cells(job, first=2, count=2)["next"] is None
        assert review_cells(job, first=2)["next"] is None
    client = signed_in(workspace, "viewer")
    second = client.get(f"/reviews/{job.id}/grid", {"page": 2}).content.decode()
    assert "3 of 5 documents done" in second and "Documents 3\u20134 of 5" in second
    assert "Law 2" in second and "Law 3" in second and "Law 0" not in second
    assert f'hx-get="/reviews/{job.id}/grid?page=2"' in second
    assert '<a href="?page=1">Previous</a>' in second and '<a href="?page=3">Next</a>' in second
    last = client.get(f"/reviews/{job.id}/grid", {"page": 3}).content.decode()
    assert "Documents 5\u20135 of 5" in last and 'class="cell cell-pending">…<' in last and "Next" not in last

    rows = [{"document_id": d, "cells": {"law": cell(n)}} for n, d in enumerate(documents)]
    with tenant_context(workspace.tenant):
        ReviewRow.objects.filter(job=job).delete()
        Job.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED)
        JobResult.objects.create(
            job=job, output={"connector": "review", "columns": COLUMNS, "rows": rows}, context={}, attempt=1
        )
        for document_id in ("doc_1", "doc_3"):
            CellCorrection.objects.create(
                job=job,
                document_id=document_id,
                key="law",
                verified=True,
                by="ana@example.com",
                at=job.created_at,
            )
        job.refresh_from_db()
        read = review_cells(job, first=2, count=2)
        assert [r["index"] for r in read["rows"]] == [2, 3] and read["done"] == 5 and read["complete"]
        assert [("correction" in r["cells"]["law"]) for r in read["rows"]] == [False, True]
        assert [r["index"] for r in review_cells(job)["rows"]] == [0, 1, 2, 3, 4]
        assert read["next"] == 4 and review_cells(job, first=3, count=2)["next"] is None
    done = client.get(f"/reviews/{job.id}", {"page": 2}).content.decode()
    assert "Law 2" in done and "Law 3" in done and "Law 1" not in done and "Law 4" not in done
    assert f'hx-get="/reviews/{job.id}/cell?document=doc_3&amp;key=law"' in done
    assert 'class="cell cell-verified"' in done
    assert "Documents 5\u20135 of 5" in client.get(f"/reviews/{job.id}", {"page": 99}).content.decode()


def test_every_download_of_a_review_grid_is_one_export_event(workspace):
    from quire.jobs.models import JobResult
    from tenants.models import AuditEvent
    from tenants.services import api_key_issue
    from tests.support import Api

    cell = {
        "value": "Delaware",
        "normalised": "Delaware",
        "spans": [],
        "confidence": 0.9,
        "status": "answered",
    }
    with tenant_context(workspace.tenant):
        job = Job.objects.create(
            connector="review",
            document_ids=["doc_a"],
            options={"columns": COLUMNS},
            status=JobStatus.SUCCEEDED,
            attempt=1,
        )
        JobResult.objects.create(
            job=job,
            output={
                "connector": "review",
                "columns": COLUMNS,
                "rows": [{"document_id": "doc_a", "cells": {"law": cell}}],
            },
            context={},
            attempt=1,
        )
    client = signed_in(workspace, "viewer")
    api = Api(api_key_issue(tenant=workspace.tenant, name="grid-exports", role="viewer").secret)

    def exports() -> list[tuple[str, str]]:
        events = AuditEvent.objects.filter(tenant=workspace.tenant, action="export.create", object_id=job.id)
        return [(e.details["format"], e.actor_type) for e in events.order_by("created_at", "pk")]

    csv_download = client.get(f"/reviews/{job.id}/result.csv")
    assert b"Delaware" in b"".join(csv_download.streaming_content)
    assert client.get(f"/reviews/{job.id}/result.xlsx").status_code == 200
    assert api.get(f"/v1/jobs/{job.id}/result.csv").status_code == 200
    assert api.get(f"/v1/jobs/{job.id}/result.xlsx").status_code == 200
    assert client.get(f"/jobs/{job.id}/result.json").status_code == 200
    assert exports() == [
        ("csv", "member"),
        ("xlsx", "member"),
        ("csv", "api_key"),
        ("xlsx", "api_key"),
        ("json", "member"),
    ]


def test_a_large_review_s_pager_writes_its_counts_with_thousands_separators(workspace, monkeypatch):
    from quire.portal.views import reviews

    monkeypatch.setattr(reviews, "GRID_ROWS", 1000)
    with tenant_context(workspace.tenant):
        job = Job.objects.create(
            connector="review",
            document_ids=[f"doc_many_{n}" for n in range(2500)],
            options={"columns": COLUMNS},
            status=JobStatus.RUNNING,
            attempt=1,
        )
    page = signed_in(workspace, "viewer").get(f"/reviews/{job.id}", {"page": 2}).content.decode()
    assert "Documents 1,001\u20132,000 of 2,500" in page and "0 of 2,500 documents done" in page


def test_a_review_of_all_ready_documents_past_the_limit_says_it_reads_only_the_newest(workspace, monkeypatch):
    import html
    import uuid

    from quire.portal.views import reviews
    from tests.support.portal import stored_document

    monkeypatch.setattr(reviews, "MAX_DOCUMENTS", 2)
    tag = uuid.uuid4().hex[:8]
    newest = [
        stored_document(workspace, f"all-{tag}-{n}.txt", f"Contract {n} of {tag}.").pk for n in range(3)
    ]
    developer = signed_in(workspace, "developer")
    started = developer.post(
        "/reviews",
        {"all_documents": "on", "columns": "law | Which law governs? | text", "mode": "analyzers"},
        follow=True,
    )
    shown = html.unescape(started.content.decode())
    assert started.status_code == 200
    assert "A review reads at most 2 documents: this one reads the newest 2 ready documents, not all" in shown
    with tenant_context(workspace.tenant):
        job = Job.objects.get(pk=started.redirect_chain[-1][0].rsplit("/", 1)[1])
    assert job.document_ids == newest[:0:-1]


def test_a_cell_of_a_deleted_document_says_so_and_offers_no_corrections(workspace):
    from quire.documents.models import Document
    from quire.documents.redaction import Redactor
    from quire.jobs.models import JobResult
    from quire.jobs.review import grid_rows
    from quire.jobs.services import job_results_redact

    text = "This Agreement is governed by the laws of the State of Delaware, without regard to conflicts."
    with tenant_context(workspace.tenant):
        kept, gone = (
            Document.objects.create(
                filename=name,
                content_type="text/plain",
                text=text,
                size_bytes=len(text),
                sha256=uuid.uuid4().hex,
            )
            for name in ("kept.txt", "gone.txt")
        )
        span = {"start": 0, "end": len(text), "quote": text}
        rows = [
            {
                "document_id": d.id,
                "cells": {
                    "law": {
                        "value": "Delaware",
                        "normalised": "Delaware",
                        "spans": [{**span, "document_id": d.id}],
                        "confidence": 0.8,
                        "status": "answered",
                    }
                },
            }
            for d in (kept, gone)
        ]
        job = Job.objects.create(
            connector="review",
            document_ids=[kept.id, gone.id],
            options={"columns": COLUMNS},
            status=JobStatus.SUCCEEDED,
        )
        JobResult.objects.create(
            job=job, output={"connector": "review", "columns": COLUMNS, "rows": rows}, context={}, attempt=1
        )
        with transaction.atomic():
            job_results_redact(document_ids=[gone.id], redactor=Redactor(gone.id, text))
        Document.objects.filter(pk=gone.pk).delete()
        stored = {
            row["document_id"]: row["cells"]["law"] for row in JobResult.objects.get(job=job).output["rows"]
        }
    # What a column answered of a deleted document is what the document said: emptied, not only its quotes.
    assert (stored[gone.id]["value"], stored[gone.id]["redacted"]) == (None, True)
    assert stored[kept.id]["value"] == "Delaware" and "redacted" not in stored[kept.id]
    with tenant_context(workspace.tenant):
        exported = {line[0]: " ".join(line) for line in grid_rows(JobResult.objects.get(job=job))}
    assert "(redacted)" in exported[gone.id] and "Delaware" not in exported[gone.id]
    assert "Delaware" in exported[kept.id]
    owner = signed_in(workspace, "owner")
    panel = owner.get(f"/reviews/{job.id}/cell", {"document": gone.id, "key": "law"}).content.decode()
    assert "a deleted document" in panel and "data-deleted" in panel and "Save correction" not in panel
    assert "data-cell-status>redacted<" in panel
    shown = owner.get(f"/reviews/{job.id}/cell", {"document": kept.id, "key": "law"}).content.decode()
    assert (
        "kept.txt" in shown and f'name="document" value="{kept.id}"' in shown and "Save correction" in shown
    )


def test_a_figure_corrected_through_the_api_is_shown_with_its_unit():
    from quire.portal.views.reviews import _shown_cell

    cell = {"value": "$100,000", "status": "answered"}
    corrected = {
        **cell,
        "correction": {
            "corrected": True,
            "corrected_value": {"value": 120000, "unit": "USD"},
            "verified": False,
        },
    }
    assert _shown_cell(corrected) == {"shown": "120000 USD", "status": "corrected"}
    assert _shown_cell({**cell, "value": {"value": 0.5}})["shown"] == "0.5"
    assert _shown_cell({**cell, "value": {"other": 1}})["shown"] == "{'other': 1}"
