import logging

from celery import shared_task

from quire.clauses.services import CLAUSE_TYPE_TRAIN_TASK, clause_type_fail_unexpectedly, clause_type_train

logger = logging.getLogger(__name__)


@shared_task(name=CLAUSE_TYPE_TRAIN_TASK)
def clause_type_train_task(clause_type_id: str, version: int) -> str:
    try:
        trained = clause_type_train(clause_type_id=clause_type_id, version=version)
    except Exception as exc:
        logger.exception("training clause type %s failed", clause_type_id)
        clause_type_fail_unexpectedly(clause_type_id=clause_type_id, version=version, exc=exc)
        return "failed"
    return "superseded" if trained is None else trained.status
