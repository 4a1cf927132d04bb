"""The web process SIGKILLed during a multipart upload sent with an `Idempotency-Key`, after the document is
stored and before the key's response is: the client's retry with the same key answers at once with that
document, not 409 `idempotency_key_in_use` until the claim ages out, and the document exists once.

The server is held at that moment by locks the test takes: the documents table while the upload stores its
file, then the key's record row, once the upload has claimed it."""

from __future__ import annotations

import contextlib
import os
import threading
import uuid

import httpx
import psycopg
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import MULTIPART_CONTENT
from django_tenants.utils import tenant_context

from quire.api.idempotency import IDEMPOTENCY_LOCK_CLASS
from quire.documents.models import Document
from tests.support import Api, wait_for
from tests.support.processes import kill_process
from tests.support.server import start_web_server


def _waiting(conn: psycopg.Connection, statement: str) -> bool:
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
        [f"{statement}%"],
    ).fetchone()
    return row[0] > 0


def _advisory_locks(conn: psycopg.Connection) -> int:
    query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objsubid = 2"
    return conn.execute(query, [IDEMPOTENCY_LOCK_CLASS]).fetchone()[0]


def test_an_upload_killed_after_its_write_is_answered_on_retry_at_once(make_tenant, tmp_path):
    provisioned = make_tenant("rel-idem-upload")
    schema, secret = provisioned.tenant.schema_name, provisioned.issued_key.secret
    key = f"upload-{uuid.uuid4().hex}"
    content = f"A memo uploaded once, whatever happens to the server ({key}).".encode()
    server = start_web_server("rel-idem-upload")
    url = os.environ["DATABASE_URL"]
    with psycopg.connect(url) as documents, psycopg.connect(url) as record, psycopg.connect(url) as watch:
        watch.autocommit = True
        documents.execute(f'LOCK TABLE "{schema}".documents_document IN SHARE MODE')
        client = httpx.Client(timeout=120)
        try:
            upload = client.build_request(
                "POST",
                f"{server.url}/v1/documents",
                headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": key},
                files={"file": ("memo.txt", content, "text/plain")},
            )
            sent = _send_in_background(client, upload)
            wait_for(
                lambda: _waiting(watch, 'INSERT INTO "documents_document"'), timeout=60, message=server.log
            )
            record.execute(
                f'SELECT 1 FROM "{schema}".api_idempotencyrecord WHERE key = %s FOR UPDATE', [key]
            ).fetchone()
            documents.commit()
            wait_for(
                lambda: _waiting(watch, 'UPDATE "api_idempotencyrecord"'), timeout=60, message=server.log
            )
            kill_process(server.proc)
            # Its statement was sent before the kill; a process killed a moment earlier would not have sent it.
            watch.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE \"api_idempotencyrecord\"%%'"
            )
            record.rollback()
            sent.join(timeout=30)
            wait_for(lambda: not _advisory_locks(watch), timeout=10)
        finally:
            kill_process(server.proc)
            client.close()
    with tenant_context(provisioned.tenant):
        assert Document.objects.filter(filename="memo.txt").count() == 1

    memo = SimpleUploadedFile("memo.txt", content, content_type="text/plain")
    retried = Api(secret).post(
        "/v1/documents", {"file": memo}, headers={"Idempotency-Key": key}, content_type=MULTIPART_CONTENT
    )
    assert retried.status_code in (200, 201), retried.content
    with tenant_context(provisioned.tenant):
        [document] = Document.objects.filter(filename="memo.txt")
    assert retried.json()["id"] == document.pk


def _send_in_background(client: httpx.Client, request: httpx.Request) -> threading.Thread:
    def send() -> None:
        with contextlib.suppress(httpx.HTTPError):
            client.send(request)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread
