"""Answers the generated requests of `test_schema_conformance.py` rarely or never give, checked against the
served schema in process: a 406 for an `Accept` no operation answers, and the bodies of usage, the invoice
preview and health, whose every field the schema names."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from schemathesis.core.transport import Response

from tests.support import Api


@pytest.fixture(scope="module")
def served(tenant_a) -> dict:
    return Api(None).get("/v1/openapi.json").json()


def _resolved(node, components: dict):
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            return _resolved(components[name], components)
        return {key: _resolved(value, components) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolved(item, components) for item in node]
    return node


def _body_schema(served: dict, path: str, method: str, status: int) -> dict:
    response = served["paths"][path][method]["responses"][str(status)]
    response = _resolved(response, {**served["components"]["responses"], **served["components"]["schemas"]})
    return response["content"]["application/json"]["schema"]


def _conforms(served: dict, path: str, method: str, answer) -> None:
    """Schemathesis' own response checks (status, content type, headers, body) on a test client's answer."""
    operation = schemathesis.openapi.from_dict(served)[path][method.upper()]
    request = requests.Request(method.upper(), f"http://testserver{answer.wsgi_request.get_full_path()}")
    operation.validate_response(
        Response(
            answer.status_code,
            headers={name: [value] for name, value in answer.items()},
            content=answer.content,
            request=request.prepare(),
            elapsed=0.0,
            verify=False,
        )
    )


def _names_every_field(schema: dict, body: dict) -> None:
    assert set(body) <= set(schema["properties"]), sorted(set(body) - set(schema["properties"]))
    assert set(schema["required"]) <= set(body)


def test_every_operation_documents_the_406_of_an_accept_it_cannot_answer(api_a: Api, served: dict):
    undocumented = [
        f"{method.upper()} {path}"
        for path, operations in served["paths"].items()
        for method, operation in operations.items()
        if "406" not in operation["responses"]
    ]
    assert undocumented == []
    for path, params in (("/v1/documents", {}), ("/v1/usage", {"group_by": "kind"})):
        refused = api_a.get(path, headers={"Accept": "application/xml"}, **params)
        assert refused.status_code == 406
        assert refused.json()["error"]["code"] == "not_acceptable"
        _conforms(served, path, "get", refused)


@pytest.mark.parametrize("group_by", ["day", "kind"])
def test_usage_answers_as_its_schema_says(api_a: Api, served: dict, tenant_a, group_by: str):
    from billing.services import usage_record

    usage_record(tenant=tenant_a.tenant, job_id=f"job_schema_{group_by}", quantities={"pages": 3, "job": 1})
    answer = api_a.get("/v1/usage", group_by=group_by)
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["data"], body
    schema = _body_schema(served, "/v1/usage", "get", 200)
    _names_every_field(schema, body)
    row = schema["properties"]["data"]["items"]
    for each in body["data"]:
        _names_every_field(row, each)
    _conforms(served, "/v1/usage", "get", answer)


def test_the_invoice_preview_answers_as_its_schema_says(api_a: Api, served: dict):
    answer = api_a.get("/v1/billing/upcoming")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    schema = _body_schema(served, "/v1/billing/upcoming", "get", 200)
    _names_every_field(schema, body)
    for line in body["lines"]:
        _names_every_field(schema["properties"]["lines"]["items"], line)
    _conforms(served, "/v1/billing/upcoming", "get", answer)


def test_health_answers_as_its_schema_says(api_a: Api, served: dict):
    answer = api_a.get("/v1/health")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    schema = _body_schema(served, "/v1/health", "get", 200)
    _names_every_field(schema, body)
    check = schema["properties"]["checks"]["additionalProperties"]
    for result in body["checks"].values():
        _names_every_field(check, result)
    _conforms(served, "/v1/health", "get", answer)
