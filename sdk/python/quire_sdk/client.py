"""`Quire`: the client."""

from __future__ import annotations

import os
from typing import Any

import httpx

from quire_sdk._http import RetryPolicy, Transport
from quire_sdk.resources import (
    ApiKeys,
    ClauseTypes,
    Documents,
    Events,
    Jobs,
    Models,
    Search,
    UsageResource,
    WebhookEndpoints,
    WorkspaceResource,
)

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


class Quire:
    """A client for one API key.

    `api_key` defaults to `QUIRE_API_KEY`, `base_url` to `QUIRE_BASE_URL` (else `http://127.0.0.1:8000`;
    with or without `/v1`). Failed connections, 429 (after its `Retry-After`, unless that is over 60 s) and
    5xx are retried up to `max_retries` times with exponential backoff and jitter; every write carries an
    `Idempotency-Key` that its retries repeat. `api_version` is sent as `Quire-Version` when given. `timeout`
    (seconds, 60 by default) bounds each request, also one sent through your own `http_client`, whose own
    timeout applies when `timeout` is not given.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float | None = None,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        api_version: str | None = None,
        http_client: httpx.Client | None = None,
    ):
        api_key = api_key or os.environ.get("QUIRE_API_KEY")
        if not api_key:
            raise ValueError("no API key: pass api_key= or set QUIRE_API_KEY")
        self._transport = Transport(
            api_key=api_key,
            base_url=base_url or os.environ.get("QUIRE_BASE_URL") or DEFAULT_BASE_URL,
            timeout=timeout,
            retry=RetryPolicy(max_retries=max_retries, backoff_base=backoff_base, backoff_max=backoff_max),
            api_version=api_version,
            http_client=http_client,
        )
        self.documents = Documents(self._transport)
        self.jobs = Jobs(self._transport)
        self.clause_types = ClauseTypes(self._transport)
        self.api_keys = ApiKeys(self._transport)
        self.search = Search(self._transport)
        self.webhook_endpoints = WebhookEndpoints(self._transport)
        self.events = Events(self._transport)
        self.models = Models(self._transport)
        self.usage = UsageResource(self._transport)
        self.workspace = WorkspaceResource(self._transport)

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    def health(self) -> dict[str, Any]:
        return self._transport.request("GET", "health").data

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Quire:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
