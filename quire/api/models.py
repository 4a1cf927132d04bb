from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q


class IdempotencyRecord(models.Model):
    """The first response to a write sent with an `Idempotency-Key`, replayed byte for byte for 24 hours."""

    key = models.CharField(max_length=255, unique=True)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    content_type = models.CharField(max_length=100, blank=True)
    # The API version that rendered the response, which a replay names in its `Quire-Version`; blank where an
    # older release stored it.
    quire_version = models.CharField(max_length=10, blank=True)
    response_text = models.TextField(blank=True)
    # The documents the response names (`document_ids_in`), which a document's deletion looks up instead of
    # reading every response; null where an older release stored it, which the deletion reads as before.
    document_ids = ArrayField(models.CharField(max_length=40), null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [
            GinIndex(fields=["document_ids"], name="response_document_ids"),
            models.Index(fields=["id"], condition=Q(document_ids__isnull=True), name="response_unindexed"),
        ]

    def __str__(self) -> str:
        return self.key
