"""The retention sweep (`retention_apply`) and what it keeps."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_tenants.utils import tenant_context


def test_retention_keeps_a_document_past_its_period_that_a_queued_or_running_job_reads_until_the_job_ends(
    make_tenant,
):
    from quire.documents.models import Document
    from quire.documents.services import document_create
    from quire.jobs.models import Job, JobStatus
    from quire.jobs.services import retention_apply
    from tenants.services import tenant_settings_update

    tenant = make_tenant("retention-in-use").tenant
    tenant_settings_update(tenant=tenant, retention_days=30)
    with tenant_context(tenant):
        queued, running, unread = (
            document_create(
                tenant=tenant, content=text.encode(), filename=f"{i}.txt", declared_type=None, max_bytes=10**6
            ).document
            for i, text in enumerate(("Read by a queued job.", "Read by a running job.", "Read by none."))
        )
        Document.objects.update(created_at=timezone.now() - timedelta(days=40))
        waiting = Job.objects.create(connector="summary", document_ids=[queued.pk])
        Job.objects.create(connector="summary", document_ids=[running.pk], status=JobStatus.RUNNING)
        Job.objects.create(connector="summary", document_ids=[unread.pk], status=JobStatus.SUCCEEDED)

        assert retention_apply(tenant=tenant)["documents"] == 1
        assert set(Document.objects.values_list("pk", flat=True)) == {queued.pk, running.pk}

        Job.objects.filter(pk=waiting.pk).update(status=JobStatus.SUCCEEDED)
        assert retention_apply(tenant=tenant)["documents"] == 1
        assert list(Document.objects.values_list("pk", flat=True)) == [running.pk]


def test_retention_keeps_a_finished_review_past_its_period_that_an_unfinished_review_extends(make_tenant):
    from quire.jobs.models import Job, JobResult, JobStatus
    from quire.jobs.services import retention_apply
    from tenants.services import tenant_settings_update

    tenant = make_tenant("retention-extended").tenant
    tenant_settings_update(tenant=tenant, retention_days=30)
    with tenant_context(tenant):
        extended, alone = (
            Job.objects.create(connector="review", document_ids=[], status=JobStatus.SUCCEEDED)
            for _ in range(2)
        )
        for job in (extended, alone):
            JobResult.objects.create(job=job, output={"rows": []}, context={}, attempt=1)
        Job.objects.update(created_at=timezone.now() - timedelta(days=40))
        extending = Job.objects.create(connector="review", document_ids=[], options={"extends": extended.pk})

        assert retention_apply(tenant=tenant)["jobs"] == 1
        assert JobResult.objects.filter(job_id=extended.pk).exists()

        Job.objects.filter(pk=extending.pk).update(status=JobStatus.SUCCEEDED)
        assert retention_apply(tenant=tenant)["jobs"] == 1
        assert not Job.objects.filter(pk=extended.pk).exists()
