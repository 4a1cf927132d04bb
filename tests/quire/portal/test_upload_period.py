"""The portal's upload form takes an earnings call's period, stored as the document's metadata `period`, which the
earnings connector reads first, and which a document's page sets or clears; the job page says which period was
read and where."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from connectors import Document as ConnectorDocument
from connectors import run_connector
from quire.documents.models import Document
from tests.support.portal import job_with_result, signed_in, stored_document


def test_an_upload_stores_the_call_period_it_is_given_and_refuses_a_malformed_one(workspace):
    owner = signed_in(workspace, "owner")
    form = owner.get("/documents").content.decode()
    assert form.index('name="period"') < form.index("data-dropzone"), "typed before a drop sends the files"
    transcript = SimpleUploadedFile(
        "period-form-call.txt", b"Revenue was $3.1 billion in the quarter the form names.", "text/plain"
    )
    stored = owner.post("/documents", {"file": transcript, "period": " q2  2021 "})
    assert stored.status_code == 302, stored.content
    refused = owner.post(
        "/documents",
        {
            "file": SimpleUploadedFile(
                "period-form-other.txt", b"Margins held in the quarter the form misnames.", "text/plain"
            ),
            "period": "spring",
        },
    )
    assert refused.status_code == 400 and b"Write the quarter and its year, e.g. Q2 2021." in refused.content
    with tenant_context(workspace.tenant):
        assert Document.objects.get(filename="period-form-call.txt").metadata == {"period": "Q2 2021"}
        assert not Document.objects.filter(filename="period-form-other.txt").exists()


def _earnings_job_page(workspace, filename: str) -> str:
    text = "Revenue was $3.1 billion in the quarter, up 12% from a year ago."

    def output(document_id: str) -> dict:
        return run_connector(
            "earnings", [ConnectorDocument(document_id, text, metadata={"filename": filename})]
        )

    job_id = job_with_result(
        workspace,
        connector="earnings",
        filename=filename,
        text=text,
        output=output,
    )
    return signed_in(workspace, "viewer").get(f"/jobs/{job_id}").content.decode()


def test_the_job_page_says_which_call_period_was_read_and_where(workspace):
    page = _earnings_job_page(workspace, "acme-2021-Q3.txt")
    assert "acme-2021-Q3.txt: the call of Q3 2021, from its file name." in page


def test_the_job_page_says_what_to_do_when_no_call_period_was_found(workspace):
    page = _earnings_job_page(workspace, "transcript.txt")
    assert "transcript.txt: the call's quarter was not found" in page
    assert 'state it on <a href="/documents/doc_' in page


def test_a_documents_page_shows_its_metadata_and_sets_or_clears_its_call_period(workspace):
    document = stored_document(
        workspace, "period-page-call.txt", "Revenue was $3.1 billion.", {"desk": "equities"}
    )
    owner = signed_in(workspace, "owner")
    shown = owner.get(f"/documents/{document.pk}").content.decode()
    assert '<dd data-metadata="desk">equities</dd>' in shown and "Save call period" in shown
    saved = owner.post(f"/documents/{document.pk}/period", {"period": " q3 2021"})
    assert saved.status_code == 302
    refused = owner.post(f"/documents/{document.pk}/period", {"period": "autumn"})
    assert refused.status_code == 400 and b"Write the quarter and its year, e.g. Q2 2021." in refused.content
    with tenant_context(workspace.tenant):
        assert Document.objects.get(pk=document.pk).metadata == {"desk": "equities", "period": "Q3 2021"}
    assert owner.post(f"/documents/{document.pk}/period", {"period": ""}).status_code == 302
    with tenant_context(workspace.tenant):
        assert Document.objects.get(pk=document.pk).metadata == {"desk": "equities"}
    viewer = signed_in(workspace, "viewer")
    assert viewer.post(f"/documents/{document.pk}/period", {"period": "Q1 2020"}).status_code == 403
    assert "Save call period" not in viewer.get(f"/documents/{document.pk}").content.decode()


def test_a_period_the_metadata_has_no_room_for_is_refused_on_the_form(workspace):
    document = stored_document(
        workspace, "period-full-metadata.txt", "Revenue was $3.2 billion.", {f"k{i}": "v" for i in range(50)}
    )
    refused = signed_in(workspace, "owner").post(f"/documents/{document.pk}/period", {"period": "Q3 2021"})
    assert refused.status_code == 400 and b"metadata holds at most 50 keys" in refused.content
