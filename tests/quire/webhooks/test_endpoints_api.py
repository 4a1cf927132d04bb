"""`/v1/webhook_endpoints` and `/v1/events` through the API, without a worker."""

from __future__ import annotations

from django.test import override_settings
from django_tenants.utils import tenant_context

from tests.support import Api


def test_create_shows_the_secret_once_and_validates(api_hooks: Api, endpoints, receiver):
    created = endpoints(receiver.url, ["job.succeeded", "document.ready"], description="CRM sync")
    assert created["id"].startswith("whk_") and created["object"] == "webhook_endpoint"
    assert created["secret"].startswith("whsec_") and created["status"] == "enabled"
    fetched = api_hooks.get(f"/v1/webhook_endpoints/{created['id']}").json()
    assert "secret" not in fetched and fetched["event_types"] == ["job.succeeded", "document.ready"]
    listed = api_hooks.get("/v1/webhook_endpoints").json()
    assert created["id"] in [e["id"] for e in listed["data"]] and set(listed) == {
        "data",
        "has_more",
        "next_cursor",
    }

    unknown = api_hooks.post("/v1/webhook_endpoints", {"url": receiver.url, "event_types": ["job.exploded"]})
    assert unknown.status_code == 400
    assert unknown.json()["error"] == {
        "type": "invalid_request_error",
        "code": "unknown_event_type",
        "message": unknown.json()["error"]["message"],
        "param": "event_types.0",
    }
    none = api_hooks.post("/v1/webhook_endpoints", {"url": receiver.url, "event_types": []})
    assert none.status_code == 400 and none.json()["error"]["message"] == "Name at least one event type."
    typo = api_hooks.post("/v1/webhook_endpoints", {"url": receiver.url, "event_types": ["*"], "secret": "x"})
    assert typo.status_code == 400 and typo.json()["error"]["code"] == "unknown_field"
    not_http = api_hooks.post("/v1/webhook_endpoints", {"url": "ftp://example.com/", "event_types": ["*"]})
    assert not_http.status_code == 400 and not_http.json()["error"]["param"] == "url"


def test_ssrf_urls_are_refused_in_production(api_hooks: Api):
    with override_settings(QUIRE_WEBHOOKS_ALLOW_PRIVATE=False):
        for url in ("http://169.254.169.254/", "http://10.0.0.1/", "http://localhost:8080/hooks"):
            response = api_hooks.post("/v1/webhook_endpoints", {"url": url, "event_types": ["*"]})
            assert response.status_code == 400, url
            assert (
                response.json()["error"]["code"] == "url_not_allowed"
                and response.json()["error"]["param"] == "url"
            )


def test_patch_delete_and_roles(api_hooks: Api, endpoints, receiver, hooks_tenant, api_a: Api):
    from tenants.services import api_key_issue

    created = endpoints(receiver.url, ["*"])
    path = f"/v1/webhook_endpoints/{created['id']}"
    patched = api_hooks.request(
        "patch", path, data={"event_types": ["job.failed"], "enabled": False}, content_type="application/json"
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["event_types"] == ["job.failed"] and patched.json()["status"] == "disabled"
    stored = api_hooks.get(path).json()
    assert stored["event_types"] == ["job.failed"] and stored["disabled_reason"] == "disabled through the API"
    enabled = api_hooks.request("patch", path, data={"enabled": True}, content_type="application/json")
    assert enabled.json()["status"] == "enabled" and enabled.json()["disabled_reason"] == ""

    developer = Api(api_key_issue(tenant=hooks_tenant.tenant, name="dev", role="developer").secret)
    assert developer.get(path).status_code == 200
    refused = developer.post("/v1/webhook_endpoints", {"url": receiver.url, "event_types": ["*"]})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_role"
    assert developer.delete(path).status_code == 403
    assert api_a.get(path).status_code == 404

    assert api_hooks.delete(path).json() == {
        "id": created["id"],
        "object": "webhook_endpoint",
        "deleted": True,
    }
    assert api_hooks.get(path).status_code == 404


def test_a_form_patch_without_enabled_leaves_the_endpoint_enabled(api_hooks: Api, endpoints, receiver):
    from urllib.parse import urlencode

    from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

    path = f"/v1/webhook_endpoints/{endpoints(receiver.url, ['*'])['id']}"
    form = "application/x-www-form-urlencoded"
    patched = api_hooks.request(
        "patch", path, data=urlencode([("event_types", "job.failed")]), content_type=form
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["event_types"] == ["job.failed"] and patched.json()["status"] == "enabled"
    multipart = api_hooks.request(
        "patch", path, data=encode_multipart(BOUNDARY, {"description": "CRM"}), content_type=MULTIPART_CONTENT
    )
    assert multipart.status_code == 200, multipart.content
    assert multipart.json()["description"] == "CRM" and multipart.json()["status"] == "enabled"
    assert multipart.json()["event_types"] == ["job.failed"]
    assert api_hooks.get(path).json()["status"] == "enabled"

    disabled = api_hooks.request("patch", path, data="enabled=false", content_type=form)
    assert disabled.json()["status"] == "disabled" and disabled.json()["event_types"] == ["job.failed"]
    assert (
        api_hooks.request("patch", path, data="enabled=true", content_type=form).json()["status"] == "enabled"
    )


def test_rotation_returns_a_new_secret_and_keeps_the_old_one_for_the_grace_period(
    api_hooks: Api, endpoints, receiver, hooks_tenant
):
    from quire.webhooks.models import WebhookEndpoint
    from quire.webhooks.services import signing_secrets

    created = endpoints(receiver.url, ["*"])
    path = f"/v1/webhook_endpoints/{created['id']}/rotate_secret"
    rotated = api_hooks.post(path, {"grace_period_seconds": 3600})
    assert rotated.status_code == 200 and rotated.json()["secret"] != created["secret"]
    assert rotated.json()["previous_secret_expires_at"]
    with tenant_context(hooks_tenant.tenant):
        endpoint = WebhookEndpoint.objects.get(pk=created["id"])
        assert signing_secrets(endpoint) == [rotated.json()["secret"], created["secret"]]
    too_long = api_hooks.post(path, {"grace_period_seconds": 8 * 86400})
    assert too_long.status_code == 400 and too_long.json()["error"]["param"] == "grace_period_seconds"
    immediate = api_hooks.post(path, {"grace_period_seconds": 0}).json()
    with tenant_context(hooks_tenant.tenant):
        assert signing_secrets(WebhookEndpoint.objects.get(pk=created["id"])) == [immediate["secret"]]


def test_events_list_and_missing_objects(api_hooks: Api, hooks_tenant):
    from quire.webhooks.services import event_publish

    with tenant_context(hooks_tenant.tenant):
        event = event_publish(event_type="usage.threshold", data={"metric": "pages", "percent": 80})
    listed = api_hooks.get("/v1/events", type="usage.threshold").json()["data"]
    assert listed[0]["id"] == event.id and listed[0]["data"] == {"metric": "pages", "percent": 80}
    assert api_hooks.get("/v1/events", type="nope").status_code == 400
    assert api_hooks.get(f"/v1/events/{event.id}").json()["type"] == "usage.threshold"
    assert api_hooks.post("/v1/events/evt_missing/replay").status_code == 404
    no_target = api_hooks.post(f"/v1/events/{event.id}/replay")
    assert no_target.status_code == 409 and no_target.json()["error"]["code"] == "no_endpoints"
    assert api_hooks.post("/v1/webhook_endpoints/whk_missing/test").status_code == 404


def test_a_list_that_takes_no_creation_or_metadata_filter_refuses_one(api_hooks: Api):
    """A filter the list cannot read is refused, never ignored, as on the lists that do take them."""
    for path in ("/v1/events", "/v1/webhook_endpoints", "/v1/api_keys"):
        for param, value in (
            ("created[gte]", "garbage"),
            ("created[gte]", "1700000000"),
            ("metadata[x]", "y"),
        ):
            refused = api_hooks.get(path, **{param: value})
            assert refused.status_code == 400, (path, param)
            assert refused.json()["error"]["param"] == param
            assert f"This list cannot be filtered by {param}." == refused.json()["error"]["message"]
    assert api_hooks.get("/v1/events", type="usage.threshold").status_code == 200
    assert api_hooks.get("/v1/documents", **{"created[gte]": "1700000000"}).status_code == 200


def test_openapi_describes_the_webhook_routes(anonymous):
    paths = anonymous.get("/v1/openapi.json").json()["paths"]
    assert {"post", "get"} <= set(paths["/v1/webhook_endpoints"])
    assert {"get", "patch", "delete"} <= set(paths["/v1/webhook_endpoints/{endpoint_id}"])
    assert "post" in paths["/v1/events/{event_id}/replay"]


def test_a_replay_to_a_named_endpoint_sends_it_an_event_of_a_type_it_does_not_take(
    api_hooks: Api, endpoints, receiver, hooks_tenant
):
    from quire.webhooks.services import event_publish

    jobs_only = endpoints(receiver.url, ["job.succeeded"])
    with tenant_context(hooks_tenant.tenant):
        ready = event_publish(event_type="document.ready", data={"id": "doc_replayed"}, endpoints=[])

    unnamed = api_hooks.post(f"/v1/events/{ready.id}/replay", {})
    assert unnamed.status_code == 409 and unnamed.json()["error"]["code"] == "no_endpoints", unnamed.content
    named = api_hooks.post(f"/v1/events/{ready.id}/replay", {"endpoint": jobs_only["id"]})
    assert named.status_code == 202, named.content
    assert [d["endpoint"] for d in named.json()["data"]] == [jobs_only["id"]]


def test_a_workspace_at_its_endpoint_limit_is_refused_a_new_one_until_it_deletes_one(make_tenant, receiver):
    from quire.webhooks.services.endpoints import MAX_ENDPOINTS
    from tests.quire.api.test_api_errors import assert_error

    api = Api(make_tenant("hooks-limit").issued_key.secret)
    body = {"url": receiver.url, "event_types": ["job.succeeded"]}
    made = [api.post("/v1/webhook_endpoints", body) for _ in range(MAX_ENDPOINTS)]
    assert {response.status_code for response in made} == {201}
    refused = assert_error(api.post("/v1/webhook_endpoints", body), 409, "limit_reached")
    assert (
        refused["message"]
        == f"A workspace has at most {MAX_ENDPOINTS} webhook endpoints; delete one to add another."
    )
    assert len(api.get("/v1/webhook_endpoints", limit=100).json()["data"]) == MAX_ENDPOINTS
    assert api.delete(f"/v1/webhook_endpoints/{made[0].json()['id']}").status_code == 200
    assert api.post("/v1/webhook_endpoints", body).status_code == 201
