"""Endpoints: create, update, delete, rotate the signing secret."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from common.refusals import ErrorCode, Refusal
from quire.webhooks.models import (
    ALL_EVENTS,
    EVENT_TYPES,
    Delivery,
    EndpointStatus,
    RetiredSecret,
    WebhookEndpoint,
)
from quire.webhooks.services.notify import endpoint_disable
from quire.webhooks.signing import new_secret
from quire.webhooks.transport import UnsafeUrl, resolve_target
from tenants.audit import audit_record
from tenants.crypto import rows_reencrypt
from tenants.services import tenant_room_check

MAX_GRACE_SECONDS = 7 * 86400
# Replaced secrets that may sign beside the current one, each until its own grace period ends.
MAX_RETIRED_SECRETS = 3


# Endpoints a workspace may have (Stripe's limit): every event is delivered once to each endpoint it names.
MAX_ENDPOINTS = 16


class WebhookRejected(Refusal):
    """A webhook request that cannot be done."""


def _check_url(url: str) -> None:
    try:
        resolve_target(url, allow_private=settings.QUIRE_WEBHOOKS_ALLOW_PRIVATE)
    except UnsafeUrl as exc:
        raise WebhookRejected(
            ErrorCode.URL_NOT_ALLOWED, f"This URL cannot receive webhooks: {exc}.", "url"
        ) from exc


def _locked(endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """The endpoint's row, locked until the transaction ends; a row deleted meanwhile is a 404."""
    locked = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint.pk).first()
    if locked is None:
        raise WebhookRejected(
            ErrorCode.RESOURCE_MISSING, f"No webhook endpoint {endpoint.pk}.", "endpoint_id"
        )
    return locked


def _check_event_types(event_types: list[str]) -> list[str]:
    if not event_types:
        raise WebhookRejected(ErrorCode.EVENT_TYPES_REQUIRED, "List at least one event type.", "event_types")
    for position, event_type in enumerate(event_types):
        if event_type != ALL_EVENTS and event_type not in EVENT_TYPES:
            raise WebhookRejected(
                ErrorCode.UNKNOWN_EVENT_TYPE,
                f"Unknown event type {event_type!r}; known: {', '.join(EVENT_TYPES)} or '*'.",
                f"event_types.{position}",
            )
    return list(dict.fromkeys(event_types))


def endpoint_create(*, url: str, event_types: list[str], description: str = "") -> WebhookEndpoint:
    """A new endpoint with a fresh `whsec_` secret (return it to the caller once); a workspace that has
    `MAX_ENDPOINTS` already is refused (409), counted under the tenant's lock."""
    _check_url(url)
    with transaction.atomic():
        tenant_room_check(
            tenant=connection.tenant,
            rows=WebhookEndpoint.objects.all(),
            most=MAX_ENDPOINTS,
            noun="webhook endpoints",
            refusal=WebhookRejected,
        )
        endpoint = WebhookEndpoint.objects.create(
            url=url, event_types=_check_event_types(event_types), description=description, secret=new_secret()
        )
        _audit(endpoint, "create", url=url, event_types=endpoint.event_types)
    return endpoint


def _audit(endpoint: WebhookEndpoint, verb: str, **details) -> None:
    audit_record(
        action=f"webhook_endpoint.{verb}",
        object_type="webhook_endpoint",
        object_id=endpoint.pk,
        details=details,
    )


def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    event_types: list[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
    disabled_reason: str = "disabled through the API",
) -> WebhookEndpoint:
    """Change what is given, on the row locked (a concurrent delete makes this a 404). Enabling a disabled
    endpoint forgets its failure streak; disabling it records `disabled_reason` (where it was switched off)."""
    if url is not None:
        _check_url(url)
    if event_types is not None:
        event_types = _check_event_types(event_types)
    with transaction.atomic():
        endpoint = _locked(endpoint)
        fields = ["updated_at"]
        if url is not None:
            endpoint.url = url
            fields.append("url")
        if event_types is not None:
            endpoint.event_types = event_types
            fields.append("event_types")
        if description is not None:
            endpoint.description = description
            fields.append("description")
        if enabled is True and endpoint.status == EndpointStatus.DISABLED:
            endpoint.status, endpoint.disabled_reason, endpoint.disabled_at = EndpointStatus.ENABLED, "", None
            endpoint.failing_since = None
            fields += ["status", "disabled_reason", "disabled_at", "failing_since"]
        endpoint.save(update_fields=fields)
        changed = {
            name: getattr(endpoint, name) for name in fields if name in ("url", "event_types", "description")
        }
        if enabled is not None:
            changed["enabled"] = enabled
        _audit(endpoint, "update", **changed)
        if enabled is False and endpoint.status == EndpointStatus.ENABLED:
            endpoint_disable(endpoint=endpoint, reason=disabled_reason)
    return endpoint


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint with its deliveries and their log, on the row locked (already gone: a 404). The
    deliveries are locked first, so an attempt being claimed finishes writing its log row before the delete
    reads what to cascade, and a later claim finds the delivery gone."""
    with transaction.atomic():
        locked = _locked(endpoint)
        list(Delivery.objects.select_for_update().filter(endpoint=locked).values_list("pk", flat=True))
        _audit(locked, "delete", url=locked.url)
        locked.delete()


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, grace_seconds: int) -> WebhookEndpoint:
    """A new secret signs from now on. With `grace_seconds`, the one it replaces keeps signing that long,
    beside those replaced before it whose own grace period has not ended (the newest `MAX_RETIRED_SECRETS` in
    all); with none (0), only the new secret signs."""
    if not 0 <= grace_seconds <= MAX_GRACE_SECONDS:
        raise WebhookRejected(
            ErrorCode.INVALID_GRACE_PERIOD,
            f"The grace period must be between 0 and {MAX_GRACE_SECONDS} seconds.",
            "grace_period_seconds",
        )
    with transaction.atomic():
        endpoint = _locked(endpoint)
        now = timezone.now()
        kept: list[int] = []
        if grace_seconds:
            RetiredSecret.objects.create(
                endpoint=endpoint, secret=endpoint.secret, expires_at=now + timedelta(seconds=grace_seconds)
            )
            kept = [r.pk for r in endpoint.secrets_retired_signing(now)[:MAX_RETIRED_SECRETS]]
        endpoint.retired_secrets.exclude(pk__in=kept).delete()
        endpoint.secret = new_secret()
        endpoint.save(update_fields=["secret", "updated_at"])
        _audit(endpoint, "secret_rotate", grace_seconds=grace_seconds)
    return endpoint


def endpoint_secret_reveal(*, endpoint: WebhookEndpoint) -> str:
    """The endpoint's current signing secret, for a person to copy; each reveal is audited."""
    _audit(endpoint, "secret_reveal")
    return endpoint.secret


def signing_secrets(endpoint: WebhookEndpoint, at: datetime | None = None) -> list[str]:
    """The secrets that sign a delivery at `at` (now): the current one, then each replaced one still in its
    grace period, the most recently replaced first."""
    retired = endpoint.secrets_retired_signing(at or timezone.now())
    return [endpoint.secret, *(r.secret for r in retired)]


def endpoints_secrets_reencrypt() -> int:
    """Write every endpoint's secrets again, so they are encrypted under the first key of
    `QUIRE_ENCRYPTION_KEYS` (a key rotation, `rows_reencrypt`); returns how many endpoints (in the current
    schema)."""
    count = rows_reencrypt(WebhookEndpoint.objects.all(), ("secret",))
    rows_reencrypt(RetiredSecret.objects.all(), ("secret",))
    return count
