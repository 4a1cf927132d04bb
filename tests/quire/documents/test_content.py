"""A document's original file and a PDF's page images through the API: what an integrator draws a finding's
span and boxes over."""

from __future__ import annotations

import io
import uuid

from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from quire.documents.models import Document
from tenants.models import AuditEvent
from tests.support import Api
from tests.support.documents import make_docx, make_form_pdf, make_pdf, stored_pdf


def _error(response, status: int, code: str, param: str) -> str:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert (error["code"], error["param"]) == (code, param), error
    return error["message"]


def test_the_original_file_comes_back_byte_for_byte_under_its_name_and_the_download_is_recorded(
    api_a: Api, tenant_a
):
    content = make_docx([f"Term: twelve (12) months. {uuid.uuid4().hex}"])
    upload = SimpleUploadedFile(
        'deals/Übersicht "final".docx', content, content_type="application/octet-stream"
    )
    created = api_a.client.post("/v1/documents", {"file": upload}, **api_a._headers(None))
    assert created.status_code == 201, created.content
    document_id = created.json()["id"]

    response = api_a.get(f"/v1/documents/{document_id}/content", headers={"Accept": "application/pdf"})
    assert response.status_code == 200, response.content
    assert b"".join(response.streaming_content) == content
    assert response["Content-Type"] == created.json()["content_type"]
    disposition = response["Content-Disposition"]
    assert (
        disposition.startswith("attachment;")
        and "filename*=utf-8''%C3%9Cbersicht%20%22final%22.docx" in disposition
    )
    assert response["Cache-Control"] == "private, no-store"
    [event] = AuditEvent.objects.filter(tenant=tenant_a.tenant, action="export.create", object_id=document_id)
    assert (event.object_type, event.details["format"]) == ("document", "original")


def test_a_filename_with_control_characters_is_served_without_them(api_a: Api):
    created = api_a.post("/v1/documents", {"text": "Net 30.", "filename": "terms\r\nX-Evil: 1\t.txt"})
    assert created.status_code == 201, created.content
    response = api_a.get(f"/v1/documents/{created.json()['id']}/content")
    assert response.status_code == 200, response.content
    assert b"".join(response.streaming_content) == b"Net 30."
    assert response["Content-Disposition"] == 'attachment; filename="termsX-Evil: 1.txt"'


def test_another_workspaces_document_is_missing(api_a: Api, api_b: Api):
    document_id = api_a.post("/v1/documents", {"text": "Alpha only."}).json()["id"]
    for path in (f"/v1/documents/{document_id}/content", f"/v1/documents/{document_id}/pages/1"):
        _error(api_b.get(path), 404, "resource_missing", "document_id")


def test_a_form_fields_value_the_viewer_draws_is_on_the_page_image_under_its_line(api_a: Api, tenant_a):
    import numpy
    from PIL import Image

    with tenant_context(tenant_a.tenant):
        document, parsed = stored_pdf(
            make_form_pdf("Counterparty:", "Acme Corp", appearance=None), layout=True
        )
    (line,) = [line for line in parsed.lines if parsed.text[line[0] : line[1]] == "Acme Corp"]
    response = api_a.get(f"/v1/documents/{document.id}/pages/1")
    assert response.status_code == 200, response.content
    image = numpy.asarray(Image.open(io.BytesIO(response.content)).convert("L"))
    scale = image.shape[1] / 612
    x0, top, x1, bottom = (round(value * scale) for value in line[3:])
    assert (image[top:bottom, x0:x1] < 128).sum() > 20


def test_a_pdf_page_pdfium_cannot_load_has_no_page_image(api_a: Api, tenant_a):
    missing_middle = make_pdf(["One.", "Two."]).replace(
        b"/Kids [3 0 R 5 0 R] /Count 2", b"/Kids [3 0 R 99 0 R 5 0 R] /Count 3"
    )
    with tenant_context(tenant_a.tenant):
        document, parsed = stored_pdf(missing_middle)
    assert parsed.page_count == 3
    assert api_a.get(f"/v1/documents/{document.id}/pages/3").status_code == 200
    _error(api_a.get(f"/v1/documents/{document.id}/pages/2"), 404, "resource_missing", "page")


def test_a_pdf_page_is_a_png_and_a_page_it_lacks_or_a_document_without_pages_is_a_404(api_a: Api, tenant_a):
    from PIL import Image

    with tenant_context(tenant_a.tenant):
        document, _ = stored_pdf(make_pdf(["First page.", "Second page."]))
    response = api_a.get(f"/v1/documents/{document.id}/pages/2")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "PNG" and image.width > 500
    assert api_a.get(f"/v1/documents/{document.id}/pages/2").content == response.content

    assert "pages 1 to 2" in _error(
        api_a.get(f"/v1/documents/{document.id}/pages/3"), 404, "resource_missing", "page"
    )
    assert api_a.get(f"/v1/documents/{document.id}/pages/0").status_code == 404
    with tenant_context(tenant_a.tenant):
        unread, _ = stored_pdf(make_pdf([f"Never read {uuid.uuid4().hex}."]))
        Document.objects.filter(pk=unread.pk).update(status="failed", page_starts=[])
    assert "it has none read (it is failed)." in _error(
        api_a.get(f"/v1/documents/{unread.id}/pages/1"), 404, "resource_missing", "page"
    )
    text = api_a.post("/v1/documents", {"text": "No pages."}).json()["id"]
    assert "no page images" in _error(
        api_a.get(f"/v1/documents/{text}/pages/1"), 404, "resource_missing", "page"
    )
    refused = api_a.get(f"/v1/documents/{document.id}/pages/1", headers={"Accept": "text/html"})
    assert refused.status_code == 406 and refused["Content-Type"].startswith("application/json")
