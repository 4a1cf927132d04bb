from __future__ import annotations

from datetime import datetime
from functools import partial

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tenants.crypto import EncryptedTextField
from tenants.identifiers import new_id

EVENT_TYPES = (
    "job.succeeded",
    "job.failed",
    "job.canceled",
    "document.ready",
    "document.failed",
    "clause_type.ready",
    "clause_type.failed",
    "usage.threshold",
    "model.changed",
    "webhook.test",
)
ALL_EVENTS = "*"


class EndpointStatus(models.TextChoices):
    ENABLED = "enabled"
    DISABLED = "disabled"


class WebhookEndpoint(models.Model):
    """A tenant's receiver URL and the event types it wants. `secret` signs every delivery; the secrets
    rotations replaced (`retired_secrets`) sign too, each until its own expiry."""

    id = models.CharField(primary_key=True, max_length=40, default=partial(new_id, "whk"), editable=False)
    url = models.URLField(max_length=2048)
    description = models.CharField(max_length=255, blank=True)
    event_types = models.JSONField(default=list)
    secret = EncryptedTextField()
    status = models.CharField(max_length=16, choices=EndpointStatus.choices, default=EndpointStatus.ENABLED)
    disabled_reason = models.CharField(max_length=255, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"{self.id} {self.url}"

    def wants(self, event_type: str) -> bool:
        return ALL_EVENTS in self.event_types or event_type in self.event_types

    def secrets_retired_signing(self, at: datetime) -> list[RetiredSecret]:
        """The secrets rotations replaced that still sign at `at`, the most recently replaced first."""
        signing = [r for r in self.retired_secrets.all() if r.expires_at > at]
        return sorted(signing, key=lambda r: r.pk, reverse=True)

    @property
    def previous_secret_expires_at(self) -> datetime | None:
        """When the last replaced secret stops signing; None when only `secret` signs."""
        return max((r.expires_at for r in self.secrets_retired_signing(timezone.now())), default=None)


class RetiredSecret(models.Model):
    """A secret a rotation replaced, signing beside the endpoint's current one until `expires_at`."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="retired_secrets")
    secret = EncryptedTextField()
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.endpoint_id} secret until {self.expires_at:%Y-%m-%d %H:%M}"


class Event(models.Model):
    """Written in the same transaction as the change it reports (the outbox)."""

    id = models.CharField(primary_key=True, max_length=40, default=partial(new_id, "evt"), editable=False)
    type = models.CharField(max_length=64)
    data = models.JSONField()
    # The documents `data` names (`document_ids_in`), which a document's deletion looks up instead of reading
    # every event; null where an older release wrote the event, which the deletion reads as before.
    document_ids = ArrayField(models.CharField(max_length=40), null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["created_at"]),
            models.Index(fields=["type"]),
            GinIndex(fields=["document_ids"], name="event_document_ids"),
            models.Index(fields=["id"], condition=Q(document_ids__isnull=True), name="event_unindexed"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.type}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Delivery(models.Model):
    """One event to one endpoint, retried on schedule until it succeeds or the schedule runs out.
    `lease_until` marks an attempt in flight; `dispatched_at` when a task was last queued for it;
    `redispatches` how many times the sweep queued it again since an attempt last began."""

    id = models.CharField(primary_key=True, max_length=40, default=partial(new_id, "dlv"), editable=False)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    redispatches = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True)
    is_replay = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["created_at"]),
            models.Index(fields=["status", "next_attempt_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.event_id} -> {self.endpoint_id} {self.status}"


class AttemptStatus(models.TextChoices):
    IN_FLIGHT = "in_flight"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class DeliveryAttempt(models.Model):
    """The delivery log: one row per HTTP attempt, written when it starts and completed when it ends
    (an attempt whose worker died stays visible as `interrupted`)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=AttemptStatus.choices, default=AttemptStatus.IN_FLIGHT)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    error = models.CharField(max_length=255, blank=True)
    response_excerpt = models.TextField(blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="unique_delivery_attempt_number")
        ]

    def __str__(self) -> str:
        return f"{self.delivery_id}#{self.number} {self.status}"


class EndpointNotification(models.Model):
    """An e-mail sent to the tenant's owners and admins about an endpoint (e.g. that it was disabled)."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=32)
    recipients = models.JSONField(default=list)
    subject = models.CharField(max_length=255)
    sent_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.kind} for {self.endpoint_id}"


class AnnouncedModel(models.Model):
    """The version and status of a shipped model (`GET /v1/models`) as the workspace was last told of it;
    `quire.webhooks.services.models_announce_changes` publishes `model.changed` when the deployment's differ."""

    model_id = models.CharField(primary_key=True, max_length=64)
    version = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16)
    announced_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.model_id} {self.version} {self.status}"
