"""Scans and photographs of pages uploaded as images (PNG, JPEG, TIFF, GIF, BMP, WebP): sniffed by their
signatures, read by OCR page by page with boxes on the page, and shown as page images, through a real worker."""

from __future__ import annotations

import io
import re

import numpy
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from quire.documents.formats import parse_eml
from quire.documents.limits import IngestLimits
from quire.documents.models import metered_page_count
from quire.documents.parsing import ParseError, parse_document
from quire.documents.sniffing import (
    BMP,
    GIF,
    JPEG,
    PNG,
    TEXT,
    TIFF,
    WEBP,
    DocumentOverLimit,
    UnsupportedDocument,
    sniff_content_type,
)
from tests.quire.documents.test_dataroom import SCANNED, post_files, ready, run_job
from tests.quire.documents.test_formats import attached, mail, multipart
from tests.support import Api

LINES = ["This Agreement is governed by the laws of Delaware.", "Payment is due within thirty days."]


def page(lines: list[str], *, width: int = 1100, mode: str = "L") -> Image.Image:
    """`lines` drawn black on white at 24 px, line i at 30 + 40 i pixels from the top."""
    font = ImageFont.load_default(size=24)
    image = Image.new("L", (width, 60 + 40 * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(lines):
        draw.text((30, 30 + 40 * index), line, fill=0, font=font)
    return image.convert(mode)


def saved(image, kind: str, **options) -> bytes:
    """`image` (or a python-docx document, python-pptx deck or openpyxl workbook, `kind` ignored) saved as bytes."""
    out = io.BytesIO()
    if isinstance(image, Image.Image):
        image.save(out, kind, **options)
    else:
        image.save(out)
    return out.getvalue()


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text))


@pytest.mark.parametrize(
    ("kind", "content_type", "mode", "options"),
    [
        ("PNG", PNG, "L", {}),
        ("JPEG", JPEG, "RGB", {"quality": 90}),
        ("TIFF", TIFF, "1", {"compression": "group4"}),
        ("GIF", GIF, "P", {}),
        ("BMP", BMP, "RGB", {}),
        ("WEBP", WEBP, "RGB", {"lossless": True}),
    ],
)
def test_each_image_type_is_sniffed_and_read_by_ocr(kind, content_type, mode, options):
    content = saved(page(LINES, mode=mode), kind, **options)
    assert sniff_content_type(content) == content_type
    parsed = parse_document(content, content_type)
    assert {"Agreement", "governed", "Delaware", "Payment", "thirty"} <= words(parsed.text), parsed.text
    assert parsed.ocr_pages == [1] and parsed.ocr_confidence > 60
    assert parsed.page_count == 1 and len(parsed.lines) == 2


def test_a_multi_page_tiff_is_one_page_a_frame_with_boxes_in_points_at_its_resolution():
    first, second = page(["First page of the scan."]), page(["Second page of the scan."], width=900)
    content = saved(first, "TIFF", save_all=True, append_images=[second], dpi=(200, 200))
    progress = []
    parsed = parse_document(content, TIFF, on_page=lambda done, total: progress.append((done, total)))
    assert progress == [(1, 2), (2, 2)]
    assert parsed.ocr_pages == [1, 2]
    assert parsed.page_sizes == [[1100 * 72 / 200, 100 * 72 / 200], [900 * 72 / 200, 100 * 72 / 200]]
    second_start = parsed.text.index("Second")
    assert parsed.page_at(parsed.text.index("First")) == 1 and parsed.page_at(second_start) == 2
    [line] = [line for line in parsed.lines if line[0] <= second_start < line[1]]
    assert line[2] == 2
    assert abs(line[4] - 30 * 72 / 200) < 3 and line[5] <= 900 * 72 / 200


class _Kept(dict):
    def read(self, number):
        return self.get(number)

    def keep(self, number, reading):
        self[number] = reading


def test_a_multi_page_tiffs_pages_read_by_ocr_are_kept_and_read_back_in_place_of_ocr(monkeypatch):
    from quire.documents import image

    content = saved(
        page(["First page of the scan."]), "TIFF", save_all=True, append_images=[page(["Second."])]
    )
    kept = _Kept()
    first = parse_document(content, TIFF, ocr_memo=kept)
    assert sorted(kept) == [1, 2]
    monkeypatch.setattr(image, "ocr_image", lambda *a: pytest.fail("read by OCR again"))
    again = parse_document(content, TIFF, ocr_memo=kept)
    assert (again.text, again.lines, again.ocr_confidence) == (first.text, first.lines, first.ocr_confidence)


def test_a_photo_turned_by_its_exif_orientation_is_read_upright():
    upright = page(LINES, mode="RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was held turned: the viewer turns the pixels 90 degrees clockwise
    content = saved(upright.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=95, exif=exif)
    parsed = parse_document(content, JPEG)
    assert {"Agreement", "governed", "Delaware"} <= words(parsed.text), parsed.text
    assert parsed.page_sizes == [[1100.0, 140.0]]


def test_a_fax_of_oblong_pixels_is_read_with_its_pixels_made_square():
    fine = page(LINES, mode="L")
    # A fax in normal mode: 204 dpi across, 98 dpi down, so every other line of the page is sent.
    squashed = fine.resize((fine.width, fine.height // 2), Image.Resampling.LANCZOS).convert("1")
    content = saved(squashed, "TIFF", compression="group3", dpi=(204, 98))
    parsed = parse_document(content, TIFF)
    assert {"Agreement", "governed", "Delaware", "Payment", "thirty"} <= words(parsed.text), parsed.text
    [[width, height]] = parsed.page_sizes
    assert abs(width - 1100 * 72 / 204) < 0.5 and abs(height - 70 * 72 / 98) < 0.5


def test_black_text_on_a_transparent_page_is_laid_on_white():
    text = numpy.asarray(page(LINES))
    rgba = numpy.zeros((*text.shape, 4), dtype=numpy.uint8)
    rgba[..., 3] = 255 - text  # black where the text is, transparent elsewhere
    parsed = parse_document(saved(Image.fromarray(rgba, "RGBA"), "PNG"), PNG)
    assert {"Agreement", "governed", "Delaware"} <= words(parsed.text), parsed.text


def test_a_sixteen_bit_grey_scan_is_read():
    sixteen = Image.fromarray(numpy.asarray(page(LINES), dtype=numpy.uint16) * 257)
    content = saved(sixteen, "PNG")
    assert Image.open(io.BytesIO(content)).mode.startswith("I")
    parsed = parse_document(content, PNG)
    assert {"Agreement", "governed", "Delaware"} <= words(parsed.text), parsed.text


def test_a_photo_of_more_pixels_than_ocr_reads_is_scaled_down_and_read_with_its_boxes_in_place():
    from quire.documents.image import open_image, page_frame

    big = page(LINES).resize((4400, 560), Image.Resampling.LANCZOS)  # 2.46 M pixels
    limits = IngestLimits(max_ocr_pixels=700_000)
    for kind, content_type in (("JPEG", JPEG), ("PNG", PNG)):
        content = saved(big, kind, dpi=(600, 600))
        assert sniff_content_type(content, limits=limits) == content_type
        with open_image(content, limits) as image:
            frame, dpi = page_frame(image, 1, limits)
        assert frame.width * frame.height <= 700_000 and dpi == pytest.approx(
            600 * (700_000 / 2_464_000) ** 0.5, rel=1e-4
        )
        parsed = parse_document(content, content_type, limits)
        assert {"Agreement", "governed", "Delaware", "Payment", "thirty"} <= words(parsed.text), parsed.text
        [[width, height]] = parsed.page_sizes
        assert width == pytest.approx(4400 * 72 / 600, abs=0.5) and height == pytest.approx(
            560 * 72 / 600, abs=0.5
        )
        [line] = [line for line in parsed.lines if "Payment" in parsed.text[line[0] : line[1]]]
        # Drawn 70 pixels down at a quarter of this size (280 of 560), at 600 dpi: 33.6 points.
        assert abs(line[4] - 70 * 4 * 72 / 600) < 3, line


def test_an_image_past_the_pixel_limit_or_cut_short_fails_with_the_reason():
    content = saved(page(LINES), "PNG")
    with pytest.raises(ParseError, match="4 times QUIRE_INGEST_MAX_OCR_PIXELS"):
        parse_document(content, PNG, IngestLimits(max_ocr_pixels=30_000))
    with pytest.raises(ParseError, match="more than 0 pages need OCR"):
        parse_document(content, PNG, IngestLimits(max_ocr_pages=0))
    with pytest.raises(ParseError, match="damaged"):
        parse_document(content[: len(content) // 2], PNG)
    with pytest.raises(ParseError, match="damaged"):
        parse_document(b"\x89PNG\r\n\x1a\n\x00\x00binary", PNG)
    for size in ((400, 300), (1, 1), (5, 40)):
        blank = saved(Image.new("L", size, 255), "PNG")
        with pytest.raises(ParseError, match="no text"):
            parse_document(blank, PNG)


def test_text_that_starts_like_a_bitmap_stays_text():
    assert sniff_content_type(b"BMW Group annual report 2026: revenue rose.") == TEXT


def test_a_phone_photo_in_heic_is_read_and_a_damaged_one_refused():
    from pathlib import Path

    from quire.documents.sniffing import HEIC

    photo = (Path(__file__).parents[2] / "data" / "images" / "contract-page.heic").read_bytes()
    assert sniff_content_type(photo) == HEIC
    parsed = parse_document(photo, HEIC)
    assert "governed by the laws" in parsed.text and "State of Delaware" in parsed.text, parsed.text
    assert parsed.ocr_pages == [1] and parsed.page_sizes == [[900.0, 220.0]]
    with pytest.raises(UnsupportedDocument, match="the image is damaged"):
        sniff_content_type(photo[:200])


def test_an_image_whose_header_is_damaged_or_past_the_limits_is_refused_at_upload():
    with pytest.raises(UnsupportedDocument, match="the image is damaged"):
        sniff_content_type(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    content = saved(page(LINES), "PNG")
    with pytest.raises(DocumentOverLimit, match="QUIRE_INGEST_MAX_OCR_PIXELS"):
        sniff_content_type(content, limits=IngestLimits(max_ocr_pixels=30_000))
    assert sniff_content_type(content, limits=IngestLimits(max_ocr_pixels=40_000)) == PNG
    frames = [page([f"Page {number}."]) for number in range(3)]
    tiff = saved(frames[0], "TIFF", save_all=True, append_images=frames[1:])
    with pytest.raises(DocumentOverLimit, match="the image has more than 2 pages"):
        sniff_content_type(tiff, limits=IngestLimits(max_pdf_pages=2))
    assert sniff_content_type(tiff, limits=IngestLimits(max_pdf_pages=3)) == TIFF


def test_image_pages_are_billed_as_pages():
    assert metered_page_count(content_type=TIFF, page_count=3) == 3


def test_a_picture_the_email_body_shows_is_no_attachment_but_an_attached_scan_is():
    from email.mime.image import MIMEImage
    from email.mime.text import MIMEText

    logo = MIMEImage(saved(page(["Acme"]), "PNG"), "png")
    logo.add_header("Content-ID", "<logo@acme>")
    logo.add_header("Content-Disposition", "inline", filename="image001.png")
    scan = saved(page(LINES), "PNG")
    message = multipart(
        "mixed",
        multipart("related", MIMEText('<p>Signed copy attached.</p><img src="cid:logo@acme">', "html"), logo),
        attached("signed.png", scan),
    )
    parsed = parse_eml(mail(message), IngestLimits(), lambda html: [("text", "Signed copy attached.")])
    assert [(a.filename, a.content) for a in parsed.attachments] == [("signed.png", scan)]
    assert "Attachments: signed.png\n" in parsed.text


def test_a_scanned_tiff_is_read_through_a_worker_and_its_finding_lies_over_its_page_image(
    celery_worker, api_a: Api
):
    cover = page(["Exhibit A", "Signed copy of the agreement follows."])
    body = page(SCANNED)
    content = saved(
        cover, "TIFF", save_all=True, append_images=[body], dpi=(150, 150), compression="tiff_lzw"
    )
    created = post_files(api_a, {"scan.tif": content})
    assert created.status_code == 201, created.content
    assert created.json()["content_type"] == TIFF
    document = ready(api_a, created.json()["id"])
    assert document["ocr_pages"] == [1, 2] and document["ocr_confidence"] > 60
    assert document["pages_parsed"] == document["pages_total"] == 2
    output = run_job(api_a, "legal", document["id"])
    assert output["answers"]["Governing Law"] == "Delaware"
    [span] = [clause["span"] for clause in output["clauses"] if clause["category"] == "Governing Law"][:1]
    assert span["page"] == 2 and span["boxes"]
    response = api_a.get(f"/v1/documents/{document['id']}/pages/2")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    image = numpy.asarray(Image.open(io.BytesIO(response.content)).convert("L"))
    assert image.shape == (round(body.height * 100 / 150), round(body.width * 100 / 150))
    scale = 100 / 72
    for box in span["boxes"]:
        x0, top, x1, bottom = (round(box[key] * scale) for key in ("x0", "top", "x1", "bottom"))
        assert (image[top:bottom, x0:x1] < 128).sum() > 50, box
    missing = api_a.get(f"/v1/documents/{document['id']}/pages/3")
    assert missing.status_code == 404 and "pages 1 to 2" in missing.json()["error"]["message"]


def dark_share(image: Image.Image, box) -> float:
    x0, top, x1, bottom = (round(value) for value in box)
    pixels = numpy.asarray(image.convert("L"))[top:bottom, x0:x1]
    return float((pixels < 128).mean()) if pixels.size else 0.0


@pytest.mark.parametrize("angle", [-7, 6, 90, 180])
def test_a_page_scanned_askew_or_turned_is_read_upright_and_its_boxes_lie_over_its_lines(angle):
    upright = page(SCANNED)
    scan = upright.rotate(angle, expand=True, fillcolor=255, resample=Image.Resampling.BICUBIC)
    parsed = parse_document(saved(scan, "PNG"), PNG)
    assert {"Agreement", "Acme", "Delaware", "conflict"} <= words(parsed.text), parsed.text
    assert parsed.page_sizes == [[float(scan.width), float(scan.height)]]
    assert parsed.ocr_confidence > 80
    for start, end, _, *box in parsed.lines:
        assert 0 <= box[0] < box[2] <= scan.width and 0 <= box[1] < box[3] <= scan.height, box
        assert dark_share(scan, box) > 0.03, (parsed.text[start:end], box)
    # The line naming Delaware lies where it was drawn: its box holds that line's centre, turned with the page.
    [line] = [line for line in parsed.lines if "Delaware" in parsed.text[line[0] : line[1]]]
    radians = numpy.radians(angle)
    x, y = 30 + 300 - upright.width / 2, 30 + 40 * 3 + 12 - upright.height / 2
    centre = (
        scan.width / 2 + x * numpy.cos(radians) + y * numpy.sin(radians),
        scan.height / 2 - x * numpy.sin(radians) + y * numpy.cos(radians),
    )
    assert line[3] <= centre[0] <= line[5] and line[4] <= centre[1] <= line[6], (line, centre)


def test_a_photo_of_no_text_is_not_straightened_nor_turned():
    from quire.documents.ocr import skew_angle

    rng = numpy.random.default_rng(7)
    noise = Image.fromarray((rng.random((300, 400)) * 255).astype(numpy.uint8))
    assert skew_angle(noise) == 0.0
    assert skew_angle(page(SCANNED)) == 0.0
    assert skew_angle(page(SCANNED).rotate(4, expand=True, fillcolor=255)) == pytest.approx(-4, abs=0.3)


def docx_of(paragraphs: list[str | bytes]) -> bytes:
    """A Word document of typed paragraphs (str) and pasted pictures (bytes), in order."""
    import docx
    from docx.shared import Inches

    document = docx.Document()
    for paragraph in paragraphs:
        if isinstance(paragraph, bytes):
            document.add_picture(io.BytesIO(paragraph), width=Inches(6))
        else:
            document.add_paragraph(paragraph)
    return saved(document, "docx")


def test_a_word_document_of_pasted_scans_is_read_through_its_pictures_in_order():
    from quire.documents.sniffing import DOCX

    first = saved(page(["Exhibit A: Master Services Agreement"]), "PNG")
    second = saved(page(SCANNED), "JPEG", quality=90)
    parsed = parse_document(docx_of([first, second]), DOCX)
    assert "Exhibit A" in parsed.text and "State of Delaware" in parsed.text, parsed.text
    assert parsed.text.index("Exhibit A") < parsed.text.index("Delaware")
    assert parsed.ocr_pages == [1] and parsed.ocr_confidence > 60


def test_a_word_document_with_text_of_its_own_leaves_its_pictures_alone_and_a_logo_is_no_page():
    from quire.documents.sniffing import DOCX

    typed = "This Supply Agreement sets the prices, delivery terms and warranties agreed between the parties."
    parsed = parse_document(docx_of([typed, typed, saved(page(SCANNED), "PNG")]), DOCX)
    assert "Delaware" not in parsed.text and parsed.ocr_pages == []
    logo = saved(page(["Acme"], width=150).resize((150, 60)), "PNG")
    with pytest.raises(ParseError, match="no text"):
        parse_document(docx_of([logo]), DOCX)


def test_a_word_documents_pictures_are_read_beside_its_text_when_asked_and_never_when_told_not():
    from quire.documents.sniffing import DOCX

    typed = "This Supply Agreement sets the prices, delivery terms and warranties agreed between the parties."
    exhibit = saved(page(SCANNED), "PNG")
    parsed = parse_document(docx_of([typed, exhibit, typed]), DOCX, IngestLimits(ocr_pictures="always"))
    assert (
        parsed.text.index("Supply Agreement") < parsed.text.index("Delaware") < parsed.text.rindex("Supply")
    )
    assert parsed.ocr_pages == [1] and parsed.ocr_confidence > 60
    # Asked for, but past the OCR cap: the document is read as it is, its own text kept.
    capped = parse_document(
        docx_of([typed, exhibit, exhibit]), DOCX, IngestLimits(ocr_pictures="always", max_ocr_pages=1)
    )
    assert capped.text.strip() == typed and capped.ocr_pages == []
    with pytest.raises(ParseError, match="no text"):
        parse_document(docx_of([exhibit]), DOCX, IngestLimits(ocr_pictures="never"))


def test_a_workbook_of_pasted_scans_is_read_through_its_pictures_sheet_by_sheet():
    import openpyxl
    from openpyxl.drawing.image import Image as SheetPicture

    from quire.documents.sniffing import XLSX

    book = openpyxl.Workbook()
    book.active.title = "Statement"
    book.active.add_image(
        SheetPicture(io.BytesIO(saved(page(["Revenue rose to 120 million dollars."]), "PNG"))), "B2"
    )
    scans = book.create_sheet("Signed")
    scans["A1"] = "Scan"
    scans.add_image(SheetPicture(io.BytesIO(saved(page(SCANNED), "PNG"))), "A3")
    content = saved(book, "xlsx")
    parsed = parse_document(content, XLSX)
    assert parsed.ocr_pages == [1, 2]
    assert parsed.page_at(parsed.text.index("Revenue rose")) == 1
    assert parsed.page_at(parsed.text.index("Delaware")) == 2
    assert parsed.text.index("Sheet: Signed") < parsed.text.index("| Scan |") < parsed.text.index("Delaware")
    unread = parse_document(content, XLSX, IngestLimits(ocr_pictures="never"))
    assert "Delaware" not in unread.text and unread.ocr_pages == []


def rtf_picture(data: bytes, blip: str) -> bytes:
    """A picture as Word writes it in RTF: hex data in lines of 128 digits, after its properties."""
    digits = data.hex()
    lines = "\n".join(digits[i : i + 128] for i in range(0, len(digits), 128))
    return f"{{\\pict{{\\*\\picprop{{\\sp{{\\sn shapeType}}{{\\sv 75}}}}}}\\{blip}\\picw100\\pich100\n{lines}}}".encode()


def test_an_rtf_of_pasted_scans_is_read_through_its_body_pictures_only():
    from quire.documents.sniffing import RTF

    exhibit = saved(page(["Exhibit C: Statement of Work"]), "PNG")
    scan = saved(page(SCANNED), "JPEG", quality=90)
    header = saved(page(["Confidential letterhead of the sender"]), "PNG")
    preview = saved(page(["Preview of an embedded spreadsheet"]), "PNG")
    content = b"".join(
        [
            b"{\\rtf1\\ansi{\\header\\pard ",
            rtf_picture(header, "pngblip"),
            b"\\par}\\pard Signed copy\\par\\pard {\\*\\shppict",
            rtf_picture(exhibit, "pngblip"),
            b"}{\\nonshppict",
            rtf_picture(exhibit, "pngblip"),
            b"}\\par\\pard ",
            rtf_picture(scan, "jpegblip"),
            b"\\par{\\object\\objemb{\\*\\objdata 0105}{\\result ",
            rtf_picture(preview, "pngblip"),
            b"}}\\par}",
        ]
    )
    parsed = parse_document(content, RTF)
    text = parsed.text
    assert text.index("Signed copy") < text.index("Exhibit C") < text.index("State of Delaware"), text
    assert text.count("Exhibit C") == 1 and "letterhead" not in text and "Preview" not in text
    assert "shapeType" not in text and parsed.ocr_pages == [1]
    with pytest.raises(ParseError, match="no text"):
        parse_document(content.replace(b"Signed copy", b""), RTF, IngestLimits(ocr_pictures="never"))


@pytest.mark.parametrize("unicode", [False, True])
def test_a_word_97_document_of_pasted_scans_is_read_through_its_inline_pictures(unicode):
    from quire.documents.sniffing import DOC
    from tests.support.documents import doc_picture, make_doc

    first = doc_picture(saved(page(["Exhibit D: Pricing Schedule"]), "PNG"))
    second = doc_picture(saved(page(SCANNED), "JPEG", quality=90), blip=0xF01D, instance=0x46B)
    body = "Signed copy:\r\x01\rand the terms:\r\x01\x01\rEnd.\r"
    marks = [index for index, char in enumerate(body) if char == "\x01"]
    content = make_doc(
        body,
        # The first picture, then the second, then an object's mark, which is no picture of the Data stream.
        formatted=(
            (marks[0], marks[0] + 1, 0x6A03, 0),
            (marks[1], marks[1] + 1, 0x6A03, len(first)),
            (marks[2], marks[2] + 1, 0x6A03, len(first)),
            (marks[2], marks[2] + 1, 0x080A),
        ),
        data_stream=first + second,
        unicode_from=0 if unicode else None,
    )
    parsed = parse_document(content, DOC)
    text = parsed.text
    assert text.index("Signed copy") < text.index("Exhibit D") < text.index("and the terms"), text
    assert text.index("and the terms") < text.index("State of Delaware") < text.index("End."), text
    assert text.count("Delaware") == 1 and parsed.ocr_pages == [1]
    damaged = make_doc(body, formatted=((marks[0], marks[0] + 1, 0x6A03, 5),), data_stream=first[:200])
    assert "Exhibit" not in parse_document(damaged, DOC).text


def xls_of_pictures(pictures: list[tuple[str, bytes]]) -> bytes:
    """An Excel 97 workbook (xlwt) of a sheet per (name, PNG bytes), each drawing its picture as Excel does: the
    workbook's drawing group (MSODRAWINGGROUP and CONTINUE records of 8,224 bytes at most, before the sheets,
    their offsets moved past it) holds the blips, each in a file record; a sheet's MSODRAWING its shape, whose properties name the blip, then an OBJ of a
    picture (type 8)."""
    import struct

    import olefile
    import xlwt

    from tests.support.documents import make_ole

    def record(kind: int, data: bytes) -> bytes:
        return struct.pack("<HH", kind, len(data)) + data

    def art(kind: int, body: bytes, instance: int = 0, container: bool = False) -> bytes:
        return struct.pack("<HHI", instance << 4 | (0xF if container else 0), kind, len(body)) + body

    book = xlwt.Workbook()
    for name, _ in pictures:
        book.add_sheet(name).write(0, 0, "Scan")
    out = io.BytesIO()
    book.save(out)
    with olefile.OleFileIO(io.BytesIO(out.getvalue())) as ole:
        stream = ole.openstream("Workbook").read()
    store = b""
    for _, png in pictures:
        blip = art(0xF01E, bytes(16) + b"\xff" + png, instance=0x6E0)
        fixed = struct.pack("<BB16sHIIIBBBB", 6, 6, bytes(16), 0, len(blip), 1, 0, 0, 0, 0, 0)
        store += art(0xF007, fixed + blip, instance=6)
    data = art(0xF000, art(0xF001, store, len(pictures), container=True), container=True)
    chunks = [data[at : at + 8224] for at in range(0, len(data), 8224)]
    group = record(0xEB, chunks[0]) + b"".join(record(0x3C, chunk) for chunk in chunks[1:])

    def drawing(number: int) -> bytes:
        shape = art(0xF004, art(0xF00B, struct.pack("<HI", 0x4104, number), instance=1), container=True)
        obj = struct.pack("<HHHHH", 0x15, 0x12, 8, number, 0x6011) + bytes(16)
        return record(0xEC, art(0xF002, art(0xF003, shape, container=True), container=True)) + record(
            0x5D, obj
        )

    written, moved, ends, at = bytearray(), {}, 0, 0
    while at + 4 <= len(stream):
        kind, length = struct.unpack_from("<HH", stream, at)
        if kind == 0x85 and group:
            written += group
            group = b""
        if kind == 0x0809:
            moved[at] = len(written)
        if kind == 0x0A:
            written += drawing(ends) if ends else b""
            ends += 1
        written += stream[at : at + 4 + length]
        at += 4 + length
    at = 0
    while at + 4 <= len(written):
        kind, length = struct.unpack_from("<HH", written, at)
        if kind == 0x85:
            struct.pack_into("<I", written, at + 4, moved[struct.unpack_from("<I", written, at + 4)[0]])
        at += 4 + length
    stream = bytes(written)
    return make_ole([("Workbook", stream)])


def test_an_excel_97_workbook_of_pasted_scans_is_read_through_its_pictures_sheet_by_sheet():
    from quire.documents.sniffing import XLS

    content = xls_of_pictures(
        [
            ("Statement", saved(page(["Revenue rose to 120 million dollars."]), "PNG")),
            ("Signed", saved(page(SCANNED), "PNG")),
        ]
    )
    parsed = parse_document(content, XLS)
    assert parsed.ocr_pages == [1, 2], parsed.text
    assert parsed.page_at(parsed.text.index("Revenue rose")) == 1
    assert parsed.page_at(parsed.text.index("Delaware")) == 2
    assert parsed.text.index("Sheet: Signed") < parsed.text.index(
        "| Scan |", parsed.text.index("Sheet: Signed")
    )
    assert parsed.text.rindex("| Scan |") < parsed.text.index("Delaware")


def test_a_word_97_documents_floating_pictures_are_read_after_their_anchors_paragraphs():
    from quire.documents.sniffing import DOC
    from tests.support.documents import make_doc

    body = "Signed copy:\r\x08Schedule follows.\rand the terms:\r\x08\rEnd.\r"
    anchors = [index for index, char in enumerate(body) if char == "\x08"]
    floating = (
        (anchors[0], saved(page(["Exhibit F: Payment Schedule"]), "PNG")),
        (anchors[1], saved(page(SCANNED), "PNG")),
    )
    parsed = parse_document(make_doc(body, floating=floating), DOC)
    text = parsed.text
    assert text.index("Schedule follows") < text.index("Exhibit F") < text.index("and the terms"), text
    assert text.index("and the terms") < text.index("State of Delaware") < text.index("End."), text
    assert parsed.ocr_pages == [1]


def test_a_deck_of_screenshots_is_read_slide_by_slide():
    import pptx
    from pptx.util import Inches

    from quire.documents.sniffing import PPTX

    deck = pptx.Presentation()
    for lines in (["Quarterly revenue rose to 120 million dollars."], SCANNED):
        slide = deck.slides.add_slide(deck.slide_layouts[6])
        slide.shapes.add_picture(
            io.BytesIO(saved(page(lines), "PNG")), Inches(0.5), Inches(1), width=Inches(9)
        )
    parsed = parse_document(saved(deck, "pptx"), PPTX)
    assert parsed.ocr_pages == [1, 2]
    assert parsed.page_at(parsed.text.index("Quarterly revenue")) == 1
    assert parsed.page_at(parsed.text.index("Delaware")) == 2


def test_pictures_past_the_ocr_cap_leave_a_word_document_with_text_read_as_it_is_and_fail_one_without():
    from quire.documents.sniffing import DOCX

    scans = [saved(page([f"Page {number} of the signed agreement."]), "PNG") for number in range(3)]
    parsed = parse_document(docx_of(["Signed copy attached.", *scans]), DOCX, IngestLimits(max_ocr_pages=2))
    assert parsed.text == "Signed copy attached." and parsed.ocr_pages == []
    with pytest.raises(ParseError, match="more than 2 pages need OCR"):
        parse_document(docx_of(scans), DOCX, IngestLimits(max_ocr_pages=2))
    assert (
        parse_document(docx_of(scans), DOCX, IngestLimits(max_ocr_pages=3)).text.count("signed agreement")
        == 3
    )


def test_a_documents_pictures_are_counted_first_so_progress_follows_them_and_none_is_read_past_the_cap(
    monkeypatch,
):
    from quire.documents import image
    from quire.documents.sniffing import DOCX

    scans = [saved(page([f"Page {number} of the signed lease."]), "PNG") for number in range(3)]
    content = docx_of([*scans, saved(page(["Icon"], width=150).resize((150, 60)), "PNG")])
    progress: list[tuple[int, int]] = []
    parsed = parse_document(content, DOCX, on_page=lambda done, total: progress.append((done, total)))
    assert parsed.text.count("signed lease") == 3
    assert progress == [(1, 3), (2, 3), (3, 3)]

    read = []
    monkeypatch.setattr(image, "ocr_image", lambda *args: read.append(args) or ([], []))
    typed = (
        "The lessee signed each page of the lease; the scans below are the signed copy of record for both."
    )
    with_text = parse_document(
        docx_of([typed, *scans]), DOCX, IngestLimits(ocr_pictures="always", max_ocr_pages=2)
    )
    assert with_text.text == typed and read == []


def test_a_deck_whose_picture_is_linked_not_embedded_is_read_without_it():
    import pptx
    from pptx.util import Inches

    from quire.documents.sniffing import PPTX

    deck = pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[6])
    picture = slide.shapes.add_picture(io.BytesIO(saved(page(SCANNED), "PNG")), Inches(0.5), Inches(1))
    blip = picture._element.blipFill.blip
    blip.set(f"{{{blip.nsmap['r']}}}link", blip.rEmbed)
    del blip.attrib[f"{{{blip.nsmap['r']}}}embed"]
    slide = deck.slides.add_slide(deck.slide_layouts[6])
    slide.shapes.add_picture(io.BytesIO(saved(page(LINES), "PNG")), Inches(0.5), Inches(1))
    parsed = parse_document(saved(deck, "pptx"), PPTX)
    assert "Delaware" in parsed.text and "Acme" not in parsed.text and parsed.ocr_pages == [2]


def test_a_deck_with_text_and_a_picture_without_its_fill_reads_its_text():
    """A picture shape whose `p:blipFill` a writer left out (as Open XML SDK's Performance_Up.pptx has one): its
    pictures are counted on every read, so python-pptx's refusal of it must not fail the deck."""
    import pptx
    from pptx.util import Inches

    from quire.documents.sniffing import PPTX

    deck = pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = (
        "Quarterly performance is up across every region we serve this year, as planned."
    )
    picture = slide.shapes.add_picture(io.BytesIO(saved(page(SCANNED), "PNG")), Inches(0.5), Inches(2))
    picture._element.remove(picture._element.blipFill)
    parsed = parse_document(saved(deck, "pptx"), PPTX)
    assert parsed.text.startswith("Quarterly performance") and parsed.ocr_pages == []


def test_a_word_document_of_pictures_without_text_gives_no_text_rather_than_ocr_noise():
    from quire.documents.sniffing import DOCX

    # Marks OCR takes for a sign and a word it doubts: "%" (no word) and "Sh" (at 36 % confidence).
    rng = numpy.random.default_rng(0)
    marks = Image.new("L", (400, 300), 255)
    draw = ImageDraw.Draw(marks)
    font = ImageFont.load_default(size=60)
    for _ in range(6):
        x, y = rng.integers(0, 340), rng.integers(0, 240)
        draw.text((int(x), int(y)), str(rng.choice(list("()\\/|{}[]~^%"))), fill=0, font=font)
    with pytest.raises(ParseError, match="no text"):
        parse_document(docx_of([saved(marks, "PNG")]), DOCX)


GERMAN = [
    "Dieser Vertrag unterliegt dem Recht der Bundesrepublik Deutschland.",
    "Die Kündigungsfrist beträgt drei Monate zum Quartalsende.",
    "Gerichtsstand ist München; Zahlungen sind binnen 30 Tagen fällig.",
]


def german_scan() -> bytes:
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 28)
    image = Image.new("L", (1400, 200), 255)
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(GERMAN):
        draw.text((30, 30 + 50 * index), line, fill=0, font=font)
    return saved(image, "PNG", dpi=(200, 200))


def test_a_german_scan_is_read_with_its_umlauts_in_the_ocr_languages_configured():
    scan = german_scan()
    german = parse_document(scan, PNG, IngestLimits(ocr_languages="eng+deu")).text
    assert {"Kündigungsfrist", "beträgt", "München", "fällig"} <= words(german), german
    english = parse_document(scan, PNG, IngestLimits()).text
    assert "Kündigungsfrist" not in english and "Bundesrepublik" in english


def test_an_ocr_language_the_worker_lacks_fails_the_document_naming_its_package_and_the_check_warns():
    from django.test import override_settings

    from common.env import ocr_languages
    from quire.documents.checks import ocr_languages_check

    # ISO 639-2 keeps "qaa" for local use: no Tesseract language data has it.
    with pytest.raises(ParseError, match=r"language data for qaa.*tesseract-ocr-qaa"):
        parse_document(german_scan(), PNG, IngestLimits(ocr_languages="eng+qaa"))
    with override_settings(QUIRE_INGEST_OCR_LANGUAGES="eng+qaa"):
        [warning] = ocr_languages_check(None)
    assert warning.id == "documents.W001" and "qaa" in warning.msg and "tesseract-ocr-qaa" in warning.hint
    assert ocr_languages_check(None) == []
    assert ocr_languages(" eng+chi_sim ") == "eng+chi_sim"
    for bad in ("English", "eng,deu", "eng+", "ENG"):
        with pytest.raises(RuntimeError, match="QUIRE_INGEST_OCR_LANGUAGES"):
            ocr_languages(bad)
    from common.env import ocr_pictures

    assert ocr_pictures("always") == "always"
    with pytest.raises(
        RuntimeError, match="QUIRE_INGEST_OCR_PICTURES must be one of textless, always, never"
    ):
        ocr_pictures("Always")


def test_a_photo_of_a_page_under_a_shadow_is_read_in_its_dark_part_too():
    from quire.documents.ocr import uneven_light

    lines = [LINES[index % 2] for index in range(12)]
    ink = numpy.asarray(page(lines, width=1000), dtype=numpy.float64) / 255
    height, width = ink.shape
    y, x = numpy.mgrid[0:height, 0:width]
    # Paper lit from the top left and in shadow toward the bottom right, the ink a dark grey, a little blur.
    light = 250 - 170 * (0.5 * x / width + 0.5 * y / height) ** 1.5
    photo = Image.fromarray((light * ink + 50 * (1 - ink)).clip(0, 255).astype(numpy.uint8))
    photo = photo.filter(ImageFilter.GaussianBlur(1.2))
    assert uneven_light(photo) and not uneven_light(page(lines, width=1000))
    # A page designed with dark blocks (a black banner, a dark picture) is not a shadow: its paper does not
    # vary smoothly, and Sauvola's local thresholds lose text set white on black.
    flyer = page(lines, width=1000)
    ImageDraw.Draw(flyer).rectangle((0, 0, 1000, 120), fill=0)
    ImageDraw.Draw(flyer).rectangle((600, 250, 950, 480), fill=60)
    assert not uneven_light(flyer)
    text = parse_document(saved(photo, "JPEG", quality=90), JPEG).text
    read = sum(text.count(line) for line in LINES)
    assert read >= 11, text


def with_parts(package: bytes, parts: dict[str, bytes]) -> bytes:
    """`package` (a ZIP) with `parts` added."""
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        for name, data in parts.items():
            target.writestr(name, data)
    return out.getvalue()


def test_an_opendocument_text_and_presentation_of_scans_are_read_through_their_pictures():
    from quire.documents.sniffing import ODP, ODT
    from tests.support.documents import make_odp, make_odt

    scans = {
        "Pictures/first.png": saved(page(LINES), "PNG"),
        "Pictures/second.png": saved(page(SCANNED), "PNG"),
    }
    frame = (
        '<draw:frame svg:width="16cm" svg:height="3cm"><draw:image xlink:href="{}"/>'
        '<draw:image xlink:href="Pictures/missing.svg"/></draw:frame>'
    )
    body = "".join(f"<text:p>{frame.format(name)}</text:p>" for name in scans)
    parsed = parse_document(with_parts(make_odt(body), scans), ODT)
    assert parsed.text.index("Payment") < parsed.text.index("MUTUAL") and parsed.ocr_pages == [1], parsed.text
    slides = "".join(
        f'<draw:page draw:name="s{index}">{frame.format(name)}</draw:page>'
        for index, name in enumerate(scans)
    )
    parsed = parse_document(with_parts(make_odp(slides), scans), ODP)
    assert parsed.ocr_pages == [1, 2]
    assert (
        parsed.page_at(parsed.text.index("Payment")) == 1 and parsed.page_at(parsed.text.index("MUTUAL")) == 2
    )


def test_an_opendocument_spreadsheets_pictures_are_read_on_their_sheets():
    from quire.documents.sniffing import ODS
    from tests.support.documents import make_ods

    scans = {
        "Pictures/first.png": saved(page(LINES), "PNG"),
        "Pictures/second.png": saved(page(SCANNED), "PNG"),
    }
    frame = '<draw:frame svg:width="16cm" svg:height="3cm"><draw:image xlink:href="{}"/></draw:frame>'
    first, second = (frame.format(name) for name in scans)
    sheets = (
        f'<table:table table:name="Statement"><table:shapes>{first}</table:shapes>'
        "<table:table-row><table:table-cell/></table:table-row></table:table>"
        '<table:table table:name="Signed"><table:table-row><table:table-cell office:value-type="string">'
        f"<text:p>Scan</text:p>{second}</table:table-cell></table:table-row></table:table>"
    )
    parsed = parse_document(with_parts(make_ods(sheets), scans), ODS)
    assert parsed.ocr_pages == [1, 2], parsed.text
    assert parsed.page_at(parsed.text.index("Payment")) == 1
    assert parsed.page_at(parsed.text.index("MUTUAL")) == 2


def test_a_document_asks_for_its_scans_ocr_languages_among_those_the_deployment_reads(
    celery_worker, api_a: Api
):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import override_settings

    def upload(name: str, **metadata: str):
        files = {"file": SimpleUploadedFile(name, german_scan(), content_type="image/png")}
        fields = {f"metadata[{key}]": value for key, value in metadata.items()}
        return api_a.client.post("/v1/documents", {**files, **fields}, **api_a._headers(None))

    with override_settings(QUIRE_INGEST_OCR_LANGUAGES="eng+deu"):
        for bad in ("fra", "German", "deu+"):
            refused = upload("bad.png", ocr_languages=bad)
            assert refused.status_code == 400, refused.content
            error = refused.json()["error"]
            assert error["param"] == "metadata.ocr_languages" and "eng, deu" in error["message"], error
        created = upload("vertrag.png", ocr_languages="deu+eng")
        assert created.status_code == 201, created.content
        document_id = created.json()["id"]
        patched = api_a.post(f"/v1/documents/{document_id}", {"metadata": {"ocr_languages": "spa"}})
        assert patched.status_code == 400 and patched.json()["error"]["param"] == "metadata.ocr_languages"
    ready(api_a, document_id)
    text = api_a.get(f"/v1/documents/{document_id}/text").json()["text"]
    assert {"Kündigungsfrist", "beträgt", "München"} <= words(text), text


def test_a_page_that_reads_as_no_word_at_all_is_not_read_again_turned(monkeypatch):
    from quire.documents import ocr

    def turned(*args):
        raise AssertionError("a page without a word was read again turned")

    monkeypatch.setattr(ocr, "_orientation", turned)
    photo = Image.new("L", (800, 600), 230)
    ImageDraw.Draw(photo).ellipse((200, 150, 600, 450), fill=90)
    with pytest.raises(ParseError, match="no text"):
        parse_document(saved(photo, "JPEG"), JPEG)
    assert "Delaware" in parse_document(saved(page(LINES), "PNG"), PNG).text


def test_a_documents_metadata_asks_for_its_pictures_beside_its_text(celery_worker, api_a: Api):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from quire.documents.sniffing import DOCX

    typed = "The parties attach the signed order form as Exhibit B and agree to its terms in full."
    content = docx_of([typed, saved(page(SCANNED), "PNG")])
    refused = api_a.client.post(
        "/v1/documents",
        {"file": SimpleUploadedFile("order.docx", content, DOCX), "metadata[ocr_pictures]": "sometimes"},
        **api_a._headers(None),
    )
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "metadata.ocr_pictures"
    assert "textless, always, never" in refused.json()["error"]["message"]
    created = api_a.client.post(
        "/v1/documents",
        {"file": SimpleUploadedFile("order.docx", content, DOCX), "metadata[ocr_pictures]": "always"},
        **api_a._headers(None),
    )
    assert created.status_code == 201, created.content
    document = ready(api_a, created.json()["id"])
    text = api_a.get(f"/v1/documents/{document['id']}/text").json()["text"]
    assert "Exhibit B" in text and "State of Delaware" in text, text
    assert document["ocr_pages"] == [1], document


def test_a_workspace_reads_its_pictures_beside_text_unless_a_document_says_otherwise(
    celery_worker, api_a: Api, tenant_a
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from quire.documents.sniffing import DOCX
    from tenants.services import tenant_settings_update

    def read(name: str, typed: str, **metadata: str) -> str:
        content = docx_of([typed, saved(page(SCANNED), "PNG")])
        fields = {f"metadata[{key}]": value for key, value in metadata.items()}
        files = {"file": SimpleUploadedFile(name, content, DOCX)}
        created = api_a.client.post("/v1/documents", {**files, **fields}, **api_a._headers(None))
        assert created.status_code == 201, created.content
        ready(api_a, created.json()["id"])
        return api_a.get(f"/v1/documents/{created.json()['id']}/text").json()["text"]

    tenant_settings_update(tenant=tenant_a.tenant, ocr_pictures="always")
    try:
        beside = read(
            "memo.docx",
            "The workspace reads the scanned schedule attached to this memorandum below, although the "
            "memorandum has more than twenty words of its own text.",
        )
        own = read(
            "note.docx",
            "This note's own setting leaves the scanned schedule attached below unread by OCR, since the "
            "note has more than twenty words of its own text.",
            ocr_pictures="textless",
        )
    finally:
        tenant_settings_update(tenant=tenant_a.tenant, ocr_pictures="")
    assert "State of Delaware" in beside, beside
    assert "Delaware" not in own, own


def test_an_emails_scanned_attachment_is_read_in_the_emails_ocr_languages(celery_worker, api_a: Api):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import override_settings

    from tests.support.documents import make_eml

    email = make_eml(
        "Signed contract", "The signed copy is attached.", [("vertrag.png", german_scan(), "image/png")]
    )
    upload = SimpleUploadedFile("signed.eml", email, content_type="message/rfc822")
    with override_settings(QUIRE_INGEST_OCR_LANGUAGES="eng+deu"):
        created = api_a.client.post(
            "/v1/documents", {"file": upload, "metadata[ocr_languages]": "deu+eng"}, **api_a._headers(None)
        )
    assert created.status_code == 201, created.content
    email_id = created.json()["id"]
    ready(api_a, email_id)
    [attachment] = api_a.get(f"/v1/documents/{email_id}").json()["attachments"]
    document = ready(api_a, attachment["document_id"])
    assert document["metadata"] == {"ocr_languages": "deu+eng"}
    text = api_a.get(f"/v1/documents/{attachment['document_id']}/text").json()["text"]
    assert {"Kündigungsfrist", "beträgt", "München"} <= words(text), text


def test_a_workspaces_ocr_languages_read_its_scans_unless_a_document_names_its_own(
    celery_worker, api_a: Api, tenant_a
):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import override_settings

    from common.refusals import Refusal
    from tenants.services import tenant_settings_update

    def read(name: str, content: bytes, **metadata: str) -> str:
        files = {"file": SimpleUploadedFile(name, content, content_type="image/png")}
        fields = {f"metadata[{key}]": value for key, value in metadata.items()}
        created = api_a.client.post("/v1/documents", {**files, **fields}, **api_a._headers(None))
        assert created.status_code == 201, created.content
        ready(api_a, created.json()["id"])
        return api_a.get(f"/v1/documents/{created.json()['id']}/text").json()["text"]

    scan = german_scan()
    with override_settings(QUIRE_INGEST_OCR_LANGUAGES="eng+deu"):
        with pytest.raises(Refusal, match="eng, deu"):
            tenant_settings_update(tenant=tenant_a.tenant, ocr_languages="fra")
        tenant_settings_update(tenant=tenant_a.tenant, ocr_languages="deu+eng")
        try:
            # Bytes of their own (the page at another declared resolution): other tests store `german_scan()`.
            german = read("vertrag.png", saved(Image.open(io.BytesIO(scan)), "PNG", dpi=(199, 199)))
            # The same page once more, asking for English alone.
            english = read(
                "contract.png",
                saved(Image.open(io.BytesIO(scan)), "PNG", dpi=(201, 201)),
                ocr_languages="eng",
            )
        finally:
            tenant_settings_update(tenant=tenant_a.tenant, ocr_languages="")
    assert {"Kündigungsfrist", "beträgt", "München"} <= words(german), german
    assert "Kündigungsfrist" not in english and "Bundesrepublik" in english


def test_an_image_whose_header_claims_more_pixels_than_pillow_decodes_is_refused_by_its_size():
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 20_000, 20_000, 8, 0, 0, 0, 0)  # 400 million grey pixels, none sent
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")
    for limits in (IngestLimits(), IngestLimits(max_ocr_pixels=200_000_000)):
        with pytest.raises(DocumentOverLimit, match="pixels"):
            sniff_content_type(bomb, limits=limits)
    with pytest.raises(DocumentOverLimit, match="more than Quire decodes"):
        sniff_content_type(bomb, limits=IngestLimits(max_ocr_pixels=200_000_000))
