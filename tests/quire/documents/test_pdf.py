"""PDF pages to text, without the database: which pages OCR reads, reading order on pages with rules and
tables, characters beyond the Basic Multilingual Plane, and line boxes on the rendered page."""

from __future__ import annotations

import io

from quire.documents.parsing import parse_document
from quire.documents.sniffing import PDF
from tests.support.documents import make_layout_pdf, make_scanned_pdf

SCANNED = [
    "This Agreement shall be governed by the laws",
    "of the State of Delaware. Term: five years.",
]


def overlaid(base: bytes, texts: list[tuple[float, float, str]]) -> bytes:
    """`base` with Helvetica text written over its first page at (x, y), in points from the bottom-left."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(base)))
    writer.pages[0].merge_page(PdfReader(io.BytesIO(make_layout_pdf([(texts, [])]))).pages[0])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_scanned_page_with_a_stamp_in_its_text_layer_is_read_by_ocr_and_keeps_the_stamp():
    # A letter page scanned at 150 dpi (1275 x 1620 pixels), the stamp in its bottom margin.
    scan = make_scanned_pdf(SCANNED + [""] * 38, width=1275)
    stamped = overlaid(scan, [(400, 20, "CONFIDENTIAL Bates ACME000123")])
    parsed = parse_document(stamped, PDF)
    assert parsed.ocr_pages == [1]
    assert "governed by the laws" in parsed.text and "State of Delaware" in parsed.text
    assert parsed.text.count("ACME000123") == 1 and parsed.text.count("CONFIDENTIAL") == 1, parsed.text


def test_a_scan_under_a_full_text_layer_is_read_from_the_text_layer():
    scan = make_scanned_pdf(["Scanned words nobody needs to read again"] * 30, width=1275)
    lines = [(72, 730 - 20 * i, f"Line {i} of the searchable text layer over the scan.") for i in range(30)]
    parsed = parse_document(overlaid(scan, lines), PDF)
    assert parsed.ocr_pages == []
    assert parsed.text.startswith("Line 0 of the searchable text layer")
