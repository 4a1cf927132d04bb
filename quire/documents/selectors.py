"""Reads over documents: semantic search over chunks with pgvector, a document's tables and page maps."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Value
from django.db.models.functions import Coalesce, Length, Substr
from django.utils import timezone
from pgvector.django import CosineDistance

from common.processes import process_gone
from common.refusals import ErrorCode, Refusal
from common.scripts import estimated_tokens
from connectors.spans import PageMap, make_span
from quire.documents.models import Chunk, Document, DocumentStatus
from tenants.models import Tenant

HNSW_EF_SEARCH = 200
# pgvector's largest ef_search.
HNSW_EF_SEARCH_MAX = 1000
LEXICAL_WEIGHT = 0.3


# PostgreSQL keeps at most 1 GB in a text value, so fewer characters than this.
_MOST_CHARS = 2**30


def document_text_window(*, document: Document, start: int | None, end: int | None) -> dict:
    """Characters `start` to `end` (default: the whole text) of the document's text, with the length and the
    pages the window spans; PostgreSQL cuts the window, so a few lines of a long document read no more. A
    window out of the text is a RANGE_OUT_OF_BOUNDS refusal naming the bound at fault."""
    start = 0 if start is None else start
    # PostgreSQL refuses a negative count: an end before the start reads to the end, and is refused below.
    # Its substring takes 32-bit integers; no text is longer than _MOST_CHARS, so an offset past that reads
    # nothing and is refused below with the rest.
    first = min(start, _MOST_CHARS) + 1
    cut = (
        Substr("text", Value(first))
        if end is None or end < start
        else Substr("text", Value(first), Value(min(end - start, _MOST_CHARS)))
    )
    length, text = Document.objects.filter(pk=document.pk).values_list(
        Coalesce("text_chars", Length("text")), cut
    )[0]
    end = length if end is None else end
    if start > length or end > length or start > end:
        raise Refusal(
            ErrorCode.RANGE_OUT_OF_BOUNDS,
            f"Need 0 <= start <= end <= {length}.",
            "start" if start > length else "end",
        )
    pages = PageMap(document.page_starts or [0])
    return {
        "start": start,
        "end": end,
        "length": length,
        "text": text,
        "page_start": pages.page_at(start),
        "page_end": pages.page_at(max(start, end - 1)),
    }


@dataclass(frozen=True)
class SearchHit:
    document_id: str
    chunk_index: int
    start: int
    end: int
    quote: str
    score: float


def search_chunks(
    *, query: str, k: int, document_ids: list[str] | None = None, exact: bool = False
) -> list[SearchHit]:
    """Top-`k` chunks of ready documents by cosine similarity. Unfiltered queries use the HNSW index (candidate
    list of max(200, 4k)); the index yields only that many candidates before the ready-document filter, so
    when it answers fewer than `k` (the nearest chunks are a document's still being ingested) the search is
    asked again with pgvector's largest candidate list, then scans exactly. A document filter (or `exact`)
    scans the matching rows exactly, so a filter never loses results to the index."""
    from inference.embeddings import embed_texts

    vector = embed_texts([query])[0]
    rows = Chunk.objects.filter(document__status=DocumentStatus.READY)
    if document_ids:
        rows = rows.filter(document_id__in=document_ids)
    rows = rows.annotate(distance=CosineDistance("embedding", vector)).order_by("distance")
    rows = rows.values_list("document_id", "index", "start", "end", "text", "distance")[:k]
    exact_scan = "SET LOCAL enable_indexscan = off"
    if exact or document_ids:
        scans = [exact_scan]
    else:
        candidates = min(max(HNSW_EF_SEARCH, 4 * int(k)), HNSW_EF_SEARCH_MAX)
        widths = sorted({candidates, HNSW_EF_SEARCH_MAX})
        scans = [*(f"SET LOCAL hnsw.ef_search = {width}" for width in widths), exact_scan]
    for scan in scans:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(scan)
            hits = list(rows.all())
        if len(hits) >= k:
            break
    return [SearchHit(d, i, s, e, t, 1.0 - float(dist)) for d, i, s, e, t, dist in hits]


def document_passages(*, spans: Iterable[tuple[str, int, int]]) -> dict[tuple[str, int, int], str]:
    """The text of each `(document id, start, end)` span (0 <= start <= end) of a document that exists, cut by
    PostgreSQL: the documents are not read whole. A span of a document deleted is left out."""
    wanted = sorted(set(spans))
    if not wanted:
        return {}
    ids, starts, ends = (list(column) for column in zip(*wanted, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.id, s.start, s.stop, substr(d.text, least(s.start, 2147483646)::int + 1, "
            "least(s.stop - s.start, 2147483647)::int) "
            "FROM unnest(%s::text[], %s::bigint[], %s::bigint[]) AS s(id, start, stop) "
            f"JOIN {Document._meta.db_table} d ON d.id = s.id",
            [ids, starts, ends],
        )
        return {(document_id, start, end): text for document_id, start, end, text in cursor.fetchall()}


def page_map(document: Document) -> PageMap:
    return PageMap(document.page_starts or [0], (document.layout or {}).get("lines", []))


def document_tables(document: Document) -> list[dict]:
    """The document's tables: page, and rows of cells, each with its text and its span (with `page` and,
    for a PDF, `boxes`), or a null span for an empty cell."""
    pages = page_map(document)
    tables = []
    for index, table in enumerate(document.tables or []):
        rows = []
        for row in table["rows"]:
            cells = []
            for start, end in row:
                span = pages.place(make_span(document.id, document.text, start, end)) if end > start else None
                cells.append({"text": document.text[start:end], "span": span})
            rows.append(cells)
        tables.append({"object": "table", "index": index, "page": table["page"], "rows": rows})
    return tables


def question_chunks(*, document_id: str, question: str, token_budget: int) -> list[dict]:
    """The chunks of the document that best answer `question`, packed into `token_budget` tokens (their texts'
    `estimated_tokens`) by `inference.context.pack_chunks`, in document order: `{"chunk_id", "start",
    "end"}`. A chunk's score is the cosine similarity of the embeddings plus `LEXICAL_WEIGHT` times
    PostgreSQL's full-text rank of the question's words (scaled into [0, 1))."""
    from inference.context import ChunkCandidate, pack_chunks
    from inference.embeddings import embed_texts

    vector = "[" + ",".join(f"{x:.7g}" for x in embed_texts([question])[0]) + "]"
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT index, start, "end", text, 1 - (embedding <=> %s::vector) + %s * ts_rank_cd('
            "to_tsvector('english', text), plainto_tsquery('english', %s), 32) AS score "
            f"FROM {Chunk._meta.db_table} WHERE document_id = %s",
            [vector, LEXICAL_WEIGHT, question, document_id],
        )
        rows = cursor.fetchall()
    offsets = {index: (start, end) for index, start, end, _, _ in rows}
    candidates = [
        ChunkCandidate(f"{document_id}#{index}", float(score), estimated_tokens(text), index)
        for index, _, _, text, score in rows
    ]
    return [
        {"chunk_id": c.chunk_id, "start": offsets[c.position][0], "end": offsets[c.position][1]}
        for c in pack_chunks(candidates, token_budget=token_budget)
    ]


def documents_without_file() -> list[Document]:
    """The documents of the current schema whose stored file is gone (deleted since the archive a restore read
    was made): one listing of the schema's folder, and a look for each file stored under an older name."""
    folder = f"documents/{connection.schema_name}"
    try:
        _, names = default_storage.listdir(folder)
    except FileNotFoundError:
        names = []
    stored = {f"{folder}/{name}" for name in names}
    documents = Document.objects.only("pk", "filename", "file").order_by("created_at", "pk")
    return [
        document
        for document in documents
        if document.file.name not in stored
        and (document.file.name.startswith(f"{folder}/") or not default_storage.exists(document.file.name))
    ]


def ingests_running_report(*, tenant: Tenant, **signal: object) -> list[str]:
    """`schema_draining`'s receiver: a line for each ingest of the schema that still holds its claim (in
    progress, its heartbeat fresh, its process not known to have ended)."""
    fresh = timezone.now() - timedelta(seconds=settings.QUIRE_DOCUMENT_STUCK_SECONDS)
    running = Document.objects.filter(
        status__in=(DocumentStatus.PARSING, DocumentStatus.EMBEDDING), heartbeat_at__gt=fresh
    ).order_by("pk")
    return [
        f"ingest of document {pk} ({status}, by {owner or 'an unknown process'}, alive at "
        f"{beat:%Y-%m-%d %H:%M:%S} UTC)"
        for pk, status, owner, beat in running.values_list("pk", "status", "ingest_owner", "heartbeat_at")
        if not process_gone(owner)
    ]


def restored_documents_report(*, tenant: Tenant, **signal: object) -> list[str]:
    """`schema_restored`'s receiver: a line for each restored document whose stored file is missing."""
    missing = documents_without_file()
    if not missing:
        return []
    return [
        f"{len(missing)} restored document(s) name a stored file that is gone (deleted after the archive was made); "
        "they can be neither ingested nor shown again: delete them, or upload the files again",
        *(f"  {document.pk}\t{document.filename}\t{document.file.name}" for document in missing),
    ]
