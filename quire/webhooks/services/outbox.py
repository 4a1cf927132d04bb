"""The outbox: events written in the caller's transaction with one delivery per endpoint, queued once
it commits; the sweeper that queues deliveries whose task was lost; the purge of old events."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import DurationField, F, IntegerField, Q, TextField, Value
from django.db.models.functions import Cast, Least, Power
from django.utils import timezone

from common.refusals import ErrorCode
from quire.api.lookups import any_of
from quire.queueing import BROKER_UNAVAILABLE
from quire.webhooks.models import (
    EVENT_TYPES,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    EndpointStatus,
    Event,
    WebhookEndpoint,
)
from quire.webhooks.services.endpoints import WebhookRejected
from tenants.identifiers import document_ids_in

DELIVERY_ATTEMPT_TASK = "quire.webhooks.delivery_attempt_task"
# A pending delivery that no attempt has begun REDISPATCH_AFTER after it was queued is queued again by the sweep,
# and each time it is, the sweep waits twice as long before the next (at most 2**REDISPATCH_DOUBLINGS times as
# long, about an hour): a message waiting behind a backlog, not lost, is not multiplied once a minute.
REDISPATCH_AFTER = timedelta(seconds=60)
REDISPATCH_DOUBLINGS = 6
SWEEP_BATCH = 500
TEST_EVENT = "webhook.test"

logger = logging.getLogger(__name__)


def queue_after_commit(delivery_ids: list[str], *, countdown: float | None = None) -> None:
    """Queue one `delivery_attempt_task` per delivery once the current transaction commits. Deliveries the
    broker refuses are logged and left pending: `deliveries_dispatch_due` queues them again."""

    def send() -> None:
        for delivery_id in delivery_ids:
            try:
                current_app.send_task(DELIVERY_ATTEMPT_TASK, args=[delivery_id], countdown=countdown)
            except BROKER_UNAVAILABLE as exc:
                logger.warning(
                    "%d deliveries not queued (%s); the webhooks sweep will queue them",
                    len(delivery_ids),
                    exc,
                )
                return

    transaction.on_commit(send)


def _deliveries_create(
    event: Event, endpoints: list[WebhookEndpoint], *, is_replay: bool = False
) -> list[Delivery]:
    now = timezone.now()
    deliveries = Delivery.objects.bulk_create(
        [
            Delivery(event=event, endpoint=e, next_attempt_at=now, dispatched_at=now, is_replay=is_replay)
            for e in endpoints
        ]
    )
    queue_after_commit([d.pk for d in deliveries])
    return deliveries


def _enabled_endpoints_wanting(event_type: str) -> list[WebhookEndpoint]:
    enabled = WebhookEndpoint.objects.filter(status=EndpointStatus.ENABLED)
    return [e for e in enabled if e.wants(event_type)]


def event_publish(*, event_type: str, data: dict, endpoints: list[WebhookEndpoint] | None = None) -> Event:
    """Write the event and one delivery per enabled endpoint that wants it, in the caller's transaction;
    the deliveries are queued once it commits (and found by the sweeper if that queueing is lost)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}; known: {', '.join(EVENT_TYPES)}")
    with transaction.atomic():
        event = Event.objects.create(
            type=event_type, data=data, document_ids=document_ids_in(json.dumps(data))
        )
        if endpoints is None:
            endpoints = _enabled_endpoints_wanting(event_type)
        _deliveries_create(event, endpoints)
    return event


def endpoint_send_test(*, endpoint: WebhookEndpoint) -> Delivery:
    """Send a `webhook.test` event to this endpoint only."""
    if endpoint.status != EndpointStatus.ENABLED:
        raise WebhookRejected(
            ErrorCode.ENDPOINT_DISABLED, f"Endpoint {endpoint.id} is disabled; enable it first."
        )
    with transaction.atomic():
        event = event_publish(
            event_type=TEST_EVENT,
            data={"object": "webhook_test", "endpoint": endpoint.id, "message": "A test event from Quire."},
            endpoints=[endpoint],
        )
    return event.deliveries.get()


def event_replay(*, event: Event, endpoint: WebhookEndpoint | None = None) -> list[Delivery]:
    """Deliver the event again (same `webhook-id`) to one endpoint, or to every enabled endpoint that
    wants its type; a named endpoint gets it whatever its event types (it was asked for by name). A
    `webhook.test` event without an endpoint goes to the endpoint it tested."""
    if endpoint is None and event.type == TEST_EVENT:
        endpoint = WebhookEndpoint.objects.filter(pk=str(event.data.get("endpoint", ""))).first()
        if endpoint is None:
            raise WebhookRejected(ErrorCode.NO_ENDPOINTS, "The endpoint this test event was sent to is gone.")
    if endpoint is not None:
        if endpoint.status != EndpointStatus.ENABLED:
            raise WebhookRejected(
                ErrorCode.ENDPOINT_DISABLED, f"Endpoint {endpoint.id} is disabled.", "endpoint"
            )
        targets = [endpoint]
    else:
        targets = _enabled_endpoints_wanting(event.type)
    if not targets:
        raise WebhookRejected(ErrorCode.NO_ENDPOINTS, f"No enabled endpoint wants {event.type} events.")
    with transaction.atomic():
        return _deliveries_create(event, targets, is_replay=True)


def deliveries_dispatch_due(*, limit: int = SWEEP_BATCH) -> int:
    """Queue due deliveries whose task is lost: never sent (a crash between commit and queueing, broker
    loss), waiting out a long retry delay, or an attempt whose lease ran out (its worker died). A delivery
    queued and not yet begun is queued again `REDISPATCH_AFTER` after, then after twice that, and so on
    (`redispatches`, reset when an attempt begins). Runs in the current tenant schema; returns how many it
    queued."""
    now = timezone.now()
    waited = Cast(Power(2, Least(F("redispatches"), Value(REDISPATCH_DOUBLINGS))), IntegerField()) * Value(
        REDISPATCH_AFTER, DurationField()
    )
    never_queued = Q(lease_until__isnull=True) & (
        Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=Value(now) - waited)
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
            Delivery.objects.filter(pk__in=due).update(
                dispatched_at=now,
                lease_until=None,
                redispatches=Least(F("redispatches") + 1, Value(REDISPATCH_DOUBLINGS)),
            )
            queue_after_commit(due)
    return len(due)


def events_purge_expired() -> int:
    """Delete events (with their deliveries and log) older than QUIRE_WEBHOOKS_RETENTION_DAYS once none
    of their deliveries is still pending. Returns how many events went."""
    cutoff = timezone.now() - timedelta(days=settings.QUIRE_WEBHOOKS_RETENTION_DAYS)
    expired = Event.objects.filter(created_at__lt=cutoff).exclude(deliveries__status=DeliveryStatus.PENDING)
    _, by_model = expired.delete()
    return by_model.get(Event._meta.label, 0)


def events_rewrite(*, containing: Collection[str], rewrite: Callable[..., Any]) -> dict[str, int]:
    """Replace the payload of each event whose JSON mentions any of `containing` (documents' ids) with
    `rewrite(payload, among=the ids of them it mentions)`, under row locks; deliveries still to come send the new
    payload, and the response excerpts of its past attempts (a receiver may echo what it was sent) are cleared.
    Found by the documents each event names, and by reading the events an older release wrote. Returns how many
    events changed, by id mentioned."""
    changed: dict[str, int] = {}
    if not containing:
        return changed
    with transaction.atomic():
        mentioning = (
            Event.objects.select_for_update()
            .annotate(as_text=Cast("data", TextField()))
            .filter(
                Q(document_ids__overlap=list(containing))
                | Q(document_ids__isnull=True, as_text__regex=any_of(containing))
            )
        )
        for event in mentioning:
            mentioned = [object_id for object_id in containing if object_id in event.as_text]
            data = rewrite(event.data, among=mentioned)
            if data != event.data:
                Event.objects.filter(pk=event.pk).update(
                    data=data, document_ids=document_ids_in(json.dumps(data))
                )
                DeliveryAttempt.objects.filter(delivery__event=event).update(response_excerpt="")
                for object_id in mentioned:
                    changed[object_id] = changed.get(object_id, 0) + 1
    return changed


def events_purge_before(*, cutoff: datetime) -> int:
    """Delete every event created before `cutoff`, with its deliveries and their log (the tenant's
    retention period); returns how many events went."""
    _, by_model = Event.objects.filter(created_at__lt=cutoff).delete()
    return by_model.get(Event._meta.label, 0)
