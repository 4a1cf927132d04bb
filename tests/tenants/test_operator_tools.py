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


def test_django_tenants_delete_and_clone_commands_are_refused(tenant_a):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="tenant_erase SLUG"):
        call_command("delete_tenant", schema_name=tenant_a.tenant.schema_name, interactive=False)
    assert Tenant.objects.filter(pk=tenant_a.tenant.pk).exists()
    tenants = Tenant.objects.count()
    with pytest.raises(CommandError, match="create_tenant NAME"):
        call_command("clone_tenant", clone_from=tenant_a.tenant.schema_name)
    assert Tenant.objects.count() == tenants
