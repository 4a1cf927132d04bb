"""The webhook events documents publish, called inside the transaction that finishes ingestion."""

from __future__ import annotations

from quire.documents.models import Document, DocumentStatus
from quire.documents.serializers import CountedDocumentSerializer, documents_as_shown
from quire.webhooks.models import Event
from quire.webhooks.services import event_publish


def document_finished(*, document: Document) -> Event:
    """`document.ready` or `document.failed` (with `failure_reason`): the row as it stands in the caller's
    transaction, serialised as `GET /v1/documents/{id}` answers it."""
    shown = documents_as_shown().get(pk=document.pk)
    event_type = "document.ready" if shown.status == DocumentStatus.READY else "document.failed"
    return event_publish(event_type=event_type, data=dict(CountedDocumentSerializer(shown).data))
