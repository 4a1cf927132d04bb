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


class PeriodicChatterFilter(logging.Filter):
    """Celery's INFO lines about the beat schedule's sweeps, some every few seconds (beat sending one, a worker
    receiving it, its success when it did nothing: returned 0 or None), are logged at DEBUG. A sweep that
    returned a count, any failure, and every other task's lines stay as they are."""

    def __init__(self, tasks: list[str]) -> None:
        super().__init__()
        self.tasks = frozenset(tasks)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not self._chatter(record):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)

    def _chatter(self, record: logging.LogRecord) -> bool:
        if record.name == "celery.beat" and str(record.msg).startswith("Scheduler: Sending due task"):
            return record.args[-1] in self.tasks
        data = getattr(record, "data", None)
        if not isinstance(data, dict) or data.get("name") not in self.tasks:
            return False
        return record.name != "celery.app.trace" or data.get("return_value") in ("0", "None")
