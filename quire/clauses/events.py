"""The webhook events custom clause types publish, called inside the transaction that ends a training."""

from __future__ import annotations

from quire.clauses.models import ClauseType, ClauseTypeStatus
from quire.clauses.serializers import ClauseTypeSerializer
from quire.webhooks.models import Event
from quire.webhooks.services import event_publish


def clause_type_trained(*, clause_type: ClauseType) -> Event:
    """`clause_type.ready` with the clause type as the API returns it (metrics, advice, near misses), or
    `clause_type.failed` with its `failure_reason`."""
    ready = clause_type.status == ClauseTypeStatus.READY
    return event_publish(
        event_type="clause_type.ready" if ready else "clause_type.failed",
        data=dict(ClauseTypeSerializer(clause_type).data),
    )
