"""Stored chunks carry the name of the encoder that embedded them; ready documents another encoder embedded are
embedded again by beat (or `quire_reembed`), in one write per document that a concurrent ingest wins over."""

from __future__ import annotations

import hashlib

import numpy
import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from inference.embeddings import embed_chunks, embed_texts, encoder_name, int8_is_faster
from quire.documents import services
from quire.documents.chunking import chunk_text, embedding_texts
from quire.documents.models import Chunk, Document
from quire.documents.services import document_ingest, document_reembed, documents_stale
from quire.documents.tasks import documents_reembed_stale_task
from tenants.services import for_each_tenant

TEXT = "Supplier ships within {days} days of the order. " * 30 + "Governing law is Delaware. " * 10


def _ingested(tenant, days: int, *, distilled: bool) -> Document:
    text = TEXT.format(days=days)
    digest = hashlib.sha256(text.encode()).hexdigest()
    with override_settings(QUIRE_INGEST_DISTILLED_CHUNKS=distilled):
        document = Document(filename="s.txt", content_type="text/plain", sha256=digest, size_bytes=len(text))
        document.file.save(digest, ContentFile(text.encode()), save=False)
        document.save()
        document_ingest(tenant=tenant, document_id=document.pk)
    return Document.objects.get(pk=document.pk)


def _vectors(document: Document) -> numpy.ndarray:
    return numpy.array(
        [chunk.embedding for chunk in Chunk.objects.filter(document=document).order_by("index")]
    )


def test_a_document_another_encoder_embedded_is_embedded_again_once(tenant_a):
    with tenant_context(tenant_a.tenant):
        document = _ingested(tenant_a.tenant, 31, distilled=False)
        assert document.status == "ready" and document.encoder == encoder_name(chunks=False)
        read = embedding_texts(document.text, chunk_text(document.text))
        before = _vectors(document)
        assert numpy.allclose(before, embed_texts(read, quantized=int8_is_faster()), atol=1e-5)
        assert document.pk in documents_stale()

        assert document_reembed(document_id=document.pk) is True
        after = Document.objects.get(pk=document.pk)
        assert after.encoder == encoder_name(chunks=True) != encoder_name(chunks=False)
        assert after.updated_at == document.updated_at
        assert numpy.allclose(_vectors(after), embed_chunks(read, quantized=int8_is_faster()), atol=1e-5)
        assert not numpy.allclose(_vectors(after), before, atol=1e-2)
        assert document.pk not in documents_stale()
        assert document_reembed(document_id=document.pk) is False

        fresh = _ingested(tenant_a.tenant, 32, distilled=True)
        assert fresh.encoder == encoder_name(chunks=True) and fresh.pk not in documents_stale()


def test_an_ingest_that_starts_meanwhile_wins_and_unready_documents_wait(tenant_a, monkeypatch):
    with tenant_context(tenant_a.tenant):
        document = _ingested(tenant_a.tenant, 33, distilled=False)
        before = _vectors(document)
        embed, name = services.chunk_embedder()

        def embed_while_ingest_claims(texts):
            Document.objects.filter(pk=document.pk).update(status="parsing", updated_at=timezone.now())
            return embed(texts)

        monkeypatch.setattr(services, "chunk_embedder", lambda: (embed_while_ingest_claims, name))
        assert document_reembed(document_id=document.pk) is False
        assert numpy.array_equal(_vectors(document), before)
        assert Document.objects.get(pk=document.pk).encoder == encoder_name(chunks=False)
        assert document.pk not in documents_stale()
        monkeypatch.undo()
        Document.objects.filter(pk=document.pk).update(status="ready")
        assert document.pk in documents_stale()
        with override_settings(QUIRE_INGEST_DISTILLED_CHUNKS=False):
            assert document.pk not in documents_stale()


def test_the_sweep_keeps_its_budget_and_the_command_reports_what_it_wrote(tenant_a, capsys):
    with tenant_context(tenant_a.tenant):
        document = _ingested(tenant_a.tenant, 34, distilled=False)
    with override_settings(QUIRE_REEMBED_BUDGET_SECONDS=0):
        documents_reembed_stale_task()
    with tenant_context(tenant_a.tenant):
        assert document.pk in documents_stale()
    call_command("quire_reembed", tenant=tenant_a.tenant.slug)
    assert "documents embedded again" in capsys.readouterr().out
    with tenant_context(tenant_a.tenant):
        assert Document.objects.get(pk=document.pk).encoder == encoder_name(chunks=True)
        assert documents_stale() == []
    with pytest.raises(CommandError, match="no tenant 'nobody'"):
        call_command("quire_reembed", tenant="nobody")


def test_each_sweep_begins_one_tenant_further_along(tenant_a, tenant_b):
    order = for_each_tenant(lambda tenant: tenant.slug)
    assert {tenant_a.tenant.slug, tenant_b.tenant.slug} <= set(order)
    assert for_each_tenant(lambda tenant: tenant.slug, start=1) == order[1:] + order[:1]
    assert for_each_tenant(lambda tenant: tenant.slug, start=len(order) + 1) == order[1:] + order[:1]
    assert for_each_tenant(lambda tenant: tenant.slug, start=len(order)) == order


def test_a_sweep_finds_the_stale_documents_through_an_index_of_the_ready_ones_by_encoder(make_tenant):
    """Every 5 minutes the sweep asks each tenant for its stale documents, mostly to find none: it reads the
    index's two ranges on either side of the current encoder, not every ready document (the plan, with the
    planner kept from a sequential scan as on a table of many documents)."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    tenant = make_tenant("reembed-index").tenant
    current = services.chunk_encoder_name()
    with tenant_context(tenant):
        documents = Document.objects.bulk_create(
            Document(
                filename=f"d{n}.txt",
                content_type="text/plain",
                sha256=f"{n:064d}",
                size_bytes=1,
                status=status,
                encoder=encoder,
            )
            for n, (status, encoder) in enumerate(
                [("ready", current)] * 6 + [("ready", ""), ("ready", "zz-later"), ("parsing", "")]
            )
        )
        with CaptureQueriesContext(connection) as queries:
            assert documents_stale() == [documents[6].pk, documents[7].pk]
        (lookup,) = [q["sql"] for q in queries.captured_queries if '"encoder"' in q["sql"]]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {lookup}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "document_ready_encoder" in plan, plan
