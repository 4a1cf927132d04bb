"""What the HTTP server itself refuses, before Django sees the request, is answered in the /v1 error shape:
a real gunicorn process under `quire.webserver`'s configuration, sent header fields past its limits, a
request line past its limit and a request line that is not HTTP."""

from __future__ import annotations

import http.client
import json
import os
import socket
import sys

import pytest

from tests.support import ROOT, free_port, spawn, stop_process, wait_http


@pytest.fixture(scope="module")
def gunicorn():
    port = free_port()
    log_path = ROOT / ".quire" / f"test-gunicorn-{os.getpid()}.log"
    proc = spawn(
        [sys.executable, "-m", "gunicorn", "-c", "python:quire.webserver", "quire.wsgi"],
        log_path,
        env={"QUIRE_PORT": str(port), "QUIRE_WEB_WORKERS": "1", "QUIRE_WEB_THREADS": "2"},
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc, timeout=60)
        yield port
    finally:
        stop_process(proc, timeout=10)


def _exchange(port: int, raw: bytes) -> tuple[int, dict, dict]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in header_lines)}
    return int(status_line.split()[1]), headers, json.loads(body)


def _get(port: int, target: str = "/v1/health", extra: str = "") -> bytes:
    return f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}Connection: close\r\n\r\n".encode()


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (lambda p: _get(p, extra=f"X-Big: {'a' * 9000}\r\n"), 431, "request_headers_too_large"),
        (
            lambda p: _get(p, extra="".join(f"X-H{i}: 1\r\n" for i in range(120))),
            431,
            "request_headers_too_large",
        ),
        (lambda p: _get(p, target="/v1/documents?q=" + "a" * 5000), 414, "request_line_too_long"),
        (lambda p: b"NOT HTTP AT ALL\r\n\r\n", 400, "bad_request"),
    ],
    ids=["header-field-too-large", "too-many-headers", "request-line-too-long", "not-http"],
)
def test_the_servers_own_refusals_are_json_errors(gunicorn, request_bytes, status: int, code: str):
    answered, headers, body = _exchange(gunicorn, request_bytes(gunicorn))
    assert answered == status, body
    assert headers["content-type"] == "application/json"
    assert body == {
        "error": {
            "type": "invalid_request_error",
            "code": code,
            "message": body["error"]["message"],
            "param": None,
        }
    }
    assert "a" * 100 not in body["error"]["message"]


def test_an_escaped_slash_in_a_path_is_no_route_to_another_view(gunicorn):
    def post(target: str) -> tuple[int, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", gunicorn, timeout=10)
        try:
            connection.request("POST", target)
            answer = connection.getresponse()
            return answer.status, json.loads(answer.read())
        finally:
            connection.close()

    answered, body = post("/v1/jobs/job_1%2Fcancel")
    assert answered == 404 and body["error"]["code"] == "resource_missing", body
    answered, body = post("/v1/jobs/job_1/cancel")
    assert answered == 401 and body["error"]["code"] == "missing_api_key", body


def test_a_request_within_the_limits_reaches_the_application(gunicorn):
    answered, _, body = _exchange(gunicorn, _get(gunicorn, target="/v1/nowhere"))
    assert answered == 404 and body["error"]["code"] == "route_missing", body
