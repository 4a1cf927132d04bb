"""A legal job's custom clause findings are answered on its page: the answers become examples and
counter-examples of their clause type, which trains again; the page shows how each finding is held."""

from __future__ import annotations

import json

from django_tenants.utils import tenant_context

from quire.clauses.models import ClauseType, ClauseTypeStatus
from tests.support.paths import DATA
from tests.support.portal import job_with_result, signed_in

FIXTURE = json.loads((DATA / "custom_clauses" / "force_majeure.json").read_text(encoding="utf-8"))
EXCUSED = "Neither party is liable for delay caused by flood, fire or war."
INVOICES = "Invoices are payable within thirty days of receipt."
AUDIT = "The Supplier may audit the records once a year."
TEXT = f"{EXCUSED}\n\n{INVOICES}\n\n{AUDIT}"


def _found(document_id: str, passage: str, key: str, name: str, confidence: float) -> dict:
    start = TEXT.index(passage)
    span = {"document_id": document_id, "start": start, "end": start + len(passage), "quote": passage}
    return {"category": name, "clause_type": key, "name": name, "confidence": confidence, "span": span}


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


def test_custom_clause_findings_are_answered_on_the_job_page(workspace):
    with tenant_context(workspace.tenant):
        clause_type = ClauseType.objects.create(
            key="job_force_majeure",
            name="Force Majeure",
            examples=FIXTURE["examples"],
            counter_examples=FIXTURE["counter_examples"],
            status=ClauseTypeStatus.READY,
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

    after = developer.get(f"/jobs/{job_id}").content.decode()
    assert "Training Force Majeure again with 1 more example and 1 more counter-example." in after
    assert 'name="finding-1" value="clause" checked' in after and "· an example" in after
    assert 'name="finding-2" value="not" checked' in after and "· a counter-example" in after

    same = developer.post(
        f"/jobs/{job_id}/clause-answers", {"finding-1": "clause", "finding-2": "not"}, follow=True
    )
    assert "Force Majeure already holds these answers; nothing to train." in same.content.decode()
    changed = developer.post(f"/jobs/{job_id}/clause-answers", {"finding-2": "clause"}, follow=True)
    assert "Training Force Majeure again with 1 more example." in changed.content.decode()
    with tenant_context(workspace.tenant):
        clause_type.refresh_from_db()
    assert INVOICES in clause_type.examples and INVOICES not in clause_type.counter_examples
    assert len(clause_type.counter_examples) == len(FIXTURE["counter_examples"])
    assert clause_type.version == 3


def test_in_the_browser_a_finding_is_answered_and_the_page_passes_axe(
    portal_server, workspace, browser_page, artifacts
):
    from playwright.sync_api import expect

    from tests.support.browser import serious_violations, shot, sign_in

    with tenant_context(workspace.tenant):
        clause_type = ClauseType.objects.create(
            key="browser_force_majeure",
            name="Force Majeure",
            examples=FIXTURE["examples"],
            status=ClauseTypeStatus.READY,
        )

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
        browser_page.get_by_text("Training Force Majeure again with 1 more counter-example.")
    ).to_be_visible()
    expect(checks.get_by_text("a counter-example")).to_be_visible()
    shot(browser_page, artifacts, "job-clause-answers")
    with tenant_context(workspace.tenant):
        clause_type.refresh_from_db()
    assert clause_type.counter_examples == [INVOICES] and clause_type.version == 2


def test_a_job_with_many_custom_clause_findings_shows_the_unanswered_first(workspace, monkeypatch):
    from quire.portal.views import jobs

    monkeypatch.setattr(jobs, "CLAUSE_CHECKS_SHOWN", 2)
    with tenant_context(workspace.tenant):
        ClauseType.objects.create(
            key="many_force_majeure",
            name="Force Majeure",
            examples=[*FIXTURE["examples"], EXCUSED],
            status=ClauseTypeStatus.READY,
        )

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
