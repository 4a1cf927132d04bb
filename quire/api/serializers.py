from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.env import OCR_PICTURES
from quire.api.metadata import MAX_KEY_LENGTH, MAX_KEYS, MAX_VALUE_LENGTH, metadata_folded
from tenants.models import API_KEY_ROLES, RETENTION_DAYS_MAX, ActorType, ApiKey, AuditEvent, Role, Tenant

METADATA_SCHEMA = {
    "type": "object",
    "maxProperties": MAX_KEYS,
    "additionalProperties": {"type": "string", "maxLength": MAX_VALUE_LENGTH},
    "description": (
        f"Your own key-value pairs: at most {MAX_KEYS} keys of at most {MAX_KEY_LENGTH} characters, string "
        f"values of at most {MAX_VALUE_LENGTH} characters. On update, keys are merged into the stored "
        "metadata and an empty string deletes a key."
    ),
}


class ResourceSerializer(serializers.ModelSerializer):
    """A ModelSerializer that builds its fields from the model once per class and hands each instance a copy:
    building them (model introspection, every request) costs more than the rest of a small object's
    serialisation."""

    def get_fields(self) -> dict[str, serializers.Field]:
        built = type(self).__dict__.get("_built_fields")
        if built is None:
            built = super().get_fields()
            type(self)._built_fields = built
        return copy.deepcopy(built)


@extend_schema_field(OpenApiTypes.STR)
class ObjectNameField(serializers.Field):
    """The read-only `object` member every resource carries: the name of its kind ("document", "job", ...)."""

    def __init__(self, object_name: str, **kwargs) -> None:
        self.object_name = object_name
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value) -> str:
        return self.object_name


@extend_schema_field(METADATA_SCHEMA)
class MetadataField(serializers.JSONField):
    """`metadata` in requests and responses. The field passes the JSON through; the services check it with
    `quire.api.metadata.metadata_merged`, so every way in (API, portal, commands) has the same limits."""


class NamedChoiceField(serializers.ChoiceField):
    """A choice whose refusal names the choices: '"fast" is not one of: analyzers, model.'"""

    def __init__(self, choices, **kwargs) -> None:
        super().__init__(choices, **kwargs)
        named = ", ".join(str(choice) for choice in self.choices)
        self.error_messages["invalid_choice"] = f'"{{input}}" is not one of: {named}.'

    def fail(self, key: str, **kwargs) -> None:
        """Refuse, quoting at most the first 40 characters of the value refused (a 100,000-item list sent as a
        choice was echoed whole)."""
        if "input" in kwargs:
            shown = str(kwargs["input"])
            kwargs["input"] = shown if len(shown) <= 40 else f"{shown[:40]}... ({len(shown)} characters)"
        super().fail(key, **kwargs)


def unknown_field_message(name: str, fields: Mapping[str, serializers.Field]) -> str:
    """'Unknown field "document_ids". Did you mean "documents"? The fields are: connector, documents, ...'"""
    known = [key for key, field in fields.items() if not field.read_only]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f' Did you mean "{close[0]}"?' if close else ""
    return f'Unknown field "{name}".{hint} The fields are: {", ".join(known)}.'


class StrictSerializer(serializers.Serializer):
    """Rejects fields it does not know, so a typo is an error rather than silently ignored."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                message = unknown_field_message(str(unknown[0]), self.fields)
                raise serializers.ValidationError(
                    {unknown[0]: [serializers.ErrorDetail(message, "unknown_field")]}
                )
        return super().to_internal_value(data)


class UpdateSerializer(StrictSerializer):
    """The body of a change to an object that exists: a field left out leaves what it names as it is, in a form
    or multipart body too. Bound partial when it reads a body, since DRF reads a boolean missing from a form
    body as false (and a multiple choice as empty) unless the serializer is partial; built without data (the
    OpenAPI schema), it is not, so its component keeps its name rather than drf-spectacular's `Patched...`."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("partial", "data" in kwargs)
        super().__init__(*args, **kwargs)


class MetadataUpdateSerializer(UpdateSerializer):
    """The body of `POST /v1/<objects>/{id}`: what may change on an object after it was created."""

    metadata = MetadataField(required=False)

    @classmethod
    def validated(cls, data: object) -> dict:
        """The changes in a JSON or form body (`metadata[key]=value` fields), as the update services take
        them."""
        payload = cls(data=metadata_folded(data))
        payload.is_valid(raise_exception=True)
        return payload.validated_data


class ApiKeySerializer(ResourceSerializer):
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
    role = NamedChoiceField(choices=list(API_KEY_ROLES), default=Role.DEVELOPER)


class ApiKeyUpdateSerializer(UpdateSerializer):
    role = NamedChoiceField(choices=list(API_KEY_ROLES), required=False)
    version = serializers.CharField(
        required=False, help_text="An API version the key's requests use from now on (`Quire-Version`)."
    )


class IssuedApiKeySerializer(ApiKeySerializer):
    secret = serializers.CharField(read_only=True)

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "secret"]


class HealthCheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    latency_ms = serializers.FloatField(required=False, help_text="When it answered.")
    error = serializers.CharField(required=False, help_text="When it did not: what failed.")
    same_as = serializers.CharField(required=False, help_text="The broker when it is that same server.")


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="`ok`.")
    tenant = serializers.CharField(help_text="The key's workspace (`ten_...`).")
    checks = serializers.DictField(
        child=HealthCheckSerializer(), help_text="`database`, `redis` and `broker`, each with its check."
    )


OCR_PICTURES_HELP = (
    "When the pictures of the workspace's Word documents, workbooks and decks are read by OCR: "
    f"{', '.join(OCR_PICTURES)} (only when one has almost no words of its own, beside its text too, or not at "
    "all). A document's `metadata.ocr_pictures` comes first"
)


class WorkspaceSerializer(ResourceSerializer):
    id = serializers.CharField(source="public_id", read_only=True)
    object = ObjectNameField("workspace")
    retention_days = serializers.IntegerField(
        allow_null=True,
        help_text="Documents, finished jobs and webhook events older than this many days are purged hourly; "
        "null: kept until deleted.",
    )
    ocr_languages = serializers.CharField(
        help_text="The languages scans are read in (Tesseract's codes joined by '+'); empty: the deployment's. "
        "A document's `metadata.ocr_languages` comes first."
    )
    ocr_languages_available = serializers.SerializerMethodField()
    ocr_pictures = serializers.CharField(help_text=f"{OCR_PICTURES_HELP}; empty: the deployment's.")

    class Meta:
        model = Tenant
        fields = [
            "id",
            "object",
            "name",
            "retention_days",
            "ocr_languages",
            "ocr_languages_available",
            "ocr_pictures",
            "created_at",
        ]

    def get_ocr_languages_available(self, tenant: Tenant) -> list[str]:
        """The languages this deployment reads (`QUIRE_INGEST_OCR_LANGUAGES`), which `ocr_languages` joins."""
        return settings.QUIRE_INGEST_OCR_LANGUAGES.split("+")


class WorkspaceUpdateSerializer(UpdateSerializer):
    """Only the shapes: `tenants.services.tenant_settings_update` holds the rules, for the portal and commands too."""

    retention_days = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text=f"1 to {RETENTION_DAYS_MAX} days, or null to keep everything.",
    )
    ocr_languages = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Tesseract's codes joined by '+', each one of `ocr_languages_available`; empty for the "
        "deployment's.",
    )
    ocr_pictures = serializers.CharField(
        required=False, allow_blank=True, help_text=f"{OCR_PICTURES_HELP}; empty for the deployment's."
    )


class DeletedSerializer(serializers.Serializer):
    """What a DELETE answers: the object's id and kind, and `deleted: true`."""

    id = serializers.CharField()
    object = serializers.CharField()
    deleted = serializers.BooleanField()


class AuditEventSerializer(ResourceSerializer):
    object = ObjectNameField("audit_event")
    actor = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "object",
            "action",
            "object_type",
            "object_id",
            "actor",
            "ip",
            "request_id",
            "details",
            "created_at",
        ]

    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": [choice.value for choice in ActorType]},
                "id": {"type": "string"},
                "role": {"type": "string"},
            },
        }
    )
    def get_actor(self, event: AuditEvent) -> dict:
        return {"type": event.actor_type, "id": event.actor_id, "role": event.actor_label}
