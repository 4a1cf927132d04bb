"""Documents: upload (drag and drop or file picker), list with live status, a document's metadata and text, its
stated call period, a PDF's or scanned image's page images, delete."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import pluralize
from django.utils.cache import get_conditional_response
from django.views.decorators.http import require_http_methods, require_POST

from common.refusals import Refusal
from quire.api.parsers import UNNAMED, client_path
from quire.clauses.models import ClauseType
from quire.documents.limits import LimitExceeded
from quire.documents.models import Document, DocumentStatus
from quire.documents.pages import PAGE_IMAGE_DPI, page_image
from quire.documents.services import (
    document_batch_create,
    document_create,
    document_delete,
    document_original_open,
    document_update,
)
from quire.documents.uploads import Upload, holds_files
from quire.documents.views import original_response
from quire.portal.access import portal_page
from quire.portal.forms import CallPeriodForm, DocumentUploadForm
from quire.portal.views.common import listed, page, show_rejection

PAGE_SIZE = 100
ALREADY_NAMED = 10
IN_PROGRESS = (DocumentStatus.PENDING, DocumentStatus.PARSING, DocumentStatus.EMBEDDING)


def _listing(request: HttpRequest) -> dict:
    """A page of the workspace's documents, newest first; `?q=` keeps those whose name holds it."""
    query = request.GET.get("q", "").strip()[:200]
    documents = Document.objects.without_text().order_by("-created_at", "-pk")
    if query:
        documents = documents.filter(filename__icontains=query)
    shown = listed(request, documents, PAGE_SIZE, q=query)
    return {
        **shown,
        "documents": shown["listing"].object_list,
        "polling": any(d.status in IN_PROGRESS for d in shown["listing"]),
    }


@require_http_methods(["GET", "HEAD", "POST"])
@portal_page()
def document_list(request: HttpRequest) -> HttpResponse:
    form = DocumentUploadForm()
    if request.method == "POST":
        form = DocumentUploadForm(request.POST, request.FILES)
        if form.is_valid():
            uploads = form.cleaned_data["file"]
            names = _folder_paths(uploads, request.POST.getlist("path"))
            files = [
                Upload(name, upload.read(), upload.content_type)
                for name, upload in zip(names, uploads, strict=True)
            ]
            period = form.cleaned_data["period"]
            try:
                _upload(request, files, {"period": period} if period else None)
            except Refusal as exc:
                show_rejection(form, exc)
            else:
                return redirect("portal:documents")
    return page(
        request,
        "portal/documents.html",
        {"form": form, **_listing(request)},
        status=400 if form.errors else 200,
    )


def _folder_paths(uploads: list, paths: list[str]) -> list[str]:
    """Each upload's name, as its path in the folder it came from (`room/legal/letter.txt`) where the page
    sent one per file (a dropped or chosen folder), as the API keeps a multipart file's path."""
    names = [upload.name or UNNAMED for upload in uploads]
    if len(paths) != len(uploads):
        return names
    kept = [client_path(path) for path in paths]
    return [
        path if path and path.rsplit("/", 1)[-1] == name else name
        for path, name in zip(kept, names, strict=True)
    ]


def _upload(request: HttpRequest, files: list[Upload], metadata: dict[str, str] | None) -> None:
    if len(files) == 1 and not holds_files(files[0].content):
        result = document_create(
            tenant=request.tenant,
            content=files[0].content,
            filename=files[0].filename,
            declared_type=files[0].declared_type,
            max_bytes=settings.QUIRE_MAX_DOCUMENT_BYTES,
            content_param="file",
            metadata=metadata,
        )
        if result.retried:
            messages.info(request, f"Reading again: {result.document.filename}, which had failed.")
        else:
            verb = "Uploaded" if result.created else "Already uploaded:"
            messages.success(request, f"{verb} {result.document.filename}.")
        return
    batch = document_batch_create(
        tenant=request.tenant, uploads=files, max_bytes=settings.QUIRE_MAX_DOCUMENT_BYTES, metadata=metadata
    )
    created = [d.document for _, d in batch.documents if d.created]
    present = [uploaded_as for uploaded_as, d in batch.documents if not d.created and not d.retried]
    retried = [uploaded_as for uploaded_as, d in batch.documents if d.retried]
    if created:
        messages.success(request, f"Uploaded {len(created)} document{pluralize(created)} (batch {batch.id}).")
    for label, names in (("Already uploaded", present), ("Reading again, as they had failed", retried)):
        if names:
            more = len(names) - ALREADY_NAMED
            named = ", ".join(names[:ALREADY_NAMED])
            messages.info(request, f"{label}: {named}{f' and {more} more' if more > 0 else ''}.")
    for filename, refusal in batch.refused:
        messages.error(request, f"{filename}: {refusal.message}")


@portal_page()
def document_table(request: HttpRequest) -> HttpResponse:
    return page(request, "portal/partials/document_table.html", _listing(request))


@portal_page()
def document_detail(request: HttpRequest, document_id: str) -> HttpResponse:
    document = get_object_or_404(Document, pk=document_id)
    form = CallPeriodForm(initial={"period": document.metadata.get("period", "")})
    return document_page(request, document, form)


def document_page(
    request: HttpRequest, document: Document, form: CallPeriodForm, teach: dict | None = None
) -> HttpResponse:
    """The document's page; `teach`: what a refused "Teach a clause type" form held (`passage`, `clause_type`,
    `answer`), shown again with a 400."""
    context = {
        "document": document,
        "metadata": sorted(document.metadata.items()),
        "in_progress": document.status in IN_PROGRESS,
        "period_form": form,
        "clause_types": ClauseType.objects.order_by("name").only("id", "key", "name"),
        "teach": teach or {},
    }
    return page(request, "portal/document.html", context, status=400 if form.errors or teach else 200)


@require_POST
@portal_page()
def document_period(request: HttpRequest, document_id: str) -> HttpResponse:
    """Set or clear the earnings call period a document states (its metadata `period`)."""
    document = get_object_or_404(Document, pk=document_id)
    form = CallPeriodForm(request.POST)
    if not form.is_valid():
        return document_page(request, document, form)
    period = form.cleaned_data["period"]
    try:
        document_update(document=document, metadata={"period": period})
    except Refusal as exc:
        show_rejection(form, exc)
        return document_page(request, document, form)
    messages.success(request, f"Call period set to {period}." if period else "Call period cleared.")
    return redirect("portal:document", document_id=document.pk)


@portal_page()
def document_original(request: HttpRequest, document_id: str) -> HttpResponse:
    document = get_object_or_404(
        Document.objects.only("id", "filename", "content_type", "file"), pk=document_id
    )
    return original_response(document_original_open(tenant=request.tenant, document=document))


@portal_page()
def document_page_image(request: HttpRequest, document_id: str, page_number: int) -> HttpResponse:
    """A PDF's or scanned image's page image. The browser may keep it but asks again on every view (`private,
    no-cache`), so a member gets a 304 by its ETag and a browser signed out, or a member who lost access, gets
    nothing."""
    document = get_object_or_404(Document.objects.defer("text"), pk=document_id)
    tag = f'"{document.sha256[:32]}-{page_number}-{PAGE_IMAGE_DPI}"'
    response = get_conditional_response(request, etag=tag)
    if response is None:
        try:
            image = page_image(document, page_number)
        except LookupError:
            raise Http404("no such page") from None
        except LimitExceeded as exc:
            return HttpResponse(str(exc), status=413, content_type="text/plain")
        response = HttpResponse(image, content_type="image/png")
    response["ETag"] = tag
    response["Cache-Control"] = "private, no-cache"
    return response


@require_POST
@portal_page()
def document_remove(request: HttpRequest, document_id: str) -> HttpResponse:
    document = get_object_or_404(Document, pk=document_id)
    document_delete(document=document)
    messages.success(request, f"Deleted {document.filename}.")
    return redirect("portal:documents")
