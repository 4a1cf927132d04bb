"""The in-process HTTP client for /v1 and assertions on its answers."""

from __future__ import annotations


class Api:
    """An in-process HTTP client for /v1 with an API key."""

    def __init__(self, secret: str | None):
        from django.test import Client

        self.client = Client(raise_request_exception=False)
        self.secret = secret

    def _headers(self, headers: dict | None) -> dict:
        result = {"HTTP_AUTHORIZATION": f"Bearer {self.secret}"} if self.secret else {}
        for name, value in (headers or {}).items():
            result["HTTP_" + name.upper().replace("-", "_")] = value
        return result

    def get(self, path: str, headers: dict | None = None, **params):
        return self.client.get(path, params, **self._headers(headers))

    def post(
        self, path: str, data=None, headers: dict | None = None, content_type: str = "application/json", **kw
    ):
        return self.client.post(path, data, content_type=content_type, **self._headers(headers), **kw)

    def delete(self, path: str, headers: dict | None = None):
        return self.client.delete(path, **self._headers(headers))

    def request(self, method: str, path: str, headers: dict | None = None, **kw):
        return getattr(self.client, method.lower())(path, **self._headers(headers), **kw)


def assert_rate_limited(api: Api, limit: int, path: str = "/v1/documents"):
    """Spend `limit` requests, each allowed with `X-RateLimit-Remaining` counting down to 0; the next one is
    refused with a 429 that names the limit. Returns that refusal."""
    responses = [api.get(path) for _ in range(limit)]
    assert [r.status_code for r in responses] == [200] * limit
    assert [r["X-RateLimit-Remaining"] for r in responses] == [str(n) for n in reversed(range(limit))]
    refused = api.get(path)
    assert refused.status_code == 429, refused.content
    assert refused["X-RateLimit-Limit"] == str(limit)
    return refused
