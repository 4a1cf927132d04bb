"""Reviewers teach custom clause types in the portal: a legal job's custom clause findings are answered on its
page (the page shows how each is held), and a passage a head missed is selected on its document's page; the
answers become examples and counter-examples, and the clause type trains again."""

from __future__ import annotations

import json

from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from quire.clauses.models import ClauseType, ClauseTypeStatus
from tests.support.browser import serious_violations, shot, sign_in
from tests.support.clauses import review_that_ran
from tests.support.paths import DATA
from tests.support.portal import job_with_result, signed_in, stored_document

FIXTURE = json.loads((DATA / "custom_clauses" / "force_majeure.json").read_text(encoding="utf-8"))
EXCUSED = "Neither party is liable for delay caused by flood, fire or war."
INVOICES = "Invoices are payable within thirty days of receipt."
AUDIT = "The Supplier may audit the records once a year."
TEXT = f"{EXCUSED}\n\n{INVOICES}\n\n{AUDIT}"


def _ready_clause_type(workspace, key: str, name: str = "Force Majeure", **fields) -> ClauseType:
    fields.setdefault("examples", FIXTURE["examples"])
    with tenant_context(workspace.tenant):
        return ClauseType.objects.create(key=key, name=name, status=ClauseTypeStatus.READY, **fields)


def _found(document_id: str, passage: str, key: str, name: str, confidence: float) -> dict:
    start = TEXT.index(passage)
    span = {"document_id": document_id, "start": start, "end": start + len(passage), "quote": passage}
    return {"category": name, "clause_type": key, "name": name, "confidence": confidence, "span": span}


def _job_that_ran(
    workspace, key: str, filename: str, found: list[tuple[str, float]], **others
) -> tuple[str, str]:
    """A succeeded legal job that ran clause type `key` (its options name it) over `TEXT`, finding each
    (passage, confidence) of `found` for it, and `others` (`{key: [(passage, confidence)]}`) for other types;
    returns the job's and its document's ids."""
    from quire.jobs.models import Job

    def output(document_id: str) -> dict:
        findings = [
            _found(document_id, passage, type_key, "Force Majeure", confidence)
            for type_key, pairs in ((key, found), *others.items())
            for passage, confidence in pairs
        ]
        return {"clauses": [], "custom_clauses": findings}

    job_id = job_with_result(workspace, connector="legal", filename=filename, text=TEXT, output=output)
    with tenant_context(workspace.tenant):
        Job.objects.filter(pk=job_id).update(options={"clause_types": [key]})
        return job_id, Job.objects.get(pk=job_id).document_ids[0]


def _finding_item(
    job_id: str, document_id: str, passage: str, score: float, connector: str = "legal"
) -> dict:
    """A finding as `GET /v1/clause_types/{id}/passages_to_check` lists it."""
    start = TEXT.index(passage)
    return {
        "source": "finding",
        "job": job_id,
        "connector": connector,
        "document": document_id,
        "start": start,
        "end": start + len(passage),
        "text": passage,
        "score": score,
        "correction": None,
        "suggested": None,
    }


def _legal_job(workspace) -> str:
    def output(document_id: str) -> dict:
        return {
            "clauses": [],
            "custom_clauses": [
                _found(document_id, EXCUSED, "job_force_majeure", "Force Majeure", 0.91),
                _found(document_id, INVOICES, "job_force_majeure", "Force Majeure", 0.74),
                _found(document_id, AUDIT, "gone_type", "Audit Rights", 0.8),
            ],
        }

    return job_with_result(
        workspace, connector="legal", filename="clause-answers-msa.txt", text=TEXT, output=output
    )


def test_custom_clause_findings_are_answered_on_the_job_page(workspace, trainings_queued):
    clause_type = _ready_clause_type(
        workspace, "job_force_majeure", counter_examples=FIXTURE["counter_examples"]
    )
    job_id = _legal_job(workspace)
    developer, viewer = signed_in(workspace, "developer"), signed_in(workspace, "viewer")

    page = developer.get(f"/jobs/{job_id}").content.decode()
    assert "Custom clause findings" in page and page.count('type="radio"') == 6
    assert f'href="/clause-types/{clause_type.pk}"' in page and "Audit Rights (clause type deleted)" in page
    assert 'name="finding-1" value="" checked' in page
    shown_to_viewer = viewer.get(f"/jobs/{job_id}").content.decode()
    assert "Custom clause findings" in shown_to_viewer and 'type="radio"' not in shown_to_viewer
    assert viewer.post(f"/jobs/{job_id}/clause-answers", {"finding-1": "clause"}).status_code == 403

    nothing = developer.post(f"/jobs/{job_id}/clause-answers", {"finding-1": ""}, follow=True)
    assert "Mark at least one finding" in nothing.content.decode()
    answered = developer.post(
        f"/jobs/{job_id}/clause-answers", {"finding-1": "clause", "finding-2": "not", "finding-3": "clause"}
    )
    assert answered.status_code == 302 and answered["Location"] == f"/jobs/{job_id}#clause-checks"
    with tenant_context(workspace.tenant):
        clause_type.refresh_from_db()
    assert clause_type.examples[-1] == EXCUSED and clause_type.counter_examples[-1] == INVOICES
    assert (clause_type.version, clause_type.status) == (2, ClauseTypeStatus.QUEUED)
    assert trainings_queued == [clause_type.pk]

    after = developer.get(f"/jobs/{job_id}").content.decode()
    assert "Training Force Majeure again on 13 examples and 4 counter-examples." in after
    assert 'name="finding-1" value="clause" checked' in after and "· an example" in after
    assert 'name="finding-2" value="not" checked' in after and "· a counter-example" in after

    same = developer.post(
        f"/jobs/{job_id}/clause-answers", {"finding-1": "clause", "finding-2": "not"}, follow=True
    )
    assert "Force Majeure already holds these answers; nothing to train." in same.content.decode()
    changed = developer.post(f"/jobs/{job_id}/clause-answers", {"finding-2": "clause"}, follow=True)
    assert "Training Force Majeure again on 14 examples and 3 counter-examples." in changed.content.decode()
    with tenant_context(workspace.tenant):
        clause_type.refresh_from_db()
    assert INVOICES in clause_type.examples and INVOICES not in clause_type.counter_examples
    assert len(clause_type.counter_examples) == len(FIXTURE["counter_examples"])
    assert clause_type.version == 3

    stale = {"finding-1": "clause", "shown-1": "clause", "finding-2": "not", "shown-2": "not"}
    developer.post(f"/jobs/{job_id}/clause-answers", stale)
    with tenant_context(workspace.tenant):
        clause_type.refresh_from_db()
    assert INVOICES in clause_type.examples and clause_type.version == 3, "a page drawn before the change"


def test_in_the_browser_a_finding_is_answered_and_the_page_passes_axe(
    portal_server, workspace, browser_page, artifacts
):
    clause_type = _ready_clause_type(workspace, "browser_force_majeure")

    def output(document_id: str) -> dict:
        found = _found(document_id, INVOICES, "browser_force_majeure", "Force Majeure", 0.74)
        return {"clauses": [], "custom_clauses": [found]}

    job_id = job_with_result(
        workspace, connector="legal", filename="clause-answers-browser.txt", text=TEXT, output=output
    )
    sign_in(browser_page, portal_server, workspace, "developer")
    browser_page.goto(portal_server.url(workspace, f"/jobs/{job_id}"))
    checks = browser_page.get_by_role("region", name="Custom clause findings")
    checks.get_by_role("group", name="Is finding 1 Force Majeure?").get_by_label("Is not").check()
    assert not serious_violations(browser_page)
    checks.get_by_role("button", name="Save answers and train again").click()
    expect(
        browser_page.get_by_text("Training Force Majeure again on 12 examples and 1 counter-example.")
    ).to_be_visible()
    expect(checks.get_by_text("a counter-example")).to_be_visible()
    shot(browser_page, artifacts, "job-clause-answers")
    with tenant_context(workspace.tenant):
        clause_type.refresh_from_db()
    assert clause_type.counter_examples == [INVOICES] and clause_type.version == 2


def test_a_job_with_many_custom_clause_findings_shows_the_unanswered_first(workspace, monkeypatch):
    from quire.portal.views import jobs

    monkeypatch.setattr(jobs, "CLAUSE_CHECKS_SHOWN", 2)
    _ready_clause_type(workspace, "many_force_majeure", examples=[*FIXTURE["examples"], EXCUSED])

    def output(document_id: str) -> dict:
        found = [
            _found(document_id, p, "many_force_majeure", "Force Majeure", 0.8)
            for p in (EXCUSED, INVOICES, AUDIT)
        ]
        return {"clauses": [], "custom_clauses": found}

    job_id = job_with_result(
        workspace, connector="legal", filename="clause-answers-many.txt", text=TEXT, output=output
    )
    page = signed_in(workspace, "developer").get(f"/jobs/{job_id}").content.decode()
    assert "The first 2 of 3 findings, those not answered yet first" in page
    assert 'name="finding-2"' in page and 'name="finding-3"' in page and 'name="finding-1"' not in page


def test_a_passage_of_a_document_is_added_as_an_example_from_its_page(workspace):
    clause_type = _ready_clause_type(workspace, "document_force_majeure")
    document = stored_document(workspace, "clause-answers-document.txt", TEXT)
    developer, viewer = signed_in(workspace, "developer"), signed_in(workspace, "viewer")
    page = developer.get(f"/documents/{document.pk}").content.decode()
    assert "Teach a clause type" in page and f'<option value="{clause_type.pk}">Force Majeure' in page
    assert "Teach a clause type" not in viewer.get(f"/documents/{document.pk}").content.decode()
    url = f"/documents/{document.pk}/clause-example"
    assert viewer.post(url, {"clause_type": clause_type.pk, "passage": EXCUSED}).status_code == 403

    elsewhere = developer.post(url, {"clause_type": clause_type.pk, "passage": "Not in it.", "answer": "not"})
    assert elsewhere.status_code == 400
    shown = elsewhere.content.decode()
    assert "The passage must be text of this document" in shown
    assert ">Not in it.</textarea>" in shown and f'<option value="{clause_type.pk}" selected>' in shown
    assert 'value="not" checked' in shown
    wrapped = EXCUSED.replace(" caused by ", "\n  caused by ")
    added = developer.post(url, {"clause_type": clause_type.pk, "passage": wrapped, "answer": "clause"})
    assert added.status_code == 302 and added["Location"] == f"/documents/{document.pk}#teach-heading"
    refused = developer.post(
        url, {"clause_type": clause_type.pk, "passage": INVOICES, "answer": "not"}, follow=True
    )
    assert "Training Force Majeure again on 13 examples and 1 counter-example." in refused.content.decode()
    with tenant_context(workspace.tenant):
        clause_type.refresh_from_db()
    assert clause_type.examples[-1] == EXCUSED and clause_type.counter_examples == [INVOICES]
    assert clause_type.version == 3
    assert developer.post(url, {"clause_type": "cla_missing", "passage": EXCUSED}).status_code == 404


def test_in_the_browser_a_selected_passage_becomes_an_example(
    portal_server, workspace, browser_page, artifacts
):
    clause_type = _ready_clause_type(workspace, "selected_force_majeure", "Selected Force Majeure")
    document = stored_document(workspace, "clause-answers-selected.txt", TEXT)
    sign_in(browser_page, portal_server, workspace, "developer")
    browser_page.goto(portal_server.url(workspace, f"/documents/{document.pk}"))
    teach = browser_page.get_by_role("region", name="Teach a clause type")
    teach.get_by_label("Clause type").select_option(clause_type.pk)
    text = browser_page.locator("pre.doc-text")
    text.evaluate(
        """(pre, passage) => {
            const node = pre.firstChild, start = node.textContent.indexOf(passage);
            const range = document.createRange();
            range.setStart(node, start);
            range.setEnd(node, start + passage.length);
            window.getSelection().removeAllRanges();
            window.getSelection().addRange(range);
            pre.dispatchEvent(new MouseEvent("mouseup", {bubbles: true}));
        }""",
        EXCUSED,
    )
    expect(teach.get_by_label("Passage")).to_have_value(EXCUSED)
    assert not serious_violations(browser_page)
    teach.get_by_role("button", name="Add and train again").click()
    expect(browser_page.get_by_text("Training Selected Force Majeure again on 13 examples.")).to_be_visible()
    shot(browser_page, artifacts, "document-teach-clause")
    with tenant_context(workspace.tenant):
        clause_type.refresh_from_db()
    assert clause_type.examples[-1] == EXCUSED and clause_type.version == 2


def test_the_clause_type_page_lists_the_jobs_with_findings_to_answer(workspace):
    from quire.jobs.models import Job

    clause_type = _ready_clause_type(
        workspace, "listed_force_majeure", examples=[*FIXTURE["examples"], EXCUSED]
    )

    def output(document_id: str) -> dict:
        found = [
            _found(document_id, p, "listed_force_majeure", "Force Majeure", 0.8) for p in (EXCUSED, AUDIT)
        ]
        return {"clauses": [], "custom_clauses": found}

    named = job_with_result(
        workspace, connector="legal", filename="clause-answers-listed.txt", text=TEXT, output=output
    )
    unnamed = job_with_result(workspace, connector="legal", filename="clause-answers-other.txt", text=TEXT)
    with tenant_context(workspace.tenant):
        Job.objects.filter(pk=named).update(options={"clause_types": ["listed_force_majeure"]})
    developer = signed_in(workspace, "developer")
    page = developer.get(f"/clause-types/{clause_type.pk}").content.decode()
    assert "Findings to answer in jobs" in page
    assert f'href="/jobs/{named}#clause-checks"><code>{named}</code></a>: 1 finding to answer' in page
    assert unnamed not in page
    assert (
        "Findings to answer in jobs"
        not in signed_in(workspace, "viewer").get(f"/clause-types/{clause_type.pk}").content.decode()
    )
    developer.post(f"/jobs/{named}/clause-answers", {"finding-2": "not"})
    assert (
        "Findings to answer in jobs" not in developer.get(f"/clause-types/{clause_type.pk}").content.decode()
    )


def test_the_clause_type_page_asks_about_its_latest_findings_beside_its_near_misses(
    workspace, trainings_queued
):
    near = [
        {
            "document": "doc_x",
            "start": 20 * n,
            "end": 20 * n + 19,
            "text": f"Near miss number {n}.",
            "score": 0.6,
        }
        for n in range(11)
    ]
    near[0] = {**near[0], "text": AUDIT}
    clause_type = _ready_clause_type(
        workspace,
        "checked_findings",
        examples=[*FIXTURE["examples"], EXCUSED],
        counter_examples=[],
        near_misses=near,
    )

    job_id, document_id = _job_that_ran(
        workspace,
        "checked_findings",
        "clause-answers-checked.txt",
        [(EXCUSED, 0.95), (AUDIT, 0.71), (INVOICES, 0.83)],
        other_type=[(AUDIT, 0.9)],
    )
    developer = signed_in(workspace, "developer")
    page = developer.get(f"/clause-types/{clause_type.pk}").content.decode()
    assert "Passages to check" in page and page.count('type="radio"') == 30
    assert page.index(INVOICES) < page.index(AUDIT) < page.index("Near miss number 1.")
    assert page.count(AUDIT) == 1 and 'name="passage-0"' not in page
    assert "Near miss number 8." in page and "Near miss number 9." not in page
    assert f'href="/jobs/{job_id}#clause-checks"' in page

    def ref(passage: str) -> str:
        start = TEXT.index(passage)
        return f"{job_id}:{document_id}:{start}:{start + len(passage)}"

    forged = f"{job_id}:{document_id}:0:{len(TEXT)}"
    answered = developer.post(
        f"/clause-types/{clause_type.pk}/label",
        {
            "version": "1",
            "finding-0-ref": ref(INVOICES),
            "finding-0": "not",
            "finding-1-ref": forged,
            "finding-1": "clause",
            "finding-2-ref": f"job_other:{document_id}:0:5",
            "finding-2": "clause",
            "passage-2": "clause",
            "passage-2-ref": "doc_x:40:59",
        },
        follow=True,
    )
    assert "again on 14 examples and 1 counter-example." in answered.content.decode()
    with tenant_context(workspace.tenant):
        clause_type.refresh_from_db()
    assert clause_type.counter_examples == [INVOICES] and TEXT not in clause_type.examples
    assert clause_type.examples[-1] == "Near miss number 2."
    assert (clause_type.version, len(clause_type.examples)) == (2, 14)
    assert trainings_queued == [clause_type.pk]
    queued = developer.get(f"/clause-types/{clause_type.pk}").content.decode()
    assert queued.count('type="radio"') == 3 and "Finding 1" in queued and "Near miss 1" not in queued
    assert 'name="version" value="2"' in queued

    with tenant_context(workspace.tenant):
        ClauseType.objects.filter(pk=clause_type.pk).update(status=ClauseTypeStatus.READY)
    page = developer.get(f"/clause-types/{clause_type.pk}").content.decode()
    assert page.count('type="radio"') == 30 and "Near miss number 9." in page
    assert AUDIT in page and INVOICES not in page.split("Examples (")[0]


def test_in_the_browser_a_finding_and_a_near_miss_are_answered_on_the_clause_types_page(
    portal_server, workspace, browser_page, artifacts
):
    from quire.jobs.models import Job

    near = [{"document": "doc_x", "start": 0, "end": 20, "text": AUDIT, "score": 0.66}]
    clause_type = _ready_clause_type(workspace, "browser_checked", near_misses=near)

    def output(document_id: str) -> dict:
        found = _found(document_id, INVOICES, "browser_checked", "Force Majeure", 0.74)
        return {"clauses": [], "custom_clauses": [found]}

    job_id = job_with_result(
        workspace, connector="legal", filename="clause-answers-checked-browser.txt", text=TEXT, output=output
    )
    with tenant_context(workspace.tenant):
        Job.objects.filter(pk=job_id).update(options={"clause_types": ["browser_checked"]})
    sign_in(browser_page, portal_server, workspace, "developer")
    browser_page.goto(portal_server.url(workspace, f"/clause-types/{clause_type.pk}"))
    checks = browser_page.get_by_role("region", name="Passages to check")
    checks.get_by_role("group", name="Finding 1").get_by_label("Is not").check()
    checks.get_by_role("group", name="Near miss 1").get_by_label("Is this clause").check()
    assert not serious_violations(browser_page)
    shot(browser_page, artifacts, "clause-type-findings-to-check")
    checks.get_by_role("button", name="Add the answers and train again").click()
    expect(
        browser_page.get_by_text("Training Force Majeure again on 13 examples and 1 counter-example.")
    ).to_be_visible()
    with tenant_context(workspace.tenant):
        clause_type.refresh_from_db()
    assert clause_type.counter_examples == [INVOICES] and clause_type.examples[-1] == AUDIT


def test_the_api_lists_the_passages_to_check_that_the_page_asks_about(workspace):
    from tenants.services import api_key_issue
    from tests.support import Api

    near = [
        {"document": "doc_x", "start": 0, "end": 20, "text": f"Near miss {n}.", "score": 0.6}
        for n in range(10)
    ]
    near[1] = {**near[1], "text": f"  {AUDIT}"}
    clause_type = _ready_clause_type(
        workspace, "api_to_check", examples=[*FIXTURE["examples"], EXCUSED], near_misses=near
    )

    job_id, document_id = _job_that_ran(
        workspace,
        "api_to_check",
        "clause-answers-api.txt",
        [(EXCUSED, 0.95), (AUDIT, 0.71), (INVOICES, 0.83)],
    )
    api = Api(api_key_issue(tenant=workspace.tenant, name="to check", role="viewer").secret)
    listed = api.get(f"/v1/clause_types/{clause_type.pk}/passages_to_check")
    assert listed.status_code == 200, listed.content
    body = listed.json()
    assert body["object"] == "list" and body["clause_type_id"] == clause_type.pk
    assert body["data"][0] == _finding_item(job_id, document_id, INVOICES, 0.83)
    assert [p["text"] for p in body["data"]] == [
        INVOICES,
        AUDIT,
        *(f"Near miss {n}." for n in (0, *range(2, 9))),
    ]
    assert body["data"][2] == {
        "source": "near_miss",
        "job": None,
        "connector": None,
        "document": "doc_x",
        "start": 0,
        "end": 20,
        "text": "Near miss 0.",
        "score": 0.6,
        "correction": None,
        "suggested": None,
    }
    page = signed_in(workspace, "developer").get(f"/clause-types/{clause_type.pk}").content.decode()
    assert [text for text in (p["text"] for p in body["data"]) if text in page] == [
        p["text"] for p in body["data"]
    ]
    assert api.get("/v1/clause_types/cla_missing/passages_to_check").status_code == 404
    with tenant_context(workspace.tenant):
        type(clause_type).objects.filter(pk=clause_type.pk).update(status="training")
    training = api.get(f"/v1/clause_types/{clause_type.pk}/passages_to_check").json()["data"]
    assert [(p["source"], p["text"]) for p in training] == [("finding", INVOICES), ("finding", AUDIT)]


def test_a_reviews_clause_column_findings_are_asked_about_and_only_they_can_be_answered(workspace):
    from quire.jobs.models import Job
    from quire.jobs.services import cell_correct
    from tenants.services import api_key_issue
    from tests.support import Api

    clause_type = _ready_clause_type(
        workspace, "review_checked", examples=[*FIXTURE["examples"], EXCUSED], counter_examples=[]
    )
    columns = [
        {"key": "fm", "question": "Force majeure?", "type": "clause", "clause_type": "review_checked"},
        {"key": "fm_again", "question": "Again?", "type": "clause", "clause_type": "review_checked"},
        {"key": "audit", "question": "Audit?", "type": "clause", "clause_type": "other_type"},
        {"key": "notes", "question": "Notes?", "type": "text"},
        {"key": "fm_missing", "question": "Missing?", "type": "clause", "clause_type": "review_checked"},
    ]

    job_id, document_id = review_that_ran(
        workspace,
        "clause-answers-review.txt",
        TEXT,
        columns,
        {"fm": (EXCUSED, 0.92), "fm_again": (INVOICES, 0.64), "audit": (AUDIT, 0.97), "notes": (AUDIT, 0.9)},
    )

    api = Api(api_key_issue(tenant=workspace.tenant, name="review checks", role="viewer").secret)
    assert api.get(f"/v1/clause_types/{clause_type.pk}/passages_to_check").json()["data"] == [
        _finding_item(job_id, document_id, INVOICES, 0.64, connector="review")
    ]
    start = TEXT.index(INVOICES)
    developer = signed_in(workspace, "developer")
    page = developer.get(f"/clause-types/{clause_type.pk}").content.decode()
    assert page.count('type="radio"') == 3 and AUDIT not in page
    assert f'Found by the review <a href="/jobs/{job_id}"><code>' in page
    assert f'Review <a href="/jobs/{job_id}"><code>{job_id}</code></a>: 1 finding to answer' in page
    assert 'name="finding-0" value="" checked' in page and "In the review," not in page
    panel = developer.get(f"/reviews/{job_id}/cell", {"document": document_id, "key": "fm_again"})
    assert f'Answered by the clause type <a href="/clause-types/{clause_type.pk}">Force Majeure</a>' in (
        panel.content.decode()
    )
    notes = developer.get(f"/reviews/{job_id}/cell", {"document": document_id, "key": "notes"})
    assert "data-clause-type" not in notes.content.decode()

    def word_in_grid(**word) -> tuple[dict, str]:
        with tenant_context(workspace.tenant):
            job = Job.objects.get(pk=job_id)
            cell_correct(job=job, document_id=document_id, key="fm_again", by="ana@example.com", **word)
        [item] = api.get(f"/v1/clause_types/{clause_type.pk}/passages_to_check").json()["data"]
        return item, developer.get(f"/clause-types/{clause_type.pk}").content.decode()

    verified, page = word_in_grid(verified=True)
    assert verified["suggested"] == "clause" and verified["correction"]["by"] == "ana@example.com"
    assert 'name="finding-0" value="clause" checked' in page and "ana@example.com verified this cell" in page
    corrected, page = word_in_grid(corrected_value="Payment terms are in Schedule 2.")
    assert corrected["suggested"] == "not"
    assert corrected["correction"]["corrected_value"] == "Payment terms are in Schedule 2."
    assert 'name="finding-0" value="not" checked' in page and "corrected this cell to" in page
    assert word_in_grid(corrected_value=f" {INVOICES}")[0]["suggested"] == "clause"

    audit_start = TEXT.index(AUDIT)
    refused = developer.post(
        f"/clause-types/{clause_type.pk}/label",
        {
            "version": "1",
            "finding-0-ref": f"{job_id}:{document_id}:{audit_start}:{audit_start + len(AUDIT)}",
            "finding-0": "clause",
        },
        follow=True,
    )
    assert "Mark at least one" in refused.content.decode()
    developer.post(
        f"/clause-types/{clause_type.pk}/label",
        {
            "version": "1",
            "finding-0-ref": f"{job_id}:{document_id}:{start}:{start + len(INVOICES)}",
            "finding-0": "not",
        },
    )
    with tenant_context(workspace.tenant):
        clause_type.refresh_from_db()
    assert clause_type.counter_examples == [INVOICES] and AUDIT not in clause_type.examples
    assert (
        "Findings to answer in jobs" not in developer.get(f"/clause-types/{clause_type.pk}").content.decode()
    )


def test_in_the_browser_a_cell_verified_in_a_review_is_offered_as_its_clause_types_answer(
    portal_server, workspace, browser_page, artifacts
):
    clause_type = _ready_clause_type(
        workspace, "browser_review", examples=[*FIXTURE["examples"], EXCUSED], counter_examples=[]
    )
    column = {"key": "fm", "question": "Force majeure?", "type": "clause", "clause_type": "browser_review"}
    job_id, document_id = review_that_ran(
        workspace, "clause-answers-review-browser.txt", TEXT, [column], {"fm": (INVOICES, 0.7)}
    )
    sign_in(browser_page, portal_server, workspace, "developer")
    browser_page.goto(portal_server.url(workspace, f"/reviews/{job_id}"))
    browser_page.locator(f'[data-cell="{document_id}:fm"]').click()
    panel = browser_page.locator("#cell-panel")
    panel.get_by_role("button", name="Mark verified").click()
    expect(panel.locator("[data-cell-status]")).to_have_text("verified")
    assert not serious_violations(browser_page)
    panel.get_by_role("link", name="Force Majeure").click()

    checks = browser_page.get_by_role("region", name="Passages to check")
    finding = checks.get_by_role("group", name="Finding 1")
    expect(finding.get_by_label("Is this clause")).to_be_checked()
    expect(checks.get_by_text("verified this cell")).to_be_visible()
    assert not serious_violations(browser_page)
    shot(browser_page, artifacts, "clause-type-review-finding")
    checks.get_by_role("button", name="Add the answers and train again").click()
    expect(browser_page.get_by_text("Training Force Majeure again on 14 examples")).to_be_visible()
    with tenant_context(workspace.tenant):
        clause_type.refresh_from_db()
    assert clause_type.examples[-1] == INVOICES


def test_two_clause_types_that_found_one_passage_are_answered_apart(workspace, trainings_queued):
    import re

    from quire.jobs.models import Job

    force_majeure = _ready_clause_type(workspace, "share_force_majeure")
    excused = _ready_clause_type(workspace, "share_excused_delay", name="Excused Delay")

    def output(document_id: str) -> dict:
        span = {"document_id": document_id, "start": 0, "end": len(EXCUSED), "quote": EXCUSED}
        found = [(force_majeure, 0.9), (excused, 0.8)]
        return {
            "clauses": [],
            "custom_clauses": [
                {
                    "category": t.name,
                    "clause_type": t.key,
                    "name": t.name,
                    "confidence": c,
                    "span": dict(span),
                }
                for t, c in found
            ],
        }

    job_id = job_with_result(workspace, connector="legal", filename="shared.txt", text=TEXT, output=output)
    with tenant_context(workspace.tenant):
        Job.objects.filter(pk=job_id).update(options={"clause_types": [force_majeure.key, excused.key]})
    developer = signed_in(workspace, "developer")
    page = developer.get(f"/jobs/{job_id}").content.decode()
    names = re.findall(r'type="radio" name="(finding-\d+)" value="clause"', page)
    assert len(names) == len(set(names)) == 2, names
    developer.post(f"/jobs/{job_id}/clause-answers", {names[0]: "clause"})
    with tenant_context(workspace.tenant):
        force_majeure.refresh_from_db()
        excused.refresh_from_db()
    assert force_majeure.examples[-1] == EXCUSED and force_majeure.version == 2
    assert EXCUSED not in excused.examples and excused.version == 1


def test_a_clause_type_created_again_under_a_deleted_ones_key_inherits_none_of_its_findings(
    workspace, trainings_queued
):
    from tenants.services import api_key_issue
    from tests.support import Api

    deleted = _ready_clause_type(workspace, "key_used_twice", examples=[*FIXTURE["examples"], AUDIT])
    job_id, document_id = _job_that_ran(
        workspace, "key_used_twice", "clause-answers-key-reuse.txt", [(EXCUSED, 0.9), (INVOICES, 0.8)]
    )
    column = {"key": "fm", "question": "Force majeure?", "type": "clause", "clause_type": "key_used_twice"}
    review_id, review_document = review_that_ran(
        workspace, "clause-answers-key-reuse-review.txt", TEXT, [column], {"fm": (INVOICES, 0.8)}
    )
    with tenant_context(workspace.tenant):
        ClauseType.objects.filter(pk=deleted.pk).delete()
    created = _ready_clause_type(workspace, "key_used_twice", name="Payment")
    api = Api(api_key_issue(tenant=workspace.tenant, name="key reuse", role="viewer").secret)
    assert api.get(f"/v1/clause_types/{created.pk}/passages_to_check").json()["data"] == []

    developer = signed_in(workspace, "developer")
    page = developer.get(f"/clause-types/{created.pk}").content.decode()
    assert "Findings to answer in jobs" not in page and job_id not in page and review_id not in page
    job_page = developer.get(f"/jobs/{job_id}").content.decode()
    assert "Force Majeure (clause type deleted)" in job_page and 'name="finding-1"' not in job_page
    developer.post(f"/jobs/{job_id}/clause-answers", {"finding-1": "clause", "finding-2": "not"})
    start = TEXT.index(EXCUSED)
    developer.post(
        f"/clause-types/{created.pk}/label",
        {
            "version": "1",
            "finding-0-ref": f"{job_id}:{document_id}:{start}:{start + len(EXCUSED)}",
            "finding-0": "clause",
        },
    )
    with tenant_context(workspace.tenant):
        created.refresh_from_db()
    assert (created.version, created.examples, trainings_queued) == (1, FIXTURE["examples"], [])
    panel = developer.get(f"/reviews/{review_id}/cell", {"document": review_document, "key": "fm"})
    assert "data-clause-type" not in panel.content.decode()
