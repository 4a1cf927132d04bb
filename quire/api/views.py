from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView, ListAPIView, ListCreateAPIView, RetrieveDestroyAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from quire.api.errors import error_body
from quire.api.health import check_dependencies, public_checks
from quire.api.idempotency import idempotent
from quire.api.lookups import FoundDetail
from quire.api.pagination import CREATED_BOUNDS, ListFilter
from quire.api.serializers import (
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    ApiKeyUpdateSerializer,
    AuditEventSerializer,
    HealthSerializer,
    IssuedApiKeySerializer,
    WorkspaceSerializer,
    WorkspaceUpdateSerializer,
)
from tenants.audit import ACTIONS, audit_events_csv, export_record
from tenants.models import ActorType, ApiKey, AuditEvent, Role, Tenant
from tenants.services import api_key_issue, api_key_revoke, api_key_update, tenant_settings_update

logger = logging.getLogger(__name__)


def liveness(request: HttpRequest) -> JsonResponse:
    """Unauthenticated liveness probe: the process answers. No dependency is touched."""
    return JsonResponse({"status": "ok"})


def readiness(request: HttpRequest) -> JsonResponse:
    """Unauthenticated readiness probe: `SELECT 1` on the database and a PING to Redis and the broker. A 503
    names the dependencies that did not answer, without their errors (addresses), which only the log gets."""
    checks = public_checks(check_dependencies())
    failing = [name for name, result in checks.items() if not result["ok"]]
    states = {name: "unavailable" if name in failing else "ok" for name in checks}
    if failing:
        logger.warning("not ready: %s", ", ".join(failing))
        return JsonResponse({"status": "unavailable", "failing": failing, "checks": states}, status=503)
    return JsonResponse({"status": "ok", "checks": states})


class HealthView(APIView):
    @extend_schema(operation_id="health", responses={200: HealthSerializer, 503: dict})
    def get(self, request: Request) -> Response:
        checks = public_checks(check_dependencies())
        failing = [name for name, result in checks.items() if not result["ok"]]
        if failing:
            body = error_body(503, "dependency_unavailable", f"Unavailable: {', '.join(failing)}.")
            return Response(
                {**body, "checks": checks},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
                headers={"Retry-After": str(settings.QUIRE_RETRY_AFTER_SECONDS)},
            )
        return Response({"status": "ok", "tenant": request.user.tenant.public_id, "checks": checks})


class ApiKeyListCreateView(ListCreateAPIView):
    required_roles = {"GET": Role.ADMIN, "POST": Role.ADMIN}
    serializer_class = ApiKeySerializer

    def get_queryset(self):
        return ApiKey.objects.filter(tenant=self.request.user.tenant)

    @extend_schema(request=ApiKeyCreateSerializer, responses={201: IssuedApiKeySerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        payload = ApiKeyCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        issued = api_key_issue(tenant=request.user.tenant, **payload.validated_data)
        issued.api_key.secret = issued.secret
        return Response(IssuedApiKeySerializer(issued.api_key).data, status=status.HTTP_201_CREATED)


REVOKED_KEYS_KEPT = "2026-12-08"
"""The API version from which a revoked key's role or version is not changed (409 `api_key_revoked`)."""


class ApiKeyDetailView(FoundDetail, RetrieveDestroyAPIView):
    required_roles = {"GET": Role.ADMIN, "POST": Role.ADMIN, "DELETE": Role.ADMIN}
    serializer_class = ApiKeySerializer
    lookup_url_kwarg = "key_id"
    noun = "API key"

    def get_queryset(self):
        return ApiKey.objects.filter(tenant=self.request.user.tenant)

    @extend_schema(
        operation_id="api_keys_update",
        request=ApiKeyUpdateSerializer,
        responses={200: ApiKeySerializer},
        description="Change a key's role, or the API version its requests use (move an integration to a newer "
        "version once it reads the newer answers, or back).",
    )
    @idempotent
    def post(self, request: Request, key_id: str) -> Response:
        api_key = self.get_object()
        payload = ApiKeyUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        refuse_revoked = request.quire_version >= REVOKED_KEYS_KEPT
        api_key = api_key_update(api_key=api_key, **payload.validated_data, refuse_revoked=refuse_revoked)
        return Response(ApiKeySerializer(api_key).data)

    @extend_schema(responses={200: ApiKeySerializer})
    @idempotent
    def delete(self, request: Request, key_id: str) -> Response:
        api_key = api_key_revoke(api_key=self.get_object())
        return Response(ApiKeySerializer(api_key).data)


class WorkspaceView(APIView):
    """The key's workspace and its settings: any key reads them, admin keys change them."""

    required_roles = {"POST": Role.ADMIN}

    @extend_schema(operation_id="workspace_retrieve", responses={200: WorkspaceSerializer})
    def get(self, request: Request) -> Response:
        return Response(WorkspaceSerializer(self._tenant(request)).data)

    @extend_schema(
        operation_id="workspace_update",
        request=WorkspaceUpdateSerializer,
        responses={200: WorkspaceSerializer},
        description="Change the retention period or the languages scans are read in; a field left out stays as "
        "it is, and a refused one changes nothing. Each change is in the audit log.",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        payload = WorkspaceUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        tenant = tenant_settings_update(tenant=self._tenant(request), **payload.validated_data)
        return Response(WorkspaceSerializer(tenant).data)

    @staticmethod
    def _tenant(request: Request) -> Tenant:
        return Tenant.objects.get(pk=request.user.tenant.pk)


class AuditEvents:
    """The tenant's audit events with the list filters; admin keys only."""

    required_roles = {"GET": Role.ADMIN}
    serializer_class = AuditEventSerializer
    filter_backends = [ListFilter]
    list_filters = {"action": ACTIONS, "actor_type": ActorType.values}
    exact_filters = ("actor_id", "object_type", "object_id")
    filter_metadata = False

    def get_queryset(self):
        return AuditEvent.objects.filter(tenant_id=self.request.user.tenant.pk)


class AuditEventListView(AuditEvents, ListAPIView):
    """The tenant's audit log, newest first."""


class AuditEventExportView(AuditEvents, GenericAPIView):
    """The audit log as CSV, oldest first, with the list's filters."""

    @extend_schema(
        operation_id="audit_events_export",
        parameters=[
            OpenApiParameter("action", OpenApiTypes.STR, enum=ACTIONS),
            OpenApiParameter("actor_type", OpenApiTypes.STR, enum=ActorType.values),
            *(OpenApiParameter(name, OpenApiTypes.STR) for name in AuditEvents.exact_filters),
            *(OpenApiParameter(f"created[{bound}]", OpenApiTypes.STR) for bound in CREATED_BOUNDS),
        ],
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        events = self.filter_queryset(self.get_queryset()).order_by("created_at", "pk")
        export_record(
            tenant=request.user.tenant, what="audit_events", export_format="csv", rows=events.count()
        )
        response = StreamingHttpResponse(audit_events_csv(events), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="audit_events.csv"'
        return response
