"""The portal's lists reach every row: documents and jobs a page at a time, newest first, with the documents
found by name; a list that polls while work runs keeps its page and filter."""

from __future__ import annotations

import uuid

from django_tenants.utils import tenant_context

from quire.portal.views import audit, documents, jobs
from tests.support.portal import signed_in, stored_document


def test_documents_are_listed_a_page_at_a_time_and_found_by_name(workspace, monkeypatch):
    from quire.documents.models import Document

    monkeypatch.setattr(documents, "PAGE_SIZE", 2)
    tag = uuid.uuid4().hex[:8]
    names = [f"lease-{tag}-{n}.txt" for n in range(3)]
    stored = [stored_document(workspace, name, f"Lease {n}.") for n, name in enumerate(names)]
    with tenant_context(workspace.tenant):
        Document.objects.filter(pk=stored[0].pk).update(status="parsing")
    viewer = signed_in(workspace, "viewer")

    first = viewer.get("/documents", {"q": f"LEASE-{tag}"}).content.decode()
    assert names[2] in first and names[1] in first and names[0] not in first
    assert "Page 1 of 2" in first and f'<a href="?page=2&amp;q=LEASE-{tag}">Older</a>' in first
    second = viewer.get("/documents", {"q": f"lease-{tag}", "page": 2}).content.decode()
    assert names[0] in second and names[1] not in second
    assert f'hx-get="/documents/table?page=2&amp;q=lease-{tag}"' in second
    polled = viewer.get("/documents/table", {"q": f"lease-{tag}", "page": 2}).content.decode()
    assert names[0] in polled and names[1] not in polled
    missing = viewer.get("/documents", {"q": f"nothing-{tag}"}).content.decode()
    assert f"No document's name holds “nothing-{tag}”." in missing


def test_jobs_and_the_audit_log_are_listed_a_page_at_a_time(workspace, monkeypatch):
    from quire.jobs.models import Job

    monkeypatch.setattr(jobs, "PAGE_SIZE", 1)
    monkeypatch.setattr(audit, "PAGE_SIZE", 1)
    with tenant_context(workspace.tenant):
        older = Job.objects.create(connector="legal", document_ids=[], status="succeeded")
        newer = Job.objects.create(connector="legal", document_ids=[], status="succeeded")
    signed_in(workspace, "viewer")
    admin = signed_in(workspace, "admin")
    first = admin.get("/jobs").content.decode()
    assert newer.pk in first and older.pk not in first and '<a href="?page=2">Older</a>' in first
    assert older.pk in admin.get("/jobs", {"page": 2}).content.decode()
    logged = admin.get("/audit", {"action": "member.sign_in"}).content.decode()
    assert '<a href="/audit?page=2&amp;action=member.sign_in">Older</a>' in logged


def test_a_list_pages_through_its_newest_pages_and_says_where_the_older_rows_are(workspace, monkeypatch):
    """A page by number reads the rows before it and the pager counts them: both stop at `MAX_PAGES` pages,
    whatever the rows, and a page asked for past them is the last, which says how to reach the older rows."""
    import re

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from quire.jobs.models import Job
    from quire.portal.views import common

    monkeypatch.setattr(jobs, "PAGE_SIZE", 2)
    monkeypatch.setattr(common, "MAX_PAGES", 3)
    with tenant_context(workspace.tenant):
        Job.objects.bulk_create(Job(connector="legal", status="succeeded") for _ in range(7))
        newest = list(Job.objects.order_by("-created_at", "-pk").values_list("pk", flat=True))
    viewer = signed_in(workspace, "viewer")
    for page in (3, 4, 10**9):
        with CaptureQueriesContext(connection) as queries:
            shown = viewer.get("/jobs", {"page": page}).content.decode()
        assert "Page 3 of 3" in shown and "Older</a>" not in shown and newest[4] in shown
        assert "The newest 6 are listed here" in shown and newest[6] not in shown
        read = [q["sql"] for q in queries.captured_queries if 'FROM "jobs_job"' in q["sql"]]
        limits = [int(n) for sql in read for n in re.findall(r"(?:LIMIT|OFFSET) (\d+)", sql)]
        assert limits and max(limits) <= 7, read
    first = viewer.get("/jobs").content.decode()
    assert "Page 1 of 3" in first and '<a href="?page=2">Older</a>' in first and "The newest" not in first


def test_the_job_lists_count_each_jobs_documents_without_reading_them(workspace):
    """A review reads up to 1,000 documents: the lists that poll (jobs every 2 s) show how many, counted by
    PostgreSQL, and never load the ids."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from quire.jobs.models import Job

    with tenant_context(workspace.tenant):
        review = Job.objects.create(
            connector="review", document_ids=[f"doc_{n:04d}" for n in range(1000)], status="running"
        )
    viewer = signed_in(workspace, "viewer")
    for path in ("/", "/jobs", "/jobs/table", "/reviews"):
        with CaptureQueriesContext(connection) as queries:
            shown = viewer.get(path).content.decode()
        assert review.pk in shown and "<td>1000</td>" in shown, path
        listed = [q["sql"] for q in queries.captured_queries if 'FROM "jobs_job"' in q["sql"]]
        assert listed, path
        for sql in listed:
            assert '"jobs_job"."document_ids"' not in sql.replace(
                'jsonb_array_length("jobs_job"."document_ids")', ""
            ), (path, sql)


def test_a_document_past_the_pickers_newest_is_offered_checked_from_its_page(workspace, monkeypatch):
    from quire.documents.models import Document
    from quire.jobs.models import Job
    from quire.portal.views import common

    monkeypatch.setattr(common, "PICKER_DOCUMENTS", 2)
    tag = uuid.uuid4().hex[:8]
    old = stored_document(workspace, f"old-{tag}.txt", "Governed by the laws of Delaware.")
    for n in range(2):
        stored_document(workspace, f"new-{tag}-{n}.txt", f"Newer document {n}.")
    pending = stored_document(workspace, f"pending-{tag}.txt", "Not ready.")
    with tenant_context(workspace.tenant):
        Document.objects.filter(pk=pending.pk).update(status="parsing")
    developer = signed_in(workspace, "developer")

    page = developer.get(f"/documents/{old.pk}").content.decode()
    assert f'href="/jobs?document={old.pk}"' in page and f'href="/reviews?document={old.pk}"' in page
    assert old.filename not in developer.get("/jobs").content.decode()
    for path in ("/jobs", "/reviews"):
        offered = developer.get(path, {"document": [old.pk, pending.pk]}).content.decode()
        assert f'value="{old.pk}"' in offered and "checked" in offered.split(f'value="{old.pk}"')[1][:40]
        assert pending.filename not in offered and f"new-{tag}-1.txt" in offered
    started = developer.post("/jobs", {"connector": "legal", "documents": [old.pk], "mode": "analyzers"})
    assert started.status_code == 302, started.content.decode()[:2000]
    with tenant_context(workspace.tenant):
        assert Job.objects.get(pk=started["Location"].rsplit("/", 1)[1]).document_ids == [old.pk]


def test_a_document_whose_metadata_names_a_dict_method_shows_every_pair(workspace):
    tag = uuid.uuid4().hex[:8]
    stored = stored_document(
        workspace,
        f"meta-{tag}.txt",
        "A memo with odd metadata.",
        {"items": "3", "keys": "x", "team": "legal"},
    )
    response = signed_in(workspace, "viewer").get(f"/documents/{stored.pk}")
    assert response.status_code == 200
    page = response.content.decode()
    for key, value in (("items", "3"), ("keys", "x"), ("team", "legal")):
        assert f'<dd data-metadata="{key}">{value}</dd>' in page


def test_api_keys_webhooks_and_clause_types_are_listed_a_page_at_a_time(workspace, monkeypatch):
    """Each list reads a page of its rows, newest first, however many an API client has made."""
    from quire.clauses.models import ClauseType, ClauseTypeStatus
    from quire.portal.views import api_keys, clause_types, webhooks
    from quire.webhooks.models import WebhookEndpoint
    from tenants.services import api_key_issue

    tag = uuid.uuid4().hex[:8]
    for module in (api_keys, webhooks, clause_types):
        monkeypatch.setattr(module, "PAGE_SIZE", 1)
    older_key, newer_key = (
        api_key_issue(tenant=workspace.tenant, name=f"{age}-key-{tag}", role="viewer").api_key.name
        for age in ("older", "newer")
    )
    with tenant_context(workspace.tenant):
        older_hook, newer_hook = (
            WebhookEndpoint.objects.create(
                url=f"https://example.com/{age}-{tag}", event_types=["*"], secret="whsec_list"
            ).url
            for age in ("older", "newer")
        )
        older_type, newer_type = (
            ClauseType.objects.create(
                key=f"{age}_{tag}", name=f"{age} type {tag}", status=ClauseTypeStatus.READY
            ).name
            for age in ("older", "newer")
        )
    admin = signed_in(workspace, "admin")
    for path, older, newer in (
        ("/api-keys", older_key, newer_key),
        ("/webhooks", older_hook, newer_hook),
        ("/clause-types", older_type, newer_type),
    ):
        first = admin.get(path).content.decode()
        assert newer in first and older not in first and '<a href="?page=2">Older</a>' in first, path
        second = admin.get(path, {"page": 2}).content.decode()
        assert older in second and newer not in second, path


def test_all_reviews_are_listed_a_page_at_a_time(workspace, monkeypatch):
    from quire.jobs.models import Job
    from quire.portal.views import reviews

    monkeypatch.setattr(reviews, "PAGE_SIZE", 1)
    with tenant_context(workspace.tenant):
        older = Job.objects.create(connector="review", document_ids=[], status="succeeded")
        newer = Job.objects.create(connector="review", document_ids=[], status="succeeded")
    viewer = signed_in(workspace, "viewer")
    first = viewer.get("/reviews").content.decode()
    assert newer.pk in first and older.pk not in first and '<a href="?page=2">Older</a>' in first
    assert older.pk in viewer.get("/reviews", {"page": 2}).content.decode()


def test_the_overview_counts_one_document_and_one_job_in_the_singular(make_tenant):
    from tests.quire.portal.conftest import _workspace
    from tests.support.portal import job_with_result

    fresh = _workspace(make_tenant, "portal-tiles", ("owner",))
    job_with_result(
        fresh, connector="legal", filename="only.txt", text="The only contract of this workspace."
    )
    overview = signed_in(fresh, "owner").get("/").content.decode()
    assert "</strong> document<br>" in overview and "</strong> recent job<br>" in overview
