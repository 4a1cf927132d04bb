"""API keys: prefixed ids, shown once, stored hashed, revocable, last-used timestamp."""

import pytest
from django.db import connection

from tenants.models import ApiKey
from tenants.services import api_key_issue, api_key_set_role
from tests.support import Api


def test_create_key_shows_secret_once_and_stores_only_a_hash(api_a: Api):
    response = api_a.post("/v1/api_keys", {"name": "ci", "role": "viewer"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"].startswith("key_") and body["secret"].startswith("qk_live_")
    assert body["role"] == "viewer"
    stored = ApiKey.objects.get(pk=body["id"])
    assert body["secret"] not in (stored.secret_hash, stored.display_prefix)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM tenants_apikey WHERE id = %s", [body["id"]])
        assert all(body["secret"] not in str(value) for value in cursor.fetchone())
    again = api_a.get(f"/v1/api_keys/{body['id']}").json()
    assert "secret" not in again


def test_revoked_key_stops_working(api_a: Api):
    secret = api_a.post("/v1/api_keys", {"name": "temp"}).json()
    fresh = Api(secret["secret"])
    assert fresh.get("/v1/documents").status_code == 200
    revoked = api_a.delete(f"/v1/api_keys/{secret['id']}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    response = fresh.get("/v1/documents")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_last_used_is_recorded(api_a: Api):
    created = api_a.post("/v1/api_keys", {"name": "usage"}).json()
    assert ApiKey.objects.get(pk=created["id"]).last_used_at is None
    Api(created["secret"]).get("/v1/documents")
    assert ApiKey.objects.get(pk=created["id"]).last_used_at is not None


def test_invalid_role_is_rejected(api_a: Api):
    response = api_a.post("/v1/api_keys", {"name": "x", "role": "owner"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "role"


def test_list_is_cursor_paginated(api_a: Api):
    for i in range(3):
        api_a.post("/v1/api_keys", {"name": f"page-{i}"})
    first = api_a.get("/v1/api_keys", limit=2).json()
    assert len(first["data"]) == 2 and first["has_more"] and first["next_cursor"]
    second = api_a.get("/v1/api_keys", limit=2, cursor=first["next_cursor"]).json()
    assert {k["id"] for k in first["data"]}.isdisjoint({k["id"] for k in second["data"]})


def test_role_change_takes_effect_and_refuses_unknown_roles(tenant_a):
    issued = api_key_issue(tenant=tenant_a.tenant, name="promote", role="viewer")
    api = Api(issued.secret)
    assert api.get("/v1/api_keys").status_code == 403
    api_key_set_role(api_key=issued.api_key, role="admin")
    assert api.get("/v1/api_keys").status_code == 200
    with pytest.raises(ValueError, match="role"):
        api_key_set_role(api_key=issued.api_key, role="owner")


def test_a_deactivated_tenants_keys_are_refused(make_tenant):
    provisioned = make_tenant("keys-off")
    api = Api(provisioned.issued_key.secret)
    assert api.get("/v1/health").status_code == 200
    provisioned.tenant.is_active = False
    provisioned.tenant.save(update_fields=["is_active"])
    assert api.get("/v1/health").status_code == 401
