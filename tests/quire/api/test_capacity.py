"""Capacity: a web process holds at most its pool's PostgreSQL connections however many requests arrive,
answers 503 JSON with Retry-After when no connection is to be had or PostgreSQL is down, and recovers by
itself. The server reaches PostgreSQL through a loopback proxy the tests slow down and cut."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from tests.support import wait_for
from tests.support.net import TcpProxy
from tests.support.server import start_web_server

POOL_SIZE = 2


def _get(url: str, key: str | None = None) -> tuple[int, dict, dict]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        body = error.read()
        return error.code, dict(error.headers), json.loads(body) if body.startswith(b"{") else {}


@pytest.fixture(scope="module")
def proxy():
    database = urlparse(os.environ["DATABASE_URL"])
    socket_dir = Path(parse_qs(database.query)["host"][0])
    socket_path = next(p for p in socket_dir.glob(".s.PGSQL.*") if not p.name.endswith(".lock"))
    proxy = TcpProxy(str(socket_path))
    yield proxy
    proxy.close()


@pytest.fixture(scope="module")
def server(proxy, tenant_a):
    database = urlparse(os.environ["DATABASE_URL"]).path.lstrip("/")
    server = start_web_server(
        "capacity",
        env={
            "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{proxy.port}/{database}",
            "QUIRE_DB_POOL_SIZE": str(POOL_SIZE),
            "QUIRE_DB_POOL_TIMEOUT": "0.5",
        },
    )
    yield server
    server.stop()


def assert_unavailable(status: int, headers: dict, body: dict) -> None:
    assert status == 503, body
    assert int(headers["Retry-After"]) > 0
    assert body["error"]["code"] == "service_unavailable"


def test_a_burst_never_opens_more_connections_than_the_pool_and_sheds_the_excess(server, proxy, tenant_a):
    key = tenant_a.issued_key.secret
    url = f"{server.url}/v1/documents"
    proxy.peak = 0
    proxy.latency = 0.2
    try:
        with ThreadPoolExecutor(40) as pool:
            answers = list(pool.map(lambda _: _get(url, key), range(40)))
    finally:
        proxy.latency = 0.0
    statuses = [status for status, _, _ in answers]
    assert set(statuses) <= {200, 503}, statuses
    assert statuses.count(200) >= 1 and statuses.count(503) >= 1, statuses
    for answer in answers:
        if answer[0] == 503:
            assert_unavailable(*answer)
    assert proxy.peak <= POOL_SIZE
    assert _get(url, key)[0] == 200


def test_database_down_is_503_json_and_the_server_recovers_by_itself(server, proxy, tenant_a):
    key = tenant_a.issued_key.secret
    assert _get(f"{server.url}/v1/documents", key)[0] == 200
    proxy.cut()
    try:
        assert_unavailable(*_get(f"{server.url}/v1/documents", key))
        status, _, body = _get(f"{server.url}/v1/health", key)
        assert status == 503
        assert body["error"]["code"] in {"service_unavailable", "dependency_unavailable"}
        if body["error"]["code"] == "dependency_unavailable":
            assert body["checks"]["database"]["ok"] is False
        assert _get(f"{server.url}/healthz")[0] == 200
    finally:
        proxy.restore()
    wait_for(lambda: _get(f"{server.url}/v1/documents", key)[0] == 200, timeout=15)
