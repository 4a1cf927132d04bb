"""The OpenAPI schema describes the API: schemathesis generates requests for every operation, with a valid
API key and with none, against a live server, and finds no 5xx and no response the schema does not
describe (status, content type, headers, body), and no request the schema calls invalid accepted.

Two of its checks are replaced: a schema-valid request may still be refused (a cursor is valid only when
the list handed it out, an id only when it exists), and the one 5xx allowed is the documented 503 of the
billing endpoints on an installation without Stripe, as this test server is.

The stateful run follows the schema's links: it creates documents, jobs, webhook endpoints and API keys and
then reads, updates and deletes what it created, with the same checks."""

from __future__ import annotations

import os

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.support.server import start_web_server

EXAMPLES = int(os.environ.get("QUIRE_SCHEMA_EXAMPLES", "8"))


def no_server_error(ctx, response, case) -> None:
    if response.status_code < 500:
        return
    if response.status_code == 503 and b'"code":"billing_unavailable"' in response.content:
        return
    raise AssertionError(f"{case.operation.label} answered {response.status_code}: {response.text[:500]}")


@pytest.fixture(scope="module")
def server():
    server = start_web_server("schemathesis")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fuzz_tenant(make_tenant, server):
    tenant = make_tenant("fuzz")
    # The first search loads the embedding model into the server; do that before timing anything.
    requests.post(
        f"{server.url}/v1/search",
        json={"query": "warm up"},
        headers={"Authorization": f"Bearer {tenant.issued_key.secret}"},
        timeout=120,
    ).raise_for_status()
    return tenant


def _explore(operation, session: requests.Session, headers: dict[str, str]) -> str | None:
    """What schemathesis found wrong with `operation` over EXAMPLES generated requests, if anything."""

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy())
    def check(case) -> None:
        case.call_and_validate(
            session=session,
            headers=headers,
            excluded_checks=[not_a_server_error, positive_data_acceptance],
            additional_checks=[no_server_error],
        )

    try:
        check()
    except (Exception, BaseExceptionGroup) as failure:
        causes = getattr(failure, "exceptions", ())
        return f"{operation.label}: {str(failure)[:1500]} {' | '.join(str(c)[:800] for c in causes)}"
    return None


def _failures(schema, headers: dict[str, str]) -> list[str]:
    session = requests.Session()
    found = (_explore(result.ok(), session, headers) for result in schema.get_all_operations())
    return [failure for failure in found if failure]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("authenticated", [True, False], ids=["with-key", "without-key"])
def test_every_operation_conforms_to_the_schema(server, fuzz_tenant, authenticated: bool):
    schema = schemathesis.openapi.from_url(f"{server.url}/v1/openapi.json")
    schema.config.update(base_url=server.url)
    headers = {"Authorization": f"Bearer {fuzz_tenant.issued_key.secret}"} if authenticated else {}
    failures = _failures(schema, headers)
    assert not failures, "\n\n".join(failures)


@pytest.mark.timeout(600)
def test_the_links_between_operations_conform_to_the_schema(server, fuzz_tenant):
    schema = schemathesis.openapi.from_url(f"{server.url}/v1/openapi.json")
    schema.config.update(base_url=server.url)
    call_kwargs = {
        "headers": {"Authorization": f"Bearer {fuzz_tenant.issued_key.secret}"},
        "session": requests.Session(),
    }
    followed: list[str] = []

    class Workflow(schema.as_state_machine()):
        def get_call_kwargs(self, case) -> dict:
            return call_kwargs

        def after_call(self, response, case) -> None:
            super().after_call(response, case)
            followed.append(f"{case.method} {case.path}")

        def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:
            case.validate_response(
                response,
                excluded_checks=[not_a_server_error, positive_data_acceptance],
                additional_checks=[no_server_error],
                transport_kwargs=kwargs,
            )

    Workflow.run(
        settings=hypothesis.settings(
            max_examples=EXAMPLES,
            stateful_step_count=4,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
    )
    assert followed


def test_each_link_of_a_created_api_key_answers_as_the_schema_says(server, fuzz_tenant):
    schema = schemathesis.openapi.from_url(f"{server.url}/v1/openapi.json")
    schema.config.update(base_url=server.url)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {fuzz_tenant.issued_key.secret}"
    created = session.post(f"{server.url}/v1/api_keys", json={"name": "linked", "role": "viewer"})
    assert created.status_code == 201, created.text
    links = schema.raw_schema["paths"]["/v1/api_keys"]["post"]["responses"]["201"]["links"]
    assert links
    for name, link in sorted(links.items(), key=lambda item: item[0].endswith("destroy")):
        assert link["parameters"] == {"key_id": "$response.body#/id"}, name
        operation = schema.find_operation_by_id(link["operationId"])
        case = operation.Case(path_parameters={"key_id": created.json()["id"]})
        response = case.call(session=session)
        assert response.status_code in (200, 204), (name, response.text)
        case.validate_response(response, excluded_checks=[not_a_server_error, positive_data_acceptance])
