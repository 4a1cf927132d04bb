from celery import shared_task

from quire.documents.services import document_ingest


@shared_task(name="quire.documents.ingest_document", bind=True, max_retries=3)
def ingest_document(self, document_id: str) -> str:
    return document_ingest(document_id=document_id).status
