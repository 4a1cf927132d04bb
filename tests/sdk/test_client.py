"""The SDK's client against the live server: documents, jobs with progress, pages, typed errors."""

from __future__ import annotations

import uuid

import pytest
from quire_sdk import NotFoundError

from tests.support.documents import make_pdf


def test_upload_text_and_file_then_wait(quire, tmp_path):
    marker = uuid.uuid4().hex
    from_text = quire.documents.create(
        text=f"Note {marker}. Payment is due in thirty days.", filename="note.txt"
    )
    assert from_text.status in ("pending", "parsing", "embedding", "ready")
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(make_pdf([f"First page {marker}", "Second page of the paper"]))
    sent = []
    from_file = quire.documents.create(
        file=pdf, on_upload_progress=lambda done, total: sent.append((done, total))
    )
    assert from_file.filename == "paper.pdf"
    assert sent and sent[-1][0] == sent[-1][1]

    states = []
    ready = quire.documents.wait(
        from_file.id, interval=0.2, timeout=120, on_change=lambda d: states.append(d.status)
    )
    assert ready.status == "ready", ready.failure_reason
    assert ready.page_count == 2 and states[-1] == "ready"
    assert quire.documents.wait(from_text.id, interval=0.2, timeout=120).status == "ready"

    assert quire.documents.content(from_file.id) == pdf.read_bytes()
    assert quire.documents.page_image(from_file.id, 2).startswith(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(NotFoundError) as missing:
        quire.documents.page_image(from_file.id, 3)
    assert missing.value.param == "page" and "pages 1 to 2" in missing.value.message

    text = quire.documents.text(from_text.id, start=5, end=5 + len(marker))
    assert text.text == marker and text.length > len(marker)
    assert quire.documents.get(from_text.id).raw["id"] == from_text.id
    assert quire.documents.delete(from_text.id).deleted is True


def test_a_filename_with_quotes_and_a_backslash_is_stored_as_it_was_sent(quire, tmp_path):
    for name in ('Memo "final" v2.txt', 'say \\"hi\\".txt'):
        path = tmp_path / "upload.txt"
        path.write_text(f"This Agreement {uuid.uuid4().hex} is governed by the laws of Delaware.")
        doc = quire.documents.create(file=path, filename=name)
        assert doc.filename == name.replace("\\", "/")  # a backslash separates folders, as / does


def test_run_legal_job_with_progress_and_findings(quire, contract_doc):
    progress = []
    job = quire.jobs.run(
        "legal",
        [contract_doc.id],
        on_progress=lambda j: progress.append((j.status, j.progress)),
        interval=0.1,
    )
    assert job.status == "succeeded", job.error
    assert progress[-1] == ("succeeded", 1.0)
    assert [p for _, p in progress] == sorted(p for _, p in progress)
    findings = job.result.findings()
    governing = [f for f in findings if f.label == "Governing Law"]
    assert governing, findings
    clause = governing[0]
    assert "Delaware" in clause.quote
    assert quire.documents.text(contract_doc.id, start=clause.start, end=clause.end).text == clause.quote
    assert quire.jobs.result(job.id).spans_checked == job.result.spans_checked
    sections = list(job.result.output)
    assert sections.index("clauses") < sections.index("risks") < sections.index("answers")


def test_a_finding_is_labelled_by_its_owner_or_else_by_its_span():
    from quire_sdk.types import JobResult

    span = {"document_id": "doc_1", "start": 0, "end": 5, "quote": "Acme."}
    result = JobResult.from_dict(
        {
            "job_id": "job_1",
            "output": {
                "summary": [{"text": "q1 revenue $1.", "spans": [span]}],
                "risks": [{"code": "exclusivity", "severity": "medium", "span": span}],
                "tone": [{"score": 0.5, "evidence": [{**span, "category": "positive"}]}],
                "rows": [{"document_id": "doc_1", "cells": {"liability_cap": {"value": 1, "span": span}}}],
            },
        }
    )
    assert [(f.section, f.label, f.severity) for f in result.findings()] == [
        ("summary", "q1 revenue $1.", None),
        ("risks", "exclusivity", "medium"),
        ("tone", "positive", None),
        ("rows", "liability_cap", None),
    ]


def test_pages_are_walked_past_the_first(quire):
    ids = {
        quire.documents.create(text=f"Page walk {uuid.uuid4().hex}.", filename="walk.txt").id
        for _ in range(5)
    }
    page = quire.documents.list(limit=2)
    assert len(page.data) == 2 and page.has_more and page.next_cursor
    walked = [doc.id for doc in page]
    assert ids <= set(walked)
    assert len(walked) == len(set(walked))
    assert sum(1 for _ in page.pages()) >= 3
    assert [job.id for job in quire.jobs.list(limit=1)] == [job.id for job in quire.jobs.list(limit=100)]


def test_typed_errors_carry_code_param_status_and_request_id(quire, live_server):
    from quire_sdk import AuthenticationError, ConflictError, InvalidRequestError, Quire

    with pytest.raises(NotFoundError) as missing:
        quire.documents.get("doc_missing")
    assert missing.value.status == 404 and missing.value.code == "resource_missing"
    assert missing.value.type == "not_found_error"
    assert missing.value.request_id.startswith("req_")

    with pytest.raises(InvalidRequestError) as invalid:
        quire.search("anything", k=0)
    assert (invalid.value.status, invalid.value.param) == (400, "k")

    with pytest.raises(InvalidRequestError) as unknown:
        quire.jobs.create("no-such-connector", ["doc_x"])
    assert unknown.value.code == "unknown_connector" and unknown.value.param == "connector"

    key = f"reused-{uuid.uuid4().hex}"
    quire.documents.create(text=f"First body {key}.", idempotency_key=key)
    with pytest.raises(ConflictError) as reused:
        quire.documents.create(text=f"Another body {key}.", idempotency_key=key)
    assert reused.value.code == "idempotency_key_reused"

    with (
        Quire(api_key="qk_live_wrong", base_url=live_server.url) as stranger,
        pytest.raises(AuthenticationError) as denied,
    ):
        stranger.documents.list()
    assert denied.value.status == 401


def test_search_finds_the_clause(quire, contract_doc):
    hits = quire.search("Which state's law governs the agreement?", k=3, documents=[contract_doc.id])
    assert hits and hits[0].document_id == contract_doc.id
    assert "Delaware" in " ".join(hit.quote for hit in hits)


def test_usage_and_events(quire, contract_doc):
    usage = quire.usage(group_by="kind")
    assert usage.group_by == "kind" and isinstance(usage.data, list)
    events = list(quire.events.list(type="document.ready", limit=5))
    assert any(event.data.get("id") == contract_doc.id for event in events)


def test_metadata_filters_and_expand_round_trip(quire, contract_doc, tmp_path):
    marker = uuid.uuid4().hex[:12]
    pdf = tmp_path / "tagged.pdf"
    pdf.write_bytes(make_pdf([f"Tagged {marker}"]))
    tagged = quire.documents.create(file=pdf, metadata={"matter": marker, "team": "legal"})
    assert tagged.metadata == {"matter": marker, "team": "legal"}
    updated = quire.documents.update(tagged.id, metadata={"team": "", "stage": "review"})
    assert updated.metadata == {"matter": marker, "stage": "review"}
    assert [d.id for d in quire.documents.list(metadata={"matter": marker})] == [tagged.id]

    job = quire.jobs.run("legal", [contract_doc.id], metadata={"matter": marker}, interval=0.1)
    assert job.status == "succeeded", job.error
    assert [j.id for j in quire.jobs.list(metadata={"matter": marker}, status="succeeded")] == [job.id]
    expanded = quire.jobs.get(job.id, expand=["result"])
    assert expanded.result is not None
    assert expanded.result.spans_checked == quire.jobs.result(job.id).spans_checked
    assert expanded.usage is None
    metered = quire.jobs.get(job.id, expand=["usage"])
    assert metered.usage["job"] == 1 and metered.usage["pages"] >= 1 and metered.result is None


def test_models_list_and_get(quire):
    models = {model.id: model for model in quire.models.list()}
    legal = models["legal-clauses"]
    assert legal.status == "loaded" and legal.licences == ["CC BY 4.0"] and len(legal.version) == 12
    assert legal.model_card is None and legal.trained_on is None
    detail = quire.models.get("legal-clauses")
    assert detail.version == legal.version and len(detail.trained_on) == legal.training_documents
    assert detail.model_card.startswith("# Legal clause model")


def test_an_admin_key_issues_moves_and_revokes_keys(quire, live_server):
    from quire_sdk import ApiKey, PermissionDeniedError, Quire

    issued = quire.api_keys.create("sdk integration", role="viewer")
    assert isinstance(issued, ApiKey) and issued.secret.startswith("qk_live_") and issued.role == "viewer"
    assert issued.id in {key.id for key in quire.api_keys.list(limit=100)}
    assert quire.api_keys.get(issued.id).secret is None
    moved = quire.api_keys.update(issued.id, version="2026-12-01", role="developer")
    assert (moved.version, moved.role) == ("2026-12-01", "developer")
    with Quire(api_key=issued.secret, base_url=live_server.url) as integration:
        assert integration._transport.request("GET", "health").headers["quire-version"] == "2026-12-01"
        with pytest.raises(PermissionDeniedError):
            integration.api_keys.list()
    assert quire.api_keys.revoke(issued.id).revoked_at is not None


def test_a_reviews_cells_are_read_by_window_and_corrected(quire, tenant_a):
    from quire_sdk import InvalidRequestError

    from tests.support.clauses import review_that_ran

    text = "Governed by the laws of Delaware.\n\nPayment within thirty days."
    columns = [
        {"key": "law", "question": "Which law governs?", "type": "text"},
        {"key": "terms", "question": "Payment terms?", "type": "text"},
    ]
    answers = {
        "law": ("Governed by the laws of Delaware.", 0.9),
        "terms": ("Payment within thirty days.", 0.8),
    }
    job_id, document_id = review_that_ran(
        tenant_a, f"sdk-cells-{uuid.uuid4().hex}.txt", text, columns, answers
    )

    cells = quire.jobs.cells(job_id)
    assert (
        cells["complete"]
        and cells["rows_done"] == 1
        and [c["key"] for c in cells["columns"]] == ["law", "terms"]
    )
    assert cells["data"][0]["cells"]["law"]["value"] == "Governed by the laws of Delaware."
    assert quire.jobs.cells(job_id, from_index=1)["data"] == []
    corrected = quire.jobs.correct_cell(job_id, document=document_id, key="terms", corrected_value="Net 30")
    assert corrected["corrected_value"] == "Net 30" and corrected["verified"]
    verified = quire.jobs.correct_cell(job_id, document=document_id, key="law", verified=True)
    assert verified["corrected_value"] is None and verified["verified"]
    row = quire.jobs.cells(job_id, from_index=0, limit=1)["data"][0]
    assert row["cells"]["terms"]["correction"]["corrected_value"] == "Net 30"
    quire.jobs.correct_cell(job_id, document=document_id, key="terms", corrected_value=None)
    cleared = quire.jobs.cells(job_id)["data"][0]["cells"]["terms"]["correction"]
    assert cleared["corrected"] and cleared["corrected_value"] is None
    assert row["cells"]["law"]["correction"]["verified"]
    assert quire.jobs.cells(job_id, limit=1)["next_from_index"] is None
    with pytest.raises(InvalidRequestError) as refused:
        quire.jobs.cells(job_id, limit=0)
    assert refused.value.param == "limit"


def test_a_reviews_grid_is_downloaded_with_its_corrections(quire, tenant_a):
    import io

    import openpyxl

    from tests.support.clauses import review_that_ran

    text = "Governed by the laws of Delaware.\n\nPayment within thirty days."
    columns = [{"key": "terms", "question": "Payment terms?", "type": "text"}]
    job_id, document_id = review_that_ran(
        tenant_a,
        f"sdk-grid-{uuid.uuid4().hex}.txt",
        text,
        columns,
        {"terms": ("Payment within thirty days.", 0.8)},
    )
    quire.jobs.correct_cell(job_id, document=document_id, key="terms", corrected_value="Net 30")
    grid = quire.jobs.grid(job_id).decode()
    assert document_id in grid and "Net 30" in grid
    workbook = openpyxl.load_workbook(io.BytesIO(quire.jobs.grid(job_id, format="xlsx")))
    assert any("Net 30" in str(cell.value) for row in workbook.active.iter_rows() for cell in row)
    with pytest.raises(ValueError, match="format must be 'csv' or 'xlsx'"):
        quire.jobs.grid(job_id, format="pdf")


def test_a_reviews_rows_are_read_a_page_at_a_time(quire, tenant_a):
    from django_tenants.utils import tenant_context

    from quire.jobs.models import Job, JobResult, JobStatus

    columns = [{"key": "law", "question": "Which law governs?", "type": "text"}]
    rows = [
        {
            "document_id": f"doc_page_{n}",
            "cells": {"law": {"value": f"Law {n}", "spans": [], "status": "answered"}},
        }
        for n in range(5)
    ]
    with tenant_context(tenant_a.tenant):
        job = Job.objects.create(
            connector="review",
            document_ids=[row["document_id"] for row in rows],
            options={"columns": columns},
            status=JobStatus.SUCCEEDED,
            attempt=1,
        )
        JobResult.objects.create(
            job=job, output={"connector": "review", "columns": columns, "rows": rows}, context={}, attempt=1
        )
    first = quire.jobs.cells(job.pk, limit=2)
    assert [r["index"] for r in first["data"]] == [0, 1] and first["next_from_index"] == 2
    read = list(quire.jobs.rows(job.pk, page_size=2))
    assert [(r["index"], r["cells"]["law"]["value"]) for r in read] == [(n, f"Law {n}") for n in range(5)]


def test_the_workspace_settings_are_read_and_changed(quire, tenant_a):
    from quire_sdk import InvalidRequestError, Workspace

    shown = quire.workspace.get()
    assert isinstance(shown, Workspace) and shown.id == tenant_a.tenant.public_id
    assert "eng" in shown.ocr_languages_available
    try:
        changed = quire.workspace.update(retention_days=90, ocr_pictures="never")
        assert (changed.retention_days, changed.ocr_languages) == (90, shown.ocr_languages)
        assert changed.ocr_pictures == "never"
        with pytest.raises(InvalidRequestError) as refused:
            quire.workspace.update(ocr_languages="xx")
        assert refused.value.param == "ocr_languages"
        assert quire.workspace.update(retention_days=None).retention_days is None
    finally:
        quire.workspace.update(retention_days=shown.retention_days, ocr_pictures=shown.ocr_pictures)
