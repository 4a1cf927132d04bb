"""Uploads through the SDK and `quire documents upload`, on an httpx mock transport: one file is a document,
a ZIP is a batch of documents and refused files."""

from __future__ import annotations

import hashlib
import json
import os
import tracemalloc
import zipfile

import httpx
import pytest
from quire_sdk import Document, DocumentBatch, Quire, RefusedFile

BATCH = {
    "id": "bat_1",
    "object": "document_batch",
    "data": [
        {"id": "doc_1", "object": "document", "filename": "deal/a.txt", "status": "pending"},
        {"id": "doc_2", "object": "document", "filename": "deal/b.pdf", "status": "pending"},
    ],
    "refused": [
        {"filename": "deal/c.bin", "code": "unsupported_document", "message": "Unsupported document: binary."}
    ],
}
SINGLE = {"id": "doc_9", "object": "document", "filename": "nda.txt", "status": "pending"}


def _server(batch: dict, ingested: dict[str, str]):
    """Answers a ZIP upload with `batch`, any other with `SINGLE`; a document's GET with its status in
    `ingested`. Returns the handler and the (method, path) pairs it saw."""
    seen: list[tuple[str, str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path))
        if request.method == "POST":
            return httpx.Response(201, json=batch if b'filename="deal.zip"' in request.content else SINGLE)
        doc_id = request.url.path.rsplit("/", 1)[-1]
        if doc_id not in ingested:
            message = f"No document {doc_id}."
            error = {"type": "not_found_error", "code": "resource_missing", "message": message}
            return httpx.Response(404, json={"error": error})
        status = ingested[doc_id]
        failure = "The PDF could not be read." if status == "failed" else None
        stored = next(d for d in [*batch["data"], SINGLE] if d["id"] == doc_id)
        return httpx.Response(200, json={**stored, "status": status, "failure_reason": failure})

    return answer, seen


@pytest.fixture
def deal_zip(tmp_path):
    path = tmp_path / "deal.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("deal/a.txt", "The term is two years.")
        archive.writestr("deal/b.pdf", "%PDF-1.4")
        archive.writestr("deal/c.bin", b"\x00\x01")
    return path


def test_a_zip_answers_a_batch_and_a_file_a_document(deal_zip):
    answer, seen = _server(BATCH, {})
    quire = Quire(
        api_key="qk_test",
        base_url="http://quire.test",
        http_client=httpx.Client(transport=httpx.MockTransport(answer)),
    )
    batch = quire.documents.create(file=deal_zip)
    assert isinstance(batch, DocumentBatch) and batch.id == "bat_1"
    assert [(d.id, d.filename) for d in batch.documents] == [("doc_1", "deal/a.txt"), ("doc_2", "deal/b.pdf")]
    assert all(isinstance(d, Document) for d in batch.documents)
    assert batch.refused == [
        RefusedFile(
            filename="deal/c.bin", code="unsupported_document", message="Unsupported document: binary."
        )
    ]
    assert batch["data"] == BATCH["data"] and batch["refused"] == BATCH["refused"]

    single = quire.documents.create(file=b"The term is two years.", filename="nda.txt")
    assert isinstance(single, Document) and single.id == "doc_9"
    text = quire.documents.create(text="The term is two years.", filename="nda.txt")
    assert isinstance(text, Document) and text.filename == "nda.txt"
    assert seen == [("POST", "/v1/documents")] * 3


def test_upload_wait_lists_and_waits_on_each_document_of_a_zip(mock_cli, deal_zip, tmp_path):
    nda = tmp_path / "nda.txt"
    nda.write_text("The term is two years.")
    answer, seen = _server(BATCH, {"doc_1": "ready", "doc_2": "ready", "doc_9": "ready"})
    shown = mock_cli(answer, "documents", "upload", str(deal_zip), str(nda), "--wait")
    assert shown.exit_code == 1, shown.output
    assert [path for method, path in seen if method == "GET"] == [
        "/v1/documents/doc_1",
        "/v1/documents/doc_2",
        "/v1/documents/doc_9",
    ]
    for name in ("doc_1", "deal/a.txt", "doc_2", "deal/b.pdf", "doc_9", "nda.txt"):
        assert name in shown.stdout
    assert "bat_1" in shown.stdout and "not_found" not in shown.output
    assert (
        "deal/c.bin (deal.zip) refused: Unsupported document: binary. (unsupported_document)" in shown.stderr
    )


def test_upload_of_a_zip_exits_0_when_nothing_is_refused_or_failed(mock_cli, deal_zip):
    clean = {**BATCH, "refused": []}
    answer, _ = _server(clean, {"doc_1": "ready", "doc_2": "ready"})
    shown = mock_cli(answer, "documents", "upload", str(deal_zip), "--wait", "--json")
    assert shown.exit_code == 0, shown.output
    assert [(d["id"], d["status"]) for d in json.loads(shown.stdout)] == [
        ("doc_1", "ready"),
        ("doc_2", "ready"),
    ]

    answer, _ = _server(clean, {})
    assert mock_cli(answer, "documents", "upload", str(deal_zip)).exit_code == 0


def test_upload_of_a_zip_exits_1_when_a_document_fails(mock_cli, deal_zip):
    answer, _ = _server({**BATCH, "refused": []}, {"doc_1": "ready", "doc_2": "failed"})
    shown = mock_cli(answer, "documents", "upload", str(deal_zip), "--wait")
    assert shown.exit_code == 1, shown.output
    assert "deal/b.pdf failed: The PDF could not be read." in shown.stderr


def test_upload_json_keeps_documents_on_stdout_and_refusals_on_stderr(mock_cli, deal_zip):
    answer, _ = _server(BATCH, {})
    shown = mock_cli(answer, "documents", "upload", str(deal_zip), "--json")
    assert shown.exit_code == 1, shown.output
    assert [d["id"] for d in json.loads(shown.stdout)] == ["doc_1", "doc_2"]
    refused = json.loads(shown.stderr)["refused"]
    assert refused == [{**BATCH["refused"][0], "upload": str(deal_zip), "batch_id": "bat_1"}]


class _Sink(httpx.BaseTransport):
    """Reads each upload's body piece by piece, keeping its length and a hash; the first `fail` answers 503."""

    def __init__(self, fail: int = 0) -> None:
        self.fail, self.bodies = fail, []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        digest, size = hashlib.sha256(), 0
        for piece in request.stream:
            digest.update(piece)
            size += len(piece)
        assert size == int(request.headers["Content-Length"])
        self.bodies.append(digest.hexdigest())
        if len(self.bodies) <= self.fail:
            return httpx.Response(503, json={"error": {"type": "api_error", "message": "hiccup"}})
        return httpx.Response(201, json={**SINGLE, "size_bytes": size})


def test_a_file_is_streamed_from_disk_and_sent_whole_again_on_a_retry(tmp_path):
    path = tmp_path / "scan.pdf"
    with path.open("wb") as out:
        for _ in range(24):
            out.write(os.urandom(1 << 20))
    sink = _Sink(fail=1)
    quire = Quire(
        api_key="qk_test",
        base_url="http://quire.test",
        http_client=httpx.Client(transport=sink),
        backoff_base=0,
    )
    tracemalloc.start()
    try:
        doc = quire.documents.create(file=path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert doc.raw["size_bytes"] > 24 << 20
    assert peak < 4 << 20, f"{peak >> 20} MiB held for a 24 MiB file"
    assert len(sink.bodies) == 2 and sink.bodies[0] == sink.bodies[1]

    with path.open("rb") as file:
        file.seek(1 << 20)
        sink.bodies.clear()
        sink.fail = 1
        doc = quire.documents.create(file=file, filename="part.pdf")
        assert not file.closed
    assert doc.raw["size_bytes"] > 23 << 20 and doc.raw["size_bytes"] < 24 << 20
    assert len(sink.bodies) == 2 and sink.bodies[0] == sink.bodies[1]

    sink.bodies.clear()
    sink.fail = 1
    quire.documents.create(file=b"The term is two years.", filename="nda.txt")
    assert len(sink.bodies) == 2 and sink.bodies[0] == sink.bodies[1]
