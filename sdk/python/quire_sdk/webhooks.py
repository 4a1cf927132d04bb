"""Verifying Quire's webhooks (Standard Webhooks): `verify(payload, headers, secret)`.

The signature is `v1,` + base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")), the key being
the base64 after `whsec_`. During a secret rotation the header holds several signatures, space-separated;
one that matches is enough.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from quire_sdk.errors import QuireError

SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE = 300  # seconds either side of now


class WebhookVerificationError(QuireError):
    """The request is not a valid Quire webhook: missing headers, a stale timestamp, or no signature
    matches; or the secret to check it with is not one (`bad secret`)."""


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_` secret; `WebhookVerificationError` (`bad secret`) when it is not one."""
    encoded = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    try:
        key = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise WebhookVerificationError("bad secret: a webhook secret is 'whsec_' followed by base64") from exc
    if not key:
        raise WebhookVerificationError("bad secret: a webhook secret must not be empty")
    return key


def _header(headers: Mapping[str, str] | Iterable[tuple[str, str]], name: str) -> str | None:
    items = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in items:
        if key.lower() == name:
            return value
    return None


def sign(secret: str, message_id: str, timestamp: int, payload: bytes | str) -> str:
    """One `v1,<signature>` for `payload` (to test your receiver)."""
    body = payload.encode() if isinstance(payload, str) else payload
    digest = hmac.new(
        secret_key(secret), f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256
    ).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(
    payload: bytes | str,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    secret: str | Iterable[str],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> dict[str, Any]:
    """Check the `webhook-id`, `webhook-timestamp` and `webhook-signature` headers against the raw request
    body `payload` and return the parsed event. `secret` may be several (yours during a rotation). Raises
    `WebhookVerificationError`. Verify the raw bytes as received, before any JSON parsing."""
    message_id = _header(headers, "webhook-id")
    stamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    if not (message_id and stamp and signatures):
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        timestamp = int(stamp)
    except ValueError as exc:
        raise WebhookVerificationError("webhook-timestamp is not an integer") from exc
    current = time.time() if now is None else now
    if timestamp < current - tolerance:
        raise WebhookVerificationError("the webhook timestamp is too old")
    if timestamp > current + tolerance:
        raise WebhookVerificationError("the webhook timestamp is in the future")
    secrets = [secret] if isinstance(secret, str) else list(secret)
    expected = {sign(s, message_id, timestamp, payload).encode() for s in secrets}
    offered = [s.encode() for s in signatures.split() if s.startswith("v1,")]
    if not any(hmac.compare_digest(given, want) for given in offered for want in expected):
        raise WebhookVerificationError("no signature matches")
    try:
        return json.loads(payload)
    except ValueError as exc:
        raise WebhookVerificationError("the payload is not JSON") from exc
