"""`usage.threshold`: the job whose recorded pages take the period's usage to 80 % and then 100 % of the plan's
included pages publishes one event for each, once a period, in the transaction that records the usage."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.base import ContentFile
from django.db import transaction
from django.test import override_settings
from django_tenants.utils import tenant_context

from billing.entitlements import account_for, current_period, entitlements_forget
from billing.models import BillingAccount, UsageThreshold
from billing.services import usage_record, usage_thresholds_record
from quire.documents.models import Document
from quire.jobs.models import Job
from quire.jobs.services import job_run
from quire.webhooks.models import Event
from tests.billing.helpers import make_plan
from tests.support.documents import CONTRACT


def _document(pages: int, n: int) -> Document:
    """A ready text document metered as `pages` pages (3,000 characters a page)."""
    text = (CONTRACT + f" Schedule {n}." + " Filler." * 400)[: 3000 * pages - 10]
    raw = text.encode()
    digest = hashlib.sha256(raw).hexdigest()
    document = Document(
        filename=f"c{n}.txt",
        content_type="text/plain",
        sha256=digest,
        size_bytes=len(raw),
        status="ready",
        text=text,
        page_starts=[0],
    )
    document.file.save(digest, ContentFile(raw), save=False)
    document.save()
    return document


def _thresholds() -> list[dict]:
    return [e.data for e in Event.objects.filter(type="usage.threshold").order_by("created_at")]


@pytest.fixture(scope="module")
def plan():
    return make_plan("five-pages", included_units=5)


@pytest.fixture
def five_pages(make_tenant, plan, request):
    """A tenant of its own, with no Stripe subscription to move its period, whose plan includes five pages a
    period."""
    with override_settings(QUIRE_STRIPE_API_KEY=""):
        tenant = make_tenant(f"thresholds-{request.node.name[5:30].replace('_', '-')}").tenant
    account_for(tenant)
    BillingAccount.objects.filter(tenant=tenant).update(plan=plan)
    entitlements_forget(tenant.pk)
    yield tenant
    entitlements_forget(tenant.pk)


def test_jobs_reaching_80_and_100_percent_of_the_included_pages_publish_each_threshold_once(five_pages):
    start, end = current_period(account_for(five_pages).period_start)
    with tenant_context(five_pages):
        for n, pages in enumerate([2, 2, 1, 2]):
            job = Job.objects.create(connector="legal", document_ids=[_document(pages, n).pk])
            assert job_run(tenant=five_pages, job_id=job.pk).status == "succeeded"
            assert len(_thresholds()) == {0: 0, 1: 1, 2: 2, 3: 2}[n]
        period = {
            "period_start": start.isoformat().replace("+00:00", "Z"),
            "period_end": end.isoformat().replace("+00:00", "Z"),
        }
        common = {
            "object": "usage_threshold",
            "metric": "pages",
            "included": 5,
            "plan": "five-pages",
            **period,
        }
        assert _thresholds() == [
            {**common, "percent": 80, "used": 4},
            {**common, "percent": 100, "used": 5},
        ]


def _usage(tenant, job_id: str, pages: int) -> list[int]:
    """What `_finish_succeeded` does with a job's usage; the shares it published."""
    from quire.jobs.events import usage_thresholds_reached

    usage_record(tenant=tenant, job_id=job_id, quantities={"pages": pages})
    reached = usage_thresholds_record(tenant=tenant, quantities={"pages": pages})
    return [e.data["percent"] for e in usage_thresholds_reached(thresholds=reached)]


def test_a_threshold_rolled_back_with_its_usage_is_reached_again(five_pages):
    with tenant_context(five_pages):
        with pytest.raises(RuntimeError), transaction.atomic():
            assert _usage(five_pages, "job_threshold_rolled_back", 4) == [80]
            raise RuntimeError("the job's transaction fails")
        assert not UsageThreshold.objects.filter(tenant=five_pages).exists() and _thresholds() == []
        with transaction.atomic():
            assert _usage(five_pages, "job_threshold_kept", 5) == [80, 100]
        assert [t["percent"] for t in _thresholds()] == [80, 100]
        assert _usage(five_pages, "job_threshold_after", 1) == []


def test_a_smaller_plan_within_the_period_publishes_the_thresholds_of_its_own_pages(five_pages):
    with tenant_context(five_pages):
        assert _usage(five_pages, "job_threshold_on_five", 3) == []
        BillingAccount.objects.filter(tenant=five_pages).update(plan=make_plan("two-pages", included_units=2))
        entitlements_forget(five_pages.pk)
        assert _usage(five_pages, "job_threshold_on_two", 1) == [80, 100]
        assert [(t["included"], t["used"]) for t in _thresholds()] == [(2, 4), (2, 4)]
