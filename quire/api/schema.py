"""The OpenAPI schema's error responses: every /v1 error has one shape (`quire.api.errors`), and every
operation documents the statuses it can answer with it."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerExtension

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["type", "code", "message", "param"],
            "properties": {
                "type": {"type": "string"},
                "code": {"type": "string"},
                "message": {"type": "string"},
                "param": {"type": "string", "nullable": True},
            },
        }
    },
}
_DESCRIPTIONS = {
    400: "The request is malformed or a parameter is invalid (`error.param` names it).",
    401: "No API key, or one that is unknown, revoked or expired.",
    402: "The plan does not include this, or its quota is used up.",
    403: "The API key's role does not allow this.",
    404: "No such object in this workspace (in the path, or named in the body).",
    406: "The `Accept` header names no media type this operation answers with.",
    409: "The object is not in a state that allows this, or the Idempotency-Key was used differently.",
    413: "The body or the document is larger than allowed.",
    415: "The body's content type or the document's format is not supported.",
    429: "Rate limited; `Retry-After` says when to try again.",
    502: "The payment provider answered with an error.",
    503: "A service Quire depends on is unavailable or at capacity; `Retry-After` says when to try again.",
    507: "Quire has no room to store the document right now (`storage_full`); try again later.",
}
_RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}
# Statuses only some operations answer, beside those every operation can.
_EXTRA = {
    ("post", "/v1/jobs"): {402},
    ("post", "/v1/documents"): {402, 507},
    ("post", "/v1/billing/checkout_sessions"): {502},
    ("post", "/v1/billing/portal_sessions"): {502},
    ("get", "/v1/billing/upcoming"): {502},
    ("get", "/v1/jobs/{job_id}/result"): {409},
    ("get", "/v1/jobs/{job_id}/result.csv"): {409},
    ("get", "/v1/jobs/{job_id}/result.xlsx"): {409},
}


def _version_header() -> dict:
    from django.conf import settings

    return {
        "in": "header",
        "name": "Quire-Version",
        "required": False,
        "schema": {"type": "string", "enum": list(settings.QUIRE_API_VERSIONS)},
        "description": "The API version this request uses; the key's own version when absent. Another value "
        "is a 400.",
    }


def _statuses(path: str, method: str, operation: dict) -> set[int]:
    statuses = {401, 403, 429, 503} if operation.get("security") != [] else {429, 503}
    if path.startswith("/v1/"):
        statuses |= {400, 406}
    if "{" in path or operation.get("requestBody"):
        statuses.add(404)
    if operation.get("requestBody") or any(p.get("in") == "query" for p in operation.get("parameters", [])):
        statuses.add(400)
    if method in ("post", "patch", "put", "delete"):
        statuses.add(409)
    if operation.get("requestBody"):
        statuses |= {413, 415}
    return statuses | _EXTRA.get((method, path), set())


def add_error_responses(result: dict, generator, request, public: bool) -> dict:
    """drf-spectacular postprocessing hook: the `Error` schema, one response per error status, and a
    reference to each from every operation that can answer it; every /v1 operation takes `Quire-Version`."""
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = ERROR
    responses = components.setdefault("responses", {})
    for status, description in _DESCRIPTIONS.items():
        response = {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        if status in (429, 503):
            response["headers"] = _RETRY_AFTER
        responses[f"Error{status}"] = response
    version = _version_header()
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if path.startswith("/v1/"):
                operation.setdefault("parameters", []).append(version)
            documented = operation.setdefault("responses", {})
            for status in sorted(_statuses(path, method, operation)):
                documented.setdefault(str(status), {"$ref": f"#/components/responses/Error{status}"})
    return result


# OpenAPI links from each create operation's answer to the operations on what it created: the new object's
# `id` is the path parameter. Stateful clients (and schemathesis' stateful tests) follow them.
_LINKS = {
    ("/v1/documents", "post"): (
        "document_id",
        (
            "documents_retrieve",
            "documents_update",
            "documents_text_retrieve",
            "documents_tables_retrieve",
            "documents_destroy",
        ),
    ),
    ("/v1/jobs", "post"): (
        "job_id",
        ("jobs_retrieve", "jobs_update", "jobs_result_retrieve", "jobs_cancel_create"),
    ),
    ("/v1/webhook_endpoints", "post"): (
        "endpoint_id",
        (
            "webhook_endpoints_retrieve",
            "webhook_endpoints_partial_update",
            "webhook_endpoints_deliveries_list",
            "webhook_endpoints_rotate_secret_create",
            "webhook_endpoints_destroy",
        ),
    ),
    ("/v1/api_keys", "post"): ("key_id", ("api_keys_retrieve", "api_keys_destroy")),
}


def add_links(result: dict, generator, request, public: bool) -> dict:
    """drf-spectacular postprocessing hook: `_LINKS` on every 2xx answer of the create operations."""
    known = {
        operation["operationId"]
        for operations in result.get("paths", {}).values()
        for operation in operations.values()
    }
    for (path, method), (parameter, targets) in _LINKS.items():
        operation = result.get("paths", {}).get(path, {}).get(method)
        if operation is None:
            continue
        links = {
            target: {"operationId": target, "parameters": {parameter: "$response.body#/id"}}
            for target in targets
            if target in known
        }
        for status, response in operation.get("responses", {}).items():
            if status.startswith("2") and "$ref" not in response:
                response["links"] = links
    return result


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "quire.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema) -> dict:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "qk_live_..."}


class StrictBody(OpenApiSerializerExtension):
    """A `StrictSerializer` refuses fields it does not know: its schema says `additionalProperties: false`."""

    target_class = "quire.api.serializers.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction) -> dict:
        schema = auto_schema._map_basic_serializer(self.target, direction)
        schema["additionalProperties"] = False
        return schema
