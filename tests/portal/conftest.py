"""Fixtures for the portal: two workspaces with members of every role, the web app served by a real
`manage.py runserver` process, and the system Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
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
PASSWORD = "correct horse battery staple 7"


@dataclass(frozen=True)
class Workspace:
    tenant: object
    host: str
    emails: dict[str, str]  # role -> e-mail of the member with that role

    def member(self, role: str):
        from tenants.models import Member

        return Member.objects.select_related("user").get(tenant=self.tenant, user__username=self.emails[role])


def _workspace(make_tenant, slug: str, roles: tuple[str, ...]) -> Workspace:
    from django.conf import settings

    from billing.entitlements import entitlements_forget
    from billing.models import BillingAccount, Plan
    from tenants.services import member_add

    provisioned = make_tenant(slug)
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PortalServer:
    port: int
    proc: subprocess.Popen
    log_path: Path

    def url(self, workspace: Workspace, path: str = "/") -> str:
        return f"http://{workspace.host}:{self.port}{path}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="session")
def portal_server(workspace, other_workspace):
    """The app under `runserver` (threaded; `--insecure` serves static files with DEBUG off); e-mail goes
    to its console, so the log holds every message sent."""
    port = _free_port()
    log_path = ROOT / ".quire" / f"test-portal-server-{os.getpid()}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--insecure"],
            cwd=ROOT,
            env={
                **os.environ,
                "QUIRE_EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
                "QUIRE_WEBHOOKS_ALLOW_PRIVATE": "true",
            },
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"runserver exited: {log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline:
                proc.terminate()
                raise RuntimeError("runserver did not answer in 60s") from None
            time.sleep(0.2)
    yield PortalServer(port, proc, log_path)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


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
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
