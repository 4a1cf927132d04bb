"""One delivery attempt: claim the delivery under a lease, POST the signed payload outside any
transaction, record the outcome, and schedule the retry or give up (disabling a failing endpoint)."""

from __future__ import annotations

import json
import logging
import random
import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from quire.webhooks.models import (
    AttemptStatus,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    EndpointStatus,
    Event,
    WebhookEndpoint,
)
from quire.webhooks.services.endpoints import signing_secrets
from quire.webhooks.services.notify import endpoint_disable
from quire.webhooks.services.outbox import queue_after_commit
from quire.webhooks.signing import signature_headers
from quire.webhooks.transport import HttpOutcome, UnsafeUrl, post, resolve_target
from tenants.models import Tenant

logger = logging.getLogger(__name__)

# An attempt's lease: `transport.post` holds an attempt to its timeout, wall clock; three of them leave room.
LEASE_TIMEOUTS = 3
LEASE_MARGIN_S = 5.0
# Retries due within this many seconds are queued with a countdown; later ones wait for the sweeper,
# which keeps long delays out of the broker (Redis redelivers ETA tasks past its visibility timeout).
COUNTDOWN_MAX_S = 60.0
JITTER = 0.2


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
        delivery.redispatches = 0
        delivery.save(update_fields=["attempts", "lease_until", "redispatches"])
        attempt = DeliveryAttempt.objects.create(delivery=delivery, number=delivery.attempts, started_at=now)
    return delivery, attempt


def delivery_attempt(*, tenant: Tenant, delivery_id: str) -> Delivery | None:
    """Make one attempt at a due delivery of `tenant` (whose schema is active) and record it. A delivery
    that is finished is left alone; one another worker holds raises DeliveryBusy, one not yet due
    DeliveryNotDue. An endpoint this attempt disables is reported to the tenant's owners and admins. A delivery
    whose attempts were all lost (each a worker that died, or an attempt past its lease) sends no more once the
    schedule is used up: it fails like one whose last attempt failed."""
    claimed = _claim(delivery_id)
    if claimed is None:
        return Delivery.objects.filter(pk=delivery_id).first()
    delivery, attempt = claimed
    endpoint = delivery.endpoint
    if endpoint.status != EndpointStatus.ENABLED:
        outcome = HttpOutcome(None, 0.0, "", "endpoint_disabled")
    elif attempt.number > len(retry_schedule()) + 1:
        outcome = HttpOutcome(None, 0.0, "", "abandoned: every attempt the schedule allows was lost")
    else:
        outcome = _send(delivery, endpoint)
    return _record(tenant, delivery, attempt, outcome)


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


def _record(
    tenant: Tenant, delivery: Delivery, attempt: DeliveryAttempt, outcome: HttpOutcome
) -> Delivery | None:
    """Log the attempt and move the delivery on. None when the endpoint (and with it the delivery) was
    deleted while the request was in flight: there is nothing left to record. The endpoint's row is locked
    before the delivery's, in the order `endpoint_delete` takes them, so the two wait for each other rather
    than deadlock."""
    with transaction.atomic():
        held = WebhookEndpoint.objects.select_for_update().filter(pk=delivery.endpoint_id).values_list("pk")
        current = Delivery.objects.select_for_update().filter(pk=delivery.pk).first() if held else None
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
        _after_failure(tenant, current, outcome, now)
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
    """One conditional update: only the attempt that still holds the claim marks the delivery done. It ends
    the endpoint's failure streak as the row is now, which may have begun while this request was in flight."""
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
    WebhookEndpoint.objects.filter(pk=delivery.endpoint_id, failing_since__isnull=False).update(
        failing_since=None
    )
    delivery.status, delivery.delivered_at, delivery.lease_until = DeliveryStatus.SUCCEEDED, now, None
    delivery.last_status_code, delivery.last_error = outcome.status_code, ""
    return delivery


def _after_failure(tenant: Tenant, delivery: Delivery, outcome: HttpOutcome, now: datetime) -> None:
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
    if endpoint.status == EndpointStatus.ENABLED:
        if endpoint.failing_since is None:
            endpoint.failing_since = now
            endpoint.save(update_fields=["failing_since"])
        disable_after = timedelta(seconds=settings.QUIRE_WEBHOOKS_DISABLE_AFTER_SECONDS)
        if outcome.status_code == 410:
            reason = "the endpoint answered 410 Gone"
        elif now - endpoint.failing_since >= disable_after:
            reason = f"every delivery has failed since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC"
        else:
            reason = ""
        if reason:
            endpoint_disable(endpoint=endpoint, reason=reason, notify_tenant=tenant)
    delay = next_retry_delay(delivery.attempts)
    if endpoint.status != EndpointStatus.ENABLED or delay is None:
        delivery.status = DeliveryStatus.FAILED
        return
    delivery.next_attempt_at = now + timedelta(seconds=delay)
    if delay <= COUNTDOWN_MAX_S:
        delivery.dispatched_at = delivery.next_attempt_at
        queue_after_commit([delivery.pk], countdown=delay)
