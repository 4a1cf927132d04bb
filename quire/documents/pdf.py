"""PDF pages to text: lines with their boxes (pdfium), tables kept as rows of cells on pages with ruled
lines (pdfplumber), and Tesseract OCR for pages whose text layer is missing or garbage."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from statistics import fmean

from quire.documents import sniffing
from quire.documents.layout import (
    LINE,
    PARAGRAPH,
    Attachment,
    Box,
    PageCallback,
    ParsedDocument,
    TextBuilder,
    attach,
    continues_wide,
    wide_spacing,
)
from quire.documents.limits import IngestLimits, LimitExceeded, check_ocr_pages, check_pages
from quire.documents.ocr import (
    OcrMemo,
    add_ocr_lines,
    needs_ocr,
    ocr_page,
    ocr_remembered,
    text_layer_is_good,
    with_text_layer,
)

logger = logging.getLogger(__name__)
PATH, IMAGE = 2, 3  # pypdfium2.raw.FPDF_PAGEOBJ_PATH, FPDF_PAGEOBJ_IMAGE
# The print settings Acrobat Distiller embeds in the PDFs it makes (one each time the file was distilled), not a
# file anyone attached.
DISTILLER_SETTINGS = ".joboptions"
# An associated file that gives the document's own content in another form (the MathML a tagged LaTeX PDF carries
# for each formula): not a file anyone attached.
SUPPLEMENT = "/Supplement"


class PdfError(ValueError):
    pass


@dataclass(frozen=True)
class _Table:
    """A table pdfplumber found, its boxes on the page as rendered."""

    bbox: Box
    rows: list[list[str | None]]
    row_boxes: list[Box]
    cell_boxes: list[list[Box | None]]


def parse_pdf(
    content: bytes, limits: IngestLimits, on_page: PageCallback | None = None, ocr_memo: OcrMemo | None = None
) -> ParsedDocument:
    walked = _checked_page_count(content, limits)
    builder = TextBuilder(limits)
    sizes, ocr_pages, confidences = [], [], []
    plumber = None
    try:
        pdf = _pdfium_document(content)
    except PdfError:
        if walked == 0:
            raise PdfError("the PDF has no pages: its page tree is empty") from None
        raise
    # The pages with a file attached to them (a file attachment annotation).
    annotated: list[int] = []
    # Pages pdfium cannot load (a page tree naming a missing object, a /Count past its pages) since the last
    # page it could: empty pages where a later page follows, none at the end.
    unloaded = 0
    try:
        carries_files = pdf.count_attachments() > 0
        if walked is None:
            check_pages(len(pdf), limits)
        total = max(walked or 0, len(pdf))
        for number in range(1, len(pdf) + 1):
            limits.check_time()
            page = _pdfium_page(pdf, number, annotated)
            if page is None:
                unloaded += 1
                continue
            for _ in range(unloaded + 1):
                builder.new_page()
            sizes.extend([[0, 0]] * unloaded)
            unloaded = 0
            width, height = page.get_size()
            sizes.append([round(width, 2), round(height, 2)])
            kinds, image_cover = _objects(page)
            on_page_image = _on_page_image(page.get_bbox(), page.get_rotation())
            lines = _pdfium_lines(page, on_page_image)
            text = " ".join(text for text, _ in lines)
            text_cover = _text_cover([box for _, box in lines], width, height)
            if needs_ocr(text, IMAGE in kinds, image_cover=image_cover, text_cover=text_cover):
                ocr_pages.append(number)
                check_ocr_pages(len(ocr_pages), limits)
                found, scores = ocr_remembered(ocr_memo, number, partial(ocr_page, page, number, limits))
                confidences.extend(scores)
                if text_layer_is_good(text):
                    found = with_text_layer(found, lines)
                add_ocr_lines(builder, found)
            elif PATH in kinds:
                plumber = plumber or _plumber(content)
                _add_lines(builder, _with_tables(lines, _ruled_tables(plumber, number, page)))
            else:
                _add_lines(builder, lines)
            page.close()
            if on_page is not None:
                on_page(number, total)
    finally:
        if plumber is not None:
            plumber.close()
        pdf.close()
    confidence = round(fmean(confidences), 1) if confidences else None
    parsed = builder.build(ocr_pages=ocr_pages, ocr_confidence=confidence)
    parsed.page_sizes = sizes
    parsed.attachments = _carried_files(content, limits, annotated) if carries_files or annotated else []
    if not parsed.text.strip() and not parsed.attachments:
        raise PdfError("the PDF has no text: no text layer, and no page image OCR could read")
    return parsed


def _carried_files(content: bytes, limits: IngestLimits, annotated: list[int]) -> list[Attachment]:
    """The files the PDF carries in its EmbeddedFiles name tree (a portfolio's documents, an e-invoice's
    XML), in the tree's order, then those attached to its `annotated` pages (file attachment annotations, the
    paperclips a reviewer drops on a page), page by page: each an attachment. pypdf reads them, each stream
    inflated to at most its bound (`pypdf.filters.ZLIB_MAX_OUTPUT_LENGTH`, 75 MB); one it cannot read
    (damaged, past the bound) is left out, as are the print settings Acrobat Distiller embeds
    (`DISTILLER_SETTINGS`) and a supplementary form of the document's own content (`SUPPLEMENT`), and a PDF it
    cannot open gives none."""
    from pypdf import PdfReader

    files: list[Attachment] = []
    try:
        reader = PdfReader(io.BytesIO(content))
        if reader.is_encrypted:
            reader.decrypt("")
        carried = list(reader.attachment_list)
    except _pypdf_damage() as exc:
        logger.info("the PDF's files were left out: %s", exc)
        return files
    for embedded in carried:
        limits.check_time()
        try:
            name = str(embedded.alternative_name or embedded.name)
            if embedded.associated_file_relationship == SUPPLEMENT or name.lower().endswith(
                DISTILLER_SETTINGS
            ):
                continue
            data = embedded.content
        except _pypdf_damage() as exc:
            logger.info("a file the PDF carries was left out: %s", exc)
            continue
        attach(files, limits, name, data, part="attachment")
    for number in annotated:
        limits.check_time()
        try:
            found = list(_annotated_files(reader.pages[number - 1]))
        except _pypdf_damage() as exc:
            logger.info("the files attached to page %d were left out: %s", number, exc)
            continue
        for name, data in found:
            attach(files, limits, name, data, part="attachment")
    return files


def _annotated_files(page) -> Iterator[tuple[str, bytes]]:
    """The files a page's file attachment annotations hold: each its name (`/UF`, else `/F`) and bytes."""
    for annotation in page.get("/Annots") or []:
        annotation = annotation.get_object()
        if annotation.get("/Subtype") != "/FileAttachment" or "/FS" not in annotation:
            continue
        spec = annotation["/FS"].get_object()
        streams = spec.get("/EF")
        streams = streams.get_object() if streams is not None else {}
        stream = streams.get("/UF") or streams.get("/F")
        if stream is not None:
            yield str(spec.get("/UF") or spec.get("/F") or ""), stream.get_object().get_data()


def _plumber(content: bytes):
    """pdfplumber's reading of the PDF, for its ruled tables; where pdfminer cannot read the file, it has no
    pages."""
    import pdfplumber
    from pdfminer.psexceptions import PSException
    from pdfplumber.utils.exceptions import PdfminerException

    try:
        return pdfplumber.open(io.BytesIO(content))
    except (PdfminerException, PSException):
        return _NoPages()


class _NoPages:
    pages: tuple = ()

    def close(self) -> None:
        pass


def _pdfium_page(pdf, number: int, annotated: list[int]):
    """Page `number` (from 1) as it shows: where a form field on it is filled in, or it has a typewriter
    comment or a stamp, its annotations flattened into its text (a page whose fields are all empty is read as
    it is, its lines as its own content draws them); None where pdfium cannot load it. A page with a file
    attached to it (an annotation) joins `annotated`."""
    import pypdfium2.raw as pdfium_c
    from pypdfium2 import PdfiumError

    try:
        page = pdf[number - 1]
    except PdfiumError:
        return None
    shown, carries = _annotations(pdf, page)
    if carries:
        annotated.append(number)
    if shown and pdfium_c.FPDFPage_Flatten(page, pdfium_c.FLAT_NORMALDISPLAY) == pdfium_c.FLATTEN_SUCCESS:
        page.close()
        page = pdf[number - 1]
    return page


def _annotations(pdf, page) -> tuple[bool, bool]:
    """Whether an annotation of the page shows text (a form field with a value, a box that is not "Off", a
    typewriter comment (FreeText) or a stamp), and whether one holds a file."""
    import ctypes

    import pypdfium2.raw as pdfium_c

    form = pdf.formenv.raw if pdf.formenv is not None else None
    shown = carries = False
    for index in range(pdfium_c.FPDFPage_GetAnnotCount(page)):
        if shown and carries:
            break
        annotation = pdfium_c.FPDFPage_GetAnnot(page, index)
        try:
            kind = pdfium_c.FPDFAnnot_GetSubtype(annotation)
            carries = carries or kind == pdfium_c.FPDF_ANNOT_FILEATTACHMENT
            if kind in (pdfium_c.FPDF_ANNOT_FREETEXT, pdfium_c.FPDF_ANNOT_STAMP):
                shown = True
            if kind != pdfium_c.FPDF_ANNOT_WIDGET or form is None or shown:
                continue
            size = pdfium_c.FPDFAnnot_GetFormFieldValue(form, annotation, None, 0)
            buffer = ctypes.create_string_buffer(size)
            pdfium_c.FPDFAnnot_GetFormFieldValue(
                form, annotation, ctypes.cast(buffer, ctypes.POINTER(ctypes.c_ushort)), size
            )
            value = buffer.raw[: max(0, size - 2)].decode("utf-16-le", errors="replace").strip()
            shown = bool(value) and value != "Off"
        finally:
            pdfium_c.FPDFPage_CloseAnnot(annotation)
    return shown, carries


def _pdfium_document(content: bytes):
    """pdfium's reading of the PDF, its form ready to draw; a file it cannot open fails with its reason (a
    password it asks for as the PDF's encryption)."""
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(content)
    except pypdfium2.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise PdfError(sniffing.ENCRYPTED_REASON) from None
        raise PdfError(f"could not read the PDF: {exc}") from None
    # Form fields whose values have no appearance of their own (the form asks for them: NeedAppearances) get
    # one, as a viewer draws them.
    pdf.init_forms()
    return pdf


def _objects(page) -> tuple[set[int], float]:
    """The kinds of the page's objects (and of those in the forms it draws), and the share of the page its
    images cover (their areas added up, clipped to the page; an image pdfium cannot place counts none)."""
    from pypdfium2 import PdfiumError

    left, bottom, right, top = page.get_bbox()
    kinds, area = set(), 0.0
    for obj in page.get_objects(max_depth=2):
        kinds.add(obj.type)
        if obj.type != IMAGE:
            continue
        try:
            x0, y0, x1, y1 = obj.get_bounds()
            form = obj.container
            while form is not None:
                x0, y0, x1, y1 = form.get_matrix().on_rect(x0, y0, x1, y1)
                form = form.container
        except PdfiumError:
            continue
        area += max(0.0, min(x1, right) - max(x0, left)) * max(0.0, min(y1, top) - max(y0, bottom))
    page_area = (right - left) * (top - bottom)
    return kinds, min(1.0, area / page_area) if page_area > 0 else 0.0


def _text_cover(boxes: list[Box], width: float, height: float) -> float:
    """The share of a `width` x `height` page that the line `boxes` cover on it."""
    area = sum(
        max(0.0, min(x1, width) - max(x0, 0.0)) * max(0.0, min(bottom, height) - max(top, 0.0))
        for x0, top, x1, bottom in boxes
    )
    return area / (width * height) if width * height > 0 else 0.0


def _on_page_image(bbox: tuple[float, float, float, float], rotation: int) -> Callable[..., Box]:
    """Turns a rectangle of PDF space (left, bottom, right, top) into a box on the page as it is rendered: the
    page's visible area `bbox` (its MediaBox, cut to its CropBox) turned by `rotation` (/Rotate, degrees
    clockwise), in points from its top-left corner."""
    left, bottom, right, top = bbox
    width, height = right - left, top - bottom

    def box(x0: float, y0: float, x1: float, y1: float) -> Box:
        u0, v0, u1, v1 = x0 - left, top - y1, x1 - left, top - y0
        if rotation == 90:
            return (height - v1, u0, height - v0, u1)
        if rotation == 180:
            return (width - u1, height - v1, width - u0, height - v0)
        if rotation == 270:
            return (v0, width - u1, v1, width - u0)
        return (u0, v0, u1, v1)

    return box


# pdfium marks a hyphen that breaks a word at a line's end with U+0002 or U+FFFE (by version), and U+FFFE with no
# line break after it: the line ends there, with the hyphen that was printed.
_HYPHEN_MARKS = "\x02\ufffe"
_HYPHEN_MARK = re.compile(f"[{_HYPHEN_MARKS}]")


def _pdfium_lines(page, on_page_image: Callable[..., Box]) -> list[tuple[str, Box]]:
    """The page's text lines as pdfium orders them, each with the box of its glyphs on the page as rendered
    (`on_page_image`)."""
    textpage = page.get_textpage()
    try:
        text, indices = _page_chars(textpage)
        count = len(text)
        lines, start = [], 0
        for index in range(count + 1):
            hyphen = index < count and text[index] in _HYPHEN_MARKS
            if index < count and not hyphen and text[index] not in "\r\n":
                continue
            end = index + 1 if hyphen else index
            if end > start:
                boxes = [textpage.get_charbox(indices[i]) for i in range(start, end) if not text[i].isspace()]
                if boxes:
                    box = on_page_image(
                        min(b[0] for b in boxes),
                        min(b[1] for b in boxes),
                        max(b[2] for b in boxes),
                        max(b[3] for b in boxes),
                    )
                    lines.append((_HYPHEN_MARK.sub("-", text[start:end]), box))
            start = index + 1
        return lines
    finally:
        textpage.close()


def _page_chars(textpage) -> tuple[str, list[int]]:
    """The page's characters, and for each the index of its first unit in pdfium's char list, where a
    character beyond U+FFFF takes two (a surrogate pair); read one by one where the whole text does not line
    up with the list (pdfium leaves out or adds a char), a char it cannot give a blank."""
    count = textpage.count_chars()
    text = textpage.get_text_range(0, count) if count else ""
    indices, index = [], 0
    for char in text:
        indices.append(index)
        index += 2 if ord(char) > 0xFFFF else 1
    if index == count:
        return text, indices
    chars, indices, index = [], [], 0
    while index < count:
        char = textpage.get_text_range(index, 1)[:1]
        pair = "" if char or index + 1 == count else textpage.get_text_range(index, 2)
        indices.append(index)
        if len(pair) == 1 and ord(pair) > 0xFFFF:
            chars.append(pair)
            index += 2
        else:
            chars.append(char or " ")
            index += 1
    return "".join(chars), indices


def _ruled_tables(plumber, number: int, page) -> list[_Table]:
    """The ruled tables of page `number`: none where pdfminer does not see the page or cannot read its content
    (a damaged operator: the page is read from pdfium's lines alone)."""
    from pdfminer.psexceptions import PSException
    from pdfplumber.utils.exceptions import PdfminerException

    if number > len(plumber.pages):
        return []
    ruled = plumber.pages[number - 1]
    try:
        return _tables(ruled, page)
    except (PdfminerException, PSException):
        return []
    finally:
        ruled.close()


def _tables(ruled, page) -> list[_Table]:
    """The tables pdfplumber finds on its page `ruled`, their boxes moved onto pdfium's `page` as rendered:
    pdfplumber measures from the top-left of the turned MediaBox (`ruled.bbox`), the image shows the page's
    visible area."""
    rotation = page.get_rotation()
    visible = _on_page_image(page.get_bbox(), rotation)(0, 0, 0, 0)
    media = _on_page_image(page.get_mediabox(), rotation)(0, 0, 0, 0)
    dx = visible[0] - media[0] - float(ruled.bbox[0])
    dy = visible[1] - media[1] - float(ruled.bbox[1])

    def moved(box) -> Box | None:
        if box is None:
            return None
        x0, top, x1, bottom = box
        return (float(x0) + dx, float(top) + dy, float(x1) + dx, float(bottom) + dy)

    return [
        _Table(
            bbox=moved(table.bbox),
            rows=table.extract(),
            row_boxes=[moved(row.bbox) for row in table.rows],
            cell_boxes=[[moved(cell) for cell in row.cells] for row in table.rows],
        )
        for table in ruled.find_tables()
    ]


def _with_tables(lines: list[tuple[str, Box]], tables: list[_Table]) -> list:
    """pdfium's lines in their order, with the `tables` in place of the lines inside them: a table
    stands where the first of its lines was, or, holding none, before the first line below its top."""
    blocks: list = []
    placed = set()
    for text, box in lines:
        inside = next((index for index, table in enumerate(tables) if _inside(box, [table.bbox])), None)
        if inside is None:
            blocks.append((text, box))
        elif inside not in placed:
            blocks.append(tables[inside])
            placed.add(inside)
    for index, table in enumerate(tables):
        if index not in placed:
            below = next(
                (
                    i
                    for i, block in enumerate(blocks)
                    if isinstance(block, tuple) and block[1][1] > table.bbox[1]
                ),
                len(blocks),
            )
            blocks.insert(below, table)
    return blocks


def _add_lines(builder: TextBuilder, blocks: list) -> None:
    """Lines `(text, box)` and tables in pdfium's reading order, which keeps columns apart; a line
    that starts a gap taller than most of a line below the one before it, or above it (a new column), starts
    a paragraph, but on a page set wide (double spacing, `wide_spacing`) one within its usual gap after a
    line that ends no sentence goes on the paragraph."""
    spacing = wide_spacing([block[1] for block in blocks if not isinstance(block, _Table)])
    previous = None
    for block in blocks:
        if isinstance(block, _Table):
            builder.table(block.rows, row_boxes=block.row_boxes, cell_boxes=block.cell_boxes)
            previous = None
            continue
        text, box = block
        height = box[3] - box[1]
        gap = box[1] - previous[1][3] if previous is not None else None
        joins = gap is not None and (
            -0.5 * height <= gap < 0.8 * height or continues_wide(previous[0], gap, spacing)
        )
        builder.add(text, gap=LINE if joins else PARAGRAPH, box=box)
        previous = block


def _inside(box: Box, boxes: list) -> bool:
    x = (box[0] + box[2]) / 2
    y = (box[1] + box[3]) / 2
    return any(x0 <= x <= x1 and top <= y <= bottom for x0, top, x1, bottom in boxes)


def _checked_page_count(content: bytes, limits: IngestLimits) -> int | None:
    """The PDF's pages, counted by walking its page tree with pypdf before anything else is read (a
    password refused), without trusting its declared /Count, and given up one page past the limit; None where
    pypdf cannot follow the file's structure (pdfium, which rebuilds what it can, then counts them)."""
    try:
        return _walked_page_count(content, limits)
    except (PdfError, LimitExceeded):
        raise
    except _pypdf_damage():
        return None


def _pypdf_damage() -> tuple[type[BaseException], ...]:
    """What pypdf raises on a file whose structure it cannot follow: its own errors, and the lookups and
    conversions of a damaged object that fail."""
    from pypdf.errors import PyPdfError

    return (PyPdfError, KeyError, IndexError, ValueError, AttributeError, TypeError, RecursionError)


def _walked_page_count(content: bytes, limits: IngestLimits) -> int:
    from pypdf import PdfReader

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
    check_pages(count, limits)
    return count
