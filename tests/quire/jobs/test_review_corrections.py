"""A reviewer's word on a review's cells: a correction to null is a correction, and growing a review carries a
correction only onto the cell it reused as it was."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from quire.documents import services as document_services
from quire.documents.models import Document
from quire.jobs.models import CellCorrection, Job, JobResult
from quire.jobs.review import grid_rows
from quire.jobs.services import _carry_corrections, cell_correct
from tests.support import Api, wait_for
from tests.support.concurrency import Side, pause, waiting_on_a_lock

LAW = {"key": "governing_law", "question": "Which law governs?", "type": "text"}
CELL = {
    "value": "Delaware",
    "status": "answered",
    "confidence": 0.9,
    "spans": [{"document_id": "doc_c", "start": 0, "end": 8, "quote": "Delaware"}],
}


def _review(columns: list[dict], cell: dict = CELL) -> Job:
    job = Job.objects.create(connector="review", document_ids=["doc_c"], status="succeeded")
    output = {
        "connector": "review",
        "columns": columns,
        "rows": [{"document_id": "doc_c", "cells": {"governing_law": cell}}],
    }
    JobResult.objects.create(job=job, output=output, context={}, attempt=1)
    return job


@pytest.fixture
def in_tenant(tenant_a):
    with tenant_context(tenant_a.tenant):
        made = Job.objects.values_list("pk", flat=True)
        before = set(made)
        yield
        Job.objects.exclude(pk__in=before).delete()


def _document(pk: str = "doc_c") -> Document:
    document, _ = Document.objects.get_or_create(
        pk=pk,
        defaults={
            "filename": "c.txt",
            "content_type": "text/plain",
            "sha256": uuid.uuid4().hex,
            "size_bytes": 1,
        },
    )
    return document


def test_a_correction_to_null_is_a_correction_not_a_verification(in_tenant):
    _document()
    job = _review([LAW])
    correction = cell_correct(
        job=job, document_id="doc_c", key="governing_law", by="r@x", corrected_value=None
    )
    assert (correction.corrected, correction.corrected_value, correction.verified) == (True, None, True)
    header, row = list(grid_rows(JobResult.objects.get(job=job)))
    status = row[header.index("governing_law status")]
    assert status.startswith("corrected by r@x") and row[header.index("governing_law")] == ""
    verified = cell_correct(job=job, document_id="doc_c", key="governing_law", by="r@x", verified=True)
    assert (verified.corrected, verified.verified) == (False, True)
    header, row = list(grid_rows(JobResult.objects.get(job=job)))
    assert "verified by r@x" in row[header.index("governing_law status")]


def test_a_correction_longer_than_the_limit_is_refused_naming_it(in_tenant):
    from common.refusals import Refusal
    from quire.jobs.models import MAX_CORRECTION_CHARS

    _document()
    job = _review([LAW])
    for too_long in ("x" * MAX_CORRECTION_CHARS, ["Ontario"] * MAX_CORRECTION_CHARS):
        with pytest.raises(Refusal, match=f"at most {MAX_CORRECTION_CHARS:,} characters") as refused:
            cell_correct(
                job=job, document_id="doc_c", key="governing_law", by="r@x", corrected_value=too_long
            )
        assert refused.value.param == "corrected_value"
    assert not CellCorrection.objects.filter(job=job).exists()
    kept = cell_correct(
        job=job,
        document_id="doc_c",
        key="governing_law",
        by="r@x",
        corrected_value="x" * (MAX_CORRECTION_CHARS - 2),
    )
    assert len(kept.corrected_value) == MAX_CORRECTION_CHARS - 2
    # Characters, not the escapes ASCII-only JSON would write: CJK text and emoji count one each.
    for wide in ("本" * (MAX_CORRECTION_CHARS - 2), "😀" * (MAX_CORRECTION_CHARS - 2)):
        kept = cell_correct(job=job, document_id="doc_c", key="governing_law", by="r@x", corrected_value=wide)
        assert kept.corrected_value == wide


@pytest.mark.parametrize(
    ("column", "cell", "carried"),
    [
        (LAW, CELL, True),
        ({**LAW, "question": "Which state's law governs the agreement?"}, CELL, False),
        (LAW, {**CELL, "value": "New York"}, False),
        (LAW, {**CELL, "status": "needs_review"}, True),
    ],
    ids=["reused", "question-changed", "computed-again", "reused-under-another-floor"],
)
def test_growing_a_review_carries_a_correction_only_onto_the_cell_it_reused(in_tenant, column, cell, carried):
    earlier = _review([LAW])
    CellCorrection.objects.create(
        job=earlier,
        document_id="doc_c",
        key="governing_law",
        corrected=True,
        corrected_value="Ontario",
        verified=True,
        by="r@x",
        at=timezone.now(),
    )
    grown = _review([column], cell)
    _carry_corrections(earlier.pk, grown, JobResult.objects.get(job=grown).output)
    assert CellCorrection.objects.filter(job=grown).exists() is carried


def test_a_deleted_documents_cells_take_no_correction_and_one_meeting_the_delete_goes_with_it(
    api_a: Api, tenant_a, monkeypatch
):
    with tenant_context(tenant_a.tenant):
        first, second = _document(f"doc_{uuid.uuid4().hex[:16]}"), _document(f"doc_{uuid.uuid4().hex[:16]}")
        job = Job.objects.create(connector="review", document_ids=[first.pk, second.pk], status="succeeded")
        rows = [{"document_id": d.pk, "cells": {"governing_law": CELL}} for d in (first, second)]
        JobResult.objects.create(
            job=job, output={"connector": "review", "columns": [LAW], "rows": rows}, context={}, attempt=1
        )

    def correct(document: Document):
        body = {"document": document.pk, "key": "governing_law", "corrected_value": "Quillfeather law"}
        return Api(api_a.secret).post(f"/v1/jobs/{job.pk}/cells", body)

    deleting = pause(monkeypatch, document_services, "events_rewrite")
    delete = Side(lambda: Api(api_a.secret).delete(f"/v1/documents/{first.pk}"))
    assert deleting.entered.wait(10)
    meeting = Side(lambda: correct(first))
    wait_for(lambda: meeting.done() or waiting_on_a_lock(), timeout=10)
    deleting.release()
    assert delete.result().status_code == 200
    assert meeting.result().status_code == 400, meeting.result().content
    assert meeting.result().json()["error"]["param"] == "document"
    assert api_a.delete(f"/v1/documents/{second.pk}").status_code == 200
    after = correct(second)
    assert after.status_code == 400 and after.json()["error"]["param"] == "document", after.content
    with tenant_context(tenant_a.tenant):
        assert not CellCorrection.objects.filter(job=job).exists()
        job.delete()


def test_a_correction_meeting_the_purge_of_its_job_is_a_404_not_an_error(in_tenant, monkeypatch):
    from common.refusals import Refusal
    from quire.jobs import services as job_services

    _document()
    job = _review([LAW])
    held = job_services.documents_held

    def purged_meanwhile(*, ids):
        Job.objects.filter(pk=job.pk).delete()
        return held(ids=ids)

    monkeypatch.setattr(job_services, "documents_held", purged_meanwhile)
    with pytest.raises(Refusal) as refused:
        cell_correct(job=job, document_id="doc_c", key="governing_law", by="reviewer", corrected_value="Ohio")
    assert (refused.value.status, refused.value.param) == (404, "job_id")
    assert not CellCorrection.objects.filter(job_id=job.pk).exists()


@pytest.mark.parametrize("corrected_before", [True, False], ids=["corrected-again", "first-correction"])
def test_a_correction_meeting_a_retention_purge_already_under_way_is_a_404_and_the_purge_finishes(
    tenant_a, monkeypatch, corrected_before
):
    """The purge has deleted the job's corrections and not yet the job when the correction comes: the correction
    waits for the purge and finds the job gone, and the purge neither deadlocks with it nor leaves it behind."""
    import copy
    import threading
    from datetime import UTC, datetime, timedelta

    from django.db.models.signals import post_delete

    from common.refusals import Refusal
    from quire.jobs.services import retention_apply

    long_ago = datetime(2000, 1, 1, tzinfo=UTC)
    with tenant_context(tenant_a.tenant):
        _document()
        job = _review([LAW])
        Job.objects.filter(pk=job.pk).update(created_at=long_ago)
        if corrected_before:
            cell_correct(job=job, document_id="doc_c", key="governing_law", by="r@x", corrected_value="Ohio")
    purging = copy.copy(tenant_a.tenant)
    purging.retention_days = 1
    deleted, released = threading.Event(), threading.Event()

    def corrections_deleted(sender, instance, **kwargs):
        if instance.job_id == job.pk and not deleted.is_set():
            deleted.set()
            assert released.wait(20)

    def purge():
        with tenant_context(purging):
            return retention_apply(tenant=purging, now=long_ago + timedelta(days=2))

    def correct():
        with tenant_context(tenant_a.tenant):
            return cell_correct(
                job=job, document_id="doc_c", key="governing_law", by="r@x", corrected_value="Texas"
            )

    post_delete.connect(corrections_deleted, sender=CellCorrection, weak=False)
    try:
        if not corrected_before:
            with tenant_context(tenant_a.tenant):
                CellCorrection.objects.create(
                    job=job, document_id="doc_c", key="other", verified=True, by="r@x", at=timezone.now()
                )
        purger = Side(purge)
        assert deleted.wait(10)
        meeting = Side(correct)
        wait_for(lambda: meeting.done() or waiting_on_a_lock(), timeout=10)
        released.set()
        assert purger.result()["jobs"] == 1
        with pytest.raises(Refusal) as refused:
            meeting.result()
    finally:
        released.set()
        post_delete.disconnect(corrections_deleted, sender=CellCorrection)
    assert (refused.value.status, refused.value.param) == (404, "job_id")
    with tenant_context(tenant_a.tenant):
        assert not Job.objects.filter(pk=job.pk).exists()
        assert not CellCorrection.objects.filter(job_id=job.pk).exists()
