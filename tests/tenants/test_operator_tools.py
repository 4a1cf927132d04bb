"""What operators reach past the API: the admin site on the public host, and django-tenants' commands that would
bypass provisioning or erasure."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory

from tenants.models import Tenant


def test_every_admin_page_of_the_public_host_answers_and_tenants_are_neither_added_nor_deleted_there(
    tenant_a,
):
    staff = get_user_model().objects.create_superuser("root-admin", "root-admin@example.test", "pw-123456789")
    client = Client()
    client.force_login(staff)
    request = RequestFactory().get("/admin/")
    request.user = staff
    assert client.get("/admin/").status_code == 200
    opened = 0
    for model, model_admin in admin.site._registry.items():
        page = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert client.get(page).status_code == 200, page
        instance = model_admin.get_queryset(request).first()
        if instance is not None:
            changed = client.get(f"{page}{instance.pk}/change/")
            # The public schema is shared with tests running beside this one: a row one of them deletes between
            # the listing and its page sends the admin back to its index.
            gone = changed.status_code == 302 and not model._default_manager.filter(pk=instance.pk).exists()
            assert changed.status_code == 200 or gone, page
            opened += not gone
        if model_admin.has_add_permission(request):
            assert client.get(f"{page}add/").status_code == 200, page
    assert opened >= 5
    assert client.get("/admin/tenants/tenant/add/").status_code == 403
    assert (
        client.post(f"/admin/tenants/tenant/{tenant_a.tenant.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    assert Tenant.objects.filter(pk=tenant_a.tenant.pk).exists()


def test_members_and_api_keys_are_shown_in_the_admin_but_changed_only_where_it_is_audited(tenant_a):
    from tenants.models import AuditEvent, Member
    from tenants.services import api_key_issue, member_add

    staff = get_user_model().objects.create_superuser("ops-admin", "ops-admin@example.test", "pw-123456789")
    client = Client()
    client.force_login(staff)
    member = member_add(tenant=tenant_a.tenant, email="promote-me@alpha.example.com", role="viewer")
    key = api_key_issue(tenant=tenant_a.tenant, name="admin-viewed", role="viewer").api_key
    events = AuditEvent.objects.filter(tenant=tenant_a.tenant)
    before = events.count()
    member_page = f"/admin/tenants/member/{member.pk}/"
    key_page = f"/admin/tenants/apikey/{key.pk}/"
    assert client.get(f"{member_page}change/").status_code == 200
    changed = client.post(
        f"{member_page}change/", {"tenant": tenant_a.tenant.pk, "user": member.user.pk, "role": "owner"}
    )
    assert changed.status_code == 403
    revoked = client.post(
        f"{key_page}change/",
        {
            "tenant": tenant_a.tenant.pk,
            "name": "admin-viewed",
            "role": "admin",
            "version": key.version,
            "revoked_at_0": "2026-01-01",
            "revoked_at_1": "00:00:00",
        },
    )
    assert revoked.status_code == 403
    for page in (member_page, key_page):
        assert client.post(f"{page}delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/tenants/member/add/").status_code == 403
    assert client.get("/admin/tenants/apikey/add/").status_code == 403
    assert Member.objects.get(pk=member.pk).role == "viewer"
    key.refresh_from_db()
    assert (key.role, key.revoked_at) == ("viewer", None)
    assert events.count() == before
    assert "retention_days" in admin.site._registry[Tenant].get_readonly_fields(RequestFactory().get("/"))


@pytest.fixture
def urls_with():
    """`urls_with(admin_enabled)`: the project's URLs built again as that setting makes them, then as before."""
    import importlib

    from django.test import override_settings
    from django.urls import clear_url_caches

    import quire.urls

    overrides = []

    def build(admin_enabled: bool) -> None:
        overrides.append(override_settings(QUIRE_ADMIN_ENABLED=admin_enabled))
        overrides[-1].enable()
        importlib.reload(quire.urls)
        clear_url_caches()

    yield build
    for override in reversed(overrides):
        override.disable()
    importlib.reload(quire.urls)
    clear_url_caches()


def test_the_admin_site_is_mounted_only_where_enabled(tenant_a, urls_with):
    from django.conf import settings

    assert settings.QUIRE_ADMIN_ENABLED, "on by default outside production"
    client = Client(HTTP_ACCEPT="text/html")
    assert client.get("/admin/login/").status_code == 200
    urls_with(False)
    assert client.get("/admin/").status_code == 404
    assert client.get("/admin/login/").status_code == 404
    assert client.get("/healthz").status_code == 200


def test_production_mounts_the_admin_site_only_when_asked():
    import os
    import subprocess
    import sys

    from cryptography.fernet import Fernet

    from tests.support import ROOT

    production = {
        **os.environ,
        "QUIRE_ENV": "production",
        "QUIRE_SECRET_KEY": "s" * 20 + "admin-mount-check-" + "x7#Q" * 8,
        "QUIRE_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "QUIRE_ALLOWED_HOSTS": ".quire.example.com",
    }
    production.pop("QUIRE_ADMIN_ENABLED", None)
    show = (
        "import django; django.setup(); from django.conf import settings; print(settings.QUIRE_ADMIN_ENABLED)"
    )
    for extra, shown in (({}, "False"), ({"QUIRE_ADMIN_ENABLED": "true"}, "True")):
        result = subprocess.run(
            [sys.executable, "-c", show],
            cwd=ROOT,
            env={**production, "DJANGO_SETTINGS_MODULE": "quire.settings", **extra},
            capture_output=True,
            text=True,
        )
        assert result.stdout.strip() == shown, result.stderr


def test_admin_sign_in_attempts_count_against_the_sign_in_limit(limiter_clock):
    from django.conf import settings

    from quire.api.throttling import parse_rate

    limit, period = parse_rate(settings.QUIRE_SIGN_IN_RATE)
    get_user_model().objects.create_superuser("Staff-Guessed", "staff@ops.example.test", "right-pass-123")
    client = Client()
    for attempt in range(limit):
        wrong = client.post("/admin/login/", {"username": "Staff-Guessed", "password": f"guess-{attempt}"})
        assert b"Please enter the correct" in wrong.content
    refused = client.post("/admin/login/", {"username": "staff-guessed", "password": "right-pass-123"})
    assert refused.status_code == 200 and b"Too many sign-in attempts" in refused.content
    assert "_auth_user_id" not in client.session
    limiter_clock.advance(period)
    assert (
        client.post("/admin/login/", {"username": "Staff-Guessed", "password": "right-pass-123"}).status_code
        == 302
    )


def test_django_tenants_delete_and_clone_commands_are_refused(tenant_a):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="tenant_erase SLUG"):
        call_command("delete_tenant", schema_name=tenant_a.tenant.schema_name, interactive=False)
    assert Tenant.objects.filter(pk=tenant_a.tenant.pk).exists()
    tenants = Tenant.objects.count()
    with pytest.raises(CommandError, match="create_tenant NAME"):
        call_command("clone_tenant", clone_from=tenant_a.tenant.schema_name)
    assert Tenant.objects.count() == tenants


def test_a_retention_period_past_a_hundred_years_is_refused(tenant_a):
    from django.core.management import CommandError, call_command

    tenant_a.tenant.refresh_from_db()
    before = tenant_a.tenant.retention_days
    with pytest.raises(CommandError, match="at most 36500 days"):
        call_command("tenant_retention", tenant_a.tenant.slug, "1000000")
    tenant_a.tenant.refresh_from_db()
    assert tenant_a.tenant.retention_days == before


def test_two_retention_changes_from_pages_loaded_before_either_both_land_and_are_audited_in_turn(make_tenant):
    """Two admins load the workspace (30 days kept); one sets 7 days, then the other, from the page loaded
    before, sets 30 again: the second is a change, not skipped as the value its page showed."""
    from tenants.models import AuditEvent
    from tenants.services import tenant_settings_update

    tenant = make_tenant("retention-turns").tenant
    tenant_settings_update(tenant=tenant, retention_days=30)
    first, second = Tenant.objects.get(pk=tenant.pk), Tenant.objects.get(pk=tenant.pk)
    tenant_settings_update(tenant=first, retention_days=7)
    tenant_settings_update(tenant=second, retention_days=30)
    assert Tenant.objects.get(pk=tenant.pk).retention_days == 30
    changes = AuditEvent.objects.filter(tenant=tenant, action="workspace.retention_change").order_by(
        "created_at"
    )
    assert [(e.details["from"], e.details["to"]) for e in changes] == [(None, 30), (30, 7), (7, 30)]


def test_workspace_and_host_name_changes_in_the_admin_are_audited_and_the_schema_is_never_changed(tenant_a):
    from tenants.models import AuditEvent, Domain

    staff = get_user_model().objects.create_superuser("ops-audit", "ops-audit@example.test", "pw-123456789")
    client = Client()
    client.force_login(staff)
    tenant = Tenant.objects.get(pk=tenant_a.tenant.pk)
    page = f"/admin/tenants/tenant/{tenant.pk}/change/"
    changed = client.post(
        page, {"name": "Renamed", "slug": tenant.slug, "schema_name": "tenant_elsewhere", "is_active": ""}
    )
    assert changed.status_code == 302, changed.content
    after = Tenant.objects.get(pk=tenant.pk)
    assert (after.name, after.is_active, after.schema_name) == ("Renamed", False, tenant.schema_name)
    event = AuditEvent.objects.get(tenant=tenant, action="workspace.update")
    assert (event.actor_type, event.actor_id) == ("staff", "ops-audit")
    assert event.details == {
        "name": {"from": tenant.name, "to": "Renamed"},
        "is_active": {"from": True, "to": False},
    }
    client.post(page, {"name": tenant.name, "slug": tenant.slug, "is_active": "on"})
    assert Tenant.objects.get(pk=tenant.pk).is_active

    added = client.post(
        "/admin/tenants/domain/add/",
        {"domain": "docs.alpha.example.com", "tenant": tenant.pk, "is_primary": ""},
    )
    assert added.status_code == 302, added.content
    domain = Domain.objects.get(domain="docs.alpha.example.com")
    client.post(f"/admin/tenants/domain/{domain.pk}/delete/", {"post": "yes"})
    assert not Domain.objects.filter(pk=domain.pk).exists()
    changes = AuditEvent.objects.filter(tenant=tenant, action="workspace.domain_change").order_by(
        "created_at"
    )
    assert [(e.details["change"], e.object_id, e.actor_id) for e in changes] == [
        ("add", "docs.alpha.example.com", "ops-audit"),
        ("delete", "docs.alpha.example.com", "ops-audit"),
    ]


@pytest.mark.parametrize("slug", ["Alpha-Renamed", "alpha_renamed", "9alpha", "a" * 42])
def test_the_admin_refuses_a_tenant_slug_provisioning_would_refuse(tenant_a, slug):
    from tenants.services import tenant_update

    staff = get_user_model().objects.create_superuser(
        f"ops-slug-{len(slug)}-{slug[:3]}", "ops-slug@example.test", "pw-123456789"
    )
    client = Client()
    client.force_login(staff)
    tenant = Tenant.objects.get(pk=tenant_a.tenant.pk)
    page = f"/admin/tenants/tenant/{tenant.pk}/change/"
    refused = client.post(page, {"name": tenant.name, "slug": slug, "is_active": "on"})
    assert refused.status_code == 200
    assert "invalid tenant slug" in refused.content.decode()
    assert Tenant.objects.get(pk=tenant.pk).slug == tenant.slug
    with pytest.raises(ValueError, match="invalid tenant slug"):
        tenant_update(tenant=tenant, slug=slug)


def test_a_tenant_whose_slug_predates_the_rule_can_still_be_deactivated_in_the_admin(make_tenant):
    """The admin took any slug before the rule was checked there: a tenant renamed so keeps its slug, and the
    slug it did not change does not stop another change."""
    tenant = make_tenant("legacy-slug").tenant
    Tenant.objects.filter(pk=tenant.pk).update(slug="Legacy_Slug")
    staff = get_user_model().objects.create_superuser(
        "ops-legacy-slug", "ops-legacy@example.test", "pw-123456789"
    )
    client = Client()
    client.force_login(staff)
    changed = client.post(
        f"/admin/tenants/tenant/{tenant.pk}/change/", {"name": "Suspended", "slug": "Legacy_Slug"}
    )
    assert changed.status_code == 302, changed.content.decode()
    tenant.refresh_from_db()
    assert (tenant.name, tenant.slug, tenant.is_active) == ("Suspended", "Legacy_Slug", False)


@pytest.mark.parametrize("answer", [EOFError, KeyboardInterrupt])
def test_tenant_erase_without_an_answer_at_its_prompt_erases_nothing(tenant_a, monkeypatch, answer):
    from django.core.management import CommandError, call_command

    def no_answer(prompt):
        raise answer

    monkeypatch.setattr("builtins.input", no_answer)
    with pytest.raises(CommandError, match="not confirmed; nothing was erased"):
        call_command("tenant_erase", tenant_a.tenant.slug)
    assert Tenant.objects.filter(pk=tenant_a.tenant.pk, is_active=True).exists()


def test_a_retention_period_that_is_not_a_number_is_refused_in_words(tenant_a):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match=r"^days must be a whole number of days or 'none', not 'ninety'$"):
        call_command("tenant_retention", tenant_a.tenant.slug, "ninety")


def test_the_retention_period_set_is_printed_in_words(tenant_a):
    import io

    from django.core.management import call_command

    printed = []
    for days in ("1", "90", "none"):
        out = io.StringIO()
        call_command("tenant_retention", tenant_a.tenant.slug, days, stdout=out)
        printed.append(out.getvalue().strip().split(": ", 1)[1])
    assert printed == ["retention 1 day", "retention 90 days", "retention none"]


def test_a_host_name_added_in_the_admin_with_capitals_routes_to_its_workspace(tenant_a):
    from tenants.models import Domain

    staff = get_user_model().objects.create_superuser("ops-hosts", "ops-hosts@example.test", "pw-123456789")
    client = Client()
    client.force_login(staff)
    tenant = Tenant.objects.get(pk=tenant_a.tenant.pk)
    added = client.post(
        "/admin/tenants/domain/add/",
        {"domain": " Contracts.Alpha.LOCALHOST ", "tenant": tenant.pk, "is_primary": ""},
    )
    assert added.status_code == 302, added.content
    domain = Domain.objects.get(tenant=tenant, domain__iexact="contracts.alpha.localhost")
    assert domain.domain == "contracts.alpha.localhost"
    again = client.post(
        "/admin/tenants/domain/add/",
        {"domain": "CONTRACTS.alpha.localhost", "tenant": tenant.pk, "is_primary": ""},
    )
    assert again.status_code == 200 and b"already exists" in again.content
    routed = Client(HTTP_HOST="Contracts.Alpha.Localhost").get("/documents")
    assert routed.status_code == 302 and routed["Location"].startswith("/login")
    client.post(f"/admin/tenants/domain/{domain.pk}/delete/", {"post": "yes"})
