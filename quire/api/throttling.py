from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.throttling import SimpleRateThrottle

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Requests per API key, counted in Redis (the default cache)."""

    scope = "api_key"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        principal = request.user
        if principal is None or not getattr(principal, "is_authenticated", False):
            return None
        return f"throttle:{self.scope}:{principal.api_key.pk}"
