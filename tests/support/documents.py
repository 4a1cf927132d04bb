"""Small documents of every supported type, built in the test run."""

from __future__ import annotations

import io
import json


def make_pdf(pages: list[str]) -> bytes:
    """A minimal PDF with one text line per page (Helvetica), enough for pypdf's text extraction."""
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    font_ref = 3 + 2 * len(pages)
    for i, text in enumerate(pages):
        content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font_ref} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def make_docx(paragraphs: list[str]) -> bytes:
    import docx

    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_transcript() -> bytes:
    turns = [
        {"section": "prepared_remarks", "speaker": "Operator", "text": "Welcome to the third quarter call."},
        {"section": "prepared_remarks", "speaker": "Jane Doe", "text": "Revenue rose 12% to $1.2 billion."},
        {"section": "qa", "speaker": "Sam Lee", "text": "How do you see margins next year?"},
        {"section": "qa", "speaker": "Jane Doe", "text": "We expect gross margin of about 40%."},
    ]
    return json.dumps({"turns": turns}).encode()


CONTRACT = """MUTUAL NON-DISCLOSURE AGREEMENT

This Mutual Non-Disclosure Agreement (the "Agreement") is entered into as of March 12, 2019 (the "Effective Date") by and between Acme Corp, a Delaware corporation ("Acme"), and Beta LLC, a New York limited liability company ("Beta").

1. Term. This Agreement shall remain in effect for a period of five (5) years from the Effective Date and shall automatically renew for successive one (1) year terms unless either party gives written notice of non-renewal at least ninety (90) days before the end of the then-current term.

2. Governing Law. This Agreement shall be governed by and construed in accordance with the laws of the State of Delaware, without regard to its conflict of laws principles.

3. Non-Solicitation. During the term of this Agreement and for one year thereafter, neither party shall solicit for employment any employee of the other party.

4. Limitation of Liability. In no event shall either party's aggregate liability under this Agreement exceed one hundred thousand dollars ($100,000).

5. Assignment. Neither party may assign this Agreement without the prior written consent of the other party.
"""


def make_layout_pdf(
    pages: list[tuple[list[tuple[float, float, str]], list[tuple[float, float, float, float]]]],
) -> bytes:
    """A PDF whose pages each hold Helvetica text at (x, y) and ruled lines (x0, y0, x1, y1), in PDF points
    from the bottom-left corner: enough for pdfplumber to find a table drawn with rules."""
    count = len(pages)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(count))
    font = 3 + 2 * count
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
    ]
    for i, (texts, rules) in enumerate(pages):
        ops = [f"{x0} {y0} m {x1} {y1} l S" for x0, y0, x1, y1 in rules]
        ops += [f"BT /F1 10 Tf {x} {y} Td ({text}) Tj ET" for x, y, text in texts]
        content = "\n".join(ops).encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    return _pdf_file(objects)


def _pdf_file(objects: list[bytes]) -> bytes:
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def make_form_pdf(label: str, value: str, *, appearance: str | None, viewer_draws: bool = True) -> bytes:
    """A one-page PDF form: `label` as page text and beside it a text field filled with `value`, its
    appearance stream drawing `appearance` (the value, or a placeholder where the field is empty), or without
    one; `viewer_draws` asks the viewer to draw the fields again (`/NeedAppearances true`)."""
    text = f"BT /F1 12 Tf 72 700 Td ({label}) Tj ET".encode()
    drawn = f"/Tx BMC BT /F1 12 Tf 2 4 Td ({appearance}) Tj ET EMC".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] /NeedAppearances %s "
        b"/DA (/F1 0 Tf 0 g) /DR << /Font << /F1 4 0 R >> >> >> >>" % (b"true" if viewer_draws else b"false"),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 6 0 R "
        b"/Resources << /Font << /F1 4 0 R >> >> /Annots [5 0 R] >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Type /Annot /Subtype /Widget /FT /Tx /T (field) /V ({value}) /Rect [170 695 400 712] /P 3 0 R "
        f"/DA (/F1 12 Tf 0 g) /F 4{' /AP << /N 7 0 R >>' if appearance is not None else ''} >>".encode(),
        b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream",
    ]
    if appearance is not None:
        objects.append(
            b"<< /Type /XObject /Subtype /Form /BBox [0 0 230 17] /Resources << /Font << /F1 4 0 R >> >> "
            b"/Length %d >>\nstream\n" % len(drawn) + drawn + b"\nendstream"
        )
    return _pdf_file(objects)


def table_page(title: str, rows: list[list[str]]):
    """A page's text and rules: a title line above a table ruled into cells, 120 points a column, 20 a row."""
    left, top, width, height = 72, 700, 120, 20
    columns = max(len(row) for row in rows)
    bottom, right = top - height * len(rows), left + width * columns
    rules = [(left, top - height * i, right, top - height * i) for i in range(len(rows) + 1)]
    rules += [(left + width * i, top, left + width * i, bottom) for i in range(columns + 1)]
    texts = [(left, top + 30, title)]
    texts += [
        (left + width * c + 4, top - height * r - 14, cell)
        for r, row in enumerate(rows)
        for c, cell in enumerate(row)
    ]
    return texts, rules


def make_table_pdf(title: str, rows: list[list[str]]) -> bytes:
    return make_layout_pdf([table_page(title, rows)])


def make_scanned_pdf(
    lines: list[str], *, width: int = 1100, dpi: int = 150, turned: float = 0, spacing: int = 1
) -> bytes:
    """An image-only PDF (no text layer): `lines` drawn with Pillow at 24 px, 40 px apart times `spacing`
    (2: double spacing), one page at `dpi`, the image turned `turned` degrees counter-clockwise (a page fed
    into the scanner askew or sideways)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=24)
    step = 40 * spacing
    image = Image.new("L", (width, 60 + step * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(lines):
        draw.text((30, 30 + step * index), line, fill=0, font=font)
    if turned:
        image = image.rotate(turned, expand=True, fillcolor=255, resample=Image.Resampling.BICUBIC)
    out = io.BytesIO()
    image.save(out, "PDF", resolution=dpi)
    return out.getvalue()


def make_xlsx(sheets: dict[str, list[list[object]]]) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def make_pptx(slides: list[tuple[str, str, str]]) -> bytes:
    """Slides of (title, body, notes)."""
    import pptx

    presentation = pptx.Presentation()
    for title, body, notes in slides:
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
        slide.notes_slide.notes_text_frame.text = notes
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


def make_eml(subject: str, body: str, attachments: list[tuple[str, bytes, str]]) -> bytes:
    """An e-mail with attachments of (filename, bytes, MIME type)."""
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "Dana Seller <dana@seller.example>"
    message["To"] = "deals@buyer.example"
    message["Subject"] = subject
    message["Date"] = "Tue, 01 Dec 2026 10:00:00 +0000"
    message.set_content(body)
    for filename, data, mime in attachments:
        maintype, subtype = mime.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


def make_mbox(messages: list[bytes]) -> bytes:
    """An mbox as Python's `mailbox` writes one (the mboxo form: a `From MAILER-DAEMON <asctime>` envelope line
    before each message, a body line starting `From ` quoted as `>From `)."""
    import mailbox
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "box.mbox"
        box = mailbox.mbox(path)
        for message in messages:
            box.add(message)
        box.flush()
        box.close()
        return path.read_bytes()


def make_zip(files: dict[str, bytes]) -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def make_tnef(
    attachments: list[tuple[str, bytes]], *, body: str | None = None, rtf: bytes | None = None
) -> bytes:
    """A TNEF wrapper as Outlook sends it (`winmail.dat`; written by hand, since TNEF readers do not write
    it): code page 1252, a plain body (`attBody`) and an RTF one (`PR_RTF_COMPRESSED` in `attMAPIProps`, given
    uncompressed) if given, then each attachment's rendering, title and data."""
    import struct

    def attribute(level: int, kind: int, name: int, data: bytes) -> bytes:
        checksum = sum(data) & 0xFFFF
        return struct.pack("<BHHI", level, name, kind, len(data)) + data + struct.pack("<H", checksum)

    out = struct.pack("<IH", 0x223E9F78, 0x0001)
    out += attribute(1, 0x0008, 0x9006, struct.pack("<I", 0x00010000))
    out += attribute(1, 0x0006, 0x9007, struct.pack("<II", 1252, 0))
    if body is not None:
        out += attribute(1, 0x0002, 0x800C, body.encode("cp1252"))
    if rtf is not None:
        import compressed_rtf

        packed = compressed_rtf.compress(rtf)
        padded = packed + bytes(-len(packed) % 4)
        properties = struct.pack("<IHHII", 1, 0x0102, 0x1009, 1, len(packed)) + padded
        out += attribute(1, 0x0006, 0x9003, properties)
    for filename, data in attachments:
        out += attribute(2, 0x0006, 0x9002, bytes(14))
        out += attribute(2, 0x0001, 0x8010, filename.encode("cp1252") + b"\x00")
        out += attribute(2, 0x0006, 0x800F, data)
    return out


def make_msg(
    subject: str,
    body: str | None,
    attachments: list[tuple[str, bytes]],
    *,
    html: bytes | None = None,
    rtf: bytes | None = None,
    message_class: str = "IPM.Note",
) -> bytes:
    """An Outlook message (an OLE compound file of MAPI property streams, written with extract-msg's
    `OleWriter`, since extract-msg reads messages but does not compose them): sender, one To recipient,
    subject, plain body (none for None), an HTML body (`PR_HTML`) and an RTF body (`PR_RTF_COMPRESSED`, given
    uncompressed) if given, and attachments by value of (filename, bytes)."""
    import struct

    from extract_msg.ole_writer import OleWriter

    def unicode(value: str) -> bytes:
        return value.encode("utf-16-le")

    def integer(tag: int, value: int) -> bytes:
        return struct.pack("<IIQ", tag, 0x6, value)

    writer = OleWriter()
    count = len(attachments)
    writer.addEntry("__properties_version1.0", struct.pack("<8xIIII8x", 1, count, 1, count))
    recipient = "__recip_version1.0_#00000000"
    writer.addEntry(recipient, storage=True)
    writer.addEntry(f"{recipient}/__properties_version1.0", bytes(8) + integer(0x0C150003, 1))
    writer.addEntry(f"{recipient}/__substg1.0_3001001F", unicode("Deals Desk"))
    writer.addEntry(f"{recipient}/__substg1.0_39FE001F", unicode("deals@buyer.example"))
    writer.addEntry("__nameid_version1.0", storage=True)
    for stream in ("00020102", "00030102", "00040102"):
        writer.addEntry(f"__nameid_version1.0/__substg1.0_{stream}", b"")
    for tag, value in (
        ("001A001F", message_class),
        ("0037001F", subject),
        ("1000001F", body),
        ("0C1A001F", "Dana Seller"),
        ("0C1F001F", "dana@seller.example"),
        ("0E04001F", "deals@buyer.example"),
    ):
        if value is not None:
            writer.addEntry(f"__substg1.0_{tag}", unicode(value))
    if html is not None:
        writer.addEntry("__substg1.0_10130102", html)
    if rtf is not None:
        import compressed_rtf

        writer.addEntry("__substg1.0_10090102", compressed_rtf.compress(rtf))
    for index, (filename, data) in enumerate(attachments):
        folder = f"__attach_version1.0_#{index:08X}"
        writer.addEntry(folder, storage=True)
        properties = integer(0x37050003, 1) + integer(0x0E200003, len(data))
        writer.addEntry(f"{folder}/__properties_version1.0", bytes(8) + properties)
        writer.addEntry(f"{folder}/__substg1.0_3707001F", unicode(filename))
        writer.addEntry(f"{folder}/__substg1.0_3704001F", unicode(filename[:12]))
        writer.addEntry(f"{folder}/__substg1.0_37010102", data)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def stored_rows(count: int, status: str) -> list:
    """`count` document rows of the current schema with no file or text (`d<n>.txt`), for tests of lists and
    lookups that read rows only."""
    from quire.documents.models import Document

    return Document.objects.bulk_create(
        Document(
            filename=f"d{n}.txt", content_type="text/plain", sha256=f"{n:064d}", size_bytes=1, status=status
        )
        for n in range(count)
    )


def stored_upload(content: bytes, filename: str, content_type: str, **fields):
    """A document row of the current schema with its bytes stored as an upload stores them, its ingest not
    queued (no worker of the session takes it): `fields` are the row's others (`status`, `failure_reason`)."""
    import hashlib

    from django.core.files.base import ContentFile

    from quire.documents.models import Document

    digest = hashlib.sha256(content).hexdigest()
    document = Document(
        filename=filename, content_type=content_type, sha256=digest, size_bytes=len(content), **fields
    )
    document.file.save(digest, ContentFile(content), save=False)
    document.save()
    return document


def stored_pdf(
    content: bytes, filename: str = "results.pdf", *, layout: bool = False, content_type: str | None = None
):
    """A ready PDF document (or one of `content_type`: a scanned image) of the current schema, its file stored
    and its text parsed from `content` (with its layout and tables when `layout`); the document and the
    parse."""
    import hashlib

    from django.core.files.base import ContentFile

    from quire.documents.models import Document, DocumentStatus
    from quire.documents.parsing import parse_document
    from quire.documents.sniffing import PDF

    content_type = content_type or PDF
    parsed = parse_document(content, content_type)
    document = Document(
        filename=filename,
        content_type=content_type,
        sha256=hashlib.sha256(content).hexdigest(),
        size_bytes=len(content),
        status=DocumentStatus.READY,
        text=parsed.text,
        page_starts=parsed.page_starts,
        **({"layout": parsed.layout, "tables": parsed.tables} if layout else {}),
    )
    document.file.save(document.sha256, ContentFile(content), save=False)
    document.save()
    return document, parsed


def make_doc(
    body: str,
    *,
    footnotes: str = "",
    endnotes: str = "",
    text_boxes: str = "",
    page_stories: list[str] | None = None,
    title_pages: tuple[bool, ...] = (False,),
    facing_pages: bool = False,
    formatted: tuple[tuple[int, ...], ...] = (),
    styles: tuple[tuple[str, int, int, int | None], ...] = (),
    paragraph_styles: tuple[tuple[int, ...], ...] = (),
    box_stories: tuple[tuple[int, int | None], ...] = (),
    unicode_from: int | None = None,
    table_stream: str = "1Table",
    nfib: int = 0x00C1,
    flags: int = 0x0200,
    ident: int = 0xA5EC,
    objects: dict[int, list[tuple[str, bytes]]] | None = None,
    data_stream: bytes | None = None,
    floating: tuple[tuple[int, bytes], ...] = (),
) -> bytes:
    """A Word 97-2003 document ([MS-DOC], written as an OLE file with extract-msg's `OleWriter`): a FIB with the
    stories' character counts and the places of the `Clx`, the sections, the header stories and the document
    properties; the text after it, then each section's properties; and a table stream holding a `Prc`, the
    piece table, the `PlcfHdd`, the `PlcfSed` and the `Dop`. The text is one 8-bit (Windows-1252) piece, or,
    from character `unicode_from` on, a second piece in UTF-16. Stories follow Word's order: body, footnotes,
    headers, comments, endnotes, text boxes; each ends with its own paragraph mark. `page_stories` are the
    header document's stories in `PlcfHdd`'s order (six separators, then six per section: even header, odd
    header, even footer, odd footer, first header, first footer), each ending with a paragraph mark or empty;
    `title_pages` says, per section, whether it has a title page, and `facing_pages` sets the `Dop`'s
    fFacingPages. `formatted` sets a character property (`start`, `end`, sprm, operand: 1 unless given, two
    bytes for a sprm whose operand is a word) on characters `start` to `end` of the text: one FKP page of runs
    after the sections' properties, named by the `PlcBteChpx`. `styles` is the style sheet (`STSH`), a style
    per index: (name, kind: 1 paragraph or 2 character, the index it is based on (0x0FFF none), its
    `sprmCFVanish` operand or None); `paragraph_styles` gives characters `start` to `end` a paragraph style
    index (and, with a fourth and fifth item true, `sprmPFInTable` and `sprmPFTtp`), on a paragraph formatting
    FKP page after the character one, named by the `PlcBtePapx`. `box_stories` splits `text_boxes` into
    stories, (length, the CP of its shape's anchor in the body or None), written to the `PlcftxbxTxt` (shape
    ids 1000 on) and the anchored ones' shapes to the `PlcSpaMom`. `objects` are the embedded objects' storages
    under `ObjectPool` (`_<number>`: its streams), the number a character's `sprmCPicLocation` names;
    `data_stream` the Data stream, where a picture's `sprmCPicLocation` names an offset (`doc_picture`).
    `floating` are pictures the body anchors, (the CP of its anchor, PNG bytes): each a shape (ids 2000 on) in
    the `PlcSpaMom` and in the main text's drawing (`OfficeArtContent`, after the drawing group whose blip store
    names each blip's place in the WordDocument stream, where it follows the formatting pages)."""
    import itertools
    import struct

    headers = "".join(page_stories) + "\r" if page_stories is not None else ""
    text = body + footnotes + headers + endnotes + text_boxes
    split = len(text) if unicode_from is None else unicode_from
    fib_size = 32 + 2 + 28 + 2 + 88 + 2 + 8 * 93
    eight_bit = text[:split].encode("cp1252")
    wide = text[split:].encode("utf-16-le")
    first_offset = fib_size
    second_offset = first_offset + len(eight_bit)
    pieces = [(0, split, (first_offset * 2) | 0x40000000)]
    if split < len(text):
        pieces.append((split, len(text), second_offset))
    cps = [piece[0] for piece in pieces] + [len(text)]
    plc = struct.pack(f"<{len(cps)}I", *cps) + b"".join(struct.pack("<HIH", 0, fc, 0) for _, _, fc in pieces)
    clx = b"\x01" + struct.pack("<h", 3) + b"\x00\x00\x00" + b"\x02" + struct.pack("<I", len(plc)) + plc
    lw = [0] * 22
    lw[3], lw[4], lw[5], lw[8], lw[9] = map(len, (body, footnotes, headers, endnotes, text_boxes))
    hdd = b""
    if page_stories is not None:
        hdd = struct.pack(
            f"<{len(page_stories) + 2}I", 0, *itertools.accumulate(map(len, page_stories)), len(headers)
        )
    sections_from = fib_size + len(eight_bit) + len(wide)
    sepx = [b"\x0a\x30\x01" if title else b"" for title in title_pages]
    sepx_at = list(itertools.accumulate((2 + len(p) for p in sepx), initial=sections_from))
    sed = struct.pack(f"<{len(title_pages) + 1}I", *[0] * len(title_pages), len(body)) + b"".join(
        struct.pack("<HiHI", 0, at, 0, 0) for at in sepx_at[:-1]
    )
    dop = bytes([0x22 | int(facing_pages)]) + bytes(499)

    def fc_of(cp: int) -> int:
        return first_offset + cp if cp <= split else second_offset + 2 * (cp - split)

    bounds = sorted({0, len(text), *(cp for start, end, *_ in formatted for cp in (start, end))})
    runs = list(itertools.pairwise(bounds))
    page = bytearray(512)
    page[-1] = len(runs)
    struct.pack_into(f"<{len(runs) + 1}I", page, 0, *map(fc_of, bounds))
    at = 508
    for index, (start, end) in enumerate(runs):
        sprms = [(sprm, *operand) for low, high, sprm, *operand in formatted if low <= start and end <= high]
        if sprms:
            grpprl = b"".join(
                struct.pack({2: "<HH", 3: "<HI"}.get(sprm >> 13, "<HB"), sprm, operand[0] if operand else 1)
                for sprm, *operand in sprms
            )
            at -= (len(grpprl) + 2) & ~1
            page[at : at + 1 + len(grpprl)] = bytes([len(grpprl)]) + grpprl
            page[4 * (len(runs) + 1) + index] = at // 2
    sections = b"".join(struct.pack("<H", len(p)) + p for p in sepx)
    fkp_at = -(-(sections_from + len(sections)) // 512) * 512
    chpx = struct.pack("<3I", fc_of(0), fc_of(len(text)), fkp_at // 512)
    paragraph_page = bytearray(512)
    if paragraph_styles:
        paragraph_page[-1] = len(paragraph_styles)
        struct.pack_into(
            f"<{len(paragraph_styles) + 1}I",
            paragraph_page,
            0,
            *(fc_of(start) for start, *_ in paragraph_styles),
            fc_of(paragraph_styles[-1][1]),
        )
        for index, (_, _, istd, *table_marks) in enumerate(paragraph_styles):
            at = 496 - 8 * index
            grpprl = b"".join(
                struct.pack("<HB", sprm, 1)
                for sprm, on in zip((0x2416, 0x2417), table_marks, strict=False)
                if on
            )
            papx = struct.pack("<H", istd) + grpprl
            papx += bytes(len(papx) % 2)
            paragraph_page[at : at + 2 + len(papx)] = bytes([0, len(papx) // 2]) + papx
            paragraph_page[4 * (len(paragraph_styles) + 1) + 13 * index] = at // 2
    papx = struct.pack("<3I", fc_of(0), fc_of(len(text)), fkp_at // 512 + 1) if paragraph_styles else b""
    stsh = b""
    if styles:
        stds = []
        for name, kind, base, vanish in styles:
            character = struct.pack("<HB", 0x083C, vanish) if vanish is not None else b""
            upxs = [struct.pack("<H", 0), character] if kind == 1 else [character]
            lpupxs = b"".join(struct.pack("<H", len(upx)) + upx + bytes(len(upx) % 2) for upx in upxs)
            std = (
                struct.pack("<HHHHH", 0x0FFE, kind | base << 4, len(upxs) | 0x0FFF << 4, 0, 0)
                + struct.pack("<H", len(name))
                + name.encode("utf-16-le")
                + b"\0\0"
                + lpupxs
            )
            stds.append(struct.pack("<H", len(std)) + std)
        stsh = struct.pack("<HHHH", 18, len(styles), 10, 1) + bytes(12) + b"".join(stds)
    txbx = spa = b""
    if box_stories:
        ends = list(itertools.accumulate(length for length, _ in box_stories))
        txbx = (
            struct.pack(f"<{len(box_stories) + 2}I", 0, *ends, ends[-1] + 1)
            + b"".join(
                struct.pack("<iiHiii", 1, 0, 0, 0, 1000 + index, 0) for index in range(len(box_stories))
            )
            + struct.pack("<iiHiii", 0, 0, 0, 0, 0, 0)
        )
    shapes = sorted(
        [(anchor, 1000 + index) for index, (_, anchor) in enumerate(box_stories) if anchor is not None]
        + [(anchor, 2000 + index) for index, (anchor, _) in enumerate(floating)]
    )
    if shapes:
        spa = struct.pack(f"<{len(shapes) + 1}I", *(anchor for anchor, _ in shapes), len(body)) + b"".join(
            struct.pack("<i", shape) + bytes(22) for _, shape in shapes
        )

    def art(kind: int, body: bytes, instance: int = 0, container: bool = False) -> bytes:
        return struct.pack("<HHI", instance << 4 | (0xF if container else 0), kind, len(body)) + body

    dgg = blips = b""
    if floating:
        blips_at, store, drawn = fkp_at + 512 * (2 if paragraph_styles else 1), b"", b""
        for index, (_, image) in enumerate(floating):
            blip = art(0xF01E, bytes(16) + b"\xff" + image, instance=0x6E0)
            fixed = (len(blip), 1, blips_at + len(blips), 0, 0, 0, 0)
            store += art(0xF007, struct.pack("<BB16sHIIIBBBB", 6, 6, bytes(16), 0, *fixed), instance=6)
            blips += blip
            properties = art(0xF00B, struct.pack("<HI", 0x4104, index + 1), instance=1)
            shape = art(0xF00A, struct.pack("<II", 2000 + index, 0), instance=75) + properties
            drawn += art(0xF004, shape, container=True)
        group = art(0xF000, art(0xF001, store, instance=len(floating), container=True), container=True)
        dgg = group + b"\x00" + art(0xF002, art(0xF003, drawn, container=True), container=True)
    pairs = [0] * (93 * 2)
    position = 16
    # The table stream's structures in the order they are written, each by its FIB pair.
    structures = (
        (33, clx), (11, hdd), (6, sed), (31, dop), (12, chpx), (13, papx), (1, stsh), (56, txbx), (40, spa),
        (50, dgg),
    )  # fmt: skip
    for index, data in structures:
        pairs[index * 2], pairs[index * 2 + 1] = position, len(data)
        position += len(data)
    fib = (
        struct.pack("<HHHHHHH", ident, nfib, 0, 0x0409, 0, flags, 0xBF)
        + bytes(18)
        + struct.pack("<H", 14)
        + bytes(28)
        + struct.pack("<H", 22)
        + struct.pack("<22i", *lw)
        + struct.pack("<H", 93)
        + struct.pack(f"<{93 * 2}I", *pairs)
    )
    assert len(fib) == fib_size
    stream = (fib + eight_bit + wide + sections).ljust(fkp_at, b"\0") + bytes(page)
    if paragraph_styles:
        stream += bytes(paragraph_page)
    stream += blips
    table = bytes(16) + b"".join(data for _, data in structures)
    pool = [
        (f"ObjectPool/_{number}/{name}", data)
        for number, streams in (objects or {}).items()
        for name, data in streams
    ]
    streams = [("WordDocument", stream), (table_stream, table), *pool]
    return make_ole(streams + ([("Data", data_stream)] if data_stream is not None else []))


def doc_picture(image: bytes, *, blip: int = 0xF01E, instance: int = 0x6E0) -> bytes:
    """A picture as Word 97-2003 keeps an inline one in its Data stream ([MS-DOC] PICFAndOfficeArtData): a PICF
    of 68 bytes (its size first, `mfpf.mm` 0x64), the shape's container (OfficeArtSpContainer, empty here),
    then a file record (FBSE) holding the blip: a PNG's by default (two UIDs where `instance` is odd)."""
    import struct

    uids = bytes(16 * (1 + (instance & 1)))
    blip_record = (
        struct.pack("<HHI", instance << 4, blip, len(uids) + 1 + len(image)) + uids + b"\xff" + image
    )
    fbse = struct.pack("<HHI", 0x0062, 0xF007, 36 + len(blip_record)) + bytes(36) + blip_record
    shape = struct.pack("<HHI", 0x000F, 0xF004, 0)
    picf = struct.pack("<IHH", 68 + len(shape) + len(fbse), 68, 0x64).ljust(68, b"\0")
    return picf + shape + fbse


def make_ole(entries: list[tuple[str, bytes | None]]) -> bytes:
    """An OLE compound file (extract-msg's `OleWriter`) of these entries in order: a path (`/` between
    storages) with its stream's bytes, or with None for a storage."""
    from extract_msg.ole_writer import OleWriter

    writer = OleWriter()
    for name, data in entries:
        if data is None:
            writer.addEntry(name, storage=True)
        else:
            writer.addEntry(name, data)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


ODF_NAMESPACES = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" '
    'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
    'xmlns:xlink="http://www.w3.org/1999/xlink" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/"'
)


def make_odt(
    body: str, *, automatic_styles: str = "", master_pages: str | None = None, styles: str | None = None
) -> bytes:
    """An OpenDocument text file as LibreOffice writes one: `mimetype` first and stored, then `content.xml`
    whose `office:automatic-styles` hold `automatic_styles` and whose `office:text` holds `body` (ODF markup
    with the office, style, text, table, draw, presentation, svg, xlink and dc prefixes), `styles.xml` whose
    `office:styles` hold `styles` and whose `office:master-styles` hold `master_pages` (where either is given),
    and the manifest."""
    return _opendocument("text", body, automatic_styles, master_pages, styles)


def make_ods(sheets: str, *, automatic_styles: str = "") -> bytes:
    """An OpenDocument spreadsheet whose `office:spreadsheet` holds `sheets` (`table:table` markup) and whose
    `office:automatic-styles` hold `automatic_styles`."""
    return _opendocument("spreadsheet", sheets, automatic_styles)


def make_odp(slides: str, *, master_pages: str | None = None, automatic_styles: str = "") -> bytes:
    """An OpenDocument presentation whose `office:presentation` holds `slides` (`draw:page` markup) and whose
    `office:automatic-styles` hold `automatic_styles`, with `styles.xml`'s `office:master-styles` holding
    `master_pages` where they are given."""
    return _opendocument("presentation", slides, automatic_styles, master_pages=master_pages)


def _opendocument(
    kind: str,
    body: str,
    automatic_styles: str = "",
    master_pages: str | None = None,
    styles: str | None = None,
) -> bytes:
    import zipfile

    media_type = f"application/vnd.oasis.opendocument.{kind}"
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ODF_NAMESPACES} office:version="1.3">'
        f"<office:automatic-styles>{automatic_styles}</office:automatic-styles>"
        f"<office:body><office:{kind}>{body}</office:{kind}></office:body></office:document-content>"
    )
    styles = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-styles {ODF_NAMESPACES} office:version="1.3">'
        f"<office:styles>{styles or ''}</office:styles>"
        f"<office:master-styles>{master_pages or ''}</office:master-styles></office:document-styles>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">'
        f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{media_type}"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", media_type, zipfile.ZIP_STORED)
        archive.writestr("content.xml", content.encode(), zipfile.ZIP_DEFLATED)
        if master_pages is not None or styles is not None:
            archive.writestr("styles.xml", styles.encode(), zipfile.ZIP_DEFLATED)
        archive.writestr("META-INF/manifest.xml", manifest.encode(), zipfile.ZIP_DEFLATED)
    return out.getvalue()


def make_ppt(slides: list[dict], *, revised: dict[int, dict] | None = None, encrypted: bool = False) -> bytes:
    """A PowerPoint 97-2003 presentation ([MS-PPT]) as PowerPoint saves one: the `PowerPoint Document` stream
    holds each slide's container (its `SlideAtom` naming its notes slide, and a drawing of shapes whose client
    text boxes hold text or name a placeholder text), each notes slide's, the document container with its slide
    lists, a persist directory and a `UserEditAtom`, which the `Current User` stream names. A slide is
    `{"placeholders": [text, ...], "shapes": [("ref", index) | ("chars", text) | ("bytes", text) | ("picture",
    PNG bytes) | ("kept picture", PNG bytes) | ("table", rows of cell texts)], "notes": text}`: placeholder texts
    go to the slide list after its `SlidePersistAtom` (as `TextCharsAtom`), shapes to its drawing in order; a
    picture's blip to the drawing group's blip store, or, kept, to the `Pictures` stream its file record names;
    a table a group whose own shape has `tableProperties`, its cells shapes anchored by row and column (from the
    last row up), a border a line shape without text; ("object", (OLE file bytes, shown as an icon)) a shape
    naming an embedded object of the document's object list, its storage compressed in an `ExOleObjStg`. `revised` is an incremental save after the first: those slides (by index) written
    again after it, with a persist directory and an edit of their own naming the first."""
    import struct

    def record(kind: int, body: bytes, *, instance: int = 0, container: bool = False) -> bytes:
        return struct.pack("<HHI", instance << 4 | (0xF if container else 0), kind, len(body)) + body

    def text_atoms(text: str, kind: str = "chars", text_type: int = 4) -> bytes:
        atom = (
            record(0x0FA0, text.encode("utf-16-le"))
            if kind == "chars"
            else record(0x0FA8, text.encode("latin-1"))
        )
        return record(0x0F9F, struct.pack("<I", text_type)) + atom

    store, kept = [], b""

    def picture(image: bytes, keep: bool) -> int:
        nonlocal kept
        blip = record(0xF01E, bytes(16) + b"\xff" + image, instance=0x6E0)
        fixed = struct.pack(
            "<BB16sHIIIBBBB", 6, 6, bytes(16), 0, len(blip), 1, len(kept) if keep else 0, 0, 0, 0, 0
        )
        store.append(record(0xF007, fixed + (b"" if keep else blip), instance=6))
        kept += blip if keep else b""
        return len(store)

    def table(rows: list[list[str]]) -> bytes:
        own = record(0xF00A, bytes(8)) + record(0xF122, struct.pack("<HI", 0xC3A0, 0), instance=1)
        shapes = record(0xF004, own, container=True)
        for row, cells in reversed(list(enumerate(rows))):
            for column, text in enumerate(cells):
                anchor = record(
                    0xF00F, struct.pack("<iiii", 100 * column, 50 * row, 100 * column + 90, 50 * row + 40)
                )
                box = record(0xF00D, text_atoms(text), container=True)
                shapes += record(0xF004, record(0xF00A, bytes(8), instance=1) + anchor + box, container=True)
        border = record(0xF00F, struct.pack("<iiii", 0, 0, 100 * len(rows[0]), 0))
        shapes += record(0xF004, record(0xF00A, bytes(8), instance=20) + border, container=True)
        return record(0xF003, shapes, container=True)

    embedded: list[tuple[bytes, bool]] = []

    def drawn(shapes: list[tuple[str, object]], notes_id: int) -> bytes:
        boxes = b""
        for kind, value in shapes:
            if kind == "object":
                embedded.append(value)
                reference = record(0x0BC1, struct.pack("<I", len(embedded)))
                boxes += record(0xF004, record(0xF011, reference, container=True), container=True)
                continue
            if kind == "table":
                boxes += table(value)
                continue
            if kind.endswith("picture"):
                pib = picture(value, kind == "kept picture")
                properties = struct.pack("<HIHI", 0x007F, 0x800080, 0x4104, pib)
                boxes += record(0xF004, record(0xF00B, properties, instance=2), container=True)
                continue
            inside = record(0x0F9E, struct.pack("<I", value)) if kind == "ref" else text_atoms(value, kind)
            boxes += record(0xF004, record(0xF00D, inside, container=True), container=True)
        drawing = record(0xF002, record(0xF003, boxes, container=True), container=True)
        slide_atom = record(0x03EF, struct.pack("<I8sIIHH", 0, bytes(8), 0, notes_id, 0, 0))
        return slide_atom + record(0x040C, drawing, container=True)

    first_slide, count = 2, len(slides)
    notes_ids = {index: 0x100 + index for index, slide in enumerate(slides) if slide.get("notes")}
    stream, offsets = b"", {}
    for index, slide in enumerate(slides):
        offsets[first_slide + index] = len(stream)
        stream += record(0x03EE, drawn(slide.get("shapes", []), notes_ids.get(index, 0)), container=True)
    notes_persist = {index: first_slide + count + n for n, index in enumerate(notes_ids)}
    for persist in notes_persist.values():
        offsets[persist] = len(stream)
        stream += record(0x03F0, drawn([("ref", 0)], 0), container=True)
    slide_list = b"".join(
        record(
            0x03F3,
            struct.pack("<IIiII", first_slide + index, 0, len(slide.get("placeholders", [])), 256 + index, 0),
        )
        + b"".join(text_atoms(text) for text in slide.get("placeholders", []))
        for index, slide in enumerate(slides)
    )
    notes_list = b"".join(
        record(0x03F3, struct.pack("<IIiII", notes_persist[index], 0, 1, notes_ids[index], 0))
        + text_atoms(slides[index]["notes"], text_type=2)
        for index in notes_ids
    )
    import zlib

    objects_from = first_slide + count + len(notes_persist)
    listed_objects = b""
    for number, (data, icon) in enumerate(embedded, 1):
        offsets[objects_from + number] = len(stream)
        stream += record(0x1011, struct.pack("<I", len(data)) + zlib.compress(data), instance=1)
        atom = struct.pack("<IIIIII", 4 if icon else 1, 2, number, 0, objects_from + number, 0)
        listed_objects += record(0x0FCC, record(0x0FC3, atom, instance=1), container=True)
    offsets[1] = len(stream)
    lists = record(0x0FF0, slide_list, instance=0, container=True)
    if listed_objects:
        lists += record(0x0409, listed_objects, container=True)
    if notes_list:
        lists += record(0x0FF0, notes_list, instance=2, container=True)
    if store:
        blips = record(0xF001, b"".join(store), instance=len(store), container=True)
        lists += record(0x040B, record(0xF000, blips, container=True), container=True)
    stream += record(0x03E8, lists, container=True)

    def save(entries: dict[int, int], last_edit: int) -> int:
        nonlocal stream
        directory_at = len(stream)
        directory = b"".join(
            struct.pack("<II", persist | 1 << 20, offset) for persist, offset in sorted(entries.items())
        )
        stream += record(0x1772, directory)
        edit_at = len(stream)
        body = struct.pack("<IHBBIIIIHH", 0, 0, 0, 3, last_edit, directory_at, 1, 0x1000, 1, 0)
        stream += record(0x0FF5, body)
        return edit_at

    current = save(offsets, 0)
    for index, slide in (revised or {}).items():
        offsets = {first_slide + index: len(stream)}
        stream += record(0x03EE, drawn(slide.get("shapes", []), notes_ids.get(index, 0)), container=True)
        current = save(offsets, current)
    token = 0xF3D1C4DF if encrypted else 0xE391C05F
    user = record(0x0FF6, struct.pack("<IIIHHBBH", 0x14, token, current, 0, 0x03F4, 3, 0, 0))
    return make_ole(
        [("Current User", user), ("PowerPoint Document", stream), *([("Pictures", kept)] if kept else [])]
    )
