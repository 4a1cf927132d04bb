from django.contrib import admin
from django.http import HttpRequest

from tenants.models import ApiKey, Domain, Member, Tenant


class AuditedElsewhereAdmin(admin.ModelAdmin):
    """Shown here, changed only where the change is audited: members in the portal (`quire.portal.services`),
    API keys in the portal and through `/v1/api_keys` (`tenants.services`); a save here would write none."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "schema_name", "public_id", "is_active", "created_at")
    search_fields = ("slug", "name")
    readonly_fields = ("retention_days",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        """A tenant is provisioned whole (schema, host name, owner, first key) by `manage.py create_tenant`."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Tenant | None = None) -> bool:
        """A tenant is removed whole (schema, stored files, Stripe customer, audit log) by `manage.py
        tenant_erase`; deleting the row here left all of those behind."""
        return False


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ("domain", "tenant", "is_primary")


@admin.register(Member)
class MemberAdmin(AuditedElsewhereAdmin):
    list_display = ("user", "tenant", "role", "created_at")
    list_filter = ("role",)


@admin.register(ApiKey)
class ApiKeyAdmin(AuditedElsewhereAdmin):
    list_display = ("id", "tenant", "name", "role", "display_prefix", "last_used_at", "revoked_at")
    readonly_fields = ("secret_hash", "display_prefix", "last_used_at")
