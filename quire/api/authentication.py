"""`Authorization: Bearer qk_live_...` resolves the tenant: the connection switches to its schema.

The key is looked up in the grant cache (tenants/keycache.py: this process's copy for at most 0.5 s, then
Redis, then the database), so an authenticated request usually costs no query and no round trip here."""

from __future__ import annotations

from django.db import connection
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from common.refusals import ErrorCode, Refusal
from quire.logging import bind_tenant
from tenants.audit import audit_origin_bind
from tenants.identifiers import API_KEY_PREFIX
from tenants.keycache import ApiKeyGrant
from tenants.models import ActorType, Tenant
from tenants.services import api_key_authenticate

MAINTENANCE_MESSAGE = (
    "This workspace is in maintenance (its data is being restored); retry after the Retry-After seconds."
)


class ApiPrincipal:
    """The caller behind an API key; stands in for `request.user` under /v1."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, grant: ApiKeyGrant, tenant: Tenant):
        self.grant, self.tenant = grant, tenant

    @property
    def key_id(self) -> str:
        return self.grant.key_id

    @property
    def role(self) -> str:
        return self.grant.role


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiPrincipal, ApiKeyGrant] | None:
        header = request.headers.get("Authorization", "")
        if not header:
            return None
        scheme, _, secret = header.partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret.startswith(API_KEY_PREFIX):
            raise exceptions.AuthenticationFailed("Use `Authorization: Bearer qk_live_...` with an API key.")
        grant = api_key_authenticate(secret=secret)
        if grant is None:
            raise exceptions.AuthenticationFailed("This API key is invalid or has been revoked.")
        if grant.tenant_maintenance:
            raise Refusal(ErrorCode.WORKSPACE_MAINTENANCE, MAINTENANCE_MESSAGE)
        tenant = grant.tenant
        connection.set_tenant(tenant)
        request._request.tenant = tenant
        if not getattr(request._request, "quire_version_requested", None):
            request._request.quire_version = grant.version
        bind_tenant(grant.tenant_slug)
        audit_origin_bind(actor_type=ActorType.API_KEY, actor_id=grant.key_id, actor_label=grant.role)
        return ApiPrincipal(grant, tenant), grant

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="quire"'
