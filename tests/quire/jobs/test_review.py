"""Review grids and questions through the public API and a real worker: cells cited and verified, the grid
as CSV and XLSX, reviewer corrections, growing a review, metering, and the column checks."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest
from openpyxl import load_workbook

from billing.models import UsageEvent
from quire.jobs import views as job_views
from tests.quire.jobs.test_jobs import assert_spans_hold
from tests.support import Api, ready_document, wait_job
from tests.support.paths import DATA

CONTRACTS = ("cuad_24", "cuad_23", "cuad_04")
OWN_COLUMNS = [
    {"key": "fees", "question": "What fees or payments are due?", "type": "money"},
    {
        "key": "state",
        "question": "Which state's laws govern?",
        "type": "enum",
        "choices": ["Delaware", "New York", "California", "Texas", "Florida", "Tennessee"],
    },
    {"key": "arbitration", "question": "Are disputes settled by arbitration?", "type": "yes_no"},
]


def _shown(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(_shown(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _expected_rows(output: dict) -> list[list[str]]:
    rows = []
    for row in output["rows"]:
        line = [row["document_id"]]
        for column in output["columns"]:
            cell = row["cells"][column["key"]]
            correction = cell.get("correction")
            value = correction["corrected_value"] if correction else cell["value"]
            line.append(_shown(value))
            line.append(cell["status"] if not correction else "corrected")
        rows.append(line)
    return rows


def _parsed(header: list[str], rows: list[list[str]]) -> list[list[str]]:
    """Document id, then each column's value and status (the status "corrected" when a reviewer corrected it)."""
    keys = [name for name in header[2:] if not name.endswith((" citation", " status"))]
    parsed = []
    for row in rows:
        values = dict(zip(header, row, strict=True))
        line = [values["document_id"]]
        for key in keys:
            status = values[f"{key} status"]
            line.extend([values[key], "corrected" if status.startswith("corrected by") else status])
        parsed.append(line)
    return parsed


def watch_cells(api: Api, job_id: str, timeout: float = 300) -> list[dict]:
    """The rows `GET /v1/jobs/{id}/cells` showed while the review was still running and only part of its
    documents were done (the last such answer)."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = api.get(f"/v1/jobs/{job_id}/cells").json()
        if body["complete"] or body["status"] in ("succeeded", "failed", "canceled"):
            return seen
        if 0 < len(body["data"]) < len(CONTRACTS):
            seen = body["data"]
        time.sleep(0.05)
    raise AssertionError(f"review {job_id} did not end within {timeout}s")


@pytest.fixture(scope="module")
def contracts(celery_worker, tenant_a) -> dict[str, str]:
    api = Api(tenant_a.issued_key.secret)
    ids = {}
    for name in CONTRACTS:
        text = (DATA / "cuad" / "contracts" / f"{name}.txt").read_text(encoding="utf-8")
        ids[ready_document(api, text, f"{name}.txt")] = name
    return ids


@pytest.mark.timeout(400)
def test_review_grid_exports_corrections_and_growth(
    api_a: Api, contracts: dict[str, str], tenant_a, monkeypatch
):
    documents = list(contracts)
    created = api_a.post(
        "/v1/jobs",
        {
            "connector": "review",
            "documents": documents,
            "options": {"template": "cuad", "columns": OWN_COLUMNS},
        },
    )
    assert created.status_code == 202, created.content
    job_id = created.json()["id"]
    partial = watch_cells(api_a, job_id)
    assert wait_job(api_a, job_id)["status"] == "succeeded"
    output = api_a.get(f"/v1/jobs/{job_id}/result").json()["output"]
    assert len(output["columns"]) == 41 + len(OWN_COLUMNS) and len(output["rows"]) == 3
    texts = {d: api_a.get(f"/v1/documents/{d}/text").json()["text"] for d in documents}
    assert assert_spans_hold(output, texts) > 0
    assert partial, "no rows were seen before the review ended"
    for row in partial:
        assert row["document_id"] == documents[row["index"]]
        assert row["cells"] == output["rows"][row["index"]]["cells"]
    done = api_a.get(f"/v1/jobs/{job_id}/cells").json()
    assert done["complete"] and [r["document_id"] for r in done["data"]] == documents
    assert done["rows_done"] == 3
    window = api_a.get(f"/v1/jobs/{job_id}/cells", from_index=1, limit=1).json()
    assert [r["index"] for r in window["data"]] == [1] and window["rows_done"] == 3
    assert window["next_from_index"] == 2 and done["next_from_index"] is None
    assert api_a.get(f"/v1/jobs/{job_id}/cells", from_index=1, limit=2).json()["next_from_index"] is None
    assert window["data"][0]["cells"] == output["rows"][1]["cells"]
    assert [r["index"] for r in api_a.get(f"/v1/jobs/{job_id}/cells", from_index=1).json()["data"]] == [1, 2]
    monkeypatch.setattr(job_views, "CELLS_PAGE", 2)
    paged = api_a.get(f"/v1/jobs/{job_id}/cells").json()
    assert [r["index"] for r in paged["data"]] == [0, 1] and paged["next_from_index"] == 2
    whole = api_a.get(f"/v1/jobs/{job_id}/cells", headers={"Quire-Version": "2026-12-05"}).json()
    assert [r["index"] for r in whole["data"]] == [0, 1, 2] and whole["next_from_index"] is None
    for bad in ({"limit": 0}, {"limit": 1001}, {"from_index": -1}, {"from_index": "x"}):
        refused = api_a.get(f"/v1/jobs/{job_id}/cells", **bad)
        assert refused.status_code == 400 and refused.json()["error"]["param"] == next(iter(bad)), bad
    assert api_a.get(f"/v1/jobs/{job_id}/cells").json()["columns"] == output["columns"]
    statuses = [cell["status"] for row in output["rows"] for cell in row["cells"].values()]
    assert {"answered", "not_found"} <= set(statuses)
    for row in output["rows"]:
        for cell in row["cells"].values():
            assert cell["status"] != "answered" or cell["spans"], cell
    laws = {row["document_id"]: row["cells"]["governing_law"]["value"] for row in output["rows"]}
    assert all(laws.values()), laws

    first = output["rows"][0]["document_id"]
    corrected = api_a.post(
        f"/v1/jobs/{job_id}/cells", {"document": first, "key": "governing_law", "corrected_value": "Ontario"}
    )
    assert corrected.status_code == 200, corrected.content
    assert corrected.json()["by"].startswith("api_key:key_") and corrected.json()["at"]
    missing = api_a.post(f"/v1/jobs/{job_id}/cells", {"document": first, "key": "nope", "verified": True})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "key"
    output = api_a.get(f"/v1/jobs/{job_id}/result").json()["output"]
    cell = output["rows"][0]["cells"]["governing_law"]
    assert cell["value"] == laws[first] and cell["correction"]["corrected_value"] == "Ontario"

    exported = api_a.get(f"/v1/jobs/{job_id}/result.csv")
    assert exported.status_code == 200 and exported["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode("utf-8-sig"))))
    assert _parsed(table[0], table[1:]) == _expected_rows(output)
    assert f"{first}" in table[1][0] and "Ontario" in table[1]
    workbook = api_a.get(f"/v1/jobs/{job_id}/result.xlsx")
    assert workbook.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(workbook.streaming_content)), read_only=True).active
    cells = [
        ["" if value is None else str(value) for value in row] for row in sheet.iter_rows(values_only=True)
    ]
    assert _parsed(cells[0], cells[1:]) == _expected_rows(output)
    assert any(value.startswith('"') or value.startswith("p.") for value in cells[1] if value)
    assert corrected.json()["corrected"] is True
    to_null = api_a.post(
        f"/v1/jobs/{job_id}/cells", {"document": first, "key": "state", "corrected_value": None}
    ).json()
    checked = api_a.post(
        f"/v1/jobs/{job_id}/cells", {"document": first, "key": "arbitration", "verified": True}
    ).json()
    assert (to_null["corrected"], to_null["corrected_value"], to_null["verified"]) == (True, None, True)
    assert (checked["corrected"], checked["corrected_value"], checked["verified"]) == (False, None, True)

    grown = api_a.post(
        "/v1/jobs",
        {
            "connector": "review",
            "documents": documents,
            "options": {
                "template": "cuad",
                "columns": [
                    *OWN_COLUMNS,
                    {"key": "term", "question": "How long is the initial term?", "type": "duration"},
                ],
                "extends": job_id,
            },
        },
    )
    assert grown.status_code == 202, grown.content
    grown_id = grown.json()["id"]
    assert wait_job(api_a, grown_id)["status"] == "succeeded"
    again = api_a.get(f"/v1/jobs/{grown_id}/result").json()["output"]
    assert again["cells"] == {"total": 3 * 45, "computed": 3, "reused": 3 * 44}
    kept = again["rows"][0]["cells"]["governing_law"]
    assert kept["correction"]["corrected_value"] == "Ontario" and kept["value"] == laws[first]
    assert_spans_hold(again, texts)
    used = dict(
        UsageEvent.objects.filter(job_id__in=[job_id, grown_id], kind="review_cells").values_list(
            "job_id", "quantity"
        )
    )
    assert used == {job_id: 3 * 44, grown_id: 3}

    bad = api_a.post(
        "/v1/jobs",
        {
            "connector": "review",
            "documents": documents,
            "options": {"template": "cuad", "extends": "job_nope"},
        },
    )
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "options.extends"


def test_ask_answers_in_cited_sentences(api_a: Api, contracts: dict[str, str]):
    documents = list(contracts)
    job_id = api_a.post(
        "/v1/jobs",
        {
            "connector": "ask",
            "documents": documents,
            "options": {"question": "Which law governs the agreement?"},
        },
    ).json()["id"]
    assert wait_job(api_a, job_id)["status"] == "succeeded"
    output = api_a.get(f"/v1/jobs/{job_id}/result").json()["output"]
    assert output["answer"] and all(sentence["spans"] for sentence in output["answer"])
    assert "law" in output["answer"][0]["text"].lower()
    texts = {d: api_a.get(f"/v1/documents/{d}/text").json()["text"] for d in documents}
    assert assert_spans_hold(output, texts) >= len(output["answer"])
    assert api_a.get(f"/v1/jobs/{job_id}/result.csv").status_code == 400


@pytest.mark.parametrize(
    ("columns", "param"),
    [
        ([{"key": "a", "question": "Q?", "type": "colour"}], "options.columns.0.type"),
        ([{"key": f"c{i}", "question": "Q?", "type": "text"} for i in range(51)], "options.columns"),
        (
            [{"key": "a", "question": "Q?"}, {"key": "b", "question": "  ", "type": "text"}],
            "options.columns.1.question",
        ),
        ([{"key": "a", "question": "Which?", "type": "enum"}], "options.columns.0.choices"),
        (
            [{"key": "a", "question": "Which?", "type": "enum", "choices": ["Yes", "No", "yes"]}],
            "options.columns.0.choices.2",
        ),
        (
            [{"key": "a", "question": "Which?", "type": "enum", "choices": ["A", "B" * 201]}],
            "options.columns.0.choices.1",
        ),
    ],
    ids=[
        "unknown-type",
        "51-columns",
        "empty-question",
        "enum-without-choices",
        "enum-choice-twice",
        "enum-choice-over-long",
    ],
)
def test_bad_columns_are_400s_naming_the_param(api_a: Api, contracts: dict[str, str], columns, param):
    response = api_a.post(
        "/v1/jobs", {"connector": "review", "documents": list(contracts)[:1], "options": {"columns": columns}}
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_options" and error["param"] == param


def test_exports_and_corrections_are_in_the_openapi_schema(anonymous: Api):
    paths = anonymous.get("/v1/openapi.json").json()["paths"]
    assert "text/csv" in paths["/v1/jobs/{job_id}/result.csv"]["get"]["responses"]["200"]["content"]
    xlsx = paths["/v1/jobs/{job_id}/result.xlsx"]["get"]["responses"]["200"]["content"]
    assert "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" in xlsx
    assert "post" in paths["/v1/jobs/{job_id}/cells"]
    listed = paths["/v1/jobs/{job_id}/cells"]["get"]
    assert listed["operationId"] == "jobs_cells_list" and "200" in listed["responses"]


def test_xlsx_cuts_a_value_past_excels_cell_limit():
    from quire.jobs.review import XLSX_CELL_CHARS, XLSX_CUT, xlsx_file

    long_value = "=" + "x" * 40_000
    sheet = load_workbook(xlsx_file(iter([["value"], [long_value], ["short"]])), read_only=True).active
    cells = [row[0] for row in sheet.iter_rows(values_only=True)]
    assert len(cells[1]) == XLSX_CELL_CHARS and cells[1].endswith(XLSX_CUT)
    assert cells[1].startswith("'=xxx") and cells[2] == "short"


def test_xlsx_counts_excels_cell_limit_in_utf16_units():
    from quire.jobs.review import XLSX_CELL_CHARS, XLSX_CUT, xlsx_file

    def units(text: str) -> int:
        return len(text.encode("utf-16-le")) // 2

    wide = "\U0001f600" * 20_000
    mixed = "a" + "\U00029e3d" * 16_384
    sheet = load_workbook(xlsx_file(iter([["value"], [wide], [mixed]])), read_only=True).active
    cells = [row[0] for row in sheet.iter_rows(values_only=True)]
    for cell in cells[1:]:
        assert units(cell) <= XLSX_CELL_CHARS and cell.endswith(XLSX_CUT), units(cell)
    assert cells[1].startswith("\U0001f600" * 100)
    assert XLSX_CELL_CHARS - 1 <= units(cells[2]) <= XLSX_CELL_CHARS


def test_the_openapi_schema_names_what_results_usage_events_and_replays_answer(anonymous: Api):
    paths = anonymous.get("/v1/openapi.json").json()["paths"]
    for suffix in ("", ".csv", ".xlsx"):
        assert {"400", "409"} <= set(paths[f"/v1/jobs/{{job_id}}/result{suffix}"]["get"]["responses"]), suffix
    usage = {p["name"]: p for p in paths["/v1/usage"]["get"]["parameters"]}
    assert {"from", "to", "group_by"} <= set(usage) and usage["group_by"]["schema"]["enum"] == ["day", "kind"]
    events = {p["name"]: p for p in paths["/v1/events"]["get"]["parameters"]}
    assert "job.succeeded" in events["type"]["schema"]["enum"]
    replay = paths["/v1/events/{event_id}/replay"]["post"]["responses"]["202"]["content"]["application/json"]
    assert replay["schema"]["$ref"].endswith("/DeliveryReplayList")
    document = paths["/v1/documents/{document_id}"]["get"]
    version = next(p for p in document["parameters"] if p["name"] == "Quire-Version")
    assert version["in"] == "header" and "2026-12-06" in version["schema"]["enum"]
    assert "400" in document["responses"]


def test_a_review_canceled_while_a_row_is_read_keeps_no_rows(api_a: Api, tenant_a, monkeypatch):
    import uuid

    from django_tenants.utils import tenant_context

    from quire.documents import services as documents
    from quire.jobs import services as jobs
    from quire.jobs.models import Job, ReviewRow

    unique = uuid.uuid4().hex
    monkeypatch.setattr(
        documents, "chunk_embedder", lambda: (lambda texts: [[0.1] * 384 for _ in texts], "fake-encoder")
    )
    # This test runs the ingest and the job itself: no task goes to the broker for a later test's worker to take.
    monkeypatch.setattr(documents, "task_send_or_mark", lambda *args, **kwargs: None)
    monkeypatch.setattr(jobs, "task_send_or_mark", lambda *args, **kwargs: None)
    ids = []
    for i in range(2):
        created = api_a.post(
            "/v1/documents",
            {"text": f"Agreement {i} {unique}. This agreement is governed by the laws of Delaware."},
        ).json()
        with tenant_context(tenant_a.tenant):
            documents.document_ingest(tenant=tenant_a.tenant, document_id=created["id"])
        ids.append(created["id"])
    job = api_a.post(
        "/v1/jobs",
        {
            "connector": "review",
            "documents": ids,
            "options": {"columns": [{"key": "law", "question": "Which law governs?", "type": "text"}]},
        },
    )
    assert job.status_code == 202, job.content
    job_id = job.json()["id"]
    store = jobs._ReviewRows.__call__

    def canceled_then_stored(self, index, row):
        if index == 0:
            jobs.job_cancel(job=Job.objects.get(pk=job_id))
        return store(self, index, row)

    monkeypatch.setattr(jobs._ReviewRows, "__call__", canceled_then_stored)
    with tenant_context(tenant_a.tenant):
        finished = jobs.job_run(tenant=tenant_a.tenant, job_id=job_id)
        assert finished.status == "canceled"
        assert not ReviewRow.objects.filter(job_id=job_id).exists()


def test_each_export_answers_a_client_asking_for_its_own_media_type(api_a: Api, tenant_a):
    from django_tenants.utils import tenant_context

    from quire.jobs.models import Job, JobResult, JobStatus
    from quire.jobs.review import XLSX_CONTENT_TYPE

    columns = [{"key": "law", "question": "Which law governs?", "type": "text"}]
    cell = {
        "value": "Delaware",
        "normalised": "Delaware",
        "spans": [],
        "confidence": 0.9,
        "status": "answered",
    }
    with tenant_context(tenant_a.tenant):
        job = Job.objects.create(
            connector="review",
            document_ids=["doc_a"],
            options={"columns": columns},
            status=JobStatus.SUCCEEDED,
        )
        output = {
            "connector": "review",
            "columns": columns,
            "rows": [{"document_id": "doc_a", "cells": {"law": cell}}],
        }
        JobResult.objects.create(job=job, output=output, context={}, attempt=1)
    for export, media_type in (("result.csv", "text/csv"), ("result.xlsx", XLSX_CONTENT_TYPE)):
        for accept in (media_type, f"{media_type}, application/json;q=0.5", "*/*"):
            answer = api_a.get(f"/v1/jobs/{job.id}/{export}", headers={"Accept": accept})
            assert answer.status_code == 200, (export, accept, answer.status_code)
            assert answer["Content-Type"].startswith(media_type)
        missing = api_a.get(f"/v1/jobs/job_nope/{export}", headers={"Accept": media_type})
        assert missing.status_code == 404 and missing.json()["error"]["param"] == "job_id"
        assert api_a.get(f"/v1/jobs/{job.id}/{export}", headers={"Accept": "image/png"}).status_code == 406


def test_the_cells_of_a_queued_review_whose_options_a_later_release_refuses_are_read(api_a: Api, tenant_a):
    """A review queued before its options were checked more strictly (an enum choice given twice) still shows its
    columns while it waits, rather than the cells request failing."""
    from django_tenants.utils import tenant_context

    from quire.jobs.models import Job

    columns = [{"key": "law", "question": "Which law?", "type": "enum", "choices": ["Delaware", "delaware"]}]
    with tenant_context(tenant_a.tenant):
        job = Job.objects.create(connector="review", document_ids=["doc_a"], options={"columns": columns})
    try:
        answer = api_a.get(f"/v1/jobs/{job.id}/cells")
        assert answer.status_code == 200, answer.content
        body = answer.json()
        assert (body["complete"], body["data"], body["columns"]) == (False, [], columns)
    finally:
        with tenant_context(tenant_a.tenant):
            Job.objects.filter(pk=job.id).delete()
