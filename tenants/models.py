from __future__ import annotations

import unicodedata
from functools import partial

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

from tenants.identifiers import new_id


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    DEVELOPER = "developer", "Developer"
    VIEWER = "viewer", "Viewer"


ROLE_RANK = {Role.VIEWER: 0, Role.DEVELOPER: 1, Role.ADMIN: 2, Role.OWNER: 3}
# An API key acts for an integration, never as the workspace's owner.
API_KEY_ROLES = (Role.ADMIN, Role.DEVELOPER, Role.VIEWER)


def role_allows(role: str, required: str) -> bool:
    return ROLE_RANK[Role(role)] >= ROLE_RANK[Role(required)]


def current_api_version() -> str:
    """The newest dated API version (`QUIRE_API_VERSIONS` lists them, oldest first)."""
    return settings.QUIRE_API_VERSIONS[-1]


# The longest retention period: a hundred years, which the sweep's cutoff date can still be computed for.
RETENTION_DAYS_MAX = 36_500


class Tenant(TenantMixin):
    public_id = models.CharField(max_length=40, unique=True, default=partial(new_id, "ten"), editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50, unique=True)
    is_active = models.BooleanField(default=True)
    # Set while the tenant is out of service for an operator's work on its schema (a restore): its API requests
    # and portal answer 503, its workers' tasks wait. Apart from `is_active`, which it leaves as it was.
    maintenance_since = models.DateTimeField(null=True, blank=True, editable=False)
    # Documents, finished jobs and webhook events older than this many days are purged (none: kept).
    retention_days = models.PositiveIntegerField(null=True, blank=True)
    # The languages its documents' scans are read in (Tesseract's codes joined by "+"), among the deployment's
    # QUIRE_INGEST_OCR_LANGUAGES; empty: the deployment's. A document's `metadata.ocr_languages` comes first.
    ocr_languages = models.CharField(max_length=100, blank=True, default="")
    # When its Word documents', workbooks' and decks' pictures are read by OCR (`common.env.OCR_PICTURES`);
    # empty: the deployment's QUIRE_INGEST_OCR_PICTURES. A document's `metadata.ocr_pictures` comes first.
    ocr_pictures = models.CharField(max_length=10, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    # `tenants.services.tenant_create` builds the schema in the tenant's own transaction (`tenants.schemas`).
    auto_create_schema = False
    auto_drop_schema = False

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"


class Domain(DomainMixin):
    pass


class SchemaScript(models.Model):
    """The statements that migrating a fresh tenant schema runs, recorded once per release (`tenants.schemas`)."""

    key = models.CharField(max_length=64, primary_key=True)
    statements = models.JSONField(encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{len(self.statements)} statements ({self.key[:12]})"


def email_normalised(email: str) -> str:
    """An e-mail as a member's username holds it and as sign-in and its limit look it up: NFKC (the form Django
    compares usernames in), trimmed, lower case, so every way of typing one address is one person."""
    return unicodedata.normalize("NFKC", email or "").strip().lower()


class Member(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="unique_member_per_tenant")]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant.slug} as {self.role}"


class ApiKey(models.Model):
    """A tenant's API key. Only the SHA-256 of the secret is stored; the secret is shown once."""

    id = models.CharField(primary_key=True, max_length=40, default=partial(new_id, "key"), editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    role = models.CharField(
        max_length=16,
        choices=[(r.value, r.label) for r in API_KEY_ROLES],
        default=Role.DEVELOPER,
    )
    secret_hash = models.CharField(max_length=64, unique=True)
    display_prefix = models.CharField(max_length=16)
    created_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # The API version current when the key was made: its requests use it unless they send `Quire-Version`.
    version = models.CharField(max_length=10, default=current_api_version)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "created_at"])]

    def __str__(self) -> str:
        return f"{self.id} ({self.name})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.tenant.is_active


class GrantRefresh(models.Model):
    """API-key grants to rewrite in Redis (tenants/keycache.py): one key's, by the hash of its secret (a deleted
    key's too), or all of a tenant's. Written in the transaction of the change, deleted once the rewrite has run,
    so a crash or a Redis outage after the commit leaves a grant stale until beat's next sweep at most."""

    secret_hash = models.CharField(max_length=64, blank=True)
    tenant_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return (
            f"grants of key {self.secret_hash[:12]}…"
            if self.secret_hash
            else f"grants of tenant {self.tenant_id}"
        )


class ActorType(models.TextChoices):
    MEMBER = "member"
    API_KEY = "api_key"
    SYSTEM = "system"
    STAFF = "staff"
    # A request no one is signed in to (a refused sign-in).
    ANONYMOUS = "anonymous"


class AuditEvent(models.Model):
    """Who did what to which object in a tenant, when and from where. Append-only: PostgreSQL refuses every
    UPDATE and every DELETE of a row (migration 0004) except erasing a whole tenant (`tenant_erase`)."""

    id = models.CharField(primary_key=True, max_length=40, default=partial(new_id, "aud"), editable=False)
    tenant = models.ForeignKey(
        Tenant, on_delete=models.DO_NOTHING, db_constraint=False, related_name="audit_events"
    )
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=32)
    object_id = models.CharField(max_length=64, blank=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=255, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "created_at", "id"], name="audit_tenant_created"),
            models.Index(fields=["tenant", "action", "created_at", "id"], name="audit_tenant_action_id"),
            models.Index(fields=["tenant", "object_id", "created_at", "id"], name="audit_tenant_object_id"),
            models.Index(fields=["tenant", "actor_id", "created_at", "id"], name="audit_tenant_actor_id"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.action} {self.object_type} {self.object_id}"
