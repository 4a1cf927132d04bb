"""Deleting many documents costs per result what deleting one does: a result, event or stored response that
quotes many of them is redacted in one walk, as deleting them one after another would redact it, and written
once; the retention sweep deletes a batch at a time within its budget and leaves the rest for its next run."""

from __future__ import annotations

import copy
import logging
import time
import uuid
from datetime import timedelta

from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

TEXT = "{name} shall deliver the Products within thirty days of each order placed under this Agreement."


def _texts(*names: str) -> dict[str, str]:
    return {f"doc_{name}": TEXT.format(name=name.title()) for name in names}


def _review_output(texts: dict[str, str]) -> dict:
    rows = []
    for document_id, text in texts.items():
        span = {"document_id": document_id, "start": 0, "end": 60, "quote": text[:60]}
        cell = {"value": text[:60], "confidence": 0.8, "status": "answered", "spans": [span]}
        rows.append({"document_id": document_id, "cells": {"c0": cell}})
    return {"connector": "review", "columns": [{"key": "c0", "question": "Who delivers?"}], "rows": rows}


def test_many_documents_are_redacted_in_one_walk_as_one_after_another():
    from quire.documents.redaction import Redactor

    texts = _texts("a", "b", "c")
    a, b, c = texts
    span = {
        document_id: {"document_id": document_id, "start": 0, "end": 60, "quote": texts[document_id][:60]}
        for document_id in texts
    }
    output = {
        **_review_output(texts),
        "findings": [
            {"text": texts[a][:70], "note": texts[b][5:65], "spans": [span[a], span[b]]},
            {"text": "kept", "spans": [{**span[c], "document_id": "doc_kept"}]},
        ],
        "passages": [{"document": b, "start": 0, "end": 60, "text": texts[b][:60]}],
        "warnings": [f"quote not found in {a!r}", f"{b!r} and {c!r} disagree", "about 'doc_kept'"],
        "email": {
            "object": "document",
            "id": a,
            "filename": "a.eml",
            "metadata": {"m": 1},
            "attachments": [{"document_id": b, "filename": "b.pdf"}],
        },
        "correction": {"object": "cell_correction", "document": c, "key": "c0", "corrected_value": "C"},
        "legal": {
            "clauses": [],
            "risks": [],
            "answers": {"Parties": ["B"], "Governing Law": "Delaware"},
            "answers_by_document": {
                b: {"Parties": ["B"], "Governing Law": "Delaware"},
                "doc_kept": {"Parties": ["K"], "Governing Law": "Ohio"},
            },
        },
    }
    one_after_another, counts = copy.deepcopy(output), {}
    for document_id, text in texts.items():
        single = Redactor(document_id=document_id, text=text)
        one_after_another = single(one_after_another)
        counts[document_id] = single.count

    together = Redactor(texts=texts)
    assert together(copy.deepcopy(output)) == one_after_another
    assert together.counts == counts and together.count == sum(counts.values()) == 6
    assert one_after_another != output and one_after_another["findings"][1] == output["findings"][1]

    only_a = Redactor(texts=texts)(copy.deepcopy(output), among=[a, "doc_other"])
    assert only_a == Redactor(document_id=a, text=texts[a])(copy.deepcopy(output))


def _seed(tenant, count: int, *, days_old: int = 0):
    """`count` ready documents created `days_old` days ago, a succeeded review quoting each of them, and a
    `document.ready` event for each."""
    from quire.documents.models import Document
    from quire.jobs.models import Job, JobResult
    from quire.webhooks.services import event_publish

    with tenant_context(tenant):
        documents = [
            Document.objects.create(
                filename=f"{n}.txt",
                content_type="text/plain",
                sha256=uuid.uuid4().hex * 2,
                size_bytes=100,
                text=TEXT.format(name=f"Supplier {uuid.uuid4().hex[:8]}"),
                status="ready",
                page_starts=[0],
            )
            for n in range(count)
        ]
        ids = [d.pk for d in documents]
        Document.objects.filter(pk__in=ids).update(created_at=timezone.now() - timedelta(days=days_old))
        review = Job.objects.create(connector="review", document_ids=ids, status="succeeded", attempt=1)
        JobResult.objects.create(
            job=review, output=_review_output({d.pk: d.text for d in documents}), attempt=1
        )
        for document in documents:
            event_publish(
                event_type="document.ready",
                data={"object": "document", "id": document.pk, "filename": document.filename, "metadata": {}},
            )
    return documents, review


def _statements(queries: CaptureQueriesContext, start: str) -> int:
    return sum(
        1
        for query in queries.captured_queries
        if query["sql"].startswith(start) and not query["sql"].startswith("SET search_path")
    )


def test_deleting_many_documents_rewrites_a_result_quoting_them_once(make_tenant):
    from quire.documents.services import documents_delete
    from quire.jobs.models import JobResult
    from quire.webhooks.models import Event
    from tenants.models import AuditEvent

    tenant = make_tenant("bulk-erasure").tenant
    documents, review = _seed(tenant, 12)
    ids = [d.pk for d in documents]
    with tenant_context(tenant):
        with CaptureQueriesContext(connection) as one:
            assert documents_delete(document_ids=ids[:1]) == ids[:1]
        with CaptureQueriesContext(connection) as ten:
            assert documents_delete(document_ids=[*ids[1:11], "doc_gone"]) == sorted(ids[1:11])
        for queries in (one, ten):
            assert _statements(queries, 'SELECT "jobs_jobresult"') == 1
            assert _statements(queries, 'UPDATE "jobs_jobresult"') == 1
            assert _statements(queries, 'SELECT "webhooks_event"') == 1
            assert _statements(queries, 'SELECT "api_idempotencyrecord"') == 1
        # Each further document adds its own rows' statements only: its audit record, its event and that
        # event's delivery log.
        assert _statements(ten, "") - _statements(one, "") == 9 * 3

        rows = JobResult.objects.get(job=review).output["rows"]
        assert [row["cells"]["c0"].get("redacted", False) for row in rows] == [True] * 11 + [False]
        assert all(row["cells"]["c0"]["value"] is None for row in rows[:11])
        assert rows[11]["cells"]["c0"]["spans"][0]["quote"] == documents[11].text[:60]
        events = {e.data["id"]: e.data for e in Event.objects.filter(type="document.ready")}
        assert all(events[d]["filename"] == "" and events[d]["redacted"] for d in ids[:11])
        assert events[ids[11]]["filename"] == "11.txt"
    audited = AuditEvent.objects.filter(tenant_id=tenant.pk, action="document.delete")
    assert {e.object_id: e.details for e in audited} == {
        d: {"spans_redacted": 1, "events_rewritten": 1} for d in ids[:11]
    }


def test_the_retention_sweep_stops_at_its_budget_and_the_next_run_finishes(make_tenant, monkeypatch, caplog):
    from quire.documents import services
    from quire.documents.models import Document
    from quire.jobs.models import JobResult
    from quire.jobs.services import retention_apply
    from quire.jobs.tasks import retention_apply_task
    from tenants.models import AuditEvent
    from tenants.services import tenant_settings_update

    tenant = make_tenant("retention-budget").tenant
    old, review = _seed(tenant, 5, days_old=40)
    kept, _ = _seed(tenant, 1)
    tenant_settings_update(tenant=tenant, retention_days=30)
    monkeypatch.setattr(services, "PURGE_BATCH", 2)
    delete = services.documents_delete

    def slow_delete(**kwargs):
        time.sleep(0.5)
        return delete(**kwargs)

    monkeypatch.setattr(services, "documents_delete", slow_delete)
    with tenant_context(tenant), caplog.at_level(logging.INFO, logger="quire.jobs.services"):
        assert retention_apply(tenant=tenant, deadline=time.monotonic() + 0.25)["documents"] == 2
        assert "3 documents past it left for the next run" in caplog.text
        assert Document.objects.filter(pk__in=[d.pk for d in old]).count() == 3
    with override_settings(QUIRE_RETENTION_BUDGET_SECONDS=0):
        retention_apply_task()
    with tenant_context(tenant):
        assert Document.objects.filter(pk__in=[d.pk for d in old]).count() == 3
        assert retention_apply(tenant=tenant, deadline=time.monotonic() + 60)["documents"] == 3
        assert list(Document.objects.values_list("pk", flat=True)) == [kept[0].pk]
        rows = JobResult.objects.get(job=review).output["rows"]
        assert all(row["cells"]["c0"]["redacted"] and not row["cells"]["c0"]["value"] for row in rows)
    deleted = AuditEvent.objects.filter(tenant_id=tenant.pk, action="document.delete")
    assert sorted(deleted.values_list("object_id", flat=True)) == sorted(d.pk for d in old)


def test_a_documents_chunks_go_in_one_statement_without_being_read(make_tenant):
    """No listener of chunk deletes is left (django-tenants' listens to tenants only), so a document's chunks,
    vectors and all, are deleted in bulk rather than each loaded and signalled."""
    from django.db.models.signals import post_delete

    from quire.documents.models import Chunk
    from quire.documents.services import documents_delete

    assert not post_delete.has_listeners(Chunk)
    tenant = make_tenant("chunky-erasure").tenant
    documents, _ = _seed(tenant, 2)
    with tenant_context(tenant):
        for document, count in zip(documents, (1, 60), strict=True):
            Chunk.objects.bulk_create(
                Chunk(document=document, index=i, start=0, end=10, text="chunk text", embedding=[0.1] * 384)
                for i in range(count)
            )
        statements = []
        for document in documents:
            with CaptureQueriesContext(connection) as queries:
                documents_delete(document_ids=[document.pk])
            assert _statements(queries, 'SELECT "documents_chunk"') == 0
            assert _statements(queries, 'DELETE FROM "documents_chunk"') == 1
            statements.append(len(queries))
        assert not Chunk.objects.filter(document__in=documents).exists()
    assert statements[0] == statements[1]
