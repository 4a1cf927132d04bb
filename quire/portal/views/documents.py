"""Documents: upload (drag and drop or file picker), list with live status, a document's text, delete."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_http_methods, require_POST

from common.refusals import Refusal
from quire.documents.models import Document, DocumentStatus
from quire.documents.services import document_create, document_delete
from quire.portal.access import portal_page
from quire.portal.forms import DocumentUploadForm
from quire.portal.views.common import page, show_rejection

PAGE_SIZE = 100
IN_PROGRESS = (DocumentStatus.PENDING, DocumentStatus.PARSING, DocumentStatus.EMBEDDING)


def _listing() -> dict:
    documents = list(Document.objects.defer("text").order_by("-created_at")[:PAGE_SIZE])
    return {"documents": documents, "polling": any(d.status in IN_PROGRESS for d in documents)}


@require_http_methods(["GET", "HEAD", "POST"])
@portal_page()
def document_list(request: HttpRequest) -> HttpResponse:
    form = DocumentUploadForm()
    if request.method == "POST":
        form = DocumentUploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = document_create(
                    tenant=request.tenant,
                    content=upload.read(),
                    filename=upload.name or "upload",
                    declared_type=upload.content_type,
                    max_bytes=settings.QUIRE_MAX_DOCUMENT_BYTES,
                    content_param="file",
                )
            except Refusal as exc:
                show_rejection(form, exc)
            else:
                verb = "Uploaded" if result.created else "Already uploaded:"
                messages.success(request, f"{verb} {result.document.filename}.")
                return redirect("portal:documents")
    return page(
        request, "portal/documents.html", {"form": form, **_listing()}, status=400 if form.errors else 200
    )


@portal_page()
def document_table(request: HttpRequest) -> HttpResponse:
    return page(request, "portal/partials/document_table.html", _listing())


@portal_page()
def document_detail(request: HttpRequest, document_id: str) -> HttpResponse:
    document = get_object_or_404(Document, pk=document_id)
    return page(
        request, "portal/document.html", {"document": document, "in_progress": document.status in IN_PROGRESS}
    )


@require_POST
@portal_page()
def document_remove(request: HttpRequest, document_id: str) -> HttpResponse:
    document = get_object_or_404(Document, pk=document_id)
    document_delete(document=document)
    messages.success(request, f"Deleted {document.filename}.")
    return redirect("portal:documents")
