"""API keys: prefixed ids, shown once, stored hashed, revocable, last-used timestamp."""

import threading

import pytest
from django.db import connection

from common.refusals import Refusal
from tenants.models import ApiKey, AuditEvent
from tenants.services import api_key_issue, api_key_update
from tests.support import Api
from tests.support.concurrency import Side


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
    api_key_update(api_key=issued.api_key, role="admin")
    assert api.get("/v1/api_keys").status_code == 200
    with pytest.raises(Refusal) as refused:
        api_key_update(api_key=issued.api_key, role="owner")
    assert refused.value.param == "role"
    with pytest.raises(Refusal):
        api_key_issue(tenant=tenant_a.tenant, name="owner key", role="owner")


def test_a_deactivated_tenants_keys_are_refused(make_tenant):
    provisioned = make_tenant("keys-off")
    api = Api(provisioned.issued_key.secret)
    assert api.get("/v1/health").status_code == 200
    provisioned.tenant.is_active = False
    provisioned.tenant.save(update_fields=["is_active"])
    assert api.get("/v1/health").status_code == 401


def test_an_admin_moves_a_key_to_another_version_and_role_through_the_api(tenant_a, api_a: Api):
    from tenants.models import AuditEvent

    issued = api_key_issue(tenant=tenant_a.tenant, name="upgrade me", role="developer")
    issued.api_key.version = "2026-12-01"
    issued.api_key.save(update_fields=["version"])
    key = Api(issued.secret)
    assert key.get("/v1/health")["Quire-Version"] == "2026-12-01"

    path = f"/v1/api_keys/{issued.api_key.pk}"
    assert key.post(path, {"version": "2026-12-05"}).status_code == 403
    unknown = api_a.post(path, {"version": "2027-01-01"})
    assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "version"
    assert api_a.post(path, {"role": "owner"}).json()["error"]["param"] == "role"
    assert api_a.post(path, {"name": "renamed"}).json()["error"]["param"] == "name"

    updated = api_a.post(path, {"version": "2026-12-05", "role": "viewer"})
    assert updated.status_code == 200, updated.content
    assert (updated.json()["version"], updated.json()["role"]) == ("2026-12-05", "viewer")
    assert key.get("/v1/health")["Quire-Version"] == "2026-12-05"
    assert key.post("/v1/documents", {}).status_code == 403
    changes = AuditEvent.objects.filter(object_id=issued.api_key.pk).exclude(action="api_key.issue")
    assert {(e.action, e.details["from"], e.details["to"]) for e in changes} == {
        ("api_key.version_change", "2026-12-01", "2026-12-05"),
        ("api_key.role_change", "developer", "viewer"),
    }
    with pytest.raises(Refusal):
        api_key_update(api_key=ApiKey.objects.get(pk=issued.api_key.pk), version="latest")


def _at_once(monkeypatch, *calls) -> list:
    """Each call (an API request on one key) in a thread of its own, every one of them past reading the key before
    any writes."""
    from quire.api.views import ApiKeyDetailView

    read = threading.Barrier(len(calls))
    real = ApiKeyDetailView.get_object

    def get_object(view):
        api_key = real(view)
        read.wait(10)
        return api_key

    monkeypatch.setattr(ApiKeyDetailView, "get_object", get_object)
    sides = [Side(call) for call in calls]
    return [side.result() for side in sides]


def test_two_revokes_at_once_keep_the_first_time_and_record_one_revoke(api_a: Api, monkeypatch):
    key = api_a.post("/v1/api_keys", {"name": "revoked twice"}).json()
    path = f"/v1/api_keys/{key['id']}"
    answers = _at_once(monkeypatch, *[lambda: Api(api_a.secret).delete(path)] * 2)
    assert [a.status_code for a in answers] == [200, 200]
    stored = ApiKey.objects.get(pk=key["id"]).revoked_at.isoformat().replace("+00:00", "Z")
    assert {a.json()["revoked_at"] for a in answers} == {stored}
    assert AuditEvent.objects.filter(object_id=key["id"], action="api_key.revoke").count() == 1


def test_two_role_changes_at_once_are_audited_from_what_each_found(api_a: Api, monkeypatch):
    key = api_a.post("/v1/api_keys", {"name": "two admins", "role": "developer"}).json()
    path = f"/v1/api_keys/{key['id']}"
    answers = _at_once(
        monkeypatch,
        lambda: Api(api_a.secret).post(path, {"role": "admin"}),
        lambda: Api(api_a.secret).post(path, {"role": "viewer"}),
    )
    assert [a.status_code for a in answers] == [200, 200]
    changes = AuditEvent.objects.filter(object_id=key["id"], action="api_key.role_change").order_by(
        "created_at"
    )
    (first, second) = [(e.details["from"], e.details["to"]) for e in changes]
    assert first[0] == "developer" and second[0] == first[1] != second[1]
    assert ApiKey.objects.get(pk=key["id"]).role == second[1]


def test_a_workspace_at_its_key_limit_is_refused_a_new_one_until_it_revokes_one(make_tenant, monkeypatch):
    from tenants import services
    from tests.quire.api.test_api_errors import assert_error

    monkeypatch.setattr(services, "MAX_ACTIVE_API_KEYS", 3)
    api = Api(make_tenant("keys-limit").issued_key.secret)
    made = [api.post("/v1/api_keys", {"name": f"key {n}"}) for n in range(2)]
    assert {response.status_code for response in made} == {201}
    refused = assert_error(api.post("/v1/api_keys", {"name": "one too many"}), 409, "limit_reached")
    assert refused["message"] == "A workspace has at most 3 active API keys; revoke one to issue another."
    assert not ApiKey.objects.filter(name="one too many").exists()
    assert api.delete(f"/v1/api_keys/{made[0].json()['id']}").status_code == 200
    assert api.post("/v1/api_keys", {"name": "in its place"}).status_code == 201
