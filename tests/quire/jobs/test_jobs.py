"""Connector jobs through the public API and real worker processes."""

import json
import uuid

import pytest
from django_tenants.utils import tenant_context

from connectors.spans import walk_spans
from quire.documents.models import Document
from quire.jobs.models import Job, JobResult
from tests.support import (
    Api,
    ready_document,
    wait_for,
    wait_job,
)
from tests.support.documents import CONTRACT


def assert_spans_hold(value, texts: dict[str, str]) -> int:
    sites = list(walk_spans(value))
    for site in sites:
        span = site.span
        assert texts[span["document_id"]][span["start"] : span["end"]] == span["quote"], site.path
    return len(sites)


def test_legal_job_end_to_end(celery_worker, api_a: Api):
    doc_id = ready_document(api_a, CONTRACT, "nda.txt")
    body = {"connector": "legal", "documents": [doc_id], "options": {"suggestions": 2}}
    created = api_a.post("/v1/jobs", body, headers={"Idempotency-Key": "legal-job-1"})
    assert created.status_code == 202, created.content
    job = created.json()
    assert job["id"].startswith("job_") and job["status"] == "queued"
    done = wait_job(api_a, job["id"])
    assert done["status"] == "succeeded", done
    assert done["progress"] == 1.0
    result = api_a.get(f"/v1/jobs/{job['id']}/result").json()
    output = result["output"]
    assert output["connector"] == "legal"
    assert result["context"]["strategy"] == "analyzers" and result["context"]["reason"]
    catalogue = {model["id"]: model for model in api_a.get("/v1/models").json()["data"]}
    clauses = catalogue["legal-clauses"]
    assert result["context"]["models"] == [
        {"id": "legal-clauses", "version": clauses["version"], "status": "loaded"}
    ]
    assert output["answers"]["Governing Law"] == "Delaware"
    categories = [suggestion["category"] for suggestion in output["suggestions"]]
    assert categories and max(categories.count(c) for c in categories) <= 2
    text = api_a.get(f"/v1/documents/{doc_id}/text").json()["text"]
    assert assert_spans_hold(output, {doc_id: text}) == result["spans_checked"] > 0

    replay = api_a.post("/v1/jobs", body, headers={"Idempotency-Key": "legal-job-1"})
    assert replay.json()["id"] == job["id"]
    conflict = api_a.post(
        "/v1/jobs",
        {"connector": "earnings", "documents": [doc_id]},
        headers={"Idempotency-Key": "legal-job-1"},
    )
    assert conflict.status_code == 409


def test_job_validation_errors(celery_worker, api_a: Api, api_b: Api):
    doc_id = ready_document(api_a, "A short note for validation tests.")
    unknown = api_a.post("/v1/jobs", {"connector": "astrology", "documents": [doc_id]})
    assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "connector"
    foreign = api_b.post("/v1/jobs", {"connector": "legal", "documents": [doc_id]})
    assert foreign.status_code == 404 and foreign.json()["error"]["param"] == "documents.0"
    empty = api_a.post("/v1/jobs", {"connector": "legal", "documents": []})
    assert empty.status_code == 400
    assert empty.json()["error"] | {"type": None} == {
        "type": None,
        "code": "min_length",
        "message": "Name at least one document.",
        "param": "documents",
    }
    bad_options = api_a.post(
        "/v1/jobs", {"connector": "literature", "documents": [doc_id], "options": {"claims": "not a list"}}
    )
    assert bad_options.status_code == 400 and bad_options.json()["error"]["code"] == "invalid_options"
    fast = api_a.post("/v1/jobs", {"connector": "legal", "documents": [doc_id], "mode": "fast"})
    assert (fast.status_code, fast.json()["error"]["message"]) == (
        400,
        '"fast" is not one of: analyzers, model.',
    )


def test_a_document_listed_twice_is_400_naming_its_second_place(celery_worker, api_a: Api):
    doc_id = ready_document(api_a, "A short note for validation tests.")
    twice = api_a.post("/v1/jobs", {"connector": "legal", "documents": [doc_id, doc_id]})
    assert twice.status_code == 400
    error = twice.json()["error"]
    assert (error["code"], error["param"]) == ("duplicate_documents", "documents.1")
    assert doc_id in error["message"]


def test_progress_does_not_go_back_when_another_attempt_takes_the_job_over(api_a: Api, tenant_a):
    """An attempt that takes over a job its lost worker had brought to 60 % starts its work again, but the job's
    progress stays where it was until the new attempt passes it."""
    from datetime import timedelta

    from django.utils import timezone

    from quire.jobs.services import job_run

    now = timezone.now()
    with tenant_context(tenant_a.tenant):
        job = Job.objects.create(
            connector="legal",
            document_ids=["doc_takenovergone"],
            status="running",
            stage="risks",
            progress=0.6,
            attempt=1,
            started_at=now - timedelta(minutes=2),
            attempt_started_at=now - timedelta(minutes=2),
            lease_until=now - timedelta(minutes=1),
        )
        job_run(tenant=tenant_a.tenant, job_id=job.pk)
    ended = api_a.get(f"/v1/jobs/{job.pk}").json()
    assert (ended["status"], ended["attempt"]) == ("failed", 2)
    assert ended["progress"] == 0.6


@pytest.mark.parametrize(
    ("connector", "options", "param"),
    [
        ("legal", {"suggestions": 50}, "options.suggestions"),
        ("legal", {"playbook": {}}, "options.playbook"),
        ("legal", {"playbook": [{"category": "Nope", "require": "present"}]}, "options.playbook.0.category"),
        (
            "legal",
            {
                "playbook": [
                    {"category": "Governing Law", "require": "present"},
                    {"category": "Governing Law", "require": "maybe"},
                ]
            },
            "options.playbook.1.require",
        ),
        (
            "legal",
            {"playbook": [{"category": "Governing Law", "require": "present", "colour": 1}]},
            "options.playbook.0.colour",
        ),
        ("legal", {"playbook": [{"category": "Governing Law"}]}, "options.playbook.0"),
        ("review", {"template": ["x"]}, "options.template"),
        ("review", {"template": {}}, "options.template"),
        ("review", {"template": "no_such_template"}, "options.template"),
        ("literature", {"claims": "not a list"}, "options.claims"),
        ("literature", {"claims": [{"claim": "a"}, "b"]}, "options.claims.1"),
        ("literature", {"claims": [{"claim": " "}]}, "options.claims.0"),
        ("literature", {"claims": [{"claim": "a"}], "top_k": 0}, "options.top_k"),
        ("literature", {"claims": [{"claim": "a"}], "top_k": True}, "options.top_k"),
        ("literature", {"claims": [{"claim": "a", "question": "b?"}]}, "options.claims.0"),
        ("legal", {"include_default_risks": "false"}, "options.include_default_risks"),
        ("legal", {"clause_model": "neural"}, "options.clause_model"),
        ("earnings", {"summary_bullets": 9}, "options.summary_bullets"),
        ("earnings", {"summary_bullets": True}, "options.summary_bullets"),
    ],
)
def test_options_a_connector_refuses_are_400_naming_the_option(
    celery_worker, api_a: Api, connector, options, param
):
    doc_id = ready_document(api_a, "A short note for validation tests.")
    refused = api_a.post("/v1/jobs", {"connector": connector, "documents": [doc_id], "options": options})
    assert refused.status_code == 400, refused.content
    assert (refused.json()["error"]["code"], refused.json()["error"]["param"]) == ("invalid_options", param)


def test_another_tenants_job_is_404(api_a: Api, api_b: Api, tenant_b):
    """Tenant B's job, real and visible to B, is not found for tenant A's key, however A asks for it."""
    document = api_b.post("/v1/documents", {"text": "Beta's own memo.", "filename": "memo.txt"}).json()
    with tenant_context(tenant_b.tenant):
        job = Job.objects.create(connector="legal", document_ids=[document["id"]])
    assert api_b.get(f"/v1/jobs/{job.id}").json()["id"] == job.id
    for response in (
        api_a.get(f"/v1/jobs/{job.id}"),
        api_a.get(f"/v1/jobs/{job.id}/result"),
        api_a.post(f"/v1/jobs/{job.id}/cancel"),
    ):
        assert response.status_code == 404 and response.json()["error"]["code"] == "resource_missing"
    assert job.id not in [j["id"] for j in api_a.get("/v1/jobs", limit=100).json()["data"]]
    assert api_b.get(f"/v1/jobs/{job.id}").json()["status"] == "queued"


def test_document_not_ready_is_400(api_a: Api, tenant_a):
    from quire.documents.models import Document

    with tenant_context(tenant_a.tenant):
        pending = Document.objects.create(
            filename="p.txt", content_type="text/plain", sha256="0" * 64, size_bytes=1, file="none"
        )
    response = api_a.post("/v1/jobs", {"connector": "legal", "documents": [pending.id]})
    assert response.status_code == 400 and response.json()["error"]["code"] == "document_not_ready"


def test_cancel(celery_worker, api_a: Api, tenant_a):
    doc_id = ready_document(api_a, CONTRACT + "\nCancel me.")
    with tenant_context(tenant_a.tenant):
        job = Job.objects.create(connector="legal", document_ids=[doc_id])
    canceled = api_a.post(f"/v1/jobs/{job.id}/cancel")
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    again = api_a.post(f"/v1/jobs/{job.id}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "job_not_cancelable"
    assert api_a.get(f"/v1/jobs/{job.id}/result").status_code == 409
    [announced] = [
        e for e in api_a.get("/v1/events", type="job.canceled").json()["data"] if e["data"]["id"] == job.id
    ]
    assert announced["data"]["status"] == "canceled" and announced["data"]["finished_at"]


def test_an_escaped_slash_in_an_id_reaches_no_other_view(api_a: Api, tenant_a):
    with tenant_context(tenant_a.tenant):
        job = Job.objects.create(connector="legal", document_ids=["doc_escaped"])
    for sent in (f"/v1/jobs/{job.id}%2Fcancel", f"/v1/jobs/{job.id}%2fcancel?x=1"):
        # As gunicorn hands it over: PATH_INFO decoded, the path as sent in RAW_URI.
        refused = api_a.post(f"/v1/jobs/{job.id}/cancel", {"metadata": {"note": "x"}}, RAW_URI=sent)
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "resource_missing"
    assert api_a.get(f"/v1/jobs/{job.id}").json()["status"] == "queued"
    assert api_a.client.get("/documents/doc_x/text", RAW_URI="/documents/doc_x%2Ftext").status_code == 404
    kept = api_a.get(f"/v1/jobs/{job.id}", RAW_URI=f"/v1/jobs/{job.id}?next=%2Fcancel")
    assert kept.status_code == 200


@pytest.mark.timeout(300)
def test_a_canceled_model_job_stops_before_its_next_model_call(make_tenant, monkeypatch):
    """Canceled while its first model call is in flight, a running job makes at most one more call and ends
    within seconds, without waiting for a progress report."""
    import threading
    import time

    from quire.jobs.services import job_cancel, job_run
    from tests.connectors.conftest import ScriptedServer
    from tests.support.portal import stored_document

    calls: list[float] = []
    server = ScriptedServer()

    def slow(messages: list[dict]) -> str:
        calls.append(time.monotonic())
        time.sleep(2)
        return "{}"

    server.responder = slow
    monkeypatch.setenv("QUIRE_INFERENCE_URL", server.url)
    monkeypatch.setenv("QUIRE_INFERENCE_MODEL", "scripted")
    provisioned = make_tenant("cancel-model")
    document = stored_document(provisioned, "nda.txt", CONTRACT)
    with tenant_context(provisioned.tenant):
        job = Job.objects.create(connector="legal", mode="model", document_ids=[document.pk])
    ended = {}

    def run() -> None:
        with tenant_context(provisioned.tenant):
            ended["job"] = job_run(tenant=provisioned.tenant, job_id=job.pk)
        ended["at"] = time.monotonic()

    runner = threading.Thread(target=run)
    try:
        runner.start()
        wait_for(lambda: calls, timeout=120)
        with tenant_context(provisioned.tenant):
            job_cancel(job=Job.objects.get(pk=job.pk))
        canceled_at = time.monotonic()
        runner.join(120)
        assert not runner.is_alive()
    finally:
        server.close()
    assert ended["job"].status == "canceled"
    assert len([at for at in calls if at >= canceled_at]) <= 1, len(calls)
    assert ended["at"] - canceled_at < 10


@pytest.mark.parametrize("mode", ["analyzers"])
def test_jobs_list_is_paginated(api_a: Api, mode):
    listed = api_a.get("/v1/jobs", limit=1).json()
    assert set(listed) == {"data", "has_more", "next_cursor"}


def _published_call(quarter: str, remarks: str, question: str, answer: str) -> str:
    return json.dumps(
        {
            "prepared_remarks": [{"speaker": "Jane Doe", "speech": remarks}],
            "q_and_a": [
                {"speaker": "Operator", "speech": "Our first question comes from Sam Roe with UBS."},
                {
                    "speaker": "Sam Roe",
                    "speech": f"Good morning. Congrats on the {quarter} quarter. {question}",
                },
                {"speaker": "Jane Doe", "speech": answer},
                {"speaker": "Duration: 31 minutes", "speech": ""},
            ],
            "participants": ["Jane Doe--Chief Financial Officer", "Sam Roe--UBS -- Analyst"],
        }
    )


def test_earnings_job_over_two_published_calls_compares_them(celery_worker, api_a: Api):
    second = _published_call(
        "second",
        "Revenue for the second quarter of 2022 was $500 million. "
        "For the third quarter of 2022, we expect revenue of $520 million to $540 million.",
        "How is pricing holding up?",
        "Pricing held up well across the portfolio this quarter.",
    )
    third = _published_call(
        "third",
        "Revenue for the third quarter of 2022 was $560 million, a record for the third quarter of 2022.",
        "Could you walk us through the inventory correction?",
        "Inventory at our distributors fell by two weeks and should normalise by spring.",
    )
    documents = [ready_document(api_a, third, "acme-q3.json"), ready_document(api_a, second, "acme-q2.json")]
    job = api_a.post("/v1/jobs", {"connector": "earnings", "documents": documents}).json()
    assert wait_job(api_a, job["id"])["status"] == "succeeded"
    result = api_a.get(f"/v1/jobs/{job['id']}/result").json()
    output = result["output"]
    assert {(p["name"], p["title"], p["firm"]) for p in output["participants"]} == {
        ("Jane Doe", "Chief Financial Officer", None),
        ("Sam Roe", "Analyst", "UBS"),
    }
    assert "Duration" not in {s["name"] for s in output["speakers"]}
    assert [q["question"]["span"]["quote"] for q in output["qa"]] == [
        "Could you walk us through the inventory correction?",
        "How is pricing holding up?",
    ]
    comparison = output["comparison"]
    assert comparison["calls"] == [
        {"document_id": documents[1], "period": "Q2 2022"},
        {"document_id": documents[0], "period": "Q3 2022"},
    ]
    outcome = comparison["guidance_outcomes"][0]
    assert (outcome["metric"], outcome["outcome"]) == ("revenue", "beat")
    assert outcome["guided"]["span"]["document_id"] == documents[1]
    assert outcome["reported"]["span"]["quote"] == "$560 million"
    texts = {d: api_a.get(f"/v1/documents/{d}/text").json()["text"] for d in documents}
    assert assert_spans_hold(output, texts) == result["spans_checked"]


def test_an_earnings_job_reads_the_call_period_from_the_file_name_or_the_stated_period(
    celery_worker, api_a: Api
):
    text = "Revenue was $3.1 billion in the quarter, up 12% from a year ago."
    named = ready_document(api_a, text, "ACME_q3_2021.txt")
    stated = api_a.post(
        "/v1/documents",
        {"text": text + " Margins held.", "filename": "call.txt", "metadata": {"period": "Q1 2022"}},
    ).json()["id"]
    wait_for(lambda: api_a.get(f"/v1/documents/{stated}").json()["status"] == "ready", timeout=120)
    periods = {}
    for doc_id in (named, stated):
        job = api_a.post("/v1/jobs", {"connector": "earnings", "documents": [doc_id]}).json()
        assert wait_job(api_a, job["id"])["status"] == "succeeded"
        periods[doc_id] = api_a.get(f"/v1/jobs/{job['id']}/result").json()["output"]["period"]["quarter"]
    assert periods == {named: "Q3 2021", stated: "Q1 2022"}


def test_a_jobs_result_counts_the_spans_moved_onto_their_quotes_and_the_findings_dropped(
    tenant_a, monkeypatch
):
    from connectors.legal.connector import LegalConnector
    from quire.jobs.services import job_run
    from tests.support.portal import stored_document

    text = "This Agreement is governed by the laws of Ontario. Either party may terminate it on notice."
    document = stored_document(tenant_a, "counted-spans.txt", text)
    quote = "governed by the laws of Ontario"
    shifted = text.index(quote) + 3

    def run(self, documents, options, run):
        span = {"document_id": document.id, "start": shifted, "end": shifted + len(quote), "quote": quote}
        lost = {"document_id": document.id, "start": 0, "end": 9, "quote": "a quote nowhere in it"}
        clauses = [{"category": "Governing Law", "span": span}, {"category": "Termination", "span": lost}]
        return {"clauses": clauses, "answers": {}, "risks": []}

    monkeypatch.setattr(LegalConnector, "run", run)
    with tenant_context(tenant_a.tenant):
        job = Job.objects.create(connector="legal", document_ids=[document.id])
        assert job_run(tenant=tenant_a.tenant, job_id=job.pk).status == "succeeded"
        result = JobResult.objects.get(job_id=job.pk)
    assert (result.spans_checked, result.spans_repaired, result.findings_dropped) == (2, 1, 1)
    [kept] = result.output["clauses"]
    assert text[kept["span"]["start"] : kept["span"]["end"]] == quote


def test_a_job_over_a_document_longer_than_a_connector_reads_is_refused_from_2026_12_08(api_a: Api, tenant_a):
    with tenant_context(tenant_a.tenant):
        long = Document.objects.create(
            filename="ledger.txt",
            content_type="text/plain",
            sha256=uuid.uuid4().hex,
            size_bytes=10,
            text="Too long.",
            text_chars=2_118_133,
            status="ready",
        )
    body = {"connector": "legal", "documents": [long.id]}
    refused = api_a.post("/v1/jobs", body)
    error = refused.json()["error"]
    assert refused.status_code == 400 and (error["code"], error["param"]) == (
        "document_too_long",
        "documents.0",
    )
    assert "2,118,133 characters" in error["message"] and "2,000,000" in error["message"]
    queued = api_a.post("/v1/jobs", body, headers={"Quire-Version": "2026-12-07"})
    assert queued.status_code == 202, queued.content
