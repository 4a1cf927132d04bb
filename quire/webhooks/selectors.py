"""Reads for webhooks: the delivery log."""

from __future__ import annotations

from django.db.models import QuerySet

from quire.webhooks.models import Delivery


def deliveries_with_attempts(*, endpoint_id: str | None = None, event_id: str | None = None) -> QuerySet:
    rows = Delivery.objects.select_related("event").prefetch_related("attempt_log")
    if endpoint_id is not None:
        rows = rows.filter(endpoint_id=endpoint_id)
    if event_id is not None:
        rows = rows.filter(event_id=event_id)
    return rows
