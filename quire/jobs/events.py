"""The webhook events jobs publish, called inside the transaction that finishes or cancels the job (and, for
the usage it records, `usage.threshold`)."""

from __future__ import annotations

import json

from django.conf import settings
from rest_framework.fields import DateTimeField

from billing.models import UsageThreshold
from quire.jobs.models import Job, JobResult
from quire.jobs.serializers import JobResultSerializer, JobSerializer
from quire.webhooks.models import Event
from quire.webhooks.services import event_publish


def _link(path: str) -> str:
    return settings.QUIRE_WEBHOOKS_LINK_BASE_URL.rstrip("/") + path


def job_canceled(*, job: Job) -> Event:
    """`job.canceled`, with the job as `GET /v1/jobs/{id}` returns it."""
    return event_publish(event_type="job.canceled", data=dict(JobSerializer(job).data))


def job_finished(*, job: Job, result: JobResult | None = None, usage: dict[str, int] | None = None) -> Event:
    """`job.succeeded` with the verified result inline (a link to it when the result is above
    QUIRE_WEBHOOKS_MAX_PAYLOAD_BYTES) and the `usage` the ledger metered for it (as `expand[]=usage` gives it),
    or `job.failed` with the error."""
    data = dict(JobSerializer(job).data)
    if result is None:
        return event_publish(event_type="job.failed", data=data)
    data["usage"] = usage or {}
    data["result_url"] = _link(f"/v1/jobs/{job.id}/result")
    inline = dict(JobResultSerializer(result).data)
    size = len(json.dumps(inline, separators=(",", ":"), default=str).encode())
    if size <= settings.QUIRE_WEBHOOKS_MAX_PAYLOAD_BYTES:
        data["result"] = inline
    else:
        data["result"], data["result_omitted_bytes"] = None, size
    return event_publish(event_type="job.succeeded", data=data)


def usage_thresholds_reached(*, thresholds: list[UsageThreshold]) -> list[Event]:
    """One `usage.threshold` per share of the plan's included pages the period's usage reached
    (`billing.services.usage_thresholds_record`), in the transaction that recorded the usage."""
    moment = DateTimeField()
    return [
        event_publish(
            event_type="usage.threshold",
            data={
                "object": "usage_threshold",
                "metric": t.kind,
                "percent": t.percent,
                "used": t.used,
                "included": t.included,
                "plan": t.plan_code,
                "period_start": moment.to_representation(t.period_start),
                "period_end": moment.to_representation(t.period_end),
            },
        )
        for t in thresholds
    ]
