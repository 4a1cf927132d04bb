from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tenants.models import ApiKey, Role


@extend_schema_field(OpenApiTypes.STR)
class ObjectNameField(serializers.Field):
    """The read-only `object` member every resource carries: the name of its kind ("document", "job", ...)."""

    def __init__(self, object_name: str, **kwargs) -> None:
        self.object_name = object_name
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value) -> str:
        return self.object_name


class StrictSerializer(serializers.Serializer):
    """Rejects fields it does not know, so a typo is an error rather than silently ignored."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {unknown[0]: [serializers.ErrorDetail("Unknown field.", "unknown_field")]}
                )
        return super().to_internal_value(data)


class ApiKeySerializer(serializers.ModelSerializer):
    object = ObjectNameField("api_key")

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "object",
            "name",
            "role",
            "version",
            "display_prefix",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]


class ApiKeyCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    role = serializers.ChoiceField(choices=[Role.ADMIN, Role.DEVELOPER, Role.VIEWER], default=Role.DEVELOPER)


class IssuedApiKeySerializer(ApiKeySerializer):
    secret = serializers.CharField(read_only=True)

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "secret"]
