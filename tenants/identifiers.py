"""Prefixed public identifiers (`ten_`, `key_`, `doc_`, ...) and API key secrets."""

from __future__ import annotations

import hashlib
import re
import secrets

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
API_KEY_PREFIX = "qk_live_"
_DOCUMENT_ID = re.compile(r"(?<![0-9A-Za-z_])doc_[0-9a-z]+(?![0-9A-Za-z_])")


def new_id(prefix: str, length: int = 20) -> str:
    return f"{prefix}_{''.join(secrets.choice(_ALPHABET) for _ in range(length))}"


def document_ids_in(text: str) -> list[str]:
    """The document ids a text names, each once, sorted: what a stored event or response is indexed by, so that
    deleting a document finds those that quote it without reading them all."""
    return sorted(set(_DOCUMENT_ID.findall(text)))


def new_api_key_secret() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
