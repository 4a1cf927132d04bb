from __future__ import annotations

import logging
import re
import secrets
import sys
from collections.abc import Callable

from django.conf import settings
from django.core.signals import got_request_exception
from django.db import DataError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseNotFound

from common.refusals import ErrorCode
from quire.api.errors import DATA_REFUSED_MESSAGE, UNAVAILABLE, error_json, unavailable_response
from quire.logging import bind_request_id, bind_tenant
from tenants.audit import audit_origin_clear, audit_origin_reset
from tenants.services import api_key_touch

logger = logging.getLogger("quire.api")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")


def _mark_unavailable(sender, request: HttpRequest | None = None, **kwargs) -> None:
    """An exception raised below a middleware (tenant routing, sessions) reaches the handler as a 500
    response; the request remembers that a dependency caused it so the outermost middleware answers 503."""
    if request is not None and isinstance(sys.exc_info()[1], UNAVAILABLE):
        request.dependency_unavailable = True


got_request_exception.connect(_mark_unavailable, dispatch_uid="quire.api.unavailable")


class RequestContextMiddleware:
    """X-Request-Id (the caller's when well-formed), rate-limit headers and, under /v1, the `Quire-Version`
    used (the request's header, else the API key's version, else the current one; an unknown one is a
    400) on responses; JSON 500s under /v1, and a 503 with Retry-After when a dependency is unavailable. After the response, `last_used_at` of a key the throttle marked
    (at most once a minute)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-Id", "")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else "req_" + secrets.token_hex(12)
        request.request_id = request_id
        bind_request_id(request_id)
        bind_tenant("")
        audit_origin_reset(ip=request.META.get("REMOTE_ADDR"), request_id=request_id)
        try:
            response = self._respond(request)
        finally:
            audit_origin_clear()
        response["X-Request-Id"] = request_id
        used_key_id = getattr(request, "api_key_used", None)
        if used_key_id:
            # Runs when the server closes the response, after the body has been sent.
            response._resource_closers.append(lambda: _touch(used_key_id))
        return response

    def _respond(self, request: HttpRequest) -> HttpResponse:
        api = request.path.startswith("/v1/")
        if api:
            requested = request.headers.get("Quire-Version", "").strip()
            request.quire_version_requested = requested
            request.quire_version = requested or settings.QUIRE_API_VERSIONS[-1]
        if api and requested and requested not in settings.QUIRE_API_VERSIONS:
            request.quire_version = settings.QUIRE_API_VERSIONS[-1]
            response = error_json(
                400,
                ErrorCode.INVALID_PARAMETER,
                f"Unknown Quire-Version {requested[:40]!r}; "
                f"this API knows {', '.join(settings.QUIRE_API_VERSIONS)}.",
                param="Quire-Version",
            )
        elif "\x00" in request.path:
            response = (
                error_json(404, "resource_missing", "No object's id holds a NUL character.")
                if api
                else HttpResponseNotFound("Not found.", content_type="text/plain; charset=utf-8")
            )
        elif _escaped_slash(request):
            message = "No object's id holds '/': an escaped '/' (%2F) in a path is never part of an id."
            response = (
                error_json(404, "resource_missing", message)
                if api
                else HttpResponseNotFound("Not found.", content_type="text/plain; charset=utf-8")
            )
        elif (param := _with_nul(request)) is not None:
            response = (
                error_json(400, ErrorCode.INVALID_PARAMETER, f"{param} holds a NUL character.", param=param)
                if api
                else HttpResponseBadRequest(
                    f"{param} holds a NUL character.", content_type="text/plain; charset=utf-8"
                )
            )
        else:
            response = self.get_response(request)
        if getattr(request, "dependency_unavailable", False):
            response = unavailable_response(request)
        if api:
            response["Quire-Version"] = request.quire_version
        rate_limit = getattr(request, "rate_limit", None)
        if rate_limit:
            response["X-RateLimit-Limit"] = str(rate_limit["limit"])
            response["X-RateLimit-Remaining"] = str(rate_limit["remaining"])
            response["X-RateLimit-Reset"] = str(rate_limit["reset"])
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, UNAVAILABLE):
            logger.warning("dependency unavailable: %s: %s", type(exception).__name__, exception)
            return unavailable_response(request)
        if not request.path.startswith("/v1/"):
            if isinstance(exception, DataError):
                logger.warning("request value refused by PostgreSQL: %s", exception)
                return HttpResponseBadRequest(DATA_REFUSED_MESSAGE, content_type="text/plain; charset=utf-8")
            return None
        logger.exception("unhandled error", exc_info=exception)
        return error_json(
            500, "internal_error", "Something went wrong on our side; the request id identifies it."
        )


def _escaped_slash(request: HttpRequest) -> bool:
    """Whether the path as sent (gunicorn's RAW_URI, uWSGI's and Apache's REQUEST_URI) holds an escaped `/`:
    the server decodes it before routing, so `jobs/job_1%2Fcancel`, one id to its sender, would reach the
    cancel view."""
    sent = request.META.get("RAW_URI") or request.META.get("REQUEST_URI") or ""
    return "%2f" in sent.partition("?")[0].lower()


def _with_nul(request: HttpRequest) -> str | None:
    """The first query parameter whose name or a value holds NUL, which PostgreSQL can neither store nor compare."""
    for name, values in request.GET.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            return name.replace("\x00", "")
    return None


def _touch(key_id: str) -> None:
    try:
        api_key_touch(key_id=key_id)
    except Exception:
        logger.exception("could not record an API key's last use")


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
            message = f"The request body is {length} bytes; the limit is {limit} bytes."
            if not request.path.startswith("/v1/"):
                return HttpResponse(
                    f"{message} Send fewer files at a time.",
                    status=413,
                    content_type="text/plain; charset=utf-8",
                )
            return error_json(413, "request_too_large", message)
        return self.get_response(request)
