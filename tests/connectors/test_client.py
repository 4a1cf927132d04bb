import httpx
import pytest

from inference.client import Completion, InferenceClient, InferenceError


def make_client(server, **kwargs) -> InferenceClient:
    kwargs.setdefault("backoff_base", 0.01)
    return InferenceClient(server.url, api_key="secret", model="scripted-model", timeout=5.0, **kwargs)


def test_chat_posts_openai_payload_and_parses_usage(scripted_server):
    scripted_server.reply("hello")
    completion = make_client(scripted_server).chat(
        [{"role": "user", "content": "hi"}], max_tokens=5, stop=["\n"]
    )
    assert completion == Completion(
        text="hello", tokens_in=11, tokens_out=7, model="scripted", finish_reason="stop"
    )
    request = scripted_server.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["body"] == {
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 5,
        "temperature": 0.0,
        "stop": ["\n"],
        "model": "scripted-model",
    }
    assert request["headers"]["Authorization"] == "Bearer secret"


def test_complete_and_embed(scripted_server):
    client = make_client(scripted_server)
    assert client.complete("2+2=").text == "{}"
    assert scripted_server.requests[-1]["path"] == "/v1/completions"
    assert client.embed(["a"]) == [[0.1, 0.2]]
    assert client.embed([]) == []


def test_retries_server_errors_then_succeeds(scripted_server):
    scripted_server.fail(503)
    scripted_server.fail(502)
    scripted_server.reply("ok")
    assert make_client(scripted_server).chat([{"role": "user", "content": "x"}]).text == "ok"
    assert len(scripted_server.requests) == 3


def test_honours_retry_after_on_429(scripted_server, monkeypatch):
    waits = []
    monkeypatch.setattr("inference.client.time.sleep", waits.append)
    scripted_server.fail(429, headers={"Retry-After": "2"})
    scripted_server.reply("ok")
    assert make_client(scripted_server).chat([{"role": "user", "content": "x"}]).text == "ok"
    assert waits == [2.0]


def test_gives_up_with_status_and_error_body(scripted_server):
    for _ in range(3):
        scripted_server.fail(500, body={"error": {"message": "boom", "type": "server_error"}})
    with pytest.raises(InferenceError) as caught:
        make_client(scripted_server, max_retries=2).chat([{"role": "user", "content": "x"}])
    assert caught.value.status == 500 and caught.value.body["error"]["message"] == "boom"
    assert len(scripted_server.requests) == 3


def test_client_errors_are_not_retried(scripted_server):
    scripted_server.fail(400, body={"error": {"message": "bad request", "type": "invalid_request_error"}})
    with pytest.raises(InferenceError) as caught:
        make_client(scripted_server).chat([{"role": "user", "content": "x"}])
    assert caught.value.status == 400 and len(scripted_server.requests) == 1


def test_connection_errors_are_retried_then_raised():
    attempts = []

    def refuse(request: httpx.Request) -> httpx.Response:
        attempts.append(request.url.path)
        raise httpx.ConnectError("refused", request=request)

    client = InferenceClient(
        "http://127.0.0.1:9", transport=httpx.MockTransport(refuse), max_retries=2, backoff_base=0.0
    )
    with pytest.raises(InferenceError, match="ConnectError"):
        client.complete("x")
    assert attempts == ["/v1/completions"] * 3


def test_from_env(monkeypatch):
    monkeypatch.delenv("QUIRE_INFERENCE_URL", raising=False)
    assert InferenceClient.from_env() is None
    monkeypatch.setenv("QUIRE_INFERENCE_URL", "http://localhost:8000/v1/")
    monkeypatch.setenv("QUIRE_INFERENCE_MODEL", "llama")
    monkeypatch.setenv("QUIRE_INFERENCE_TIMEOUT", "12")
    client = InferenceClient.from_env()
    assert client.base_url == "http://localhost:8000/v1" and client.model == "llama"
    monkeypatch.setenv("QUIRE_INFERENCE_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="QUIRE_INFERENCE_TIMEOUT"):
        InferenceClient.from_env()


def test_bad_arguments():
    with pytest.raises(ValueError):
        InferenceClient("localhost:8000")
    with pytest.raises(ValueError):
        InferenceClient("http://x", timeout=0)


@pytest.mark.parametrize(
    "lost",
    [
        httpx.RemoteProtocolError("server disconnected"),
        httpx.ReadError("connection reset"),
        httpx.WriteError("broken pipe"),
    ],
)
def test_a_completion_whose_connection_broke_after_sending_is_not_retried(lost):
    attempts = []

    def drop(request: httpx.Request) -> httpx.Response:
        attempts.append(request.url.path)
        raise lost

    client = InferenceClient("http://127.0.0.1:9", transport=httpx.MockTransport(drop), backoff_base=0.0)
    with pytest.raises(InferenceError, match=type(lost).__name__):
        client.chat([{"role": "user", "content": "x"}])
    with pytest.raises(InferenceError, match=type(lost).__name__):
        client.complete("x")
    assert attempts == ["/v1/chat/completions", "/v1/completions"]
    with pytest.raises(InferenceError, match=type(lost).__name__):
        client.embed(["x"])
    assert attempts[2:] == ["/v1/embeddings"] * 4


CHAT_REPLY = {
    "model": "m",
    "choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1},
}


@pytest.mark.parametrize(
    "refused", [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), httpx.PoolTimeout("busy")]
)
def test_a_completion_that_never_reached_the_server_is_retried(refused):
    attempts = []

    def refuse(request: httpx.Request) -> httpx.Response:
        attempts.append(request.url.path)
        if len(attempts) < 3:
            raise refused
        return httpx.Response(200, json=CHAT_REPLY)

    client = InferenceClient("http://127.0.0.1:9", transport=httpx.MockTransport(refuse), backoff_base=0.0)
    assert client.chat([{"role": "user", "content": "x"}]).text == "ok"
    assert attempts == ["/v1/chat/completions"] * 3
