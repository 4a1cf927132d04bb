"""Search answers from ready documents: the chunks of one still embedding do not crowd them out of the index's
candidates, and a document that fails leaves no chunks behind."""

from __future__ import annotations

import hashlib

import numpy
from django.db import connection
from django_tenants.utils import tenant_context

from quire.documents.models import Chunk, Document
from quire.documents.selectors import question_chunks, search_chunks
from quire.documents.services import document_fail

QUERY = "termination for convenience on thirty days notice"


def _document(name: str, status: str, vectors: numpy.ndarray) -> Document:
    text = " ".join(f"w{i}" for i in range(len(vectors)))
    document = Document.objects.create(
        filename=name,
        content_type="text/plain",
        sha256=hashlib.sha256(name.encode()).hexdigest(),
        size_bytes=len(text),
        text=text,
        status=status,
        chunk_count=len(vectors),
    )
    Chunk.objects.bulk_create(
        Chunk(document=document, index=i, start=0, end=2, text=text[:2], embedding=vector)
        for i, vector in enumerate(vectors)
    )
    return document


def _around(query: numpy.ndarray, count: int, spread: float, seed: int) -> numpy.ndarray:
    rows = query + numpy.random.default_rng(seed).normal(0.0, spread, (count, len(query)))
    return rows / numpy.linalg.norm(rows, axis=1, keepdims=True)


def test_a_search_finds_the_ready_document_past_nearer_chunks_of_one_still_embedding(make_tenant):
    from inference.embeddings import embed_texts

    query = embed_texts([QUERY])[0]
    with tenant_context(make_tenant("search-ready").tenant):
        ready = _document("ready.txt", "ready", _around(query, 5, 0.04, 1))
        embedding = _document("embedding.txt", "embedding", _around(query, 3000, 0.01, 2))
        try:
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE documents_chunk")
                cursor.execute("ANALYZE documents_document")
            hits = search_chunks(query=QUERY, k=5)
            exact = search_chunks(query=QUERY, k=5, exact=True)
        finally:
            # A document left in `embedding` would be taken for a stuck one by the stuck-ingest sweeps of later tests.
            embedding.delete()
    assert [hit.document_id for hit in hits] == [ready.pk] * 5
    assert hits == exact


def test_a_failed_document_leaves_no_chunks(make_tenant):
    with tenant_context(make_tenant("search-failed").tenant):
        document = _document("half.txt", "embedding", _around(numpy.ones(384), 3, 0.1, 3))
        document_fail(document_id=document.pk, reason="ingestion took longer than its limit")
        document.refresh_from_db()
        assert (document.status, document.chunk_count) == ("failed", 0)
        assert not Chunk.objects.filter(document=document).exists()


def test_the_migration_deletes_the_chunks_documents_that_failed_before_kept(make_tenant):
    import importlib

    migration = importlib.import_module("quire.documents.migrations.0012_failed_documents_chunks_deleted")
    with tenant_context(make_tenant("search-failed-before").tenant):
        failed = _document("failed-before.txt", "failed", _around(numpy.ones(384), 3, 0.1, 4))
        ready = _document("ready-kept.txt", "ready", _around(numpy.ones(384), 2, 0.1, 5))
        with connection.cursor() as cursor:
            cursor.execute(migration.DELETE_FAILED_CHUNKS)
            cursor.execute(migration.RESET_FAILED_COUNTS)
        failed.refresh_from_db()
        ready.refresh_from_db()
        assert (failed.chunk_count, Chunk.objects.filter(document=failed).count()) == (0, 0)
        assert (ready.chunk_count, Chunk.objects.filter(document=ready).count()) == (2, 2)


def test_cjk_chunks_are_packed_into_a_budget_at_a_token_a_character(make_tenant):
    sentence = "甲方应当在收到乙方书面通知后三十日内支付全部款项。"
    text = sentence * 40
    with tenant_context(make_tenant("search-cjk").tenant):
        document = Document.objects.create(
            filename="cjk.txt",
            content_type="text/plain",
            sha256=hashlib.sha256(b"cjk").hexdigest(),
            size_bytes=len(text.encode()),
            text=text,
            status="ready",
            chunk_count=10,
        )
        step = 4 * len(sentence)
        Chunk.objects.bulk_create(
            Chunk(
                document=document,
                index=i,
                start=i * step,
                end=(i + 1) * step,
                text=text[i * step : (i + 1) * step],
                embedding=_around(numpy.ones(384), 1, 0.1, i)[0],
            )
            for i in range(10)
        )
        packed = question_chunks(document_id=document.pk, question="支付款项", token_budget=250)
    assert len(packed) == 2, packed


def test_a_search_over_a_document_that_does_not_exist_names_its_place_as_a_job_does(api_a):
    kept = api_a.post("/v1/documents", {"text": "A searchable note.", "filename": "s.txt"}).json()["id"]
    refused = api_a.post("/v1/search", {"query": "note", "documents": [kept, "doc_missing"]})
    error = refused.json()["error"]
    assert refused.status_code == 404 and (error["code"], error["param"]) == (
        "resource_missing",
        "documents.1",
    )
    job = api_a.post("/v1/jobs", {"connector": "legal", "documents": ["doc_missing"]}).json()["error"]
    assert job["param"] == "documents.0"
