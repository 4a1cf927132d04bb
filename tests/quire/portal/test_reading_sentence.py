"""The job page states each document's context record in words."""

from billing.models import UsageKind
from quire.portal.views.jobs import (
    METERED_WORDS,
    cited_by_name,
    grouped_readings,
    metered_sentence,
    reading_sentence,
)
from tests.support.portal import job_with_result, signed_in, stored_document

WHOLE = {
    "document_id": "",
    "strategy": "whole",
    "attention": "block_sparse",
    "tokens_in": 48_210,
    "cached_tokens": 44_353,
    "calls": 41,
    "estimated_cost": {"amount": 0.031, "currency": "usd"},
    "alternative": {"strategy": "rag", "estimated_cost": {"amount": 0.0444, "currency": "usd"}},
}
SENTENCE = (
    "read whole, block-sparse attention, 48,210 tokens, 41 questions, 92 % served from cache, "
    "est. $0.031 (retrieval would have cost $0.044)"
)


def test_the_context_record_in_words():
    assert reading_sentence(WHOLE) == SENTENCE
    assert reading_sentence({"strategy": "analyzers", "calls": 0}) == "read by the analyzers only, no model"


def test_a_map_reduce_reading_counts_its_questions_not_its_calls():
    entry = {"strategy": "map_reduce", "tokens_in": 9_000, "cached_tokens": 0, "calls": 16, "questions": 5}
    assert (
        reading_sentence(entry)
        == "read in sections, then reduced, 9,000 tokens, 5 questions in 16 calls, 0 % served from cache"
    )
    assert "1 question," in reading_sentence({**entry, "calls": 1, "questions": 1})


def test_passages_shown_beside_other_documents_are_said_so_without_an_alternative():
    entry = {
        "strategy": "rag",
        "tokens_in": 480,
        "cached_tokens": 0,
        "calls": 1,
        "questions": 1,
        "shared_calls": 1,
    }
    assert reading_sentence({**entry, "estimated_cost": {"amount": 0.0002, "currency": "usd"}}) == (
        "read by retrieval, 480 tokens, 1 question, 1 call shared with other documents, 0 % served from cache, "
        "est. $0.000"
    )


def _model_job(workspace, filename: str) -> str:
    """A succeeded earnings job whose one document a model read whole (`WHOLE`)."""
    return job_with_result(
        workspace,
        connector="earnings",
        filename=filename,
        mode="model",
        context=lambda document_id: {
            "strategy": "whole",
            "documents": [{**WHOLE, "document_id": document_id}],
        },
    )


def test_the_job_page_states_the_reading(workspace):
    job_id = _model_job(workspace, "call.txt")
    page = signed_in(workspace, "viewer").get(f"/jobs/{job_id}")
    assert page.status_code == 200 and f"call.txt: {SENTENCE}" in page.content.decode()


def test_the_job_page_states_what_the_ledger_metered(workspace):
    from billing.services import usage_record

    job_id = _model_job(workspace, "metered.txt")
    viewer = signed_in(workspace, "viewer")
    assert "Metered for billing" not in viewer.get(f"/jobs/{job_id}").content.decode()
    usage_record(
        tenant=workspace.tenant,
        job_id=job_id,
        quantities={"tokens_out": 1, "pages": 12, "job": 1, "tokens_in": 48_210},
    )
    html = viewer.get(f"/jobs/{job_id}").content.decode()
    assert "Metered for billing: 12 pages, 1 job, 48,210 input tokens, 1 output token</p>" in html
    assert metered_sentence({}) == "" and metered_sentence({"review_cells": 2}) == "2 review cells"
    assert set(METERED_WORDS) == set(UsageKind.values), "every metered kind has its words on the job page"


def test_documents_read_the_same_way_share_a_line():
    analyzers = [{"strategy": "analyzers", "document_id": f"doc_{i}"} for i in range(7)]
    names = {f"doc_{i}": f"paper{i}.txt" for i in range(7)}
    readings = grouped_readings([analyzers[0], {**WHOLE, "document_id": "doc_w"}, *analyzers[1:]], names)
    assert readings == [
        {
            "who": "7 documents (paper0.txt, paper1.txt, paper2.txt, paper3.txt, paper4.txt and 2 more)",
            "sentence": "read by the analyzers only, no model",
        },
        {"who": "doc_w", "sentence": SENTENCE},
    ]


def test_documents_without_a_span_are_listed_not_printed(workspace):
    from django_tenants.utils import tenant_context

    from quire.jobs.models import Job, JobResult

    marked = stored_document(workspace, "marked.txt", "Claims are supported here. Nothing else.")
    quiet = [
        stored_document(workspace, f"quiet{i}.txt", f"An unrelated abstract number {i}.") for i in range(2)
    ]
    documents = [marked, *quiet]
    span = {"document_id": marked.pk, "start": 0, "end": 26, "quote": "Claims are supported here."}
    record = {
        "strategy": "analyzers",
        "documents": [{"strategy": "analyzers", "document_id": d.pk} for d in documents],
    }
    with tenant_context(workspace.tenant):
        job = Job.objects.create(
            connector="literature", document_ids=[d.pk for d in documents], status="succeeded"
        )
        output = {
            "connector": "literature",
            "claims": [
                {"claim_id": "1", "verdict": "SUPPORT", "evidence": [{"label": "SUPPORT", "span": span}]}
            ],
            "synthesis": [
                {
                    "question_id": "q",
                    "sentences": [{"text": f"Claims are supported here. [{marked.pk}]", "spans": [span]}],
                }
            ],
            "context": record,
        }
        JobResult.objects.create(job=job, output=output, context=record, attempt=1)
    html = signed_in(workspace, "viewer").get(f"/jobs/{job.pk}").content.decode()
    assert "3 documents (marked.txt, quiet0.txt, quiet1.txt): read by the analyzers only, no model" in html
    assert html.count('class="doc-text"') == 1 and "Nothing else." in html
    assert "An unrelated abstract" not in html
    assert "Claims are supported here. [marked.txt]" in html and f"[{marked.pk}]" not in html
    assert "No span in these 2 documents:" in html and f'href="/documents/{quiet[1].pk}"' in html


def test_citations_by_document_id_read_as_file_names():
    names = {"doc_abc123": "paper.txt"}
    assert cited_by_name("A finding. [doc_abc123] [doc_gone]", names) == "A finding. [paper.txt] [doc_gone]"


def test_a_plan_in_euros_prices_the_reading_in_euros(workspace, monkeypatch):
    """The reading's estimated cost is in the plan's currency, and the job page says which."""
    from django_tenants.utils import tenant_context

    import connectors
    from billing.entitlements import account_for, default_plan, entitlements_forget
    from quire.jobs.models import Job, JobResult
    from quire.jobs.services import job_run

    real = connectors.run_connector

    def read_whole(*args, **kwargs):
        output = real(*args, **kwargs)
        document_id = output["context"]["documents"][0]["document_id"]
        output["context"]["documents"] = [
            {**WHOLE, "document_id": document_id, "tokens_out": 900, "questions": 41}
        ]
        return output

    euro = default_plan()
    euro.pk, euro.code, euro.currency, euro.is_default = None, "euro-readings", "eur", False
    euro.save()
    account = account_for(workspace.tenant)
    usual = account.plan
    account.plan = euro
    account.save(update_fields=["plan"])
    entitlements_forget(workspace.tenant.pk)
    document = stored_document(workspace, "euro.txt", "The Supplier shall deliver the Goods.")
    try:
        with tenant_context(workspace.tenant):
            job = Job.objects.create(connector="legal", document_ids=[document.pk])
            monkeypatch.setattr(connectors, "run_connector", read_whole)
            assert job_run(tenant=workspace.tenant, job_id=job.pk).status == "succeeded"
            record = JobResult.objects.get(job_id=job.pk).context["documents"][0]
    finally:
        account.plan = usual
        account.save(update_fields=["plan"])
        entitlements_forget(workspace.tenant.pk)
        euro.delete()
    assert record["estimated_cost"]["currency"] == "eur"
    assert record["alternative"]["estimated_cost"]["currency"] == "eur"
    html = signed_in(workspace, "viewer").get(f"/jobs/{job.pk}").content.decode()
    assert f"est. EUR {record['estimated_cost']['amount']:.3f} (retrieval would have cost EUR " in html
