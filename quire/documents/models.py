from __future__ import annotations

from functools import partial

from django.contrib.postgres.indexes import GinIndex
from django.db import connection, models
from django.db.models import Func
from django.db.models.functions import Coalesce, Length
from pgvector.django import HnswIndex, VectorField

from common.scripts import CHARS_PER_TOKEN, estimated_tokens
from quire.documents.sniffing import PAGED
from tenants.identifiers import new_id

EMBEDDING_DIM = 384


class DocumentStatus(models.TextChoices):
    PENDING = "pending"
    PARSING = "parsing"
    EMBEDDING = "embedding"
    READY = "ready"
    FAILED = "failed"


def tokens_for(chars: int) -> int:
    """The tokens of a text known only by its length (the API's lists, which read no text), as if none of it
    were CJK: about four characters a token. Context budgeting reads the text (`estimated_tokens`)."""
    return -(-chars // CHARS_PER_TOKEN)


def metered_page_count(*, content_type: str, page_count: int) -> int:
    """A document's page-map pages as billing reads them (`billing.services.billable_pages`): a PDF's pages and
    a scanned image's (`sniffing.PAGED`); 0
    for any other format (text, DOCX, HTML, e-mail, sheets, slides), whose parsing gives the whole text one page
    (or a sheet or slide each), so that billing counts its characters instead."""
    return page_count if content_type in PAGED else 0


def document_file_name(document: Document, filename: str) -> str:
    """Where a document's bytes are stored: under its tenant's schema and its own id. Two documents, of one tenant
    or of two, never share a stored file, so deleting one never deletes another's bytes (S3 writes over a name
    that exists instead of choosing a free one)."""
    return f"documents/{connection.schema_name}/{document.id}"


class DocumentQuerySet(models.QuerySet):
    def without_text(self) -> DocumentQuerySet:
        """Without the text and what maps it (page starts, layout, tables), which an answer about documents need
        not read (a long PDF's text and layout run to megabytes); the characters are those ingest counted
        (`text_chars`), else PostgreSQL counts them, and the pages (`counted_char_count`, `counted_page_count`)."""
        return self.defer("text", "page_starts", "layout", "tables").annotate(
            counted_char_count=Coalesce("text_chars", Length("text")),
            counted_page_count=Coalesce(
                Func("page_starts", function="jsonb_array_length", output_field=models.IntegerField()), 0
            ),
        )


class Document(models.Model):
    """One uploaded file, stored once per tenant by its SHA-256, and its normalised text."""

    id = models.CharField(primary_key=True, max_length=40, default=partial(new_id, "doc"), editable=False)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    sha256 = models.CharField(max_length=64, unique=True)
    size_bytes = models.PositiveBigIntegerField()
    file = models.FileField(upload_to=document_file_name, max_length=200)
    status = models.CharField(max_length=16, choices=DocumentStatus.choices, default=DocumentStatus.PENDING)
    failure_reason = models.TextField(blank=True)
    text = models.TextField(blank=True)
    # The text's length in characters, counted as ingest writes the text, so that lists need not read it (a
    # list of 100 documents of 1 MB each spent 193 ms of SQL on `length(text)`); documents.0015 filled it for rows
    # ingested before, null only where a process of an older release created a row during a rolling deploy.
    text_chars = models.PositiveIntegerField(null=True, blank=True)
    page_starts = models.JSONField(default=list, blank=True)
    # PDFs and images: {"lines": [[start, end, page, x0, top, x1, bottom], ...], "page_sizes": [[width, height], ...]},
    # boxes in PDF points from the page's top-left corner (connectors.spans.PageMap reads it).
    layout = models.JSONField(default=dict, blank=True)
    # [{"page", "rows": [[[start, end], ...], ...]}]: each cell's range in `text` (equal ends: an empty cell).
    tables = models.JSONField(default=list, blank=True)
    ocr_pages = models.JSONField(default=list, blank=True)
    ocr_confidence = models.FloatField(null=True, blank=True)
    pages_parsed = models.PositiveIntegerField(default=0)
    pages_total = models.PositiveIntegerField(default=0)
    batch_id = models.CharField(max_length=40, blank=True, db_index=True)
    # An e-mail's attachments (`Attachment` rows hold their order and filenames as sent); one document may be
    # attached to many e-mails.
    attachments = models.ManyToManyField(
        "self",
        through="Attachment",
        through_fields=("email", "document"),
        symmetrical=False,
        related_name="attached_to",
        blank=True,
    )
    # Stored by an e-mail's ingestion (not uploaded on its own): it goes when the last e-mail listing it does.
    arrived_as_attachment = models.BooleanField(default=False)
    chunk_count = models.PositiveIntegerField(default=0)
    # The encoder whose vectors the chunks hold (`inference.embeddings.encoder_name`); empty for chunks stored
    # before it was recorded. `documents_reembed_stale` brings documents whose encoder is not the current one up.
    encoder = models.CharField(max_length=80, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # Set when the broker refused the ingest task after the upload committed; the stuck sweep queues it.
    ingest_unqueued = models.BooleanField(default=False)
    # When a worker last had this pending document's ingest task in hand (ran it, or deferred it past the tenant's
    # share); a pending document unseen for QUIRE_JOB_QUEUED_LOST_SECONDS has lost its message, and the stuck
    # sweep sends one.
    queued_seen_at = models.DateTimeField(null=True, blank=True)
    # The process running the ingest (`common.processes.process_identity`): a redelivery on the same host
    # takes the document over at once when that process has died, instead of waiting out its heartbeat.
    ingest_owner = models.CharField(max_length=120, blank=True)
    # Runs that have claimed the document; past QUIRE_INGEST_MAX_ATTEMPTS the next claim fails it.
    ingest_attempts = models.PositiveSmallIntegerField(default=0)
    # The ingest run's heartbeat, apart from `updated_at`, which a metadata update also moves: a client updating
    # a document's metadata must not keep a dead run looking alive.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DocumentQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["created_at"]),
            models.Index(fields=["status"]),
            GinIndex(fields=["metadata"], name="document_metadata_gin", opclasses=["jsonb_path_ops"]),
            # The ready documents by encoder, which the re-embedding sweep finds the stale ones of
            # (`documents_stale`) without reading those up to date.
            models.Index(
                fields=["encoder"], name="document_ready_encoder", condition=models.Q(status="ready")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.filename}"

    @property
    def char_count(self) -> int:
        return len(self.text)

    @property
    def page_count(self) -> int:
        return len(self.page_starts) if self.page_starts else 0

    @property
    def metered_page_count(self) -> int:
        return metered_page_count(content_type=self.content_type, page_count=self.page_count)

    @property
    def token_estimate(self) -> int:
        return estimated_tokens(self.text)


class Attachment(models.Model):
    """`document` sent as an attachment of `email`, at `position` among its attachments, under `filename`;
    the same bytes attached twice to one e-mail are listed once."""

    email = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="attachment_links")
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField()
    filename = models.CharField(max_length=255)

    class Meta:
        ordering = ["email", "position"]
        constraints = [
            models.UniqueConstraint(fields=["email", "document"], name="unique_attachment_document")
        ]

    def __str__(self) -> str:
        return f"{self.email_id}[{self.position}] {self.document_id}"


class Chunk(models.Model):
    """A retrieval unit: `document.text[start:end]` and its all-MiniLM-L6-v2 embedding."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    text = models.TextField()
    embedding = VectorField(dimensions=EMBEDDING_DIM)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["document", "index"], name="unique_chunk_index")]
        indexes = [
            HnswIndex(
                name="chunk_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            )
        ]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.index}"
