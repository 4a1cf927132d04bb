from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import permissions

from tenants.models import Role, role_allows

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class ApiKeyRolePermission(permissions.BasePermission):
    """Reads need a viewer key, writes a developer key; a view may ask more with `required_roles`. HEAD needs
    what GET needs: Django answers it with the view's `get`."""

    message = "This API key's role does not allow this action."

    def has_permission(self, request: Request, view: APIView) -> bool:
        principal = request.user
        if principal is None or not getattr(principal, "is_authenticated", False):
            return False
        default = Role.VIEWER if request.method in permissions.SAFE_METHODS else Role.DEVELOPER
        method = "GET" if request.method == "HEAD" else request.method
        required = getattr(view, "required_roles", {}).get(method, default)
        return role_allows(principal.role, required)
