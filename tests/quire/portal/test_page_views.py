"""A PDF's findings drawn on its page images in the portal: the page rendered once and cached, the boxes of
each finding's lines placed over it."""

from __future__ import annotations

from django_tenants.utils import tenant_context
from playwright.sync_api import Page, expect

from connectors.spans import PageMap, make_span
from quire.documents.models import Attachment, Document
from quire.jobs.models import Job, JobResult, JobStatus
from quire.portal.highlight import findings_from_output, page_views
from tests.support.browser import sign_in
from tests.support.documents import make_table_pdf, stored_pdf
from tests.support.portal import PortalServer, Workspace, signed_in

ROWS = [["Metric", "Q1 2026"], ["Revenue", "$120.5 million"]]


def _pdf_job(workspace, title: str) -> tuple[Document, Job, dict, object]:
    """A ready PDF (`title` above a table) and a succeeded earnings job whose one finding is in its table."""
    with tenant_context(workspace.tenant):
        document, parsed = stored_pdf(make_table_pdf(title, ROWS), layout=True)
        start = parsed.text.index("$120.5 million")
        span = make_span(document.id, parsed.text, start, start + len("$120.5 million"))
        output = {"connector": "earnings", "metrics": [{"metric": "revenue", "value": 120.5, "span": span}]}
        job = Job.objects.create(connector="earnings", document_ids=[document.id], status=JobStatus.SUCCEEDED)
        JobResult.objects.create(job=job, output=output, attempt=1)
    return document, job, output, parsed


def test_findings_on_a_pdf_are_boxed_on_its_page_image(workspace):
    document, job, output, parsed = _pdf_job(workspace, "Acme Corp results")
    with tenant_context(workspace.tenant):
        email = Document.objects.create(
            filename="results.eml", content_type="message/rfc822", sha256="e" * 64, size_bytes=1
        )
        Attachment.objects.create(email=email, document=document, position=0, filename="Q1 results.pdf")

    views = page_views(
        findings_from_output(output), PageMap(parsed.page_starts, parsed.lines), parsed.page_sizes
    )
    assert [view["number"] for view in views] == [1]
    (box,) = views[0]["boxes"]
    assert box["finding"] == 1 and 0 < box["left"] < 50 and 0 < box["top"] < 20 and box["height"] > 0

    client = signed_in(workspace, "viewer")
    page = client.get(f"/jobs/{job.id}")
    assert page.status_code == 200
    image_url = f"/documents/{document.id}/pages/1.png"
    assert image_url.encode() in page.content and b'<a class="page-box" href="#finding-1"' in page.content
    image = client.get(image_url)
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert image.content.startswith(b"\x89PNG") and client.get(image_url).content == image.content
    assert client.get(f"/documents/{document.id}/pages/2.png").status_code == 404
    assert (
        f'href="/documents/{email.id}">results.eml</a>'.encode()
        in client.get(f"/documents/{document.id}").content
    )
    assert (
        f'href="/documents/{document.id}">Q1 results.pdf</a>'.encode()
        in client.get(f"/documents/{email.id}").content
    )


def test_a_page_image_is_revalidated_on_each_view_so_a_signed_out_browser_cannot_show_it(workspace):
    """The browser may keep the image but must ask again (`private, no-cache`): a member answers 304 by its
    ETag without the page being rendered again; once signed out, the same request is sent to sign in."""
    document, _, _, _ = _pdf_job(workspace, "Acme Corp revalidated")
    client = signed_in(workspace, "viewer")
    image_url = f"/documents/{document.id}/pages/1.png"
    image = client.get(image_url)
    assert image.status_code == 200 and image["Cache-Control"] == "private, no-cache"
    tag = image["ETag"]
    again = client.get(image_url, HTTP_IF_NONE_MATCH=tag)
    assert again.status_code == 304 and not again.content
    client.logout()
    assert client.get(image_url, HTTP_IF_NONE_MATCH=tag).status_code == 302


def test_in_the_browser_a_box_lies_on_its_page_image_and_shows_its_finding(
    portal_server: PortalServer, workspace: Workspace, browser_page: Page
):
    _, job, _, _ = _pdf_job(workspace, "Acme Corp results, drawn")
    sign_in(browser_page, portal_server, workspace, "viewer")
    browser_page.goto(portal_server.url(workspace, f"/jobs/{job.id}"))
    image = browser_page.locator(".page-view img")
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("img => img.naturalWidth") > 0
    box = browser_page.locator(".page-view a.page-box")
    expect(box).to_be_visible()
    drawn, page = box.bounding_box(), image.bounding_box()
    assert drawn["width"] > 0 and drawn["height"] > 0
    assert page["x"] <= drawn["x"] and drawn["x"] + drawn["width"] <= page["x"] + page["width"]
    assert page["y"] <= drawn["y"] and drawn["y"] + drawn["height"] <= page["y"] + page["height"]
    box.click()
    expect(browser_page.locator("mark.active")).to_have_text("$120.5 million")


def test_a_finding_on_a_scanned_tiff_is_boxed_on_its_page_image_over_its_words(workspace):
    import io

    import numpy
    from PIL import Image

    from quire.documents.sniffing import TIFF
    from tests.quire.documents.test_images import SCANNED, page, saved

    scan = page(["Exhibit A"], width=1100)
    second = page(SCANNED, width=1100)
    content = saved(scan, "TIFF", save_all=True, append_images=[second], dpi=(150, 150))
    with tenant_context(workspace.tenant):
        document, parsed = stored_pdf(content, "scan.tif", layout=True, content_type=TIFF)
        start = parsed.text.index("State of Delaware")
        span = make_span(document.id, parsed.text, start, start + len("State of Delaware"))
        output = {"connector": "legal", "clauses": [{"category": "Governing Law", "span": span}]}
        job = Job.objects.create(connector="legal", document_ids=[document.id], status=JobStatus.SUCCEEDED)
        JobResult.objects.create(job=job, output=output, attempt=1)
    client = signed_in(workspace, "viewer")
    content = client.get(f"/jobs/{job.id}").content
    image_url = f"/documents/{document.id}/pages/2.png"
    assert image_url.encode() in content and b'<a class="page-box" href="#finding-1"' in content
    response = client.get(image_url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    pixels = numpy.asarray(Image.open(io.BytesIO(response.content)).convert("L"))
    assert pixels.shape == (round(second.height * 100 / 150), round(second.width * 100 / 150))
    [view] = page_views(
        findings_from_output(output), PageMap(parsed.page_starts, parsed.lines), parsed.page_sizes
    )
    assert view["number"] == 2
    height, width = pixels.shape
    for box in view["boxes"]:
        x0, top = round(box["left"] * width / 100), round(box["top"] * height / 100)
        x1, bottom = x0 + round(box["width"] * width / 100), top + round(box["height"] * height / 100)
        assert (pixels[top:bottom, x0:x1] < 128).mean() > 0.05, box
