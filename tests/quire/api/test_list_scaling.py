"""What a list costs as a workspace grows: a page deep in a long list reads its own rows, not the rows before
it, and the audit log filtered to one object or actor reads that one's events, not the workspace's (the plan's
index use, on a few dozen rows with the planner kept to indexes as it is on large tables)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from quire.api.pagination import CreatedCursorPagination
from quire.documents.models import Document, DocumentStatus
from quire.jobs.models import Job, JobStatus
from tenants.models import AuditEvent
from tests.support import Api
from tests.support.documents import stored_rows

ROWS = 40
LIMIT = 5


@pytest.fixture(scope="module")
def paging(make_tenant):
    provisioned = make_tenant("list-paging")
    start = datetime(2020, 1, 1, tzinfo=UTC)
    with tenant_context(provisioned.tenant):
        documents = stored_rows(ROWS, DocumentStatus.FAILED)
        jobs = Job.objects.bulk_create(Job(connector="legal", status=JobStatus.FAILED) for _ in range(ROWS))
        for n, row in enumerate(documents):
            Document.objects.filter(pk=row.pk).update(created_at=start + timedelta(minutes=n))
        for n, row in enumerate(jobs):
            Job.objects.filter(pk=row.pk).update(created_at=start + timedelta(minutes=n))
    # Beside the jobs' events, ten times as many of another action by another key: as in a large workspace, a
    # filter keeps few of the workspace's events, so its own index is the cheap way to them.
    AuditEvent.objects.bulk_create(
        AuditEvent(
            tenant_id=provisioned.tenant.pk,
            action="job.create" if n < ROWS else "document.create",
            object_type="job" if n < ROWS else "document",
            object_id=f"job_{n}" if n < ROWS else f"doc_{n}",
            actor_type="api_key",
            actor_id=f"key_{n % 8}" if n < ROWS else "key_bulk",
        )
        for n in range(ROWS * 11)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {AuditEvent._meta.db_table}")
    return provisioned


def _rows_filtered_out(plan: dict) -> int:
    return plan.get("Rows Removed by Filter", 0) + sum(_rows_filtered_out(p) for p in plan.get("Plans", []))


def _sorts(plan: dict) -> list[str]:
    """The plan's sort nodes: a page read in its index's order needs none, and stops at its limit."""
    own = [plan["Node Type"]] if plan["Node Type"].endswith("Sort") else []
    return own + [node for child in plan.get("Plans", []) for node in _sorts(child)]


def _plan(api: Api, paging, path: str, model, **params) -> tuple[list[str], dict]:
    """The ids a list answers for `params`, and the plan PostgreSQL ran its query with when it may use no
    sequential or bitmap scan (as on a table too large for either to be cheaper)."""
    with CaptureQueriesContext(connection) as queries:
        response = api.get(path, **params)
    assert response.status_code == 200, response.content
    table = model._meta.db_table
    (page_sql,) = [q["sql"] for q in queries if f'FROM "{table}"' in q["sql"] and "LIMIT" in q["sql"]]
    with tenant_context(paging.tenant), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {page_sql}")
        (plan,) = cursor.fetchone()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return [item["id"] for item in response.json()["data"]], plan[0]["Plan"]


@pytest.mark.parametrize(
    ("path", "model"),
    [("/v1/documents", Document), ("/v1/jobs", Job), ("/v1/audit_events", AuditEvent)],
)
def test_a_page_deep_in_a_list_reads_its_own_rows_through_the_created_index(paging, path, model):
    with tenant_context(paging.tenant):
        rows = model.objects.all() if model is not AuditEvent else model.objects.filter(tenant=paging.tenant)
        expected = [row.pk for row in rows.order_by("-created_at", "-pk")[ROWS - LIMIT : ROWS]]
        newest = list(rows.order_by("-created_at", "-pk"))
        cursor = CreatedCursorPagination.encode_cursor(newest[ROWS - LIMIT - 1])
        ids, plan = _plan(Api(paging.issued_key.secret), paging, path, model, limit=LIMIT, cursor=cursor)
    assert ids == expected
    assert _rows_filtered_out(plan) <= 1, plan


@pytest.mark.parametrize(
    ("param", "value", "count"),
    [("object_id", "job_7", 1), ("actor_id", "key_3", ROWS // 8), ("action", "job.create", ROWS)],
)
def test_the_audit_log_of_one_object_or_actor_reads_its_events_only(paging, param, value, count):
    """Read in the order of an index on the filter and the list's order (`created_at`, `id`): no row of
    another object or actor is read and dropped, and nothing is sorted, whichever index the planner picks."""
    ids, plan = _plan(
        Api(paging.issued_key.secret), paging, "/v1/audit_events", AuditEvent, limit=100, **{param: value}
    )
    assert len(ids) == count
    assert _rows_filtered_out(plan) == 0 and _sorts(plan) == [], plan
