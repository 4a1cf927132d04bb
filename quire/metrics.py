"""`GET /metrics`: the platform's state for Prometheus, read at scrape time from PostgreSQL and Redis, so every
web process answers the same whatever served the work: the dependencies, the Celery queues' backlog and the
tasks in flight, and across tenant schemas the jobs, documents and webhook deliveries still to finish with the
age of the oldest. Open with `Authorization: Bearer $QUIRE_METRICS_TOKEN`; without a token set, only in
development."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Iterable

import psycopg
from django.conf import settings
from django.db import connection
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseNotFound

from quire.api.health import check_dependencies
from quire.documents.models import Document, DocumentStatus
from quire.jobs.models import Job, JobStatus
from quire.redisclient import redis_client
from quire.webhooks.models import Delivery, DeliveryStatus
from tenants.models import Tenant

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# kombu's Redis transport keeps a queue's priorities 3, 6 and 9 in lists named after it with this separator.
PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = (0, 3, 6, 9)
SCHEMAS_PER_QUERY = 250
# Per kind: the model, its unfinished statuses, and when such a row is stalled (a job whose lease lapsed).
UNFINISHED = (
    (
        "jobs",
        Job,
        (JobStatus.QUEUED, JobStatus.RUNNING),
        f"status = '{JobStatus.RUNNING}' AND lease_until < now()",
    ),
    (
        "documents",
        Document,
        (DocumentStatus.PENDING, DocumentStatus.PARSING, DocumentStatus.EMBEDDING),
        "false",
    ),
    ("webhook_deliveries", Delivery, (DeliveryStatus.PENDING,), "false"),
)


class Exposition:
    """Prometheus text format 0.0.4: each metric's HELP and TYPE once, then its samples."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def metric(self, name: str, kind: str, help_text: str, samples: Iterable[tuple[dict, float]]) -> None:
        self.lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        for labels, value in samples:
            shown = ",".join(f'{key}="{_escaped(str(v))}"' for key, v in labels.items())
            number = float(value)
            text = str(int(number)) if number.is_integer() else repr(number)
            self.lines.append(f"{name}{{{shown}}} {text}" if shown else f"{name} {text}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def queue_lengths() -> tuple[dict[str, int], int]:
    """Messages waiting in each Celery queue, all priorities together, and the tasks a worker has taken and not
    yet acknowledged: running, or lost with their worker until the visibility timeout puts them back (Redis
    broker only)."""
    client = redis_client(settings.CELERY_BROKER_URL)
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
    lengths = {}
    for queue in settings.CELERY_TASK_QUEUES_NAMES:
        names = [queue, *(f"{queue}{PRIORITY_SEPARATOR}{step}" for step in PRIORITY_STEPS[1:])]
        lengths[queue] = sum(client.llen(f"{prefix}{name}") for name in names)
    return lengths, client.hlen(f"{prefix}unacked")


def counts_query(model: type[Model], stalled: str, schemas: list[str]) -> str:
    """Per status: rows, age in seconds of the oldest and rows `stalled`, of `model`'s table in every schema of
    `schemas`; one parameter per schema, the statuses to count."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    parts = " UNION ALL ".join(
        f"SELECT status, created_at, {stalled} AS stalled FROM {quote(schema)}.{table} WHERE status = ANY(%s)"
        for schema in schemas
    )
    return (
        "SELECT status, count(*), EXTRACT(EPOCH FROM now() - min(created_at)), "
        f"count(*) FILTER (WHERE stalled) FROM ({parts}) AS u GROUP BY status"
    )


def unfinished(schemas: list[str]) -> list[tuple[str, str, int, float, int]]:
    """(kind, status, rows, age in seconds of the oldest, rows stalled) of every unfinished job, document and
    webhook delivery over the given tenant schemas: per kind one `UNION ALL` query for every
    `SCHEMAS_PER_QUERY` schemas, each its own transaction, since a statement holds a lock on every table and
    index it reads (6 to 10 a schema) until it ends, and the server's lock table has room for some 15,000 (with
    PostgreSQL's default `max_locks_per_transaction`). They run on a connection of their own, closed when they
    are done: reading every schema fills a backend's caches (about 110 KiB a schema), which the request's
    persistent or pooled connection would otherwise keep for its life."""
    if not schemas:
        return []
    found: dict[tuple[str, str], tuple[int, float, int]] = {}
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as scrape, scrape.cursor() as cursor:
        for kind, model, statuses, stalled in UNFINISHED:
            for first in range(0, len(schemas), SCHEMAS_PER_QUERY):
                batch = schemas[first : first + SCHEMAS_PER_QUERY]
                cursor.execute(counts_query(model, stalled, batch), [list(statuses)] * len(batch))
                for status, n, age, lapsed in cursor.fetchall():
                    rows, oldest, stalled_rows = found.get((kind, status), (0, 0.0, 0))
                    found[kind, status] = (rows + n, max(oldest, float(age or 0)), stalled_rows + lapsed)
    return [
        (kind, status, *found.get((kind, status), (0, 0.0, 0)))
        for kind, _, statuses, _ in UNFINISHED
        for status in statuses
    ]


def exposition() -> str:
    started = time.perf_counter()
    out = Exposition()
    checks = check_dependencies()
    out.metric(
        "quire_up",
        "gauge",
        "1 when the dependency answers.",
        [({"dependency": n}, c["ok"]) for n, c in checks.items()],
    )
    out.metric(
        "quire_dependency_latency_seconds",
        "gauge",
        "Time the dependency took to answer a check.",
        [({"dependency": n}, c["latency_ms"] / 1000) for n, c in checks.items() if c["ok"]],
    )
    if checks["broker"]["ok"] and settings.CELERY_BROKER_URL.startswith("redis"):
        lengths, unacknowledged = queue_lengths()
        out.metric(
            "quire_queue_messages",
            "gauge",
            "Tasks waiting in each Celery queue.",
            [({"queue": q}, n) for q, n in lengths.items()],
        )
        out.metric(
            "quire_tasks_unacknowledged",
            "gauge",
            "Tasks taken by a worker, not yet acknowledged.",
            [({}, unacknowledged)],
        )
    if checks["database"]["ok"]:
        tenants = list(
            Tenant.objects.exclude(schema_name="public")
            .order_by("pk")
            .values_list("schema_name", "maintenance_since")
        )
        out.metric("quire_tenants", "gauge", "Tenant schemas.", [({}, len(tenants))])
        # A tenant in maintenance may have no schema under its name while it is restored.
        found = unfinished([schema for schema, maintenance in tenants if maintenance is None])
        out.metric(
            "quire_unfinished",
            "gauge",
            "Jobs, documents and webhook deliveries not finished yet, by status, over every tenant.",
            [({"kind": kind, "status": status}, rows) for kind, status, rows, _, _ in found],
        )
        out.metric(
            "quire_unfinished_oldest_age_seconds",
            "gauge",
            "Age of the oldest unfinished row of each kind and status (0 when none).",
            [({"kind": kind, "status": status}, age) for kind, status, _, age, _ in found],
        )
        out.metric(
            "quire_jobs_stalled",
            "gauge",
            "Running jobs whose lease has lapsed.",
            [({}, sum(stalled for kind, *_, stalled in found if kind == "jobs"))],
        )
    out.metric(
        "quire_metrics_scrape_seconds",
        "gauge",
        "Time this exposition took.",
        [({}, time.perf_counter() - started)],
    )
    return out.text()


def _allowed(request: HttpRequest) -> bool:
    token = settings.QUIRE_METRICS_TOKEN
    if not token:
        return settings.QUIRE_ENV == "development"
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus scrape target. Anyone without the token gets a 404, as if there were no such page."""
    if not _allowed(request):
        return HttpResponseNotFound("Not found.", content_type="text/plain; charset=utf-8")
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return HttpResponse(exposition(), content_type=CONTENT_TYPE)


class ScrapeMiddleware:
    """Answers `/metrics` before the host check, the tenant routing and the HTTPS redirect: Prometheus scrapes a
    pod by its address over plain HTTP, with a Host header no ALLOWED_HOSTS names. The bearer token
    (`QUIRE_METRICS_TOKEN`) is what guards the page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/metrics":
            return metrics(request)
        return self.get_response(request)
