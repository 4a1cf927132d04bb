from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from quire.api.serializers import ObjectNameField, ResourceSerializer, StrictSerializer, UpdateSerializer
from quire.webhooks.models import ALL_EVENTS, EVENT_TYPES, Delivery, DeliveryAttempt, Event, WebhookEndpoint
from quire.webhooks.services.endpoints import MAX_GRACE_SECONDS

DEFAULT_GRACE_SECONDS = 86_400
AT_LEAST_ONE_EVENT_TYPE = {"min_length": "Name at least one event type."}


@extend_schema_field({"type": "string", "enum": [*EVENT_TYPES, ALL_EVENTS]})
class EventTypeField(serializers.CharField):
    """An event type, or `*` for every one."""


class EndpointCreateSerializer(StrictSerializer):
    url = serializers.URLField(max_length=2048)
    event_types = serializers.ListField(
        child=EventTypeField(max_length=64),
        min_length=1,
        max_length=50,
        error_messages=AT_LEAST_ONE_EVENT_TYPE,
    )
    description = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)


class EndpointUpdateSerializer(UpdateSerializer):
    url = serializers.URLField(max_length=2048, required=False)
    event_types = serializers.ListField(
        child=EventTypeField(max_length=64),
        min_length=1,
        max_length=50,
        required=False,
        error_messages=AT_LEAST_ONE_EVENT_TYPE,
    )
    description = serializers.CharField(max_length=255, required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)


class RotateSecretSerializer(StrictSerializer):
    grace_period_seconds = serializers.IntegerField(
        min_value=0, max_value=MAX_GRACE_SECONDS, default=DEFAULT_GRACE_SECONDS
    )


class ReplaySerializer(StrictSerializer):
    endpoint = serializers.CharField(max_length=40, required=False)


class EndpointSerializer(ResourceSerializer):
    object = ObjectNameField("webhook_endpoint")
    previous_secret_expires_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When the last secret a rotation replaced stops signing; null when only the current one signs.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "object",
            "url",
            "description",
            "event_types",
            "status",
            "disabled_reason",
            "disabled_at",
            "failing_since",
            "previous_secret_expires_at",
            "created_at",
            "updated_at",
        ]


class EndpointWithSecretSerializer(EndpointSerializer):
    """Only in the answer to create and rotate: the secret is shown once."""

    secret = serializers.CharField()

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]


class AttemptSerializer(ResourceSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = [
            "number",
            "status",
            "status_code",
            "latency_ms",
            "error",
            "response_excerpt",
            "started_at",
            "finished_at",
        ]


class DeliverySerializer(ResourceSerializer):
    object = ObjectNameField("webhook_delivery")
    event = serializers.CharField(source="event_id")
    event_type = serializers.CharField(source="event.type")
    endpoint = serializers.CharField(source="endpoint_id")
    attempt_log = AttemptSerializer(many=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "object",
            "event",
            "event_type",
            "endpoint",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "is_replay",
            "created_at",
            "delivered_at",
            "attempt_log",
        ]


class EventSerializer(ResourceSerializer):
    object = ObjectNameField("event")

    class Meta:
        model = Event
        fields = ["id", "object", "type", "data", "created_at"]
