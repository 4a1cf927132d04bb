"""`GET /metrics`: refused without the token, and what it counts moves with the rows and messages behind it:
unfinished jobs, documents and deliveries over tenant schemas, stalled jobs, each Celery queue's messages at
every priority as kombu stores them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from celery import current_app
from django.conf import settings
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from quire import metrics
from quire.documents.models import Document
from quire.jobs.models import Job
from quire.metrics import PRIORITY_SEPARATOR, Exposition
from quire.redisclient import redis_client
from tests.support.polling import wait_for

TOKEN = "metrics-token-for-tests"
SAMPLE = re.compile(r"^(\w+)(?:\{(.*)\})? (\S+)$")


def _scrape() -> dict[tuple[str, str], float]:
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples = {}
    for line in response.content.decode().splitlines():
        if not line.startswith("#"):
            name, labels, value = SAMPLE.match(line).groups()
            samples[(name, labels or "")] = float(value)
    return samples


@override_settings(QUIRE_METRICS_TOKEN=TOKEN)
def test_metrics_are_refused_without_the_token():
    assert Client().get("/metrics").status_code == 404
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    with override_settings(QUIRE_METRICS_TOKEN="", QUIRE_ENV="production"):
        assert Client().get("/metrics").status_code == 404


@override_settings(QUIRE_METRICS_TOKEN=TOKEN)
@pytest.mark.parametrize("per_query", [metrics.SCHEMAS_PER_QUERY, 1], ids=["one-query", "a-query-a-schema"])
def test_unfinished_work_over_tenants_is_counted(tenant_a, tenant_b, monkeypatch, per_query: int):
    monkeypatch.setattr(metrics, "SCHEMAS_PER_QUERY", per_query)
    before = _scrape()
    assert before[("quire_up", 'dependency="database"')] == 1 and before[("quire_tenants", "")] >= 2
    with tenant_context(tenant_a.tenant):
        queued = Job.objects.create(connector="legal", document_ids=[], status="queued")
        Job.objects.filter(pk=queued.pk).update(created_at=timezone.now() - timedelta(days=30))
        stalled = Job.objects.create(
            connector="legal",
            document_ids=[],
            status="running",
            lease_until=timezone.now() - timedelta(minutes=5),
        )
    with tenant_context(tenant_b.tenant):
        queued_b = Job.objects.create(connector="legal", document_ids=[], status="queued")
        pending = Document.objects.create(
            filename="waiting.txt", content_type="text/plain", sha256="0" * 64, size_bytes=1, text=""
        )
    try:
        after = _scrape()
    finally:
        with tenant_context(tenant_a.tenant):
            Job.objects.filter(pk__in=[queued.pk, stalled.pk]).delete()
        with tenant_context(tenant_b.tenant):
            queued_b.delete()
            pending.delete()
    for labels, added in (
        ('kind="jobs",status="queued"', 2),
        ('kind="jobs",status="running"', 1),
        ('kind="documents",status="pending"', 1),
        ('kind="webhook_deliveries",status="pending"', 0),
    ):
        assert after[("quire_unfinished", labels)] == before[("quire_unfinished", labels)] + added, labels
    assert after[("quire_jobs_stalled", "")] == before[("quire_jobs_stalled", "")] + 1
    assert after[("quire_unfinished_oldest_age_seconds", 'kind="jobs",status="queued"')] >= 30 * 86400


@override_settings(QUIRE_METRICS_TOKEN=TOKEN)
def test_tenant_schemas_are_read_on_a_connection_of_their_own_closed_after_the_scrape(tenant_a, tenant_b):
    with CaptureQueriesContext(connection) as captured:
        samples = _scrape()
    assert samples[("quire_tenants", "")] >= 2
    assert [q["sql"] for q in captured.captured_queries if Job._meta.db_table in q["sql"]] == []

    def scrape_connections() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s AND pid <> pg_backend_pid()",
                ["%FILTER (WHERE stalled)%"],
            )
            return cursor.fetchone()[0]

    # A backend leaves pg_stat_activity a moment after its client closed the connection.
    wait_for(
        lambda: scrape_connections() == 0, timeout=10, message=lambda: "the scrape's connection is still open"
    )


def test_the_exposition_writes_whole_numbers_in_full_and_escapes_labels():
    out = Exposition()
    out.metric("quire_x", "gauge", "A test.", [({"queue": 'a"b\\c'}, 12_345_678), ({}, True), ({}, 0.25)])
    assert out.text().splitlines() == [
        "# HELP quire_x A test.",
        "# TYPE quire_x gauge",
        'quire_x{queue="a\\"b\\\\c"} 12345678',
        "quire_x 1",
        "quire_x 0.25",
    ]


def test_queue_messages_count_every_priority():
    probe = "metrics_probe"
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"]
    client = redis_client(settings.CELERY_BROKER_URL)
    names = [*settings.CELERY_TASK_QUEUES_NAMES, probe]
    with override_settings(QUIRE_METRICS_TOKEN=TOKEN, CELERY_TASK_QUEUES_NAMES=names):
        try:
            for priority in (0, 4, 9):
                current_app.send_task("quire.tests.never_run", queue=probe, priority=priority)
            samples = _scrape()
            keys = client.keys(f"{prefix}{probe}*")
        finally:
            client.delete(*client.keys(f"{prefix}{probe}*"))
    assert samples[("quire_queue_messages", f'queue="{probe}"')] == 3
    assert len(keys) == 3 and sum(PRIORITY_SEPARATOR.encode() in key for key in keys) == 2
    assert ("quire_tasks_unacknowledged", "") in samples


def test_a_scrape_by_the_pods_address_is_answered(tenant_a):
    with override_settings(QUIRE_METRICS_TOKEN=TOKEN):
        response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", HTTP_HOST="10.1.2.3:8000")
        assert response.status_code == 200 and b"quire_tenants" in response.content
        assert Client().get("/metrics", HTTP_HOST="10.1.2.3:8000").status_code == 404
