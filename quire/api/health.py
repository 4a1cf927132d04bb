"""Dependency checks behind `/v1/health`: database, Redis, Celery broker."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import connection

from quire.redisclient import redis_client

logger = logging.getLogger(__name__)


def _timed(check) -> dict:
    """The check's latency, or what failed: the error's kind only (its text, which names hosts, ports and users,
    goes to the log)."""
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:
        logger.warning(
            "dependency check %s failed: %s: %s", check.__name__.strip("_"), type(exc).__name__, exc
        )
        return {"ok": False, "error": type(exc).__name__}
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


def check_dependencies() -> dict[str, dict]:
    checks = {"database": _timed(_database), "redis": _timed(_redis)}
    same_server = settings.CELERY_BROKER_URL == settings.REDIS_URL
    checks["broker"] = {**checks["redis"], "same_as": "redis"} if same_server else _timed(_broker)
    return checks
