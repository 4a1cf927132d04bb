"""The portal in a real browser (system Chromium, headless) against `runserver` and a real Celery worker:
sign in, issue an API key, upload documents, start a job, watch it finish, read the highlighted result.
Each page is saved as a screenshot under tests/artifacts/portal/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support import ROOT
from tests.support.browser import nav, serious_violations, shot, sign_in
from tests.support.portal import PASSWORD, PortalServer, Workspace

CONTRACT = ROOT / "tests" / "data" / "cuad" / "contracts" / "cuad_04.txt"


@pytest.mark.timeout(600)
def test_owner_signs_in_issues_a_key_uploads_runs_a_job_and_reads_the_result(
    celery_worker,
    portal_server: PortalServer,
    workspace: Workspace,
    browser_page: Page,
    artifacts: Path,
    tmp_path: Path,
):
    page = browser_page
    page.on("dialog", lambda dialog: dialog.accept())

    page.goto(portal_server.url(workspace, "/login"))
    page.get_by_label("E-mail").fill(workspace.emails["owner"])
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".error-summary")).to_contain_text("The e-mail or password is incorrect")
    shot(page, artifacts, "01-sign-in-error")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Portal One")).to_be_visible()
    shot(page, artifacts, "02-overview")
    status, kind = page.evaluate(
        "async () => { const r = await fetch(document.querySelector('link[rel=icon]').href);"
        " return [r.status, r.headers.get('content-type')]; }"
    )
    assert status == 200 and kind.startswith("image/svg+xml")

    nav(page, "API keys").click()
    page.get_by_label("Name").fill("browser key")
    page.get_by_label("Role").select_option("viewer")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#new-secret").input_value()
    assert secret.startswith("qk_live_")
    page.get_by_role("button", name="Copy").click()
    expect(page.locator(".copied")).to_have_text("Copied")
    row = page.locator("tr", has_text="browser key")
    expect(row).to_contain_text(secret[:12])
    expect(row).to_contain_text("never")
    shot(page, artifacts, "03-api-key-created")
    nav(page, "API keys").click()
    expect(page.locator("#new-secret")).to_have_count(0)
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator("tr", has_text="browser key")).to_contain_text("revoked")

    nav(page, "Documents").click()
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".field.invalid .error")).to_contain_text("required")
    page.locator("input[type=file][name=file]").set_input_files(
        files=[{"name": "supply-agreement.txt", "mimeType": "text/plain", "buffer": CONTRACT.read_bytes()}]
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".message.success")).to_contain_text("Uploaded supply-agreement.txt")
    drop_file(page, "dropped-note.txt", "A note dropped on the portal. It is governed by the laws of Ohio.")
    expect(page.locator(".message.success")).to_contain_text("Uploaded dropped-note.txt")
    picked = folder(tmp_path / "picked-room", "picked")
    page.get_by_label("Or choose a folder").set_input_files(picked)
    expect(page.locator(".message.success")).to_contain_text("Uploaded 2 documents (batch")
    expect(page.locator("tr", has_text="picked-room/picked-index.txt")).to_have_count(1)
    expect(page.locator("tr", has_text="picked-room/legal/picked-letter.txt")).to_have_count(1)
    drop_folder(page, folder(tmp_path / "dropped-room", "dropped"))
    expect(page.locator(".message.success")).to_contain_text("Uploaded 2 documents (batch")
    expect(page.locator("tr", has_text="dropped-room/dropped-index.txt")).to_have_count(1)
    expect(page.locator("tr", has_text="dropped-room/legal/dropped-letter.txt")).to_have_count(1)
    expect(page.locator("tr", has_text="supply-agreement.txt").locator("[data-status]")).to_have_text(
        "ready", timeout=120_000
    )
    expect(page.locator("tr", has_text="dropped-note.txt").locator("[data-status]")).to_have_text(
        "ready", timeout=120_000
    )
    shot(page, artifacts, "04-documents")
    page.get_by_role("link", name="supply-agreement.txt").click()
    expect(page.locator("pre.doc-text")).to_contain_text(CONTRACT.read_text()[:60].strip())
    shot(page, artifacts, "05-document-text")

    nav(page, "Jobs").click()
    page.get_by_role("button", name="Start job").click()
    expect(page.locator("fieldset.invalid .error")).to_contain_text("required")
    page.get_by_label("Connector").select_option("legal")
    page.get_by_label("supply-agreement.txt").check()
    page.get_by_label("Options").fill("[1, 2]")
    page.get_by_role("button", name="Start job").click()
    expect(page.locator(".field.invalid .error")).to_contain_text("Options must be a JSON object")
    shot(page, artifacts, "06-job-form-errors")
    page.get_by_label("Options").fill("")
    page.get_by_role("button", name="Start job").click()
    expect(page.get_by_role("heading", name="Job")).to_be_visible()
    expect(page.locator("#job-progress-bar")).to_be_visible()
    shot(page, artifacts, "07-job-running")

    expect(page.get_by_role("heading", name="Result")).to_be_visible(timeout=180_000)
    expect(page.locator("#job-progress [data-status]")).to_have_text("succeeded")
    assert page.locator("#job-progress-bar").get_attribute("value") == "100"
    marks = page.locator("pre.doc-text mark")
    assert marks.count() > 0
    links = page.locator("a[data-finding]")
    last = links.nth(links.count() - 1)
    number = last.get_attribute("data-finding")
    last.click()
    target = page.locator(f'mark[data-findings~="{number}"]').first
    expect(target).to_have_class("active")
    expect(target).to_be_in_viewport()
    quote = page.locator("nav.findings li").nth(links.count() - 1).locator("q").inner_text()
    assert " ".join(target.inner_text().split())[:20] in " ".join(quote.split())
    shot(page, artifacts, "08-job-result")
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.locator("nav.findings")).to_be_visible()
    overflowing = page.evaluate(
        """() => [...document.querySelectorAll('main *, header *')]
            .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1
                         && !e.closest('.table-wrap, pre'))
            .map(e => e.tagName + '.' + e.className)"""
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, overflowing
    shot(page, artifacts, "08-job-result-narrow")
    page.set_viewport_size({"width": 1280, "height": 900})

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download JSON").click()
    download = download_info.value
    body = json.loads(Path(download.path()).read_text())
    assert body["output"]["connector"] == "legal" and body["spans_checked"] >= marks.count() > 0

    nav(page, "Jobs").click()
    page.get_by_label("Connector").select_option("legal")
    page.get_by_label("dropped-note.txt").check()
    page.get_by_role("button", name="Start job").click()
    second_job = page.url.rsplit("/", 1)[-1]
    nav(page, "Jobs").click()
    second_row = page.locator("tr", has_text=second_job)
    expect(second_row.locator("[data-status]")).to_have_text("succeeded", timeout=180_000)
    shot(page, artifacts, "09-jobs")

    nav(page, "Members").click()
    expect(page.locator("tr", has_text=workspace.emails["viewer"])).to_be_visible()
    shot(page, artifacts, "10-members")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to Portal One")).to_be_visible()


def drop_file(page: Page, name: str, text: str) -> None:
    """Drag a file onto the drop zone: a real `drop` event whose DataTransfer holds the file."""
    transfer = page.evaluate_handle(
        """([name, text]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([text], name, {type: "text/plain"}));
            return transfer;
        }""",
        [name, text],
    )
    page.dispatch_event("[data-dropzone]", "dragenter", {"dataTransfer": transfer})
    page.dispatch_event("[data-dropzone]", "drop", {"dataTransfer": transfer})


def folder(root: Path, prefix: str) -> Path:
    """A folder of two text files, one in a subfolder, their names starting with `prefix`."""
    (root / "legal").mkdir(parents=True)
    (root / f"{prefix}-index.txt").write_text(f"Data room index ({prefix}): the side letter.")
    (root / "legal" / f"{prefix}-letter.txt").write_text(
        f"Side letter ({prefix}). Governed by the laws of Ohio."
    )
    return root


def drop_folder(page: Page, root: Path) -> None:
    """Drag a folder from the desktop onto the drop zone: Chromium's own drag of a file path, so the drop's
    DataTransfer holds a directory entry that the page walks."""
    box = page.locator("[data-dropzone]").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    data = {"items": [], "files": [str(root)], "dragOperationsMask": 1}
    session = page.context.new_cdp_session(page)
    try:
        for kind in ("dragEnter", "dragOver", "drop"):
            session.send("Input.dispatchDragEvent", {"type": kind, "x": x, "y": y, "data": data})
    finally:
        session.detach()


def test_viewer_cannot_create_keys_and_sees_no_write_forms(
    portal_page, portal_server: PortalServer, workspace: Workspace, artifacts: Path
):
    page = portal_page("viewer")
    expect(page.get_by_role("button", name="Upload")).to_have_count(0)
    expect(nav(page, "API keys")).to_have_count(0)
    page.goto(portal_server.url(workspace, "/api-keys"))
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    shot(page, artifacts, "11-viewer-api-keys-forbidden")
    page.goto(portal_server.url(workspace, "/jobs"))
    expect(page.get_by_role("button", name="Start job")).to_have_count(0)
    page.goto(portal_server.url(workspace, "/members"))
    expect(page.get_by_role("button", name="Send invitation")).to_have_count(0)
    expect(page.get_by_role("button", name="Remove")).to_have_count(0)


def test_a_member_of_another_workspace_gets_not_found(
    portal_server: PortalServer, workspace: Workspace, other_workspace: Workspace, browser_page: Page
):
    page = browser_page
    page.goto(portal_server.url(workspace, "/login"))
    page.get_by_label("E-mail").fill(other_workspace.emails["owner"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".error-summary")).to_be_visible()
    sign_in(page, portal_server, other_workspace, "owner")
    response = page.goto(portal_server.url(other_workspace, "/jobs/job_doesnotexist"))
    assert response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()


def test_pages_pass_axe_wcag_a_and_aa(portal_server: PortalServer, workspace: Workspace, browser_page: Page):
    page = browser_page
    page.goto(portal_server.url(workspace, "/login"))
    found = {"/login": serious_violations(page)}
    sign_in(page, portal_server, workspace, "owner")
    paths = [
        "/",
        "/documents",
        "/jobs",
        "/models",
        "/clause-types",
        "/api-keys",
        "/webhooks",
        "/billing",
        "/members",
        "/password-reset",
    ]
    page.goto(portal_server.url(workspace, "/documents"))
    if page.locator("table a").count():
        paths.append(page.locator("table a").first.get_attribute("href"))
    page.goto(portal_server.url(workspace, "/jobs"))
    if page.locator("table a").count():
        paths.append(page.locator("table a").first.get_attribute("href"))
    for path in paths:
        page.goto(portal_server.url(workspace, path))
        found[path] = serious_violations(page)
    assert not any(found.values()), {path: v for path, v in found.items() if v}


def test_an_admin_moves_a_key_to_the_current_api_version_in_the_browser(
    portal_server: PortalServer, workspace: Workspace, browser_page: Page, artifacts: Path
):
    from django.conf import settings

    from tenants.services import api_key_issue

    current = settings.QUIRE_API_VERSIONS[-1]
    issued = api_key_issue(tenant=workspace.tenant, name="legacy sync", role="viewer")
    issued.api_key.version = settings.QUIRE_API_VERSIONS[0]
    issued.api_key.save(update_fields=["version"])
    page = browser_page
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, portal_server, workspace, "admin")
    page.goto(portal_server.url(workspace, "/api-keys"))
    row = page.locator(f'tr[data-key="{issued.api_key.pk}"]')
    expect(row).to_contain_text(settings.QUIRE_API_VERSIONS[0])
    assert serious_violations(page) == []
    shot(page, artifacts, "api-keys-version")
    row.get_by_role("button", name=f"Move to {current}").click()
    expect(page.get_by_text(f"now uses API version {current}.")).to_be_visible()
    expect(row.get_by_role("button", name=f"Move to {current}")).to_have_count(0)
    issued.api_key.refresh_from_db()
    assert issued.api_key.version == current
