"""Quire's routes plus the baseline of `benchmarks/api_overhead.py`: a bare Django view (no DRF, no
authentication, no rate limit, no version) that does the same ORM read as `GET /v1/documents/{id}` in the
benchmark tenant's schema and answers the same fields as JSON. It lives under `/healthz/` so that, like the
liveness probe, the routing middleware looks no host up."""

from __future__ import annotations

from functools import cache

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path

from quire.documents.models import Document
from quire.urls import handler400, handler403, handler404, handler500
from quire.urls import urlpatterns as quire_urlpatterns
from tenants.models import Tenant

BENCH_TENANT = "bench"


@cache
def _tenant() -> Tenant:
    return Tenant.objects.get(slug=BENCH_TENANT)


def bare_document(request: HttpRequest, document_id: str) -> JsonResponse:
    connection.set_tenant(_tenant())
    document = Document.objects.get(pk=document_id)
    return JsonResponse(
        {
            "id": document.pk,
            "object": "document",
            "filename": document.filename,
            "content_type": document.content_type,
            "sha256": document.sha256,
            "size_bytes": document.size_bytes,
            "status": document.status,
            "failure_reason": document.failure_reason,
            "char_count": document.char_count,
            "page_count": document.page_count,
            "chunk_count": document.chunk_count,
            "token_estimate": document.token_estimate,
            "metadata": document.metadata,
            "created_at": document.created_at.isoformat(),
            "updated_at": document.updated_at.isoformat(),
        }
    )


urlpatterns = [path("healthz/document/<str:document_id>", bare_document), *quire_urlpatterns]
__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
