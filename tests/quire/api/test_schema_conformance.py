"""The OpenAPI schema describes the API: schemathesis generates requests for every operation, with a valid
API key and with none, against a live server, and finds no 5xx and no response the schema does not
describe (status, content type, headers, body), and no request the schema calls invalid accepted.

Two of its checks are replaced: a schema-valid request may still be refused (a cursor is valid only when
the list handed it out, an id only when it exists), and the one 5xx allowed is the documented 503 of the
billing endpoints on an installation without Stripe, as this test server is.

The stateful run follows the schema's links where its generated creates succeed, with the same checks; the
link walk creates one document, job, webhook endpoint and API key for certain and follows every link of each."""

from __future__ import annotations

import os

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.support import wait_for
from tests.support.server import start_web_server

EXAMPLES = int(os.environ.get("QUIRE_SCHEMA_EXAMPLES", "5"))
# A request without a key is refused before its parameters or body are read: two of each operation check that.
EXAMPLES_WITHOUT_KEY = min(EXAMPLES, 2)


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


def _explore(operation, session: requests.Session, headers: dict[str, str], examples: int) -> str | None:
    """What schemathesis found wrong with `operation` over `examples` generated requests, if anything."""

    @hypothesis.settings(
        max_examples=examples,
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


def _failures(schema, headers: dict[str, str], examples: int) -> list[str]:
    session = requests.Session()
    found = (_explore(result.ok(), session, headers, examples) for result in schema.get_all_operations())
    return [failure for failure in found if failure]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("authenticated", [True, False], ids=["with-key", "without-key"])
def test_every_operation_conforms_to_the_schema(server, fuzz_tenant, authenticated: bool):
    schema = schemathesis.openapi.from_url(f"{server.url}/v1/openapi.json")
    schema.config.update(base_url=server.url)
    headers = {"Authorization": f"Bearer {fuzz_tenant.issued_key.secret}"} if authenticated else {}
    failures = _failures(schema, headers, EXAMPLES if authenticated else EXAMPLES_WITHOUT_KEY)
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


# What each create operation is called with, and the body of each linked operation that takes one.
CREATES = {
    "/v1/api_keys": {"name": "linked", "role": "viewer"},
    "/v1/documents": {
        "text": "The Supplier shall maintain insurance. This Agreement is governed by Delaware law."
    },
    "/v1/jobs": {"connector": "legal", "documents": None},
    # A public address, never called: no event reaches the endpoint before its destroying link removes it.
    "/v1/webhook_endpoints": {"url": "https://93.184.216.34/linked", "event_types": ["job.succeeded"]},
}
LINKED_BODIES = {
    "documents_update": {"metadata": {"matter": "linked"}},
    "jobs_update": {"metadata": {"matter": "linked"}},
    "webhook_endpoints_partial_update": {"description": "linked"},
    "webhook_endpoints_rotate_secret_create": {"grace_period_seconds": 0},
}


@pytest.mark.parametrize("path", sorted(CREATES))
def test_each_link_of_a_created_object_answers_as_the_schema_says(server, fuzz_tenant, path: str, request):
    """By hand, what the stateful run does by chance: create one object, follow every link its 2xx answer
    declares (the destroying one last) with the new id, and validate each answer against the schema. A job
    needs a ready document, so a worker ingests it first, and its links are followed once it has finished."""
    schema = schemathesis.openapi.from_url(f"{server.url}/v1/openapi.json")
    schema.config.update(base_url=server.url)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {fuzz_tenant.issued_key.secret}"
    body = dict(CREATES[path])
    if "documents" in body:
        document = session.post(f"{server.url}/v1/documents", json=CREATES["/v1/documents"])
        assert document.status_code == 201, document.text
        request.getfixturevalue("celery_worker")
        document_url = f"{server.url}/v1/documents/{document.json()['id']}"
        wait_for(lambda: session.get(document_url).json()["status"] == "ready", timeout=120, interval=0.2)
        body["documents"] = [document.json()["id"]]
    created = session.post(f"{server.url}{path}", json=body)
    assert created.status_code in (201, 202), created.text
    if path == "/v1/jobs":
        # The result link answers 409 until the job has finished, however fast the worker usually is.
        job_url = f"{server.url}/v1/jobs/{created.json()['id']}"
        wait_for(lambda: session.get(job_url).json()["status"] == "succeeded", timeout=120, interval=0.2)
    links = schema.raw_schema["paths"][path]["post"]["responses"][str(created.status_code)]["links"]
    assert links
    for name, link in sorted(links.items(), key=lambda item: item[0].endswith("destroy")):
        ((parameter, source),) = link["parameters"].items()
        assert source == "$response.body#/id", name
        operation = schema.find_operation_by_id(link["operationId"])
        kwargs = (
            {"body": LINKED_BODIES[name], "media_type": "application/json"} if name in LINKED_BODIES else {}
        )
        case = operation.Case(path_parameters={parameter: created.json()["id"]}, **kwargs)
        response = case.call(session=session)
        finished = response.status_code == 409 and name == "jobs_cancel_create"  # the job may be done already
        assert response.status_code < 300 or finished, (name, response.status_code, response.text)
        case.validate_response(response, excluded_checks=[not_a_server_error, positive_data_acceptance])
