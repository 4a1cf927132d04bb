"""Tasks queued once their row is committed, through a broker that may not take them: the row is marked
instead of failing the request that wrote it, and a beat sweep queues marked rows once the broker is back."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from functools import partial

import redis
from celery import current_app
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

logger = logging.getLogger("quire.queueing")

BROKER_UNAVAILABLE = (BrokerError, redis.ConnectionError, redis.TimeoutError)
# PostgreSQL or Redis unreachable (or a stale connection): a task that meets one before it has claimed its row
# is retried, since the row still waits and nothing else would send it.
UNAVAILABLE = (OperationalError, InterfaceError, redis.RedisError)


def task_send_or_mark(
    task: str, row_id: str, *, marked: QuerySet, flag: str, sweep: str, priority: int | None = None
) -> None:
    """Queue `task` for the committed row `row_id`; if the broker cannot take it, set `flag` on the row
    (`marked` selects it) for `sweep` to queue it later."""
    try:
        current_app.send_task(task, args=[row_id], priority=priority)
    except BROKER_UNAVAILABLE as exc:
        logger.warning(
            "%s %s: %s not queued (%s); the %s sweep will queue it",
            marked.model.__name__,
            row_id,
            task,
            exc,
            sweep,
        )
        marked.filter(pk=row_id).update(**{flag: True})


def marked_requeue(queryset: QuerySet, *, flag: str, send: Callable[[str], None], limit: int) -> int:
    """Clear `flag` on up to `limit` rows of `queryset` that carry it (rows another sweep holds are skipped)
    and `send` each once the transaction commits. Returns how many were queued."""
    with transaction.atomic():
        marked = list(
            queryset.select_for_update(skip_locked=True)
            .filter(**{flag: True})
            .values_list("pk", flat=True)[:limit]
        )
        if marked:
            queryset.model.objects.filter(pk__in=marked).update(**{flag: False})
            for row_id in marked:
                transaction.on_commit(partial(send, row_id))
    return len(marked)


def unseen_requeue(queryset: QuerySet, *, flag: str, send: Callable[[str], None], limit: int) -> int:
    """Send again up to `limit` rows of `queryset` (rows waiting for a worker) that no worker has had in hand for
    QUIRE_JOB_QUEUED_LOST_SECONDS (`queued_seen_at`, which the task writes when it runs or defers, else the
    row's creation) and that `flag` does not mark for `marked_requeue`: their message was lost (a broker that
    restarted without its data, a retry that could not be published). Each is counted as seen now, so it is
    sent once a period. Returns how many were sent."""
    now = timezone.now()
    with transaction.atomic():
        lost = list(
            queryset.select_for_update(skip_locked=True)
            .filter(**{flag: False})
            .annotate(seen=Coalesce("queued_seen_at", "created_at"))
            .filter(seen__lt=now - timedelta(seconds=settings.QUIRE_JOB_QUEUED_LOST_SECONDS))
            .order_by("seen")
            .values_list("pk", flat=True)[:limit]
        )
        if lost:
            queryset.model.objects.filter(pk__in=lost).update(queued_seen_at=now)
            for row_id in lost:
                logger.warning(
                    "%s %s: waiting and unseen by any worker; its task is sent again",
                    queryset.model.__name__,
                    row_id,
                )
                transaction.on_commit(partial(send, row_id))
    return len(lost)


def stale_requeue(
    queryset: QuerySet,
    *,
    heartbeat: str,
    stale_after: timedelta,
    waiting: dict,
    send: Callable[[str], None],
    limit: int,
    what: str,
) -> int:
    """Send again up to `limit` rows of `queryset` (rows a run holds) whose `heartbeat` field is older than
    `stale_after` or was never written, stalest first (rows another sweep holds are skipped): their worker died.
    Each goes back to waiting (`waiting`, the fields to write; `queued_seen_at` is set to now), so the next
    sweep leaves it alone until a run starts on it again; `what` names the run in the warning. Returns how
    many were sent."""
    now = timezone.now()
    with transaction.atomic():
        stale = list(
            queryset.select_for_update(skip_locked=True)
            .filter(Q(**{f"{heartbeat}__lt": now - stale_after}) | Q(**{heartbeat: None}))
            .order_by(F(heartbeat).asc(nulls_first=True))
            .values_list("pk", "status")[:limit]
        )
        for row_id, status in stale:
            queryset.model.objects.filter(pk=row_id).update(**waiting, queued_seen_at=now)
            logger.warning(
                "%s %s: stuck in %s; %s queued again", queryset.model._meta.verbose_name, row_id, status, what
            )
            transaction.on_commit(partial(send, row_id))
    return len(stale)
