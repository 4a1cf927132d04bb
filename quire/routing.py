"""Per-request tenant routing: which schema a request starts in.

`/v1` requests start in the public schema; API-key authentication switches to the key's tenant.
The liveness probe and static files touch no database, the readiness probe only its own check; `/metrics` reads every tenant's schema from the public one. Other requests (portal, admin) are routed by hostname through `Domain`; an unknown host stays public, and
a tenant's host answers a 503 page while the tenant is in maintenance.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse

from quire.api.errors import unavailable_response
from quire.logging import bind_tenant
from tenants.models import Domain

MAINTENANCE_PAGE = "This workspace is in maintenance while its data is restored; try again in a few minutes."
UNROUTED_PREFIXES = ("/v1/", "/healthz", "/readyz", "/metrics", "/static/")


class TenantRoutingMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        connection.set_schema_to_public()
        request.tenant = None
        if not request.path.startswith(UNROUTED_PREFIXES):
            hostname = request.get_host().split(":")[0].lower()
            domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
            if domain is not None and domain.tenant.is_active:
                if domain.tenant.maintenance_since is not None:
                    return unavailable_response(
                        request,
                        message=MAINTENANCE_PAGE,
                        retry_after=settings.QUIRE_MAINTENANCE_RETRY_SECONDS,
                    )
                connection.set_tenant(domain.tenant)
                request.tenant = domain.tenant
                bind_tenant(domain.tenant.slug)
        try:
            return self.get_response(request)
        finally:
            connection.set_schema_to_public()
