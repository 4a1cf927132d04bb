"""The review grid fragment the portal polls: while the job runs, the cells of the documents done so far
appear, the others stay pending."""

from __future__ import annotations

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
