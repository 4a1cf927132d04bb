"""Fixtures for the portal: two workspaces with members of every role, the web app served by a real
`manage.py runserver` process, and the system Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import ROOT
from tests.support.portal import PASSWORD, PortalServer, Workspace
from tests.support.server import start_web_server

ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _workspace(make_tenant, slug: str, roles: tuple[str, ...]) -> Workspace:
    from django.conf import settings

    from billing.entitlements import entitlements_forget
    from billing.models import BillingAccount, Plan
    from billing.stripe_gateway import stripe_customer_provision, stripe_enabled
    from tenants.services import member_add

    provisioned = make_tenant(slug)
    if stripe_enabled():
        # Subscribed on the free plan before the team plan is set: the signup task, whenever a worker runs it,
        # then finds the subscription; left to it, it could subscribe to the team plan without a card, an
        # incomplete subscription that falls back to the free plan's three seats.
        stripe_customer_provision(tenant=provisioned.tenant)
    BillingAccount.objects.filter(tenant=provisioned.tenant).update(plan=Plan.objects.get(code="team"))
    entitlements_forget(provisioned.tenant.pk)
    emails = {}
    for role in roles:
        email = f"{role}@{slug}.example.com"
        member_add(tenant=provisioned.tenant, email=email, role=role, password=PASSWORD)
        emails[role] = email
    return Workspace(provisioned.tenant, f"{slug}.{settings.QUIRE_BASE_DOMAIN}", emails)


@pytest.fixture(scope="session")
def workspace(make_tenant) -> Workspace:
    return _workspace(make_tenant, "portal-one", ("owner", "admin", "developer", "viewer"))


@pytest.fixture(scope="session")
def other_workspace(make_tenant) -> Workspace:
    return _workspace(make_tenant, "portal-two", ("owner",))


@pytest.fixture(scope="session")
def portal_server(workspace, other_workspace):
    """The app under `runserver` (threaded; `--insecure` serves static files with DEBUG off); e-mail goes
    to its console, so the log holds every message sent."""
    server = start_web_server(
        "portal-server",
        env={
            "QUIRE_EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
            "QUIRE_WEBHOOKS_ALLOW_PRIVATE": "true",
        },
    )
    yield PortalServer(server.port, server.proc, server.log_path)
    server.stop()


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: make test installs it (as root), or apt-get install chromium")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM reads the tests make in between
    # browser steps are plain synchronous calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium):
    """A page in a fresh context, with axe-core loaded in every document it opens (an init script, which the
    Content-Security-Policy does not govern, where an inline `<script>` would be refused). The test fails on
    any violation of the policy that Chromium reports."""
    from tests.support.browser import AXE

    context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(20_000)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield page
    context.close()
    assert violations == [], "the pages broke their Content-Security-Policy"


@pytest.fixture
def portal_page(portal_server: PortalServer, workspace: Workspace, browser_page):
    """`portal_page(role, section=None)`: the browser page signed in to `workspace` as its member with
    `role`, on the main navigation's `section` when one is named."""
    from tests.support.browser import nav, sign_in

    def _open(role: str, section: str | None = None):
        sign_in(browser_page, portal_server, workspace, role)
        if section is not None:
            nav(browser_page, section).click()
        return browser_page

    return _open


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def trainings_queued(monkeypatch) -> list[str]:
    """The ids of the clause types whose training the test queued, recorded instead of sent: a worker of the
    session would otherwise train them meanwhile and race the test's reads of their status and near misses
    (trainings by a worker are tested in tests/quire/clauses)."""
    from quire.clauses import services

    queued: list[str] = []
    monkeypatch.setattr(services, "_train_send", queued.append)
    return queued
