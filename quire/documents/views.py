from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from quire.api.errors import ApiError
from quire.api.idempotency import idempotent
from quire.documents.models import Document
from quire.documents.serializers import DocumentSerializer, DocumentTextCreateSerializer
from quire.documents.services import document_create


class DocumentListCreateView(ListAPIView):
    serializer_class = DocumentSerializer
    queryset = Document.objects.all()

    @extend_schema(
        request=DocumentTextCreateSerializer, responses={201: DocumentSerializer, 200: DocumentSerializer}
    )
    @idempotent
    def post(self, request: Request) -> Response:
        payload = DocumentTextCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        content = payload.validated_data["text"].encode("utf-8")
        if len(content) > settings.QUIRE_MAX_DOCUMENT_BYTES:
            raise ApiError(413, "document_too_large", "The document is larger than the size limit.", "text")
        result = document_create(
            content=content, filename=payload.validated_data["filename"], content_type="text/plain"
        )
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(DocumentSerializer(result.document).data, status=code)


class DocumentDetailView(RetrieveAPIView):
    serializer_class = DocumentSerializer
    queryset = Document.objects.all()
    lookup_url_kwarg = "document_id"
