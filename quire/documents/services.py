"""Writes for documents: create (deduplicated by SHA-256), ingest state changes."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from quire.documents.models import Document, DocumentStatus


@dataclass(frozen=True)
class CreatedDocument:
    document: Document
    created: bool


def document_create(*, content: bytes, filename: str, content_type: str) -> CreatedDocument:
    digest = hashlib.sha256(content).hexdigest()
    existing = Document.objects.filter(sha256=digest).first()
    if existing is not None:
        return CreatedDocument(existing, created=False)
    document = Document(filename=filename, content_type=content_type, sha256=digest, size_bytes=len(content))
    document.file.save(f"{digest}", ContentFile(content), save=False)
    try:
        with transaction.atomic():
            document.save()
    except IntegrityError:
        document.file.delete(save=False)
        return CreatedDocument(Document.objects.get(sha256=digest), created=False)
    from quire.documents.tasks import ingest_document

    transaction.on_commit(lambda: ingest_document.delay(document.id))
    return CreatedDocument(document, created=True)


def normalise_text(text: str) -> str:
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))


def document_ingest(*, document_id: str) -> Document:
    document = Document.objects.get(pk=document_id)
    if document.status == DocumentStatus.READY:
        return document
    Document.objects.filter(pk=document.pk).update(status=DocumentStatus.PARSING)
    try:
        with document.file.open("rb") as handle:
            raw = handle.read()
        text = normalise_text(raw.decode("utf-8"))
    except (UnicodeDecodeError, OSError) as exc:
        document.status, document.failure_reason = DocumentStatus.FAILED, f"could not read text: {exc}"
    else:
        document.status, document.text, document.failure_reason = DocumentStatus.READY, text, ""
    document.save(update_fields=["status", "text", "failure_reason", "updated_at"])
    return document
