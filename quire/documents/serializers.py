from rest_framework import serializers

from quire.api.serializers import StrictSerializer
from quire.documents.models import Document


class DocumentSerializer(serializers.ModelSerializer):
    object = serializers.SerializerMethodField()

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
            "metadata",
            "created_at",
            "updated_at",
        ]

    def get_object(self, obj: Document) -> str:
        return "document"


class DocumentTextCreateSerializer(StrictSerializer):
    text = serializers.CharField(allow_blank=False, trim_whitespace=False)
    filename = serializers.CharField(max_length=255, default="document.txt")
