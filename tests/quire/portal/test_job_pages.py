"""A job over many documents is shown a page of documents at a time: their marked texts, the findings and a legal
job's answers of each, with the whole result's counts, and links to findings on other pages that go to their
page."""

from __future__ import annotations

import uuid

from django_tenants.utils import tenant_context

from quire.portal.views import jobs
from tests.support.portal import signed_in, stored_document

TEXT = "The Supplier shall deliver the goods. This Agreement is governed by the laws of Delaware."


def _span(document_id: str, quote: str) -> dict:
    start = TEXT.index(quote)
    return {"document_id": document_id, "start": start, "end": start + len(quote), "quote": quote}


def test_a_job_over_many_documents_shows_a_page_of_them_at_a_time(workspace, monkeypatch):
    from quire.clauses.models import ClauseType, ClauseTypeStatus
    from quire.jobs.models import Job, JobResult

    monkeypatch.setattr(jobs, "DOCUMENTS_SHOWN", 2)
    tag = uuid.uuid4().hex[:8]
    docs = [stored_document(workspace, f"contract-{tag}-{n}.txt", TEXT) for n in range(4)]
    law = "governed by the laws of Delaware"
    clauses = [{"category": "Governing Law", "confidence": 0.9, "span": _span(d.pk, law)} for d in docs[:3]]
    custom = [
        {
            "category": "Delivery",
            "clause_type": f"delivery_{tag}",
            "name": "Delivery",
            "confidence": 0.8,
            "span": _span(docs[2].pk, "The Supplier shall deliver the goods."),
        }
    ]
    with tenant_context(workspace.tenant):
        ClauseType.objects.create(key=f"delivery_{tag}", name="Delivery", status=ClauseTypeStatus.READY)
        job = Job.objects.create(
            connector="legal", document_ids=[d.pk for d in docs], status="succeeded", options={}
        )
        output = {"connector": "legal", "clauses": clauses, "custom_clauses": custom}
        JobResult.objects.create(job=job, output=output, context={}, attempt=1)
    developer = signed_in(workspace, "developer")

    first = developer.get(f"/jobs/{job.pk}").content.decode()
    assert "4 findings with spans" in first
    assert "Documents with spans 1\u20132 of 3" in first and '<a href="?page=2">Next documents</a>' in first
    assert first.count('<article aria-label="contract-') == 2 and f"contract-{tag}-2.txt</h3>" not in first
    assert first.count('<a href="#finding-') == 2
    assert 'href="?page=2#finding-4"' in first
    assert f"contract-{tag}-3.txt</a>.</p>" in first

    second = developer.get(f"/jobs/{job.pk}", {"page": 2}).content.decode()
    assert second.count('<article aria-label="contract-') == 1 and f"contract-{tag}-2.txt <small>" in second
    assert 'href="#finding-4"' in second and 'id="finding-4"' in second


def test_a_job_over_many_documents_folds_their_names_in_its_header(workspace):
    from quire.jobs.models import Job

    tag = uuid.uuid4().hex[:8]
    docs = [stored_document(workspace, f"folded-{tag}-{n}.txt", TEXT) for n in range(11)]
    with tenant_context(workspace.tenant):
        many = Job.objects.create(connector="legal", document_ids=[d.pk for d in docs], options={})
        few = Job.objects.create(connector="legal", document_ids=[d.pk for d in docs[:10]], options={})
    viewer = signed_in(workspace, "viewer")
    page = viewer.get(f"/jobs/{many.pk}").content.decode()
    assert '<details class="job-documents"><summary>11 documents</summary>' in page
    assert f"folded-{tag}-10.txt</a></details>" in page
    assert "job-documents" not in viewer.get(f"/jobs/{few.pk}").content.decode()


def test_a_legal_job_over_several_contracts_shows_each_contract_s_answers(workspace, monkeypatch):
    from quire.jobs.models import Job, JobResult

    tag = uuid.uuid4().hex[:8]
    docs = [stored_document(workspace, f"answers-{tag}-{n}.txt", TEXT) for n in range(2)]
    law = "governed by the laws of Delaware"
    clauses = [{"category": "Governing Law", "confidence": 0.9, "span": _span(d.pk, law)} for d in docs]
    by_document = {
        docs[0].pk: {"Governing Law": "Delaware", "Parties": ["Acme Corp"]},
        docs[1].pk: {"Governing Law": "Texas", "Parties": ["Beta LLC", "Gamma Inc"]},
    }
    with tenant_context(workspace.tenant):
        job = Job.objects.create(
            connector="legal", document_ids=[d.pk for d in docs], status="succeeded", options={}
        )
        output = {
            "connector": "legal",
            "clauses": clauses,
            "answers": by_document[docs[0].pk],
            "answers_by_document": by_document,
        }
        JobResult.objects.create(job=job, output=output, context={}, attempt=1)
    viewer = signed_in(workspace, "viewer")
    page = viewer.get(f"/jobs/{job.pk}").content.decode()
    assert f"<summary>Answers: answers-{tag}-0.txt (2)</summary>" in page
    assert f"<summary>Answers: answers-{tag}-1.txt (2)</summary>" in page
    assert "<dd>Texas</dd>" in page and "<dd>Beta LLC, Gamma Inc</dd>" in page
    assert page.count('<dl class="facts answers">') == 2

    monkeypatch.setattr(jobs, "DOCUMENTS_SHOWN", 1)
    second = viewer.get(f"/jobs/{job.pk}", {"page": 2}).content.decode()
    assert f"Answers: answers-{tag}-1.txt" in second and f"Answers: answers-{tag}-0.txt" not in second


def test_a_job_page_reads_the_text_of_the_documents_it_shows_only(workspace, monkeypatch):
    """Custom clause findings are listed for the whole result, but a document on another page is read only as
    far as its findings' passages, not whole (its text, layout and tables)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from quire.clauses.models import ClauseType, ClauseTypeStatus
    from quire.jobs.models import Job, JobResult

    monkeypatch.setattr(jobs, "DOCUMENTS_SHOWN", 1)
    tag = uuid.uuid4().hex[:8]
    docs = [stored_document(workspace, f"passages-{tag}-{n}.txt", TEXT) for n in range(3)]
    delivery = "The Supplier shall deliver the goods."
    custom = [
        {
            "category": "Delivery",
            "clause_type": f"delivery_{tag}",
            "name": "Delivery",
            "confidence": 0.8,
            "span": _span(d.pk, delivery),
        }
        for d in docs
    ]
    with tenant_context(workspace.tenant):
        ClauseType.objects.create(
            key=f"delivery_{tag}",
            name="Delivery",
            status=ClauseTypeStatus.READY,
            examples=[delivery],
        )
        job = Job.objects.create(
            connector="legal", document_ids=[d.pk for d in docs], status="succeeded", options={}
        )
        JobResult.objects.create(
            job=job, output={"connector": "legal", "custom_clauses": custom}, context={}, attempt=1
        )
    developer = signed_in(workspace, "developer")
    with CaptureQueriesContext(connection) as queries:
        page = developer.get(f"/jobs/{job.pk}").content.decode()
    whole = [q["sql"] for q in queries.captured_queries if '"documents_document"."text"' in q["sql"]]
    assert whole and not [sql for sql in whole if docs[1].pk in sql or docs[2].pk in sql], whole
    assert 'href="?page=2#finding-2"' in page and 'href="?page=3#finding-3"' in page
    assert page.count('value="clause" checked') == 3, "each finding is shown as the type's example it is"


def test_passages_are_cut_as_python_slices_them_and_a_missing_document_is_left_out(workspace):
    from quire.documents.selectors import document_passages

    document = stored_document(workspace, f"cut-{uuid.uuid4().hex[:8]}.txt", "Ünïcode text, then more.")
    spans = [(document.pk, 0, 7), (document.pk, 14, 10_000), (document.pk, 3, 3), ("doc_gone", 0, 4)]
    with tenant_context(workspace.tenant):
        cut = document_passages(spans=spans)
    assert cut == {(d, start, end): document.text[start:end] for d, start, end in spans[:3]}
