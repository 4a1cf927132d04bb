"""The transport: authentication, `Idempotency-Key` on writes, retries with backoff, errors as exceptions."""

from __future__ import annotations

import json
import platform
import random
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import httpx

from quire_sdk._version import __version__
from quire_sdk.errors import APIConnectionError, error_from_response, retry_after_seconds

USER_AGENT = f"quire-sdk/{__version__} python/{platform.python_version()}"
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
DEFAULT_TIMEOUT = 60.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# A write with the same key still running on the server: it answers this 409, and a retry gets the replay.
RETRY_CONFLICT_CODES = frozenset({"idempotency_key_in_use"})

# `content` of a request: bytes, or a function that returns a fresh iterable of bytes for each attempt.
Body = bytes | Callable[[], Iterable[bytes]]


@dataclass(frozen=True)
class RetryPolicy:
    """`max_retries` retries after the first attempt; the n-th waits about `backoff_base * 2**n` seconds (at
    most `backoff_max`), half of it random; a `Retry-After` answer waits what it says, and one that asks for
    more than `max_retry_after` is not retried (retrying sooner would be refused again)."""

    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 60.0

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return max(retry_after, 0.0)
        ceiling = min(self.backoff_max, self.backoff_base * 2**retry)
        return ceiling / 2 + random.uniform(0, ceiling / 2)


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    data: Any

    @property
    def request_id(self) -> str | None:
        return self.headers.get("x-request-id")


def encode_params(params: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """Query parameters in the API's form: `{"created": {"gte": d}}` -> `created[gte]=...`,
    `{"expand": ["result"]}` -> `expand[]=result`; None values are left out."""
    pairs: list[tuple[str, str]] = []

    def add(name: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, Mapping):
            for key, item in value.items():
                add(f"{name}[{key}]", item)
        elif isinstance(value, (list, tuple, set, frozenset)):
            for item in value:
                add(f"{name}[]", item)
        elif isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        elif isinstance(value, (datetime, date)):
            pairs.append((name, value.isoformat()))
        else:
            pairs.append((name, str(value)))

    for name, value in (params or {}).items():
        add(name, value)
    return pairs


def _decode(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


class Transport:
    """Sends requests to `<base_url>/v1/...` with the key, retrying what is safe to retry."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout: float | None,
        retry: RetryPolicy,
        api_version: str | None = None,
        http_client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        base = base_url.rstrip("/")
        self.base_url = base[: -len("/v1")] if base.endswith("/v1") else base
        try:
            parsed = httpx.URL(self.base_url)
        except httpx.InvalidURL:
            parsed = None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(
                f"base_url must be an http(s) address with a host, e.g. https://quire.example.com, not {base_url!r}"
            )
        self.retry, self.sleep = retry, sleep
        headers = {
            "Authorization": f"Bearer {api_key}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }
        if api_version:
            headers["Quire-Version"] = api_version
        self.client = http_client or httpx.Client(timeout=DEFAULT_TIMEOUT if timeout is None else timeout)
        # A timeout given with the caller's client is sent with each request, which httpx lets override the client's.
        self.timeout: float | None = timeout if http_client is not None else None
        self.headers = headers

    def close(self) -> None:
        self.client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        content: Body | None = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        raw: bool = False,
    ) -> Response:
        """One API call; writes get an `Idempotency-Key` (the one given, else a new UUID) that every retry
        of this call repeats, so a retried write never happens twice. `raw`: a file is asked for, and a
        successful answer's `data` is its bytes (an error is still read as JSON)."""
        method = method.upper()
        send_headers = {**self.headers, **({"Accept": "*/*"} if raw else {}), **(headers or {})}
        if method in WRITE_METHODS:
            send_headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        if json_body is not None:
            content = json.dumps(json_body, default=str).encode()
            send_headers["Content-Type"] = "application/json"
        url = f"{self.base_url}/v1/{path.lstrip('/')}"
        query = encode_params(params)
        retry = 0
        while True:
            body = content() if callable(content) else content
            try:
                extra = {"timeout": self.timeout} if self.timeout is not None else {}
                response = self.client.request(
                    method, url, params=query, content=body, headers=send_headers, **extra
                )
            except (httpx.TransportError, httpx.DecodingError) as exc:
                if retry >= self.retry.max_retries:
                    raise APIConnectionError(f"{method} {url} failed: {exc!r}") from exc
                self.sleep(self.retry.delay(retry))
                retry += 1
                continue
            data = response.content if raw and response.is_success else _decode(response)
            result = Response(response.status_code, {k.lower(): v for k, v in response.headers.items()}, data)
            if response.is_success:
                return result
            retry_after = retry_after_seconds(result.headers)
            if (
                retry < self.retry.max_retries
                and self._retryable(result)
                and (retry_after is None or retry_after <= self.retry.max_retry_after)
            ):
                self.sleep(self.retry.delay(retry, retry_after))
                retry += 1
                continue
            raise error_from_response(result.status, result.data, result.headers)

    @staticmethod
    def _retryable(response: Response) -> bool:
        if response.status in RETRY_STATUSES:
            return True
        error = response.data.get("error") if isinstance(response.data, dict) else None
        return (
            response.status == 409 and isinstance(error, dict) and error.get("code") in RETRY_CONFLICT_CODES
        )
