"""Reviews: pick documents and columns (a template or one's own), watch the grid fill in, open a cell to see
its passage highlighted in the document, verify or correct it, download the grid as CSV or XLSX."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from common.refusals import Refusal
from quire.documents.models import Document, DocumentStatus
from quire.jobs.clause_findings import types_that_ran
from quire.jobs.models import TERMINAL, Job, JobResult
from quire.jobs.review import grid_export, review_cells, rows_with_corrections
from quire.jobs.services import cell_correct, job_create
from quire.portal.access import portal_page
from quire.portal.forms import ReviewForm
from quire.portal.highlight import Finding, highlight_text
from quire.portal.views.common import document_choices, listed, page, show_rejection

PASSAGE_MARGIN = 400
PASSAGE_WINDOW = 3000
MAX_DOCUMENTS = 1000
GRID_ROWS = 100
PAGE_SIZE = 100


def _ready_documents():
    return Document.objects.filter(status=DocumentStatus.READY).order_by("-created_at")


def _form(request: HttpRequest) -> ReviewForm:
    from connectors.review.templates import TEMPLATES

    documents, asked = document_choices(request)
    data = request.POST if request.method == "POST" else None
    return ReviewForm(data, documents=documents, templates=sorted(TEMPLATES), initial={"documents": asked})


@require_http_methods(["GET", "HEAD", "POST"])
@portal_page()
def review_list(request: HttpRequest) -> HttpResponse:
    form = _form(request)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        documents, left_out = data["documents"], False
        if data["all_documents"]:
            ready = list(_ready_documents().values_list("id", flat=True)[: MAX_DOCUMENTS + 1])
            documents, left_out = ready[:MAX_DOCUMENTS], len(ready) > MAX_DOCUMENTS
        options: dict = {"columns": data["columns"]}
        if data["template"]:
            options["template"] = data["template"]
        try:
            job = job_create(
                tenant=request.tenant,
                connector="review",
                document_ids=documents,
                options=options,
                mode=data["mode"],
            )
        except Refusal as exc:
            show_rejection(form, exc)
        else:
            if left_out:
                messages.warning(
                    request,
                    f"A review reads at most {MAX_DOCUMENTS:,} documents: this one reads the newest "
                    f"{MAX_DOCUMENTS:,} ready documents, not all of them.",
                )
            return redirect("portal:review", job_id=job.id)
    shown = listed(
        request, Job.objects.listed().filter(connector="review").order_by("-created_at", "-pk"), PAGE_SIZE
    )
    return page(
        request,
        "portal/reviews.html",
        {**shown, "form": form, "reviews": shown["listing"].object_list},
        status=400 if form.errors else 200,
    )


def _review(job_id: str) -> Job:
    return get_object_or_404(Job, pk=job_id, connector="review")


def _grid_context(job: Job, page_number: object = 1) -> dict:
    """The job, its columns and one row per document of the page asked for (`GRID_ROWS` documents a page, read
    as such from PostgreSQL): the result's cells (each with the reviewer's correction beside it) once it
    exists, else the cells of the documents done so far, the rest pending."""
    shown = Paginator(range(len(job.document_ids)), GRID_ROWS).get_page(page_number)
    first = shown.start_index() - 1 if job.document_ids else 0
    cells = review_cells(job, first=first, count=GRID_ROWS)
    columns = cells["columns"]
    if cells["complete"]:
        rows = cells["rows"]
    else:
        done = {row["index"]: row["cells"] for row in cells["rows"]}
        rows = [{"document_id": job.document_ids[i], "cells": done.get(i, {})} for i in shown]
    names = dict(
        Document.objects.filter(pk__in=[row["document_id"] for row in rows]).values_list("id", "filename")
    )
    grid = [
        {
            "document_id": row["document_id"],
            "filename": names.get(row["document_id"], row["document_id"]),
            "cells": [{"key": c["key"], **_shown_cell(row["cells"].get(c["key"]))} for c in columns],
        }
        for row in rows
    ]
    return {
        "job": job,
        "terminal": job.status in TERMINAL,
        "columns": columns,
        "grid": grid,
        "page": shown,
        "documents": len(job.document_ids),
        "cell_url": reverse("portal:review_cell", args=[job.id]),
        "has_result": cells["complete"],
        "rows_done": cells["done"],
    }


def _shown_cell(cell: dict | None) -> dict:
    if cell is None:
        return {"shown": "…", "status": "pending"}
    correction = cell.get("correction")
    corrected = bool(correction and correction["corrected"])
    value = correction["corrected_value"] if corrected else cell["value"]
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value)
    elif isinstance(value, dict):
        # A figure ({"value": 120000, "unit": "USD"}, as the API takes a correction) with its unit.
        value = " ".join(str(value[k]) for k in ("value", "unit") if value.get(k) is not None) or str(value)
    status = "corrected" if corrected else cell["status"]
    if correction and status != "corrected" and correction["verified"]:
        status = "verified"
    if cell.get("redacted"):
        status = "redacted"
    return {"shown": "—" if value in (None, "") else str(value), "status": status}


@portal_page()
def review_detail(request: HttpRequest, job_id: str) -> HttpResponse:
    return page(request, "portal/review.html", _grid_context(_review(job_id), request.GET.get("page")))


@portal_page()
def review_grid(request: HttpRequest, job_id: str) -> HttpResponse:
    """The grid fragment htmx polls while the review runs."""
    return page(
        request, "portal/partials/review_grid.html", _grid_context(_review(job_id), request.GET.get("page"))
    )


@require_http_methods(["GET", "HEAD", "POST"])
@portal_page()
def review_cell(request: HttpRequest, job_id: str) -> HttpResponse:
    """One cell: its passage highlighted in the document, and (POST) the reviewer's verification or
    correction, stored with who and when."""
    job = _review(job_id)
    params = request.POST if request.method == "POST" else request.GET
    document_id, key = params.get("document", ""), params.get("key", "")
    error = ""
    if request.method == "POST":
        extra = {"corrected_value": params.get("value", "")} if params.get("action") == "correct" else {}
        try:
            cell_correct(
                job=job,
                document_id=document_id,
                key=key,
                by=request.user.email or request.user.get_username(),
                verified=params.get("action") == "verify",
                **extra,
            )
        except Refusal as exc:
            error = str(exc)
        if not request.htmx:
            return redirect(f"{request.path}?document={document_id}&key={key}")
    found = JobResult.objects.review_row(job_id=job.pk, document_id=document_id)
    if found is None:
        raise Http404("the review has no result yet")
    if found["row"] is None or key not in found["row"]["cells"]:
        raise Http404("no such cell")
    [row] = rows_with_corrections(job.pk, [found["row"]], [document_id])
    cell = row["cells"][key]
    column = next(c for c in found["columns"] if c["key"] == key)
    document = Document.objects.filter(pk=document_id).only("id", "filename", "text").first()
    return page(
        request,
        "portal/partials/review_cell.html",
        {
            "job": job,
            "document": document,
            "document_id": document_id,
            "column": column,
            "cell": cell,
            "shown": _shown_cell(cell),
            "passage": _passage(document.text if document else "", cell["spans"]),
            "clause_type": types_that_ran([column["clause_type"]], job.created_at).get(column["clause_type"])
            if column.get("clause_type")
            else None,
            "error": error,
            "oob": request.method == "POST",
        },
    )


def _passage(text: str, spans: list[dict]):
    """The stretch of the text around the cell's first span (and the spans close after it), spans marked."""
    if not spans:
        return None
    first = min(spans, key=lambda s: s["start"])
    spans = [s for s in spans if s["end"] - first["start"] <= PASSAGE_WINDOW]
    start = max(0, min(s["start"] for s in spans) - PASSAGE_MARGIN)
    end = min(len(text), max(s["end"] for s in spans) + PASSAGE_MARGIN)
    findings = [
        Finding(number, "cell", "", s["document_id"], s["start"] - start, s["end"] - start, s["quote"])
        for number, s in enumerate(spans, start=1)
    ]
    return {
        "html": highlight_text(text[start:end], findings),
        "clipped_start": start > 0,
        "clipped_end": end < len(text),
    }


@portal_page()
def review_export(request: HttpRequest, job_id: str, fmt: str) -> HttpResponse:
    result = JobResult.objects.filter(job=_review(job_id)).first()
    if result is None:
        raise Http404("the review has no result yet")
    return grid_export(tenant=request.tenant, result=result, export_format=fmt)
