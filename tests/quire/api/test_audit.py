"""The audit log: what the services record (who, what, when, from where), `GET /v1/audit_events` with its
filters and cursor, the CSV export, and PostgreSQL refusing to change or delete an event."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import DatabaseError, connection, transaction

from tenants.models import AuditEvent
from tests.support import Api

REQUEST_ID = "req-audit-test-0001"


def _events(tenant, **filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(tenant=tenant, **filters).order_by("created_at", "pk"))


def test_services_record_who_what_and_from_where(tenant_a, api_a: Api):
    tenant, admin_key = tenant_a.tenant, tenant_a.issued_key.api_key
    headers = {"X-Request-Id": REQUEST_ID}
    issued = api_a.post("/v1/api_keys", {"name": "audited", "role": "viewer"}, headers=headers).json()
    assert api_a.delete(f"/v1/api_keys/{issued['id']}", headers=headers).status_code == 200
    document = api_a.post("/v1/documents", {"text": "An audited document.", "filename": "a.txt"}).json()
    assert api_a.delete(f"/v1/documents/{document['id']}").status_code == 200
    endpoint = api_a.post(
        "/v1/webhook_endpoints", {"url": "https://93.184.215.14/hook", "event_types": ["job.succeeded"]}
    ).json()
    assert api_a.post(f"/v1/webhook_endpoints/{endpoint['id']}/rotate_secret", {}).status_code == 200

    issue, revoke = _events(tenant, object_id=issued["id"])
    assert (issue.action, revoke.action) == ("api_key.issue", "api_key.revoke")
    assert issue.details == {"name": "audited", "role": "viewer"}
    for event in (issue, revoke):
        assert (event.actor_type, event.actor_id, event.actor_label) == ("api_key", admin_key.pk, "admin")
        assert event.ip == "127.0.0.1" and event.request_id == REQUEST_ID
    assert [e.action for e in _events(tenant, object_id=document["id"])] == [
        "document.create",
        "document.delete",
    ]
    assert [e.action for e in _events(tenant, object_id=endpoint["id"])] == [
        "webhook_endpoint.create",
        "webhook_endpoint.secret_rotate",
    ]
    assert not any(endpoint["secret"] in str(e.details) for e in _events(tenant))


def test_the_actor_ends_with_its_request(tenant_a, api_a: Api):
    from tenants.audit import audit_origin

    assert api_a.get("/v1/documents").status_code == 200
    origin = audit_origin()
    assert (origin.actor_type, origin.actor_id, origin.request_id) == ("system", "", "")


def test_list_filters_cursor_and_admin_only(tenant_a, api_a: Api):
    for name in ("one", "two", "three"):
        api_a.post("/v1/api_keys", {"name": f"listed-{name}", "role": "viewer"})
    page = api_a.get("/v1/audit_events", action="api_key.issue", limit=2).json()
    assert len(page["data"]) == 2 and page["has_more"]
    assert [e["details"]["name"] for e in page["data"]] == ["listed-three", "listed-two"]
    assert page["data"][0]["object"] == "audit_event" and page["data"][0]["actor"]["type"] == "api_key"
    following = api_a.get("/v1/audit_events", action="api_key.issue", limit=2, cursor=page["next_cursor"])
    assert following.json()["data"][0]["details"]["name"] == "listed-one"
    by_object = api_a.get("/v1/audit_events", object_id=page["data"][0]["object_id"]).json()["data"]
    assert [e["action"] for e in by_object] == ["api_key.issue"]
    assert api_a.get("/v1/audit_events", action="nope").json()["error"]["param"] == "action"
    assert api_a.get("/v1/audit_events", **{"created[gte]": "2999-01-01"}).json()["data"] == []
    developer = api_a.post("/v1/api_keys", {"name": "dev", "role": "developer"}).json()["secret"]
    assert Api(developer).get("/v1/audit_events").status_code == 403


def test_csv_export_is_recorded(tenant_a, api_a: Api):
    api_a.post("/v1/api_keys", {"name": "=HYPERLINK(1)", "role": "viewer"})
    response = api_a.get("/v1/audit_events/export", action="api_key.issue")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows and {row["action"] for row in rows} == {"api_key.issue"}
    assert any('"name": "=HYPERLINK(1)"' in row["details"] for row in rows)
    export = _events(tenant_a.tenant, action="export.create")[-1]
    assert export.details == {"what": "audit_events", "format": "csv", "rows": len(rows)}


def test_events_cannot_be_changed_or_deleted(tenant_a):
    event = _events(tenant_a.tenant)[0]
    for statement in (
        "UPDATE tenants_auditevent SET action = 'forged' WHERE id = %s",
        "DELETE FROM tenants_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == event.action


def test_head_needs_the_role_get_needs(tenant_a):
    from tenants.services import api_key_issue

    viewer = Api(api_key_issue(tenant=tenant_a.tenant, name="head-viewer", role="viewer").secret)
    exports = AuditEvent.objects.filter(tenant=tenant_a.tenant, action="export.create").count()
    admin_key = tenant_a.issued_key.api_key.id
    for path in ("/v1/api_keys", f"/v1/api_keys/{admin_key}", "/v1/audit_events", "/v1/audit_events/export"):
        assert viewer.request("HEAD", path).status_code == 403, path
        assert viewer.get(path).status_code == 403, path
    assert viewer.request("HEAD", "/v1/documents").status_code == 200
    assert AuditEvent.objects.filter(tenant=tenant_a.tenant, action="export.create").count() == exports
