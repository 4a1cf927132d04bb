"""The SDK and the `quire` command line against the real stack: the web app under `runserver`, a Celery
worker, PostgreSQL and Redis; `FlakyProxy` in front of the server fails chosen requests."""

from __future__ import annotations

import http.client
import os
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlparse

import pytest

from tests.support import LocalServer
from tests.support.server import start_web_server

# The server accepts loopback webhook endpoints (`quire webhooks listen`); worker processes copy this.
LOOPBACK_HOOKS = {"QUIRE_WEBHOOKS_ALLOW_PRIVATE": "true"}
os.environ.update(LOOPBACK_HOOKS)


@pytest.fixture(scope="session")
def live_server(celery_worker):
    server = start_web_server("sdk-server", env=LOOPBACK_HOOKS)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def api_key(tenant_a) -> str:
    return tenant_a.issued_key.secret


@pytest.fixture
def quire(live_server, api_key):
    from quire_sdk import Quire

    with Quire(api_key=api_key, base_url=live_server.url, backoff_base=0.05) as client:
        yield client


@pytest.fixture(scope="session")
def contract_doc(live_server, api_key):
    """The test contract, uploaded and ingested through the SDK. Its text is its own: the tenant is shared with
    other tests, and an upload of text already stored returns that document, which another test may delete."""
    import uuid

    from quire_sdk import Quire

    from tests.support.documents import CONTRACT

    with Quire(api_key=api_key, base_url=live_server.url) as client:
        doc = client.documents.create(text=f"{CONTRACT}\nReference {uuid.uuid4().hex}.\n", filename="nda.txt")
        ready = client.documents.wait(doc.id, interval=0.2, timeout=120)
    assert (ready.filename, ready.status) == ("nda.txt", "ready"), ready.failure_reason
    return ready


@dataclass
class Seen:
    method: str
    path: str
    idempotency_key: str | None
    user_agent: str | None
    answered: int


@dataclass
class FlakyProxy:
    """Forwards to `upstream`. `fail(method, path_prefix, *modes)` makes the next matching requests fail,
    one mode each: `"503"` forwards the request and answers 503 in place of the server's answer (a lost
    response), `"429"` answers 429 with `Retry-After: 1` without forwarding, `"drop"` closes the connection
    without an answer and without forwarding."""

    upstream: str
    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    plans: list[tuple[str, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, method: str, path_prefix: str, *modes: str) -> None:
        with self.lock:
            self.plans.extend((method, path_prefix, mode) for mode in modes)

    def requests(self, method: str, path_prefix: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path.startswith(path_prefix)]

    def _planned(self, method: str, path: str) -> str | None:
        with self.lock:
            for index, (m, prefix, mode) in enumerate(self.plans):
                if m == method and path.startswith(prefix):
                    del self.plans[index]
                    return mode
        return None

    def forward(self, method: str, path: str, headers: dict, body: bytes) -> tuple[int, list, bytes]:
        target = urlparse(self.upstream)
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        try:
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()


def _proxy_handler(proxy: FlakyProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def _handle(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
            mode = proxy._planned(self.command, self.path)
            if mode == "drop":
                self._record(0)
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if mode == "429":
                status, reply_headers, reply = (
                    429,
                    [("Retry-After", "1")],
                    b'{"error": {"type": "rate_limit_error"}}',
                )
            else:
                status, reply_headers, reply = proxy.forward(self.command, self.path, headers, body)
                if mode == "503":
                    status, reply_headers, reply = 503, [], b"upstream hiccup"
            self._record(status)
            self.send_response(status)
            for name, value in reply_headers:
                if name.lower() not in (
                    "content-length",
                    "connection",
                    "transfer-encoding",
                    "date",
                    "server",
                ):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def _record(self, status: int) -> None:
            seen = Seen(
                self.command,
                self.path,
                self.headers.get("Idempotency-Key"),
                self.headers.get("User-Agent"),
                status,
            )
            with proxy.lock:
                proxy.seen.append(seen)

        do_GET = do_POST = do_DELETE = do_PATCH = _handle

    return Handler


@pytest.fixture
def flaky_proxy(live_server):
    proxy = FlakyProxy(live_server.url)
    server = LocalServer(_proxy_handler(proxy))
    proxy.url = server.url
    yield proxy
    server.close()


@pytest.fixture
def mock_cli(monkeypatch, tmp_path):
    """`mock_cli(handler, *args)`: run `quire` with its client on an httpx mock transport that `handler`
    answers, no server needed."""
    import httpx
    from quire_sdk import cli
    from typer.testing import CliRunner

    real = cli.Quire

    def run(handler, *args: str):
        transport = httpx.MockTransport(handler)
        monkeypatch.setattr(
            cli, "Quire", lambda **kw: real(http_client=httpx.Client(transport=transport), **kw)
        )
        env = {
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "QUIRE_API_KEY": "qk_test",
            "QUIRE_BASE_URL": "http://quire.test",
            "COLUMNS": "200",
        }
        return CliRunner().invoke(cli.app, list(args), env=env)

    return run
