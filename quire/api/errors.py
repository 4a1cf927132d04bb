"""One error shape for every failure under /v1: {"error": {"type", "code", "message", "param"}}."""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.db import DataError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from kombu.exceptions import OperationalError as BrokerError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from common.refusals import ErrorCode, Refusal

logger = logging.getLogger("quire.api")

TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "quota_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    406: "invalid_request_error",
    409: "conflict_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
    431: "invalid_request_error",
}
# PostgreSQL down, refusing connections or its pool exhausted; Redis or the broker unreachable: a 503 with
# Retry-After, never a 500.
UNAVAILABLE = (OperationalError, InterfaceError, redis.ConnectionError, redis.TimeoutError, BrokerError)
_UNAVAILABLE_MESSAGE = "A service Quire depends on is unavailable or at capacity; retry shortly."
# A value PostgreSQL refuses as data (its DataError): a 400 under /v1 and on the portal alike.
DATA_REFUSED_MESSAGE = (
    "A value in the request is one PostgreSQL cannot store or compare (out of range, or a NUL character)."
)


def error_body(status_code: int, code: str, message: str, param: str | None = None) -> dict:
    return {
        "error": {
            "type": TYPE_BY_STATUS.get(status_code, "api_error"),
            "code": code,
            "message": message,
            "param": param,
        }
    }


def error_json(status_code: int, code: str, message: str, param: str | None = None) -> JsonResponse:
    return JsonResponse(error_body(status_code, code, message, param), status=status_code)


def _first_validation_error(detail, path: str = "") -> tuple[str | None, str, str]:
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = path if key == "non_field_errors" else (f"{path}.{key}" if path else str(key))
            return _first_validation_error(value, name)
    if isinstance(detail, list) and detail:
        if isinstance(detail[0], (dict, list)):
            for index, item in enumerate(detail):
                if item:
                    return _first_validation_error(item, f"{path}.{index}" if path else str(index))
        return _first_validation_error(detail[0], path)
    code = getattr(detail, "code", None) or "invalid"
    return (path or None), str(code), str(detail)


_DRF_CODES = {
    exceptions.ParseError: "invalid_json",
    exceptions.NotAuthenticated: "missing_api_key",
    exceptions.AuthenticationFailed: "invalid_api_key",
    exceptions.PermissionDenied: "insufficient_role",
    exceptions.NotFound: "resource_missing",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    exceptions.NotAcceptable: "not_acceptable",
}


def _suspicious_refusal(exc: SuspiciousOperation) -> Refusal:
    """Django's refusals of a request body (raised while DRF parses it) as the /v1 refusal they mean."""
    if isinstance(exc, RequestDataTooBig):
        return Refusal(ErrorCode.REQUEST_TOO_LARGE, "The request body is larger than this API accepts.")
    if isinstance(exc, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return Refusal(ErrorCode.TOO_MANY_FIELDS, f"The request has more than {limit} form fields.")
    if isinstance(exc, TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return Refusal(ErrorCode.TOO_MANY_FIELDS, f"The request has more than {limit} files.")
    logger.warning("suspicious request refused: %s", exc)
    return Refusal(ErrorCode.BAD_REQUEST, "The request could not be understood.")


def unavailable_response(
    request: HttpRequest, *, message: str = _UNAVAILABLE_MESSAGE, retry_after: int | None = None
) -> HttpResponse:
    """503 with Retry-After (`QUIRE_RETRY_AFTER_SECONDS` unless given): JSON under /v1, a short page elsewhere."""
    if request.path.startswith("/v1/"):
        response = error_json(503, ErrorCode.SERVICE_UNAVAILABLE, message)
    else:
        response = HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(settings.QUIRE_RETRY_AFTER_SECONDS if retry_after is None else retry_after)
    return response


def exception_handler(exc: Exception, context: dict) -> Response:
    if isinstance(exc, UNAVAILABLE):
        logger.warning("dependency unavailable: %s: %s", type(exc).__name__, exc)
        body = error_body(503, ErrorCode.SERVICE_UNAVAILABLE, _UNAVAILABLE_MESSAGE)
        return Response(body, status=503, headers={"Retry-After": str(settings.QUIRE_RETRY_AFTER_SECONDS)})
    if isinstance(exc, SuspiciousOperation):
        exc = _suspicious_refusal(exc)
    if isinstance(exc, Refusal):
        set_rollback()
        response = Response(error_body(exc.status, exc.code.value, str(exc), exc.param), status=exc.status)
        if exc.code is ErrorCode.WORKSPACE_MAINTENANCE:
            response["Retry-After"] = str(settings.QUIRE_MAINTENANCE_RETRY_SECONDS)
        return response
    if isinstance(exc, DataError):
        logger.warning("request value refused by PostgreSQL: %s", exc)
        set_rollback()
        return Response(
            error_body(400, ErrorCode.INVALID_PARAMETER, DATA_REFUSED_MESSAGE),
            status=400,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled error in API view", exc_info=exc)
        return Response(
            error_body(
                500, "internal_error", "Something went wrong on our side; the request id identifies it."
            ),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        param, code, message = _first_validation_error(exc.detail)
        body = error_body(400, code if code != "invalid" else "invalid_parameter", message, param)
    else:
        code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "error")
        body = error_body(response.status_code, code, str(getattr(exc, "detail", exc)))
    response.data = body
    return response


@csrf_exempt  # a POST to a path no view takes is a missing route, not a form without its token
def json_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_json(404, "route_missing", f"No route for {request.method} {request.path}.")


def json_server_error(request: HttpRequest) -> JsonResponse:
    return error_json(
        500, "internal_error", "Something went wrong on our side; the request id identifies it."
    )


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 400, such as a form body it refused to parse: the error JSON under /v1; elsewhere (a portal form,
    such as a dropped folder of more files than a request may hold) what was refused, in words."""
    if request.path.startswith("/v1/"):
        return error_json(400, "bad_request", "The request could not be understood.")
    if isinstance(exception, TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        message = f"The upload has more than {limit} files: send the folder in parts, or as one ZIP."
    elif isinstance(exception, SuspiciousOperation):
        message = _suspicious_refusal(exception).message
    else:
        message = "The request could not be understood."
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


def json_forbidden(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_json(403, "forbidden", "You may not do this.")
