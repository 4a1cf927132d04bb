import logging
import time

from billiard.process import current_process
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import close_old_connections, connection

from common.processes import pool_process_retire, process_identity
from quire.documents.limits import DeadlinePassed
from quire.documents.services import (
    DOCUMENT_INGEST_TASK,
    DOCUMENTS_ORPHANS_DELETE_TASK,
    DOCUMENTS_REEMBED_STALE_TASK,
    DOCUMENTS_REQUEUE_STUCK_TASK,
    IngestPutOff,
    document_fail,
    document_ingest,
    document_seen,
    documents_orphans_delete,
    documents_reembed_stale,
    documents_requeue_stuck,
)
from quire.fairness import TenantShare, retry_delay
from quire.queueing import UNAVAILABLE
from tenants.services import for_each_tenant

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    name=DOCUMENT_INGEST_TASK,
    soft_time_limit=settings.QUIRE_INGEST_SOFT_TIME_LIMIT,
    time_limit=settings.QUIRE_INGEST_TIME_LIMIT,
)
def document_ingest_task(self, document_id: str) -> str:
    """Ingest the document within its tenant's share. An error of PostgreSQL or Redis before the document is
    claimed (unreachable, a stale connection), or one that kept a failed ingest from being recorded, is
    retried: the document still waits, and nothing else would send it again before the lost-message sweep. So is
    an ingest its tenant's maintenance stopped, after QUIRE_MAINTENANCE_RETRY_SECONDS."""
    soft_limit = (self.request.timelimit or (None, None))[1] or self.soft_time_limit
    started = time.monotonic()
    interrupted = False
    try:
        document_seen(document_id=document_id)
        with TenantShare(connection.schema_name, self.request.id) as share:
            if not share.granted:
                raise self.retry(countdown=retry_delay())
            try:
                return _ingest(document_id, soft_limit, deadline=started + _own_deadline(soft_limit))
            except IngestPutOff:
                raise self.retry(countdown=settings.QUIRE_MAINTENANCE_RETRY_SECONDS) from None
    except SoftTimeLimitExceeded:
        interrupted = True
        return _stopped(document_id, soft_limit)
    except UNAVAILABLE as exc:
        logger.warning(
            "document %s: %s before it could be ingested; retried", document_id, type(exc).__name__
        )
        close_old_connections()
        raise self.retry(countdown=retry_delay()) from exc
    finally:
        # The pool's clock starts before `started`, so its signal can land a little before the task's own
        # clock reaches the limit; the elapsed time covers a signal some library code swallowed.
        past_limit = interrupted or time.monotonic() - started >= soft_limit
        if past_limit and current_process().name != "MainProcess":
            pool_process_retire(f"the soft time limit interrupted the ingest of {document_id}")


def _ingest(document_id: str, soft_limit: float, *, deadline: float) -> str:
    try:
        document = document_ingest(tenant=connection.tenant, document_id=document_id, deadline=deadline)
        return document.status if document is not None else "deleted"
    except (SoftTimeLimitExceeded, IngestPutOff):
        raise
    except DeadlinePassed:
        return _stopped(document_id, soft_limit)
    except Exception as exc:
        if _caused_by_the_limit(exc):
            raise SoftTimeLimitExceeded() from exc
        logger.exception("ingest failed for %s", document_id)
        _fail(document_id, f"internal error while ingesting: {type(exc).__name__}")
        return "failed"


def _caused_by_the_limit(exc: BaseException) -> bool:
    """Whether the soft time limit's signal is behind `exc`: code it landed in may raise another exception from
    it (Python wraps one raised in a class body's `__set_name__` in a RuntimeError, as in a first torch import)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, SoftTimeLimitExceeded):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def _stopped(document_id: str, soft_limit: float) -> str:
    logger.warning("ingest of %s stopped at its %s s time limit", document_id, soft_limit)
    _fail(document_id, f"ingestion took longer than its {soft_limit} s limit (QUIRE_INGEST_SOFT_TIME_LIMIT)")
    return "failed"


def _own_deadline(soft_limit: float) -> float:
    """Seconds the task gives itself: its checks between pages, blocks and batches stop it a little before
    Celery's soft time limit, whose signal raises wherever the process happens to be."""
    return soft_limit - min(30.0, 0.2 * soft_limit)


def _fail(document_id: str, reason: str) -> None:
    """Mark the document failed; a connection the interruption left unusable is replaced first."""
    if connection.connection is not None and not connection.is_usable():
        connection.close()
    document_fail(document_id=document_id, reason=reason, owner=process_identity())


@shared_task(name=DOCUMENTS_REQUEUE_STUCK_TASK)
def documents_requeue_stuck_task() -> int:
    """Beat: queue ingestion again for documents stuck in parsing or embedding, in every tenant."""
    return sum(for_each_tenant(lambda tenant: documents_requeue_stuck()))


@shared_task(name=DOCUMENTS_ORPHANS_DELETE_TASK)
def documents_orphans_delete_task() -> int:
    """Beat: delete, in every tenant, stored files that no document names (`documents_orphans_delete`)."""
    return sum(for_each_tenant(lambda tenant: documents_orphans_delete(), include_inactive=True))


@shared_task(name=DOCUMENTS_REEMBED_STALE_TASK)
def documents_reembed_stale_task() -> int:
    """Beat: embed again, tenant by tenant, the chunks of ready documents another encoder embedded (stored
    before the chunk encoder's weights or `QUIRE_INGEST_DISTILLED_CHUNKS` changed), within
    `QUIRE_REEMBED_BUDGET_SECONDS` a sweep, so the ingest queue is held briefly; the next sweep goes on. Each
    sweep begins one tenant further along, so one tenant's backlog cannot keep the others waiting."""
    deadline = time.monotonic() + settings.QUIRE_REEMBED_BUDGET_SECONDS
    sweep = int(time.time() // max(1, settings.QUIRE_REEMBED_SWEEP_SECONDS))
    return sum(
        for_each_tenant(
            lambda tenant: documents_reembed_stale(budget_seconds=deadline - time.monotonic()), start=sweep
        )
    )
