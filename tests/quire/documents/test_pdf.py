"""PDF pages to text, without the database: which pages OCR reads, reading order on pages with rules and
tables, characters beyond the Basic Multilingual Plane, and line boxes on the rendered page."""

from __future__ import annotations

import io

import pytest

from quire.documents.parsing import ParseError, parse_document
from quire.documents.sniffing import PDF
from tests.support.documents import (
    _pdf_file,
    make_docx,
    make_form_pdf,
    make_layout_pdf,
    make_pdf,
    make_scanned_pdf,
    table_page,
)

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


@pytest.mark.parametrize("turned", [90, 180, -8])
def test_a_page_scanned_sideways_or_askew_is_read_upright_with_its_boxes_on_the_page_as_rendered(turned):
    scan = make_scanned_pdf([*SCANNED, "Payment is due within thirty days of the invoice."], turned=turned)
    parsed = parse_document(scan, PDF)
    assert parsed.ocr_pages == [1]
    assert "governed by the laws" in parsed.text and "State of Delaware" in parsed.text, parsed.text
    [[width, height]] = parsed.page_sizes
    [line] = [line for line in parsed.lines if "Delaware" in parsed.text[line[0] : line[1]]]
    x0, top, x1, bottom = line[3:]
    assert 0 <= x0 < x1 <= width and 0 <= top < bottom <= height
    if turned == 90:
        # Turned a quarter counter-clockwise, the drawn page's second line (30 + 40 pixels down, 24 high) runs up
        # the scan that many pixels from its left edge, at 150 dpi.
        centre = (30 + 40 + 12) * 72 / 150
        assert x0 <= centre <= x1 and bottom - top > 3 * (x1 - x0), line


def test_a_scan_under_a_full_text_layer_is_read_from_the_text_layer():
    scan = make_scanned_pdf(["Scanned words nobody needs to read again"] * 30, width=1275)
    lines = [(72, 730 - 20 * i, f"Line {i} of the searchable text layer over the scan.") for i in range(30)]
    parsed = parse_document(overlaid(scan, lines), PDF)
    assert parsed.ocr_pages == []
    assert parsed.text.startswith("Line 0 of the searchable text layer")


LEFT = ["Left column line one about", "the governing law of the", "State of Delaware applies."]
RIGHT = ["Right column line one on", "termination for convenience", "with ninety days notice."]
COLUMNS = [(72, 700 - 14 * i, t) for i, t in enumerate(LEFT)] + [
    (320, 700 - 14 * i, t) for i, t in enumerate(RIGHT)
]


def test_a_rule_on_a_page_of_two_columns_leaves_the_columns_apart():
    plain = parse_document(make_layout_pdf([(COLUMNS, [])]), PDF)
    ruled = parse_document(make_layout_pdf([(COLUMNS, [(72, 750, 540, 750), (320, 660, 480, 660)])]), PDF)
    assert ruled.text == plain.text == "\n".join(LEFT) + "\n\n" + "\n".join(RIGHT)


DOUBLE_SPACED = [
    "This Supply Agreement shall be governed by and",
    "construed in accordance with the laws of the",
    "State of California.",
    "Either party may terminate this Agreement on",
    "thirty days prior written notice.",
]


@pytest.mark.parametrize("leading", [12, 24, 30])
def test_lines_set_wide_go_on_their_paragraph_until_a_sentence_ends(leading):
    """Double spacing (a gap taller than a line between every two lines) is read as the lines of paragraphs,
    not a paragraph a line, so a clause is not cut at each line; a sentence's end before a usual gap, or a
    gap wider than the usual, starts one."""
    lines = [(72, 700 - leading * i, text) for i, text in enumerate(DOUBLE_SPACED)]
    lines.append((72, 700 - leading * 5 - 3 * leading, "A paragraph after a wider gap"))
    parsed = parse_document(make_layout_pdf([(lines, [])]), PDF)
    first, second = "\n".join(DOUBLE_SPACED[:3]), "\n".join(DOUBLE_SPACED[3:])
    # Set close, a sentence's end alone tells nothing: paragraphs are told by their gaps.
    between = "\n" if leading == 12 else "\n\n"
    assert parsed.text == f"{first}{between}{second}\n\nA paragraph after a wider gap"


def test_a_scan_set_wide_keeps_a_sentence_over_its_lines_in_one_paragraph():
    lines = ["The tenant shall pay rent of", "one thousand dollars monthly.", "This lease is governed by the"]
    parsed = parse_document(make_scanned_pdf([*lines, "laws of the State of Texas."], spacing=2), PDF)
    assert "rent of\none thousand" in parsed.text and "by the\nlaws of" in parsed.text, parsed.text


def test_a_pdf_without_pages_fails_saying_so():
    with pytest.raises(ParseError, match=r"^the PDF has no pages: its page tree is empty$"):
        parse_document(make_layout_pdf([]), PDF)


def test_a_table_stands_between_the_lines_around_it_in_their_reading_order():
    texts, rules = table_page("Quarterly results", [["Metric", "Q1 2026"], ["Revenue", "$120.5 million"]])
    below = [(72, 600 - 14 * i, t) for i, t in enumerate(LEFT)] + [
        (320, 600 - 14 * i, t) for i, t in enumerate(RIGHT)
    ]
    parsed = parse_document(make_layout_pdf([(texts + below, rules)]), PDF)
    table = "| Metric | Q1 2026 |\n| Revenue | $120.5 million |"
    assert parsed.text == "Quarterly results\n\n" + table + "\n\n" + "\n".join(LEFT) + "\n\n" + "\n".join(
        RIGHT
    )
    (found,) = parsed.tables
    start, end = found["rows"][1][1]
    assert parsed.text[start:end] == "$120.5 million"


def test_characters_beyond_the_basic_multilingual_plane_are_kept():
    # A ToUnicode map giving A the mathematical bold capital A (U+1D400) and B a smiling face (U+1F600).
    cmap = (
        b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /X def\n"
        b"1 begincodespacerange <00> <FF> endcodespacerange\n"
        b"2 beginbfchar <41> <D835DC00> <42> <D83DDE00> endbfchar\n"
        b"endcmap CMapName currentdict /CMap defineresource pop end end"
    )
    content = b"BT /F1 12 Tf 72 720 Td (Revenue rose AB in the quarter) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(cmap) + cmap + b"\nendstream",
    ]
    parsed = parse_document(_pdf_file(objects), PDF)
    assert parsed.text == "Revenue rose \U0001d400\U0001f600 in the quarter"
    ((start, end, page, x0, top, x1, bottom),) = parsed.lines
    assert (start, end, page) == (0, len(parsed.text), 1)
    assert 72 <= x0 < 74 and 235 < x1 < 245 and 62 < top < bottom < 76


def one_page(page: str, content: str) -> bytes:
    """A PDF of one page: `page` holds its boxes and /Rotate, `content` draws with Helvetica as /F1."""
    stream = content.encode()
    return _pdf_file(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            f"<< /Type /Page /Parent 2 0 R {page} /Contents 4 0 R "
            f"/Resources << /Font << /F1 5 0 R >> >> >>".encode(),
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )


def ink(content: bytes) -> tuple[float, float, float, float]:
    """The box of what is drawn on the page image as pages.py renders it, in points from its top-left."""
    import numpy
    import pypdfium2

    pdf = pypdfium2.PdfDocument(content)
    try:
        image = numpy.asarray(pdf[0].render(scale=2).to_pil().convert("L"))
    finally:
        pdf.close()
    ys, xs = numpy.nonzero(image < 128)
    return xs.min() / 2, ys.min() / 2, (xs.max() + 1) / 2, (ys.max() + 1) / 2


@pytest.mark.parametrize(
    ("page", "origin"),
    [
        ("/MediaBox [0 0 612 792]", (0, 0)),
        ("/MediaBox [0 200 612 992]", (0, 200)),
        ("/MediaBox [-100 -50 512 742]", (-100, -50)),
        ("/MediaBox [0 0 612 792] /CropBox [36 36 576 756]", (0, 0)),
        ("/MediaBox [0 0 612 792] /Rotate 90", (0, 0)),
        ("/MediaBox [0 200 612 992] /Rotate 180", (0, 200)),
        ("/MediaBox [0 0 612 792] /CropBox [36 36 576 756] /Rotate 270", (0, 0)),
    ],
)
def test_line_and_cell_boxes_lie_over_the_ink_of_the_rendered_page(page, origin):
    x, y = origin
    line = one_page(page, f"BT /F1 24 Tf {x + 72} {y + 700} Td (Governing Law Delaware) Tj ET")
    ((*_, x0, top, x1, bottom),) = parse_document(line, PDF).lines
    drawn = ink(line)
    assert all(abs(a - b) < 3 for a, b in zip((x0, top, x1, bottom), drawn, strict=True)), (
        x0,
        top,
        x1,
        drawn,
    )

    texts, rules = table_page("", [["Metric", "Q1 2026"], ["Revenue", "$120.5 million"]])
    ops = [f"{x + x0} {y + y0} m {x + x1} {y + y1} l S" for x0, y0, x1, y1 in rules]
    ops += [f"BT /F1 10 Tf {x + tx} {y + ty} Td ({text}) Tj ET" for tx, ty, text in texts if text]
    table = one_page(page, "\n".join(ops))
    parsed = parse_document(table, PDF)
    assert len(parsed.tables) == 1
    boxes = [line[3:] for line in parsed.lines]
    union = (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )
    drawn = ink(table)
    assert all(abs(a - b) < 3 for a, b in zip(union, drawn, strict=True)), (union, drawn)


def test_a_word_hyphenated_across_lines_keeps_its_hyphen_and_its_line_break():
    page = [(72, 700, "The data is subject to manip-"), (72, 686, "ulation by the receiving party.")]
    parsed = parse_document(make_layout_pdf([(page, [])]), PDF)
    assert "\ufffe" not in parsed.text and "\x02" not in parsed.text
    assert "subject to manip-\nulation by the receiving party." in parsed.text, parsed.text
    assert [line[:2] for line in parsed.layout["lines"]] == [[0, 29], [30, 61]]


def test_a_pdf_whose_trailer_pypdf_cannot_read_is_counted_and_read_by_pdfium():
    """A file cut off before its `startxref` (pypdf: "Stream has ended unexpectedly"); pdfium rebuilds the
    cross-reference table from the objects."""
    whole = make_pdf(["Governing law: Delaware."])
    cut = whole[: whole.index(b"startxref")]
    parsed = parse_document(cut, PDF)
    assert parsed.text == "Governing law: Delaware."
    assert parsed.page_count == 1


def test_a_ruled_page_pdfminer_does_not_see_is_read_without_its_tables():
    """A page dictionary without `/Type /Page`: pdfium reads it as a page, pdfminer (pdfplumber) skips it."""
    ruled = make_layout_pdf(
        [table_page("Fees", [["Hosting", "$5"]]), table_page("Term", [["Initial", "3 years"]])]
    )
    first, second, *rest = ruled.split(b"/Type /Page /Parent")
    untyped = b"/Type /Page /Parent".join([first, second]) + b"/Parent" + b"/Type /Page /Parent".join(rest)
    parsed = parse_document(untyped, PDF)
    assert parsed.page_count == 2
    assert [len(table["rows"]) for table in parsed.tables] == [1]
    assert "Initial 3 years" in " ".join(parsed.text[parsed.page_starts[1] :].split())


def test_pages_pdfium_cannot_load_are_empty_pages_between_others_and_none_at_the_end():
    """A page tree naming an object the file lacks, and a /Count past the pages it holds."""
    pdf = make_pdf(["One.", "Two."])
    missing_middle = pdf.replace(b"/Kids [3 0 R 5 0 R] /Count 2", b"/Kids [3 0 R 99 0 R 5 0 R] /Count 3")
    parsed = parse_document(missing_middle, PDF)
    assert parsed.page_count == 3
    assert [
        parsed.text[start:end].strip()
        for start, end in zip(parsed.page_starts, [*parsed.page_starts[1:], None], strict=True)
    ] == ["One.", "", "Two."]
    assert parsed.page_sizes[1] == [0, 0]
    past_the_end = pdf.replace(b"/Count 2", b"/Count 3")
    parsed = parse_document(past_the_end, PDF)
    assert parsed.page_count == 2 and parsed.text == "One.\n\nTwo."


@pytest.mark.parametrize("appearance", ["Acme Corp", None], ids=["drawn", "needs-appearances"])
def test_a_filled_form_fields_value_is_read_where_the_page_shows_it(appearance: str | None):
    """A field's value lives in its widget annotation, not the page's content: read as the page shows it,
    whether the form drew it (its appearance stream) or leaves it for the viewer (`/NeedAppearances`)."""
    parsed = parse_document(make_form_pdf("Counterparty:", "Acme Corp", appearance=appearance), PDF)
    assert parsed.text.split() == ["Counterparty:", "Acme", "Corp"]
    (line,) = [line for line in parsed.lines if parsed.text[line[0] : line[1]] == "Acme Corp"]
    x0, top, x1, bottom = line[3:]
    assert 170 <= x0 < x1 <= 400 and 792 - 712 <= top < bottom <= 792 - 695


def test_a_form_whose_fields_are_empty_is_read_as_its_own_content_draws_it():
    """An empty field's appearance (a placeholder such as "Type here") is no value; the page is not
    flattened, so its own lines stay as they are."""
    parsed = parse_document(
        make_form_pdf("Counterparty:", "", appearance="Type here", viewer_draws=False), PDF
    )
    assert parsed.text == "Counterparty:"


def test_a_ruled_page_whose_content_pdfminer_cannot_read_is_read_from_pdfiums_lines():
    """A `TJ` whose operand is a number, not an array, as damaged writers leave one: pdfium skips it, pdfminer
    (pdfplumber's table finder) raises; the page is read without its tables rather than failing the file."""
    texts, rules = table_page("Fees", [["Hosting", "$5"]])
    ops = [f"{x0} {y0} m {x1} {y1} l S" for x0, y0, x1, y1 in rules]
    ops += [f"BT /F1 10 Tf {x} {y} Td ({text}) Tj ET" for x, y, text in texts if text]
    ops.append("BT /F1 10 Tf 72 100 Td 5 TJ ET")
    parsed = parse_document(one_page("/MediaBox [0 0 612 792]", "\n".join(ops)), PDF)
    assert parsed.tables == []
    assert parsed.text.split() == ["Fees", "Hosting", "$5"]


def _with_files(pdf: bytes, files: dict[str, bytes], supplements: dict[str, bytes] | None = None) -> bytes:
    """`pdf` carrying `files` in its EmbeddedFiles name tree, as a PDF portfolio or an e-invoice (Factur-X)
    carries them, and `supplements` as associated files of relationship `/Supplement` (the MathML a tagged
    LaTeX PDF carries for each formula), each Flate-compressed and named under both `/F` and `/UF`, as Acrobat
    names them."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import DictionaryObject, NameObject, StreamObject

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    for name, data in files.items():
        writer.add_attachment(name, data)
    for name, data in (supplements or {}).items():
        writer.add_attachment(name, data).associated_file_relationship = NameObject("/Supplement")
    for spec in writer._objects:
        if isinstance(spec, DictionaryObject) and spec.get("/Type") == "/Filespec":
            spec[NameObject("/UF")] = spec["/F"]
            spec["/EF"][NameObject("/UF")] = spec["/EF"].raw_get("/F")
    for index, stream in enumerate(writer._objects):
        if isinstance(stream, StreamObject) and stream.get("/Type") == "/EmbeddedFile":
            writer._objects[index] = stream.flate_encode()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_the_files_a_pdf_carries_are_its_attachments_and_a_pdf_of_only_files_is_read():
    """In the name tree's order; one that inflates past pypdf's bound (80 MiB of zeros from 80 KB) is left
    out, and so are the print settings Acrobat Distiller embeds (`.joboptions`) and a supplementary form of the
    document's own content (an associated file of relationship `/Supplement`, such as a formula's MathML)."""
    from quire.documents.limits import IngestLimits
    from quire.documents.parsing import ParseError

    schedule = make_docx(["Schedule 1: fees."])
    settings = b"/ASCII85EncodePages false /AllowTransparency false"
    parsed = parse_document(
        _with_files(
            make_pdf(["Master agreement."]),
            {"schedule 1.docx": schedule, "notes.txt": b"Net 30.", "Press Quality.joboptions": settings},
            {"mathml-1.xml": b"<math><mi>x</mi></math>"},
        ),
        PDF,
    )
    assert parsed.text == "Master agreement."
    assert [(a.filename, a.content) for a in parsed.attachments] == [
        ("notes.txt", b"Net 30."),
        ("schedule 1.docx", schedule),
    ]
    cover = parse_document(_with_files(make_pdf([""]), {"schedule 1.docx": schedule}), PDF)
    assert cover.text == "" and [a.filename for a in cover.attachments] == ["schedule 1.docx"]
    bomb = _with_files(
        make_pdf(["Master agreement."]), {"zeros.txt": bytes(80 << 20), "notes.txt": b"Net 30."}
    )
    assert len(bomb) < 1 << 20
    assert [a.filename for a in parse_document(bomb, PDF).attachments] == ["notes.txt"]
    with pytest.raises(ParseError, match=r"the document holds more than 1 files \(QUIRE_UPLOAD_MAX_FILES\)"):
        parse_document(
            _with_files(make_pdf(["Master agreement."]), {"a.txt": b"a", "b.txt": b"b"}),
            PDF,
            IngestLimits(max_batch_files=1),
        )


def _with_annotated_file(pdf: bytes, name: str, data: bytes) -> bytes:
    """`pdf` whose first page carries `data` in a file attachment annotation (the paperclip a reviewer drops
    on a page), its stream Flate-compressed."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import (
        ArrayObject,
        DictionaryObject,
        FloatObject,
        NameObject,
        StreamObject,
        TextStringObject,
    )

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    stream = StreamObject()
    stream.set_data(data)
    stream[NameObject("/Type")] = NameObject("/EmbeddedFile")
    spec = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Filespec"),
            NameObject("/F"): TextStringObject(name),
            NameObject("/UF"): TextStringObject(name),
            NameObject("/EF"): DictionaryObject(
                {NameObject("/F"): writer._add_object(stream.flate_encode())}
            ),
        }
    )
    annotation = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/FileAttachment"),
            NameObject("/Rect"): ArrayObject([FloatObject(v) for v in (500, 700, 520, 720)]),
            NameObject("/FS"): writer._add_object(spec),
            NameObject("/Contents"): TextStringObject(name),
        }
    )
    writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(annotation)])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_file_attached_to_a_page_is_an_attachment_after_the_files_the_pdf_carries():
    parsed = parse_document(
        _with_files(
            _with_annotated_file(make_pdf(["Redline."]), "markup.txt", b"Reviewer's notes."),
            {"terms.txt": b"Net 30."},
        ),
        PDF,
    )
    assert parsed.text == "Redline."
    assert [(a.filename, a.content) for a in parsed.attachments] == [
        ("terms.txt", b"Net 30."),
        ("markup.txt", b"Reviewer's notes."),
    ]
