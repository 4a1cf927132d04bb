import logging
import time

from celery import shared_task
from django.conf import settings
from django.db import connection

from quire.clauses.services import (
    CLAUSE_TYPE_TRAIN_TASK,
    TrainingPutOff,
    clause_type_fail_unexpectedly,
    clause_type_seen,
    clause_type_train,
    clause_types_requeue,
)
from tenants.services import for_each_tenant

logger = logging.getLogger(__name__)
CLAUSE_TYPES_REQUEUE_TASK = "quire.clauses.clause_types_requeue_task"


@shared_task(
    bind=True,
    name=CLAUSE_TYPE_TRAIN_TASK,
    soft_time_limit=settings.QUIRE_CLAUSE_TRAIN_SOFT_TIME_LIMIT,
    time_limit=settings.QUIRE_CLAUSE_TRAIN_TIME_LIMIT,
)
def clause_type_train_task(self, clause_type_id: str, version: int | None = None) -> str:
    """Train the clause type's current version, stopping a little before the task's soft time limit (the
    type fails with the reason); a training its tenant's maintenance stopped is retried after
    QUIRE_MAINTENANCE_RETRY_SECONDS. `version` is read from messages queued before trainings were queued by id
    alone, and ignored."""
    soft_limit = (self.request.timelimit or (None, None))[1] or self.soft_time_limit
    deadline = time.monotonic() + soft_limit - min(30.0, 0.2 * soft_limit)
    try:
        clause_type_seen(clause_type_id=clause_type_id)
        trained = clause_type_train(
            tenant=connection.tenant, clause_type_id=clause_type_id, deadline=deadline
        )
    except TrainingPutOff:
        raise self.retry(countdown=settings.QUIRE_MAINTENANCE_RETRY_SECONDS) from None
    except Exception as exc:
        logger.exception("training clause type %s failed", clause_type_id)
        clause_type_fail_unexpectedly(clause_type_id=clause_type_id, exc=exc)
        return "failed"
    return "superseded" if trained is None else trained.status


@shared_task(name=CLAUSE_TYPES_REQUEUE_TASK)
def clause_types_requeue_task() -> int:
    """Beat: queue the trainings the broker could not take, those whose message was lost and those whose
    worker died, in every tenant."""
    return sum(for_each_tenant(lambda tenant: clause_types_requeue()))
