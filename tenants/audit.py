"""The audit log: `audit_record` writes one `AuditEvent`; who and from where come from the request's
origin, bound once per request (`audit_origin_bind`) by the request middleware (IP, request id), the API
key authentication and the portal's member check (the actor). Outside a request the actor is the system."""

from __future__ import annotations

import csv
import io
import ipaddress
import json
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from tenants.models import ActorType, AuditEvent, Tenant

ACTIONS = (
    "member.sign_in",
    "member.sign_in_refused",
    "member.add",
    "member.role_change",
    "member.remove",
    "api_key.issue",
    "api_key.revoke",
    "api_key.role_change",
    "api_key.version_change",
    "document.create",
    "document.retry",
    "document.delete",
    "job.create",
    "job.cancel",
    "clause_type.create",
    "clause_type.train",
    "clause_type.delete",
    "export.create",
    "webhook_endpoint.create",
    "webhook_endpoint.update",
    "webhook_endpoint.delete",
    "webhook_endpoint.secret_reveal",
    "webhook_endpoint.secret_rotate",
    "billing.plan_change",
    "workspace.update",
    "workspace.domain_change",
    "workspace.retention_change",
    "workspace.ocr_languages_change",
    "workspace.ocr_pictures_change",
    "workspace.erase",
)
CSV_COLUMNS = (
    "id",
    "created_at",
    "action",
    "object_type",
    "object_id",
    "actor_type",
    "actor_id",
    "actor_label",
    "ip",
    "request_id",
    "details",
)


@dataclass(frozen=True)
class AuditOrigin:
    actor_type: str = ActorType.SYSTEM
    actor_id: str = ""
    actor_label: str = ""
    ip: str | None = None
    request_id: str = ""


_SYSTEM = AuditOrigin()
_origin: ContextVar[AuditOrigin | None] = ContextVar("audit_origin", default=None)


def audit_origin_reset(*, ip: str | None = None, request_id: str = "") -> None:
    """Start a request: no actor yet (the system), the caller's address (None unless it is an IP address,
    as behind a Unix socket) and the request id."""
    try:
        address = str(ipaddress.ip_address((ip or "").split("%")[0]))
    except ValueError:
        address = None
    _origin.set(AuditOrigin(ip=address, request_id=request_id))


def audit_origin_clear() -> None:
    """End a request: what runs next in this thread acts as the system until another request names its actor."""
    _origin.set(None)


def audit_origin_bind(*, actor_type: str, actor_id: str, actor_label: str = "") -> None:
    """Name who acts for the rest of the request: an API key (its id and role) or a member (e-mail and role)."""
    _origin.set(replace(audit_origin(), actor_type=actor_type, actor_id=actor_id, actor_label=actor_label))


def audit_origin() -> AuditOrigin:
    return _origin.get() or _SYSTEM


def audit_record(
    *,
    action: str,
    object_type: str,
    object_id: str = "",
    tenant: Tenant | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the tenant's audit log (`tenant`, else the tenant whose schema is active).
    Called by the service that does the change, inside its transaction where it has one."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    tenant = tenant if tenant is not None else connection.tenant
    origin = audit_origin()
    return AuditEvent.objects.create(
        tenant_id=tenant.pk,
        action=action,
        object_type=object_type,
        object_id=str(object_id)[:64],
        actor_type=origin.actor_type,
        actor_id=origin.actor_id[:64],
        actor_label=origin.actor_label[:255],
        ip=origin.ip,
        request_id=origin.request_id[:128],
        details=dict(details or {}),
    )


def export_record(
    *, tenant: Tenant, what: str, object_id: str = "", export_format: str, rows: int | None = None
) -> None:
    """Record that someone exported `what` (`job_result`, `audit_events`, ...) of the tenant as
    `export_format`; export features call it as they hand the file out."""
    details = {"what": what, "format": export_format}
    if rows is not None:
        details["rows"] = rows
    audit_record(
        tenant=tenant, action="export.create", object_type=what, object_id=object_id, details=details
    )


def _cell(value: object) -> object:
    """A value a spreadsheet will not read as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def audit_events_csv(events: QuerySet[AuditEvent] | Iterable[AuditEvent]) -> Iterator[str]:
    """The events as CSV lines (a header, then one line each), for a streaming response."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: Iterable[object]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_cell(value) for value in values])
        return buffer.getvalue()

    yield line(CSV_COLUMNS)
    rows = events.iterator(chunk_size=500) if isinstance(events, QuerySet) else events
    for event in rows:
        yield line(
            [
                event.id,
                event.created_at.isoformat(),
                event.action,
                event.object_type,
                event.object_id,
                event.actor_type,
                event.actor_id,
                event.actor_label,
                event.ip or "",
                event.request_id,
                json.dumps(event.details, sort_keys=True) if event.details else "",
            ]
        )
