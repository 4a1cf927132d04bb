"""OpenAI-compatible routes over an `EngineService`, independent of any HTTP server.

`OpenAIApi.handle(method, path, body)` returns an `ApiResponse`; `inference.server` puts it on a socket and
`inference.inprocess` hands it to an `httpx` client without one.
"""

from __future__ import annotations

import base64
import codecs
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote

import numpy as np

from common.jsontext import json_value
from inference.engine import SamplingParams, StepOutput
from inference.engine.sequence import MAX_TOP_LOGPROBS, PENALTY_LIMIT
from inference.metrics import SERVER_METRICS, MetricsRegistry
from inference.sampling import TokenLogprobs
from inference.service import EngineFailure, EngineService, QueueFullError, RequestHandle, ServiceStopped
from inference.tokenizer import ChatTokenizer

EMBEDDING_MODEL = "all-MiniLM-L6-v2"
# The roles a chat message may have; a tool's reply needs tools, which this server does not call.
CHAT_ROLES = ("system", "developer", "user", "assistant")
# `GET /v1/models/{id}`: the id is the rest of the path, URL-decoded; metrics count the route by its template.
_MODEL_ROUTE_PREFIX = "/v1/models/"
_MODEL_ROUTE = "/v1/models/{model}"
logger = logging.getLogger("inference.api")
EmbedFunction = Callable[[list[str]], Any]
ClientGone = Callable[[], bool]
# How often a non-streamed completion looks whether its client is still connected.
CLIENT_POLL_SECONDS = 0.1


@dataclass
class ApiResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    stream: Iterator[bytes] | None = None


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.code = code
        self.param = param
        self.headers = headers or {}


# Sent with the answers of a server that is shutting down, so that a client's keep-alive connection closes
# and its next request opens one elsewhere (another replica behind the same address).
_CLOSE = {"connection": "close"}


def _unavailable(error: Exception) -> ApiError:
    return ApiError(503, str(error), error_type="server_error", code="unavailable", headers=_CLOSE)


def _invalid(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, error_type="invalid_request_error", code="invalid_value", param=param)


def _model_not_found(model: str, *served: str) -> ApiError:
    """The 404 for a model this server does not serve, naming the ones it does."""
    return ApiError(
        404,
        f"the model {model!r} does not exist; this server serves {' and '.join(repr(name) for name in served)}",
        error_type="invalid_request_error",
        code="model_not_found",
        param="model",
    )


def _json_response(
    status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
) -> ApiResponse:
    body = json.dumps(payload).encode()
    return ApiResponse(status, {"content-type": "application/json", **(headers or {})}, body)


def error_response(error: ApiError) -> ApiResponse:
    payload = {
        "error": {
            "message": error.message,
            "type": error.error_type,
            "param": error.param,
            "code": error.code,
        }
    }
    headers = {"retry-after": "1"} if error.status == 429 else {}
    return _json_response(error.status, payload, {**headers, **error.headers})


class _CancelOnClose:
    """A response stream whose `close()` cancels its request whether or not iteration began: closing a
    generator that never started skips its `finally`."""

    def __init__(self, chunks: Generator[bytes, None, None], handle: RequestHandle) -> None:
        self._chunks = chunks
        self._handle = handle

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        return next(self._chunks)

    def close(self) -> None:
        self._chunks.close()
        self._handle.cancel()


def _sse(payload: dict[str, Any] | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {data}\n\n".encode()


def _number(body: dict[str, Any], name: str, default: float, *, low: float, high: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise _invalid(f"{name} must be a number in [{low}, {high}]", name)
    return float(value)


# Digits a logit_bias key may have: more is no token id, and past 4300 int() itself raises ValueError.
_LOGIT_BIAS_KEY_DIGITS = 20


def _logit_bias(payload: dict[str, Any]) -> tuple[tuple[int, float], ...]:
    """`logit_bias`, an object from token ids written as decimal strings to numbers, as `(id, bias)` pairs;
    `SamplingParams` checks their range."""
    bias = payload.get("logit_bias", {})
    if not isinstance(bias, dict):
        raise _invalid("logit_bias must be an object mapping token ids to numbers", "logit_bias")
    pairs = []
    for token, value in bias.items():
        if not (token.isascii() and token.isdigit()) or len(token) > _LOGIT_BIAS_KEY_DIGITS:
            raise _invalid(f"logit_bias keys must be token ids, got {token[:24]!r}", "logit_bias")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _invalid(f"logit_bias values must be numbers, got {value!r}", "logit_bias")
        pairs.append((int(token), float(value)))
    return tuple(pairs)


def _only_one(payload: dict[str, Any], name: str) -> None:
    """`n` and `best_of` ask for several completions; this server makes one."""
    value = payload.get(name, 1)
    if isinstance(value, bool) or value != 1:
        raise _invalid(f"only {name}=1 is supported by this server", name)


def _logprobs_setting(payload: dict[str, Any], *, chat: bool) -> int | None:
    """How many of the likeliest tokens to report beside each chosen one's log-probability; None for no
    log-probabilities. Chat asks with `logprobs: true` and `top_logprobs` (0 unless given), completions with
    `logprobs: N` (0 is the chosen tokens alone; false or null, none)."""
    wanted = payload.get("logprobs")
    if chat:
        if wanted is not None and not isinstance(wanted, bool):
            raise _invalid("logprobs must be a boolean", "logprobs")
        top = payload.get("top_logprobs")
        if top is None:
            return 0 if wanted else None
        if isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= MAX_TOP_LOGPROBS:
            raise _invalid(f"top_logprobs must be an integer in [0, {MAX_TOP_LOGPROBS}]", "top_logprobs")
        if not wanted:
            raise _invalid("top_logprobs needs logprobs set to true", "top_logprobs")
        return top
    if wanted is None or wanted is False:
        return None
    if isinstance(wanted, bool) or not isinstance(wanted, int) or not 0 <= wanted <= MAX_TOP_LOGPROBS:
        raise _invalid(f"logprobs must be an integer in [0, {MAX_TOP_LOGPROBS}]", "logprobs")
    return wanted


# The lowest log-probability reported: JSON has no -Infinity, and vLLM reports a token the model rules out so.
LOWEST_LOGPROB = -9999.0


def _check_response_format(payload: dict[str, Any]) -> None:
    """Only plain text: JSON modes would need constrained decoding, which this server does not do."""
    response_format = payload.get("response_format", {"type": "text"})
    if not isinstance(response_format, dict) or response_format.get("type") != "text":
        kind = response_format.get("type") if isinstance(response_format, dict) else response_format
        raise _invalid(
            f'response_format {kind!r} is not supported by this server; only {{"type": "text"}} is',
            "response_format",
        )


def _stream_settings(payload: dict[str, Any]) -> tuple[bool, bool]:
    """`stream` and `stream_options.include_usage`, checked before anything is submitted."""
    stream = payload.get("stream", False)
    if not isinstance(stream, bool):
        raise _invalid("stream must be a boolean", "stream")
    options = payload.get("stream_options", {})
    if not isinstance(options, dict):
        raise _invalid("stream_options must be an object", "stream_options")
    include_usage = options.get("include_usage")
    if include_usage is None:
        include_usage = False
    if not isinstance(include_usage, bool):
        raise _invalid("stream_options.include_usage must be a boolean", "stream_options")
    return stream, include_usage


def _text_part(part: Any) -> str:
    """The text of a message's content part; a 400 for any other part (an image, audio, a file): this model
    reads text only, and a part dropped without a word would be answered as if it had never been sent."""
    if not isinstance(part, dict):
        raise _invalid(f"a content part must be an object, got a {type(part).__name__}", "messages")
    if part.get("type") != "text":
        raise _invalid(
            f"content parts of type {part.get('type')!r} are not supported by this model; only 'text' is",
            "messages",
        )
    text = part.get("text")
    if not isinstance(text, str):
        raise _invalid("the text of a content part must be a string", "messages")
    return text


def _lazy_embed_texts(texts: list[str]) -> Any:
    from inference.embeddings import embed_texts

    return embed_texts(texts)


class TextOffsets:
    """Where each completion token starts in the answer's text (`text_offset`): the index of the character its
    first byte belongs to, counted over the tokens' bytes. A token that continues a character split over tokens
    starts where that character does; one after an unfinished character starts after it (it became U+FFFD)."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._chars = 0

    def start(self, data: bytes) -> int:
        start = self._chars
        if self._decoder.getstate()[0] and data and not 0x80 <= data[0] <= 0xBF:
            start += 1
        self._chars += len(self._decoder.decode(data))
        return start


class OpenAIApi:
    """`/v1/models`, `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`, `/health`, `/metrics`."""

    def __init__(
        self,
        service: EngineService,
        tokenizer: ChatTokenizer,
        model_name: str,
        *,
        embed_texts: EmbedFunction | None = None,
        count_embedding_tokens: Callable[[str], int] | None = None,
        default_max_tokens: int = 256,
        api_key: str | None = None,
    ) -> None:
        self.service = service
        self.tokenizer = tokenizer
        self.model_name = model_name
        self.embed_texts = embed_texts or _lazy_embed_texts
        self.count_embedding_tokens = count_embedding_tokens or _embedding_token_counter()
        self.default_max_tokens = default_max_tokens
        self.api_key = api_key
        self.created = int(time.time())
        self.metrics = MetricsRegistry(SERVER_METRICS)

    def handle(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        client_gone: ClientGone | None = None,
    ) -> ApiResponse:
        """Answer one request; with an `api_key`, `/v1/*` needs `Authorization: Bearer <key>`.

        HEAD is answered as GET is, with the body's `content-length` and no body. A top-level field of a JSON
        body set to null counts as absent, as in OpenAI's API. `client_gone`, when
        given, says whether the client has disconnected: a completion asks it every `CLIENT_POLL_SECONDS`
        while it waits for the engine and, once it says yes, cancels its request and answers 499 (a stream,
        whose status went out with its first chunk, ends there).
        """
        route = path.split("?", 1)[0].rstrip("/") or "/"
        model_id = None
        if route.startswith(_MODEL_ROUTE_PREFIX):
            model_id, route = unquote(route[len(_MODEL_ROUTE_PREFIX) :]), _MODEL_ROUTE
        routes: dict[tuple[str, str], Callable[[dict[str, Any]], ApiResponse]] = {
            ("GET", "/v1/models"): self._models,
            ("GET", _MODEL_ROUTE): lambda payload: self._model(model_id or ""),
            ("GET", "/health"): self._health,
            ("GET", "/metrics"): self._metrics,
            ("POST", "/v1/chat/completions"): lambda payload: self._chat_completions(payload, client_gone),
            ("POST", "/v1/completions"): lambda payload: self._completions(payload, client_gone),
            ("POST", "/v1/embeddings"): self._embeddings,
        }
        known_route = any(known == route for _, known in routes)
        head = method.upper() == "HEAD"
        try:
            if self.api_key is not None and route.startswith("/v1/"):
                self._authorize(headers or {})
            handler = routes.get(("GET" if head else method.upper(), route))
            if handler is None:
                if known_route:
                    allowed = [allowed for allowed, known in routes if known == route]
                    raise ApiError(
                        405,
                        f"{method} is not allowed on {route}",
                        error_type="invalid_request_error",
                        headers={"allow": ", ".join(allowed + ["HEAD"] * ("GET" in allowed))},
                    )
                raise ApiError(404, f"no route {route}", error_type="not_found_error", code="unknown_url")
            payload: dict[str, Any] = {}
            if method.upper() == "POST":
                try:
                    payload = json_value(body.decode(json.detect_encoding(body)) if body else "null")
                except ValueError as exc:
                    raise _invalid(f"the request body is not valid JSON: {exc}") from exc
                if not isinstance(payload, dict):
                    raise _invalid("the request body must be a JSON object")
                payload = {name: value for name, value in payload.items() if value is not None}
            response = handler(payload)
        except ApiError as error:
            response = error_response(error)
        except Exception:
            logger.exception("unhandled error on %s %s", method, route)
            response = error_response(
                ApiError(500, "internal server error", error_type="server_error", code="internal_error")
            )
        self.metrics.inc(
            "quire_http_requests_total",
            route=route if known_route else "unknown",
            status=str(response.status),
        )
        if head:
            return ApiResponse(
                response.status, {**response.headers, "content-length": str(len(response.body))}
            )
        return response

    def _authorize(self, headers: Mapping[str, str]) -> None:
        supplied = next((value for name, value in headers.items() if name.lower() == "authorization"), "")
        scheme, _, token = supplied.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip(), self.api_key or ""):
            raise ApiError(
                401, "a valid API key is required", error_type="invalid_request_error", code="invalid_api_key"
            )

    def _model_objects(self) -> list[dict[str, Any]]:
        return [
            {
                "id": self.model_name,
                "object": "model",
                "created": self.created,
                "owned_by": "quire",
                "max_model_len": self.service.engine.context_window,
            },
            {"id": EMBEDDING_MODEL, "object": "model", "created": self.created, "owned_by": "quire"},
        ]

    def _models(self, _: dict[str, Any]) -> ApiResponse:
        return _json_response(200, {"object": "list", "data": self._model_objects()})

    def _model(self, model_id: str) -> ApiResponse:
        """`GET /v1/models/{id}`, the openai client's `models.retrieve`."""
        for model in self._model_objects():
            if model["id"] == model_id:
                return _json_response(200, model)
        raise _model_not_found(model_id, self.model_name, EMBEDDING_MODEL)

    def _health(self, _: dict[str, Any]) -> ApiResponse:
        """200 `ok` while the service takes requests; 503 `draining` once it is shutting down, so that a
        readiness probe takes the server out of rotation while the requests in flight finish."""
        if self.service.accepting:
            return _json_response(200, {"status": "ok", "model": self.model_name, **self.service.snapshot()})
        return _json_response(
            503, {"status": "draining", "model": self.model_name, **self.service.snapshot()}, _CLOSE
        )

    def _metrics(self, _: dict[str, Any]) -> ApiResponse:
        snapshot = self.service.snapshot()
        stats = self.service.stats
        gauges = {
            "quire_requests_pending": snapshot["pending"],
            "quire_requests_running": snapshot["running"],
            "quire_requests_waiting": snapshot["waiting"],
            "quire_kv_cache_free_blocks": snapshot["free_blocks"],
            "quire_kv_cache_total_blocks": snapshot["total_blocks"],
            "quire_engine_steps_total": snapshot["steps"],
            "quire_preemptions_total": snapshot["preemptions"],
            "quire_prefix_cache_hit_tokens_total": snapshot["prefix_cache_hit_tokens"],
            "quire_block_sparse_prefills_total": snapshot["sparse_prefills"],
            "quire_prompt_tokens_total": stats.prompt_tokens_total,
            "quire_generation_tokens_total": stats.completion_tokens_total,
            "quire_requests_rejected_total": stats.requests_rejected,
            "quire_time_to_first_token_seconds_sum": stats.time_to_first_token_seconds_sum,
            "quire_time_to_first_token_seconds_count": stats.time_to_first_token_count,
        }
        for name, value in gauges.items():
            self.metrics.set(name, value)
        for reason, count in stats.finished_by_reason.items():
            self.metrics.set("quire_requests_finished_total", count, reason=reason)
        body = self.metrics.render().encode()
        return ApiResponse(200, {"content-type": "text/plain; version=0.0.4; charset=utf-8"}, body)

    def _check_model(self, payload: dict[str, Any], *, embedding: bool = False) -> str:
        requested = payload.get("model")
        served = EMBEDDING_MODEL if embedding else self.model_name
        if requested is None:
            return served
        if not isinstance(requested, str):
            raise _invalid("model must be a string", "model")
        accepted = {served}
        if embedding:
            accepted |= {f"sentence-transformers/{EMBEDDING_MODEL}", self.model_name}
        if requested not in accepted:
            raise _model_not_found(requested, served)
        return served

    def _sampling(self, payload: dict[str, Any], prompt_tokens: int, part: str) -> SamplingParams:
        """The request's sampling settings, checked; `part` names the prompt as the route takes it ("messages"
        or "prompt"), for the error when the prompt and the completion do not fit in the context window."""
        limit_field = "max_completion_tokens" if "max_completion_tokens" in payload else "max_tokens"
        max_tokens = payload.get(limit_field)
        if max_tokens is not None and (
            isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
        ):
            raise _invalid(f"{limit_field} must be a positive integer", limit_field)
        stop = payload.get("stop")
        if stop is None:
            stops: tuple[str, ...] = ()
        elif isinstance(stop, str):
            stops = (stop,)
        elif isinstance(stop, list) and all(isinstance(item, str) for item in stop) and len(stop) <= 4:
            stops = tuple(stop)
        else:
            raise _invalid("stop must be a string or a list of at most 4 strings", "stop")
        _only_one(payload, "n")
        _only_one(payload, "best_of")
        _check_response_format(payload)
        for unsupported in ("echo", "suffix", "tools", "functions"):
            if payload.get(unsupported):
                raise _invalid(f"{unsupported} is not supported by this server", unsupported)
        for choice in ("tool_choice", "function_call"):
            if payload.get(choice) not in (None, "none"):
                raise _invalid(f"{choice} is not supported by this server, which calls no tools", choice)
        logprobs = _logprobs_setting(payload, chat=part == "messages")
        seed = payload.get("seed")
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, int) or not -(2**63) <= seed < 2**63
        ):
            raise _invalid("seed must be a 64-bit signed integer", "seed")
        max_tokens = self._fitting_max_tokens(max_tokens, prompt_tokens, part)
        try:
            return SamplingParams(
                max_tokens=max_tokens,
                temperature=_number(payload, "temperature", 1.0, low=0.0, high=2.0),
                top_p=_number(payload, "top_p", 1.0, low=0.0, high=1.0),
                stop=tuple(item for item in stops if item),
                seed=seed,
                frequency_penalty=_number(
                    payload, "frequency_penalty", 0.0, low=-PENALTY_LIMIT, high=PENALTY_LIMIT
                ),
                presence_penalty=_number(
                    payload, "presence_penalty", 0.0, low=-PENALTY_LIMIT, high=PENALTY_LIMIT
                ),
                logit_bias=_logit_bias(payload),
                logprobs=logprobs,
            )
        except ValueError as exc:
            raise _invalid(str(exc), getattr(exc, "param", None)) from exc

    def _fitting_max_tokens(self, requested: int | None, prompt_tokens: int, part: str) -> int:
        """`requested`, or when the request gave none, `default_max_tokens` or the room the context window
        leaves after the prompt, whichever is less; a 400 `context_length_exceeded`, with OpenAI's message, when
        the prompt and the completion do not fit."""
        window = self.service.engine.context_window
        room = window - prompt_tokens
        if requested is not None and requested > room:
            message = (
                f"This model's maximum context length is {window} tokens. However, you requested "
                f"{prompt_tokens + requested} tokens ({prompt_tokens} in the {part}, {requested} in the "
                f"completion). Please reduce the length of the {part} or completion."
            )
        elif requested is None and room < 1:
            message = (
                f"This model's maximum context length is {window} tokens. However, your {part} resulted in "
                f"{prompt_tokens} tokens. Please reduce the length of the {part}."
            )
        else:
            return min(self.default_max_tokens, room) if requested is None else requested
        raise ApiError(
            400, message, error_type="invalid_request_error", code="context_length_exceeded", param=part
        )

    def _submit(self, prompt_ids: list[int], params: SamplingParams, *, param: str) -> RequestHandle:
        try:
            return self.service.submit(prompt_ids, params)
        except QueueFullError as exc:
            raise ApiError(429, str(exc), error_type="rate_limit_error", code="queue_full") from exc
        except ServiceStopped as exc:
            raise _unavailable(exc) from exc
        except ValueError as exc:
            raise _invalid(str(exc), getattr(exc, "param", param)) from exc

    def _chat_completions(self, payload: dict[str, Any], client_gone: ClientGone | None) -> ApiResponse:
        model = self._check_model(payload)
        messages = payload.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _invalid("messages must be a non-empty list", "messages")
        normalised = []
        for message in messages:
            if not isinstance(message, dict) or message.get("role") not in CHAT_ROLES:
                raise _invalid(f"each message needs a role ({', '.join(CHAT_ROLES)}) and content", "messages")
            content = message.get("content")
            if content is None and message["role"] != "assistant":
                raise _invalid(f"a {message['role']} message needs its content", "messages")
            if content is None:
                content = ""
            if not isinstance(content, str | list):
                raise _invalid("a message's content must be a string or a list of parts", "messages")
            if isinstance(content, list):
                content = "".join(_text_part(part) for part in content)
            normalised.append({**message, "content": content})
        try:
            prompt_ids = self.tokenizer.encode_chat(normalised)
        except ValueError as exc:
            raise _invalid(str(exc), "messages") from exc
        params = self._sampling(payload, len(prompt_ids), "messages")
        return self._generate(payload, model, prompt_ids, params, chat=True, client_gone=client_gone)

    def _completions(self, payload: dict[str, Any], client_gone: ClientGone | None) -> ApiResponse:
        model = self._check_model(payload)
        prompt = payload.get("prompt")
        if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str | list):
            prompt = prompt[0]
        if isinstance(prompt, str):
            prompt_ids = self.tokenizer.encode(prompt)
        elif (
            isinstance(prompt, list)
            and prompt
            and all(isinstance(t, int) and not isinstance(t, bool) for t in prompt)
        ):
            prompt_ids = list(prompt)
        else:
            raise _invalid(
                "prompt must be a string, a list of token ids, or a list of one of those", "prompt"
            )
        params = replace(self._sampling(payload, len(prompt_ids), "prompt"), continues_prompt=True)
        return self._generate(payload, model, prompt_ids, params, chat=False, client_gone=client_gone)

    def _generate(
        self,
        payload: dict[str, Any],
        model: str,
        prompt_ids: list[int],
        params: SamplingParams,
        *,
        chat: bool,
        client_gone: ClientGone | None = None,
    ) -> ApiResponse:
        stream, include_usage = _stream_settings(payload)
        handle = self._submit(prompt_ids, params, param="messages" if chat else "prompt")
        completion_id = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex
        created = int(time.time())
        if stream:
            return ApiResponse(
                200,
                {"content-type": "text/event-stream", "cache-control": "no-cache"},
                stream=_CancelOnClose(
                    self._stream(
                        handle,
                        completion_id,
                        created,
                        model,
                        chat=chat,
                        include_usage=include_usage,
                        logprobs=params.logprobs is not None,
                        client_gone=client_gone,
                    ),
                    handle,
                ),
            )
        text_parts = []
        logprobs: list[TokenLogprobs] = []
        final = None
        try:
            for output in _outputs_while_connected(handle, client_gone):
                text_parts.append(output.text_delta)
                logprobs.extend(output.logprobs)
                final = output
        except EngineFailure as exc:
            raise ApiError(500, str(exc), error_type="server_error", code="engine_failure") from exc
        except ServiceStopped as exc:
            raise _unavailable(exc) from exc
        finally:
            handle.cancel()
        if final is None or not final.finished:
            raise ApiError(
                499,
                "the client closed the connection",
                error_type="invalid_request_error",
                code="client_gone",
            )
        text = "".join(text_parts)
        usage = _usage(final)
        finish_reason = _finish_reason(final.finish_reason)
        reported = self._logprobs(logprobs, chat=chat) if params.logprobs is not None else None
        if chat:
            choice = {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason,
                "logprobs": reported,
            }
            body = {"id": completion_id, "object": "chat.completion", "created": created, "model": model}
        else:
            choice = {"index": 0, "text": text, "finish_reason": finish_reason, "logprobs": reported}
            body = {"id": completion_id, "object": "text_completion", "created": created, "model": model}
        return _json_response(200, {**body, "choices": [choice], "usage": usage})

    def _stream(
        self,
        handle: RequestHandle,
        completion_id: str,
        created: int,
        model: str,
        *,
        chat: bool,
        include_usage: bool,
        logprobs: bool = False,
        client_gone: ClientGone | None = None,
    ) -> Generator[bytes, None, None]:
        base = {
            "id": completion_id,
            "object": "chat.completion.chunk" if chat else "text_completion",
            "created": created,
            "model": model,
        }

        offsets = TextOffsets()

        def chunk(
            delta_text: str | None,
            finish_reason: str | None,
            first: bool = False,
            items: list[TokenLogprobs] | None = None,
        ) -> dict[str, Any]:
            reported = None
            if logprobs and not first:
                reported = self._logprobs(items or [], chat=chat, offsets=offsets)
            if chat:
                delta: dict[str, Any] = {"role": "assistant", "content": ""} if first else {}
                if delta_text:
                    delta["content"] = delta_text
                choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": reported}
            else:
                choice = {
                    "index": 0,
                    "text": delta_text or "",
                    "finish_reason": finish_reason,
                    "logprobs": reported,
                }
            # With include_usage OpenAI's chunks say "usage": null but the last, which has no choices; without
            # it this server puts the usage on the chunk with the finish reason. Never both: a client adding the
            # usage of every chunk that has one would count it twice.
            return {**base, "choices": [choice], **({"usage": None} if include_usage else {})}

        try:
            if chat:
                yield _sse(chunk(None, None, first=True))
            try:
                for output in _outputs_while_connected(handle, client_gone):
                    if output.finished:
                        usage = _usage(output)
                        last = chunk(
                            output.text_delta, _finish_reason(output.finish_reason), items=output.logprobs
                        )
                        if include_usage:
                            yield _sse(last)
                            yield _sse({**base, "choices": [], "usage": usage})
                        else:
                            yield _sse({**last, "usage": usage})
                    elif output.text_delta or output.logprobs:
                        yield _sse(chunk(output.text_delta, None, items=output.logprobs))
            except (EngineFailure, ServiceStopped) as exc:
                code = "engine_failure" if isinstance(exc, EngineFailure) else "unavailable"
                yield _sse(
                    {"error": {"message": str(exc), "type": "server_error", "param": None, "code": code}}
                )
            if not handle.finished:
                return
            yield _sse("[DONE]")
        finally:
            handle.cancel()

    def _logprobs(
        self, items: list[TokenLogprobs], *, chat: bool, offsets: TextOffsets | None = None
    ) -> dict[str, Any]:
        """The log-probabilities of `items` as OpenAI's chat (`content`) or completions (`tokens`,
        `token_logprobs`, `top_logprobs`, `text_offset`, counted on from `offsets`, the tokens before these)
        report them; a token as its own text."""

        def token(token_id: int) -> str:
            return self.tokenizer.decode([token_id])

        def entry(token_id: int, logprob: float) -> dict[str, Any]:
            text = token(token_id)
            return {
                "token": text,
                "logprob": max(logprob, LOWEST_LOGPROB),
                "bytes": list(self.tokenizer.token_bytes(token_id)),
            }

        if chat:
            return {
                "content": [
                    {**entry(item.token_id, item.logprob), "top_logprobs": [entry(*top) for top in item.top]}
                    for item in items
                ]
            }
        offsets = offsets or TextOffsets()
        return {
            "tokens": [token(item.token_id) for item in items],
            "token_logprobs": [max(item.logprob, LOWEST_LOGPROB) for item in items],
            "top_logprobs": [
                {token(token_id): max(logprob, LOWEST_LOGPROB) for token_id, logprob in item.top}
                for item in items
            ],
            "text_offset": [offsets.start(self.tokenizer.token_bytes(item.token_id)) for item in items],
        }

    def _embeddings(self, payload: dict[str, Any]) -> ApiResponse:
        model = self._check_model(payload, embedding=True)
        texts = payload.get("input")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not texts or not all(isinstance(text, str) for text in texts):
            raise _invalid("input must be a string or a non-empty list of strings", "input")
        dimensions = payload.get("dimensions")
        if dimensions is not None and (isinstance(dimensions, bool) or not isinstance(dimensions, int)):
            raise _invalid("dimensions must be an integer", "dimensions")
        encoding = payload.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            raise _invalid("encoding_format must be 'float' or 'base64'", "encoding_format")
        try:
            vectors = self.embed_texts(texts)
        except ImportError as exc:
            raise ApiError(
                503,
                f"embeddings are unavailable: {exc}",
                error_type="server_error",
                code="embeddings_unavailable",
            ) from exc
        matrix = np.asarray(vectors, dtype="<f4")
        if dimensions is not None and dimensions != matrix.shape[1]:
            raise _invalid(
                f"this model's embeddings have {matrix.shape[1]} dimensions, which dimensions cannot change",
                "dimensions",
            )
        data = [
            {
                "object": "embedding",
                "index": index,
                "embedding": base64.b64encode(row.tobytes()).decode()
                if encoding == "base64"
                else row.tolist(),
            }
            for index, row in enumerate(matrix)
        ]
        tokens = sum(self.count_embedding_tokens(text) for text in texts)
        return _json_response(
            200,
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )


def _outputs_while_connected(handle: RequestHandle, client_gone: ClientGone | None) -> Iterator[StepOutput]:
    """The request's outputs until the last; stops early, leaving it unfinished, once `client_gone` says so."""
    if client_gone is None:
        yield from handle
        return
    next_look = time.monotonic() + CLIENT_POLL_SECONDS
    while not handle.finished:
        output = handle.wait(CLIENT_POLL_SECONDS)
        if output is not None:
            yield output
        if not handle.finished and time.monotonic() >= next_look:
            if client_gone():
                return
            next_look = time.monotonic() + CLIENT_POLL_SECONDS


def _usage(output: StepOutput) -> dict[str, Any]:
    """OpenAI's usage object (with `prompt_tokens_details.cached_tokens`, the prompt tokens served from the
    prefix cache) and `prefill_attention`, the attention the prompt's prefill used."""
    return {
        "prompt_tokens": output.prompt_tokens,
        "completion_tokens": output.completion_tokens,
        "total_tokens": output.prompt_tokens + output.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": output.cached_tokens},
        "prefill_attention": output.attention,
    }


def _finish_reason(reason: str | None) -> str:
    return "length" if reason == "length" else "stop"


def _embedding_token_counter() -> Callable[[str], int]:
    """The tokens the embedder reads (`inference.embeddings.count_tokens`), or words where it is not installed."""
    try:
        from inference.embeddings import count_tokens, tokenizer

        tokenizer()
    except Exception:
        return lambda text: len(text.split())
    return count_tokens
