"""Request id and tenant carried through context variables into every log record."""

from __future__ import annotations

import logging
from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("request_id", default="")
_tenant: ContextVar[str] = ContextVar("tenant", default="")


def bind_request_id(value: str) -> None:
    _request_id.set(value)


def bind_tenant(value: str) -> None:
    _tenant.set(value)


class RequestContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        record.tenant = _tenant.get()
        return True
