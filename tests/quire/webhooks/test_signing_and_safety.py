"""Signatures checked by the `standardwebhooks` library; SSRF guards; the HTTP client's limits."""

from __future__ import annotations

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from quire.webhooks.signing import new_secret, signature_headers
from quire.webhooks.transport import UnsafeUrl, post, resolve_target


def test_signatures_verify_with_standardwebhooks():
    import time

    current, previous, stranger = new_secret(), new_secret(), new_secret()
    assert current.startswith("whsec_") and current != previous
    body = b'{"type":"job.succeeded","timestamp":"2026-01-01T00:00:00Z","data":{"id":"job_1","note":"caf\xc3\xa9"}}'
    headers = signature_headers([current, previous], "evt_1", int(time.time()), body)
    assert headers["webhook-signature"].count("v1,") == 2
    assert Webhook(current).verify(body, headers)["data"]["note"] == "café"
    assert Webhook(previous).verify(body, headers)["data"]["id"] == "job_1"
    with pytest.raises(WebhookVerificationError):
        Webhook(stranger).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(current).verify(body.replace(b"job_1", b"job_2"), headers)
    stale = signature_headers([current], "evt_1", int(time.time()) - 3600, body)
    with pytest.raises(WebhookVerificationError):
        Webhook(current).verify(body, stale)


def test_signing_refuses_bad_secrets():
    with pytest.raises(ValueError, match="whsec_"):
        signature_headers(["not-a-secret"], "evt_1", 0, b"{}")
    with pytest.raises(ValueError, match="at least one"):
        signature_headers([], "evt_1", 0, b"{}")


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://localhost:8000/hooks",
        "http://127.0.0.1/",
        "http://[::1]/",
        "http://0.0.0.0/",
        "http://192.168.1.20/",
        "http://100.64.0.1/",
        "http://224.0.0.1/",
        "http://[::ffff:127.0.0.1]/",
    ],
)
def test_private_addresses_are_refused(url):
    with pytest.raises(UnsafeUrl):
        resolve_target(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "http:///nohost",
        "http://user:pw@8.8.8.8/",
        "http://8.8.8.8:99999/",
        "http://8.8.8.8:0/",
        "https://8.8.8.8:00/in",
    ],
)
def test_malformed_urls_are_refused(url):
    with pytest.raises(UnsafeUrl):
        resolve_target(url, allow_private=True)


def test_public_address_is_the_connect_target():
    target = resolve_target("https://8.8.8.8:8443/in?x=1", allow_private=False)
    assert (target.address, target.port, target.path) == ("8.8.8.8", 8443, "/in?x=1")
    assert target.connect_url == "https://8.8.8.8:8443/in?x=1"
    assert target.host_header == "8.8.8.8:8443"


def test_hostname_resolving_to_loopback_connects_to_the_checked_address(receiver):
    url = receiver.url.replace("127.0.0.1", "localhost")
    with pytest.raises(UnsafeUrl, match=r"127\.0\.0\.1|::1"):
        resolve_target(url, allow_private=False)
    target = resolve_target(url, allow_private=True)
    outcome = post(target, b"{}", {}, timeout=3, max_response_bytes=1000)
    assert outcome.status_code == 200
    assert receiver.requests[0].headers["host"].startswith("localhost:")


def test_redirects_are_not_followed(receiver):
    receiver.statuses = [302]
    receiver.extra_headers = {"Location": receiver.url + "/elsewhere"}
    outcome = post(
        resolve_target(receiver.url, allow_private=True), b"{}", {}, timeout=3, max_response_bytes=100
    )
    assert outcome.status_code == 302 and not outcome.succeeded and outcome.error == "http_302"
    assert len(receiver.requests) == 1


def test_response_body_is_capped(receiver):
    receiver.response_body = b"x" * 500_000
    outcome = post(
        resolve_target(receiver.url, allow_private=True), b"{}", {}, timeout=3, max_response_bytes=4096
    )
    assert outcome.succeeded and len(outcome.response_excerpt) == 1024


def test_timeouts_and_refused_connections_are_outcomes(receiver):
    receiver.hold = 1
    slow = post(
        resolve_target(receiver.url, allow_private=True), b"{}", {}, timeout=0.5, max_response_bytes=100
    )
    assert slow.status_code is None and slow.error == "timeout"
    receiver.released.set()
    closed = resolve_target("http://127.0.0.1:9/", allow_private=True)
    refused = post(closed, b"{}", {}, timeout=2, max_response_bytes=100)
    assert refused.status_code is None and refused.error.startswith("connection_error")


def test_a_receiver_that_keeps_sending_interim_responses_is_a_timeout():
    import socket
    import threading

    from quire.webhooks.transport import Target

    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def stall() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            for _ in range(100):
                if stop.wait(0.3):
                    return
                connection.sendall(b"HTTP/1.1 102 Processing\r\n\r\n")
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    threading.Thread(target=stall, daemon=True).start()
    port = listener.getsockname()[1]
    try:
        outcome = post(
            Target("http", "127.0.0.1", port, "127.0.0.1", "/"), b"{}", {}, timeout=1, max_response_bytes=100
        )
    finally:
        stop.set()
        listener.close()
    assert (outcome.status_code, outcome.error) == (None, "timeout")


@pytest.mark.parametrize("url", ["http://8.8.8.8/hook\x01", "http://8.8.8.8/hook\x7f", "http://8.8.8.8/a\nb"])
def test_urls_with_control_characters_are_refused(url):
    with pytest.raises(UnsafeUrl, match="control character"):
        resolve_target(url, allow_private=True)


def test_an_international_host_name_is_sent_in_idna():
    from quire.webhooks.transport import parse_url

    assert parse_url("https://bücher.example/in")[1] == "xn--bcher-kva.example"


def test_an_error_httpx_does_not_name_is_an_outcome(monkeypatch):
    from quire.webhooks import transport

    def broken(target, timeout):
        raise UnicodeEncodeError("ascii", "ü", 0, 1, "ordinal not in range")

    monkeypatch.setattr(transport, "_client_for", broken)
    target = transport.Target("http", "8.8.8.8", 80, "8.8.8.8", "/")
    outcome = post(target, b"{}", {}, timeout=1, max_response_bytes=100)
    assert (outcome.status_code, outcome.error) == (None, "request_error: UnicodeEncodeError")
