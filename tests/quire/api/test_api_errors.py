"""Every failure under /v1 answers with the one JSON error shape, never HTML or a trace."""

import json

import pytest
from django.test import override_settings

from tests.support import Api, assert_rate_limited

pytestmark = pytest.mark.usefixtures("tenant_a")


def assert_error(response, status: int, code: str | None = None, param: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"error"}
    error = body["error"]
    assert set(error) == {"type", "code", "message", "param"}
    assert error["message"]
    if code is not None:
        assert error["code"] == code
    if param is not None:
        assert error["param"] == param
    assert response["X-Request-Id"]
    return error


def test_missing_key_is_401(anonymous: Api):
    error = assert_error(anonymous.get("/v1/documents"), 401, "missing_api_key")
    assert error["type"] == "authentication_error"


def test_unknown_key_is_401():
    assert_error(Api("qk_live_not-a-real-key").get("/v1/documents"), 401, "invalid_api_key")


def test_malformed_authorization_is_401():
    response = Api(None).get("/v1/documents", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert_error(response, 401, "invalid_api_key")


def test_unknown_route_is_json_404(api_a: Api):
    error = assert_error(api_a.get("/v1/nothing-here"), 404, "route_missing")
    assert error["type"] == "not_found_error"


@pytest.mark.parametrize(
    ("method", "path"), [("post", "/v1/nothing-here"), ("delete", "/v1/documents/doc_x/retry")]
)
def test_a_write_to_an_unknown_route_is_json_404_not_a_csrf_page(api_a: Api, method: str, path: str):
    from django.test import Client

    checked = Client(enforce_csrf_checks=True, raise_request_exception=False)
    answered = getattr(checked, method)(path, **api_a._headers(None))
    assert answered["Content-Type"] == "application/json", answered.content[:200]
    assert_error(answered, 404, "route_missing")


@pytest.mark.parametrize(
    ("method", "path", "message", "param"),
    [
        ("GET", "/v1/documents/doc_nope", "No document doc_nope.", "document_id"),
        ("POST", "/v1/documents/doc_nope", "No document doc_nope.", "document_id"),
        ("DELETE", "/v1/documents/doc_nope", "No document doc_nope.", "document_id"),
        ("GET", "/v1/jobs/job_nope", "No job job_nope.", "job_id"),
        ("POST", "/v1/jobs/job_nope", "No job job_nope.", "job_id"),
        ("POST", "/v1/jobs/job_nope/cancel", "No job job_nope.", "job_id"),
        ("GET", "/v1/api_keys/key_nope", "No API key key_nope.", "key_id"),
        ("POST", "/v1/api_keys/key_nope", "No API key key_nope.", "key_id"),
        ("DELETE", "/v1/api_keys/key_nope", "No API key key_nope.", "key_id"),
        ("GET", "/v1/events/evt_nope", "No event evt_nope.", "event_id"),
    ],
)
def test_unknown_object_is_404_naming_it_and_its_parameter(api_a: Api, method, path, message, param):
    body = json.dumps({"metadata": {"k": "v"}})
    response = api_a.client.generic(
        method, path, body, content_type="application/json", **api_a._headers(None)
    )
    error = assert_error(response, 404, "resource_missing", param)
    assert error["message"] == message


def test_wrong_method_is_405(api_a: Api):
    assert_error(api_a.request("PUT", "/v1/health"), 405, "method_not_allowed")


def test_viewer_key_cannot_write_403(tenant_a):
    from tenants.services import api_key_issue

    viewer = api_key_issue(tenant=tenant_a.tenant, name="viewer", role="viewer")
    api = Api(viewer.secret)
    assert api.get("/v1/documents").status_code == 200
    error = assert_error(api.post("/v1/documents", {"text": "hello"}), 403, "insufficient_role")
    assert error["type"] == "permission_error"
    assert_error(api.get("/v1/api_keys"), 403, "insufficient_role")


def test_bad_json_is_400(api_a: Api):
    response = api_a.post("/v1/documents", data="{not json", content_type="application/json")
    assert_error(response, 400, "invalid_json")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[" * 10_000 + "]" * 10_000, "nests 10000 levels deep; at most 64 are read"),
        ('{"name": "deep", "role": "viewer", "x": ' + "[" * 64 + "]" * 64 + "}", "nests 65 levels deep"),
        ('{"name": "k", "role": "viewer", "\\ud800": 1}', "lone surrogate \\ud800"),
        ('{"name": "k", "role": "\\udc00"}', "lone surrogate \\udc00"),
        ('{"name": 1e400, "role": "viewer"}', "the number 1e400 is out of range"),
        ('{"name": ' + "9" * 5000 + ', "role": "viewer"}', "(5000 characters) is out of range"),
        ('{"name": NaN, "role": "viewer"}', "NaN is not a JSON number"),
    ],
    ids=["10000-levels", "65-levels", "surrogate-key", "surrogate-choice", "1e400", "5000-digits", "nan"],
)
def test_json_the_api_cannot_keep_is_400_before_any_view_reads_it(api_a: Api, body: str, message: str):
    from tenants.models import ApiKey

    keys = ApiKey.objects.count()
    error = assert_error(api_a.post("/v1/api_keys", data=body), 400, "invalid_json")
    assert message in error["message"] and "sys." not in error["message"]
    assert ApiKey.objects.count() == keys


def test_a_document_sent_as_an_out_of_range_number_is_not_stored_as_inf(api_a: Api):
    assert_error(api_a.post("/v1/documents", data='{"text": 1e400}'), 400, "invalid_json")
    assert_error(api_a.post("/v1/documents", data='{"text": -1e999}'), 400, "invalid_json")


@pytest.mark.parametrize(
    "position", ["[" * 5000 + "]" * 5000, '["2026-12-06T12:00:00Z", "\\ud800"]'], ids=["deep", "surrogate"]
)
def test_a_cursor_holding_json_no_list_hands_out_is_400(api_a: Api, position: str):
    from base64 import urlsafe_b64encode

    cursor = urlsafe_b64encode(position.encode()).decode().rstrip("=")
    for path in ("/v1/documents", "/v1/jobs", "/v1/audit_events"):
        assert_error(api_a.get(path, cursor=cursor), 400, "invalid_parameter", "cursor")


def test_unknown_field_is_400_with_param(api_a: Api):
    response = api_a.post("/v1/documents", {"text": "hello", "colour": "blue"})
    error = assert_error(response, 400, "unknown_field", "colour")
    assert error["message"].startswith('Unknown field "colour". The fields are: ')
    assert "text" in error["message"] and "Did you mean" not in error["message"]


def test_unknown_field_names_the_close_one(api_a: Api):
    response = api_a.post("/v1/jobs", {"connector": "legal", "document_ids": ["doc_x"]})
    error = assert_error(response, 400, "unknown_field", "document_ids")
    assert 'Did you mean "documents"?' in error["message"]
    assert "connector, documents, options, mode, metadata" in error["message"]


def test_missing_field_is_400_with_param(api_a: Api):
    assert_error(api_a.post("/v1/documents", {"filename": "a.txt"}), 400, "required", "text")


@override_settings(QUIRE_MAX_REQUEST_BYTES=1024)
def test_oversized_body_is_413(api_a: Api):
    response = api_a.post("/v1/documents", {"text": "x" * 5000})
    assert_error(response, 413, "request_too_large")


@override_settings(QUIRE_MAX_REQUEST_BYTES=1024, SECURE_HSTS_SECONDS=3600)
def test_answers_given_before_the_security_middleware_carry_its_headers(api_a: Api):
    """A body over the limit and a NUL in a query parameter are answered by middleware that runs before
    Django's SecurityMiddleware; on HTTPS they carry HSTS and every answer `nosniff`, as the rest do."""
    answers = [
        api_a.post("/v1/documents", {"text": "x" * 5000}, secure=True),
        api_a.request("GET", "/v1/documents", data={"status": "a\x00b"}, secure=True),
        api_a.request("GET", "/v1/documents", secure=True),
    ]
    assert [answer.status_code for answer in answers] == [413, 400, 200]
    for answer in answers:
        assert answer["X-Content-Type-Options"] == "nosniff"
        assert answer["Strict-Transport-Security"] == "max-age=3600"
        assert answer["Referrer-Policy"] == "same-origin"


def test_unsupported_media_type_is_415(api_a: Api):
    response = api_a.post("/v1/documents", data="<a/>", content_type="application/xml")
    assert_error(response, 415, "unsupported_media_type")


@pytest.mark.parametrize("path", ["/v1/documents", "/v1/api_keys"])
@pytest.mark.parametrize("content_type", ["multipart/form-data", "multipart/form-data; boundary="])
def test_a_multipart_body_without_a_boundary_is_400(api_a: Api, path: str, content_type: str):
    response = api_a.post(path, data="--x\r\n", content_type=content_type)
    error = assert_error(response, 400, "invalid_json")
    assert error["message"].startswith("Multipart form parse error - Invalid boundary")


def test_rate_limit_is_429_with_retry_after_until_the_window_ends(tenant_a, limiter_clock):
    from django.conf import settings

    from tenants.services import api_key_issue

    rest = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": "3/day"}}
    api = Api(api_key_issue(tenant=tenant_a.tenant, name="throttled").secret)
    limiter_clock.advance(86400 - 10)
    with override_settings(REST_FRAMEWORK=rest):
        refused = assert_rate_limited(api, 3)
        assert_error(refused, 429, "rate_limited")
        assert refused["Retry-After"] == "10"
        limiter_clock.advance(10)
        assert api.get("/v1/documents").status_code == 200


def test_unhandled_exception_is_json_500(api_a: Api, monkeypatch):
    from quire.api import views

    def explode():
        raise RuntimeError("boom: secret detail")

    monkeypatch.setattr(views, "check_dependencies", explode)
    response = api_a.get("/v1/health")
    error = assert_error(response, 500, "internal_error")
    assert "boom" not in json.dumps(error)


def test_request_id_is_echoed_when_well_formed(api_a: Api):
    response = api_a.get("/v1/health", headers={"X-Request-Id": "trace-1234567890"})
    assert response["X-Request-Id"] == "trace-1234567890"
    generated = api_a.get("/v1/health", headers={"X-Request-Id": "bad id with spaces"})
    assert generated["X-Request-Id"].startswith("req_")


def test_openapi_schema_is_served(anonymous: Api):
    response = anonymous.get("/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/v1/documents" in schema["paths"]
    for resource in ("Document", "Job", "ApiKey", "Endpoint", "Delivery"):
        assert schema["components"]["schemas"][resource]["properties"]["object"] == {
            "type": "string",
            "readOnly": True,
        }
    docs = anonymous.get("/v1/docs")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()


def test_health_checks_dependencies(api_a: Api, tenant_a):
    response = api_a.get("/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["tenant"] == tenant_a.tenant.public_id
    assert {name for name, check in body["checks"].items() if check["ok"]} == {"database", "redis", "broker"}


def test_a_failing_dependency_is_a_503_to_retry_naming_what_failed_not_where(api_a: Api, monkeypatch):
    from redis.exceptions import ConnectionError as RedisConnectionError

    from quire.api import health

    def refused() -> None:
        raise RedisConnectionError("Error 111 connecting to 10.1.2.3:6379. Connection refused.")

    monkeypatch.setattr(health, "_redis", refused)
    response = api_a.get("/v1/health")
    assert response.status_code == 503 and response["Retry-After"]
    body = response.json()
    assert body["error"]["code"] == "dependency_unavailable" and "redis" in body["error"]["message"]
    assert body["checks"]["redis"] == {"ok": False, "error": "ConnectionError"}
    assert "10.1.2.3" not in response.content.decode()


def test_sliding_window_has_no_doubled_burst_at_a_window_edge(limiter_clock):
    import uuid

    from quire.api.throttling import hit_sliding

    key = f"edge:{uuid.uuid4().hex}"
    limiter_clock.advance(59.5)
    assert [hit_sliding(key, 3, 60)[0] for _ in range(3)] == [True, True, True]
    limiter_clock.advance(1)  # past a minute's edge, where a fixed window would count from zero again
    assert hit_sliding(key, 3, 60) == (False, 60)
    limiter_clock.advance(58.9)  # the first three are 59.9 s old: still in the window
    assert not hit_sliding(key, 3, 60)[0]
    limiter_clock.advance(0.2)  # and now 60.1 s old: out of it
    assert hit_sliding(key, 3, 60)[0]


@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        ("/v1/documents", {"cursor": "cD0yMDI2"}, "cursor"),
        ("/v1/jobs", {"cursor": "cD14"}, "cursor"),
        ("/v1/jobs", {"limit": "²"}, "limit"),
        ("/v1/documents", {"metadata[k]": "a\x00"}, "metadata[k]"),
        ("/v1/documents", {"batch_id": "\x00"}, "batch_id"),
        ("/v1/audit_events", {"actor_id": "x\x00"}, "actor_id"),
        ("/v1/usage", {"to": "0001-01-01"}, "to"),
    ],
)
def test_values_postgresql_cannot_take_are_400_naming_them(api_a: Api, path, params, param):
    assert_error(api_a.get(path, **params), 400, "invalid_parameter", param)


def test_an_id_with_a_nul_character_is_404(api_a: Api):
    assert_error(api_a.get("/v1/documents/doc_%00"), 404, "resource_missing")
    assert api_a.client.get("/documents/doc_%00").status_code == 404


def test_a_value_postgresql_refuses_is_400_not_500(api_a: Api, monkeypatch):
    from django.db import DataError

    from quire.api import views

    def refuse():
        raise DataError("integer out of range")

    monkeypatch.setattr(views, "check_dependencies", refuse)
    assert_error(api_a.get("/v1/health"), 400, "invalid_parameter")


def test_a_refused_choice_is_quoted_shortened_not_echoed_whole(api_a: Api):
    error = assert_error(
        api_a.post("/v1/api_keys", {"name": "huge", "role": ["admin"] * 20_000}),
        400,
        "invalid_choice",
        "role",
    )
    assert len(error["message"]) < 300 and "characters)" in error["message"], error["message"][:300]
    short = assert_error(api_a.post("/v1/api_keys", {"name": "typo", "role": "amdin"}), 400, param="role")
    assert short["message"].startswith('"amdin" is not one of: ')
