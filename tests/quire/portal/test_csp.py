"""The Content-Security-Policy of the web tier's HTML answers, and pages that keep to it: every script a static
file of this origin, no inline script, event handler, `style` attribute or `<style>` element in any template or
rendered page (the browser tests fail on any violation Chromium reports)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client, override_settings
from django_tenants.utils import tenant_context

from quire.security import content_security_policy
from tests.support import ROOT
from tests.support.portal import Workspace, job_with_result, signed_in, stored_document

TEMPLATE_FOLDERS = [ROOT / "quire" / "portal" / "templates"]
INLINE_IN_TEMPLATES = {
    "inline script": re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "event handler": re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE),
    "style attribute": re.compile(r"<[a-z][^>]*\sstyle\s*=", re.IGNORECASE),
    "style element": re.compile(r"<style\b", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
    "htmx handler": re.compile(r"\shx-on", re.IGNORECASE),
}


class InlineFinder(HTMLParser):
    """What a rendered page holds that a policy without 'unsafe-inline' refuses."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script":
            if not names.get("src"):
                self.found.append("<script> without src")
            self._in_script = True
        if tag == "style":
            self.found.append("<style> element")
        for name, value in attrs:
            if name.startswith("on") or name.startswith("hx-on"):
                self.found.append(f"<{tag} {name}>")
            if name == "style":
                self.found.append(f"<{tag} style>")
            if name in ("href", "action", "src") and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}=javascript:>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.found.append("<script> with a body")


def inline_in(html: str) -> list[str]:
    finder = InlineFinder()
    finder.feed(html)
    return finder.found


def _templates() -> list[Path]:
    return sorted(path for folder in TEMPLATE_FOLDERS for path in folder.rglob("*.html"))


@pytest.mark.parametrize("template", _templates(), ids=lambda path: str(path.relative_to(ROOT)))
def test_no_template_holds_an_inline_script_handler_or_style(template: Path):
    text = template.read_text(encoding="utf-8")
    assert {kind for kind, pattern in INLINE_IN_TEMPLATES.items() if pattern.search(text)} == set()


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def test_the_policy_allows_only_this_origin_and_stripe_s_pages_for_forms():
    directives = {part.split()[0]: part.split()[1:] for part in content_security_policy().split("; ")}
    assert directives["default-src"] == ["'self'"] and "script-src" not in directives
    assert directives["object-src"] == ["'none'"] and directives["frame-ancestors"] == ["'none'"]
    assert directives["base-uri"] == ["'self'"]
    assert directives["form-action"][0] == "'self'"
    assert "https://checkout.stripe.com" in directives["form-action"]
    assert "https://billing.stripe.com" in directives["form-action"]
    assert not any("unsafe" in source for sources in directives.values() for source in sources)
    with override_settings(QUIRE_STRIPE_API_BASE="http://127.0.0.1:9999/"):
        assert "http://127.0.0.1:9999" in content_security_policy().split("form-action ")[1].split()


def test_portal_sign_in_and_admin_pages_carry_the_policy(workspace: Workspace):
    from django.conf import settings

    anonymous = Client(HTTP_HOST=workspace.host)
    sign_in = anonymous.get("/login")
    assert sign_in.status_code == 200 and _policy(sign_in)["frame-ancestors"] == ["'none'"]
    assert inline_in(sign_in.content.decode()) == []
    documents = signed_in(workspace, "viewer").get("/documents")
    assert documents.status_code == 200 and _policy(documents)["default-src"] == ["'self'"]
    assert documents["Content-Security-Policy"] == sign_in["Content-Security-Policy"]
    if settings.QUIRE_ADMIN_ENABLED:
        admin = Client().get("/admin/login/")
        assert admin.status_code == 200 and "Content-Security-Policy" in admin
        assert inline_in(admin.content.decode()) == []
    docs = Client().get("/v1/docs")
    assert docs.status_code == 200 and "Content-Security-Policy" in docs
    assert "<script> without src" not in inline_in(docs.content.decode())
    assert "Content-Security-Policy" not in Client().get("/v1/openapi.json")


def test_every_portal_page_renders_without_inline_script_handler_or_style(workspace: Workspace):
    from quire.clauses.models import ClauseType, ClauseTypeStatus
    from quire.webhooks.models import WebhookEndpoint

    document = stored_document(workspace, "csp-contract.txt", "The Supplier shall indemnify the Buyer.")
    job_id = job_with_result(workspace, connector="legal", filename="csp-legal.txt")
    with tenant_context(workspace.tenant):
        clause_type = ClauseType.objects.create(
            key="csp_clause", name="CSP clause", examples=["x"] * 10, status=ClauseTypeStatus.READY
        )
        endpoint = WebhookEndpoint.objects.create(
            url="https://example.com/csp", event_types=["*"], secret="whsec_csp"
        )
    pages = [
        "/",
        "/documents",
        f"/documents/{document.pk}",
        "/jobs",
        f"/jobs/{job_id}",
        "/reviews",
        "/clause-types",
        f"/clause-types/{clause_type.pk}",
        "/models",
        "/api-keys",
        "/webhooks",
        f"/webhooks/{endpoint.pk}",
        "/billing",
        "/audit",
        "/members",
        "/password-reset",
        "/no-such-page",
    ]
    owner = signed_in(workspace, "owner")
    found = {}
    for path in pages:
        response = owner.get(path, HTTP_ACCEPT="text/html")
        assert response.status_code in (200, 404), path
        assert "Content-Security-Policy" in response, path
        if inline := inline_in(response.content.decode()):
            found[path] = inline
    assert found == {}
