import logging

from celery import shared_task

from quire.documents.services import DOCUMENT_INGEST_TASK, document_fail, document_ingest

logger = logging.getLogger(__name__)


@shared_task(name=DOCUMENT_INGEST_TASK)
def document_ingest_task(document_id: str) -> str:
    try:
        return document_ingest(document_id=document_id).status
    except Exception as exc:
        logger.exception("ingest failed for %s", document_id)
        document_fail(document_id=document_id, reason=f"internal error while ingesting: {type(exc).__name__}")
        return "failed"
