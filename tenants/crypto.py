"""Secrets at rest: `EncryptedTextField` keeps a value as a Fernet token (AES-128-CBC with HMAC-SHA256)
under the keys of `QUIRE_ENCRYPTION_KEYS`. The first key encrypts; every key listed decrypts, so a key is
rotated by putting a new one first, running `manage.py secrets_reencrypt`, then dropping the old one."""

from __future__ import annotations

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models, transaction


class UndecryptableSecret(ValueError):
    """A stored secret that no key of QUIRE_ENCRYPTION_KEYS decrypts: the key it was written under is not
    listed."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def encryption_keys() -> tuple[str, ...]:
    """`QUIRE_ENCRYPTION_KEYS`; unset, one key derived from `SECRET_KEY`, in every environment, production
    included."""
    keys = tuple(settings.QUIRE_ENCRYPTION_KEYS)
    if keys:
        return keys
    digest = hashlib.sha256(b"quire-encryption:" + settings.SECRET_KEY.encode()).digest()
    return (base64.urlsafe_b64encode(digest).decode(),)


def encrypt(value: str) -> str:
    return _fernet(encryption_keys()).encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(encryption_keys()).decrypt(token.encode()).decode()
    except InvalidToken:
        raise UndecryptableSecret(
            "a stored secret does not decrypt with any key of QUIRE_ENCRYPTION_KEYS"
        ) from None


def lookup_digest(value: str) -> str:
    """A stable SHA-256 of an encrypted value, for finding its row (empty for an empty value)."""
    return hashlib.sha256(value.encode()).hexdigest() if value else ""


class EncryptedTextField(models.TextField):
    """A string stored encrypted; the empty string stays empty, so `blank` keeps meaning "not set". It
    cannot be searched: filter on a `lookup_digest` column beside it."""

    def from_db_value(self, value: str | None, expression, connection) -> str | None:
        return decrypt(value) if value else value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return encrypt(value) if value else value


def rows_reencrypt(rows: models.QuerySet, fields: tuple[str, ...]) -> int:
    """Write `fields` of every row of `rows` again, so they are encrypted under the first key of
    `QUIRE_ENCRYPTION_KEYS` (a key rotation); returns how many rows. Each row is read and written under its
    lock, so a value changed meanwhile (a secret rotated, a subscription replaced) is not written back over."""
    count = 0
    for pk in rows.values_list("pk", flat=True):
        with transaction.atomic():
            row = rows.model.objects.select_for_update().only("pk", *fields).get(pk=pk)
            rows.model.objects.filter(pk=pk).update(**{name: getattr(row, name) for name in fields})
        count += 1
    return count
