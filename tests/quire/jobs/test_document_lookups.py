"""Deleting a document finds the jobs that read it through an index, not by reading every job's document list
(the plan's index use, with the planner kept from a sequential scan as on a table of many jobs)."""

from __future__ import annotations

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from quire.documents.models import DocumentStatus
from quire.documents.services import document_delete
from quire.jobs.models import Job, JobResult, JobStatus
from tests.support.documents import stored_rows


def test_deleting_a_document_finds_the_jobs_that_read_it_through_the_document_ids_index(make_tenant):
    provisioned = make_tenant("job-documents")
    with tenant_context(provisioned.tenant):
        documents = stored_rows(20, DocumentStatus.READY)
        ids = [document.pk for document in documents]
        jobs = Job.objects.bulk_create(
            Job(connector="legal", status=JobStatus.SUCCEEDED, document_ids=ids[n : n + 3]) for n in range(20)
        )
        JobResult.objects.bulk_create(
            JobResult(job=job, output={"connector": "legal", "clauses": []}, attempt=1) for job in jobs
        )
        with CaptureQueriesContext(connection) as queries:
            document_delete(document=documents[5])
        (lookup,) = [q["sql"] for q in queries if '"jobs_job"."document_ids" @>' in q["sql"]]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {lookup}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "job_document_ids_gin" in plan, plan
