"""Webhook tests: a real HTTP receiver on loopback that verifies every signature with `standardwebhooks`,
a tenant of their own, and settings for a short retry schedule and loopback receivers."""

from __future__ import annotations

import gzip
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import pytest

from tests.support import Api, LocalServer, spawn, stop_process

TEST_ENV = {
    "QUIRE_WEBHOOKS_ALLOW_PRIVATE": "true",
    "QUIRE_WEBHOOKS_RETRY_SCHEDULE": "0.3,0.6,1.2",
    "QUIRE_WEBHOOKS_TIMEOUT_SECONDS": "3",
}
# Worker processes copy this environment when they start.
os.environ.update(TEST_ENV)


@pytest.fixture(autouse=True)
def webhook_settings():
    from django.test import override_settings

    with override_settings(
        QUIRE_WEBHOOKS_ALLOW_PRIVATE=True,
        QUIRE_WEBHOOKS_RETRY_SCHEDULE=TEST_ENV["QUIRE_WEBHOOKS_RETRY_SCHEDULE"].split(","),
        QUIRE_WEBHOOKS_TIMEOUT_SECONDS=int(TEST_ENV["QUIRE_WEBHOOKS_TIMEOUT_SECONDS"]),
    ):
        yield


@dataclass
class Received:
    headers: dict
    body: bytes
    status: int
    verified_with: list[str]
    at: float

    @property
    def payload(self) -> dict:
        return json.loads(self.body)

    @property
    def message_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    """Answers with `statuses` in order (then `default_status`); `hold` keeps the first requests open
    until released; `gzip_when_accepted` compresses the body for a request that accepts gzip. Each request
    records which of `secrets` verify its signature."""

    url: str = ""
    secrets: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    default_status: int = 200
    response_body: bytes = b'{"ok": true}'
    extra_headers: dict = field(default_factory=dict)
    gzip_when_accepted: bool = False
    hold: int = 0
    released: threading.Event = field(default_factory=threading.Event)
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def verify(self, body: bytes, headers: dict) -> list[str]:
        from standardwebhooks.webhooks import Webhook, WebhookVerificationError

        verified = []
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            verified.append(secret)
        return verified

    def accepted(self) -> list[Received]:
        return [r for r in self.requests if 200 <= r.status < 300]

    def of_type(self, event_type: str) -> list[Received]:
        return [r for r in self.accepted() if r.payload["type"] == event_type]


@pytest.fixture
def receiver():
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with state.lock:
                position = len(state.requests)
                status = state.statuses[position] if position < len(state.statuses) else state.default_status
                state.requests.append(
                    Received(headers, body, status, state.verify(body, headers), time.time())
                )
            if position < state.hold:
                state.released.wait(60)
            body = state.response_body
            self.send_response(status)
            if state.gzip_when_accepted and "gzip" in headers.get("accept-encoding", ""):
                body = gzip.compress(body)
                self.send_header("Content-Encoding", "gzip")
            for name, value in state.extra_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = LocalServer(Handler)
    state.url = f"{server.url}/hooks"
    yield state
    state.released.set()
    server.close()


@pytest.fixture
def beat(tmp_path):
    """A real `celery beat` whose webhook sweep runs every second."""
    from quire.launcher import celery_command

    proc = spawn(
        celery_command("beat", "-s", str(tmp_path / "schedule"), "-l", "INFO"),
        tmp_path / "beat.log",
        env={"QUIRE_WEBHOOKS_SWEEP_SECONDS": "1"},
    )
    yield proc
    stop_process(proc)


@pytest.fixture(scope="session")
def hooks_tenant(make_tenant):
    from tenants.models import Role
    from tenants.services import member_add

    provisioned = make_tenant("hooks")
    member_add(tenant=provisioned.tenant, email="owner@hooks.example", role=Role.OWNER)
    member_add(tenant=provisioned.tenant, email="admin@hooks.example", role=Role.ADMIN)
    member_add(tenant=provisioned.tenant, email="viewer@hooks.example", role=Role.VIEWER)
    return provisioned


@pytest.fixture
def api_hooks(hooks_tenant):
    return Api(hooks_tenant.issued_key.secret)


@pytest.fixture
def endpoints(api_hooks):
    """Creates endpoints through the API and deletes them after the test."""
    created: list[str] = []

    def _create(url: str, event_types: list[str], **extra) -> dict:
        response = api_hooks.post("/v1/webhook_endpoints", {"url": url, "event_types": event_types, **extra})
        assert response.status_code == 201, response.content
        body = response.json()
        created.append(body["id"])
        return body

    yield _create
    for endpoint_id in created:
        api_hooks.delete(f"/v1/webhook_endpoints/{endpoint_id}")
