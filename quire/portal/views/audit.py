"""The audit log: who did what, when and from where, newest first, filtered by action; admins and owners
read it and download it as CSV (the download is itself recorded), and set the workspace's retention
period, the languages its scans are read in and when its Office documents' pictures are read."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe

from quire.portal.access import portal_page
from quire.portal.forms import RetentionForm, ScansForm
from quire.portal.views.common import listed, page
from tenants.audit import ACTIONS, audit_events_csv, export_record
from tenants.models import AuditEvent, Role
from tenants.services import tenant_settings_update

PAGE_SIZE = 50


def _events(request: HttpRequest):
    events = AuditEvent.objects.filter(tenant_id=request.tenant.pk)
    action = request.GET.get("action", "")
    return (events.filter(action=action) if action in ACTIONS else events), action


@require_http_methods(["GET", "HEAD", "POST"])
@portal_page(read=Role.ADMIN, write=Role.ADMIN)
def audit_list(request: HttpRequest) -> HttpResponse:
    """The log, and (POST) the workspace's retention period: a refused one is shown on its field, as typed."""
    if request.method != "POST":
        return _audit_page(request)
    form = RetentionForm(request.POST)
    if not form.is_valid():
        return _audit_page(request, retention=form)
    days = form.cleaned_data["days"]
    tenant_settings_update(tenant=request.tenant, retention_days=days)
    messages.success(request, f"Data is kept {days} days." if days else "Data is kept until deleted.")
    return redirect("portal:audit")


@require_http_methods(["POST"])
@portal_page(read=Role.ADMIN, write=Role.ADMIN)
def scans_set(request: HttpRequest) -> HttpResponse:
    """How the workspace's scans and pictures are read: a refused value is shown on its field, as typed."""
    form = ScansForm(request.POST)
    if not form.is_valid():
        return _audit_page(request, scans=form)
    languages, pictures = form.cleaned_data["languages"], form.cleaned_data["pictures"]
    tenant_settings_update(tenant=request.tenant, ocr_languages=languages, ocr_pictures=pictures)
    shown = languages.replace("+", ", ") if languages else "the deployment's languages"
    messages.success(request, f"Scans are read in {shown}.")
    return redirect("portal:audit")


def _audit_page(
    request: HttpRequest, *, retention: RetentionForm | None = None, scans: ScansForm | None = None
) -> HttpResponse:
    retention = retention or RetentionForm(initial={"days": request.tenant.retention_days})
    tenant = request.tenant
    scans = scans or ScansForm(initial={"languages": tenant.ocr_languages, "pictures": tenant.ocr_pictures})
    events, action = _events(request)
    shown = listed(request, events.order_by("-created_at", "-pk"), PAGE_SIZE, action=action)
    context = {
        **shown,
        "actions": ACTIONS,
        "action": action,
        "retention": retention,
        "scans": scans,
        # A refused form is shown at its own address (POST only), so the pages link to the log's.
        "pager_path": reverse("portal:audit"),
    }
    return page(
        request, "portal/audit.html", context, status=400 if retention.errors or scans.errors else 200
    )


@require_safe
@portal_page(read=Role.ADMIN)
def audit_csv(request: HttpRequest) -> StreamingHttpResponse:
    events, _ = _events(request)
    events = events.order_by("created_at", "pk")
    export_record(tenant=request.tenant, what="audit_events", export_format="csv", rows=events.count())
    response = StreamingHttpResponse(audit_events_csv(events), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit_events.csv"'
    return response
