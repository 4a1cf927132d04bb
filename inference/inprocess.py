"""An `httpx` transport that serves the OpenAI routes in-process, for `InferenceClient(transport=...)` in tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx

from inference.api import OpenAIApi


class _ResponseStream(httpx.SyncByteStream):
    def __init__(self, pieces: Iterator[bytes]) -> None:
        self.pieces = pieces

    def __iter__(self) -> Iterator[bytes]:
        yield from self.pieces

    def close(self) -> None:
        close = getattr(self.pieces, "close", None)
        if close is not None:
            close()


class InProcessTransport(httpx.BaseTransport):
    """Answers `httpx` requests from an `OpenAIApi` without a socket; streaming responses stream."""

    def __init__(self, api: OpenAIApi) -> None:
        self.api = api

    @classmethod
    def from_model_dir(cls, model_dir: str | Path, **build_options: object) -> InProcessTransport:
        from inference.server import build_api

        return cls(build_api(model_dir, **build_options))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        response = self.api.handle(request.method, request.url.path, body, dict(request.headers.items()))
        if response.stream is not None:
            return httpx.Response(
                response.status, headers=response.headers, stream=_ResponseStream(response.stream)
            )
        return httpx.Response(response.status, headers=response.headers, content=response.body)

    def shutdown(self) -> None:
        """Stop the engine thread; `close()`, which `httpx.Client` calls on exit, leaves it running."""
        self.api.service.shutdown()
