"""Steps of the portal's browser tests (Playwright driving the system Chromium)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.support.portal import PASSWORD, PortalServer, Workspace

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"


def sign_in(page: Page, server: PortalServer, workspace: Workspace, role: str) -> None:
    page.goto(server.url(workspace, "/documents"))
    expect(page).to_have_url(server.url(workspace, "/login?next=/documents"))
    page.get_by_label("E-mail").fill(workspace.emails[role])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Documents", exact=True)).to_be_visible()


def nav(page: Page, name: str):
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)


def shot(page: Page, artifacts: Path, name: str) -> None:
    folder = artifacts / "portal"
    folder.mkdir(exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical WCAG 2 A/AA violations on the page (the `browser_page` fixture loads it
    in every document)."""
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}})"
    )
    assert result["passes"], "axe checked nothing"
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
