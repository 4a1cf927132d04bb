from django.db.models import Prefetch, QuerySet
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from quire.api.serializers import MetadataField, ObjectNameField, ResourceSerializer, StrictSerializer
from quire.documents.models import Document, DocumentStatus, tokens_for

# What DocumentSerializer reads beyond the row, prefetched for a list in two queries.
WITH_ATTACHMENTS = (
    "attachment_links",
    Prefetch("attached_to", queryset=Document.objects.order_by("created_at", "pk").only("pk")),
)


class AttachmentSerializer(serializers.Serializer):
    document_id = serializers.CharField()
    filename = serializers.CharField()


class DocumentSerializer(ResourceSerializer):
    """`attachments`: an e-mail's attachments as sent (the document and the filename it had there), in order;
    `attached_to`: the e-mails that carry this document, oldest first, and `parent` the oldest of them."""

    object = ObjectNameField("document")
    metadata = MetadataField(read_only=True)
    attachments = AttachmentSerializer(source="attachment_links", many=True, read_only=True)
    attached_to = serializers.SerializerMethodField()
    parent = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = [
            "id",
            "object",
            "filename",
            "content_type",
            "sha256",
            "size_bytes",
            "status",
            "failure_reason",
            "char_count",
            "page_count",
            "chunk_count",
            "token_estimate",
            "pages_parsed",
            "pages_total",
            "ocr_pages",
            "ocr_confidence",
            "batch_id",
            "parent",
            "attachments",
            "attached_to",
            "metadata",
            "created_at",
            "updated_at",
        ]

    def get_attached_to(self, document: Document) -> list[str]:
        return [email.pk for email in _emails(document)]

    def get_parent(self, document: Document) -> str | None:
        emails = _emails(document)
        return emails[0].pk if emails else None


class CountedDocumentSerializer(DocumentSerializer):
    """A document whose counts come from its query (`Document.objects.without_text()`), which never reads the
    text: the list and the detail."""

    char_count = serializers.IntegerField(source="counted_char_count", read_only=True)
    page_count = serializers.IntegerField(source="counted_page_count", read_only=True)
    token_estimate = serializers.SerializerMethodField()

    def get_token_estimate(self, document: Document) -> int:
        return tokens_for(document.counted_char_count)


def documents_as_shown() -> QuerySet[Document]:
    """The rows `GET /v1/documents` and `GET /v1/documents/{id}` serialise with `CountedDocumentSerializer`, as
    `document.ready` and `document.failed` do too: without the text, the attachments prefetched."""
    return Document.objects.without_text().prefetch_related(*WITH_ATTACHMENTS)


def _emails(document: Document) -> list[Document]:
    if "attached_to" not in getattr(document, "_prefetched_objects_cache", {}):
        return list(document.attached_to.order_by("created_at", "pk").only("pk"))
    return list(document.attached_to.all())


class DocumentTextCreateSerializer(StrictSerializer):
    text = serializers.CharField(allow_blank=False, trim_whitespace=False)
    filename = serializers.CharField(max_length=255, default="document.txt")
    content_type = serializers.CharField(max_length=100, required=False)
    metadata = MetadataField(required=False)


class DocumentUploadSerializer(StrictSerializer):
    """A multipart upload of one `file` or several (the field repeated), a ZIP among them unpacked into
    one document per file; `metadata` arrives as `metadata[key]=value` fields (see the view). One empty file
    alone is refused here; an empty file of several is refused alone, in the batch's `refused`."""

    file = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        min_length=1,
        error_messages={"min_length": "Attach at least one file."},
    )
    content_type = serializers.CharField(max_length=100, required=False)
    metadata = MetadataField(required=False)

    def validate_file(self, files: list) -> list:
        if len(files) == 1 and not files[0].size:
            message = serializers.FileField.default_error_messages["empty"]
            raise serializers.ValidationError({0: [ErrorDetail(message, code="empty")]})
        return files


CODE_POINTS = "Unicode code points (not bytes, not UTF-16 code units) into the document's stored text"


class TextRangeSerializer(StrictSerializer):
    start = serializers.IntegerField(
        min_value=0, required=False, help_text=f"From this offset, in {CODE_POINTS}."
    )
    end = serializers.IntegerField(
        min_value=0, required=False, help_text=f"To this offset (excluded), in {CODE_POINTS}."
    )


class SearchSerializer(StrictSerializer):
    query = serializers.CharField(max_length=2000)
    k = serializers.IntegerField(min_value=1, max_value=100, default=10)
    documents = serializers.ListField(
        child=serializers.CharField(max_length=40),
        required=False,
        min_length=1,
        max_length=100,
        error_messages={
            "min_length": "List at least one document, or leave documents out to search every document."
        },
    )


class SearchHitSerializer(serializers.Serializer):
    document_id = serializers.CharField()
    chunk_index = serializers.IntegerField()
    start = serializers.IntegerField(help_text=f"The chunk's offset in {CODE_POINTS}.")
    end = serializers.IntegerField(help_text=f"Where the chunk ends (excluded), in {CODE_POINTS}.")
    quote = serializers.CharField()
    score = serializers.FloatField()


class SkippedDocumentSerializer(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.ChoiceField(choices=DocumentStatus.choices)


class SearchResultSerializer(serializers.Serializer):
    object = serializers.ChoiceField(choices=["list"])
    data = SearchHitSerializer(many=True)
    skipped_documents = SkippedDocumentSerializer(
        many=True,
        help_text="The listed documents not searched because they are not ready (still ingesting, or failed), "
        "in the order listed; empty when `documents` was left out.",
    )


class DocumentTextSerializer(serializers.Serializer):
    document_id = serializers.CharField()
    object = serializers.ChoiceField(choices=["document_text"])
    status = serializers.CharField()
    start = serializers.IntegerField()
    end = serializers.IntegerField()
    length = serializers.IntegerField()
    text = serializers.CharField(allow_blank=True)
    page_start = serializers.IntegerField()
    page_end = serializers.IntegerField()


class TableCellSerializer(serializers.Serializer):
    text = serializers.CharField()
    span = serializers.DictField(allow_null=True)


class DocumentTableSerializer(serializers.Serializer):
    object = serializers.CharField(default="table")
    index = serializers.IntegerField()
    page = serializers.IntegerField()
    rows = serializers.ListField(child=TableCellSerializer(many=True))


class DocumentTableListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    document_id = serializers.CharField()
    data = DocumentTableSerializer(many=True)


class RefusedFileSerializer(serializers.Serializer):
    filename = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()


class BatchDocumentSerializer(DocumentSerializer):
    created = serializers.BooleanField(
        read_only=True,
        help_text="Whether this upload created the document (false: the bytes were already stored, by an "
        "earlier upload or an earlier file of this batch, and keep their own `batch_id`).",
    )

    uploaded_as = serializers.CharField(
        read_only=True,
        help_text="The name of the file of this upload that gave this entry (its path in the ZIP, an mbox's "
        "message name): where the bytes were already stored under another name, `filename` is that name.",
    )

    class Meta(DocumentSerializer.Meta):
        fields = [*DocumentSerializer.Meta.fields, "created", "uploaded_as"]


class DocumentBatchSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.ChoiceField(choices=["document_batch"])
    data = BatchDocumentSerializer(many=True)
    refused = RefusedFileSerializer(many=True)
