"""What every portal page's template gets: the member, their role's permissions, the navigation."""

from __future__ import annotations

from functools import cached_property
from urllib.parse import urlencode

from django import forms
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from common.refusals import Refusal
from quire.documents.models import Document, DocumentStatus
from tenants.models import Role, role_allows

SECTIONS = {
    "document": "documents",
    "job": "jobs",
    "review": "reviews",
    "clause_type": "clause_types",
    "api_key": "api_keys",
    "webhook": "webhooks",
    "billing": "billing",
    "member": "members",
    "audit": "audit",
    "model": "models",
}


def _section(request: HttpRequest) -> str:
    url_name = request.resolver_match.url_name if request.resolver_match else ""
    return next((section for prefix, section in SECTIONS.items() if url_name.startswith(prefix)), "")


def page(request: HttpRequest, template: str, context: dict | None = None, status: int = 200) -> HttpResponse:
    member = request.member
    return render(
        request,
        template,
        {
            "member": member,
            "tenant": member.tenant,
            "can_write": role_allows(member.role, Role.DEVELOPER),
            "can_admin": role_allows(member.role, Role.ADMIN),
            "section": _section(request),
            **(context or {}),
        },
        status=status,
    )


# A list pages through its newest `MAX_PAGES` pages: a page reads the rows before it (OFFSET) and the pager
# counts the rows, so past this the cost of a page would grow with the workspace's rows.
MAX_PAGES = 100


class NewestPaginator(Paginator):
    """Pages of the newest `MAX_PAGES` pages of `rows`: counts at most one row past them (`more`, whether there
    are older rows the pages do not reach), and a page asked for past them is the last."""

    def __init__(self, rows: QuerySet, size: int) -> None:
        super().__init__(rows[: size * MAX_PAGES], size)
        self.rows = rows
        self.more = False

    @cached_property
    def count(self) -> int:
        reach = self.per_page * MAX_PAGES
        counted = self.rows.order_by().values("pk")[: reach + 1].count()
        self.more = counted > reach
        return min(counted, reach)


def listed(request: HttpRequest, rows: QuerySet, size: int, **kept: str) -> dict:
    """The page of `rows` the request asks for (`?page=`, `size` a page, the newest `MAX_PAGES` pages) as
    `listing`, and `kept`, the filters in force, as the query string that the pager's links and a poll of the
    list carry (`keep`, from "&")."""
    kept = {name: value for name, value in kept.items() if value}
    listing: Page = NewestPaginator(rows, size).get_page(request.GET.get("page"))
    return {"listing": listing, "keep": f"&{urlencode(kept)}" if kept else "", **kept}


PICKER_DOCUMENTS = 500


def document_choices(request: HttpRequest) -> tuple[list[tuple[str, str]], list[str]]:
    """The ready documents a job or review form offers, and those it has checked: the ones the request names
    (`documents` posted, or `?document=` from a document's page), however old, then the newest ready ones, up to
    `PICKER_DOCUMENTS` in all."""
    named = request.POST.getlist("documents") if request.method == "POST" else request.GET.getlist("document")
    ready = Document.objects.filter(status=DocumentStatus.READY).only("id", "filename")
    asked = list(ready.filter(pk__in=named[:PICKER_DOCUMENTS]))
    newest = ready.exclude(pk__in=[d.pk for d in asked]).order_by("-created_at")
    shown = asked + list(newest[: max(0, PICKER_DOCUMENTS - len(asked))])
    return [(d.pk, d.filename) for d in shown], [d.pk for d in asked]


def base_url(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


def show_rejection(form: forms.Form, rejection: Refusal) -> None:
    """Put a service's refusal on the form: next to the field its `param` names, else above the form."""
    field = (rejection.param or "").split(".")[0]
    form.add_error(field if field in form.fields else None, str(rejection))
