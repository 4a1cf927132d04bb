from functools import partial

from django.db import models

from tenants.identifiers import new_id


class DocumentStatus(models.TextChoices):
    PENDING = "pending"
    PARSING = "parsing"
    EMBEDDING = "embedding"
    READY = "ready"
    FAILED = "failed"


class Document(models.Model):
    """One uploaded file, stored once per tenant by its SHA-256, and its normalised text."""

    id = models.CharField(primary_key=True, max_length=40, default=partial(new_id, "doc"), editable=False)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    sha256 = models.CharField(max_length=64, unique=True)
    size_bytes = models.PositiveBigIntegerField()
    file = models.FileField(upload_to="documents/%Y/%m/")
    status = models.CharField(max_length=16, choices=DocumentStatus.choices, default=DocumentStatus.PENDING)
    failure_reason = models.TextField(blank=True)
    text = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["created_at"]), models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"{self.id} {self.filename}"
