"""OpenAI-compatible HTTP client (sync, httpx) used by the platform and by the connectors' model mode."""

from __future__ import annotations

import os
import random
import re
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    import numpy

RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
MAX_BACKOFF_SECONDS = 30.0


@dataclass(frozen=True)
class Completion:
    text: str
    tokens_in: int
    tokens_out: int
    model: str
    finish_reason: str
    cached_tokens: int = 0
    attention: str | None = None


class InferenceError(RuntimeError):
    """The server refused a request or could not be reached after every retry."""

    def __init__(self, message: str, *, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


def _retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _error_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:2000]


def _error_said(body: Any) -> str:
    """What an error body says, for the error's message: an OpenAI-shaped error's code and message, else the
    text itself, at most 300 characters."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        said = " ".join(str(error[key]) for key in ("code", "message") if error.get(key))
    elif isinstance(body, str):
        said = " ".join(body.split())
    else:
        said = ""
    return said[:300]


# OpenAI's message for a prompt and completion past the context window: the window, then the prompt's tokens.
_WINDOW = re.compile(
    r"maximum context length is (\d+) tokens.*?\((\d+) in the (?:messages|prompt)", re.DOTALL
)


def _room_left(error: InferenceError) -> int | None:
    """The completion tokens the window leaves after the prompt, read from a 400 `context_length_exceeded`
    that asked for more; None for any other error, or when the prompt alone fills the window."""
    body = error.body if isinstance(error.body, dict) else {}
    detail = body.get("error") if isinstance(body.get("error"), dict) else {}
    if error.status != 400 or detail.get("code") != "context_length_exceeded":
        return None
    found = _WINDOW.search(str(detail.get("message") or ""))
    room = int(found.group(1)) - int(found.group(2)) if found else 0
    return room if room > 0 else None


# Requests a read timeout or a connection lost after sending may retry: an embedding asked twice costs one more
# forward and changes nothing, where a completion asked twice is a second generation beside the first.
IDEMPOTENT_PATHS = frozenset({"/embeddings"})
# Failures before the request reached the server, which any request may retry.
UNSENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class InferenceClient:
    """Client of an OpenAI-compatible server: `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`.

    A refusal worth another try (429, 5xx, a connection that could not be made) is retried up to `max_retries`
    times with backoff; a read timeout or a connection lost once the request was sent (a protocol, read or write
    error) is retried only for embeddings: of a completion, the server may have the request and be working on
    it, and another attempt would add a second generation beside the first.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        model: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        transport: httpx.BaseTransport | None = None,
        backoff_base: float = 0.5,
    ) -> None:
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        base = base_url.rstrip("/")
        self.base_url = base if base.endswith("/v1") else base + "/v1"
        self.model = model
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    @classmethod
    def from_env(cls) -> InferenceClient | None:
        """Build from QUIRE_INFERENCE_URL / _API_KEY / _MODEL / _TIMEOUT; None when no URL is set."""
        url = os.environ.get("QUIRE_INFERENCE_URL", "").strip()
        if not url:
            return None
        timeout_text = os.environ.get("QUIRE_INFERENCE_TIMEOUT", "").strip()
        try:
            timeout = float(timeout_text) if timeout_text else 60.0
        except ValueError as error:
            raise ValueError(
                f"QUIRE_INFERENCE_TIMEOUT must be a number of seconds, got {timeout_text!r}"
            ) from error
        return cls(
            url,
            api_key=os.environ.get("QUIRE_INFERENCE_API_KEY") or None,
            model=os.environ.get("QUIRE_INFERENCE_MODEL") or None,
            timeout=timeout,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> InferenceClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, MAX_BACKOFF_SECONDS)
        delay = self.backoff_base * (2**attempt)
        return min(delay + random.uniform(0, delay), MAX_BACKOFF_SECONDS)

    def _post(self, path: str, payload: dict) -> dict:
        last_error: InferenceError | None = None
        for attempt in range(self.max_retries + 1):
            retry_after = None
            try:
                response = self._http.post(path, json=payload)
            except httpx.ReadTimeout as error:
                if path not in IDEMPOTENT_PATHS:
                    raise InferenceError(
                        f"POST {path}: no answer within the read timeout ({error}); not retried, as the server"
                        " may still be working on the request"
                    ) from error
                last_error = InferenceError(f"POST {path}: {type(error).__name__}: {error}")
            except UNSENT_ERRORS as error:
                last_error = InferenceError(f"POST {path}: {type(error).__name__}: {error}")
            except (httpx.TransportError, httpx.TimeoutException) as error:
                last_error = InferenceError(f"POST {path}: {type(error).__name__}: {error}")
                if path not in IDEMPOTENT_PATHS:
                    raise InferenceError(
                        f"{last_error}; not retried, as the server may have the request and be working on it"
                    ) from error
            else:
                if response.status_code < 400:
                    try:
                        return response.json()
                    except ValueError as error:
                        raise InferenceError(
                            f"POST {path}: response is not JSON",
                            status=response.status_code,
                            body=response.text[:2000],
                        ) from error
                body = _error_body(response)
                said = _error_said(body)
                last_error = InferenceError(
                    f"POST {path}: HTTP {response.status_code}" + (f": {said}" if said else ""),
                    status=response.status_code,
                    body=body,
                )
                if response.status_code not in RETRYABLE_STATUSES:
                    raise last_error
                retry_after = _retry_after_seconds(response)
            if attempt < self.max_retries:
                time.sleep(self._backoff(attempt, retry_after))
        assert last_error is not None
        raise last_error

    def _generate(self, path: str, payload: dict) -> dict:
        """`_post` of a generation; one whose prompt fits the window but whose `max_tokens` does not is asked
        again with the completion the window leaves (its answer may end for `length`), as the callers size
        prompts by an estimate of their tokens."""
        try:
            return self._post(path, payload)
        except InferenceError as error:
            room = _room_left(error)
            if room is None or room >= payload["max_tokens"]:
                raise
            return self._post(path, {**payload, "max_tokens": room})

    def _with_model(self, payload: dict) -> dict:
        if self.model:
            payload["model"] = self.model
        return payload

    @staticmethod
    def _completion(data: dict, text: str) -> Completion:
        usage = data.get("usage") or {}
        choice = (data.get("choices") or [{}])[0]
        details = usage.get("prompt_tokens_details") or {}
        attention = usage.get("prefill_attention")
        return Completion(
            text=text,
            tokens_in=int(usage.get("prompt_tokens") or 0),
            tokens_out=int(usage.get("completion_tokens") or 0),
            model=str(data.get("model") or ""),
            finish_reason=str(choice.get("finish_reason") or ""),
            cached_tokens=int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0,
            attention=attention if attention in ("dense", "block_sparse") else None,
        )

    def chat(
        self,
        messages: list[dict],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Completion:
        if not messages:
            raise ValueError("chat needs at least one message")
        payload = self._with_model(
            {"messages": messages, "max_tokens": max_tokens, "temperature": temperature}
        )
        if stop:
            payload["stop"] = stop
        data = self._generate("/chat/completions", payload)
        try:
            text = data["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as error:
            raise InferenceError("chat response has no choices[0].message.content", body=data) from error
        return self._completion(data, text)

    def complete(
        self,
        prompt: str,
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Completion:
        payload = self._with_model({"prompt": prompt, "max_tokens": max_tokens, "temperature": temperature})
        if stop:
            payload["stop"] = stop
        data = self._generate("/completions", payload)
        try:
            text = data["choices"][0]["text"] or ""
        except (KeyError, IndexError, TypeError) as error:
            raise InferenceError("completion response has no choices[0].text", body=data) from error
        return self._completion(data, text)

    def embed(self, texts: list[str]) -> list[list[float]]:
        if isinstance(texts, str):
            raise ValueError("embed takes a list of strings, not a single string")
        if not texts:
            return []
        data = self._post("/embeddings", self._with_model({"input": list(texts)}))
        try:
            rows = sorted(data["data"], key=lambda row: row.get("index", 0))
            return [list(map(float, row["embedding"])) for row in rows]
        except (KeyError, TypeError) as error:
            raise InferenceError("embeddings response has no data[].embedding", body=data) from error


def embed_local(texts: list[str], quantized: bool | str = False) -> numpy.ndarray:
    """Vectors of `texts` from the in-process all-MiniLM-L6-v2 encoder (`inference.embeddings.embed_texts`): one
    L2-normalised 384-d row per text, in fp32 or through the int8 kernel `quantized` names (about half the CPU,
    within a cosine of 0.98; fp32 where this torch build lacks that kernel). The embedder a connector run uses
    unless its caller hands it another."""
    from inference.embeddings import embed_texts, kernel_available

    if isinstance(quantized, str) and not kernel_available(quantized):
        quantized = False
    return embed_texts(texts, quantized=quantized)
