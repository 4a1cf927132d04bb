"""Dated API versions: each key records the version current at its creation, a request may ask for another
with `Quire-Version`, every /v1 response says which one it used, and an unknown one is a 400."""

import re

from django.test import override_settings

from tenants.services import api_key_issue
from tests.support import Api

FIRST, CURRENT = "2026-12-01", "2026-12-08"
LATER = (FIRST, "2026-12-05", "2026-12-06", "2026-12-07", CURRENT, "2099-01-01")


def test_every_v1_response_carries_the_version(api_a: Api, anonymous: Api):
    for response in (
        api_a.get("/v1/health"),
        api_a.get("/v1/nothing-here"),
        api_a.get("/v1/documents/doc_doesnotexist"),
        anonymous.get("/v1/documents"),
    ):
        assert response["Quire-Version"] == CURRENT, response.content


def test_a_key_shows_the_version_it_was_created_with(api_a: Api):
    created = api_a.post("/v1/api_keys", {"name": "versioned"})
    assert created.status_code == 201, created.content
    assert created.json()["version"] == CURRENT
    assert api_a.get(f"/v1/api_keys/{created.json()['id']}").json()["version"] == CURRENT


def test_a_key_keeps_its_version_after_a_newer_one_and_the_header_overrides_it(tenant_a):
    old = Api(api_key_issue(tenant=tenant_a.tenant, name="old", role="viewer").secret)
    with override_settings(QUIRE_API_VERSIONS=LATER):
        new_issued = api_key_issue(tenant=tenant_a.tenant, name="new", role="viewer")
        assert new_issued.api_key.version == "2099-01-01"
        new = Api(new_issued.secret)
        assert old.get("/v1/health")["Quire-Version"] == CURRENT
        assert new.get("/v1/health")["Quire-Version"] == "2099-01-01"
        assert old.get("/v1/health", headers={"Quire-Version": "2099-01-01"})["Quire-Version"] == "2099-01-01"
        assert new.get("/v1/health", headers={"Quire-Version": FIRST})["Quire-Version"] == FIRST
        assert Api(None).get("/v1/health")["Quire-Version"] == "2099-01-01"


def test_an_unknown_version_is_a_400(api_a: Api):
    for asked in ("2020-01-01", "latest", "2026-12-1"):
        response = api_a.get("/v1/health", headers={"Quire-Version": asked})
        assert response.status_code == 400, response.content
        assert response["Quire-Version"] == CURRENT
        assert response["X-Request-Id"]
        error = response.json()["error"]
        assert error["code"] == "invalid_parameter" and error["param"] == "Quire-Version"
        assert error["type"] == "invalid_request_error" and FIRST in error["message"]


def test_every_version_has_a_changelog_entry():
    from django.conf import settings

    from tests.support.paths import ROOT

    changelog = (ROOT / "docs" / "versioning.md").read_text(encoding="utf-8").split("## Changelog", 1)[1]
    assert settings.QUIRE_API_VERSIONS[-1] == CURRENT
    for version in settings.QUIRE_API_VERSIONS:
        assert f"- **{version}**:" in changelog, version
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.findall(r"\(current:\s*`([\d-]+)`", readme) == [CURRENT]


PREVIOUS = "2026-12-06"


def _refused(response, code: str, param: str | None = None) -> str:
    assert response.status_code == 400, response.content
    assert response["Quire-Version"] == CURRENT
    error = response.json()["error"]
    assert (error["code"], error["param"]) == (code, param), error
    return error["message"]


def test_a_json_object_naming_a_key_twice_is_refused_from_2026_12_07(api_a: Api):
    twice = '{"name": "twice", "role": "viewer", "role": "admin"}'
    message = _refused(api_a.post("/v1/api_keys", data=twice), "invalid_json")
    assert '"role"' in message
    nested = '{"text": "hello", "metadata": {"deal": "a", "deal": "b"}}'
    assert '"deal"' in _refused(api_a.post("/v1/documents", data=nested), "invalid_json")
    assert api_a.post("/v1/documents", data='[{"a": 1}, {"a": 2}]').json()["error"]["code"] != "invalid_json"

    older = api_a.post("/v1/api_keys", data=twice, headers={"Quire-Version": PREVIOUS})
    assert older.status_code == 201, older.content
    assert older["Quire-Version"] == PREVIOUS and older.json()["role"] == "admin"


def test_a_list_filter_given_twice_or_empty_is_refused_from_2026_12_07(api_a: Api):
    asked = [
        ("/v1/documents", "status", {"status": ["ready", "failed"]}),
        ("/v1/documents", "batch_id", {"batch_id": ""}),
        ("/v1/documents", "batch_id", {"batch_id": ["bat_1", "bat_2"]}),
        ("/v1/documents", "parent", {"parent": ""}),
        ("/v1/documents", "metadata[deal]", {"metadata[deal]": ["a", "b"]}),
        ("/v1/jobs", "created[gte]", {"created[gte]": ["0", "1"]}),
        ("/v1/audit_events", "actor_id", {"actor_id": ["a", "b"]}),
        ("/v1/events", "type", {"type": ["job.succeeded", "job.failed"]}),
    ]
    for path, param, params in asked:
        message = _refused(api_a.get(path, **params), "invalid_parameter", param)
        assert param in message
        older = api_a.get(path, headers={"Quire-Version": PREVIOUS}, **params)
        assert older.status_code == 200, (path, older.content)
    assert api_a.get("/v1/documents", status="ready", batch_id="bat_1").status_code == 200


def test_a_revoked_keys_role_and_version_stay_as_they_were_from_2026_12_08(api_a: Api, tenant_a):
    revoked = api_key_issue(tenant=tenant_a.tenant, name="revoked", role="viewer").api_key
    assert api_a.delete(f"/v1/api_keys/{revoked.pk}").status_code == 200
    refused = api_a.post(f"/v1/api_keys/{revoked.pk}", {"version": FIRST})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "api_key_revoked", (
        refused.content
    )
    assert api_a.post(f"/v1/api_keys/{revoked.pk}", {"role": "admin"}).status_code == 409
    revoked.refresh_from_db()
    assert (revoked.role, revoked.version) == ("viewer", CURRENT)
    older = api_a.post(
        f"/v1/api_keys/{revoked.pk}", {"version": FIRST}, headers={"Quire-Version": "2026-12-07"}
    )
    assert older.status_code == 200 and older.json()["version"] == FIRST
