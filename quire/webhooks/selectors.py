"""Reads for webhooks: the delivery log."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from quire.webhooks.models import Delivery, DeliveryAttempt


def deliveries_with_attempts(*, endpoint_id: str | None = None, event_id: str | None = None) -> QuerySet:
    """Deliveries with their event and their attempts, in the order they were made."""
    attempts = Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("number"))
    rows = Delivery.objects.select_related("event").prefetch_related(attempts)
    if endpoint_id is not None:
        rows = rows.filter(endpoint_id=endpoint_id)
    if event_id is not None:
        rows = rows.filter(event_id=event_id)
    return rows
