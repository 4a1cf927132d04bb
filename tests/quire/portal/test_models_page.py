"""The portal's Models page and the weights a job's page names."""

from django_tenants.utils import tenant_context

from connectors.legal.learned import provenance
from quire.documents.models import Document
from quire.jobs.models import Job, JobResult
from tests.support.portal import signed_in


def test_every_member_reads_the_models_with_their_status(workspace, monkeypatch):
    monkeypatch.setenv("QUIRE_COMMERCIAL", "true")
    page = signed_in(workspace, "viewer").get("/models")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'aria-current="page">Models</a>' in html
    assert '<tr id="legal-clauses">' in html and provenance().version() in html
    assert "CC BY-NC 2.0" in html and "withheld" in html and "QUIRE_COMMERCIAL" in html


def test_the_job_page_names_the_weights_its_run_used(workspace):
    version = provenance().version()
    with tenant_context(workspace.tenant):
        document = Document.objects.create(
            filename="nda.txt",
            content_type="text/plain",
            sha256="d" * 64,
            size_bytes=3,
            text="NDA",
            status="ready",
        )
        job = Job.objects.create(connector="legal", document_ids=[document.pk], status="succeeded")
        context = {
            "strategy": "analyzers",
            "documents": [],
            "models": [{"id": "legal-clauses", "version": version, "status": "loaded"}],
        }
        JobResult.objects.create(
            job=job, output={"connector": "legal", "context": context}, context=context, attempt=1
        )
    html = signed_in(workspace, "viewer").get(f"/jobs/{job.pk}").content.decode()
    assert f'<a href="/models#legal-clauses"><code>legal-clauses</code></a> {version} (loaded)' in html
