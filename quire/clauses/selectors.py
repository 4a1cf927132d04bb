"""Reads over clause types for other apps."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from common.processes import process_gone
from quire.clauses.models import ClauseType, ClauseTypeStatus
from tenants.models import Tenant


def trainings_running_report(*, tenant: Tenant, **signal: object) -> list[str]:
    """`schema_draining`'s receiver: a line for each clause type training of the schema that still holds its
    claim (its heartbeat fresh, its process not known to have ended)."""
    fresh = timezone.now() - timedelta(seconds=settings.QUIRE_JOB_LEASE_SECONDS)
    running = ClauseType.objects.filter(status=ClauseTypeStatus.TRAINING, train_heartbeat_at__gt=fresh)
    return [
        f"training of clause type {pk} ({key}, by {owner or 'an unknown process'}, alive at "
        f"{beat:%Y-%m-%d %H:%M:%S} UTC)"
        for pk, key, owner, beat in running.order_by("pk").values_list(
            "pk", "key", "train_owner", "train_heartbeat_at"
        )
        if not process_gone(owner)
    ]
