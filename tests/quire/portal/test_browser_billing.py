"""Usage and billing page in the browser: the usage charts drawn on the server, the plan and the invoice so
far; the Stripe buttons only for admins."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Page, expect

from billing.models import UsageKind
from tests.support.browser import serious_violations, shot


def test_owner_sees_usage_charts_plan_and_upgrade(portal_page, artifacts: Path):
    page: Page = portal_page("owner", "Usage")
    expect(page.get_by_role("heading", name="Usage and billing")).to_be_visible()
    expect(page.locator("svg.chart")).to_have_count(len(UsageKind.choices))
    expect(page.get_by_role("img", name="Pages per day", exact=False)).to_be_visible()
    # The test server has Stripe (localstripe) where a test before it started one, else it has none.
    stripe = page.get_by_role("button", name="Invoices and payment methods (Stripe)")
    offline = page.get_by_text("Online billing is not configured for this installation")
    if os.environ.get("QUIRE_STRIPE_API_KEY"):
        expect(stripe).to_be_visible()
        expect(offline).to_have_count(0)
    else:
        expect(offline).to_be_visible()
        expect(stripe).to_have_count(0)
    assert serious_violations(page) == []
    shot(page, artifacts, "14-usage-billing")


def test_viewer_sees_usage_without_stripe_actions(portal_page):
    page: Page = portal_page("viewer", "Usage")
    expect(page.locator("svg.chart")).to_have_count(len(UsageKind.choices))
    expect(page.get_by_role("button", name="Invoices and payment methods (Stripe)")).to_have_count(0)
