import logging

from celery import shared_task
from django.db import connection

from quire.documents.services import (
    DOCUMENT_INGEST_TASK,
    DOCUMENTS_REQUEUE_STUCK_TASK,
    document_fail,
    document_ingest,
    documents_requeue_stuck,
)
from tenants.services import for_each_tenant

logger = logging.getLogger(__name__)


@shared_task(name=DOCUMENT_INGEST_TASK)
def document_ingest_task(document_id: str) -> str:
    try:
        return document_ingest(tenant=connection.tenant, document_id=document_id).status
    except Exception as exc:
        logger.exception("ingest failed for %s", document_id)
        document_fail(document_id=document_id, reason=f"internal error while ingesting: {type(exc).__name__}")
        return "failed"


@shared_task(name=DOCUMENTS_REQUEUE_STUCK_TASK)
def documents_requeue_stuck_task() -> int:
    """Beat: queue ingestion again for documents stuck in parsing or embedding, in every tenant."""
    return sum(for_each_tenant(lambda tenant: documents_requeue_stuck()))
