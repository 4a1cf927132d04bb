"""Retries through a proxy that fails chosen requests: the write is repeated with the same
`Idempotency-Key`, so the server creates one object."""

from __future__ import annotations

import time
import uuid

import pytest


@pytest.fixture
def through_proxy(flaky_proxy, api_key):
    from quire_sdk import Quire

    with Quire(api_key=api_key, base_url=flaky_proxy.url, backoff_base=0.05, max_retries=3) as client:
        yield client


def test_lost_503_answers_are_retried_with_one_key_and_one_document(through_proxy, flaky_proxy, quire):
    marker = uuid.uuid4().hex
    flaky_proxy.fail("POST", "/v1/documents", "503", "503")
    doc = through_proxy.documents.create(text=f"Retried upload {marker}.", filename=f"{marker}.txt")
    posts = flaky_proxy.requests("POST", "/v1/documents")
    assert [p.answered for p in posts] == [503, 503, 201]
    assert len({p.idempotency_key for p in posts}) == 1 and posts[0].idempotency_key
    assert posts[0].user_agent.startswith("quire-sdk/") and " python/" in posts[0].user_agent
    named = [d.id for d in quire.documents.list(limit=100) if d.filename == f"{marker}.txt"]
    assert named == [doc.id]


def test_429_waits_for_retry_after_and_a_job_is_created_once(through_proxy, flaky_proxy, quire, contract_doc):
    before = {job.id for job in quire.jobs.list(limit=100)}
    flaky_proxy.fail("POST", "/v1/jobs", "429", "503")
    started = time.monotonic()
    job = through_proxy.jobs.create("legal", [contract_doc.id])
    assert time.monotonic() - started >= 1.0
    posts = flaky_proxy.requests("POST", "/v1/jobs")
    assert [p.answered for p in posts] == [429, 503, 202]
    assert len({p.idempotency_key for p in posts}) == 1
    after = {j.id for j in quire.jobs.list(limit=100)}
    assert after - before == {job.id}


def test_dropped_connections_are_retried(through_proxy, flaky_proxy, contract_doc):
    flaky_proxy.fail("GET", "/v1/documents/", "drop")
    assert through_proxy.documents.get(contract_doc.id).id == contract_doc.id
    assert [p.answered for p in flaky_proxy.requests("GET", "/v1/documents/")] == [0, 200]


def test_retries_are_bounded(flaky_proxy, api_key):
    from quire_sdk import APIError, Quire

    flaky_proxy.fail("GET", "/v1/health", "503", "503", "503")
    client = Quire(api_key=api_key, base_url=flaky_proxy.url, backoff_base=0.01, max_retries=2)
    with client, pytest.raises(APIError) as failed:
        client.health()
    assert failed.value.status == 503
    assert len(flaky_proxy.requests("GET", "/v1/health")) == 3


def test_a_lost_answer_that_showed_a_secret_is_refused_on_retry_not_replayed(
    through_proxy, flaky_proxy, quire
):
    from quire_sdk import ConflictError

    name = f"lost-{uuid.uuid4().hex}"
    flaky_proxy.fail("POST", "/v1/api_keys", "503")
    with pytest.raises(ConflictError) as refused:
        through_proxy.api_keys.create(name)
    assert (refused.value.code, refused.value.param) == ("secret_shown_once", "Idempotency-Key")
    posts = flaky_proxy.requests("POST", "/v1/api_keys")
    assert [p.answered for p in posts] == [503, 409]
    assert len({p.idempotency_key for p in posts}) == 1
    created = [key for key in quire.api_keys.list(limit=100) if key.name == name]
    assert len(created) == 1 and created[0].id in refused.value.message
