"""Writes for documents: create (deduplicated by SHA-256), update metadata, ingest (parse, chunk, embed),
delete (with what the document left in results and payloads) and the retention purge."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.dispatch import Signal
from django.utils import timezone
from redis.exceptions import RedisError

from billing.entitlements import entitlements_for
from common.env import ocr_languages_refused, ocr_pictures_refused
from common.processes import process_gone, process_identity
from common.refusals import ErrorCode, Refusal
from quire.api.idempotency import idempotency_records_rewrite
from quire.api.lookups import found
from quire.api.metadata import metadata_merged
from quire.documents import sniffing
from quire.documents.chunking import ChunkSpan, chunk_text, embedding_texts
from quire.documents.events import document_finished
from quire.documents.layout import Attachment as ParsedAttachment
from quire.documents.limits import ZIP_ERRORS, DeadlinePassed, IngestLimits, LimitExceeded
from quire.documents.models import Attachment, Chunk, Document, DocumentStatus, document_file_name
from quire.documents.ocr import OcrReading
from quire.documents.pages import (
    page_images_delete,
    page_images_folder,
    page_images_folder_delete,
    stored_files_delete,
    stored_folder_delete,
    stored_listing,
)
from quire.documents.parsing import ParsedDocument, ParseError, parse_document
from quire.documents.redaction import Redactor
from quire.documents.uploads import Upload, holds_files, unpacked
from quire.heartbeat import PutOffBeat, TenantHeartbeat
from quire.queueing import marked_requeue, stale_requeue, task_send_or_mark, unseen_requeue
from quire.webhooks.services import events_rewrite
from tenants.audit import audit_record, export_record
from tenants.identifiers import new_id
from tenants.models import Tenant

logger = logging.getLogger(__name__)
DOCUMENT_INGEST_TASK = "quire.documents.document_ingest_task"
DOCUMENTS_REQUEUE_STUCK_TASK = "quire.documents.documents_requeue_stuck_task"
DOCUMENTS_REEMBED_STALE_TASK = "quire.documents.documents_reembed_stale_task"
DOCUMENTS_ORPHANS_DELETE_TASK = "quire.documents.documents_orphans_delete_task"
# A stored file younger than this may belong to an upload whose row has not committed yet.
ORPHAN_MIN_AGE = timedelta(days=1)
STUCK_SWEEP_BATCH = 200
REEMBED_SWEEP_BATCH = 20
# The Redis transport reads priority 0 first and 9 last (kombu's default steps 0, 3, 6, 9).
LOWEST_PRIORITY = 9
FINISHED = (DocumentStatus.READY, DocumentStatus.FAILED)
IN_PROGRESS = (DocumentStatus.PARSING, DocumentStatus.EMBEDDING)
MAINTENANCE_POLL_S = 1.0
# How long the pages a run read by OCR are kept for a run that takes its document over (`OcrPagesKept`).
OCR_KEPT_SECONDS = 24 * 3600


class DocumentTooLarge(Refusal):
    def __init__(self, message: str, param: str | None = None):
        super().__init__(ErrorCode.DOCUMENT_TOO_LARGE, message, param)


class StorageFull(Refusal):
    def __init__(self) -> None:
        super().__init__(
            ErrorCode.STORAGE_FULL, "Quire has no room to store this document right now; try again later."
        )


class ContentTypeMismatch(Refusal):
    def __init__(self, message: str):
        super().__init__(ErrorCode.CONTENT_TYPE_MISMATCH, message, "content_type")


@dataclass(frozen=True)
class CreatedDocument:
    document: Document
    created: bool
    # The bytes were a failed document's, now read again (`document_retry`).
    retried: bool = False


def document_create(
    *,
    tenant: Tenant,
    content: bytes,
    filename: str,
    declared_type: str | None,
    max_bytes: int,
    content_param: str = "text",
    metadata: Mapping[str, str] | None = None,
    batch_id: str = "",
    as_attachment: bool = False,
) -> CreatedDocument:
    """Store the bytes once per tenant, with `metadata` (and the `batch_id` of the upload, or of the e-mail
    that carried it, `as_attachment`), and queue ingestion.

    Refuses metadata that `metadata_merged` refuses, and (naming `content_param`, the input that carried
    the bytes) a document over the smaller of `max_bytes` and the tenant's plan limit, an empty or
    unsupported one, and one whose declared type disagrees with its bytes. The same bytes sent twice
    return the stored document unchanged (`created=False`), whatever metadata came with them, except that
    one stored as an e-mail's attachment and now uploaded on its own no longer counts as an attachment, and
    a failed one is ingested again (`document_retry`)."""
    metadata = metadata_merged({}, metadata or {})
    if not as_attachment:
        _reading_checked(metadata)
    max_bytes = min(max_bytes, entitlements_for(tenant).max_document_bytes)
    if len(content) > max_bytes:
        raise DocumentTooLarge(
            f"the document is {len(content)} bytes; the limit is {max_bytes} bytes", content_param
        )
    if not content.strip():
        raise sniffing.UnsupportedDocument("the document is empty", content_param)
    content_type = sniffing.sniff_content_type(
        content, param=content_param, limits=IngestLimits.from_settings()
    )
    if content_type == sniffing.ZIP:
        raise sniffing.UnsupportedDocument(
            "a ZIP archive of files; POST /v1/documents unpacks it as a batch of documents", content_param
        )
    content_type = sniffing.read_as(declared_type, content_type)
    if not sniffing.declared_matches(declared_type, content_type):
        raise ContentTypeMismatch(f"declared as {declared_type} but the bytes are {content_type}")
    digest = hashlib.sha256(content).hexdigest()
    existing = Document.objects.filter(sha256=digest).first()
    if existing is not None:
        if existing.arrived_as_attachment and not as_attachment:
            Document.objects.filter(pk=existing.pk).update(arrived_as_attachment=False)
            existing.arrived_as_attachment = False
        if existing.status == DocumentStatus.FAILED:
            existing = document_retry(tenant=tenant, document=existing)
            return CreatedDocument(existing, created=False, retried=True)
        return CreatedDocument(existing, created=False)
    document = Document(
        filename=filename[:255],
        content_type=content_type,
        sha256=digest,
        size_bytes=len(content),
        metadata=metadata,
        batch_id=batch_id,
        arrived_as_attachment=as_attachment,
    )
    _file_store(document, digest, content)
    try:
        with transaction.atomic():
            document.save()
            audit_record(
                tenant=tenant,
                action="document.create",
                object_type="document",
                object_id=document.pk,
                details={"content_type": content_type, "size_bytes": len(content)},
            )
    except IntegrityError:
        document.file.delete(save=False)
        return CreatedDocument(Document.objects.get(sha256=digest), created=False)
    except BaseException:
        document.file.delete(save=False)
        raise
    transaction.on_commit(partial(_ingest_send, document.id, len(content)))
    return CreatedDocument(document, created=True)


def document_retry(*, tenant: Tenant, document: Document) -> Document:
    """Ingest a failed document again, as when its bytes are uploaded again (what failed may have passed: a
    crash, a time limit, a plan's limit raised since): `pending`, its failure reason and attempts cleared, its
    ingestion queued on commit, recorded as `document.retry`. A document no longer failed (retried meanwhile)
    is returned as it is now."""
    with transaction.atomic():
        locked = Document.objects.select_for_update().filter(pk=document.pk).first()
        if locked is None or locked.status != DocumentStatus.FAILED:
            return locked or document
        reason = locked.failure_reason
        _set_status(
            locked,
            DocumentStatus.PENDING,
            failure_reason="",
            ingest_attempts=0,
            ingest_owner="",
            ingest_unqueued=False,
            queued_seen_at=None,
            pages_parsed=0,
            pages_total=0,
        )
        audit_record(
            tenant=tenant,
            action="document.retry",
            object_type="document",
            object_id=locked.pk,
            details={"failure_reason": reason[:200]},
        )
        transaction.on_commit(partial(_ingest_send, locked.pk, locked.size_bytes))
    return locked


def _ingest_send(document_id: str, size_bytes: int | None = None) -> None:
    """Queue the ingestion of a committed upload (of `size_bytes`, read from the row when not given): past
    QUIRE_INGEST_LARGE_BYTES at the lowest priority, behind every smaller upload, whether it is queued at upload
    or again by a sweep. A broker that cannot take the task (down, restarting) does not fail the upload, which
    is stored: the document is marked, and `documents_requeue_stuck` queues it once the broker is back."""
    if size_bytes is None:
        size_bytes = Document.objects.filter(pk=document_id).values_list("size_bytes", flat=True).first() or 0
    priority = LOWEST_PRIORITY if size_bytes > settings.QUIRE_INGEST_LARGE_BYTES else None
    task_send_or_mark(
        DOCUMENT_INGEST_TASK,
        document_id,
        marked=Document.objects.all(),
        flag="ingest_unqueued",
        sweep="stuck",
        priority=priority,
    )


def _file_store(document: Document, digest: str, content: bytes) -> None:
    """Write the bytes under a free name; a write the storage cannot finish (a full disk, a quota, an I/O
    error) leaves no partial file behind and refuses with StorageFull."""
    storage = document.file.storage
    name = storage.get_available_name(document.file.field.generate_filename(document, digest))
    try:
        document.file.name = storage.save(name, ContentFile(content))
    except OSError as exc:
        logger.error("storing document %s failed: %s", digest[:12], exc)
        with contextlib.suppress(OSError):
            storage.delete(name)
        raise StorageFull() from exc


@dataclass(frozen=True)
class CreatedBatch:
    id: str
    # (filename as uploaded, the document) of each file that became or found a document: a file whose bytes
    # were already stored finds the stored document, under the name it was stored with.
    documents: list[tuple[str, CreatedDocument]]
    # (filename, refusal) of each file that did not become a document.
    refused: list[tuple[str, Refusal]]


def document_batch_create(
    *,
    tenant: Tenant,
    uploads: list[Upload],
    max_bytes: int,
    metadata: Mapping[str, str] | None = None,
) -> CreatedBatch:
    """One document per file of `uploads` (ZIPs unpacked, ZIPs inside them too), grouped by a batch id,
    each created as `document_create` creates one. The whole upload is refused (413, param `file`) for a ZIP
    that unzips past the limits, nests ZIPs too deep or holds too many files, and (415) for one that cannot
    be read; a single file that is refused (a file of a ZIP that cannot be unzipped too) is reported in
    `refused` and the others are created."""
    metadata = metadata_merged({}, metadata or {})
    _reading_checked(metadata)
    try:
        files = unpacked(uploads, IngestLimits.from_settings())
    except LimitExceeded as exc:
        raise sniffing.DocumentOverLimit(exc.code, f"Upload refused: {exc}.", "file") from None
    except ZIP_ERRORS as exc:
        raise sniffing.UnsupportedDocument(f"a damaged or unreadable ZIP archive ({exc})", "file") from None
    batch_id = new_id("bat")
    created, refused = [], []
    for upload in files:
        if upload.unreadable:
            refused.append((upload.filename, sniffing.UnsupportedDocument(upload.unreadable, "file")))
            continue
        try:
            created.append(
                (
                    upload.filename,
                    document_create(
                        tenant=tenant,
                        content=upload.content,
                        filename=upload.filename,
                        declared_type=upload.declared_type,
                        max_bytes=max_bytes,
                        content_param="file",
                        metadata=metadata,
                        batch_id=batch_id,
                    ),
                )
            )
        except Refusal as exc:
            refused.append((upload.filename, exc))
    return CreatedBatch(batch_id, created, refused)


def document_update(*, document: Document, metadata: Mapping[str, str] | None = None) -> Document:
    """Merge `metadata` into the document's (an empty string deletes a key), under a row lock so
    concurrent updates do not lose each other's keys. Refuses what `metadata_merged` refuses, and a document
    deleted meanwhile (404)."""
    with transaction.atomic():
        document = found(
            Document.objects.select_for_update(), document.pk, noun="document", param="document_id"
        )
        if metadata is not None:
            document.metadata = metadata_merged(document.metadata, metadata)
            _reading_checked(document.metadata)
            document.save(update_fields=["metadata", "updated_at"])
    return document


# Metadata keys that say how a document is read, passed on to the files it carries: the languages its scans
# are read in ("deu+eng", instead of the workspace's or the deployment's QUIRE_INGEST_OCR_LANGUAGES), and when
# its pictures are read (`common.env.OCR_PICTURES`: "always" beside its own text, "never", or "textless": only
# when it has almost none; instead of the workspace's or the deployment's QUIRE_INGEST_OCR_PICTURES).
OCR_LANGUAGES_KEY = "ocr_languages"
OCR_PICTURES_KEY = "ocr_pictures"
READING_KEYS = (OCR_LANGUAGES_KEY, OCR_PICTURES_KEY)


def _reading_checked(metadata: Mapping[str, str]) -> None:
    """Refuses (400, naming the key) a document's OCR languages that are not Tesseract codes joined by "+", each
    one of the deployment's QUIRE_INGEST_OCR_LANGUAGES (those its workers have the data for), and an
    `ocr_pictures` that is not one of `common.env.OCR_PICTURES`."""
    value = metadata.get(OCR_LANGUAGES_KEY)
    refused = None if value is None else ocr_languages_refused(value, settings.QUIRE_INGEST_OCR_LANGUAGES)
    if refused is not None:
        raise Refusal(
            ErrorCode.INVALID_PARAMETER,
            f"metadata.{OCR_LANGUAGES_KEY} names the languages a document's scans are read in: {refused}.",
            f"metadata.{OCR_LANGUAGES_KEY}",
        )
    value = metadata.get(OCR_PICTURES_KEY)
    refused = None if value is None else ocr_pictures_refused(value)
    if refused is not None:
        raise Refusal(
            ErrorCode.INVALID_PARAMETER,
            f"metadata.{OCR_PICTURES_KEY} says when a document's pictures are read by OCR: {refused}.",
            f"metadata.{OCR_PICTURES_KEY}",
        )


class IngestStopped(Exception):
    """The document was deleted while it was being ingested."""


class IngestTakenOver(Exception):
    """Another run claimed the document while this one was ingesting it (this run's process was judged dead,
    or its heartbeat went stale)."""


class IngestPutOff(Exception):
    """The document's tenant entered maintenance while it was being ingested: the run stopped and the document
    waits `pending` again."""


def _set_status(document: Document, status: str, **fields) -> None:
    """Write the status and `fields` unless the row is gone (IngestStopped)."""
    for name, value in fields.items():
        setattr(document, name, value)
    document.status = status
    now = timezone.now()
    updated = Document.objects.filter(pk=document.pk).update(
        status=status, updated_at=now, heartbeat_at=now, **fields
    )
    if not updated:
        raise IngestStopped(document.pk)


def _lock_alive(document_id: str) -> Document:
    """The document's row, locked until the transaction ends so a delete waits for what is written under
    it; gone already: IngestStopped."""
    document = Document.objects.select_for_update().filter(pk=document_id).first()
    if document is None:
        raise IngestStopped(document_id)
    return document


def _lock_owned(document: Document, keeper: TenantHeartbeat) -> None:
    """Lock the document's row as `_lock_alive` does, and check that this run still holds the claim it made
    (`ingest_owner`) and its heartbeat has not lost it: IngestTakenOver when another run has claimed it since,
    so two runs never write chunks of one document, or when the heartbeat put the ingest off for maintenance
    (the row may then be a restored schema's, naming this run)."""
    current = _lock_alive(document.pk)
    if current.ingest_owner != document.ingest_owner or keeper.lost.is_set():
        raise IngestTakenOver(current.ingest_owner)


def _mark_alive(document_id: str, owner: str) -> bool:
    Document.objects.filter(pk=document_id, status__in=IN_PROGRESS, ingest_owner=owner).update(
        heartbeat_at=timezone.now()
    )
    return True


def _ingest_put_off(document_id: str, owner: str) -> bool:
    """Leave the document `pending`, unclaimed and with this attempt uncounted, when this run still holds it;
    whether it did. The next run takes it from the start."""
    return bool(
        Document.objects.filter(pk=document_id, status__in=IN_PROGRESS, ingest_owner=owner).update(
            status=DocumentStatus.PENDING,
            ingest_owner="",
            heartbeat_at=None,
            ingest_attempts=Greatest(F("ingest_attempts") - 1, 0),
            queued_seen_at=timezone.now(),
            updated_at=timezone.now(),
        )
    )


def _claim(document_id: str) -> Document | None:
    """Start this run on the document, under its row lock: None when it is finished, or when another run
    is alive on it (in progress, its heartbeat fresh, its process not known dead: a pool process that died
    mid-ingest, whose task the broker redelivers at once, is taken over without waiting for the heartbeat to
    go stale), or when it had QUIRE_INGEST_MAX_ATTEMPTS runs already (it is failed then); gone:
    IngestStopped. A document a dead run left with chunks the encoder of now embedded (`embedding`, or
    `pending` again by the stuck sweep or maintenance) is claimed `embedding`, and `_ingest` goes on from its
    chunks; any other starts again at `parsing`."""
    with transaction.atomic():
        document = _lock_alive(document_id)
        if document.status in FINISHED:
            return None
        fresh = timezone.now() - timedelta(seconds=settings.QUIRE_DOCUMENT_STUCK_SECONDS)
        if (
            document.status in IN_PROGRESS
            and document.heartbeat_at is not None
            and document.heartbeat_at > fresh
            and not process_gone(document.ingest_owner)
        ):
            return None
        if document.status in IN_PROGRESS:
            logger.warning("ingest of %s taken over from %s", document_id, document.ingest_owner or "unknown")
        if document.ingest_attempts >= settings.QUIRE_INGEST_MAX_ATTEMPTS:
            _fail_locked(
                document,
                f"ingestion did not finish in {document.ingest_attempts} attempts: the worker process "
                "ended during each (a crash or its memory limit)",
            )
            return None
        resumable = document.chunk_count > 0 and document.encoder == chunk_encoder_name()
        _set_status(
            document,
            DocumentStatus.EMBEDDING if resumable else DocumentStatus.PARSING,
            ingest_owner=process_identity(),
            ingest_attempts=document.ingest_attempts + 1,
        )
        return document


def document_ingest(*, tenant: Tenant, document_id: str, deadline: float | None = None) -> Document | None:
    """Parse, chunk and embed (the connection is in the tenant's schema), within the limits of
    `IngestLimits.from_settings()` (a document past one fails with the reason). Chunks are embedded and
    written in batches of `QUIRE_INGEST_EMBED_BATCH_CHUNKS`, `chunk_count` counting them as they land.
    Between stages and batches the document is checked: deleted meanwhile, ingestion stops, writes nothing
    and returns None. Past `deadline` (a time.monotonic() value) it raises DeadlinePassed at the next page,
    block or batch. A run keeps a heartbeat on `heartbeat_at`, so `documents_requeue_stuck` leaves a live run
    alone and a second delivery (a redelivered task, one the sweep queued) finds it claimed or finished and
    changes nothing. A run whose tenant enters maintenance (a restore is to swap its schema), noticed within
    MAINTENANCE_POLL_S, stops at its next page, batch or write, leaves the document `pending` and raises
    IngestPutOff."""
    beat: PutOffBeat | None = None
    try:
        document = _claim(document_id)
        if document is None:
            return Document.objects.filter(pk=document_id).first()
        interval = settings.QUIRE_DOCUMENT_STUCK_SECONDS / 3
        limits = IngestLimits.from_settings()
        ocr_cap = min(limits.max_ocr_pages, entitlements_for(tenant).max_ocr_pages)
        limits = dataclasses.replace(
            limits,
            deadline=deadline,
            max_ocr_pages=ocr_cap,
            ocr_languages=document.metadata.get(OCR_LANGUAGES_KEY)
            or tenant.ocr_languages
            or limits.ocr_languages,
            ocr_pictures=document.metadata.get(OCR_PICTURES_KEY)
            or tenant.ocr_pictures
            or limits.ocr_pictures,
        )
        beat = PutOffBeat(
            tenant,
            renew=partial(_mark_alive, document_id, document.ingest_owner),
            put_off=partial(_ingest_put_off, document_id, document.ingest_owner),
            renew_every=interval,
        )
        keeper = TenantHeartbeat(f"ingest-{document_id}", tenant, min(MAINTENANCE_POLL_S, interval), beat)
        with keeper:
            _ingest(tenant, document, limits, keeper)
    except IngestStopped:
        logger.info("ingest of %s stopped: the document was deleted", document_id)
        return None
    except IngestTakenOver as exc:
        if beat is not None and beat.released:
            logger.info("ingest of %s stopped: its tenant entered maintenance", document_id)
            raise IngestPutOff(document_id) from None
        logger.warning("ingest of %s stopped: %s took it over", document_id, exc.args[0] or "another run")
        return Document.objects.filter(pk=document_id).first()
    return document


def _page_progress(document_id: str, keeper: TenantHeartbeat) -> Callable[[int, int], None]:
    """Write `pages_parsed` of `pages_total` as parsing goes, at most twice a second and at the end; stop the
    parse (IngestTakenOver) once the heartbeat has lost the ingest."""
    written = [0.0]

    def report(done: int, total: int) -> None:
        if keeper.lost.is_set():
            raise IngestTakenOver("")
        now = time.monotonic()
        if done == total or now - written[0] >= 0.5:
            written[0] = now
            Document.objects.filter(pk=document_id).update(pages_parsed=done, pages_total=total)

    return report


class OcrPagesKept:
    """The document's pages read by OCR, kept in the cache (Redis) for OCR_KEPT_SECONDS under the document, its
    bytes and the reading's settings, so that a run taking over a dead one's parse reads again only the pages
    it had not; forgotten once the document is ready. A cache that cannot be reached keeps nothing."""

    def __init__(self, document: Document, limits: IngestLimits) -> None:
        self.prefix = ":".join(
            (
                "ocr-page",
                connection.schema_name,
                document.pk,
                document.sha256[:16],
                limits.ocr_languages,
                str(limits.ocr_dpi),
                str(limits.max_ocr_pixels),
            )
        )

    def read(self, number: int) -> OcrReading | None:
        try:
            return cache.get(f"{self.prefix}:{number}")
        except RedisError:
            return None

    def keep(self, number: int, reading: OcrReading) -> None:
        with contextlib.suppress(RedisError):
            cache.set(f"{self.prefix}:{number}", reading, OCR_KEPT_SECONDS)

    def forget(self, numbers: Iterable[int]) -> None:
        with contextlib.suppress(RedisError):
            cache.delete_many([f"{self.prefix}:{number}" for number in numbers])


def _ingest(tenant: Tenant, document: Document, limits: IngestLimits, keeper: TenantHeartbeat) -> None:
    if document.status == DocumentStatus.EMBEDDING:
        spans = _spans_resumed(document, keeper)
        if spans is not None:
            _embed(document, document.text, spans, document.chunk_count, limits, keeper)
            return
    try:
        with document.file.open("rb") as handle:
            parsed = parse_document(
                handle.read(),
                document.content_type,
                limits,
                on_page=_page_progress(document.pk, keeper),
                ocr_memo=OcrPagesKept(document, limits),
            )
    except (ParseError, OSError) as exc:
        if limits.deadline is not None and time.monotonic() >= limits.deadline:
            # The soft time limit can surface from native code as another error (ctypes wraps it).
            raise DeadlinePassed from exc
        with transaction.atomic():
            _lock_owned(document, keeper)
            _fail_locked(document, str(exc))
        return
    spans = chunk_text(parsed.text)
    encoder = chunk_encoder_name()
    with transaction.atomic():
        _lock_owned(document, keeper)
        Chunk.objects.filter(document=document).delete()
        _set_status(
            document,
            DocumentStatus.EMBEDDING,
            text=parsed.text,
            text_chars=len(parsed.text),
            page_starts=parsed.page_starts,
            layout=parsed.layout,
            tables=parsed.tables,
            ocr_pages=parsed.ocr_pages,
            ocr_confidence=parsed.ocr_confidence,
            pages_parsed=parsed.page_count,
            pages_total=parsed.page_count,
            chunk_count=0,
            encoder=encoder,
        )
    _attachments_create(tenant, document, parsed, limits, keeper)
    _embed(document, parsed.text, spans, 0, limits, keeper)


def _spans_resumed(document: Document, keeper: TenantHeartbeat) -> list[ChunkSpan] | None:
    """The chunks of a document whose ingest is taken over while embedding (`_claim`), when the first
    `chunk_count` of them are the chunks stored: its text, tables and attachments were written before the first
    chunk, so embedding goes on from there. Else (the chunking changed since) None, the document back at
    `parsing` to start again from the file."""
    spans = chunk_text(document.text)
    stored = list(
        Chunk.objects.filter(document=document, index__lt=document.chunk_count)
        .order_by("index")
        .values_list("start", "end")
    )
    resumed = stored == [(s.start, s.end) for s in spans[: document.chunk_count]]
    with transaction.atomic():
        _lock_owned(document, keeper)
        if resumed:
            # Chunks past the count are no run's (each batch is written with its count): none, or a stray.
            Chunk.objects.filter(document=document, index__gte=document.chunk_count).delete()
        else:
            _set_status(document, DocumentStatus.PARSING, chunk_count=0, pages_parsed=0)
    if not resumed:
        return None
    logger.info("ingest of %s goes on from chunk %d of %d", document.pk, len(stored), len(spans))
    return spans


def _embed(
    document: Document,
    text: str,
    spans: list[ChunkSpan],
    first_new: int,
    limits: IngestLimits,
    keeper: TenantHeartbeat,
) -> None:
    """Embed and store `spans[first_new:]` of `text` in batches, each with its `chunk_count`, then make the
    document ready."""
    embed, _ = chunk_embedder()
    batch = settings.QUIRE_INGEST_EMBED_BATCH_CHUNKS
    read = embedding_texts(text, spans)
    for first in range(first_new, len(spans), batch):
        limits.check_time()
        part = spans[first : first + batch]
        texts = [text[s.start : s.end] for s in part]
        vectors = embed(read[first : first + batch])
        with transaction.atomic():
            _lock_owned(document, keeper)
            Chunk.objects.bulk_create(
                Chunk(document=document, index=first + i, start=s.start, end=s.end, text=t, embedding=v)
                for i, (s, t, v) in enumerate(zip(part, texts, vectors, strict=True))
            )
            _set_status(document, DocumentStatus.EMBEDDING, chunk_count=first + len(part))
    with transaction.atomic():
        _lock_owned(document, keeper)
        _set_status(document, DocumentStatus.READY, chunk_count=len(spans), failure_reason="")
        document_finished(document=document)
    OcrPagesKept(document, limits).forget(document.ocr_pages or [])


def chunk_embedder() -> tuple[Callable[[list[str]], Any], str]:
    """How stored chunks are embedded now, and the name of that encoder (`Document.encoder`): the chunk encoder
    unless `QUIRE_INGEST_DISTILLED_CHUNKS` is off, in int8 where this CPU runs it faster."""
    from inference.embeddings import embed_chunks, embed_texts, int8_is_faster

    embed = embed_chunks if settings.QUIRE_INGEST_DISTILLED_CHUNKS else embed_texts
    return partial(embed, quantized=int8_is_faster()), chunk_encoder_name()


def chunk_encoder_name() -> str:
    """The name of the encoder `chunk_embedder()` embeds with (`inference.embeddings.encoder_name`)."""
    from inference.embeddings import encoder_name

    return encoder_name(chunks=settings.QUIRE_INGEST_DISTILLED_CHUNKS)


def document_reembed(*, document_id: str) -> bool:
    """Embed a ready document's chunks again with `chunk_embedder()` where its `encoder` is another: the vectors
    are computed first, then written with the new name under the row lock in one transaction, so the chunks
    never hold two encoders' vectors and a crash leaves the old ones. A document ingested or deleted meanwhile
    (its `updated_at` moved) is left to that run. Returns whether it wrote."""
    embed, encoder = chunk_embedder()
    document = (
        Document.objects.filter(pk=document_id, status=DocumentStatus.READY).exclude(encoder=encoder).first()
    )
    if document is None:
        return False
    chunks = list(Chunk.objects.filter(document=document).order_by("index").only("pk", "start", "end"))
    read = embedding_texts(document.text, [ChunkSpan(chunk.start, chunk.end) for chunk in chunks])
    vectors = embed(read)
    with transaction.atomic():
        locked = Document.objects.select_for_update().filter(pk=document_id).first()
        if (
            locked is None
            or locked.status != DocumentStatus.READY
            or locked.updated_at != document.updated_at
        ):
            return False
        for chunk, vector in zip(chunks, vectors, strict=True):
            chunk.embedding = vector
        Chunk.objects.bulk_update(chunks, ["embedding"], batch_size=500)
        Document.objects.filter(pk=document_id).update(encoder=encoder)
    logger.info("document %s: %d chunks embedded again with %s", document_id, len(chunks), encoder)
    return True


def documents_stale(*, limit: int | None = None) -> list[str]:
    """Ready documents whose chunks another encoder embedded than `chunk_embedder()` would now, oldest
    first. Other than the encoder is before it or after it, two ranges of the `document_ready_encoder` index,
    so a sweep that finds none reads no document (`<>` would read every ready one)."""
    encoder = chunk_encoder_name()
    stale = (
        Document.objects.filter(status=DocumentStatus.READY)
        .filter(Q(encoder__lt=encoder) | Q(encoder__gt=encoder))
        .order_by("created_at")
    )
    return list(stale.values_list("pk", flat=True)[:limit])


def documents_reembed_stale(*, limit: int = REEMBED_SWEEP_BATCH, budget_seconds: float | None = None) -> int:
    """`document_reembed` the current tenant's stale documents (`documents_stale`), at most `limit` of them and,
    with `budget_seconds`, none started past that many seconds. Returns how many were written."""
    started = time.monotonic()
    written = 0
    for document_id in documents_stale(limit=limit):
        if budget_seconds is not None and time.monotonic() - started >= budget_seconds:
            break
        written += document_reembed(document_id=document_id)
    return written


def _attachments_create(
    tenant: Tenant, document: Document, parsed: ParsedDocument, limits: IngestLimits, keeper: TenantHeartbeat
) -> None:
    """An e-mail's attachments (or the files a document embeds or carries), each a document of its own (stored
    once: bytes already stored are the stored document; a new one read as the e-mail's `READING_KEYS` of its
    metadata say, checked when the e-mail was) listed by the e-mail under the filename sent, in
    the same transaction as it is stored and under the e-mail's row lock, so a time limit between two leaves
    every one stored so far listed, and a delete of the e-mail waits for it and takes it along; one that is
    refused (unsupported, too large) is logged and left out. Ingesting the e-mail again lists the same
    attachments once. An e-mail deleted meanwhile stops the work (IngestStopped), as does another run's claim
    or maintenance (IngestTakenOver)."""
    reading = {key: document.metadata[key] for key in READING_KEYS if document.metadata.get(key)}
    sent = [file for attachment in parsed.attachments for file in _attached_files(attachment, limits)]
    for position, attachment in enumerate(sent):
        limits.check_time()
        with transaction.atomic():
            _lock_owned(document, keeper)
            try:
                created = document_create(
                    tenant=tenant,
                    content=attachment.content,
                    filename=attachment.filename,
                    declared_type=None,
                    max_bytes=settings.QUIRE_MAX_DOCUMENT_BYTES,
                    content_param="attachment",
                    metadata=reading or None,
                    batch_id=document.batch_id,
                    as_attachment=True,
                )
            except Refusal as exc:
                logger.info("attachment %s of %s left out: %s", attachment.filename, document.pk, exc)
                continue
            link = Attachment(
                email=document,
                document=created.document,
                position=position,
                filename=attachment.filename[:255],
            )
            Attachment.objects.bulk_create([link], ignore_conflicts=True)


def _attached_files(attachment: ParsedAttachment, limits: IngestLimits) -> list[Upload]:
    """An attachment's files: itself, or, for a ZIP (or an mbox of several messages), its files, unpacked as an
    upload's are and named after it (`bundle.zip/nda.docx`); an archive past the limits or damaged gives none,
    and a file of it that cannot be unzipped is left out, each logged."""
    if not holds_files(attachment.content):
        return [Upload(attachment.filename, attachment.content)]
    try:
        files = unpacked([Upload(attachment.filename, attachment.content)], limits, within=True)
    except (LimitExceeded, *ZIP_ERRORS) as exc:
        logger.info("attachment %s left out: %s", attachment.filename, exc)
        return []
    for file in files:
        if file.unreadable:
            logger.info("%s of an e-mail left out: %s", file.filename, file.unreadable)
    return [file for file in files if not file.unreadable]


def document_seen(*, document_id: str) -> None:
    """A worker has the document's ingest task in hand: while the document is pending, its message is not
    lost."""
    Document.objects.filter(pk=document_id, status=DocumentStatus.PENDING).update(
        queued_seen_at=timezone.now()
    )


def documents_requeue_stuck(*, stuck_after: timedelta | None = None, limit: int = STUCK_SWEEP_BATCH) -> int:
    """Queue ingestion for each upload whose task the broker refused (`ingest_unqueued`), for each pending
    document no worker has had in hand for QUIRE_JOB_QUEUED_LOST_SECONDS (its message was lost), and again for
    each document left in `parsing` or `embedding` without a heartbeat
    (`document_ingest` marks it alive) for longer than `stuck_after` (default `QUIRE_DOCUMENT_STUCK_SECONDS`): its worker
    died. The document goes back to `pending`, so the next sweep leaves it alone until a run has started
    on it again. Returns how many documents were re-queued (in the current tenant's schema)."""
    stuck_after = stuck_after or timedelta(seconds=settings.QUIRE_DOCUMENT_STUCK_SECONDS)
    now = timezone.now()
    pending = Document.objects.filter(status=DocumentStatus.PENDING)
    lost = unseen_requeue(pending, flag="ingest_unqueued", send=_ingest_send, limit=limit)
    unqueued = marked_requeue(pending, flag="ingest_unqueued", send=_ingest_send, limit=limit)
    stuck = stale_requeue(
        Document.objects.filter(status__in=IN_PROGRESS),
        heartbeat="heartbeat_at",
        stale_after=stuck_after,
        waiting={"status": DocumentStatus.PENDING, "updated_at": now},
        send=_ingest_send,
        limit=limit,
        what="ingestion",
    )
    return unqueued + lost + stuck


def document_fail(*, document_id: str, reason: str, owner: str | None = None) -> None:
    """Mark an unfinished document failed with `reason` and publish `document.failed`; a finished one is
    left as it is. With `owner` (the failing run's `process_identity`), a document another run has claimed
    since is left to that run too."""
    with transaction.atomic():
        unfinished = Document.objects.select_for_update().filter(pk=document_id).exclude(status__in=FINISHED)
        if owner is not None:
            unfinished = unfinished.filter(Q(status=DocumentStatus.PENDING) | Q(ingest_owner=owner))
        document = unfinished.first()
        if document is not None:
            _fail_locked(document, reason)


def _fail_locked(document: Document, reason: str) -> None:
    """Mark the document (its row locked) failed with `reason`, delete the chunks a run embedded before it
    failed (a search reads ready documents only, and the index's candidates are taken before that filter),
    and publish `document.failed`."""
    _set_status(document, DocumentStatus.FAILED, failure_reason=reason[:2000], chunk_count=0)
    Chunk.objects.filter(document=document).delete()
    document_finished(document=document)


# Sent inside `documents_delete`'s transaction, before the rows go, with `document_ids` and the `redactor` for
# their quotes: the apps above documents (jobs: their results; clauses: their near misses) redact what they
# hold of them, each row once for all the documents.
document_erasing = Signal()

# Documents deleted in one transaction by the retention purge: a result that quotes many of them is rewritten
# once a batch.
PURGE_BATCH = 100


@dataclass(frozen=True)
class Original:
    """A document's stored file, opened, with the name and media type to hand it out under."""

    file: Any
    filename: str
    content_type: str


def document_original_open(*, tenant: Tenant, document: Document) -> Original:
    """The document's file as uploaded, opened for reading, recorded in the audit log as an export
    (`export.create`, `document`, `original`). Its filename is the stored one's last segment without the
    characters a header cannot carry (a JSON upload's filename keeps control characters as sent)."""
    name = "".join(c for c in document.filename.rsplit("/", 1)[-1] if c.isprintable()).strip()
    opened = document.file.open("rb")
    export_record(tenant=tenant, what="document", object_id=document.id, export_format="original")
    return Original(opened, name or "document", document.content_type or "application/octet-stream")


def document_delete(*, document: Document) -> None:
    """Remove the document, its text, chunks and vectors (cascade) and, once committed, its stored file; its
    quotes in job results and webhook payloads, and its filename and metadata in payloads and stored
    idempotent responses, are redacted in the same transaction (`Redactor`), the findings kept and marked
    `redacted`; the page images go with the file. An e-mail's attachments that arrived as attachments (not
    uploaded on their own) and that no other e-mail lists go with it, each as this deletes a document; a
    deleted attachment leaves the e-mails that listed it. Under the row lock, so an ingest batch in flight finishes first and the next one finds the document
    gone; an e-mail's attachments are locked with it (`_lock_with_attachments`)."""
    documents_delete(document_ids=[document.pk])


def documents_delete(*, document_ids: Iterable[str]) -> list[str]:
    """Remove the documents among `document_ids` that exist, each as `document_delete` says, in one transaction:
    a job result, event or stored response that quotes several of them is redacted and written once for all.
    Returns the ids deleted."""
    with transaction.atomic():
        documents = _lock_with_attachments(list(document_ids))
        if not documents:
            return []
        ids = [document.pk for document in documents]
        redactor = Redactor(texts={document.pk: document.text for document in documents})
        document_erasing.send(sender=Document, document_ids=ids, redactor=redactor)
        events = events_rewrite(containing=ids, rewrite=redactor)
        idempotency_records_rewrite(containing=ids, rewrite=redactor)
        for document_id in ids:
            audit_record(
                action="document.delete",
                object_type="document",
                object_id=document_id,
                details={
                    "spans_redacted": redactor.counts[document_id],
                    "events_rewritten": events.get(document_id, 0),
                },
            )
        attachment_ids = list(
            Attachment.objects.filter(email_id__in=ids).values_list("document_id", flat=True)
        )
        Document.objects.filter(pk__in=ids).delete()
        schema_name = connection.schema_name
        for document in documents:
            transaction.on_commit(partial(document.file.delete, save=False))
            transaction.on_commit(partial(page_images_delete, document.pk, schema_name=schema_name))
        orphans = Document.objects.filter(
            pk__in=attachment_ids, arrived_as_attachment=True, attached_to__isnull=True
        )
        orphan_ids = list(orphans.values_list("pk", flat=True))
        if orphan_ids:
            documents_delete(document_ids=orphan_ids)
    return ids


def _lock_with_attachments(document_ids: list[str]) -> list[Document]:
    """The documents among `document_ids` that exist (their `pk`, `text` and `file`), their rows and their
    attachments' rows locked in id order until the transaction ends. An e-mail's delete removes its links before
    it deletes an attachment no other e-mail lists: one order of locks lets it and the attachment's own delete,
    or another e-mail's that lists the attachment, run one after the other, where each held what the other waited
    for (a deadlock), or each still saw the other's link and kept the attachment."""
    attached = Attachment.objects.filter(email_id__in=document_ids).values("document_id")
    list(
        Document.objects.select_for_update()
        .filter(Q(pk__in=document_ids) | Q(pk__in=attached))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return list(Document.objects.filter(pk__in=document_ids).order_by("pk").only("pk", "text", "file"))


def documents_purge_before(
    *,
    cutoff: datetime,
    deadline: float | None = None,
    in_use: Callable[[], Iterable[str]] = tuple,
) -> tuple[int, int]:
    """Delete (as `document_delete` does) the documents created before `cutoff`, oldest first, `PURGE_BATCH` a
    transaction, starting no batch past `deadline` (`time.monotonic()`), and none of those `in_use()` names (read
    again for each batch): a later run purges those. Returns how many went and how many older than `cutoff` and
    not in use are left for the next run."""
    old = Document.objects.filter(created_at__lt=cutoff)
    purged = 0
    while deadline is None or time.monotonic() < deadline:
        purgeable = old.exclude(pk__in=list(in_use()))
        batch = list(purgeable.order_by("created_at", "pk").values_list("pk", flat=True)[:PURGE_BATCH])
        if not batch:
            break
        purged += len(documents_delete(document_ids=batch))
    return purged, old.exclude(pk__in=list(in_use())).count()


def documents_files_delete() -> int:
    """Delete the stored file and page images of every document in the current schema (erasing the tenant);
    returns how many documents."""
    documents = list(Document.objects.only("pk", "file").iterator())
    for document in documents:
        document.file.delete(save=False)
        page_images_delete(document.pk, schema_name=connection.schema_name)
    return len(documents)


def documents_held(*, ids: Iterable[str]) -> set[str]:
    """The documents among `ids` that still exist, their rows held until the transaction ends (FOR KEY SHARE, in
    id order): a delete waits for what is written from them, and one that came first has left them out. Only a
    delete's lock waits for the hold, so two holders never wait for each other (a finishing job holds its
    documents and then billing's locks while a job created over them holds the tenant and then them). Inside a
    transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {Document._meta.db_table} WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE",
            [list(ids)],
        )
        return {row[0] for row in cursor.fetchall()}


def documents_folder_delete(*, schema_name: str) -> int:
    """Delete every file stored under the schema's folders (`document_file_name`, and the page images'),
    whatever row names it, and the folders: the last step of erasing a tenant. Returns how many files."""
    deleted = stored_folder_delete(f"documents/{schema_name}")
    return len(deleted) + page_images_folder_delete(schema_name=schema_name)


def documents_orphans_delete(*, min_age: timedelta = ORPHAN_MIN_AGE) -> int:
    """Delete the files under the current schema's folder that no document names and that are older than
    `min_age`: bytes whose row never committed (a process killed between storing and committing, a transaction
    rolled back around an upload), or whose row a restore of an older archive (`tenant_restore`) took away; and
    the page images as old of documents that no longer exist. Returns how many files."""
    folder = f"documents/{connection.schema_name}"
    named = set(Document.objects.filter(file__startswith=f"{folder}/").values_list("file", flat=True))
    cutoff = timezone.now() - min_age
    deleted = stored_files_delete(folder, written_before=cutoff, keep=named)
    for path in deleted:
        logger.warning("deleted %s: no document names it", path)
    images = page_images_folder(connection.schema_name)
    rendered, _ = stored_listing(images)
    held = set(Document.objects.filter(pk__in=rendered).values_list("pk", flat=True))
    for document_id in sorted(set(rendered) - held):
        deleted += stored_files_delete(f"{images}/{document_id}", written_before=cutoff)
    return len(deleted)


def documents_files_rename() -> list[str]:
    """Give every document of the current schema whose bytes are stored under another name than
    `document_file_name` (an upload from before `documents.0009`) its own copy under that name; returns the
    old names, which other workspaces' documents may still name until they are renamed too. A document whose
    old name holds nothing is left as it is, with a warning."""
    renamed = []
    for document in Document.objects.only("pk", "file").iterator():
        name = document_file_name(document, "")
        if not document.file.name or document.file.name == name:
            continue
        storage = document.file.storage
        if not storage.exists(document.file.name):
            logger.warning(
                "document %s: nothing stored under %s; left as it is", document.pk, document.file.name
            )
            continue
        with document.file.open("rb") as handle:
            stored = storage.save(name, handle)
        Document.objects.filter(pk=document.pk).update(file=stored)
        renamed.append(document.file.name)
    return renamed
