from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerSplitView

from quire.api import errors
from quire.api.billing import (
    CheckoutSessionView,
    PortalSessionView,
    UpcomingInvoiceView,
    UsageView,
    stripe_webhook,
)
from quire.api.provenance import ModelDetailView, ModelListView
from quire.api.views import (
    ApiKeyDetailView,
    ApiKeyListCreateView,
    AuditEventExportView,
    AuditEventListView,
    HealthView,
    WorkspaceView,
    liveness,
    readiness,
)
from quire.clauses.views import ClauseTypeDetailView, ClauseTypeExamplesView, ClauseTypeListCreateView
from quire.documents.views import (
    DocumentContentView,
    DocumentDetailView,
    DocumentListCreateView,
    DocumentPageImageView,
    DocumentTablesView,
    DocumentTextView,
    SearchView,
)
from quire.jobs.views import (
    ClauseTypePassagesToCheckView,
    JobCancelView,
    JobCellCorrectionView,
    JobDetailView,
    JobListCreateView,
    JobResultCsvView,
    JobResultView,
    JobResultXlsxView,
)
from quire.portal.forms import AdminSignInForm
from quire.webhooks import views as webhooks

v1 = [
    path("v1/health", HealthView.as_view(), name="health"),
    path("v1/api_keys", ApiKeyListCreateView.as_view(), name="api-keys"),
    path("v1/api_keys/<str:key_id>", ApiKeyDetailView.as_view(), name="api-key"),
    path("v1/workspace", WorkspaceView.as_view(), name="workspace"),
    path("v1/audit_events", AuditEventListView.as_view(), name="audit-events"),
    path("v1/audit_events/export", AuditEventExportView.as_view(), name="audit-events-export"),
    path("v1/documents", DocumentListCreateView.as_view(), name="documents"),
    path("v1/documents/<str:document_id>", DocumentDetailView.as_view(), name="document"),
    path("v1/documents/<str:document_id>/text", DocumentTextView.as_view(), name="document-text"),
    path("v1/documents/<str:document_id>/tables", DocumentTablesView.as_view(), name="document-tables"),
    path("v1/documents/<str:document_id>/content", DocumentContentView.as_view(), name="document-content"),
    path(
        "v1/documents/<str:document_id>/pages/<int:page>",
        DocumentPageImageView.as_view(),
        name="document-page-image",
    ),
    path("v1/search", SearchView.as_view(), name="search"),
    path("v1/jobs", JobListCreateView.as_view(), name="jobs"),
    path("v1/jobs/<str:job_id>", JobDetailView.as_view(), name="job"),
    path("v1/jobs/<str:job_id>/cancel", JobCancelView.as_view(), name="job-cancel"),
    path("v1/jobs/<str:job_id>/result", JobResultView.as_view(), name="job-result"),
    path("v1/jobs/<str:job_id>/result.csv", JobResultCsvView.as_view(), name="job-result-csv"),
    path("v1/jobs/<str:job_id>/result.xlsx", JobResultXlsxView.as_view(), name="job-result-xlsx"),
    path("v1/jobs/<str:job_id>/cells", JobCellCorrectionView.as_view(), name="job-cells"),
    path("v1/clause_types", ClauseTypeListCreateView.as_view(), name="clause-types"),
    path("v1/clause_types/<str:clause_type_id>", ClauseTypeDetailView.as_view(), name="clause-type"),
    path(
        "v1/clause_types/<str:clause_type_id>/passages_to_check",
        ClauseTypePassagesToCheckView.as_view(),
        name="clause-type-passages-to-check",
    ),
    path(
        "v1/clause_types/<str:clause_type_id>/examples",
        ClauseTypeExamplesView.as_view(),
        name="clause-type-examples",
    ),
    path("v1/webhook_endpoints", webhooks.EndpointListCreateView.as_view(), name="webhook-endpoints"),
    path(
        "v1/webhook_endpoints/<str:endpoint_id>",
        webhooks.EndpointDetailView.as_view(),
        name="webhook-endpoint",
    ),
    path(
        "v1/webhook_endpoints/<str:endpoint_id>/rotate_secret",
        webhooks.EndpointRotateSecretView.as_view(),
        name="webhook-endpoint-rotate-secret",
    ),
    path(
        "v1/webhook_endpoints/<str:endpoint_id>/test",
        webhooks.EndpointTestView.as_view(),
        name="webhook-test",
    ),
    path(
        "v1/webhook_endpoints/<str:endpoint_id>/deliveries",
        webhooks.EndpointDeliveriesView.as_view(),
        name="webhook-endpoint-deliveries",
    ),
    path("v1/events", webhooks.EventListView.as_view(), name="events"),
    path("v1/events/<str:event_id>", webhooks.EventDetailView.as_view(), name="event"),
    path(
        "v1/events/<str:event_id>/deliveries", webhooks.EventDeliveriesView.as_view(), name="event-deliveries"
    ),
    path("v1/events/<str:event_id>/replay", webhooks.EventReplayView.as_view(), name="event-replay"),
    path("v1/models", ModelListView.as_view(), name="models"),
    path("v1/models/<str:model_id>", ModelDetailView.as_view(), name="model"),
    path("v1/usage", UsageView.as_view(), name="usage"),
    path("v1/billing/upcoming", UpcomingInvoiceView.as_view(), name="billing-upcoming"),
    path("v1/billing/checkout_sessions", CheckoutSessionView.as_view(), name="billing-checkout"),
    path("v1/billing/portal_sessions", PortalSessionView.as_view(), name="billing-portal"),
    path(
        "v1/openapi.json",
        SpectacularJSONAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="openapi",
    ),
    path(
        "v1/docs",
        SpectacularSwaggerSplitView.as_view(
            url_name="openapi", authentication_classes=[], permission_classes=[]
        ),
        name="api-docs",
    ),
]

urlpatterns = [
    *v1,
    re_path(r"^v1/", errors.json_not_found),
    path("healthz", liveness, name="liveness"),
    path("readyz", readiness, name="readiness"),
    path("billing/stripe/webhook", stripe_webhook, name="stripe-webhook"),
    *([path("admin/", admin.site.urls)] if settings.QUIRE_ADMIN_ENABLED else []),
    path("", include("quire.portal.urls")),
]
admin.site.login_form = AdminSignInForm

handler400 = errors.bad_request
handler403 = errors.json_forbidden
handler404 = "quire.portal.views.errors.not_found"
handler500 = errors.json_server_error
