"""Reads of jobs for other apps."""

from __future__ import annotations

from django.utils import timezone

from quire.jobs.models import Job, JobStatus
from tenants.models import Tenant


def running_jobs_report(*, tenant: Tenant, **signal: object) -> list[str]:
    """`schema_draining`'s receiver: a line for each job of the schema whose attempt still holds its lease."""
    running = Job.objects.filter(status=JobStatus.RUNNING, lease_until__gt=timezone.now()).order_by("pk")
    return [
        f"job {pk} ({connector}, attempt {attempt}, leased by {owner or 'an unknown process'} until "
        f"{lease_until:%Y-%m-%d %H:%M:%S} UTC)"
        for pk, connector, attempt, owner, lease_until in running.values_list(
            "pk", "connector", "attempt", "lease_owner", "lease_until"
        )
    ]
