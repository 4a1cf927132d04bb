"""Webhook pages in the browser: add an endpoint, reveal its secret (htmx), rotate, send a test event and
replay it from the delivery log; a viewer sees no forms."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.support.browser import nav, shot


def test_admin_adds_an_endpoint_reveals_rotates_tests_and_replays(portal_page, artifacts: Path):
    page: Page = portal_page("admin", "Webhooks")
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.locator("fieldset.invalid .error")).to_contain_text("required")
    page.get_by_label("URL").fill("http://127.0.0.1:9/browser-hook")
    page.get_by_label("job.succeeded").check()
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_role("heading", name="http://127.0.0.1:9/browser-hook")).to_be_visible()

    page.get_by_role("button", name="Reveal secret").click()
    secret = page.locator("#signing-secret")
    expect(secret).to_be_visible()
    first = secret.input_value()
    assert first.startswith("whsec_")
    page.get_by_role("button", name="Copy").click()
    expect(page.locator(".copied")).to_have_text("Copied")
    page.get_by_role("button", name="Rotate secret").click()
    expect(page.locator(".message.success")).to_contain_text("Rotated")
    page.get_by_role("button", name="Reveal secret").click()
    expect(page.locator("#signing-secret")).not_to_have_value(first)

    page.get_by_role("button", name="Send a test event").click()
    expect(page.locator("tr[data-delivery]")).to_have_count(1)
    expect(page.locator("tr[data-delivery]")).to_contain_text("webhook.test")
    page.locator("tr[data-delivery]").get_by_role("button", name="Replay").click()
    expect(page.locator("tr[data-delivery]")).to_have_count(2)
    expect(page.locator("tr[data-delivery]").first).to_contain_text("replay")
    shot(page, artifacts, "12-webhook-endpoint")

    nav(page, "Webhooks").click()
    expect(page.get_by_role("link", name="http://127.0.0.1:9/browser-hook")).to_be_visible()
    shot(page, artifacts, "13-webhooks")


def test_viewer_cannot_create_endpoints(portal_page):
    page: Page = portal_page("viewer", "Webhooks")
    expect(page.get_by_role("heading", name="Webhooks")).to_be_visible()
    expect(page.get_by_role("button", name="Add endpoint")).to_have_count(0)
