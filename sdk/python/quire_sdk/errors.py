"""Exceptions: one class per `error.type` of the API's error shape, plus connection and wait failures.

Every API error carries `type`, `code`, `message`, `param` (the input at fault, or None), `status` (HTTP)
and `request_id` (the response's `X-Request-Id`, to quote to support).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any


class QuireError(Exception):
    """Base of every exception this package raises."""


class APIConnectionError(QuireError):
    """The server could not be reached, answered nothing, or answered a body that could not be decoded, after
    every retry."""


class WaitTimeout(QuireError):
    """A `wait=True` call gave up before the object reached a final status; `last` is what it saw last."""

    def __init__(self, message: str, last: Any = None):
        super().__init__(message)
        self.last = last


class APIStatusError(QuireError):
    """The API answered with an error: `{"error": {"type", "code", "message", "param"}}`."""

    error_type = ""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.message, self.status, self.code, self.param = message, status, code, param
        self.request_id, self.body, self.headers = request_id, body, headers or {}

    @property
    def type(self) -> str:
        return self.error_type

    @property
    def retry_after(self) -> float | None:
        """Seconds the answer's `Retry-After` asks to wait before trying again (429, 503), else None."""
        return retry_after_seconds(self.headers)

    def __str__(self) -> str:
        details = ", ".join(
            f"{name}={value}"
            for name, value in (("status", self.status), ("code", self.code), ("param", self.param))
            if value is not None
        )
        suffix = f" [request {self.request_id}]" if self.request_id else ""
        return f"{self.message} ({details}){suffix}"


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """A `retry-after` header (lower-case name) in seconds, from a number or an HTTP date; None without one."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return moment.timestamp() - time.time()


class InvalidRequestError(APIStatusError):
    error_type = "invalid_request_error"


class AuthenticationError(APIStatusError):
    error_type = "authentication_error"


class QuotaError(APIStatusError):
    error_type = "quota_error"


class PermissionDeniedError(APIStatusError):
    error_type = "permission_error"


class NotFoundError(APIStatusError):
    error_type = "not_found_error"


class ConflictError(APIStatusError):
    error_type = "conflict_error"


class RateLimitError(APIStatusError):
    error_type = "rate_limit_error"


class APIError(APIStatusError):
    """`api_error`: a failure on the server's side (5xx), or an answer that is not the error shape."""

    error_type = "api_error"


ERROR_TYPES: dict[str, type[APIStatusError]] = {
    cls.error_type: cls for cls in APIStatusError.__subclasses__()
}

# The type the API gives each status (quire/api/errors.py), for answers without a readable error body.
_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "quota_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
}


def error_from_response(status: int, body: Any, headers: dict[str, str]) -> APIStatusError:
    """The exception for an error answer (`headers` with lower-case names)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {"message": f"HTTP {status}"}
    error_type = error.get("type") or _TYPE_BY_STATUS.get(status, "api_error")
    cls = ERROR_TYPES.get(error_type, APIError)
    return cls(
        str(error.get("message") or f"HTTP {status}"),
        status=status,
        code=error.get("code"),
        param=error.get("param"),
        request_id=headers.get("x-request-id"),
        body=body,
        headers=headers,
    )
