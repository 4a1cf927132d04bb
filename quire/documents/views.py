from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet, prefetch_related_objects
from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiRequest, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView, RetrieveDestroyAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.refusals import ErrorCode, Refusal
from quire.api.expand import expanded
from quire.api.idempotency import idempotent
from quire.api.lookups import FoundDetail, found
from quire.api.metadata import metadata_folded
from quire.api.negotiation import AnyFileNegotiation, FileNegotiation
from quire.api.pagination import ListFilter, filter_value, query_values
from quire.api.parsers import UNNAMED, JSONParser, PathKeepingMultiPartParser
from quire.api.serializers import DeletedSerializer, MetadataUpdateSerializer
from quire.documents.limits import LimitExceeded
from quire.documents.models import Document, DocumentStatus
from quire.documents.pages import page_image
from quire.documents.selectors import document_tables, document_text_window, search_chunks
from quire.documents.serializers import (
    WITH_ATTACHMENTS,
    CountedDocumentSerializer,
    DocumentBatchSerializer,
    DocumentSerializer,
    DocumentTableListSerializer,
    DocumentTextCreateSerializer,
    DocumentTextSerializer,
    DocumentUploadSerializer,
    SearchHitSerializer,
    SearchResultSerializer,
    SearchSerializer,
    TextRangeSerializer,
    documents_as_shown,
)
from quire.documents.services import (
    Original,
    document_batch_create,
    document_create,
    document_delete,
    document_original_open,
    document_update,
)
from quire.documents.sniffing import PAGED
from quire.documents.uploads import Upload, holds_files


def _create(
    request: Request,
    content: bytes,
    filename: str,
    declared_type: str | None,
    param: str,
    metadata: dict | None,
) -> Response:
    result = document_create(
        tenant=request.tenant,
        content=content,
        filename=filename,
        declared_type=declared_type,
        max_bytes=settings.QUIRE_MAX_DOCUMENT_BYTES,
        content_param=param,
        metadata=metadata,
    )
    code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
    return Response(DocumentSerializer(result.document).data, status=code)


def _create_batch(request: Request, files: list[Upload], metadata: dict | None) -> Response:
    batch = document_batch_create(
        tenant=request.tenant,
        uploads=files,
        max_bytes=settings.QUIRE_MAX_DOCUMENT_BYTES,
        metadata=metadata,
    )
    documents = [created.document for _, created in batch.documents]
    prefetch_related_objects(documents, *WITH_ATTACHMENTS)
    body = {
        "id": batch.id,
        "object": "document_batch",
        "data": [
            {**row, "created": created.created, "uploaded_as": uploaded_as}
            for row, (uploaded_as, created) in zip(
                DocumentSerializer(documents, many=True).data, batch.documents, strict=True
            )
        ],
        "refused": [
            {"filename": filename, "code": refusal.code.value, "message": refusal.message}
            for filename, refusal in batch.refused
        ],
    }
    return Response(body, status=status.HTTP_201_CREATED)


class DocumentListCreateView(ListAPIView):
    serializer_class = CountedDocumentSerializer
    queryset = documents_as_shown()
    parser_classes = [JSONParser, PathKeepingMultiPartParser]
    filter_backends = [ListFilter]
    list_filters = {"status": DocumentStatus.values}

    @extend_schema(
        parameters=[
            OpenApiParameter("batch_id", str, description="Only the documents this upload batch created."),
            OpenApiParameter("parent", str, description="Only the attachments of this e-mail document."),
        ]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        expanded(request.query_params, (), "document list")
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        rows = super().get_queryset()
        if value := filter_value(self.request, "batch_id"):
            rows = rows.filter(batch_id=value)
        if value := filter_value(self.request, "parent"):
            rows = rows.filter(attached_to=value)
        return rows

    @extend_schema(
        request={
            "application/json": DocumentTextCreateSerializer,
            "multipart/form-data": OpenApiRequest(
                DocumentUploadSerializer, encoding={"metadata": {"style": "deepObject", "explode": True}}
            ),
        },
        responses={
            201: PolymorphicProxySerializer(
                component_name="DocumentOrBatch",
                serializers=[DocumentSerializer, DocumentBatchSerializer],
                resource_type_field_name=None,
            ),
            200: DocumentSerializer,
        },
        description=(
            "Create a document from JSON text or a multipart file (`metadata[key]=value` fields carry its "
            "metadata). The same bytes sent again return the stored document unchanged, with 200: its "
            "metadata is not touched (change it with `POST /v1/documents/{id}`). Several `file` fields, or "
            "a ZIP, create one document per file and answer 201 with a `document_batch`: its `id` (the "
            "documents' `batch_id`), the documents, and the files `refused` with their reasons."
        ),
    )
    @idempotent
    def post(self, request: Request) -> Response:
        if request.content_type.startswith("multipart/"):
            form = metadata_folded(request.data)
            if isinstance(form, dict):
                form["file"] = request.FILES.getlist("file")
            payload = DocumentUploadSerializer(data=form)
            payload.is_valid(raise_exception=True)
            uploads = payload.validated_data["file"]
            declared = payload.validated_data.get("content_type")
            metadata = payload.validated_data.get("metadata")
            files = [
                Upload(
                    getattr(upload, "client_path", None) or upload.name or UNNAMED,
                    upload.read(),
                    declared or upload.content_type,
                )
                for upload in uploads
            ]
            if len(files) == 1 and not holds_files(files[0].content):
                only = files[0]
                if len(only.content) > settings.QUIRE_MAX_DOCUMENT_BYTES:
                    raise Refusal(
                        ErrorCode.DOCUMENT_TOO_LARGE, "The document is larger than the size limit.", "file"
                    )
                return _create(request, only.content, only.filename, only.declared_type, "file", metadata)
            return _create_batch(request, files, metadata)
        payload = DocumentTextCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        return _create(
            request,
            data["text"].encode("utf-8"),
            data["filename"],
            data.get("content_type"),
            "text",
            data.get("metadata"),
        )


class DocumentDetailView(FoundDetail, RetrieveDestroyAPIView):
    """GET reads no text (integrators poll it while a document ingests); updates and deletes load the row."""

    lookup_url_kwarg = "document_id"
    noun = "document"

    def get_queryset(self) -> QuerySet[Document]:
        if self.request.method == "GET":
            return documents_as_shown()
        return Document.objects.prefetch_related(*WITH_ATTACHMENTS)

    def get_serializer_class(self) -> type[DocumentSerializer]:
        return CountedDocumentSerializer if self.request.method == "GET" else DocumentSerializer

    def get(self, request: Request, *args, **kwargs) -> Response:
        expanded(request.query_params, (), "document")
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="documents_update", request=MetadataUpdateSerializer, responses={200: DocumentSerializer}
    )
    @idempotent
    def post(self, request: Request, document_id: str) -> Response:
        changes = MetadataUpdateSerializer.validated(request.data)
        document = document_update(document=self.get_object(), **changes)
        return Response(DocumentSerializer(document).data)

    @extend_schema(responses={200: DeletedSerializer})
    @idempotent
    def delete(self, request: Request, document_id: str) -> Response:
        document = self.get_object()
        document_delete(document=document)
        return Response({"id": document_id, "object": "document", "deleted": True})


class DocumentTextView(APIView):
    @extend_schema(parameters=[TextRangeSerializer], responses={200: DocumentTextSerializer})
    def get(self, request: Request, document_id: str) -> Response:
        fields = ("id", "page_starts", "status")
        document = found(Document.objects.only(*fields), document_id, noun="document", param="document_id")
        params = TextRangeSerializer(data=query_values(request))
        params.is_valid(raise_exception=True)
        window = document_text_window(
            document=document, start=params.validated_data.get("start"), end=params.validated_data.get("end")
        )
        return Response(
            {"document_id": document.id, "object": "document_text", "status": document.status, **window}
        )


def original_response(original: Original) -> FileResponse:
    """The stored file as an attachment under its name (`filename*` for one that is not ASCII), never cached."""
    response = FileResponse(
        original.file, as_attachment=True, filename=original.filename, content_type=original.content_type
    )
    response["Cache-Control"] = "private, no-store"
    return response


class DocumentContentView(APIView):
    content_negotiation_class = AnyFileNegotiation

    @extend_schema(
        operation_id="documents_content",
        responses={(200, "*/*"): OpenApiTypes.BINARY},
        description="The file as uploaded, byte for byte, under its `content_type`, as an attachment named by "
        "its `filename`. Each download is recorded in the audit log (`export.create`, `document`).",
    )
    def get(self, request: Request, document_id: str) -> FileResponse:
        fields = ("id", "filename", "content_type", "file")
        document = found(Document.objects.only(*fields), document_id, noun="document", param="document_id")
        return original_response(document_original_open(tenant=request.tenant, document=document))


class DocumentPageImageView(APIView):
    content_negotiation_class = FileNegotiation
    file_media_type = "image/png"

    @extend_schema(
        operation_id="documents_page_image",
        responses={(200, "image/png"): OpenApiTypes.BINARY},
        description="Page `page` (from 1) of a PDF document, or of a scanned image (PNG, JPEG, TIFF, GIF, BMP, "
        "WebP, HEIC), as a PNG at 100 dpi, the image a span's `boxes` (in PDF points from the page's top left) lie over "
        "once scaled by 100/72. Rendered once and kept. A document of another type, or a page it does not have, "
        "is a 404 naming `page`.",
    )
    def get(self, request: Request, document_id: str, page: int) -> HttpResponse:
        fields = ("id", "content_type", "page_starts", "file", "status")
        document = found(Document.objects.only(*fields), document_id, noun="document", param="document_id")
        try:
            image = page_image(document, page)
        except LookupError:
            if document.content_type not in PAGED:
                pages = "no page images"
            elif document.page_count:
                pages = f"pages 1 to {document.page_count}"
            else:
                pages = f"none read (it is {document.status})"
            raise Refusal(
                ErrorCode.RESOURCE_MISSING,
                f"Document {document.id} has no page {page}; it has {pages}.",
                "page",
            ) from None
        except LimitExceeded as exc:
            raise Refusal(exc.code, f"Page {page} is too large to render: {exc}.", "page") from None
        return HttpResponse(
            image, content_type="image/png", headers={"Cache-Control": "private, max-age=3600"}
        )


class DocumentTablesView(APIView):
    @extend_schema(responses={200: DocumentTableListSerializer})
    def get(self, request: Request, document_id: str) -> Response:
        fields = ("id", "text", "page_starts", "tables")
        document = found(Document.objects.only(*fields), document_id, noun="document", param="document_id")
        return Response({"object": "list", "document_id": document.id, "data": document_tables(document)})


class SearchView(APIView):
    required_roles = {"POST": "viewer"}

    @extend_schema(request=SearchSerializer, responses={200: SearchResultSerializer})
    def post(self, request: Request) -> Response:
        payload = SearchSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        document_ids = data.get("documents")
        skipped = []
        if document_ids:
            statuses = dict(Document.objects.filter(pk__in=document_ids).values_list("pk", "status"))
            missing = [(i, d) for i, d in enumerate(document_ids) if d not in statuses]
            if missing:
                index, document_id = missing[0]
                raise Refusal(ErrorCode.RESOURCE_MISSING, f"No document {document_id}.", f"documents.{index}")
            skipped = [
                {"id": d, "status": statuses[d]}
                for d in dict.fromkeys(document_ids)
                if statuses[d] != DocumentStatus.READY
            ]
        hits = search_chunks(query=data["query"], k=data["k"], document_ids=document_ids)
        return Response(
            {
                "object": "list",
                "data": SearchHitSerializer(hits, many=True).data,
                "skipped_documents": skipped,
            }
        )
