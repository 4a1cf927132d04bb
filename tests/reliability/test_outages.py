"""PostgreSQL and Redis go away under API traffic and come back: the web process (a real server) reaches
both through loopback proxies that drop every open connection and refuse new ones for the outage, which is
what a restart looks like to a client. Every answer during an outage is a 503 in the error shape with
Retry-After, never a 500; the server recovers by itself; every document the API accepted is ingested,
including one stored while the broker was away (its task refused after the commit: beat's stuck sweep,
run here in-process, queues it)."""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from django_tenants.utils import tenant_context

from quire.documents.models import Document
from quire.documents.services import documents_requeue_stuck
from tests.support import wait_for
from tests.support.net import TcpProxy
from tests.support.server import start_web_server


def _call(method: str, url: str, key: str, body: dict | None = None) -> tuple[int, dict, dict]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        raw = error.read()
        return (
            error.code,
            dict(error.headers),
            json.loads(raw) if raw.startswith(b"{") else {"raw": raw[:200]},
        )


@pytest.fixture(scope="module")
def stack(make_tenant):
    database = urlparse(os.environ["DATABASE_URL"])
    socket_dir = Path(parse_qs(database.query)["host"][0])
    pg_socket = next(p for p in socket_dir.glob(".s.PGSQL.*") if not p.name.endswith(".lock"))
    redis = urlparse(os.environ["REDIS_URL"])
    pg_proxy, redis_proxy = TcpProxy(str(pg_socket)), TcpProxy((redis.hostname, redis.port))
    server = start_web_server(
        "outages",
        env={
            "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{pg_proxy.port}{database.path}",
            "REDIS_URL": f"redis://127.0.0.1:{redis_proxy.port}{redis.path}",
            "QUIRE_DB_POOL_TIMEOUT": "0.5",
        },
    )
    provisioned = make_tenant("rel-outages")
    yield server, pg_proxy, redis_proxy, provisioned
    server.stop()
    pg_proxy.close()
    redis_proxy.close()


@pytest.mark.timeout(240)
def test_outages_under_traffic_answer_503_json_and_lose_nothing(stack, celery_worker):
    server, pg_proxy, redis_proxy, provisioned = stack
    key = provisioned.issued_key.secret
    answers: list[tuple[str, str, int, dict, dict]] = []
    phase = ["up"]
    stop = threading.Event()
    counter = itertools.count()

    def traffic(writer: bool) -> None:
        while not stop.is_set():
            if writer:
                n = next(counter)
                text = f"Outage memo {n}: the supplier delivers within {n + 3} days of each order."
                status, headers, body = _call("POST", f"{server.url}/v1/documents", key, {"text": text})
            else:
                status, headers, body = _call("GET", f"{server.url}/v1/documents?limit=5", key)
            answers.append((phase[0], "POST" if writer else "GET", status, headers, body))
            time.sleep(0.15)

    threads = [threading.Thread(target=traffic, args=(writer,)) for writer in (True, False, False)]
    for thread in threads:
        thread.start()
    try:
        for name, proxy in (("redis down", redis_proxy), ("postgres down", pg_proxy)):
            time.sleep(1.0)
            phase[0] = name
            proxy.cut()
            time.sleep(1.5)
            proxy.restore()
            phase[0] = f"after {name}"
        wait_for(lambda: _call("GET", f"{server.url}/v1/documents", key)[0] == 200, timeout=20)
        phase[0] = "recovered"
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    statuses = {status for _, _, status, _, _ in answers}
    assert statuses <= {200, 201, 503}, sorted(statuses)
    for _, _, status, headers, body in answers:
        if status == 503:
            assert body["error"]["code"] == "service_unavailable", body
            assert int(headers["Retry-After"]) > 0
    for name in ("redis down", "postgres down"):
        assert any(when == name and status == 503 for when, _, status, _, _ in answers), name
    recovered = [status for when, _, status, _, _ in answers if when == "recovered"]
    assert recovered and set(recovered) <= {200, 201}, recovered

    accepted = {body["id"] for _, method, status, _, body in answers if method == "POST" and status == 201}
    assert accepted
    with tenant_context(provisioned.tenant):
        assert accepted <= set(Document.objects.values_list("pk", flat=True))
        wait_for(
            lambda: documents_requeue_stuck() >= 0 and not Document.objects.exclude(status="ready").exists(),
            timeout=120,
            message=lambda: str(list(Document.objects.exclude(status="ready").values_list("pk", "status"))),
        )
