from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from quire.api.errors import error_json
from quire.logging import bind_request_id, bind_tenant

logger = logging.getLogger("quire.api")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")


class RequestContextMiddleware:
    """X-Request-Id (the caller's when well-formed) and rate-limit headers on responses; JSON 500s under /v1."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-Id", "")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else "req_" + secrets.token_hex(12)
        request.request_id = request_id
        bind_request_id(request_id)
        bind_tenant("")
        response = self.get_response(request)
        response["X-Request-Id"] = request_id
        rate_limit = getattr(request, "rate_limit", None)
        if rate_limit:
            response["X-RateLimit-Limit"] = str(rate_limit["limit"])
            response["X-RateLimit-Remaining"] = str(rate_limit["remaining"])
            response["X-RateLimit-Reset"] = str(rate_limit["reset"])
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path.startswith("/v1/"):
            return None
        logger.exception("unhandled error", exc_info=exception)
        return error_json(
            500, "internal_error", "Something went wrong on our side; the request id identifies it."
        )


class BodySizeLimitMiddleware:
    """Refuse bodies over QUIRE_MAX_REQUEST_BYTES with 413 before reading them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_json(400, "invalid_content_length", "Content-Length must be an integer.")
        limit = settings.QUIRE_MAX_REQUEST_BYTES
        if length > limit:
            return error_json(
                413, "request_too_large", f"The request body is {length} bytes; the limit is {limit} bytes."
            )
        return self.get_response(request)
