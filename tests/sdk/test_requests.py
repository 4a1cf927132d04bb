"""What the client puts on the wire, seen by an httpx mock transport: pass-through filters and fields,
headers, and the retry policy's waits."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import httpx
from quire_sdk import Quire, __version__
from quire_sdk._http import RetryPolicy

PAGE = {"data": [], "has_more": False, "next_cursor": None}


def _client(seen: list[httpx.Request], answer=None, **kwargs) -> Quire:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request) if answer else httpx.Response(200, json=PAGE)

    transport = httpx.Client(transport=httpx.MockTransport(handle))
    return Quire(api_key="qk_test", base_url="http://quire.test/v1/", http_client=transport, **kwargs)


def test_filters_expand_metadata_and_version_are_passed_through():
    seen: list[httpx.Request] = []
    job = {"id": "job_1", "status": "succeeded", "result": {"job_id": "job_1", "output": {}}}
    quire = _client(
        seen,
        lambda r: httpx.Response(200, json=job if "jobs/job_1" in r.url.path else PAGE),
        api_version="2026-01-01",
    )
    since = datetime(2026, 1, 2, tzinfo=UTC)
    quire.documents.list(limit=10, status="ready", created={"gte": since}, metadata={"team": "legal"})
    fetched = quire.jobs.get("job_1", expand=["result"])
    quire.jobs.create("legal", ["doc_1"], metadata={"matter": "m-7"})
    listed, get, created = seen
    assert parse_qsl(listed.url.query.decode()) == [
        ("limit", "10"),
        ("status", "ready"),
        ("created[gte]", since.isoformat()),
        ("metadata[team]", "legal"),
    ]
    assert parse_qsl(get.url.query.decode()) == [("expand[]", "result")]
    assert fetched.result.job_id == "job_1"
    assert json.loads(created.content) == {
        "connector": "legal",
        "documents": ["doc_1"],
        "metadata": {"matter": "m-7"},
    }
    assert created.headers["Idempotency-Key"] and "Idempotency-Key" not in get.headers
    assert {r.headers["Quire-Version"] for r in seen} == {"2026-01-01"}
    assert seen[0].headers["User-Agent"].startswith(f"quire-sdk/{__version__} python/3.")
    assert str(seen[0].url).startswith("http://quire.test/v1/documents?")


def test_unset_options_are_not_sent():
    seen: list[httpx.Request] = []
    _client(seen).jobs.create("legal", ["doc_1"])
    assert json.loads(seen[0].content) == {"connector": "legal", "documents": ["doc_1"]}


def test_backoff_grows_with_jitter_and_retry_after_wins():
    policy = RetryPolicy(backoff_base=1.0, backoff_max=5.0, max_retry_after=30.0)
    for retry, ceiling in ((0, 1.0), (1, 2.0), (2, 4.0), (5, 5.0)):
        waits = {policy.delay(retry) for _ in range(20)}
        assert all(ceiling / 2 <= w <= ceiling for w in waits) and len(waits) > 1
    assert policy.delay(0, retry_after=7) == 7
    assert policy.delay(0, retry_after=600) == 600


def test_clause_types_create_add_examples_and_wait():
    seen: list[httpx.Request] = []
    states = iter(["queued", "training", "ready"])

    def answer(request: httpx.Request) -> httpx.Response:
        body = {"id": "cla_1", "object": "clause_type", "key": "fm", "status": "queued", "version": 1}
        if request.method == "GET":
            body.update(status=next(states), precision=0.9, recall=1.0)
        return httpx.Response(202 if request.method == "POST" else 200, json=body)

    quire = _client(seen, answer)
    created = quire.clause_types.create("fm", "Force Majeure", ["a"] * 10, idempotency_key="ct-1")
    quire.clause_types.add_examples("cla_1", counter_examples=["b"])
    ready = quire.clause_types.wait("cla_1", interval=0)
    assert (created.id, created.status, ready.status, ready.precision) == ("cla_1", "queued", "ready", 0.9)
    assert json.loads(seen[0].content) == {"key": "fm", "name": "Force Majeure", "examples": ["a"] * 10}
    assert seen[0].headers["Idempotency-Key"] == "ct-1" and seen[0].url.path == "/v1/clause_types"
    assert json.loads(seen[1].content) == {"counter_examples": ["b"]}
    assert seen[1].url.path == "/v1/clause_types/cla_1/examples"
    assert [r.method for r in seen[2:]] == ["GET"] * 3


def test_a_list_given_a_cursor_starts_there_and_a_manual_loop_ends():
    seen: list[httpx.Request] = []
    docs = [{"id": f"doc_{i}", "status": "ready"} for i in range(5)]

    def answer(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params.get("cursor") or 0)
        more = start + 2 < len(docs)
        page = {
            "data": docs[start : start + 2],
            "has_more": more,
            "next_cursor": str(start + 2) if more else None,
        }
        return httpx.Response(200, json=page)

    quire = _client(seen, answer)
    assert [doc.id for doc in quire.documents.list(limit=2, cursor="2").data] == ["doc_2", "doc_3"]
    assert seen[-1].url.params["cursor"] == "2"
    assert [doc.id for doc in quire.documents.list(limit=2, cursor="2")] == ["doc_2", "doc_3", "doc_4"]

    cursor, walked = None, []
    for _ in range(10):
        page = quire.documents.list(limit=2, cursor=cursor)
        walked += [doc.id for doc in page.data]
        if not page.has_more:
            break
        cursor = page.next_cursor
    assert walked == [doc["id"] for doc in docs]


def test_every_write_takes_an_idempotency_key_or_sends_a_fresh_one():
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        body = {"id": "x_1", "object": "thing", "status": "ok", "deleted": True, "data": []}
        return httpx.Response(200, json=body)

    quire = _client(seen, answer)
    writes = {
        "documents.create": lambda **key: quire.documents.create(text="The term is two years.", **key),
        "documents.update": lambda **key: quire.documents.update("doc_1", metadata={"a": "b"}, **key),
        "documents.delete": lambda **key: quire.documents.delete("doc_1", **key),
        "jobs.create": lambda **key: quire.jobs.create("legal", ["doc_1"], **key),
        "jobs.update": lambda **key: quire.jobs.update("job_1", metadata={"a": "b"}, **key),
        "jobs.cancel": lambda **key: quire.jobs.cancel("job_1", **key),
        "jobs.correct_cell": lambda **key: quire.jobs.correct_cell(
            "job_1", document="doc_1", key="cap", verified=True, **key
        ),
        "clause_types.create": lambda **key: quire.clause_types.create(
            "fm", "Force Majeure", ["a"] * 10, **key
        ),
        "clause_types.add_examples": lambda **key: quire.clause_types.add_examples(
            "cla_1", examples=["a"], **key
        ),
        "clause_types.delete": lambda **key: quire.clause_types.delete("cla_1", **key),
        "webhook_endpoints.create": lambda **key: quire.webhook_endpoints.create(
            "https://a.test/", ["*"], **key
        ),
        "webhook_endpoints.update": lambda **key: quire.webhook_endpoints.update(
            "whk_1", enabled=False, **key
        ),
        "webhook_endpoints.delete": lambda **key: quire.webhook_endpoints.delete("whk_1", **key),
        "webhook_endpoints.rotate_secret": lambda **key: quire.webhook_endpoints.rotate_secret(
            "whk_1", **key
        ),
        "webhook_endpoints.test": lambda **key: quire.webhook_endpoints.test("whk_1", **key),
        "events.replay": lambda **key: quire.events.replay("evt_1", **key),
        "api_keys.create": lambda **key: quire.api_keys.create("ci", **key),
        "api_keys.update": lambda **key: quire.api_keys.update("key_1", role="viewer", **key),
        "api_keys.revoke": lambda **key: quire.api_keys.revoke("key_1", **key),
    }
    for name, write in writes.items():
        write(idempotency_key=f"mine-{name}")
        assert seen[-1].method in ("POST", "PATCH", "DELETE")
        assert seen[-1].headers["Idempotency-Key"] == f"mine-{name}", name
        write()
        write()
        assert seen[-1].headers["Idempotency-Key"] != seen[-2].headers["Idempotency-Key"], name
        assert not seen[-1].headers["Idempotency-Key"].startswith("mine-"), name


def test_a_retry_after_longer_than_the_policy_waits_is_raised_at_once_not_retried_early():
    from quire_sdk import RateLimitError

    seen: list[httpx.Request] = []
    slept: list[float] = []
    refused = {"error": {"type": "rate_limit_error", "code": "rate_limited", "message": "Slow down."}}
    quire = _client(seen, lambda r: httpx.Response(429, json=refused, headers={"Retry-After": "3600"}))
    quire._transport.sleep = slept.append
    try:
        quire.documents.get("doc_1")
    except RateLimitError as exc:
        assert exc.retry_after == 3600.0 and exc.status == 429
    else:
        raise AssertionError("a 429 must raise")
    assert len(seen) == 1 and slept == []

    seen.clear()
    answers = iter([httpx.Response(429, json=refused, headers={"Retry-After": "2"})])
    quire = _client(seen, lambda r: next(answers, httpx.Response(200, json={"id": "doc_1"})))
    quire._transport.sleep = slept.append
    assert quire.documents.get("doc_1").id == "doc_1"
    assert len(seen) == 2 and slept == [2.0]


def test_an_id_is_one_path_segment_whatever_it_holds():
    seen: list[httpx.Request] = []
    answer = {"id": "x", "object": "document", "deleted": True, "data": []}
    quire = _client(seen, lambda r: httpx.Response(200, json=answer))
    quire.documents.get("..")
    quire.jobs.cancel("job_1?x=1#y")
    quire.webhook_endpoints.get(".")
    quire.documents.get("doc 1%2Ftext")
    assert [(r.method, r.url.raw_path.decode()) for r in seen] == [
        ("GET", "/v1/documents/%2E%2E"),
        ("POST", "/v1/jobs/job_1%3Fx%3D1%23y/cancel"),
        ("GET", "/v1/webhook_endpoints/%2E"),
        ("GET", "/v1/documents/doc%201%252Ftext"),
    ]


def test_an_id_holding_a_slash_is_not_found_and_sends_nothing_a_server_would_route_elsewhere():
    import pytest
    from quire_sdk.errors import NotFoundError

    seen: list[httpx.Request] = []
    quire = _client(seen, lambda r: httpx.Response(200, json={"id": "job_1", "object": "job"}))
    calls = [
        lambda: quire.jobs.update("job_1/cancel", metadata={"note": "x"}),
        lambda: quire.documents.delete("../webhook_endpoints/whk_1"),
        lambda: quire.documents.get("doc_1/text"),
        lambda: quire.events.replay("evt 1/../../api_keys"),
    ]
    for call in calls:
        with pytest.raises(NotFoundError, match="ids never hold '/'") as raised:
            call()
        assert raised.value.status == 404 and raised.value.code == "resource_missing"
    assert seen == []


def test_an_answer_that_cannot_be_decoded_is_retried_then_an_api_connection_error():
    import pytest
    from quire_sdk.errors import APIConnectionError

    seen: list[httpx.Request] = []
    corrupt = lambda request: httpx.Response(
        200, headers={"Content-Encoding": "gzip"}, content=b"not gzip at all"
    )
    quire = _client(seen, corrupt, max_retries=1)
    quire._transport.sleep = lambda seconds: None
    with pytest.raises(APIConnectionError) as failed:
        quire.documents.list()
    assert len(seen) == 2 and "DecodingError" in str(failed.value)


def test_a_timeout_given_with_ones_own_http_client_bounds_each_request():
    seen: list[httpx.Request] = []
    _client(seen, timeout=7.5).documents.list()
    _client(seen).documents.list()
    given, default = (request.extensions["timeout"] for request in seen)
    assert given == {"connect": 7.5, "read": 7.5, "write": 7.5, "pool": 7.5}
    assert default == httpx.Timeout(5.0).as_dict()
