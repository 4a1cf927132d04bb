"""Reads over documents: semantic search over chunks with pgvector."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction
from pgvector.django import CosineDistance

from quire.documents.models import Chunk, DocumentStatus

HNSW_EF_SEARCH = 200


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
    """Top-`k` chunks by cosine similarity. Unfiltered queries use the HNSW index (candidate list of
    max(200, 4k)); a document filter
    (or `exact`) scans the matching rows exactly, so a filter never loses results to the index."""
    from inference.embeddings import embed_texts

    vector = embed_texts([query])[0]
    rows = Chunk.objects.filter(document__status=DocumentStatus.READY)
    if document_ids:
        rows = rows.filter(document_id__in=document_ids)
    rows = rows.annotate(distance=CosineDistance("embedding", vector)).order_by("distance")
    rows = rows.values_list("document_id", "index", "start", "end", "text", "distance")[:k]
    with transaction.atomic(), connection.cursor() as cursor:
        if exact or document_ids:
            cursor.execute("SET LOCAL enable_indexscan = off")
        else:
            cursor.execute(f"SET LOCAL hnsw.ef_search = {max(HNSW_EF_SEARCH, 4 * int(k))}")
        hits = list(rows)
    return [SearchHit(d, i, s, e, t, 1.0 - float(dist)) for d, i, s, e, t, dist in hits]
