"""The webhook events documents publish, called inside the transaction that finishes ingestion."""

from __future__ import annotations

from quire.documents.models import Document, DocumentStatus
from quire.documents.serializers import DocumentSerializer
from quire.webhooks.models import Event
from quire.webhooks.services import event_publish


def document_finished(*, document: Document) -> Event:
    """`document.ready` or `document.failed` (with `failure_reason`)."""
    event_type = "document.ready" if document.status == DocumentStatus.READY else "document.failed"
    return event_publish(event_type=event_type, data=dict(DocumentSerializer(document).data))
