from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms import ModelForm
from django.http import HttpRequest

from tenants.audit import audit_origin_bind
from tenants.models import ActorType, ApiKey, Domain, Member, Tenant
from tenants.services import (
    WORKSPACE_FIELDS,
    domain_delete,
    domain_save,
    host_name_normalised,
    tenant_slug_checked,
    tenant_update,
)


def _staff_acts(request: HttpRequest) -> None:
    """The audit events the change records name the staff user who made it."""
    audit_origin_bind(actor_type=ActorType.STAFF, actor_id=request.user.get_username())


class AuditedElsewhereAdmin(admin.ModelAdmin):
    """Shown here, changed only where the change is audited: members in the portal (`quire.portal.services`),
    API keys in the portal and through `/v1/api_keys` (`tenants.services`); a save here would write none."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False


class TenantForm(ModelForm):
    def clean_slug(self) -> str:
        if "slug" not in self.changed_data:
            return self.cleaned_data["slug"]
        try:
            return tenant_slug_checked(self.cleaned_data["slug"])
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    form = TenantForm
    list_display = (
        "slug",
        "name",
        "schema_name",
        "public_id",
        "is_active",
        "maintenance_since",
        "created_at",
    )
    search_fields = ("slug", "name")
    fields = (
        *WORKSPACE_FIELDS,
        "schema_name",
        "public_id",
        "retention_days",
        "ocr_languages",
        "maintenance_since",
        "created_at",
    )
    readonly_fields = (
        "schema_name",
        "public_id",
        "retention_days",
        "ocr_languages",
        "maintenance_since",
        "created_at",
    )

    def save_model(self, request: HttpRequest, obj: Tenant, form: ModelForm, change: bool) -> None:
        """Through `tenant_update`, which records the change; the schema and public id are never changed."""
        _staff_acts(request)
        tenant_update(
            tenant=Tenant.objects.get(pk=obj.pk), **{f: form.cleaned_data[f] for f in form.changed_data}
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        """A tenant is provisioned whole (schema, host name, owner, first key) by `manage.py create_tenant`."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Tenant | None = None) -> bool:
        """A tenant is removed whole (schema, stored files, Stripe customer, audit log) by `manage.py
        tenant_erase`; deleting the row here left all of those behind."""
        return False


class DomainForm(ModelForm):
    class Meta:
        model = Domain
        fields = ("domain", "tenant", "is_primary")

    def clean_domain(self) -> str:
        """As routing looks host names up: lower case, so one name in other capitals is the same one."""
        return host_name_normalised(self.cleaned_data["domain"])


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    form = DomainForm
    list_display = ("domain", "tenant", "is_primary")

    def save_model(self, request: HttpRequest, obj: Domain, form: ModelForm, change: bool) -> None:
        _staff_acts(request)
        domain_save(domain=obj)

    def delete_model(self, request: HttpRequest, obj: Domain) -> None:
        _staff_acts(request)
        domain_delete(domain=obj)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        _staff_acts(request)
        for domain in queryset:
            domain_delete(domain=domain)


@admin.register(Member)
class MemberAdmin(AuditedElsewhereAdmin):
    list_display = ("user", "tenant", "role", "created_at")
    list_filter = ("role",)


@admin.register(ApiKey)
class ApiKeyAdmin(AuditedElsewhereAdmin):
    list_display = ("id", "tenant", "name", "role", "display_prefix", "last_used_at", "revoked_at")
    readonly_fields = ("secret_hash", "display_prefix", "last_used_at")
