"""`Authorization: Bearer qk_live_...` resolves the tenant: the connection switches to its schema."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from quire.logging import bind_tenant
from tenants.identifiers import API_KEY_PREFIX
from tenants.models import ApiKey, Tenant
from tenants.services import api_key_authenticate


@dataclass(frozen=True)
class ApiPrincipal:
    """The caller behind an API key; stands in for `request.user` under /v1."""

    api_key: ApiKey

    @property
    def tenant(self) -> Tenant:
        return self.api_key.tenant

    @property
    def role(self) -> str:
        return self.api_key.role

    is_authenticated = True
    is_anonymous = False


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiPrincipal, ApiKey] | None:
        header = request.headers.get("Authorization", "")
        if not header:
            return None
        scheme, _, secret = header.partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret.startswith(API_KEY_PREFIX):
            raise exceptions.AuthenticationFailed("Use `Authorization: Bearer qk_live_...` with an API key.")
        api_key = api_key_authenticate(secret=secret)
        if api_key is None:
            raise exceptions.AuthenticationFailed("This API key is invalid or has been revoked.")
        connection.set_tenant(api_key.tenant)
        request._request.tenant = api_key.tenant
        bind_tenant(api_key.tenant.slug)
        return ApiPrincipal(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="quire"'
