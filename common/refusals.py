"""Refusals: a request a service will not carry out, and why.

Every domain refusal subclasses `Refusal`, and every refusal names an `ErrorCode`, which fixes the HTTP
status the /v1 API answers with. The API's exception handler and the portal's form helper each handle
`Refusal` once; services raise, nothing converts. Plain Python, so billing, tenants and the connectors can
raise them without importing the platform.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """A refusal's stable, machine-readable code and the HTTP status it maps to."""

    status: int

    def __new__(cls, value: str, status: int) -> ErrorCode:
        member = str.__new__(cls, value)
        member._value_ = value
        member.status = status
        return member

    BAD_REQUEST = "bad_request", 400
    INVALID_PARAMETER = "invalid_parameter", 400
    TOO_MANY_FIELDS = "too_many_fields", 400
    INVALID_OPTIONS = "invalid_options", 400
    INVALID_IDEMPOTENCY_KEY = "invalid_idempotency_key", 400
    UNKNOWN_CONNECTOR = "unknown_connector", 400
    DOCUMENTS_REQUIRED = "documents_required", 400
    DUPLICATE_DOCUMENTS = "duplicate_documents", 400
    DOCUMENT_NOT_READY = "document_not_ready", 400
    DOCUMENT_TOO_LONG = "document_too_long", 400
    RANGE_OUT_OF_BOUNDS = "range_out_of_bounds", 400
    UNKNOWN_EVENT_TYPE = "unknown_event_type", 400
    EVENT_TYPES_REQUIRED = "event_types_required", 400
    INVALID_GRACE_PERIOD = "invalid_grace_period", 400
    URL_NOT_ALLOWED = "url_not_allowed", 400
    MEMBER_CHANGE_REFUSED = "member_change_refused", 400
    CONNECTOR_NOT_IN_PLAN = "connector_not_in_plan", 402
    QUOTA_EXCEEDED = "quota_exceeded", 402
    RESOURCE_MISSING = "resource_missing", 404
    JOB_NOT_CANCELABLE = "job_not_cancelable", 409
    RESULT_NOT_READY = "result_not_ready", 409
    NO_ENDPOINTS = "no_endpoints", 409
    ENDPOINT_DISABLED = "endpoint_disabled", 409
    IDEMPOTENCY_KEY_IN_USE = "idempotency_key_in_use", 409
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused", 409
    SECRET_SHOWN_ONCE = "secret_shown_once", 409
    ALREADY_ON_PLAN = "already_on_plan", 409
    LIMIT_REACHED = "limit_reached", 409
    API_KEY_REVOKED = "api_key_revoked", 409
    DOCUMENT_TOO_LARGE = "document_too_large", 413
    REQUEST_TOO_LARGE = "request_too_large", 413
    DOCUMENT_EXPANDS_TOO_LARGE = "document_expands_too_large", 413
    TOO_MANY_PAGES = "too_many_pages", 413
    NESTING_TOO_DEEP = "nesting_too_deep", 413
    CONTENT_TYPE_MISMATCH = "content_type_mismatch", 415
    UNSUPPORTED_DOCUMENT = "unsupported_document", 415
    DOCUMENT_ENCRYPTED = "document_encrypted", 415
    BILLING_PROVIDER_ERROR = "billing_provider_error", 502
    BILLING_UNAVAILABLE = "billing_unavailable", 503
    SERVICE_UNAVAILABLE = "service_unavailable", 503
    WORKSPACE_MAINTENANCE = "workspace_maintenance", 503
    STORAGE_FULL = "storage_full", 507


class Refusal(Exception):
    """A request refused for a reason the caller can fix or must know: the message says why in a sentence
    for people, `code` says it for programs, and `param` names the input at fault (dotted for nested ones,
    `documents.2`), when there is one."""

    def __init__(self, code: ErrorCode, message: str, param: str | None = None):
        super().__init__(message)
        self.code, self.param = code, param

    @property
    def status(self) -> int:
        return self.code.status

    @property
    def message(self) -> str:
        return str(self)
