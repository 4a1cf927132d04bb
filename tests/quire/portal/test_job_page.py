"""The job page keeps a legal job's suggestions apart from its findings."""

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.support.browser import serious_violations, shot, sign_in
from tests.support.portal import PortalServer, Workspace, job_with_result, signed_in

TEXT = (
    "This Agreement is governed by the laws of Delaware. The Distributor shares ten percent of net revenue."
)
REVENUE = TEXT.index("The Distributor")


def _span(document_id: str, start: int, end: int) -> dict:
    return {"document_id": document_id, "start": start, "end": end, "quote": TEXT[start:end]}


def _legal_job(workspace: Workspace, filename: str, *, suggest: bool) -> str:
    def output(document_id: str) -> dict:
        found = {
            "clauses": [{"category": "Governing Law", "confidence": 0.93, "span": _span(document_id, 0, 51)}]
        }
        if suggest:
            revenue = _span(document_id, REVENUE, len(TEXT))
            found["suggestions"] = [
                {"category": "Revenue/Profit Sharing", "confidence": 0.27, "span": revenue}
            ]
        return found

    return job_with_result(
        workspace,
        connector="legal",
        filename=filename,
        text=TEXT,
        output=output,
    )


def _legal_job_page(workspace: Workspace, filename: str, *, suggest: bool) -> str:
    job_id = _legal_job(workspace, filename, suggest=suggest)
    return signed_in(workspace, "viewer").get(f"/jobs/{job_id}").content.decode()


def test_suggestions_are_listed_and_marked_apart_from_findings(workspace):
    page = _legal_job_page(workspace, "supply-agreement.txt", suggest=True)
    assert "1 finding with spans · 1 suggestion below the confidence bar, not findings" in page
    assert "1 span, 1 suggested" in page
    assert 'data-finding="2">Revenue/Profit Sharing <span class="confidence">confidence 0.27</span>' in page
    assert f'<mark class="suggestion" data-findings="2">{TEXT[REVENUE:]}</mark>' in page
    assert f'<mark data-findings="1">{TEXT[:51]}</mark>' in page


def test_the_results_warnings_are_listed_on_the_job_page(workspace):
    warnings = ["the model's reply was not JSON; analyzers' result kept"] + [
        f"warning {n}" for n in range(25)
    ]

    def output(document_id: str) -> dict:
        return {"clauses": [], "warnings": warnings}

    job_id = job_with_result(workspace, connector="legal", filename="warned.txt", text=TEXT, output=output)
    page = signed_in(workspace, "viewer").get(f"/jobs/{job_id}").content.decode()
    assert "<li>the model&#x27;s reply was not JSON; analyzers&#x27; result kept</li>" in page
    assert "<li>warning 18</li>" in page and "warning 19" not in page
    assert "20 of 26 shown; the JSON has all." in page


def test_a_result_without_suggestions_has_no_suggestion_list(workspace):
    page = _legal_job_page(workspace, "plain-agreement.txt", suggest=False)
    assert "1 finding with spans ·" in page and "suggestion" not in page.split("<main", 1)[-1].lower()


def test_in_the_browser_a_suggestion_is_found_in_the_text_and_the_page_passes_axe(
    portal_server: PortalServer, workspace: Workspace, browser_page: Page, artifacts: Path
):
    job_id = _legal_job(workspace, "license-agreement.txt", suggest=True)
    sign_in(browser_page, portal_server, workspace, "viewer")
    browser_page.goto(portal_server.url(workspace, f"/jobs/{job_id}"))
    suggestions = browser_page.get_by_role("list", name="Suggestions")
    expect(suggestions.get_by_role("listitem")).to_have_count(1)
    suggestions.get_by_role("link").click()
    expect(browser_page.locator("mark.suggestion.active")).to_have_text(TEXT[REVENUE:])
    expect(browser_page.locator("mark.active")).to_have_count(1)
    shot(browser_page, artifacts, "job-suggestions")
    assert not serious_violations(browser_page)
