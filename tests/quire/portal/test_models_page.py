"""The portal's Models page and the weights a job's page names."""

from datetime import UTC, datetime

from connectors.legal.learned import provenance
from tests.support.portal import job_with_result, signed_in


def test_every_member_reads_the_models_with_their_status(workspace, monkeypatch):
    monkeypatch.setenv("QUIRE_COMMERCIAL", "true")
    page = signed_in(workspace, "viewer").get("/models")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'aria-current="page">Models</a>' in html
    assert '<tr id="legal-clauses">' in html and provenance().version() in html
    assert "CC BY-NC 2.0" in html and "withheld" in html and "QUIRE_COMMERCIAL" in html


def test_the_models_page_says_since_when_the_workspace_knows_each_version(workspace):
    from django_tenants.utils import tenant_context

    from quire.webhooks.models import AnnouncedModel

    with tenant_context(workspace.tenant):
        AnnouncedModel.objects.update_or_create(
            model_id="legal-clauses",
            defaults={
                "version": provenance().version(),
                "status": "loaded",
                "announced_at": datetime(2026, 11, 30, 9, 15, tzinfo=UTC),
            },
        )
    try:
        html = signed_in(workspace, "viewer").get("/models").content.decode()
    finally:
        with tenant_context(workspace.tenant):
            AnnouncedModel.objects.filter(pk="legal-clauses").delete()
    row = html[html.index('<tr id="legal-clauses">') :]
    row = row[: row.index("</tr>")]
    assert '<time datetime="2026-11-30T09:15:00+00:00">2026-11-30 09:15</time>' in row
    assert "model.changed" in html


def test_the_job_page_names_the_weights_its_run_used(workspace):
    version = provenance().version()
    models = [{"id": "legal-clauses", "version": version, "status": "loaded"}]
    job_id = job_with_result(
        workspace,
        connector="legal",
        filename="nda.txt",
        context=lambda document_id: {"strategy": "analyzers", "documents": [], "models": models},
    )
    html = signed_in(workspace, "viewer").get(f"/jobs/{job_id}").content.decode()
    assert f'<a href="/models#legal-clauses"><code>legal-clauses</code></a> {version} (loaded)' in html
