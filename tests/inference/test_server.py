import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import numpy as np
import openai
import pytest

from inference import embeddings
from inference.engine import EngineConfig, SamplingParams
from inference.inprocess import InProcessTransport
from inference.server import InferenceHTTPServer, build_api


def _fake_embed(texts: list[str]) -> np.ndarray:
    vectors = np.zeros((len(texts), 384), dtype=np.float32)
    for row, text in enumerate(texts):
        vectors[row, len(text) % 384] = 1.0
    return vectors


@pytest.fixture(scope="module")
def server(tiny_checkpoint):
    api = build_api(
        tiny_checkpoint,
        engine_config=EngineConfig(num_blocks=64, block_size=8),
        model_name="tiny-llama",
        device="cpu",
        embed_texts=_fake_embed,
    )
    httpd = InferenceHTTPServer(("127.0.0.1", 0), api)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", api
    httpd.shutdown()
    httpd.server_close()
    api.service.shutdown()


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server[0] + "/v1", api_key="unused", max_retries=0, timeout=60)


@pytest.fixture
def in_process(tiny_checkpoint) -> Iterator[Callable[..., InProcessTransport]]:
    """Start in-process servers of the tiny checkpoint (model "m", CPU); their engines stop after the test."""
    transports: list[InProcessTransport] = []

    def start(engine_config: EngineConfig | None = None, **options: Any) -> InProcessTransport:
        transport = InProcessTransport.from_model_dir(
            tiny_checkpoint,
            engine_config=engine_config or EngineConfig(num_blocks=32),
            model_name="m",
            device="cpu",
            **options,
        )
        transports.append(transport)
        return transport

    yield start
    for transport in transports:
        transport.shutdown()


def _openai_client(transport: InProcessTransport, api_key: str = "x") -> openai.OpenAI:
    return openai.OpenAI(
        base_url="http://inference/v1", api_key=api_key, http_client=httpx.Client(transport=transport)
    )


def test_models_lists_the_served_model(client):
    ids = [model.id for model in client.models.list()]
    assert ids == ["tiny-llama", "all-MiniLM-L6-v2"]


def test_chat_completion_non_stream_and_stream_agree(client):
    messages = [{"role": "user", "content": "hello world"}]
    whole = client.chat.completions.create(model="tiny-llama", messages=messages, max_tokens=8, temperature=0)
    assert whole.choices[0].message.role == "assistant"
    assert whole.usage.completion_tokens <= 8
    assert whole.usage.prompt_tokens > 3
    assert whole.usage.total_tokens == whole.usage.prompt_tokens + whole.usage.completion_tokens
    chunks = list(
        client.chat.completions.create(
            model="tiny-llama",
            messages=messages,
            max_tokens=8,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [whole.choices[0].finish_reason]
    assert chunks[-1].choices == []
    assert chunks[-1].usage.total_tokens == whole.usage.total_tokens


def test_completion_non_stream_and_stream(client):
    whole = client.completions.create(
        model="tiny-llama", prompt="The quick brown", max_tokens=6, temperature=0
    )
    assert whole.choices[0].finish_reason in ("length", "stop")
    assert whole.usage.prompt_tokens == 4 or whole.usage.prompt_tokens > 0
    pieces = list(
        client.completions.create(
            model="tiny-llama", prompt="The quick brown", max_tokens=6, temperature=0, stream=True
        )
    )
    assert "".join(p.choices[0].text for p in pieces) == whole.choices[0].text
    assert pieces[-1].usage.completion_tokens == whole.usage.completion_tokens


def test_embeddings_return_vectors_and_usage(client):
    response = client.embeddings.create(model="all-MiniLM-L6-v2", input=["alpha", "beta gamma"])
    assert [len(item.embedding) for item in response.data] == [384, 384]
    assert [item.index for item in response.data] == [0, 1]
    assert response.usage.prompt_tokens >= 3


def test_errors_have_openai_shape(client, server):
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="gpt-nope", messages=[{"role": "user", "content": "x"}])
    assert missing.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        client.completions.create(model="tiny-llama", prompt="hi", max_tokens=-1)
    assert bad.value.body["param"] == "max_tokens"
    with pytest.raises(openai.BadRequestError) as too_long:
        client.completions.create(model="tiny-llama", prompt=[5] * 300, max_tokens=2)
    assert too_long.value.body["param"] == "prompt"
    assert too_long.value.body["code"] == "context_length_exceeded"
    assert "maximum context length is 256 tokens" in too_long.value.body["message"]
    raw = httpx.post(server[0] + "/v1/chat/completions", content=b"{not json")
    assert raw.status_code == 400
    assert set(raw.json()["error"]) == {"message", "type", "param", "code"}
    assert httpx.get(server[0] + "/v2/anything").json()["error"]["type"] == "not_found_error"


def test_health_and_metrics(server, client):
    client.completions.create(model="tiny-llama", prompt="hello", max_tokens=2, temperature=0)
    health = httpx.get(server[0] + "/health").json()
    assert health["status"] == "ok"
    assert health["free_blocks"] == health["total_blocks"] == 64
    metrics = httpx.get(server[0] + "/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "# TYPE quire_generation_tokens_total counter" in metrics.text
    assert "quire_prefix_cache_hit_tokens_total " in metrics.text
    assert 'quire_http_requests_total{route="/v1/completions",status="200"}' in metrics.text


def test_full_queue_answers_429(in_process, monkeypatch):
    api = in_process(max_pending=1).api
    engine = api.service.engine
    has_work = engine.has_work

    def idle_while_a_request_is_unfinished() -> bool:
        return has_work() and all(sequence.finished for sequence in engine.requests.values())

    monkeypatch.setattr(engine, "has_work", idle_while_a_request_is_unfinished)
    hold = api.service.submit([0, 5, 6], SamplingParams(max_tokens=2))
    body = json.dumps({"prompt": "hello", "max_tokens": 2}).encode()
    response = api.handle("POST", "/v1/completions", body)
    assert response.status == 429
    assert json.loads(response.body)["error"]["code"] == "queue_full"
    assert engine.stats["steps"] == 0
    hold.cancel()
    assert [(o.new_token_ids, o.finish_reason) for o in hold] == [([], "cancelled")]


def test_in_process_transport_streams_through_httpx(in_process):
    transport = in_process()
    with httpx.Client(transport=transport, base_url="http://inference") as http:
        body = {"model": "m", "prompt": "hello world", "max_tokens": 5, "temperature": 0}
        whole = http.post("/v1/completions", json=body).json()
        with http.stream("POST", "/v1/completions", json={**body, "stream": True}) as response:
            events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    streamed = "".join(json.loads(event)["choices"][0]["text"] for event in events[:-1])
    assert streamed == whole["choices"][0]["text"]
    assert whole["usage"]["completion_tokens"] == 5 or whole["choices"][0]["finish_reason"] == "stop"
    reply = _openai_client(transport).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], max_tokens=3
    )
    assert reply.usage.completion_tokens <= 3
    transport.shutdown()
    stopped = transport.handle_request(httpx.Request("POST", "http://inference/v1/completions", json=body))
    assert stopped.status_code == 503


def test_platform_client_over_in_process_transport(in_process):
    from inference.client import InferenceClient

    transport = in_process(EngineConfig(num_blocks=64), embed_texts=_fake_embed)
    client = InferenceClient("http://inference", model="m", transport=transport, max_retries=0)
    chat = client.chat([{"role": "user", "content": "hello"}], max_tokens=4)
    assert chat.model == "m"
    assert chat.tokens_out <= 4 and chat.tokens_in > 0
    completion = client.complete("The quick brown", max_tokens=3, stop=["zzz"])
    assert completion.finish_reason in ("length", "stop")
    assert [len(row) for row in client.embed(["a", "bb"])] == [384, 384]


def test_platform_client_asks_again_for_what_the_window_leaves_when_its_max_tokens_does_not_fit(in_process):
    """The platform sizes prompts by an estimate of their tokens: a completion that would pass the window is
    asked again for the room left (the server's 400 says both numbers), and a prompt that alone fills the
    window stays an error."""
    from inference.client import InferenceClient, InferenceError

    transport = in_process(EngineConfig(num_blocks=4, block_size=16), embed_texts=_fake_embed)
    client = InferenceClient("http://inference", model="m", transport=transport, max_retries=0)
    completion = client.complete("The quick brown fox", max_tokens=500)
    assert completion.tokens_in > 0 and completion.tokens_in + completion.tokens_out <= 64
    chat = client.chat([{"role": "user", "content": "hello"}], max_tokens=500)
    assert chat.tokens_in + chat.tokens_out <= 64
    with pytest.raises(InferenceError) as too_long:
        client.complete("fox " * 200, max_tokens=8)
    assert too_long.value.status == 400
    assert too_long.value.body["error"]["code"] == "context_length_exceeded"
    # The error's own words say why, as far as a job's warning carries them.
    said = str(too_long.value)
    assert said.startswith(
        "POST /completions: HTTP 400: context_length_exceeded This model's maximum context"
    )
    assert len(said) <= len("POST /completions: HTTP 400: ") + 300


def test_dropped_stream_cancels_its_request(server, monkeypatch):
    import time

    base_url, api = server
    model = api.service.engine.model
    forward = model.forward

    def paced(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.02)
        return forward(*args, **kwargs)

    # At 20 ms a step the 200 tokens take 4 s: the stream cannot finish before the server sees the client gone,
    # however late the client's close reaches it on a loaded machine.
    monkeypatch.setattr(model, "forward", paced)
    body = {"model": "tiny-llama", "prompt": "hello", "max_tokens": 200, "temperature": 0, "stream": True}
    with httpx.stream("POST", base_url + "/v1/completions", json=body) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                break
    deadline = 50
    while api.service.snapshot()["pending"] and deadline:
        threading.Event().wait(0.1)
        deadline -= 1
    snapshot = api.service.snapshot()
    assert snapshot["pending"] == 0
    assert snapshot["free_blocks"] == snapshot["total_blocks"]
    assert api.service.stats.finished_by_reason.get("cancelled", 0) >= 1


def test_engine_failure_answers_500_and_service_keeps_serving(in_process, monkeypatch):
    api = in_process().api
    model = api.service.engine.model
    real_forward = model.forward

    def broken_forward(*args, **kwargs):
        raise RuntimeError("device lost")

    monkeypatch.setattr(model, "forward", broken_forward)
    body = json.dumps({"prompt": "hello", "max_tokens": 2}).encode()
    failed = api.handle("POST", "/v1/completions", body)
    assert failed.status == 500
    assert json.loads(failed.body)["error"]["code"] == "engine_failure"
    monkeypatch.setattr(model, "forward", real_forward)
    recovered = api.handle("POST", "/v1/completions", body)
    assert recovered.status == 200
    assert api.service.snapshot()["free_blocks"] == 32


def test_a_completion_continues_its_prompt_and_a_chat_answer_does_not(in_process, monkeypatch):
    """Completions are decoded as the prompt's continuation (the space a SentencePiece decoder drops at the
    start of a text is kept, as vLLM keeps it); a chat answer is decoded as a text of its own."""
    api = in_process().api
    submitted = []
    submit = api.service.submit

    def recorded(prompt_ids, params):
        submitted.append(params.continues_prompt)
        return submit(prompt_ids, params)

    monkeypatch.setattr(api.service, "submit", recorded)
    completion = json.dumps({"prompt": "hello", "max_tokens": 2}).encode()
    chat = json.dumps({"messages": [{"role": "user", "content": "hello"}], "max_tokens": 2}).encode()
    assert api.handle("POST", "/v1/completions", completion).status == 200
    assert api.handle("POST", "/v1/chat/completions", chat).status == 200
    assert submitted == [True, False]


def test_command_line_server_starts_and_answers(tiny_checkpoint):
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "inference.server", "--model", str(tiny_checkpoint), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).json()
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert health is not None and health["status"] == "ok"
        assert health["model"] == tiny_checkpoint.name
        reply = httpx.post(
            f"http://127.0.0.1:{port}/v1/completions", json={"prompt": "hello", "max_tokens": 2}, timeout=30
        ).json()
        assert reply["usage"]["completion_tokens"] <= 2
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_concurrent_requests_under_a_tiny_cache_all_complete(in_process):
    from concurrent.futures import ThreadPoolExecutor

    api = in_process(EngineConfig(num_blocks=10, block_size=4, enable_prefix_cache=False)).api
    prompts = ["The quick brown fox", "Quarterly revenue rose", "hello world, hello", "The study found"]

    def complete(prompt: str) -> tuple[int, dict]:
        body = json.dumps({"prompt": prompt, "max_tokens": 12, "temperature": 0}).encode()
        response = api.handle("POST", "/v1/completions", body)
        return response.status, json.loads(response.body)

    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(complete, prompts * 2))
    assert [status for status, _ in replies] == [200] * 8
    assert all(reply["usage"]["completion_tokens"] == 12 for _, reply in replies)
    assert replies[0][1]["choices"][0]["text"] == replies[4][1]["choices"][0]["text"]
    snapshot = api.service.snapshot()
    assert snapshot["free_blocks"] == snapshot["total_blocks"] == 10


def test_template_errors_are_400_and_unexpected_errors_500_json(server, monkeypatch):
    api = server[1]
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}).encode()
    monkeypatch.setattr(
        api.tokenizer, "chat_template", "{{ raise_exception('only user and assistant roles') }}"
    )
    monkeypatch.setattr(api.tokenizer, "_compiled_template", None)
    refused = api.handle("POST", "/v1/chat/completions", body)
    assert refused.status == 400
    assert json.loads(refused.body)["error"]["message"] == "only user and assistant roles"
    monkeypatch.setattr(api.tokenizer, "_compiled_template", None)

    def explode(messages):
        raise RuntimeError("boom")

    monkeypatch.setattr(api.tokenizer, "encode_chat", explode)
    failed = api.handle("POST", "/v1/chat/completions", body)
    assert failed.status == 500
    assert json.loads(failed.body)["error"] == {
        "message": "internal server error",
        "type": "server_error",
        "param": None,
        "code": "internal_error",
    }


def test_api_key_guards_v1_routes_but_not_probes(in_process):
    transport = in_process(EngineConfig(num_blocks=16), api_key="s3cret")
    with httpx.Client(transport=transport, base_url="http://inference") as http:
        refused = http.get("/v1/models")
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "invalid_api_key"
        assert http.get("/v1/models", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert http.get("/v1/models", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert http.get("/health").status_code == 200
    client = _openai_client(transport, api_key="s3cret")
    assert client.completions.create(model="m", prompt="hello", max_tokens=1).usage.completion_tokens == 1


def test_oversized_body_answers_413(server):
    import socket
    from urllib.parse import urlsplit

    address = urlsplit(server[0])
    request = (
        "POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"Content-Length: {64 * 2**20 + 1}\r\n\r\n"
    )
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(request.encode())
        reply = b""
        while chunk := connection.recv(4096):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert json.loads(body)["error"]["code"] == "body_too_large"


def test_embeddings_route_serves_minilm_offline(in_process):
    texts = [
        "The contract is governed by Delaware law.",
        "Delaware law governs this agreement.",
        "Revenue rose.",
    ]
    client = _openai_client(in_process(EngineConfig(num_blocks=8)))
    response = client.embeddings.create(model="all-MiniLM-L6-v2", input=texts)
    vectors = np.array([item.embedding for item in response.data])
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    encoder_tokenizer = embeddings._load()[0]
    assert response.usage.prompt_tokens == sum(len(encoder_tokenizer.encode(text).ids) for text in texts)


def test_embedding_usage_counts_the_tokens_the_embedder_reads(in_process):
    api = in_process(EngineConfig(num_blocks=8), embed_texts=_fake_embed).api

    def usage(text: str) -> int:
        response = api.handle("POST", "/v1/embeddings", json.dumps({"input": text}).encode())
        assert response.status == 200, response.body
        return json.loads(response.body)["usage"]["prompt_tokens"]

    assert usage("Revenue rose.") == 5
    assert usage(" ".join(["contract"] * 1000)) == embeddings.MAX_SEQ_LENGTH


def test_usage_reports_cached_prompt_tokens_and_the_prefill_attention(in_process):
    from inference.client import InferenceClient

    transport = in_process(
        EngineConfig(num_blocks=64, block_size=16, sparse_from=128), embed_texts=_fake_embed
    )
    client = InferenceClient("http://inference", model="m", transport=transport, max_retries=0)
    system = {"role": "system", "content": "hello world, hello tokens. " * 12}
    first, second = (
        client.chat([system, {"role": "user", "content": question}], max_tokens=2)
        for question in ("What is it?", "Which one?")
    )
    assert (first.cached_tokens, first.attention) == (0, "block_sparse") and first.tokens_in >= 128
    assert second.attention == "dense" and 0 < second.cached_tokens < second.tokens_in
    assert second.cached_tokens % 16 == 0
    metrics = httpx.Client(transport=transport).get("http://inference/metrics").text
    assert "quire_block_sparse_prefills_total 1" in metrics
    assert f"quire_prefix_cache_hit_tokens_total {second.cached_tokens}" in metrics


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"stream": True, "stream_options": "yes"}, "stream_options"),
        ({"stream": True, "stream_options": {"include_usage": "yes"}}, "stream_options"),
        ({"stream": "false"}, "stream"),
        ({"stream": 1}, "stream"),
    ],
)
def test_bad_stream_fields_are_refused_before_anything_is_submitted(in_process, fields, param):
    api = in_process().api
    body = json.dumps({"messages": [{"role": "user", "content": "hello"}], "max_tokens": 50, **fields})
    response = api.handle("POST", "/v1/chat/completions", body.encode())
    assert response.status == 400 and response.stream is None
    error = json.loads(response.body)["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, "invalid_value")
    assert api.service.stats.prompt_tokens_total == 0
    assert api.service.snapshot()["pending"] == 0


def test_null_fields_count_as_absent(in_process):
    api = in_process().api

    def chat(**fields: Any) -> dict:
        body = {"messages": [{"role": "user", "content": "hello world"}], "temperature": 0, **fields}
        response = api.handle("POST", "/v1/chat/completions", json.dumps(body).encode())
        assert response.status == 200, response.body
        return json.loads(response.body)

    capped = chat(max_tokens=3)
    assert capped["choices"][0]["finish_reason"] == "length"
    assert chat(max_completion_tokens=None, max_tokens=3)["choices"] == capped["choices"]
    nulls = dict.fromkeys(("n", "stream", "stream_options", "stop", "seed", "top_p", "model"))
    assert chat(max_tokens=3, **nulls)["choices"] == capped["choices"]


def test_platform_client_does_not_retry_a_read_timeout():
    """A read timeout means the server has the request and may still be generating: another attempt would
    start a second generation beside it. A connection that never opened is still retried, and so is an
    embedding, which a second request only repeats."""
    from inference.client import InferenceClient, InferenceError

    attempts: list[type[Exception]] = []

    def failing(error: type[httpx.TransportError]) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            attempts.append(error)
            raise error("timed out", request=request)

        return httpx.MockTransport(handler)

    for error, tries in ((httpx.ReadTimeout, 1), (httpx.ConnectTimeout, 3)):
        attempts.clear()
        client = InferenceClient(
            "http://inference", transport=failing(error), max_retries=2, backoff_base=0.0
        )
        with pytest.raises(InferenceError, match=error.__name__ if tries > 1 else "not retried"):
            client.chat([{"role": "user", "content": "hello"}])
        assert attempts == [error] * tries
    attempts.clear()
    client = InferenceClient(
        "http://inference", transport=failing(httpx.ReadTimeout), max_retries=2, backoff_base=0.0
    )
    with pytest.raises(InferenceError, match="ReadTimeout"):
        client.embed(["an embedding asked again changes nothing"])
    assert attempts == [httpx.ReadTimeout] * 3, "embeddings are retried"


def _pace(monkeypatch, api, seconds: float = 0.02) -> None:
    """Each forward step takes at least `seconds`, so a 200-token answer lasts four seconds or more."""
    import time

    model = api.service.engine.model
    forward = model.forward

    def paced(*args: Any, **kwargs: Any) -> Any:
        time.sleep(seconds)
        return forward(*args, **kwargs)

    monkeypatch.setattr(model, "forward", paced)


def _wait_until_idle(api, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if not api.service.snapshot()["pending"]:
            return
        threading.Event().wait(0.05)


def test_non_streamed_request_is_cancelled_once_its_client_gives_up(server, monkeypatch):
    from inference.client import InferenceClient, InferenceError

    base_url, api = server
    _pace(monkeypatch, api)
    submitted = []
    submit = api.service.submit

    def counted(*args: Any, **kwargs: Any) -> Any:
        submitted.append(args)
        return submit(*args, **kwargs)

    monkeypatch.setattr(api.service, "submit", counted)
    finished_before = dict(api.service.stats.finished_by_reason)
    client = InferenceClient(base_url, model="tiny-llama", timeout=0.5, max_retries=2, backoff_base=0.01)
    with pytest.raises(InferenceError, match="not retried"):
        client.complete("hello", max_tokens=200)
    _wait_until_idle(api)
    finished = {
        reason: count - finished_before.get(reason, 0)
        for reason, count in api.service.stats.finished_by_reason.items()
    }
    assert len(submitted) == 1
    assert {reason: count for reason, count in finished.items() if count} == {"cancelled": 1}
    snapshot = api.service.snapshot()
    assert snapshot["free_blocks"] == snapshot["total_blocks"]
    assert 'quire_http_requests_total{route="/v1/completions",status="499"} 1' in api.metrics.render()


def test_stream_closed_before_it_is_read_cancels_its_request(in_process, monkeypatch):
    api = in_process().api
    _pace(monkeypatch, api)
    body = json.dumps({"prompt": "hello", "max_tokens": 200, "stream": True}).encode()
    response = api.handle("POST", "/v1/completions", body)
    assert response.status == 200 and api.service.snapshot()["pending"] == 1
    response.stream.close()
    _wait_until_idle(api)
    assert api.service.snapshot()["pending"] == 0
    assert api.service.stats.finished_by_reason == {"cancelled": 1}


def test_a_stream_whose_client_left_while_it_was_queued_is_cancelled_before_its_prefill(
    in_process, monkeypatch
):
    """A stream writes nothing while its request waits in the queue, so a write never finds its client gone:
    it must look at the socket as a non-streamed request does, or it keeps its place, is prefilled and
    decodes a token for nobody."""
    api = in_process(EngineConfig(num_blocks=32, max_num_seqs=1)).api
    _pace(monkeypatch, api)
    blocker = api.service.submit([0, 5, 6], SamplingParams(max_tokens=150, ignore_eos=True))
    body = json.dumps({"prompt": "hello", "max_tokens": 20, "stream": True}).encode()
    response = api.handle("POST", "/v1/completions", body, client_gone=lambda: True)
    chunks = b"".join(response.stream)
    response.stream.close()
    prefilled = api.service.engine.stats["prefill_tokens"]
    blocker.cancel()
    _wait_until_idle(api)
    assert b"[DONE]" not in chunks
    assert prefilled == 3
    assert api.service.stats.finished_by_reason == {"cancelled": 2}
    snapshot = api.service.snapshot()
    assert snapshot["free_blocks"] == snapshot["total_blocks"]


@pytest.mark.parametrize("text", [5, None, ["hello"]])
def test_content_part_whose_text_is_not_a_string_is_a_400_naming_messages(in_process, text):
    api = in_process().api
    parts = [{"type": "text", "text": "hello "}, {"type": "text", "text": text}]
    body = json.dumps({"messages": [{"role": "user", "content": parts}], "max_tokens": 2}).encode()
    response = api.handle("POST", "/v1/chat/completions", body)
    assert response.status == 400, response.body
    error = json.loads(response.body)["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", "messages")
    assert api.service.snapshot()["pending"] == 0


@pytest.mark.parametrize("declared", [b"-1", b"abc", b"1e3", b" "])
def test_malformed_content_length_answers_400_and_closes(server, declared):
    import socket
    from urllib.parse import urlsplit

    address = urlsplit(server[0])
    body = json.dumps({"prompt": "hi", "max_tokens": 2}).encode()
    request = b"POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + declared + b"\r\n\r\n"
    with socket.create_connection((address.hostname, address.port), timeout=5) as connection:
        connection.sendall(request + body)
        reply = b""
        while chunk := connection.recv(4096):
            reply += chunk
    head, _, answer = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    error = json.loads(answer)["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_content_length")


@pytest.mark.parametrize(("method", "path", "status"), [("PUT", "/v1/models", 405), ("DELETE", "/v1/x", 404)])
def test_other_methods_answer_json_errors_in_the_openai_shape(server, method, path, status):
    response = httpx.request(method, server[0] + path, json={}, timeout=10)
    assert response.status_code == status and response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["type"] in ("invalid_request_error", "not_found_error")


@pytest.mark.parametrize("seed", [2**63, 2**64, -(2**63) - 1, "7", True])
def test_seed_outside_int64_is_a_400_naming_seed(in_process, seed):
    api = in_process().api
    body = json.dumps({"prompt": "hello", "max_tokens": 2, "temperature": 1, "seed": seed}).encode()
    response = api.handle("POST", "/v1/completions", body)
    assert response.status == 400, response.body
    assert json.loads(response.body)["error"]["param"] == "seed"
    assert api.service.snapshot()["pending"] == 0
    for edge in (2**63 - 1, -(2**63)):
        body = json.dumps({"prompt": "hello", "max_tokens": 2, "temperature": 1, "seed": edge}).encode()
        assert api.handle("POST", "/v1/completions", body).status == 200


def test_tiny_temperature_is_greedy_and_leaves_requests_beside_it_alone(in_process, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    api = in_process().api

    def complete(prompt: str, max_tokens: int, temperature: float) -> tuple[int, dict]:
        body = {"prompt": prompt, "max_tokens": max_tokens, "temperature": temperature}
        response = api.handle("POST", "/v1/completions", json.dumps(body).encode())
        return response.status, json.loads(response.body)

    greedy_alone = complete("The quick brown fox", 30, 0)
    tiny_as_greedy = complete("hello", 5, 0)
    _pace(monkeypatch, api)
    with ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(complete, "The quick brown fox", 30, 0)
        for _ in range(100):
            if api.service.snapshot()["running"]:
                break
            threading.Event().wait(0.02)
        tiny = complete("hello", 5, 1e-40)
        beside = running.result()
    assert tiny[0] == beside[0] == 200, (tiny, beside)
    assert beside[1]["choices"] == greedy_alone[1]["choices"]
    assert tiny[1]["choices"] == tiny_as_greedy[1]["choices"]


def test_unknown_paths_share_one_route_label_in_metrics(in_process):
    import re

    api = in_process(EngineConfig(num_blocks=8)).api
    for path in ('/v1/x"} 1\nfake_total{a="', "/scan/1", "/scan/2"):
        assert api.handle("GET", path).status == 404
    assert api.handle("GET", "/v1/completions").status == 405
    text = api.handle("GET", "/metrics").body.decode()
    sample = re.compile(r'^[a-z_]+(\{([a-z_]+="([^"\\\n]|\\.)*",?)*\})? \S+$')
    assert [line for line in text.splitlines() if not line.startswith("#") and not sample.match(line)] == []
    assert "scan" not in text and "fake_total" not in text
    assert 'quire_http_requests_total{route="unknown",status="404"} 3' in text
    assert 'quire_http_requests_total{route="/v1/completions",status="405"} 1' in text


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"messages": [{"role": 5, "content": "hello"}]}, "messages"),
        ({"messages": [{"role": "user", "content": 7}]}, "messages"),
        ({"messages": [{"role": "user", "content": {"text": "hello"}}]}, "messages"),
        ({"messages": [{"role": "user", "content": "hello"}], "model": ["m"]}, "model"),
        ({"messages": [{"role": "user", "content": "hello"}], "model": {"id": "m"}}, "model"),
        ({"messages": [{"role": "wizard", "content": "hello"}]}, "messages"),
        ({"messages": [{"role": "user"}]}, "messages"),
        ({"messages": [{"role": "user", "content": None}]}, "messages"),
        ({"messages": [{"role": "user", "content": "hello"}], "tool_choice": "auto"}, "tool_choice"),
    ],
)
def test_messages_and_model_of_the_wrong_type_are_a_400(in_process, monkeypatch, fields, param):
    api = in_process(EngineConfig(num_blocks=8)).api
    template = "{% for m in messages %}{{ '<|' + m['role'] + '|>' + m['content'] }}{% endfor %}<|assistant|>"
    monkeypatch.setattr(api.tokenizer, "chat_template", template)
    monkeypatch.setattr(api.tokenizer, "_compiled_template", None)
    response = api.handle("POST", "/v1/chat/completions", json.dumps({"max_tokens": 2, **fields}).encode())
    assert response.status == 400, response.body
    error = json.loads(response.body)["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param)
    assert api.service.snapshot()["pending"] == 0


def test_embeddings_refuse_a_dimension_count_they_cannot_give(in_process):
    api = in_process(EngineConfig(num_blocks=8), embed_texts=_fake_embed).api
    width = len(
        json.loads(api.handle("POST", "/v1/embeddings", b'{"input": "a"}').body)["data"][0]["embedding"]
    )
    for dimensions, status in ((width, 200), (10, 400), ("abc", 400), (True, 400)):
        body = json.dumps({"input": "a", "dimensions": dimensions}).encode()
        response = api.handle("POST", "/v1/embeddings", body)
        assert response.status == status, (dimensions, response.body)
        if status == 400:
            assert json.loads(response.body)["error"]["param"] == "dimensions"


def test_an_assistant_message_may_come_without_content(in_process, monkeypatch):
    api = in_process(EngineConfig(num_blocks=8)).api
    template = "{% for m in messages %}{{ '<|' + m['role'] + '|>' + m['content'] }}{% endfor %}<|assistant|>"
    monkeypatch.setattr(api.tokenizer, "chat_template", template)
    monkeypatch.setattr(api.tokenizer, "_compiled_template", None)
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None},
        {"role": "user", "content": "go"},
    ]
    body = json.dumps({"messages": messages, "max_tokens": 2, "tool_choice": "none"}).encode()
    assert api.handle("POST", "/v1/chat/completions", body).status == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/completions", b'{"prompt": "\\ud800 hello", "max_tokens": 2}'),
        (
            "/v1/chat/completions",
            b'{"messages": [{"role": "user", "content": "hi \\udc00"}], "max_tokens": 2}',
        ),
        ("/v1/embeddings", b'{"input": ["fine", "\\ud83d"]}'),
        ("/v1/completions", b'{"prompt": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
    ],
)
def test_lone_surrogates_and_deep_nesting_are_a_400(in_process, path, body):
    api = in_process(EngineConfig(num_blocks=8), embed_texts=_fake_embed).api
    response = api.handle("POST", path, body)
    assert response.status == 400, response.body
    assert json.loads(response.body)["error"]["type"] == "invalid_request_error"
    assert api.service.snapshot()["pending"] == 0


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_a_bad_token_limit_is_a_400_naming_the_field_sent(in_process, field):
    api = in_process(EngineConfig(num_blocks=8)).api
    body = {"messages": [{"role": "user", "content": "hello"}], field: 0}
    response = api.handle("POST", "/v1/chat/completions", json.dumps(body).encode())
    assert response.status == 400, response.body
    assert json.loads(response.body)["error"]["param"] == field


def test_neutral_values_of_the_openai_sampling_fields_are_accepted(in_process):
    api = in_process(EngineConfig(num_blocks=8)).api

    def complete(**fields: Any) -> dict:
        body = {"prompt": "hello world", "max_tokens": 4, "temperature": 0, **fields}
        response = api.handle("POST", "/v1/completions", json.dumps(body).encode())
        assert response.status == 200, response.body
        return json.loads(response.body)

    plain = complete()["choices"]
    neutral = {
        "frequency_penalty": 0,
        "presence_penalty": 0.0,
        "logit_bias": {},
        "response_format": {"type": "text"},
        "best_of": 1,
        "n": 1,
    }
    assert complete(**neutral)["choices"] == plain
    assert complete(**dict.fromkeys(neutral))["choices"] == plain
    assert complete(temperature=1, top_p=0, seed=5)["choices"] == plain


def test_logit_bias_steers_the_chat_and_completion_routes(in_process):
    api = in_process(EngineConfig(num_blocks=8)).api
    token = api.tokenizer.encode("fox")[-1]
    forced = {"max_tokens": 4, "temperature": 0, "logit_bias": {str(token): 100}}
    routes = {
        "/v1/completions": {"prompt": "hello world", **forced},
        "/v1/chat/completions": {"messages": [{"role": "user", "content": "hello world"}], **forced},
    }
    for path, body in routes.items():
        response = api.handle("POST", path, json.dumps(body).encode())
        assert response.status == 200, response.body
        answer = json.loads(response.body)
        choice = answer["choices"][0]
        assert choice.get("text", choice.get("message", {}).get("content")) == api.tokenizer.decode(
            [token] * 4
        )
        assert answer["usage"]["completion_tokens"] == 4


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}, "response_format"),
        ({"response_format": "text"}, "response_format"),
        ({"best_of": 2}, "best_of"),
        ({"best_of": True}, "best_of"),
        ({"n": 2}, "n"),
        ({"n": True}, "n"),
        ({"frequency_penalty": 2.5}, "frequency_penalty"),
        ({"presence_penalty": "1"}, "presence_penalty"),
        ({"logit_bias": [[5, 1]]}, "logit_bias"),
        ({"logit_bias": {"fox": 1}}, "logit_bias"),
        ({"logit_bias": {"-5": 1}}, "logit_bias"),
        ({"logit_bias": {"5": 101}}, "logit_bias"),
        ({"logit_bias": {"5": True}}, "logit_bias"),
        ({"logit_bias": {"99999999": 1}}, "logit_bias"),
        ({"logit_bias": {str(token): 1 for token in range(301)}}, "logit_bias"),
        ({"logit_bias": {"1" * 5000: 1}}, "logit_bias"),
        ({"top_p": -0.1}, "top_p"),
        ({"suffix": " end"}, "suffix"),
    ],
)
@pytest.mark.parametrize("path", ["/v1/completions", "/v1/chat/completions"])
def test_unsupported_or_out_of_range_sampling_fields_are_a_400_naming_them(in_process, path, fields, param):
    api = in_process(EngineConfig(num_blocks=8)).api
    body = {"prompt": "hello", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 2, **fields}
    response = api.handle("POST", path, json.dumps(body).encode())
    assert response.status == 400, response.body
    error = json.loads(response.body)["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, "invalid_value")
    assert api.service.snapshot()["pending"] == 0


def test_head_is_answered_as_get_without_a_body(server):
    import http.client
    from urllib.parse import urlsplit

    address = urlsplit(server[0])
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)

    def ask(method: str, path: str) -> tuple[http.client.HTTPResponse, bytes]:
        connection.request(method, path)
        response = connection.getresponse()
        return response, response.read()

    try:
        listed = ask("GET", "/v1/models")[1]
        head, body = ask("HEAD", "/v1/models")
        assert (head.status, body) == (200, b"")
        assert int(head.getheader("content-length")) == len(listed)
        for path, status in {"/health": 200, "/v1/completions": 405, "/nowhere": 404}.items():
            head, body = ask("HEAD", path)
            assert (head.status, body) == (status, b""), path
            assert head.getheader("content-type").startswith("application/json")
        assert ask("HEAD", "/v1/completions")[0].getheader("allow") == "POST"
        assert ask("PUT", "/v1/models")[0].getheader("allow") == "GET, HEAD"
        after, body = ask("GET", "/v1/models")
        assert after.status == 200 and body == listed
    finally:
        connection.close()


def test_head_through_the_in_process_transport_has_no_body(in_process):
    client = httpx.Client(transport=in_process(EngineConfig(num_blocks=8)))
    response = client.head("http://inference/health")
    assert response.status_code == 200 and response.content == b""
    assert int(response.headers["content-length"]) == len(client.get("http://inference/health").content)


def test_shutdown_answers_the_requests_in_flight_with_503(in_process, monkeypatch):
    api = in_process().api
    engine = api.service.engine
    monkeypatch.setattr(engine, "has_work", lambda: False)
    body = {"prompt": "hello", "max_tokens": 5}
    answers: dict[str, Any] = {}

    def plain() -> None:
        answers["plain"] = api.handle("POST", "/v1/completions", json.dumps(body).encode())

    thread = threading.Thread(target=plain)
    thread.start()
    streamed = api.handle("POST", "/v1/completions", json.dumps({**body, "stream": True}).encode())
    for _ in range(200):
        if api.service.snapshot()["pending"] == 2:
            break
        threading.Event().wait(0.05)
    assert api.service.snapshot()["pending"] == 2
    api.service.shutdown()
    thread.join()
    error = json.loads(answers["plain"].body)["error"]
    assert (answers["plain"].status, error["type"], error["code"]) == (503, "server_error", "unavailable")
    events = [
        line[6:] for line in b"".join(streamed.stream).decode().splitlines() if line.startswith("data: ")
    ]
    assert events[-1] == "[DONE]"
    assert json.loads(events[-2])["error"]["code"] == "unavailable"
    assert engine.num_free_blocks == engine.cache.num_blocks


@pytest.mark.parametrize("drain", ["0", None])
def test_a_stream_in_flight_when_the_server_is_terminated_ends_with_done(tiny_checkpoint, drain):
    """SIGTERM stops the process: a stream still under way finishes within the drain period (10 s by default)
    or, with none (`QUIRE_INFERENCE_DRAIN_SECONDS=0`), gets its `unavailable` error event; either way `[DONE]`
    and the chunked body's last chunk come before the process exits, rather than a connection cut mid-stream."""
    import http.client
    import os
    import re
    import signal
    import subprocess
    import sys

    env = {name: value for name, value in os.environ.items() if name != "QUIRE_INFERENCE_DRAIN_SECONDS"}
    if drain is not None:
        env["QUIRE_INFERENCE_DRAIN_SECONDS"] = drain
    process = subprocess.Popen(
        [sys.executable, "-m", "inference.server", "--model", str(tiny_checkpoint), "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stderr is not None
        port = next(
            int(found.group(1))
            for line in process.stderr
            if (found := re.search(r"http://[^:]+:(\d+)/v1", line))
        )
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        body = {"prompt": "hello", "max_tokens": 250, "temperature": 0, "stream": True}
        connection.request("POST", "/v1/completions", json.dumps(body))
        response = connection.getresponse()
        assert response.status == 200
        raw = response.fp.readline()
        process.send_signal(signal.SIGTERM)
        while piece := response.fp.read1(65536):
            raw += piece
        connection.close()
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
    assert raw.endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n"), raw[-300:]
    if drain is None:
        events = [json.loads(e) for e in _sse_events(raw) if e.startswith("{")]
        assert not any("error" in event for event in events), events[-1]
        assert events[-1]["choices"][0]["finish_reason"] in ("length", "stop")


def _post(api, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = api.handle("POST", path, json.dumps(body).encode())
    assert response.stream is None
    return response.status, json.loads(response.body)


def _ask(path: str, prompt: list[int], **fields: Any) -> dict[str, Any]:
    """A body for `path` whose prompt is `prompt`'s token ids (a chat's messages render to more tokens)."""
    if path == "/v1/completions":
        return {"prompt": prompt, **fields}
    return {"messages": [{"role": "user", "content": "hello"}], **fields}


@pytest.mark.parametrize(("path", "param", "part"), [
    ("/v1/completions", "prompt", "prompt"),
    ("/v1/chat/completions", "messages", "messages"),
])  # fmt: skip
def test_a_request_past_the_context_window_is_a_400_context_length_exceeded(
    in_process, monkeypatch, path, param, part
):
    """OpenAI refuses a request whose prompt and `max_tokens` together pass the context window, saying both
    numbers; it was queued and cut short with finish_reason "length" when the window ran out."""
    api = in_process().api
    if path == "/v1/chat/completions":
        monkeypatch.setattr(api.tokenizer, "encode_chat", lambda messages: [5] * 200)
    status, answer = _post(api, path, _ask(path, [5] * 200, max_tokens=57, temperature=0))
    assert status == 400, answer
    error = answer["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "context_length_exceeded",
        param,
    )
    assert error["message"] == (
        "This model's maximum context length is 256 tokens. However, you requested 257 tokens "
        f"(200 in the {part}, 57 in the completion). Please reduce the length of the {part} or completion."
    )
    assert api.service.stats.prompt_tokens_total == 0 and api.service.snapshot()["pending"] == 0
    status, answer = _post(api, path, _ask(path, [5] * 200, max_tokens=56, temperature=0))
    assert status == 200, answer
    assert answer["usage"]["prompt_tokens"] + answer["usage"]["completion_tokens"] <= 256


@pytest.mark.parametrize("fields", [{"max_tokens": 2}, {}])
def test_a_prompt_that_alone_fills_the_context_window_is_a_400_context_length_exceeded(in_process, fields):
    api = in_process().api
    for length in (256, 300):
        status, answer = _post(api, "/v1/completions", {"prompt": [5] * length, **fields})
        assert status == 400, answer
        error = answer["error"]
        assert (error["code"], error["param"]) == ("context_length_exceeded", "prompt")
        assert error["message"].startswith("This model's maximum context length is 256 tokens. However, ")
        assert str(length) in error["message"]
    assert api.service.stats.prompt_tokens_total == 0


def test_without_max_tokens_a_request_gets_what_fits_in_the_window(in_process):
    """The default limit is the server's `default_max_tokens` (256) or what the window leaves after the prompt,
    whichever is less: a long prompt with no `max_tokens` is answered, not refused."""
    api = in_process(default_max_tokens=10).api
    status, answer = _post(api, "/v1/completions", {"prompt": [5] * 250, "temperature": 0})
    assert status == 200, answer
    assert answer["usage"]["prompt_tokens"] == 250 and answer["usage"]["completion_tokens"] <= 6
    status, answer = _post(api, "/v1/completions", {"prompt": [5] * 20, "temperature": 0})
    assert status == 200, answer
    assert answer["usage"]["completion_tokens"] <= 10


def test_the_context_window_is_what_the_kv_cache_holds_where_that_is_less(in_process):
    """A sequence alone in a cache of 64 tokens ends there whatever the model's 256-token window: a request for
    more is refused up front rather than cut short, and /v1/models says the window."""
    api = in_process(EngineConfig(num_blocks=4, block_size=16)).api
    status, answer = _post(api, "/v1/completions", {"prompt": [5] * 50, "max_tokens": 20})
    assert status == 400, answer
    assert answer["error"]["code"] == "context_length_exceeded"
    assert "maximum context length is 64 tokens" in answer["error"]["message"]
    models = json.loads(api.handle("GET", "/v1/models").body)["data"]
    assert models[0]["id"] == "m" and models[0]["max_model_len"] == 64


def _serve(api) -> tuple[InferenceHTTPServer, str]:
    httpd = InferenceHTTPServer(("127.0.0.1", 0), api)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def _sse_events(raw: bytes) -> list[str]:
    return [line[6:] for line in raw.decode().splitlines() if line.startswith("data: ")]


def _hold_the_engine(monkeypatch, api) -> Callable[[], None]:
    """Keep the engine thread from stepping, its requests queued and unfinished, until the returned function is
    called (a step holds the service's lock, so a paced forward would hold up every request beside it)."""
    engine = api.service.engine
    has_work = engine.has_work
    held = threading.Event()
    held.set()
    monkeypatch.setattr(engine, "has_work", lambda: not held.is_set() and has_work())

    def release() -> None:
        held.clear()
        with api.service._lock:
            api.service._lock.notify_all()

    return release


def _wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        threading.Event().wait(0.02)
    raise AssertionError("timed out")


def test_stopping_drains_the_requests_in_flight_and_refuses_new_ones_with_503(in_process, monkeypatch):
    """While the server drains, a request sent is a 503 `unavailable` (and `/health` says draining), where
    the requests already in flight, streamed or not, finish as if nothing happened; before, they were all
    answered 503 at once."""
    from concurrent.futures import ThreadPoolExecutor

    api = in_process().api
    release = _hold_the_engine(monkeypatch, api)
    httpd, base_url = _serve(api)
    body = {"prompt": "hello", "max_tokens": 30, "temperature": 0}

    def plain() -> httpx.Response:
        return httpx.post(base_url + "/v1/completions", json=body, timeout=30)

    def streamed() -> bytes:
        with httpx.stream(
            "POST", base_url + "/v1/completions", json={**body, "stream": True}, timeout=30
        ) as response:
            return response.read()

    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = [pool.submit(plain), pool.submit(streamed)]
        _wait_for(lambda: api.service.snapshot()["pending"] == 2)
        stopping = pool.submit(httpd.stop, drain=20.0)
        _wait_for(lambda: not api.service.accepting)
        health = httpx.get(base_url + "/health", timeout=5)
        refused = httpx.post(base_url + "/v1/completions", json=body, timeout=5)
        assert (health.status_code, health.json()["status"]) == (503, "draining")
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "unavailable"
        assert refused.headers["connection"] == "close"
        assert not answers[0].done() and not answers[1].done() and not stopping.done()
        release()
        assert stopping.result(timeout=30) is True
        whole, events = answers[0].result(), _sse_events(answers[1].result())
    assert whole.status_code == 200 and whole.json()["usage"]["completion_tokens"] == 30
    assert events[-1] == "[DONE]" and not any("error" in json.loads(e) for e in events[:-1])
    assert json.loads(events[-2])["choices"][0]["finish_reason"] == "length"


def test_requests_still_running_when_the_drain_times_out_are_answered_503(in_process, monkeypatch):
    import time

    api = in_process().api
    _hold_the_engine(monkeypatch, api)
    httpd, base_url = _serve(api)
    answers: list[httpx.Response] = []
    body = {"prompt": "hello", "max_tokens": 20, "temperature": 0}
    asking = threading.Thread(
        target=lambda: answers.append(httpx.post(base_url + "/v1/completions", json=body, timeout=30))
    )
    asking.start()
    _wait_for(lambda: api.service.snapshot()["pending"] == 1)
    started = time.monotonic()
    assert httpd.stop(drain=0.3) is True
    asking.join()
    assert 0.3 <= time.monotonic() - started < 5
    assert answers[0].status_code == 503 and answers[0].json()["error"]["code"] == "unavailable"


@pytest.mark.parametrize(("value", "seconds"), [(None, 10.0), ("0", 0.0), ("2.5", 2.5)])
def test_the_drain_period_comes_from_the_environment(monkeypatch, value, seconds):
    from inference.server import DRAIN_SECONDS_ENV, drain_seconds

    if value is None:
        monkeypatch.delenv(DRAIN_SECONDS_ENV, raising=False)
    else:
        monkeypatch.setenv(DRAIN_SECONDS_ENV, value)
    assert drain_seconds() == seconds
    for bad in ("-1", "soon", "nan", "inf"):
        monkeypatch.setenv(DRAIN_SECONDS_ENV, bad)
        with pytest.raises(ValueError, match=DRAIN_SECONDS_ENV):
            drain_seconds()


def test_a_max_model_len_past_the_models_context_stops_the_server_with_the_reason(tiny_checkpoint, capsys):
    from inference.config import ModelConfig
    from inference.server import main

    context = ModelConfig.from_dir(tiny_checkpoint).max_position_embeddings
    with pytest.raises(SystemExit) as stopped:
        main(["--model", str(tiny_checkpoint), "--device", "cpu", "--max-model-len", str(context + 1)])
    assert stopped.value.code == 2
    assert (
        f"max_model_len {context + 1} is past this model's context of {context} tokens"
        in capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--block-size", "0", "block_size must be positive, got 0"),
        ("--kv-cache-mb", "0", "kv_cache_bytes must be positive, got 0"),
        ("--max-num-seqs", "-1", "max_num_seqs must be positive, got -1"),
        ("--max-model-len", "1", "max_model_len must be at least 2, got 1"),
    ],
)
def test_an_engine_setting_out_of_range_stops_the_server_with_the_reason(
    tiny_checkpoint, capsys, option, value, message
):
    """A usage error naming the setting, not a traceback; and a cache of 0 MiB is refused, not read as unset."""
    from inference.server import main

    with pytest.raises(SystemExit) as stopped:
        main(["--model", str(tiny_checkpoint), "--device", "cpu", option, value])
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err


def _exchange(base_url: str, request: bytes, *, replies: int = 1) -> list[tuple[bytes, bytes]]:
    """Send raw bytes on one connection and read `replies` HTTP responses (by Content-Length), or what came
    before the server closed it; each as (head, body)."""
    import socket
    from urllib.parse import urlsplit

    address = urlsplit(base_url)
    answers = []
    with socket.create_connection((address.hostname, address.port), timeout=30) as connection:
        connection.sendall(request)
        buffered = b""
        for _ in range(replies):
            while b"\r\n\r\n" not in buffered and (piece := connection.recv(65536)):
                buffered += piece
            head, _, buffered = buffered.partition(b"\r\n\r\n")
            if not head:
                break
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            while len(buffered) < length and (piece := connection.recv(65536)):
                buffered += piece
            answers.append((head, buffered[:length]))
            buffered = buffered[length:]
    return answers


def _chunked(body: bytes, sizes: list[int]) -> bytes:
    pieces, offset = [], 0
    for size in sizes:
        pieces.append(f"{size:x}\r\n".encode() + body[offset : offset + size] + b"\r\n")
        offset += size
    return b"".join(pieces) + b"0\r\n\r\n"


def test_a_chunked_request_body_is_read(server):
    """`Transfer-Encoding: chunked` (what an HTTP client sends for a body of unknown length, a Go client's
    io.Reader say) was ignored: the body read as empty (a 400) and its chunks as the next request (an HTML 400),
    a desync on a keep-alive connection. Now it is read, and the connection serves the next request."""
    body = json.dumps({"prompt": "hello", "max_tokens": 2, "temperature": 0}).encode()
    head = b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    chunked = head + b"Transfer-Encoding: chunked\r\n\r\n" + _chunked(body, [5, 1, len(body) - 6])
    plain = head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    answers = _exchange(server[0], chunked + plain, replies=2)
    assert [head.split(b"\r\n")[0] for head, _ in answers] == [b"HTTP/1.1 200 OK"] * 2, answers
    assert json.loads(answers[0][1])["choices"] == json.loads(answers[1][1])["choices"]


@pytest.mark.parametrize(
    ("encoding", "chunks", "status", "code"),
    [
        (b"chunked", b"zz\r\n{}\r\n0\r\n\r\n", 400, "invalid_chunked_body"),
        (b"chunked", b"0x2\r\n{}\r\n0\r\n\r\n", 400, "invalid_chunked_body"),
        (b"chunked", b"2\r\n{}XX0\r\n\r\n", 400, "invalid_chunked_body"),
        (b"chunked", f"{64 * 2**20 + 1:x}\r\n".encode(), 413, "body_too_large"),
        (b"gzip, chunked", b"0\r\n\r\n", 501, "unsupported_transfer_encoding"),
    ],
)
def test_a_bad_chunked_body_or_another_transfer_encoding_is_refused_and_closes(
    server, encoding, chunks, status, code
):
    request = b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + encoding + b"\r\n\r\n"
    answers = _exchange(server[0], request + chunks + b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", replies=2)
    assert len(answers) == 1, answers
    head, body = answers[0]
    assert head.startswith(f"HTTP/1.1 {status}".encode()) and b"connection: close" in head.lower()
    assert json.loads(body)["error"]["code"] == code


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"OPTIONS /v1/models HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /health HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n", 431),
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 414),
    ],
)
def test_errors_the_http_layer_answers_are_json_in_the_openai_shape(server, request_bytes, status):
    """A malformed request line or header, another HTTP version or a method with no handler (OPTIONS, as a
    browser's CORS preflight sends) got the HTTP server's HTML error page."""
    answers = _exchange(server[0], request_bytes)
    assert answers, "no answer"
    head, body = answers[0]
    assert head.startswith(f"HTTP/1.1 {status}".encode()) or head.startswith(f"HTTP/1.0 {status}".encode())
    assert b"content-type: application/json" in head.lower(), head
    error = json.loads(body)["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]


@pytest.mark.parametrize(
    ("part", "named"),
    [
        ({"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}, "image_url"),
        ({"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}, "input_audio"),
        ("hello", "str"),
        ({"text": "no type"}, "None"),
    ],
)
def test_a_content_part_that_is_not_text_is_a_400_rather_than_dropped(in_process, part, named):
    """An image or audio part was dropped without a word, so a text model answered a question about an image
    it never saw; OpenAI answers a model that cannot read the part with a 400."""
    api = in_process().api
    parts = [{"type": "text", "text": "What is in this picture?"}, part]
    body = json.dumps({"messages": [{"role": "user", "content": parts}], "max_tokens": 2}).encode()
    response = api.handle("POST", "/v1/chat/completions", body)
    assert response.status == 400, response.body
    error = json.loads(response.body)["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", "messages")
    assert named in error["message"]
    assert api.service.snapshot()["pending"] == 0


@pytest.mark.parametrize("path", ["/v1/completions", "/v1/chat/completions"])
def test_with_include_usage_a_stream_reports_its_usage_once(in_process, path):
    """With `stream_options.include_usage` the usage went on the chunk with the finish reason and again on
    OpenAI's last chunk (no choices): a client that adds the usage of every chunk that has one (LangChain's
    ChatOpenAI, which asks for it by default) counted every token twice. As OpenAI sends it, the other chunks
    now say `"usage": null`; without the option the finish chunk still carries it, as before."""
    api = in_process().api
    body = {
        "prompt": "hello",
        "messages": [{"role": "user", "content": "hello"}],
        "max_tokens": 4,
        "temperature": 0,
        "logit_bias": {"5": 100},
        "stream": True,
    }
    for include_usage in (True, False):
        fields = {**body, "stream_options": {"include_usage": include_usage}}
        response = api.handle("POST", path, json.dumps(fields).encode())
        chunks = [json.loads(event) for event in _sse_events(b"".join(response.stream))[:-1]]
        with_usage = [chunk for chunk in chunks if chunk.get("usage")]
        assert len(with_usage) == 1, chunks
        if include_usage:
            assert with_usage[0] is chunks[-1] and chunks[-1]["choices"] == []
            assert all("usage" in chunk and chunk["usage"] is None for chunk in chunks[:-1])
        else:
            assert with_usage[0] is chunks[-1] and chunks[-1]["choices"][0]["finish_reason"] == "length"
        assert with_usage[0]["usage"]["completion_tokens"] == 4


def test_a_model_can_be_retrieved_by_its_id(client, server):
    """The openai client's `models.retrieve(id)` (GET /v1/models/{id}) was a 404 unknown_url."""
    assert client.models.retrieve("tiny-llama").id == "tiny-llama"
    assert client.models.retrieve("all-MiniLM-L6-v2").owned_by == "quire"
    with pytest.raises(openai.NotFoundError) as missing:
        client.models.retrieve("gpt-nope")
    assert (missing.value.body["code"], missing.value.body["param"]) == ("model_not_found", "model")
    assert httpx.post(server[0] + "/v1/models/tiny-llama", json={}).status_code == 405


def test_chat_logprobs_report_each_token_and_its_likeliest_alternatives_streamed_or_not(in_process):
    """`logprobs: true` with `top_logprobs: 3`: one entry per completion token, in OpenAI's shape (the openai
    client reads it), each greedy token the likeliest of its step; streamed, the chunks carry the same entries."""
    client = _openai_client(in_process())
    messages = [{"role": "user", "content": "The quick brown fox"}]
    answer = client.chat.completions.create(
        model="m", messages=messages, max_tokens=6, temperature=0, logprobs=True, top_logprobs=3
    )
    content = answer.choices[0].logprobs.content
    assert len(content) == answer.usage.completion_tokens == 6
    for entry in content:
        assert len(entry.top_logprobs) == 3
        assert [top.logprob for top in entry.top_logprobs] == sorted(
            (top.logprob for top in entry.top_logprobs), reverse=True
        )
        assert entry.top_logprobs[0].token == entry.token
        assert entry.logprob == pytest.approx(entry.top_logprobs[0].logprob) and entry.logprob <= 0
    joined = bytes(byte for entry in content for byte in entry.bytes)
    assert joined.decode("utf-8", errors="replace") == answer.choices[0].message.content
    streamed = client.chat.completions.create(
        model="m", messages=messages, max_tokens=6, temperature=0, logprobs=True, top_logprobs=3, stream=True
    )
    entries = [
        entry
        for chunk in streamed
        for choice in chunk.choices
        if choice.logprobs
        for entry in choice.logprobs.content
    ]
    assert [(e.token, e.logprob) for e in entries] == [(e.token, e.logprob) for e in content]
    plain = client.chat.completions.create(model="m", messages=messages, max_tokens=2, temperature=0)
    assert plain.choices[0].logprobs is None


def test_completion_text_offsets_count_characters_split_over_tokens(in_process, tiny_checkpoint):
    """Tokens of single bytes of "é" (0xC3 0xA9) and "Ã" alone: each offset is the place in the answer's text of
    the character the token's first byte belongs to, so the offsets never run past the text."""
    from tokenizers import Tokenizer

    from inference.api import TextOffsets

    vocabulary = Tokenizer.from_file(str(tiny_checkpoint / "tokenizer.json"))
    lead, tail = vocabulary.token_to_id("\u00c3"), vocabulary.token_to_id("\u00a9")
    client = _openai_client(in_process())
    answer = client.completions.create(
        model="m",
        prompt="caf",
        max_tokens=8,
        temperature=0,
        logprobs=0,
        logit_bias={str(lead): 100, str(tail): 100},
    )
    text, offsets = answer.choices[0].text, answer.choices[0].logprobs.text_offset
    assert "\u00e9" in text, text
    assert offsets == sorted(offsets) and offsets[-1] < len(text), (offsets, text)
    assert len(offsets) - len(set(offsets)) == text.count("\u00e9")

    counted = TextOffsets()
    assert [counted.start(data) for data in (b"a", b"\xc3", b"\xa9", b"\xc3", b"\xc3", b"b", b"\xe6\x97", b"\xa5")] == [
        0, 1, 1, 2, 3, 4, 5, 5,
    ]  # fmt: skip


def test_chat_logprobs_bytes_are_the_tokens_own_when_it_holds_part_of_a_character(
    in_process, tiny_checkpoint
):
    """A token of one byte of a two-byte character: its `bytes` are that byte (so the client can join the
    character's bytes), though its `token` text is the replacement character."""
    from tokenizers import Tokenizer

    half = Tokenizer.from_file(str(tiny_checkpoint / "tokenizer.json")).token_to_id("\u00c3")
    client = _openai_client(in_process())
    answer = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "caf"}],
        max_tokens=1,
        temperature=0,
        logprobs=True,
        logit_bias={str(half): 100},
    )
    [entry] = answer.choices[0].logprobs.content
    assert (entry.token, entry.bytes) == ("\ufffd", [0xC3])


def test_completion_logprobs_report_tokens_offsets_and_alternatives(in_process):
    """`logprobs: 2` on /v1/completions: `tokens`, `token_logprobs`, `top_logprobs` (a token to its
    log-probability) and `text_offset`, each token's place in the text; `logprobs: 0` reports the chosen tokens
    with no alternatives (it was once read as false)."""
    client = _openai_client(in_process())
    answer = client.completions.create(model="m", prompt="hello", max_tokens=5, temperature=0, logprobs=2)
    logprobs = answer.choices[0].logprobs
    assert len(logprobs.tokens) == len(logprobs.token_logprobs) == answer.usage.completion_tokens == 5
    assert all(
        len(top) <= 2 and max(top.values()) == pytest.approx(lp)
        for top, lp in zip(logprobs.top_logprobs, logprobs.token_logprobs, strict=True)
    )
    text = answer.choices[0].text
    for token, offset in zip(logprobs.tokens, logprobs.text_offset, strict=True):
        assert token == "\ufffd" or text[offset : offset + len(token)] == token, (token, offset, text)
    chosen = client.completions.create(model="m", prompt="hello", max_tokens=2, temperature=0, logprobs=0)
    assert chosen.choices[0].logprobs.top_logprobs == [{}, {}]
    assert len(chosen.choices[0].logprobs.token_logprobs) == 2


@pytest.mark.parametrize(
    ("path", "fields", "param"),
    [
        ("/v1/chat/completions", {"top_logprobs": 2}, "top_logprobs"),
        ("/v1/chat/completions", {"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
        ("/v1/chat/completions", {"logprobs": True, "top_logprobs": True}, "top_logprobs"),
        ("/v1/chat/completions", {"logprobs": 1}, "logprobs"),
        ("/v1/completions", {"logprobs": 21}, "logprobs"),
        ("/v1/completions", {"logprobs": -1}, "logprobs"),
        ("/v1/completions", {"logprobs": True}, "logprobs"),
    ],
)
def test_logprobs_settings_out_of_range_are_a_400_naming_them(in_process, path, fields, param):
    api = in_process(EngineConfig(num_blocks=8)).api
    body = {"prompt": "hello", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 1, **fields}
    response = api.handle("POST", path, json.dumps(body).encode())
    assert response.status == 400, response.body
    assert json.loads(response.body)["error"]["param"] == param


def test_a_connection_waiting_past_the_idle_timeout_is_closed_and_a_long_generation_is_not(
    in_process, monkeypatch
):
    """A client that sends half a request and waits (one per handler thread would hold the server) is
    disconnected after `idle_timeout`; a request the engine takes longer than that to answer is answered."""
    import socket
    import time
    from concurrent.futures import ThreadPoolExecutor

    api = in_process().api
    release = _hold_the_engine(monkeypatch, api)
    httpd = InferenceHTTPServer(("127.0.0.1", 0), api, idle_timeout=0.5)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        with socket.create_connection(httpd.server_address[:2], timeout=30) as slow:
            slow.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: inference\r\n")
            assert slow.recv(1024) == b""
        with ThreadPoolExecutor(max_workers=1) as pool:
            answer = pool.submit(
                httpx.post,
                base_url + "/v1/completions",
                json={"prompt": "hello", "max_tokens": 2, "temperature": 0},
                timeout=30,
            )
            _wait_for(lambda: api.service.snapshot()["pending"] == 1)
            time.sleep(1.0)
            release()
            assert answer.result().status_code == 200, answer.result().text
    finally:
        httpd.stop(grace=5)
