"""What one document may cost to ingest: zip bombs, lying headers, page bombs, deep nesting, passwords,
a slow parse past the time limit, a document deleted mid-ingest. Each is refused at upload or ends
`failed` with its reason, quickly and without the worker's memory growing with the bomb."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from django.core.files.base import ContentFile
from django_tenants.utils import tenant_context

from common.jsontext import json_depth
from quire.documents.limits import IngestLimits
from quire.documents.models import Chunk, Document
from quire.documents.parsing import ParseError, parse_document
from quire.documents.services import DOCUMENT_INGEST_TASK, document_delete
from quire.documents.sniffing import DOCX, HTML, PDF
from tests.support import Api, WorkerProcess, wait_for
from tests.support.documents import CONTRACT, make_docx, make_pdf
from tests.support.paths import ROOT

MB = 1 << 20


# --- documents built here ---------------------------------------------------------------------------


def docx_bomb(unzipped_mb: int) -> bytes:
    """A real DOCX whose word/document.xml is `unzipped_mb` MB of one repeated paragraph, streamed into
    the archive from a generator (the XML never exists in memory whole)."""
    with zipfile.ZipFile(io.BytesIO(make_docx(["x"]))) as source:
        members = [(info, source.read(info)) for info in source.infolist()]
    xml = dict((info.filename, data) for info, data in members)["word/document.xml"].decode()
    head = xml.split("<w:body>")[0] + "<w:body>"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in members:
            if info.filename != "word/document.xml":
                archive.writestr(info, data)
        with archive.open("word/document.xml", "w") as member:
            for block in _xml_stream(head, unzipped_mb):
                member.write(block)
    return out.getvalue()


def _xml_stream(head: str, unzipped_mb: int) -> Iterator[bytes]:
    paragraph = (
        "<w:p><w:r><w:t>" + "All work and no play makes a dull document. " * 20 + "</w:t></w:r></w:p>"
    ).encode()
    block = paragraph * (MB // len(paragraph))
    yield head.encode()
    for _ in range(unzipped_mb):
        yield block
    yield b"</w:body></w:document>"


def lying_sizes(archive: bytes, name: str, declared: int) -> bytes:
    """`archive` with the uncompressed size its central directory declares for `name` set to `declared`."""
    patched = bytearray(archive)
    position = patched.find(b"PK\x01\x02")
    while position != -1:
        name_length = struct.unpack_from("<H", patched, position + 28)[0]
        if patched[position + 46 : position + 46 + name_length] == name.encode():
            struct.pack_into("<I", patched, position + 24, declared)
            return bytes(patched)
        position = patched.find(b"PK\x01\x02", position + 4)
    raise AssertionError(f"{name} not in the archive")


def many_pages(count: int) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(count):
        writer.add_blank_page(612, 792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypted_pdf(user_password: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(["Sealed but readable text"]))))
    writer.encrypt(user_password=user_password, owner_password="owner-secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def deep_html(depth: int) -> bytes:
    return ("<html><body>" + "<div>" * depth + "deep" + "</div>" * depth + "</body></html>").encode()


# --- helpers --------------------------------------------------------------------------------------------


def upload(api: Api, name: str, content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return api.client.post(
        "/v1/documents",
        {"file": SimpleUploadedFile(name, content, content_type="application/octet-stream")},
        **api._headers(None),
    )


def finished(api: Api, doc_id: str, timeout: float = 120) -> dict:
    def done():
        body = api.get(f"/v1/documents/{doc_id}").json()
        return body if body["status"] in ("ready", "failed") else None

    return wait_for(done, timeout=timeout, interval=0.2)


def refused(response, status: int, code: str) -> str:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code and error["param"] == "file", error
    return error["message"]


def stored(tenant, content: bytes, content_type: str, name: str) -> str:
    """A document row and its file, as an upload past the upload checks would leave them."""
    digest = hashlib.sha256(content).hexdigest()
    with tenant_context(tenant):
        Document.objects.filter(sha256=digest).delete()
        document = Document(filename=name, content_type=content_type, sha256=digest, size_bytes=len(content))
        document.file.save(digest, ContentFile(content), save=False)
        document.save()
        return document.id


class PrivateWorker(WorkerProcess):
    """A worker of its own on a queue of its own, so its processes' memory is this module's to measure."""

    def __init__(self, name: str = "bounded"):
        log_path = ROOT / ".quire" / f"test-{name}-worker-{os.getpid()}.log"
        log_path.unlink(missing_ok=True)
        env = {"QUIRE_INGEST_EMBED_BATCH_CHUNKS": "4", "QUIRE_LOG_LEVEL": "INFO"}
        super().__init__(f"{name}-ingest-{os.getpid()}", 1, env=env, log_path=log_path)

    def send(self, tenant, document_id: str, **options) -> None:
        from quire.celery import app

        with tenant_context(tenant):
            app.send_task(DOCUMENT_INGEST_TASK, args=[document_id], queue=self.queues, **options)

    def peak_rss(self) -> int:
        """The highest resident memory any pool process of this worker has reached (VmHWM)."""
        peaks = []
        for child in psutil.Process(self.proc.pid).children(recursive=True):
            for line in Path(f"/proc/{child.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) * 1024)
        return max(peaks)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def private_worker():
    worker = PrivateWorker().start(timeout=90)
    yield worker
    worker.stop()


def status_of(
    tenant, document_id: str, timeout: float = 60, log: Callable[[], str] | None = None
) -> Document:
    """The document once ready or failed; past `timeout`, its state and the end of `log()`."""

    def done():
        with tenant_context(tenant):
            document = Document.objects.filter(pk=document_id).first()
        return document if document is not None and document.status in ("ready", "failed") else None

    def stuck() -> str:
        with tenant_context(tenant):
            document = Document.objects.filter(pk=document_id).first()
        state = "gone" if document is None else f"{document.status}, updated {document.updated_at}"
        return f"{document_id} is {state}" + (f"; worker log:\n{log()[-4000:]}" if log else "")

    return wait_for(done, timeout=timeout, interval=0.2, message=stuck)


# --- refused at upload ----------------------------------------------------------------------------------


def test_a_docx_bomb_is_refused_at_upload_from_its_declared_sizes(api_a: Api):
    started = time.monotonic()
    message = refused(upload(api_a, "bomb.docx", docx_bomb(400)), 413, "document_expands_too_large")
    assert "unzipped" in message
    compact = refused(upload(api_a, "small-bomb.docx", docx_bomb(30)), 413, "document_expands_too_large")
    assert "times its own size" in compact
    assert time.monotonic() - started < 60


def test_a_pdf_declaring_too_many_pages_is_refused_at_upload(api_a: Api):
    message = refused(upload(api_a, "pages.pdf", many_pages(2_500)), 413, "too_many_pages")
    assert "2000 pages" in message


def test_deep_json_is_refused_at_upload(api_a: Api):
    response = upload(api_a, "deep.json", b"[" * 100_000 + b"]" * 100_000)
    assert "nests deeper than 512" in refused(response, 413, "nesting_too_deep")
    text = api_a.post("/v1/documents", {"text": "{" + '"a":{' * 5_000 + "}" * 5_001})
    assert text.status_code == 413 and text.json()["error"]["code"] == "nesting_too_deep", text.content


def test_a_pdf_with_a_password_is_refused_and_one_with_an_empty_password_is_read(api_a: Api, celery_worker):
    assert "password" in refused(upload(api_a, "locked.pdf", encrypted_pdf("pw")), 415, "document_encrypted")
    created = upload(api_a, "open.pdf", encrypted_pdf(""))
    assert created.status_code == 201, created.content
    body = finished(api_a, created.json()["id"])
    assert body["status"] == "ready", body
    text = api_a.get(f"/v1/documents/{body['id']}/text").json()["text"]
    assert "Sealed but readable text" in text


def test_an_office_document_encrypted_with_a_password_is_refused_at_upload_as_encrypted(api_a: Api):
    """An encrypted DOCX, XLSX or PPTX is an OLE file wrapping the package (MS-OFFCRYPTO)."""
    from tests.support.documents import make_ole

    encrypted = make_ole(
        [
            ("\x06DataSpaces", None),
            ("\x06DataSpaces/Version", bytes(16)),
            ("EncryptionInfo", bytes(64)),
            ("EncryptedPackage", bytes(128)),
        ]
    )
    message = refused(upload(api_a, "budget.xlsx", encrypted), 415, "document_encrypted")
    assert "Office document (DOCX, XLSX or PPTX) is encrypted with a password" in message


# --- failed while parsing ---------------------------------------------------------------------------------


def test_deep_html_fails_with_its_reason(api_a: Api, celery_worker):
    created = upload(api_a, "deep.html", deep_html(5_000))
    assert created.status_code == 201, created.content
    body = finished(api_a, created.json()["id"])
    assert body["status"] == "failed" and "nests deeper than 512" in body["failure_reason"], body
    shallow = parse_document(deep_html(300), HTML)
    assert shallow.text == "deep"


def test_a_pdf_whose_page_count_lies_fails_with_its_reason(api_a: Api, celery_worker):
    content = many_pages(2_500).replace(b"/Count 2500", b"/Count 1   ")
    created = upload(api_a, "lying-pages.pdf", content)
    assert created.status_code == 201, created.content
    body = finished(api_a, created.json()["id"])
    assert body["status"] == "failed" and "more than 2000 pages" in body["failure_reason"], body


def test_extracted_text_is_capped_as_it_is_extracted():
    limits = IngestLimits(max_text_chars=2_000)
    paragraphs = [CONTRACT] * 10
    for content, kind in ((make_docx(paragraphs), DOCX), (make_pdf(["word " * 100] * 50), PDF)):
        with pytest.raises(ParseError, match="longer than 2000 characters"):
            parse_document(content, kind, limits)
    assert parse_document(make_docx(paragraphs[:1]), DOCX, limits).text.startswith("MUTUAL")


def test_json_depth_skips_brackets_inside_strings():
    assert json_depth('{"turns": [{"speaker": "A", "text": "[[[[{{{{ \\" ]]"}]}') == 3
    assert json_depth("[]") == 1 and json_depth('"plain"') == 0


def test_bombs_past_the_upload_checks_fail_in_the_worker_without_its_memory_growing(tenant_a, private_worker):
    tenant = tenant_a.tenant
    bomb = stored(tenant, docx_bomb(400), DOCX, "bomb.docx")
    liar = stored(tenant, lying_sizes(docx_bomb(300), "word/document.xml", 20_000), DOCX, "lying-size.docx")
    started = time.monotonic()
    private_worker.send(tenant, bomb)
    private_worker.send(tenant, liar)
    bombed, lied = status_of(tenant, bomb), status_of(tenant, liar)
    assert time.monotonic() - started < 60
    assert bombed.status == "failed" and "unzipped" in bombed.failure_reason, bombed.failure_reason
    assert lied.status == "failed" and "CRC" in lied.failure_reason, lied.failure_reason
    peak = private_worker.peak_rss()
    assert peak < 600 * MB, f"worker peak RSS {peak / MB:.0f} MB"


def test_a_slow_parse_past_the_soft_time_limit_fails_with_its_reason(tenant_a, private_worker):
    tenant = tenant_a.tenant
    slow = stored(tenant, make_pdf([f"Page {i} of a long report." for i in range(1_900)]), PDF, "slow.pdf")
    private_worker.send(tenant, slow, soft_time_limit=0.5, time_limit=30)
    document = status_of(tenant, slow)
    assert document.status == "failed", document.status
    assert "longer than its 0.5 s limit" in document.failure_reason, document.failure_reason
    from quire.documents.tasks import document_ingest_task

    assert (document_ingest_task.soft_time_limit, document_ingest_task.time_limit) == (900, 960)


def test_a_process_the_soft_time_limit_interrupted_serves_no_other_task(tenant_a):
    """A fresh worker process imports torch in its first embedding batch (about a second here), past the
    task's own checks, so the 0.5 s limit's signal lands inside that import. The process exits after failing
    the document (a torch half imported fails every later import in it), and the next document is read by a
    fresh one."""
    worker = PrivateWorker("interrupted").start(timeout=90)
    try:
        tenant = tenant_a.tenant
        text = "\n\n".join(f"Clause {i}. " + CONTRACT.replace("\n", " ") for i in range(8))
        first = stored(tenant, text.encode(), "text/plain", "interrupted.txt")
        worker.send(tenant, first, soft_time_limit=0.5, time_limit=60)
        document = status_of(tenant, first, log=worker.log)
        assert document.status == "failed", document.status
        assert "longer than its 0.5 s limit" in document.failure_reason, document.failure_reason
        wait_for(
            lambda: "exits: the soft time limit interrupted" in worker.log(), timeout=30, message=worker.log
        )
        second = stored(tenant, text.encode() + b"\n\nOne more clause.", "text/plain", "after.txt")
        worker.send(tenant, second)
        after = status_of(tenant, second, timeout=120, log=worker.log)
        assert after.status == "ready", (after.failure_reason, worker.log()[-3000:])
    finally:
        worker.stop()


@pytest.mark.parametrize("wrapped", [False, True])
def test_a_process_retires_whenever_the_soft_time_limit_interrupted_it_however_early(
    tenant_a, monkeypatch, wrapped
):
    """The pool's clock starts before the task's, so the limit's signal can land while the task's own clock
    is still short of the limit; the process retires all the same, and the document fails for the limit even
    where the code the signal landed in raised another exception from it (a RuntimeError from a class body's
    `__set_name__` inside a first torch import)."""
    from celery.exceptions import SoftTimeLimitExceeded

    from quire.documents import tasks

    def interrupted(**kwargs):
        if not wrapped:
            raise SoftTimeLimitExceeded()
        try:
            raise SoftTimeLimitExceeded()
        except SoftTimeLimitExceeded as exc:
            raise RuntimeError("Error calling __set_name__") from exc

    retired = []
    monkeypatch.setattr(tasks, "document_ingest", interrupted)
    monkeypatch.setattr(tasks, "pool_process_retire", retired.append)
    monkeypatch.setattr(tasks, "current_process", lambda: type("Pool", (), {"name": "ForkPoolWorker-1"})())
    tenant = tenant_a.tenant
    document = stored(tenant, b"A short text.", "text/plain", "retired.txt")
    with tenant_context(tenant):
        assert tasks.document_ingest_task.apply(args=[document]).get() == "failed"
        assert "longer than its" in Document.objects.get(pk=document).failure_reason
    assert len(retired) == 1 and document in retired[0]


# Sixty clauses: long enough that a test can act on the ingest while it embeds.
LONG_TEXT = "\n\n".join(f"Clause {i}. " + CONTRACT.replace("\n", " ") for i in range(60))


def embedding_started(tenant, doc_id: str) -> Document:
    """The document once its ingest has written chunks and is still embedding."""

    def embedding():
        with tenant_context(tenant):
            document = Document.objects.get(pk=doc_id)
        assert document.status != "ready", "ingest finished before the test could interrupt it"
        return document if document.status == "embedding" and document.chunk_count > 0 else None

    return wait_for(embedding, timeout=90, interval=0.05)


def test_deleting_a_document_mid_ingest_stops_it(tenant_a, private_worker):
    tenant = tenant_a.tenant
    doc_id = stored(tenant, LONG_TEXT.encode(), "text/plain", "long.txt")
    log_start = len(private_worker.log())
    private_worker.send(tenant, doc_id)
    document = embedding_started(tenant, doc_id)
    with tenant_context(tenant):
        document_delete(document=document)
    wait_for(lambda: f"ingest of {doc_id} stopped" in private_worker.log(), timeout=30, interval=0.1)
    with tenant_context(tenant):
        assert not Chunk.objects.filter(document_id=doc_id).exists()
        assert not Document.objects.filter(pk=doc_id).exists()
    assert "Traceback" not in private_worker.log()[log_start:]


def test_the_soft_time_limit_landing_while_the_tenants_share_is_claimed_fails_the_document(
    tenant_a, monkeypatch
):
    from celery.exceptions import SoftTimeLimitExceeded

    from quire.documents import tasks

    def interrupted(share):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(tasks.TenantShare, "__enter__", interrupted)
    tenant = tenant_a.tenant
    document_id = stored(tenant, b"A clause no other test uploads.", "text/plain", "share.txt")
    with tenant_context(tenant):
        assert tasks.document_ingest_task.apply(args=[document_id], soft_time_limit=2).get() == "failed"
        document = Document.objects.get(pk=document_id)
    assert document.status == "failed", document.status
    assert "longer than its" in document.failure_reason, document.failure_reason


def test_a_redelivered_ingest_takes_over_at_once_from_a_pool_process_that_died(tenant_a):
    """The broker redelivers the task of a pool process killed mid-ingest (late acks, reject on worker lost);
    the fresh process finds the document claimed by a dead process of this host and takes it over, well
    before the heartbeat would go stale (`QUIRE_DOCUMENT_STUCK_SECONDS`, 300 s here)."""
    worker = PrivateWorker("takeover").start(timeout=90)
    try:
        tenant = tenant_a.tenant
        doc_id = stored(tenant, LONG_TEXT.encode(), "text/plain", "takeover.txt")
        worker.send(tenant, doc_id)
        claimed = embedding_started(tenant, doc_id)
        [child] = psutil.Process(worker.proc.pid).children()
        assert claimed.ingest_owner.split(":")[2] == str(child.pid)
        child.kill()
        killed_at = time.monotonic()
        document = status_of(tenant, doc_id, timeout=240, log=worker.log)
        assert document.status == "ready", (document.failure_reason, worker.log()[-3000:])
        assert time.monotonic() - killed_at < 120, worker.log()[-3000:]
        assert f"ingest of {doc_id} taken over from {claimed.ingest_owner}" in worker.log()
        with tenant_context(tenant):
            assert Chunk.objects.filter(document_id=doc_id).count() == document.chunk_count
    finally:
        worker.stop()


def test_a_run_whose_claim_another_run_took_stops_before_writing_chunks(tenant_a, monkeypatch, caplog):
    """Two runs never both write a document's chunks: a run that finds the claim moved to another process
    (its own judged dead, or its heartbeat stale) stops at its next write."""
    from quire.documents import services

    tenant = tenant_a.tenant
    doc_id = stored(tenant, CONTRACT.encode() * 3, "text/plain", "fenced.txt")
    real_embedder = services.chunk_embedder

    def embedder():
        embed, encoder = real_embedder()

        def embed_then_lose_the_claim(texts):
            Document.objects.filter(pk=doc_id).update(ingest_owner="elsewhere:1:2:3")
            return embed(texts)

        return embed_then_lose_the_claim, encoder

    monkeypatch.setattr(services, "chunk_embedder", embedder)
    with tenant_context(tenant):
        document = services.document_ingest(tenant=tenant, document_id=doc_id)
        try:
            assert document.status == "embedding" and document.ingest_owner == "elsewhere:1:2:3"
            assert not Chunk.objects.filter(document_id=doc_id).exists()
        finally:
            document_delete(document=document)
    assert f"ingest of {doc_id} stopped: elsewhere:1:2:3 took it over" in caplog.text


@pytest.mark.parametrize("earlier_runs", [4, 5])
def test_a_document_whose_worker_died_on_every_run_fails_at_the_attempt_limit(tenant_a, earlier_runs):
    """A document that kills its worker each time (a parser crash, a memory limit) is failed once
    QUIRE_INGEST_MAX_ATTEMPTS runs have claimed it, rather than taken over forever."""
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from quire.documents import services

    assert settings.QUIRE_INGEST_MAX_ATTEMPTS == 5
    tenant = tenant_a.tenant
    doc_id = stored(tenant, CONTRACT.encode() + str(earlier_runs).encode(), "text/plain", "crashing.txt")
    with tenant_context(tenant):
        stale = timezone.now() - timedelta(seconds=settings.QUIRE_DOCUMENT_STUCK_SECONDS + 60)
        Document.objects.filter(pk=doc_id).update(status="embedding", ingest_attempts=earlier_runs)
        Document.objects.filter(pk=doc_id).update(heartbeat_at=stale)
        document = services.document_ingest(tenant=tenant, document_id=doc_id)
        try:
            if earlier_runs < 5:
                assert (document.status, document.ingest_attempts) == ("ready", 5)
            else:
                assert document.status == "failed"
                assert document.failure_reason.startswith("ingestion did not finish in 5 attempts")
                assert not Chunk.objects.filter(document_id=doc_id).exists()
        finally:
            document_delete(document=document)


def test_a_failing_run_leaves_a_document_another_run_has_claimed(tenant_a):
    """A run stopped by its time limit fails the document it claimed, or one still pending, but not one
    another run has claimed since (its own claim was taken over)."""
    from quire.documents.services import document_fail

    tenant = tenant_a.tenant
    with tenant_context(tenant):
        outcomes = {}
        for state, owner in [("pending", ""), ("embedding", "me:1:2:3"), ("embedding", "elsewhere:1:2:3")]:
            doc_id = stored(tenant, f"{state} {owner} {CONTRACT}".encode(), "text/plain", "owned.txt")
            Document.objects.filter(pk=doc_id).update(status=state, ingest_owner=owner)
            document_fail(document_id=doc_id, reason="stopped at its limit", owner="me:1:2:3")
            document = Document.objects.get(pk=doc_id)
            outcomes[(state, owner)] = document.status
            document_delete(document=document)
    assert outcomes == {
        ("pending", ""): "failed",
        ("embedding", "me:1:2:3"): "failed",
        ("embedding", "elsewhere:1:2:3"): "embedding",
    }


def test_an_opendocument_text_encrypted_with_a_password_is_refused_at_upload_as_encrypted(api_a: Api):
    """LibreOffice encrypts each part of a password-protected ODT and says so in its manifest
    (`manifest:encryption-data`); the parts are not XML."""
    import zipfile

    from tests.support.documents import make_odt

    source = zipfile.ZipFile(io.BytesIO(make_odt("<text:p>Board minutes.</text:p>")))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "content.xml":
                data = bytes(range(256)) * 4
            elif info.filename == "META-INF/manifest.xml":
                data = data.replace(
                    b'media-type="text/xml"/>',
                    b'media-type="text/xml"><manifest:encryption-data manifest:checksum-type="SHA1/1K" '
                    b'manifest:checksum="AAAA"/></manifest:file-entry>',
                )
            archive.writestr(info, data)
    message = refused(upload(api_a, "minutes.odt", out.getvalue()), 415, "document_encrypted")
    assert "OpenDocument file is encrypted with a password" in message
