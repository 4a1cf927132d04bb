"""`quire_sdk.webhooks.verify` against the signatures the platform sends (quire/webhooks/signing.py)."""

from __future__ import annotations

import json
import time

import pytest
from quire_sdk import webhooks
from quire_sdk.webhooks import WebhookVerificationError, verify

from quire.webhooks.signing import new_secret, sign, signature_headers

BODY = json.dumps({"type": "webhook.test", "data": {"id": "evt_1"}}).encode()


def _headers(secrets: list[str], timestamp: int | None = None, body: bytes = BODY) -> dict:
    return signature_headers(secrets, "evt_1", timestamp or int(time.time()), body)


def test_every_secret_of_a_rotation_verifies_and_a_stranger_does_not():
    new, old, stranger = new_secret(), new_secret(), new_secret()
    headers = _headers([new, old])
    assert len(headers["webhook-signature"].split()) == 2
    assert verify(BODY, headers, new) == json.loads(BODY)
    assert verify(BODY.decode(), headers, old)["type"] == "webhook.test"
    assert verify(BODY, headers, [stranger, new])["data"] == {"id": "evt_1"}
    with pytest.raises(WebhookVerificationError, match="no signature"):
        verify(BODY, headers, stranger)


def test_the_sdk_signs_as_the_platform_does():
    secret = new_secret()
    assert webhooks.sign(secret, "evt_9", 1_800_000_000, BODY) == sign(secret, "evt_9", 1_800_000_000, BODY)
    bare = secret.removeprefix("whsec_")
    assert verify(BODY, _headers([secret]), bare)


def test_header_names_in_any_case_and_as_pairs():
    secret = new_secret()
    headers = _headers([secret])
    assert verify(BODY, {k.upper(): v for k, v in headers.items()}, secret)
    assert verify(BODY, [(k.title(), v) for k, v in headers.items()], secret)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda h, b: (h, b + b" "), "no signature"),
        (lambda h, b: ({**h, "webhook-id": "evt_2"}, b), "no signature"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b), "missing"),
        (lambda h, b: ({**h, "webhook-timestamp": "soon"}, b), "integer"),
        (
            lambda h, b: ({**h, "webhook-signature": "v2,abc " + h["webhook-signature"][3:]}, b),
            "no signature",
        ),
    ],
)
def test_tampering_is_refused(change, message):
    secret = new_secret()
    headers, body = change(_headers([secret]), BODY)
    with pytest.raises(WebhookVerificationError, match=message):
        verify(body, headers, secret)


def test_timestamps_outside_the_tolerance_are_refused():
    secret = new_secret()
    now = 1_800_000_000
    assert verify(BODY, _headers([secret], now - 299), secret, now=now)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(BODY, _headers([secret], now - 301), secret, now=now)
    with pytest.raises(WebhookVerificationError, match="future"):
        verify(BODY, _headers([secret], now + 301), secret, now=now)
    assert verify(BODY, _headers([secret], now - 3000), secret, now=now, tolerance=3600)


@pytest.mark.parametrize("secret", ["whsec_!!!", "whsec_", "not base64"])
def test_a_malformed_secret_is_a_verification_error(secret):
    headers = _headers([new_secret()])
    with pytest.raises(WebhookVerificationError, match="bad secret"):
        verify(BODY, headers, secret)
    with pytest.raises(WebhookVerificationError, match="bad secret"):
        verify(BODY, headers, [new_secret(), secret])
