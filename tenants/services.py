"""Writes for tenants, members and API keys. Views and commands call these; they hold the rules."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from common.env import ocr_languages_refused, ocr_pictures_refused
from common.refusals import ErrorCode, Refusal
from tenants.audit import audit_record
from tenants.identifiers import hash_secret, new_api_key_secret
from tenants.keycache import ApiKeyGrant, grant_tombstone, grants_refresh_later, local_grants
from tenants.models import (
    API_KEY_ROLES,
    RETENTION_DAYS_MAX,
    ApiKey,
    AuditEvent,
    Domain,
    Member,
    Role,
    Tenant,
    email_normalised,
)
from tenants.schemas import schema_build

T = TypeVar("T")

# Keys not revoked, per workspace: each is a credential to rotate and audit; an integration needs a handful.
MAX_ACTIVE_API_KEYS = 100
logger = logging.getLogger(__name__)
# `last_used_at` is written at most this often per key.
LAST_USED_SECONDS = 60
SLUG_MAX_LENGTH = 41
_SLUG_RE = re.compile(rf"^[a-z][a-z0-9-]{{1,{SLUG_MAX_LENGTH - 1}}}$")


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    secret: str


def slug_from_name(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if not slug or not slug[0].isalpha():
        slug = f"t-{slug}"
    return slug[:SLUG_MAX_LENGTH].rstrip("-")


def tenant_slug_checked(slug: str) -> str:
    """`slug` when it is a valid tenant slug, else a ValueError saying what one is."""
    if not _SLUG_RE.match(slug):
        raise ValueError(
            f"invalid tenant slug {slug!r}: a lowercase letter, then lowercase letters, digits and '-', "
            f"2-{SLUG_MAX_LENGTH} characters"
        )
    return slug


def tenant_create(*, name: str, slug: str | None = None, domains: list[str] | None = None) -> Tenant:
    """Create the tenant, its host names and its schema with every tenant migration applied, all or nothing, and
    make sure pgvector is enabled. A name, slug or host name that cannot be stored or is taken (another tenant's
    custom host name) is a ValueError saying so, before anything is made."""
    name = name.strip()
    if not name:
        raise ValueError("tenant name must not be empty")
    longest = Tenant._meta.get_field("name").max_length
    if len(name) > longest:
        raise ValueError(f"a tenant name is at most {longest} characters, not {len(name)}")
    if "\x00" in name:
        raise ValueError("a tenant name cannot hold a NUL character")
    slug = tenant_slug_checked(slug or slug_from_name(name))
    if Tenant.objects.filter(slug=slug).exists():
        raise ValueError(f"a tenant with slug {slug!r} already exists")
    schema_name = "t_" + slug.replace("-", "_")
    holder = Tenant.objects.filter(schema_name__iexact=schema_name).first()
    if holder is not None:
        raise ValueError(
            f"the slug {slug!r} needs the schema {schema_name!r}, which tenant {holder.slug!r} has (a tenant "
            "keeps the schema of the slug it was created with): choose another slug"
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema_name])
        if cursor.fetchone() is not None:
            raise ValueError(
                f"the slug {slug!r} needs the schema {schema_name!r}, which exists and belongs to no tenant: "
                "choose another slug, or drop that schema once nothing in it is needed"
            )
        cursor.execute("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")
    hosts = [host_name_normalised(domain) for domain in domains or []]
    held = Domain.objects.filter(domain__in=hosts).select_related("tenant").first()
    if held is not None:
        raise ValueError(
            f"the host name {held.domain!r} is tenant {held.tenant.slug!r}'s: choose another slug, or remove "
            "that host name from that tenant"
        )
    with transaction.atomic():
        tenant = Tenant.objects.create(name=name, slug=slug, schema_name=schema_name)
        for i, host in enumerate(hosts):
            Domain.objects.create(domain=host, tenant=tenant, is_primary=i == 0)
        schema_build(schema_name=tenant.schema_name)
    return tenant


def member_email(email: str) -> str:
    """`email` as a member's username stores it (`email_normalised`); a ValueError when it is longer than a
    username may be."""
    normalised = email_normalised(email)
    longest = get_user_model()._meta.get_field("username").max_length
    if len(normalised) > longest:
        raise ValueError(f"the e-mail address is too long: at most {longest} characters")
    return normalised


def member_add(*, tenant: Tenant, email: str, role: str, password: str | None = None) -> Member:
    """Make the person with this e-mail a member with `role`, creating their user (with `password`, or none
    until they set one) the first time; an existing member gets the new role. An address longer than a username
    may be is a ValueError (`member_email`)."""
    user_model = get_user_model()
    email = member_email(email)
    user, created = user_model.objects.get_or_create(username=email, defaults={"email": email})
    if created or password:
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
    with transaction.atomic():
        previous = (
            Member.objects.select_for_update()
            .filter(tenant=tenant, user=user)
            .values_list("role", flat=True)
            .first()
        )
        member, _ = Member.objects.update_or_create(tenant=tenant, user=user, defaults={"role": Role(role)})
        if previous is None:
            audit_record(
                tenant=tenant,
                action="member.add",
                object_type="member",
                object_id=email,
                details={"role": role},
            )
        elif previous != role:
            audit_record(
                tenant=tenant,
                action="member.role_change",
                object_type="member",
                object_id=email,
                details={"from": previous, "to": role},
            )
    return member


def member_signed_in(*, tenant: Tenant, member: Member) -> None:
    """Record a member's sign-in to the tenant's portal."""
    audit_record(tenant=tenant, action="member.sign_in", object_type="member", object_id=member.user.email)


def member_sign_in_refused(*, tenant: Tenant, email: str) -> bool:
    """Record a refused sign-in to the tenant's portal with the e-mail tried, when that e-mail is one of its
    members': anyone may post any e-mail, and a log filled with them, or naming people of other workspaces,
    would serve nobody. Returns whether it recorded."""
    if not Member.objects.filter(tenant=tenant, user__username=email).exists():
        return False
    audit_record(tenant=tenant, action="member.sign_in_refused", object_type="member", object_id=email[:64])
    return True


class SweepFailed(RuntimeError):
    """A per-tenant sweep that raised in some tenants; every other tenant was visited. `failures` maps each such
    tenant's slug to what it raised, `results` holds the others' results in their order."""

    def __init__(self, failures: dict[str, Exception], results: list[Any]) -> None:
        self.failures = failures
        self.results = results
        named = ", ".join(f"{slug} ({type(exc).__name__}: {exc})" for slug, exc in failures.items())
        super().__init__(f"the sweep failed in {len(failures)} tenant(s): {named}")


def for_each_tenant(
    action: Callable[[Tenant], T], *, start: int = 0, include_inactive: bool = False
) -> list[T]:
    """Run `action(tenant)` in each active tenant's schema (every tenant's with `include_inactive`: for work
    that must reach a suspended or erasing tenant too, such as deleting or re-encrypting what it stores; never
    one in maintenance, whose schema a restore is swapping), in
    turn (the per-tenant beat sweeps), beginning with the tenant at `start` (modulo their number) of their
    order, so a sweep with a budget can begin where the last one left off.

    A tenant whose action raises is logged and skipped, the sweep goes on with the others (but a task's soft
    time limit stops the sweep at once), and at the end `SweepFailed` names every tenant that failed, so one tenant's fault neither stops the sweep for the
    tenants after it nor goes unreported. Outside a transaction, the connection is closed after the sweep:
    PostgreSQL keeps the catalog and relation caches of every schema a connection has read (some 55 KiB a
    schema) for the connection's life, and a worker's persistent connection would otherwise hold every
    tenant's. Inside one, each tenant's action runs in a savepoint, so a failed one leaves the transaction
    usable for the next."""
    from django_tenants.utils import tenant_context

    tenants = Tenant.objects.exclude(schema_name="public").filter(maintenance_since__isnull=True)
    if not include_inactive:
        tenants = tenants.filter(is_active=True)
    tenants = list(tenants.order_by("pk"))
    if tenants:
        start %= len(tenants)
        tenants = tenants[start:] + tenants[:start]
    results: list[T] = []
    failures: dict[str, Exception] = {}
    for tenant in tenants:
        isolated = transaction.atomic() if connection.in_atomic_block else nullcontext()
        try:
            with tenant_context(tenant), isolated:
                results.append(action(tenant))
        except SoftTimeLimitExceeded:
            raise
        except Exception as exc:
            logger.exception("sweep failed in tenant %s (schema %s)", tenant.slug, tenant.schema_name)
            failures[tenant.slug] = exc
            if not connection.in_atomic_block:
                connection.close_if_unusable_or_obsolete()
    if not connection.in_atomic_block:
        connection.close()
    if failures:
        raise SweepFailed(failures, results) from next(iter(failures.values()))
    return results


def tenant_lock(tenant: Tenant) -> None:
    """Hold the tenant's row lock until the current transaction ends, so checks that count the tenant's rows
    and then add one (quota before a job, seats before an invitation) run one at a time."""
    Tenant.objects.select_for_update().filter(pk=tenant.pk).first()


def tenant_room_check(
    *,
    tenant: Tenant,
    rows: QuerySet,
    most: int,
    noun: str,
    remedy: str = "delete one to add another",
    refusal: type[Refusal] = Refusal,
) -> None:
    """Refuse (409 `limit_reached`, as `refusal`) one more of the workspace's `rows` (a queryset of its
    `noun`) once it holds `most`; counted under the tenant's lock, held until the transaction ends."""
    tenant_lock(tenant)
    if rows.count() >= most:
        raise refusal(ErrorCode.LIMIT_REACHED, f"A workspace has at most {most} {noun}; {remedy}.")


def _key_role_checked(role: str) -> None:
    if role not in API_KEY_ROLES:
        names = ", ".join(API_KEY_ROLES)
        raise Refusal(
            ErrorCode.INVALID_PARAMETER, f"An API key's role is one of {names}; got {role!r}.", "role"
        )


def api_key_issue(
    *, tenant: Tenant, name: str, role: str = Role.DEVELOPER, created_by: Member | None = None
) -> IssuedApiKey:
    """A new API key for the tenant; the secret is in the result once and only its hash is stored. A workspace
    holding `MAX_ACTIVE_API_KEYS` keys not revoked is refused (409) until it revokes one."""
    _key_role_checked(role)
    secret = new_api_key_secret()
    with transaction.atomic():
        tenant_room_check(
            tenant=tenant,
            rows=ApiKey.objects.filter(tenant=tenant, revoked_at__isnull=True),
            most=MAX_ACTIVE_API_KEYS,
            noun="active API keys",
            remedy="revoke one to issue another",
        )
        api_key = ApiKey.objects.create(
            tenant=tenant,
            name=name.strip() or "unnamed",
            role=role,
            secret_hash=hash_secret(secret),
            display_prefix=secret[:12],
            created_by=created_by,
        )
        audit_record(
            tenant=tenant,
            action="api_key.issue",
            object_type="api_key",
            object_id=api_key.pk,
            details={"name": api_key.name, "role": role},
        )
    return IssuedApiKey(api_key=api_key, secret=secret)


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revoke the key from now on; revoking twice keeps the first time (two revokes at once too: each reads the
    key under its row lock, and the second finds it revoked). Every web process refuses it within
    `QUIRE_API_KEY_LOCAL_SECONDS` of the commit (tenants/keycache.py). Its cached grant is written revoked before
    the commit too, so a process that dies between the commit and the refresh leaves no active grant behind (a
    revoke that then fails to commit leaves the key refused until the grant expires). Revoking a revoked key
    writes its cached grant again."""
    with transaction.atomic():
        current = _key_locked(api_key)
        if current.revoked_at is not None:
            grants_refresh_later(secret_hash=current.secret_hash)
            return current
        current.revoked_at = timezone.now()
        current.save(update_fields=["revoked_at"])
        audit_record(
            tenant=api_key.tenant, action="api_key.revoke", object_type="api_key", object_id=api_key.pk
        )
        with suppress(redis.RedisError):
            grant_tombstone(current)
    return current


def _key_locked(api_key: ApiKey) -> ApiKey:
    """The key as it is now, its row locked until the transaction ends."""
    current = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    current.tenant = api_key.tenant
    return current


def api_key_update(
    *, api_key: ApiKey, role: str | None = None, version: str | None = None, refuse_revoked: bool = True
) -> ApiKey:
    """Give the key another role or API version (`QUIRE_API_VERSIONS`: an owner moves an integration to a
    newer version, or back); every web process uses it within `QUIRE_API_KEY_LOCAL_SECONDS`. Each change is
    audited with what it was before, as the key is under its row lock (two changes at once: the second's `from`
    is the first's `to`). A revoked key keeps its role and version (`refuse_revoked`: 409 `api_key_revoked`;
    API versions before 2026-12-08 changed them)."""
    if role is not None:
        _key_role_checked(role)
    if version is not None and version not in settings.QUIRE_API_VERSIONS:
        known = ", ".join(settings.QUIRE_API_VERSIONS)
        raise Refusal(
            ErrorCode.INVALID_PARAMETER, f"Unknown API version {version!r}; known: {known}.", "version"
        )
    with transaction.atomic():
        current = _key_locked(api_key)
        changes = {
            field: (getattr(current, field), value)
            for field, value in (("role", role), ("version", version))
            if value is not None and getattr(current, field) != value
        }
        if changes and refuse_revoked and current.revoked_at is not None:
            raise Refusal(
                ErrorCode.API_KEY_REVOKED,
                f"API key {current.pk} was revoked on {current.revoked_at:%Y-%m-%d}; a revoked key keeps its "
                "role and version.",
            )
        for field, (before, after) in changes.items():
            audit_record(
                tenant=api_key.tenant,
                action=f"api_key.{field}_change",
                object_type="api_key",
                object_id=api_key.pk,
                details={"from": before, "to": after},
            )
            setattr(current, field, after)
        if changes:
            current.save(update_fields=list(changes))
    return current


def api_key_authenticate(*, secret: str) -> ApiKeyGrant | None:
    """What the active key for this secret grants, or None; from the grant cache, so usually no query."""
    grant = local_grants.get(hash_secret(secret))
    return grant if grant is not None and grant.active else None


def api_key_touch(*, key_id: str) -> None:
    """Record that the key was used now (callers do it at most once a minute per key)."""
    ApiKey.objects.filter(pk=key_id).update(last_used_at=timezone.now())


@dataclass(frozen=True)
class ProvisionedTenant:
    tenant: Tenant
    issued_key: IssuedApiKey
    owner: Member | None


def tenant_provision(
    *, name: str, slug: str | None = None, owner_email: str | None = None, owner_password: str | None = None
) -> ProvisionedTenant:
    """Schema, pgvector, a hostname `<slug>.<base domain>`, an owner when given, and the first API key, all or
    nothing: a provisioning stopped midway leaves no tenant without its key, and the slug free to provision
    again. An owner that is not an e-mail address is refused before anything is made."""
    if owner_email:
        try:
            validate_email(email_normalised(owner_email))
        except ValidationError:
            raise ValueError(f"the owner {owner_email!r} is not an e-mail address") from None
        member_email(owner_email)
    slug = slug or slug_from_name(name)
    with transaction.atomic():
        tenant = tenant_create(name=name, slug=slug, domains=[f"{slug}.{settings.QUIRE_BASE_DOMAIN}"])
        owner = (
            member_add(tenant=tenant, email=owner_email, role=Role.OWNER, password=owner_password)
            if owner_email
            else None
        )
        issued = api_key_issue(tenant=tenant, name="default", role=Role.ADMIN, created_by=owner)
    return ProvisionedTenant(tenant=tenant, issued_key=issued, owner=owner)


_KEEP = object()


def tenant_settings_update(
    *,
    tenant: Tenant,
    retention_days: object = _KEEP,
    ocr_languages: object = _KEEP,
    ocr_pictures: object = _KEEP,
) -> Tenant:
    """Change the workspace's settings; one left out stays as it is. Every value is checked before any is
    set, so a refused one changes nothing (a `Refusal` naming it). `retention_days`: documents, finished jobs
    and webhook events are kept that many days (None: for good), the hourly retention sweep purging what is
    older. `ocr_languages`: scans are read in these (Tesseract's codes joined by "+", each one of the
    deployment's QUIRE_INGEST_OCR_LANGUAGES; "" for the deployment's own) from the next document ingested on.
    `ocr_pictures`: when the pictures of its Word documents, workbooks and decks are read by OCR (one of
    `common.env.OCR_PICTURES`; "" for the deployment's QUIRE_INGEST_OCR_PICTURES). Each change is audited as
    `_setting_changed` audits it."""
    changes = []
    if retention_days is not _KEEP:
        changes.append(("retention_days", _retention_checked(retention_days), "workspace.retention_change"))
    if ocr_languages is not _KEEP:
        changes.append(
            ("ocr_languages", _ocr_languages_checked(ocr_languages), "workspace.ocr_languages_change")
        )
    if ocr_pictures is not _KEEP:
        changes.append(("ocr_pictures", _ocr_pictures_checked(ocr_pictures), "workspace.ocr_pictures_change"))
    with transaction.atomic():
        for field, value, action in changes:
            _setting_changed(tenant, field, value, action)
    return tenant


def _retention_checked(days: int | None) -> int | None:
    if days is None:
        return None
    if days < 1:
        raise Refusal(
            ErrorCode.INVALID_PARAMETER, "The retention period is at least one day.", "retention_days"
        )
    if days > RETENTION_DAYS_MAX:
        raise Refusal(
            ErrorCode.INVALID_PARAMETER,
            f"The retention period is at most {RETENTION_DAYS_MAX} days.",
            "retention_days",
        )
    return days


def _ocr_languages_checked(languages: str) -> str:
    languages = languages.strip()
    refused = ocr_languages_refused(languages, settings.QUIRE_INGEST_OCR_LANGUAGES) if languages else None
    if refused is not None:
        raise Refusal(ErrorCode.INVALID_PARAMETER, f"{refused}.", "ocr_languages")
    return languages


def _ocr_pictures_checked(value: str) -> str:
    value = value.strip()
    refused = ocr_pictures_refused(value) if value else None
    if refused is not None:
        raise Refusal(
            ErrorCode.INVALID_PARAMETER, f"Pictures are read by OCR as {refused}, or empty.", "ocr_pictures"
        )
    return value


def _setting_changed(tenant: Tenant, field: str, value: object, action: str) -> Tenant:
    """Set one of the tenant's settings, compared with the stored value under the tenant's row lock, so of two
    changes at once neither is skipped as already made, and each is audited (`action`) from the value it
    replaced."""
    with transaction.atomic():
        previous = Tenant.objects.select_for_update().filter(pk=tenant.pk).values_list(field, flat=True).get()
        setattr(tenant, field, value)
        if previous != value:
            tenant.save(update_fields=[field])
            audit_record(
                tenant=tenant,
                action=action,
                object_type="tenant",
                object_id=tenant.public_id,
                details={"from": previous, "to": value},
            )
    return tenant


def tenant_maintenance_begin(*, tenant: Tenant) -> bool:
    """Take the tenant out of service: its API requests answer 503 `workspace_maintenance`, its portal a 503
    page, both with Retry-After, and workers put its tasks off (`quire.celery.QuireTask`); beat's sweeps pass it
    by. Returns once every web process has dropped its copy of the tenant's key grants
    (`QUIRE_API_KEY_LOCAL_SECONDS`); False, changing nothing, when the tenant was in maintenance already."""
    with transaction.atomic():
        current = Tenant.objects.select_for_update().get(pk=tenant.pk)
        if current.maintenance_since is not None:
            tenant.maintenance_since = current.maintenance_since
            return False
        tenant.maintenance_since = timezone.now()
        tenant.save(update_fields=["maintenance_since"])
    time.sleep(settings.QUIRE_API_KEY_LOCAL_SECONDS)
    return True


def tenant_maintenance_end(*, tenant: Tenant) -> None:
    """Put the tenant back in service; whether it is active is as it was."""
    tenant.maintenance_since = None
    tenant.save(update_fields=["maintenance_since"])


@contextmanager
def tenant_maintenance(*, tenant: Tenant) -> Iterator[None]:
    """The tenant in maintenance meanwhile (`tenant_maintenance_begin`), and afterwards as it was before,
    whatever ends the block (an error, Ctrl-C): back in service, or still in maintenance when it was already."""
    began = tenant_maintenance_begin(tenant=tenant)
    try:
        yield
    finally:
        if began:
            tenant_maintenance_end(tenant=tenant)


WORKSPACE_FIELDS = ("name", "slug", "is_active")


def tenant_update(*, tenant: Tenant, **changes: Any) -> Tenant:
    """Change the tenant's name, slug or whether it is active (an inactive tenant's keys and portal are
    refused), recording what changed as one `workspace.update` event. Nothing else of a tenant changes here:
    its schema and public id are fixed, its settings have `tenant_settings_update`."""
    unknown = set(changes) - set(WORKSPACE_FIELDS)
    if unknown:
        raise ValueError(f"a workspace's {', '.join(sorted(unknown))} is not changed here")
    if "slug" in changes and changes["slug"] != tenant.slug:
        tenant_slug_checked(changes["slug"])
    with transaction.atomic():
        current = Tenant.objects.select_for_update().get(pk=tenant.pk)
        changed = {
            field: {"from": getattr(current, field), "to": value}
            for field, value in changes.items()
            if getattr(current, field) != value
        }
        for field in changed:
            setattr(tenant, field, changes[field])
        if changed:
            tenant.save(update_fields=list(changed))
            audit_record(
                tenant=tenant,
                action="workspace.update",
                object_type="tenant",
                object_id=tenant.public_id,
                details=changed,
            )
    return tenant


def host_name_normalised(name: str) -> str:
    """A host name as `Domain` stores it and routing looks it up: trimmed, lower case."""
    return name.strip().lower()


def domain_save(*, domain: Domain) -> Domain:
    """Add or change one of a tenant's host names (stored as `host_name_normalised` gives it, the form routing
    looks a request's host up in), recorded as `workspace.domain_change`."""
    domain.domain = host_name_normalised(domain.domain)
    with transaction.atomic():
        before = Domain.objects.filter(pk=domain.pk).values("domain", "tenant_id", "is_primary").first()
        domain.save()
        details = {"domain": domain.domain, "is_primary": domain.is_primary}
        if before is None:
            details["change"] = "add"
        else:
            details.update(change="update", was=before["domain"], was_primary=before["is_primary"])
        audit_record(
            tenant=domain.tenant,
            action="workspace.domain_change",
            object_type="domain",
            object_id=domain.domain,
            details=details,
        )
        if before is not None and before["tenant_id"] != domain.tenant_id:
            audit_record(
                tenant=Tenant.objects.get(pk=before["tenant_id"]),
                action="workspace.domain_change",
                object_type="domain",
                object_id=before["domain"],
                details={"domain": before["domain"], "change": "delete"},
            )
    return domain


def domain_delete(*, domain: Domain) -> None:
    """Remove one of a tenant's host names, recorded as `workspace.domain_change`."""
    with transaction.atomic():
        audit_record(
            tenant=domain.tenant,
            action="workspace.domain_change",
            object_type="domain",
            object_id=domain.domain,
            details={"domain": domain.domain, "change": "delete"},
        )
        domain.delete()


def tenant_erase(*, tenant: Tenant, erased: Mapping[str, Any] | None = None) -> None:
    """Remove the tenant for good: its schema (every document, chunk, job, result, event), its audit log,
    API keys (refused everywhere once committed), members, the users who belong to no other tenant, its
    host names and the tenant row. The caller has deleted what lives outside PostgreSQL and in other
    apps first (stored files, billing rows, the Stripe customer) and says what in `erased`. Of the audit
    log one event stays: `workspace.erase`, with `erased` as its details. A schema an interrupted restore left
    aside (`<schema>_before_restore_<time>`, older data of the tenant) goes with its schema."""
    from tenants.backups import restore_aside_schemas

    user_ids = list(Member.objects.filter(tenant=tenant).values_list("user_id", flat=True))
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL quire.audit_erase = 'on'")
        AuditEvent.objects.filter(tenant_id=tenant.pk).delete()
        audit_record(
            tenant=tenant,
            action="workspace.erase",
            object_type="workspace",
            object_id=tenant.public_id,
            details=dict(erased or {}),
        )
        tenant.delete(force_drop=True)
        with connection.cursor() as cursor:
            for aside in restore_aside_schemas(tenant.schema_name):
                cursor.execute(f'DROP SCHEMA "{aside}" CASCADE')
        get_user_model().objects.filter(pk__in=user_ids, memberships__isnull=True, is_staff=False).delete()
