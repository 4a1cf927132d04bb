"""Standard Webhooks signatures: `whsec_` + base64 secrets, HMAC-SHA256 over `{id}.{timestamp}.{body}`."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a webhook secret starts with 'whsec_'")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except binascii.Error as exc:
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from exc
    if not key:
        raise ValueError("a webhook secret must not be empty")
    return key


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64 HMAC-SHA256>` signature."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(signing_secrets: list[str], message_id: str, timestamp: int, body: bytes) -> dict:
    """The three Standard Webhooks headers; several secrets (a rotation) give space-separated signatures."""
    if not signing_secrets:
        raise ValueError("at least one secret is needed to sign")
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, message_id, timestamp, body) for s in signing_secrets),
    }
