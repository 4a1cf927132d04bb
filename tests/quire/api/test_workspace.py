"""`GET /v1/workspace` and `POST /v1/workspace`: the key's workspace and its settings (retention period, the
languages its scans are read in), read by any key, changed by admin keys, checked by the one service the
portal and the retention command call too, and audited."""

from __future__ import annotations

import pytest
from django.test import override_settings

from tenants.models import AuditEvent, Tenant
from tests.support import Api


@pytest.fixture(scope="module")
def workspace(make_tenant):
    return make_tenant("settings-api")


@pytest.fixture
def admin(workspace) -> Api:
    return Api(workspace.issued_key.secret)


def _key(admin: Api, role: str) -> Api:
    return Api(admin.post("/v1/api_keys", {"name": f"settings-{role}", "role": role}).json()["secret"])


def _stored(workspace) -> tuple[int | None, str, str]:
    tenant = Tenant.objects.get(pk=workspace.tenant.pk)
    return tenant.retention_days, tenant.ocr_languages, tenant.ocr_pictures


@override_settings(QUIRE_INGEST_OCR_LANGUAGES="eng+deu")
def test_any_key_reads_the_workspace_and_an_admin_key_changes_it(workspace, admin: Api):
    viewer = _key(admin, "viewer")
    shown = viewer.get("/v1/workspace").json()
    assert shown["id"] == workspace.tenant.public_id and shown["object"] == "workspace"
    assert (shown["retention_days"], shown["ocr_languages"]) == (None, "")
    assert shown["ocr_languages_available"] == ["eng", "deu"] and shown["ocr_pictures"] == ""

    changed = admin.post("/v1/workspace", {"retention_days": 30, "ocr_languages": "deu+eng"})
    assert changed.status_code == 200, changed.content
    assert (changed.json()["retention_days"], changed.json()["ocr_languages"]) == (30, "deu+eng")
    assert _stored(workspace) == (30, "deu+eng", "")
    assert viewer.get("/v1/workspace").json()["retention_days"] == 30

    kept = admin.post("/v1/workspace", {"ocr_languages": "", "ocr_pictures": "always"}).json()
    assert (kept["retention_days"], kept["ocr_languages"], kept["ocr_pictures"]) == (30, "", "always")
    assert admin.post("/v1/workspace", {"ocr_pictures": ""}).json()["ocr_pictures"] == ""
    assert admin.post("/v1/workspace", {"retention_days": None}).json()["retention_days"] is None

    events = AuditEvent.objects.filter(tenant=workspace.tenant, action__startswith="workspace.").order_by(
        "created_at", "pk"
    )
    assert [(e.action, e.details, e.actor_type) for e in events] == [
        ("workspace.retention_change", {"from": None, "to": 30}, "api_key"),
        ("workspace.ocr_languages_change", {"from": "", "to": "deu+eng"}, "api_key"),
        ("workspace.ocr_languages_change", {"from": "deu+eng", "to": ""}, "api_key"),
        ("workspace.ocr_pictures_change", {"from": "", "to": "always"}, "api_key"),
        ("workspace.ocr_pictures_change", {"from": "always", "to": ""}, "api_key"),
        ("workspace.retention_change", {"from": 30, "to": None}, "api_key"),
    ]

    for role in ("viewer", "developer"):
        refused = _key(admin, role).post("/v1/workspace", {"retention_days": 7})
        assert refused.status_code == 403, (role, refused.content)
    assert _stored(workspace) == (None, "", "")


@pytest.mark.parametrize(
    ("body", "param", "says"),
    [
        ({"retention_days": 0}, "retention_days", "at least one day"),
        ({"retention_days": 36_501}, "retention_days", "at most 36500 days"),
        ({"retention_days": "a month"}, "retention_days", "valid integer"),
        ({"retention_days": 30, "ocr_languages": "fra"}, "ocr_languages", "(eng)"),
        ({"ocr_languages": "eng+"}, "ocr_languages", "joined by '+'"),
        ({"retention_days": 30, "ocr_pictures": "sometimes"}, "ocr_pictures", "textless, always, never"),
        ({"retention": 30}, "retention", 'Did you mean "retention_days"'),
    ],
)
def test_a_refused_setting_says_which_and_changes_nothing(workspace, admin: Api, body, param, says):
    answer = admin.post("/v1/workspace", body)
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert error["param"] == param and says in error["message"], error
    assert _stored(workspace) == (None, "", "")


def test_a_form_body_sets_and_clears_the_retention_period(workspace, admin: Api):
    set_ = admin.client.post("/v1/workspace", {"retention_days": "14"}, **admin._headers(None))
    assert set_.status_code == 200 and set_.json()["retention_days"] == 14
    cleared = admin.client.post("/v1/workspace", {"retention_days": ""}, **admin._headers(None))
    assert cleared.status_code == 200 and cleared.json()["retention_days"] is None
    assert _stored(workspace) == (None, "", "")


def test_each_key_sees_its_own_workspace(tenant_b, workspace, admin: Api):
    admin.post("/v1/workspace", {"retention_days": 5})
    try:
        assert Api(tenant_b.issued_key.secret).get("/v1/workspace").json()["id"] == tenant_b.tenant.public_id
        assert Tenant.objects.get(pk=tenant_b.tenant.pk).retention_days != 5
    finally:
        admin.post("/v1/workspace", {"retention_days": None})
