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
            assert client.get(f"{page}{instance.pk}/change/").status_code == 200, page
            opened += 1
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


def test_django_tenants_delete_and_clone_commands_are_refused(tenant_a):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="tenant_erase SLUG"):
        call_command("delete_tenant", schema_name=tenant_a.tenant.schema_name, interactive=False)
    assert Tenant.objects.filter(pk=tenant_a.tenant.pk).exists()
    tenants = Tenant.objects.count()
    with pytest.raises(CommandError, match="create_tenant NAME"):
        call_command("clone_tenant", clone_from=tenant_a.tenant.schema_name)
    assert Tenant.objects.count() == tenants
