"""`Idempotency-Key` on writes: same key and body replay the first response, byte for byte; another body is
a 409. A response that shows a secret (an API key's, a webhook endpoint's) is stored without it, and its replay
is a 409 `secret_shown_once`: a secret is shown once and never kept."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from functools import partial, wraps

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Q
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.request import Request

from common.refusals import ErrorCode, Refusal
from quire.api.lookups import any_of
from quire.api.models import IdempotencyRecord
from tenants.identifiers import document_ids_in

HEADER = "Idempotency-Key"
# A stored JSON object whose `secret` was removed carries this key, true.
SHOWN_ONCE = "secret_shown_once"
# PostgreSQL advisory locks `(IDEMPOTENCY_LOCK_CLASS, hashtext("<schema>:<key>"))`: a multipart upload's key.
IDEMPOTENCY_LOCK_CLASS = 0x1DE3


def _fields(data: object) -> object:
    """The body as the view reads it, files aside: a form field sent more than once (a list) with every
    value it was sent with, in order."""
    if hasattr(data, "lists"):
        fields = {}
        for name, values in data.lists():
            kept = [value for value in values if not isinstance(value, UploadedFile)]
            if kept:
                fields[name] = kept[0] if len(kept) == 1 else kept
        return fields
    if hasattr(data, "items"):
        return {k: v for k, v in data.items() if not isinstance(v, UploadedFile)}
    return data


def request_fingerprint(request: Request) -> str:
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    files = getattr(request, "FILES", {}) or {}
    digest.update(json.dumps(_fields(request.data), sort_keys=True, default=str).encode())
    for name in sorted(files):
        for upload in files.getlist(name):
            path = getattr(upload, "client_path", None) or upload.name
            digest.update(f"\nfile:{name}:{path}:{upload.content_type}:".encode())
            for chunk in upload.chunks():
                digest.update(chunk)
            upload.seek(0)
    return digest.hexdigest()


def idempotent(
    handler: Callable | None = None, *, transactional: bool = True, replay_within: timedelta | None = None
) -> Callable:
    """Wrap a view method that writes. A JSON or form request runs in one transaction with its record, so a
    crash between its write and the record's response rolls back both and the retry runs afresh; a second
    request with the key waits for the first and replays it. A multipart upload (its files stored as they come,
    a batch's documents created one by one), and any request to a view marked `transactional=False` (one that
    calls a payment provider, which no open transaction may wait on), records its response after the write,
    holding the key's lock (`_key_lock`) meanwhile: a claim left without a response whose lock nobody holds (its
    process died, and its database session with it) is taken over by the next request at once. A view whose
    answer goes stale sooner than QUIRE_IDEMPOTENCY_TTL_HOURS (a short-lived URL) sets `replay_within`: past it,
    the same request with the key runs afresh; a record of another request with the key keeps the usual TTL."""
    if handler is None:
        return partial(idempotent, transactional=transactional, replay_within=replay_within)

    @wraps(handler)
    def wrapper(view, request: Request, *args, **kwargs) -> HttpResponse:
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        if not 1 <= len(key) <= 255:
            raise Refusal(
                ErrorCode.INVALID_IDEMPOTENCY_KEY, "Idempotency-Key must be 1-255 characters.", HEADER
            )
        fingerprint = request_fingerprint(request)
        now = timezone.now()
        stale = Q(created_at__lt=now - timedelta(hours=settings.QUIRE_IDEMPOTENCY_TTL_HOURS))
        if replay_within:
            stale |= Q(fingerprint=fingerprint, created_at__lt=now - replay_within)
        IdempotencyRecord.objects.filter(stale, key=key).delete()
        run = partial(_recorded, handler, view, request, args, kwargs, key, fingerprint)
        if not transactional or (request.content_type or "").startswith("multipart/"):
            with _key_lock(key) as held:
                if not held:
                    return _replay(request, key, fingerprint)
                IdempotencyRecord.objects.filter(key=key, status_code__isnull=True).delete()
                return run(together=False)
        with transaction.atomic():
            return run(together=True)

    return wrapper


@contextmanager
def _key_lock(key: str) -> Iterator[bool]:
    """Try the session advisory lock of this schema's `key`; yields whether it is held now, and releases it on the
    way out. A process that dies holding it releases it with its connection, so a claim whose lock is free has
    no request working on it."""
    lock = [IDEMPOTENCY_LOCK_CLASS, f"{connection.schema_name}:{key}"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", lock)
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with suppress(DatabaseError), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", lock)


def _recorded(
    handler: Callable, view, request: Request, args, kwargs, key: str, fingerprint: str, *, together: bool
) -> HttpResponse:
    """Claim the key, run the handler and store its response; `together`: inside the caller's transaction,
    which an error rolls back whole."""
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(key=key, fingerprint=fingerprint, document_ids=[])
    except IntegrityError:
        return _replay(request, key, fingerprint)
    try:
        response = handler(view, request, *args, **kwargs)
    except Exception:
        if not together:
            record.delete()
        raise
    if response.status_code >= 500:
        record.delete()
        return response
    response = view.finalize_response(request, response, *args, **kwargs)
    response.render()
    record.status_code = response.status_code
    record.content_type = response["Content-Type"]
    record.quire_version = getattr(request._request, "quire_version", "")
    record.response_text = _stored_text(response.content.decode(), record.content_type)
    record.document_ids = document_ids_in(record.response_text)
    record.save(
        update_fields=["status_code", "content_type", "quire_version", "response_text", "document_ids"]
    )
    return response


def _json_object(text: str, content_type: str) -> dict | None:
    if not content_type.startswith("application/json") or not text.startswith("{"):
        return None
    return json.loads(text)


def _stored_text(text: str, content_type: str) -> str:
    """What a record keeps of a response's text: all of it, except the `secret` of a JSON object, which is
    kept as null with `secret_shown_once` beside it."""
    body = _json_object(text, content_type) if '"secret"' in text else None
    if body is None or not isinstance(body.get("secret"), str):
        return text
    return json.dumps({**body, "secret": None, SHOWN_ONCE: True}, separators=(",", ":"), ensure_ascii=False)


def _replay(request: Request, key: str, fingerprint: str) -> HttpResponse:
    """The stored answer to the key's request, under the API version that rendered it; a 409 for another
    request with the key, one still running, or an answer that showed a secret."""
    record = IdempotencyRecord.objects.filter(key=key).first()
    if record is None or record.status_code is None:
        raise Refusal(
            ErrorCode.IDEMPOTENCY_KEY_IN_USE,
            "A request with this Idempotency-Key is still in progress.",
            HEADER,
        )
    if record.fingerprint != fingerprint:
        raise Refusal(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "This Idempotency-Key was used with a different request; use a new key.",
            HEADER,
        )
    body = (
        _json_object(record.response_text, record.content_type)
        if SHOWN_ONCE in record.response_text
        else None
    )
    if body is not None and body.get(SHOWN_ONCE) is True:
        raise Refusal(
            ErrorCode.SECRET_SHOWN_ONCE,
            f"The first answer to this request showed the secret of {body.get('id')}, and a secret is shown "
            "once: it is not stored, so it cannot be answered again. If that answer was lost, make a new "
            "secret (a new API key, revoking this one; a webhook secret rotated again) with a new "
            "Idempotency-Key.",
            HEADER,
        )
    response = HttpResponse(
        record.response_text.encode(), status=record.status_code, content_type=record.content_type
    )
    response["Idempotent-Replayed"] = "true"
    if record.quire_version:
        request._request.quire_version = record.quire_version
    return response


def idempotency_records_purge() -> int:
    """Delete this schema's records older than QUIRE_IDEMPOTENCY_TTL_HOURS; returns how many."""
    cutoff = timezone.now() - timedelta(hours=settings.QUIRE_IDEMPOTENCY_TTL_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def idempotency_records_rewrite(*, containing: Collection[str], rewrite: Callable[..., object]) -> int:
    """Replace each stored JSON response of this schema that mentions any of `containing` (documents' ids) with
    `rewrite(body, among=the ids of them it mentions)`, so a replay no longer returns what was deleted; returns
    how many changed. Found by the documents each response names, and by reading those stored by an older
    release."""
    changed = 0
    if not containing:
        return changed
    records = IdempotencyRecord.objects.select_for_update().filter(
        Q(document_ids__overlap=list(containing))
        | Q(document_ids__isnull=True, response_text__regex=any_of(containing)),
        content_type__startswith="application/json",
    )
    with transaction.atomic():
        for record in records:
            mentioned = [object_id for object_id in containing if object_id in record.response_text]
            body = rewrite(json.loads(record.response_text), among=mentioned)
            text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
            if text != record.response_text:
                IdempotencyRecord.objects.filter(pk=record.pk).update(
                    response_text=text, document_ids=document_ids_in(text)
                )
                changed += 1
    return changed
