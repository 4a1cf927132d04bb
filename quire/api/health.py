"""Dependency checks behind `/v1/health`: database, Redis, Celery broker."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import connection

from quire.redisclient import redis_client

logger = logging.getLogger(__name__)


def _timed(check) -> dict:
    """The check's latency, or what failed: the error's kind, and its text as `detail` (it names hosts, ports
    and users: for the log, never an answer, `public_checks`)."""
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__, "detail": str(exc)[:300]}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _redis() -> None:
    redis_client(settings.REDIS_URL).ping()


def _broker() -> None:
    if settings.CELERY_BROKER_URL.startswith("redis"):
        redis_client(settings.CELERY_BROKER_URL).ping()
        return
    from quire.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def public_checks(checks: dict[str, dict]) -> dict[str, dict]:
    """`checks` as an answer shows them, each failure's `detail` logged instead."""
    for name, result in checks.items():
        if "detail" in result:
            logger.warning("dependency check %s failed: %s: %s", name, result["error"], result["detail"])
    return {name: {k: v for k, v in result.items() if k != "detail"} for name, result in checks.items()}


def check_dependencies() -> dict[str, dict]:
    checks = {"database": _timed(_database), "redis": _timed(_redis)}
    same_server = settings.CELERY_BROKER_URL == settings.REDIS_URL
    checks["broker"] = {**checks["redis"], "same_as": "redis"} if same_server else _timed(_broker)
    return checks
