"""A document whose worker dies mid-ingest is re-queued by beat once it has been stuck past
QUIRE_DOCUMENT_STUCK_SECONDS, before the broker would redeliver it, and ends `ready` once: one set of
chunks and one `document.ready` event, even when the broker redelivers the original task afterwards."""

from __future__ import annotations

import io
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db.models import F
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from quire.documents import services
from quire.documents.chunking import chunk_text
from quire.documents.models import Chunk, Document
from quire.documents.services import DOCUMENT_INGEST_TASK, documents_requeue_stuck
from quire.webhooks.models import Event
from tests.support import Api, WorkerProcess, wait_for
from tests.support.documents import stored_upload
from tests.support.processes import task_ids_received
from tests.support.recovery import RESCUER_VISIBILITY_S, rescued


def _long_text(sentences: int) -> str:
    """Distinct sentences: a fresh worker loads the embedding model and embeds them for a few seconds."""
    return "\n\n".join(
        " ".join(
            f"Clause {p}.{s}: the supplier shall deliver lot {p * 31 + s} to warehouse {s % 7} by day {p + s}."
            for s in range(10)
        )
        for p in range(sentences // 10)
    )


def _ready_events(document_id: str) -> int:
    return Event.objects.filter(type="document.ready", data__id=document_id).count()


@pytest.mark.timeout(420)
def test_a_document_whose_worker_died_mid_ingest_is_requeued_and_ready_once(
    celery_worker, make_tenant, tmp_path
):
    provisioned = make_tenant("stuck-docs")
    api = Api(provisioned.issued_key.secret)
    with rescued(celery_worker, tmp_path, DOCUMENT_INGEST_TASK) as rescue:
        victim = WorkerProcess(queues="ingest", concurrency=1, log_path=tmp_path / "victim.log")
        victim.start(wait=False)
        try:
            celery_worker.stop()
            victim.wait_ready()
            created = api.post("/v1/documents", {"text": _long_text(800), "filename": "lots.txt"})
            document_id = created.json()["id"]
            wait_for(
                lambda: api.get(f"/v1/documents/{document_id}").json()["status"] == "embedding",
                timeout=120,
                interval=0.05,
            )
        finally:
            victim.kill()
        rescue.start()
        ready = wait_for(
            lambda: (
                (body := api.get(f"/v1/documents/{document_id}").json())["status"] in ("ready", "failed")
                and body
            ),
            timeout=RESCUER_VISIBILITY_S,
            interval=0.2,
        )
        assert ready["status"] == "ready", ready
        # The sweep queued it once: the rescuing run's heartbeat kept later sweeps away from it, though it ran
        # past the threshold.
        assert rescue.worker.log_path.read_text().count(f"document {document_id}: stuck in") == 1, (
            rescue.timeline(victim.log_path)
        )
        # Only this tenant's: the victim may have taken, and the rescuer's sweeps requeue, what earlier tests left
        # queued or stuck in other tenants.
        schema = provisioned.tenant.schema_name
        victims = task_ids_received(victim.log_path, DOCUMENT_INGEST_TASK)
        received = rescue.worker.task_ids_received(DOCUMENT_INGEST_TASK, schema)
        assert len(received) == 1 and not set(received) & set(victims), rescue.timeline(victim.log_path)

        rescue.wait_for_redelivered_original(victim.log_path, schema)
    with tenant_context(provisioned.tenant):
        document = Document.objects.get(pk=document_id)
        assert document.status == "ready" and document.chunk_count > 30
        indexes = sorted(Chunk.objects.filter(document=document).values_list("index", flat=True))
        assert indexes == list(range(document.chunk_count))
        assert _ready_events(document_id) == 1
        assert not Event.objects.filter(type="document.failed", data__id=document_id).exists()


def test_the_sweep_requeues_only_documents_stuck_past_the_threshold(make_tenant, monkeypatch):
    from quire import queueing

    sent = []
    app = SimpleNamespace(send_task=lambda name, args, **options: sent.append((name, args)))
    monkeypatch.setattr(queueing, "current_app", app)
    tenant = make_tenant("stuck-sweep").tenant
    long_ago = timezone.now() - timedelta(hours=1)
    with tenant_context(tenant):
        rows = {
            status: Document.objects.create(
                filename=f"{status}.txt",
                content_type="text/plain",
                sha256=status.ljust(64, "0"),
                size_bytes=1,
                file="none",
                status=status,
            )
            for status in ("parsing", "embedding", "pending", "ready", "failed")
        }
        Document.objects.update(heartbeat_at=long_ago)
        fresh = Document.objects.create(
            filename="fresh.txt", content_type="text/plain", sha256="f" * 64, size_bytes=1, file="none"
        )
        Document.objects.filter(pk=fresh.pk).update(status="embedding", heartbeat_at=timezone.now())
        unqueued = Document.objects.create(
            filename="unqueued.txt", content_type="text/plain", sha256="u" * 64, size_bytes=1, file="none"
        )
        Document.objects.filter(pk=unqueued.pk).update(ingest_unqueued=True)
        assert documents_requeue_stuck(stuck_after=timedelta(minutes=5)) == 3
        assert documents_requeue_stuck(stuck_after=timedelta(minutes=5)) == 0
        statuses = dict(Document.objects.values_list("pk", "status"))
        assert not Document.objects.filter(ingest_unqueued=True).exists()
    assert sorted(sent) == sorted(
        (DOCUMENT_INGEST_TASK, [pk]) for pk in (rows["parsing"].pk, rows["embedding"].pk, unqueued.pk)
    )
    assert statuses[rows["parsing"].pk] == statuses[rows["embedding"].pk] == "pending"
    assert statuses[fresh.pk] == "embedding"
    assert [statuses[rows[s].pk] for s in ("pending", "ready", "failed")] == ["pending", "ready", "failed"]


def test_a_metadata_update_does_not_keep_a_dead_ingest_looking_alive(make_tenant, monkeypatch):
    from quire import queueing
    from quire.documents.services import document_update

    sent = []
    monkeypatch.setattr(
        queueing, "current_app", SimpleNamespace(send_task=lambda name, args, **o: sent.append(args))
    )
    tenant = make_tenant("stuck-metadata").tenant
    with tenant_context(tenant):
        dead = Document.objects.create(
            filename="dead.txt", content_type="text/plain", sha256="d" * 64, size_bytes=1, status="parsing"
        )
        Document.objects.filter(pk=dead.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
        try:
            document_update(document=dead, metadata={"matter": "M-17"})
            assert documents_requeue_stuck(stuck_after=timedelta(minutes=5)) == 1
            assert Document.objects.get(pk=dead.pk).status == "pending" and sent == [[dead.pk]]
        finally:
            Document.objects.filter(pk=dead.pk).delete()


def test_a_large_upload_queued_again_by_a_sweep_keeps_the_lowest_priority(make_tenant, monkeypatch):
    from django.conf import settings as django_settings

    from quire import queueing

    sent = []
    monkeypatch.setattr(
        queueing,
        "current_app",
        SimpleNamespace(send_task=lambda name, args, **options: sent.append((args, options.get("priority")))),
    )
    tenant = make_tenant("stuck-large").tenant
    large = django_settings.QUIRE_INGEST_LARGE_BYTES + 1
    with tenant_context(tenant):
        big = Document.objects.create(
            filename="big.pdf",
            content_type="application/pdf",
            sha256="b" * 64,
            size_bytes=large,
            status="embedding",
        )
        small = Document.objects.create(
            filename="small.txt", content_type="text/plain", sha256="s" * 64, size_bytes=10, status="parsing"
        )
        Document.objects.update(heartbeat_at=timezone.now() - timedelta(hours=1))
        assert documents_requeue_stuck(stuck_after=timedelta(minutes=5)) == 2
    assert sorted(sent) == sorted([([big.pk], 9), ([small.pk], None)])


def test_a_pending_document_no_worker_has_seen_for_hours_is_sent_again_once(make_tenant, monkeypatch):
    from django.conf import settings as django_settings

    from quire import queueing

    sent = []
    monkeypatch.setattr(
        queueing, "current_app", SimpleNamespace(send_task=lambda name, args, **o: sent.append(args))
    )
    tenant = make_tenant("lost-ingests").tenant
    hours_ago = timezone.now() - timedelta(seconds=django_settings.QUIRE_JOB_QUEUED_LOST_SECONDS + 60)
    with tenant_context(tenant):
        lost, seen, fresh = (
            Document.objects.create(
                filename=f"{name}.txt", content_type="text/plain", sha256=name.ljust(64, "0"), size_bytes=1
            )
            for name in ("lost", "seen", "fresh")
        )
        Document.objects.filter(pk__in=[lost.pk, seen.pk]).update(created_at=hours_ago)
        Document.objects.filter(pk=seen.pk).update(queued_seen_at=timezone.now())
        assert documents_requeue_stuck() == 1
        assert documents_requeue_stuck() == 0
    assert sent == [[lost.pk]] and [fresh.pk] not in sent


def test_an_ingest_task_that_cannot_reach_redis_before_its_claim_is_retried(tenant_a, monkeypatch):
    import redis

    from quire.documents import tasks

    entered = []

    class Share:
        granted = True

        def __init__(self, schema_name, task_id):
            pass

        def __enter__(self):
            entered.append(True)
            if len(entered) == 1:
                raise redis.ConnectionError("Error 111 connecting to redis: Connection refused.")
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(tasks, "TenantShare", Share)
    monkeypatch.setattr(tasks, "_ingest", lambda document_id, soft_limit, *, deadline: "ready")
    with tenant_context(tenant_a.tenant):
        assert tasks.document_ingest_task.apply(args=["doc_unreachable"]).get() == "ready"
    assert len(entered) == 2


def test_an_ingest_running_when_its_tenant_enters_maintenance_stops_and_is_retried_after_it(
    make_tenant, monkeypatch
):
    """A restore about to swap the schema puts its tenant in maintenance: the ingest stops at its next batch,
    the document waits `pending` as before its claim (the attempt not counted), and the task is retried after
    QUIRE_MAINTENANCE_RETRY_SECONDS; the next run ingests it whole."""
    from celery.exceptions import Retry

    from quire.documents import tasks
    from tenants.services import tenant_maintenance_begin, tenant_maintenance_end

    tenant = make_tenant("ingest-maintenance").tenant
    embed, encoder = services.chunk_embedder()

    began: list[bool] = []

    def embedded_while_maintenance_begins(texts: list[str]):
        if not began:
            began.append(tenant_maintenance_begin(tenant=tenant))
            wait_for(lambda: Document.objects.get(pk=document.pk).status == "pending", timeout=30)
        return embed(texts)

    retried: list[dict] = []

    def retry(**options):
        retried.append(options)
        raise Retry()

    monkeypatch.setattr(services, "chunk_embedder", lambda: (embedded_while_maintenance_begins, encoder))
    monkeypatch.setattr(tasks.document_ingest_task, "retry", retry)
    text = _long_text(40).encode()
    with (
        tenant_context(tenant),
        override_settings(QUIRE_INGEST_EMBED_BATCH_CHUNKS=1, QUIRE_MAINTENANCE_RETRY_SECONDS=7),
    ):
        document = stored_upload(text, "lots.txt", "text/plain")
        tasks.document_ingest_task.apply(args=[document.pk])
        assert [options["countdown"] for options in retried] == [7]
        put_off = Document.objects.get(pk=document.pk)
        assert (put_off.status, put_off.ingest_owner, put_off.ingest_attempts) == ("pending", "", 0)
        tenant_maintenance_end(tenant=tenant)
        services.document_ingest(tenant=tenant, document_id=document.pk)
        ready = Document.objects.get(pk=document.pk)
        assert (ready.status, ready.ingest_attempts) == ("ready", 1), ready.failure_reason
        indexes = sorted(Chunk.objects.filter(document=ready).values_list("index", flat=True))
        assert indexes == list(range(ready.chunk_count)) and ready.chunk_count > 1
        assert _ready_events(document.pk) == 1


def test_a_restore_waits_for_an_ingest_whose_heartbeat_is_fresh(make_tenant):
    """The restore's drain names an ingest that still holds its claim, and not one whose heartbeat is stale."""
    from django.conf import settings as django_settings

    from common.processes import process_identity
    from tenants.backups import _in_flight

    tenant = make_tenant("ingest-drain").tenant
    stale = timezone.now() - timedelta(seconds=django_settings.QUIRE_DOCUMENT_STUCK_SECONDS + 60)
    with tenant_context(tenant):
        live, dead = (
            Document.objects.create(
                filename=f"{name}.txt",
                content_type="text/plain",
                sha256=name.ljust(64, "0"),
                size_bytes=1,
                status="embedding",
                ingest_owner=process_identity(),
                heartbeat_at=beat,
            )
            for name, beat in (("live", timezone.now()), ("dead", stale))
        )
    lines = [line for line in _in_flight(tenant) if line.startswith("ingest")]
    assert len(lines) == 1 and live.pk in lines[0] and dead.pk not in lines[0], lines


def _rewound(tenant, kept: int, status: str = "embedding") -> tuple[Document, list[int]]:
    """A document ingested to the end, then put back as a run that died while embedding leaves it: `kept`
    chunks stored, its heartbeat an hour old (`status` pending: as the stuck sweep then leaves it)."""
    text = _long_text(60).encode()
    document = stored_upload(text, "lots.txt", "text/plain")
    services.document_ingest(tenant=tenant, document_id=document.pk)
    assert Document.objects.get(pk=document.pk).chunk_count > kept
    Chunk.objects.filter(document=document, index__gte=kept).delete()
    Document.objects.filter(pk=document.pk).update(
        status=status,
        chunk_count=kept,
        ingest_owner="gone-host:4242",
        heartbeat_at=timezone.now() - timedelta(hours=1),
    )
    return document, list(
        Chunk.objects.filter(document=document).order_by("index").values_list("pk", flat=True)
    )


@pytest.mark.parametrize("status", ["embedding", "pending"])
def test_an_ingest_taken_over_while_embedding_goes_on_from_its_stored_chunks(
    make_tenant, monkeypatch, status
):
    tenant = make_tenant(f"stuck-resume-{status}").tenant
    embedded: list[int] = []
    real = services.chunk_embedder

    def counting():
        embed, encoder = real()
        return (lambda texts: embedded.append(len(texts)) or embed(texts)), encoder

    with tenant_context(tenant), override_settings(QUIRE_INGEST_EMBED_BATCH_CHUNKS=4):
        document, kept = _rewound(tenant, 5, status)
        monkeypatch.setattr(services, "chunk_embedder", counting)
        monkeypatch.setattr(services, "parse_document", lambda *a, **k: pytest.fail("parsed again"))
        services.document_ingest(tenant=tenant, document_id=document.pk)
        ready = Document.objects.get(pk=document.pk)
        assert (ready.status, ready.pages_parsed) == ("ready", 1), ready.failure_reason
        chunks = list(Chunk.objects.filter(document=ready).order_by("index"))
        assert [c.index for c in chunks] == list(range(ready.chunk_count))
        assert [c.pk for c in chunks[:5]] == kept
        assert sum(embedded) == ready.chunk_count - 5
        spans = chunk_text(ready.text)
        assert [(c.start, c.end) for c in chunks] == [(s.start, s.end) for s in spans]


def test_an_ingest_taken_over_whose_stored_chunks_differ_starts_again_from_the_file(make_tenant, monkeypatch):
    tenant = make_tenant("stuck-restart").tenant
    parsed: list[str] = []
    real = services.parse_document
    monkeypatch.setattr(services, "parse_document", lambda *a, **k: parsed.append("x") or real(*a, **k))
    with tenant_context(tenant):
        document, kept = _rewound(tenant, 3)
        Chunk.objects.filter(pk=kept[1]).update(end=F("end") - 1)
        parsed.clear()
        services.document_ingest(tenant=tenant, document_id=document.pk)
        ready = Document.objects.get(pk=document.pk)
        assert ready.status == "ready" and parsed == ["x"]
        chunks = list(Chunk.objects.filter(document=ready).order_by("index"))
        assert [(c.start, c.end) for c in chunks] == [(s.start, s.end) for s in chunk_text(ready.text)]
        assert not set(kept) & {c.pk for c in chunks}


def _scanned_pages(pages: int) -> bytes:
    """An image-only PDF of `pages` pages, each a few words of its own."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=28)
    images = []
    for number in range(1, pages + 1):
        image = Image.new("L", (1100, 300), 255)
        ImageDraw.Draw(image).text(
            (40, 60), f"Page {number} of the scanned lease schedule", fill=0, font=font
        )
        images.append(image)
    out = io.BytesIO()
    images[0].save(out, "PDF", resolution=150, save_all=True, append_images=images[1:])
    return out.getvalue()


class _Died(BaseException):
    """The run's process killed: nothing of the run handles it."""


def test_a_parse_taken_over_reads_by_ocr_only_the_pages_the_dead_run_had_not(make_tenant, monkeypatch):
    from quire.documents import ocr, pdf

    tenant = make_tenant("stuck-ocr").tenant
    content = _scanned_pages(3)
    read: list[int] = []
    real = ocr.ocr_page
    monkeypatch.setattr(
        pdf, "ocr_page", lambda page, number, limits: read.append(number) or real(page, number, limits)
    )
    real_progress = services._page_progress

    def dying(document_id, keeper):
        report = real_progress(document_id, keeper)

        def after(done: int, total: int) -> None:
            report(done, total)
            if done == 2:
                raise _Died

        return after

    with tenant_context(tenant):
        document = stored_upload(content, "scan.pdf", "application/pdf")
        monkeypatch.setattr(services, "_page_progress", dying)
        with pytest.raises(_Died):
            services.document_ingest(tenant=tenant, document_id=document.pk)
        assert read == [1, 2] and Document.objects.get(pk=document.pk).status == "parsing"
        Document.objects.filter(pk=document.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
        monkeypatch.setattr(services, "_page_progress", real_progress)
        services.document_ingest(tenant=tenant, document_id=document.pk)
        ready = Document.objects.get(pk=document.pk)
        assert ready.status == "ready" and read == [1, 2, 3], ready.failure_reason
        assert ready.ocr_pages == [1, 2, 3]
        assert [f"Page {n} of the scanned lease schedule" in ready.text for n in (1, 2, 3)] == [True] * 3
        kept = services.OcrPagesKept(ready, services.IngestLimits.from_settings())
        assert [kept.read(n) for n in (1, 2, 3)] == [None] * 3
