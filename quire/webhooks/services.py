"""Writes for webhooks: endpoints, the event outbox, and delivery attempts with retries."""

from __future__ import annotations

import json
import logging
import random
import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from quire.api.errors import Rejected
from quire.webhooks.models import (
    ALL_EVENTS,
    EVENT_TYPES,
    AttemptStatus,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    EndpointNotification,
    EndpointStatus,
    Event,
    WebhookEndpoint,
)
from quire.webhooks.signing import new_secret, signature_headers
from quire.webhooks.transport import HttpOutcome, UnsafeUrl, post, resolve_target

logger = logging.getLogger(__name__)

# An attempt's lease: connect, send and read each have the timeout, so three of them bound a live attempt.
LEASE_TIMEOUTS = 3
LEASE_MARGIN_S = 5.0
# Retries due within this many seconds are queued with a countdown; later ones wait for the sweeper,
# which keeps long delays out of the broker (Redis redelivers ETA tasks past its visibility timeout).
COUNTDOWN_MAX_S = 60.0
REDISPATCH_AFTER = timedelta(seconds=60)
SWEEP_BATCH = 500
MAX_GRACE_SECONDS = 7 * 86400
JITTER = 0.2


class WebhookRejected(Rejected):
    """A webhook request that cannot be done."""


class DeliveryBusy(Exception):
    def __init__(self, seconds_left: float):
        super().__init__(f"another attempt holds the delivery for {seconds_left:.1f}s more")
        self.seconds_left = seconds_left


class DeliveryNotDue(Exception):
    def __init__(self, seconds_left: float):
        super().__init__(f"the delivery is due in {seconds_left:.1f}s")
        self.seconds_left = seconds_left


def retry_schedule() -> list[float]:
    """Seconds to wait after attempt 1, 2, ...; the schedule's length is the number of retries."""
    try:
        schedule = [float(value) for value in settings.QUIRE_WEBHOOKS_RETRY_SCHEDULE]
    except ValueError as exc:
        raise ValueError("QUIRE_WEBHOOKS_RETRY_SCHEDULE must be comma-separated seconds") from exc
    if any(seconds < 0 for seconds in schedule):
        raise ValueError("QUIRE_WEBHOOKS_RETRY_SCHEDULE must not hold negative delays")
    return schedule


def next_retry_delay(attempts_made: int) -> float | None:
    """The jittered wait before the next attempt, or None when the schedule is used up."""
    schedule = retry_schedule()
    if attempts_made > len(schedule):
        return None
    return schedule[attempts_made - 1] * random.uniform(1 - JITTER, 1 + JITTER)


def _check_url(url: str) -> None:
    try:
        resolve_target(url, allow_private=settings.QUIRE_WEBHOOKS_ALLOW_PRIVATE)
    except UnsafeUrl as exc:
        raise WebhookRejected(
            400, "url_not_allowed", f"This URL cannot receive webhooks: {exc}.", "url"
        ) from exc


def _check_event_types(event_types: list[str]) -> list[str]:
    if not event_types:
        raise WebhookRejected(400, "event_types_required", "List at least one event type.", "event_types")
    for position, event_type in enumerate(event_types):
        if event_type != ALL_EVENTS and event_type not in EVENT_TYPES:
            raise WebhookRejected(
                400,
                "unknown_event_type",
                f"Unknown event type {event_type!r}; known: {', '.join(EVENT_TYPES)} or '*'.",
                f"event_types.{position}",
            )
    return list(dict.fromkeys(event_types))


def endpoint_create(*, url: str, event_types: list[str], description: str = "") -> WebhookEndpoint:
    """A new endpoint with a fresh `whsec_` secret (return it to the caller once)."""
    _check_url(url)
    return WebhookEndpoint.objects.create(
        url=url, event_types=_check_event_types(event_types), description=description, secret=new_secret()
    )


def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    event_types: list[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    """Change what is given. Enabling a disabled endpoint forgets its failure streak."""
    fields = ["updated_at"]
    if url is not None:
        _check_url(url)
        endpoint.url = url
        fields.append("url")
    if event_types is not None:
        endpoint.event_types = _check_event_types(event_types)
        fields.append("event_types")
    if description is not None:
        endpoint.description = description
        fields.append("description")
    if enabled is True and endpoint.status == EndpointStatus.DISABLED:
        endpoint.status, endpoint.disabled_reason, endpoint.disabled_at = EndpointStatus.ENABLED, "", None
        endpoint.failing_since = None
        fields += ["status", "disabled_reason", "disabled_at", "failing_since"]
    with transaction.atomic():
        endpoint.save(update_fields=fields)
        if enabled is False and endpoint.status == EndpointStatus.ENABLED:
            _disable(endpoint, "disabled through the API", notify=False)
    return endpoint


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, grace_seconds: int) -> WebhookEndpoint:
    """A new secret signs from now on; the old one also signs for `grace_seconds` (0: not at all)."""
    if not 0 <= grace_seconds <= MAX_GRACE_SECONDS:
        raise WebhookRejected(
            400,
            "invalid_grace_period",
            f"The grace period must be between 0 and {MAX_GRACE_SECONDS} seconds.",
            "grace_period_seconds",
        )
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        endpoint.previous_secret = endpoint.secret if grace_seconds else ""
        endpoint.previous_secret_expires_at = (
            timezone.now() + timedelta(seconds=grace_seconds) if grace_seconds else None
        )
        endpoint.secret = new_secret()
        endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    return endpoint


def signing_secrets(endpoint: WebhookEndpoint, at: datetime | None = None) -> list[str]:
    at = at or timezone.now()
    secrets = [endpoint.secret]
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_expires_at
        and endpoint.previous_secret_expires_at > at
    ):
        secrets.append(endpoint.previous_secret)
    return secrets


def _queue_deliveries(deliveries: list[Delivery]) -> None:
    from quire.webhooks.tasks import deliver

    ids = [d.pk for d in deliveries]
    transaction.on_commit(lambda: [deliver.delay(delivery_id) for delivery_id in ids])


def event_publish(*, event_type: str, data: dict, endpoints: list[WebhookEndpoint] | None = None) -> Event:
    """Write the event and one delivery per enabled endpoint that wants it, in the caller's transaction;
    the deliveries are queued once it commits (and found by the sweeper if that queueing is lost)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}; known: {', '.join(EVENT_TYPES)}")
    with transaction.atomic():
        event = Event.objects.create(type=event_type, data=data)
        if endpoints is None:
            candidates = WebhookEndpoint.objects.filter(status=EndpointStatus.ENABLED)
            endpoints = [e for e in candidates if e.wants(event_type)]
        now = timezone.now()
        deliveries = Delivery.objects.bulk_create(
            [Delivery(event=event, endpoint=e, next_attempt_at=now, dispatched_at=now) for e in endpoints]
        )
        _queue_deliveries(deliveries)
    return event


def endpoint_send_test(*, endpoint: WebhookEndpoint) -> Delivery:
    """Send a `webhook.test` event to this endpoint only."""
    if endpoint.status != EndpointStatus.ENABLED:
        raise WebhookRejected(
            409, "endpoint_disabled", f"Endpoint {endpoint.id} is disabled; enable it first."
        )
    with transaction.atomic():
        event = event_publish(
            event_type="webhook.test",
            data={"object": "webhook_test", "endpoint": endpoint.id, "message": "A test event from Quire."},
            endpoints=[endpoint],
        )
    return event.deliveries.get()


def event_replay(*, event: Event, endpoint: WebhookEndpoint | None = None) -> list[Delivery]:
    """Deliver the event again (same `webhook-id`) to one endpoint, or to every enabled endpoint that
    wants its type."""
    if endpoint is not None:
        if endpoint.status != EndpointStatus.ENABLED:
            raise WebhookRejected(
                409, "endpoint_disabled", f"Endpoint {endpoint.id} is disabled.", "endpoint"
            )
        targets = [endpoint]
    else:
        enabled = WebhookEndpoint.objects.filter(status=EndpointStatus.ENABLED)
        targets = [e for e in enabled if e.wants(event.type)]
    if not targets:
        raise WebhookRejected(409, "no_endpoints", f"No enabled endpoint wants {event.type} events.")
    now = timezone.now()
    with transaction.atomic():
        deliveries = Delivery.objects.bulk_create(
            [
                Delivery(event=event, endpoint=e, next_attempt_at=now, dispatched_at=now, is_replay=True)
                for e in targets
            ]
        )
        _queue_deliveries(deliveries)
    return deliveries


def payload_bytes(event: Event) -> bytes:
    """The body every delivery of this event carries: `{type, timestamp, data}`."""
    timestamp = event.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    body = {"type": event.type, "timestamp": timestamp, "data": event.data}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _claim(delivery_id: str) -> tuple[Delivery, DeliveryAttempt] | None:
    timeout = float(settings.QUIRE_WEBHOOKS_TIMEOUT_SECONDS)
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("endpoint", "event")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status != DeliveryStatus.PENDING:
            return None
        now = timezone.now()
        if delivery.lease_until and delivery.lease_until > now:
            raise DeliveryBusy((delivery.lease_until - now).total_seconds())
        if delivery.next_attempt_at > now:
            raise DeliveryNotDue((delivery.next_attempt_at - now).total_seconds())
        if delivery.attempts:
            DeliveryAttempt.objects.filter(delivery=delivery, status=AttemptStatus.IN_FLIGHT).update(
                status=AttemptStatus.INTERRUPTED,
                finished_at=now,
                error="the worker was lost during the attempt",
            )
        delivery.attempts += 1
        delivery.lease_until = now + timedelta(seconds=LEASE_TIMEOUTS * timeout + LEASE_MARGIN_S)
        delivery.save(update_fields=["attempts", "lease_until"])
        attempt = DeliveryAttempt.objects.create(delivery=delivery, number=delivery.attempts, started_at=now)
    return delivery, attempt


def delivery_attempt(*, delivery_id: str) -> Delivery | None:
    """Make one attempt at a due delivery and record it. A delivery that is finished is left alone;
    one another worker holds raises DeliveryBusy, one not yet due DeliveryNotDue."""
    claimed = _claim(delivery_id)
    if claimed is None:
        return Delivery.objects.filter(pk=delivery_id).first()
    delivery, attempt = claimed
    endpoint = delivery.endpoint
    if endpoint.status != EndpointStatus.ENABLED:
        outcome = HttpOutcome(None, 0.0, "", "endpoint_disabled")
    else:
        outcome = _send(delivery, endpoint)
    return _record(delivery, attempt, outcome)


def _send(delivery: Delivery, endpoint: WebhookEndpoint) -> HttpOutcome:
    try:
        target = resolve_target(endpoint.url, allow_private=settings.QUIRE_WEBHOOKS_ALLOW_PRIVATE)
    except UnsafeUrl as exc:
        return HttpOutcome(None, 0.0, "", f"refused: {exc}"[:255])
    body = payload_bytes(delivery.event)
    headers = signature_headers(signing_secrets(endpoint), delivery.event_id, int(time.time()), body)
    return post(
        target,
        body,
        headers,
        timeout=float(settings.QUIRE_WEBHOOKS_TIMEOUT_SECONDS),
        max_response_bytes=settings.QUIRE_WEBHOOKS_MAX_RESPONSE_BYTES,
    )


def _record(delivery: Delivery, attempt: DeliveryAttempt, outcome: HttpOutcome) -> Delivery | None:
    """Log the attempt and move the delivery on. None when the endpoint (and with it the delivery) was
    deleted while the request was in flight: there is nothing left to record."""
    with transaction.atomic():
        current = Delivery.objects.select_for_update().filter(pk=delivery.pk).first()
        if current is None:
            logger.info("delivery %s: its endpoint was deleted during the attempt", delivery.pk)
            return None
        now = timezone.now()
        attempt.status = AttemptStatus.SUCCEEDED if outcome.succeeded else AttemptStatus.FAILED
        attempt.status_code, attempt.latency_ms = outcome.status_code, outcome.latency_ms
        attempt.error, attempt.response_excerpt, attempt.finished_at = (
            outcome.error,
            outcome.response_excerpt,
            now,
        )
        attempt.save(
            update_fields=["status", "status_code", "latency_ms", "error", "response_excerpt", "finished_at"]
        )
        if outcome.succeeded:
            return _record_success(delivery, outcome, now)
        if current.status != DeliveryStatus.PENDING or current.attempts != delivery.attempts:
            return current
        current.last_status_code, current.last_error, current.lease_until = (
            outcome.status_code,
            outcome.error,
            None,
        )
        _after_failure(current, outcome, now)
        current.save(
            update_fields=[
                "status",
                "last_status_code",
                "last_error",
                "lease_until",
                "next_attempt_at",
                "dispatched_at",
            ]
        )
    return current


def _record_success(delivery: Delivery, outcome: HttpOutcome, now: datetime) -> Delivery:
    """One conditional update: only the attempt that still holds the claim marks the delivery done."""
    updated = Delivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.PENDING, attempts=delivery.attempts
    ).update(
        status=DeliveryStatus.SUCCEEDED,
        delivered_at=now,
        last_status_code=outcome.status_code,
        last_error="",
        lease_until=None,
    )
    if not updated:
        return Delivery.objects.get(pk=delivery.pk)
    if delivery.endpoint.failing_since is not None:
        WebhookEndpoint.objects.filter(pk=delivery.endpoint_id).update(failing_since=None)
    delivery.status, delivery.delivered_at, delivery.lease_until = DeliveryStatus.SUCCEEDED, now, None
    delivery.last_status_code, delivery.last_error = outcome.status_code, ""
    return delivery


def _after_failure(delivery: Delivery, outcome: HttpOutcome, now: datetime) -> None:
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
    if endpoint.status == EndpointStatus.ENABLED:
        if endpoint.failing_since is None:
            endpoint.failing_since = now
            endpoint.save(update_fields=["failing_since"])
        disable_after = timedelta(seconds=settings.QUIRE_WEBHOOKS_DISABLE_AFTER_SECONDS)
        if outcome.status_code == 410:
            _disable(endpoint, "the endpoint answered 410 Gone")
        elif now - endpoint.failing_since >= disable_after:
            _disable(endpoint, f"every delivery has failed since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC")
    delay = next_retry_delay(delivery.attempts)
    if endpoint.status != EndpointStatus.ENABLED or delay is None:
        delivery.status = DeliveryStatus.FAILED
        return
    delivery.next_attempt_at = now + timedelta(seconds=delay)
    if delay <= COUNTDOWN_MAX_S:
        from quire.webhooks.tasks import deliver

        delivery.dispatched_at = delivery.next_attempt_at
        delivery_id = delivery.pk
        transaction.on_commit(lambda: deliver.apply_async((delivery_id,), countdown=delay))


def _disable(endpoint: WebhookEndpoint, reason: str, *, notify: bool = True) -> None:
    """Disable the endpoint, fail its pending deliveries and, once committed, e-mail the tenant."""
    now = timezone.now()
    endpoint.status, endpoint.disabled_reason, endpoint.disabled_at = EndpointStatus.DISABLED, reason, now
    endpoint.save(update_fields=["status", "disabled_reason", "disabled_at", "updated_at"])
    Delivery.objects.filter(
        endpoint=endpoint, status=DeliveryStatus.PENDING, lease_until__isnull=True
    ).update(status=DeliveryStatus.FAILED, last_error="endpoint_disabled")
    if notify:
        endpoint_id = endpoint.pk
        transaction.on_commit(lambda: endpoint_notify_disabled(endpoint_id=endpoint_id))


def endpoint_notify_disabled(*, endpoint_id: str) -> EndpointNotification | None:
    """E-mail the tenant's owners and admins that the endpoint was disabled, and record it."""
    from tenants.models import Member, Role, Tenant

    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    tenant = Tenant.objects.filter(schema_name=connection.schema_name).first()
    if endpoint is None or tenant is None:
        return None
    recipients = sorted(
        {
            email
            for email in Member.objects.filter(tenant=tenant, role__in=[Role.OWNER, Role.ADMIN]).values_list(
                "user__email", flat=True
            )
            if email
        }
    )
    subject = f"Quire disabled the webhook endpoint {endpoint.url}"
    body = (
        f"The webhook endpoint {endpoint.id} ({endpoint.url}) of {tenant.name} was disabled: "
        f"{endpoint.disabled_reason}.\n\nFix the receiver, then enable the endpoint again "
        f'(PATCH /v1/webhook_endpoints/{endpoint.id} with {{"enabled": true}}) and replay the events it missed '
        f"(POST /v1/events/{{id}}/replay).\n"
    )
    if recipients:
        try:
            send_mail(subject, body, None, recipients)
        except OSError:
            logger.exception("could not e-mail the tenant about endpoint %s", endpoint.id)
    return EndpointNotification.objects.create(
        endpoint=endpoint, kind="endpoint_disabled", recipients=recipients, subject=subject[:255]
    )


def deliveries_dispatch_due(*, limit: int = SWEEP_BATCH) -> int:
    """Queue due deliveries whose task is lost: never sent (a crash between commit and queueing, broker
    loss), waiting out a long retry delay, or an attempt whose lease ran out (its worker died). Runs in
    the current tenant schema; returns how many it queued."""
    now = timezone.now()
    never_queued = Q(lease_until__isnull=True) & (
        Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=now - REDISPATCH_AFTER)
    )
    attempt_lost = Q(lease_until__lt=now)
    with transaction.atomic():
        due = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .filter(never_queued | attempt_lost)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        if due:
            Delivery.objects.filter(pk__in=due).update(dispatched_at=now, lease_until=None)
            _queue_deliveries([Delivery(pk=pk) for pk in due])
    return len(due)


def events_purge_expired() -> int:
    """Delete events (with their deliveries and log) older than QUIRE_WEBHOOKS_RETENTION_DAYS once none
    of their deliveries is still pending. Returns how many events went."""
    cutoff = timezone.now() - timedelta(days=settings.QUIRE_WEBHOOKS_RETENTION_DAYS)
    expired = Event.objects.filter(created_at__lt=cutoff).exclude(deliveries__status=DeliveryStatus.PENDING)
    _, by_model = expired.delete()
    return by_model.get(Event._meta.label, 0)
