"""PDF pages to text with pdfplumber: lines with their boxes, tables kept as rows of cells, and Tesseract OCR
for pages whose text layer is missing or garbage."""

from __future__ import annotations

import io
from statistics import fmean

from quire.documents import sniffing
from quire.documents.layout import LINE, PARAGRAPH, PageCallback, ParsedDocument, TextBuilder
from quire.documents.limits import IngestLimits, check_ocr_pages, check_pages
from quire.documents.ocr import needs_ocr, ocr_page


class PdfError(ValueError):
    pass


def parse_pdf(content: bytes, limits: IngestLimits, on_page: PageCallback | None = None) -> ParsedDocument:
    import pdfplumber

    total = _checked_page_count(content, limits)
    builder = TextBuilder(limits)
    sizes, ocr_pages, confidences = [], [], []
    renderer = None
    with pdfplumber.open(io.BytesIO(content)) as pdf:
        for number, page in enumerate(pdf.pages, start=1):
            limits.check_time()
            builder.new_page()
            sizes.append([round(float(page.width), 2), round(float(page.height), 2)])
            tables = page.find_tables()
            lines = page.extract_text_lines(return_chars=False)
            if needs_ocr(" ".join(line["text"] for line in lines), bool(page.images)):
                ocr_pages.append(number)
                check_ocr_pages(len(ocr_pages), limits)
                if renderer is None:
                    import pypdfium2

                    renderer = pypdfium2.PdfDocument(content)
                found, scores = ocr_page(renderer[number - 1], number, limits)
                confidences.extend(scores)
                previous = None
                for line in found:
                    gap = LINE if previous == line.paragraph else PARAGRAPH
                    builder.add(line.text, gap=gap, box=line.box)
                    previous = line.paragraph
            else:
                _add_page(builder, lines, tables)
            page.close()
            if on_page is not None:
                on_page(number, total)
    if renderer is not None:
        renderer.close()
    confidence = round(fmean(confidences), 1) if confidences else None
    parsed = builder.build(ocr_pages=ocr_pages, ocr_confidence=confidence)
    parsed.page_sizes = sizes
    if not parsed.text.strip():
        raise PdfError("the PDF has no text: no text layer, and no page image OCR could read")
    return parsed


def _add_page(builder: TextBuilder, lines: list[dict], tables: list) -> None:
    """The page's lines outside its tables and its tables, top to bottom; a gap taller than most of a line
    between two lines starts a paragraph."""
    boxes = [table.bbox for table in tables]
    blocks = [(float(t.bbox[1]), 1, t) for t in tables]
    blocks += [(float(line["top"]), 0, line) for line in lines if not _inside(line, boxes)]
    blocks.sort(key=lambda block: (block[0], block[1]))
    bottom = None
    for _, is_table, item in blocks:
        if is_table:
            builder.table(item.extract(), row_boxes=[row.bbox for row in item.rows])
            bottom = None
            continue
        height = float(item["bottom"]) - float(item["top"])
        gap = LINE if bottom is not None and float(item["top"]) - bottom < 0.8 * height else PARAGRAPH
        box = (float(item["x0"]), float(item["top"]), float(item["x1"]), float(item["bottom"]))
        builder.add(item["text"], gap=gap, box=box)
        bottom = float(item["bottom"])


def _inside(line: dict, boxes: list) -> bool:
    x = (float(line["x0"]) + float(line["x1"])) / 2
    y = (float(line["top"]) + float(line["bottom"])) / 2
    return any(x0 <= x <= x1 and top <= y <= bottom for x0, top, x1, bottom in boxes)


def _checked_page_count(content: bytes, limits: IngestLimits) -> int:
    """The PDF's pages, counted by walking its page tree with pypdf before anything else is read (a
    password refused), without trusting its declared /Count, and given up one page past the limit."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(content))
        if reader.is_encrypted and not reader.decrypt(""):
            raise PdfError(sniffing.ENCRYPTED_REASON)
        root = reader.trailer["/Root"]["/Pages"]
        check_pages(int(root.get("/Count", 0)), limits)
        stack, seen, count = [root], set(), 0
        while stack and count <= limits.max_pdf_pages:
            node = stack.pop().get_object()
            ref = node.indirect_reference
            key = (ref.idnum, ref.generation) if ref is not None else id(node)
            if key in seen:
                raise PdfError("the PDF's page tree has a cycle")
            seen.add(key)
            if node.get("/Type") == "/Pages" or "/Kids" in node:
                stack.extend(node.get("/Kids", []))
            else:
                count += 1
    except PdfReadError as exc:
        raise PdfError(f"could not read the PDF: {exc}") from exc
    check_pages(count, limits)
    return count
