from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client


def test_every_admin_page_of_the_public_host_answers_and_tenants_are_not_added_there():
    staff = get_user_model().objects.create_superuser("root-admin", "root-admin@example.test", "pw-123456789")
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/").status_code == 200
    for model in admin.site._registry:
        page = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert client.get(page).status_code == 200, page
    assert client.get("/admin/tenants/tenant/add/").status_code == 403
