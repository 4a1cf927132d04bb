"""Office and e-mail formats to text: DOCX (paragraphs and tables in document order), XLSX (each sheet a
page holding one table), PPTX (each slide a page: its text, tables and notes), EML and MSG (headers and
body, an HTML body with its tables; attachments come back to be ingested as documents of their own)."""

from __future__ import annotations

import datetime
import io
from collections.abc import Callable

from quire.documents.layout import LINE, Attachment, ParsedDocument, TextBuilder, add_blocks
from quire.documents.limits import IngestLimits, check_archive_read, check_text

MAIL_HEADERS = ("From", "To", "Cc", "Date", "Subject")


def parse_docx(content: bytes, limits: IngestLimits) -> ParsedDocument:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    check_archive_read(content, limits)
    document = docx.Document(io.BytesIO(content))
    builder = TextBuilder(limits)
    for element in document.element.body.iterchildren():
        limits.check_time()
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "p":
            builder.add(Paragraph(element, document).text)
        elif tag == "tbl":
            builder.table([_docx_row(row) for row in Table(element, document).rows])
    return builder.build()


def _docx_row(row) -> list[str]:
    """The row's cells, a cell merged across columns once."""
    cells, seen = [], None
    for cell in row.cells:
        if cell._tc is not seen:
            cells.append(cell.text)
        seen = cell._tc
    return cells


def parse_xlsx(content: bytes, limits: IngestLimits) -> ParsedDocument:
    import openpyxl

    check_archive_read(content, limits)
    workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    builder = TextBuilder(limits)
    try:
        for sheet in workbook.worksheets:
            builder.new_page()
            builder.add(f"Sheet: {sheet.title}")
            sheet.reset_dimensions()
            rows, chars = [], 0
            for row in sheet.iter_rows(values_only=True):
                limits.check_time()
                cells = [_cell_text(value) for value in row]
                while cells and not cells[-1]:
                    cells.pop()
                chars += sum(len(cell) + 3 for cell in cells)
                check_text(builder.length + chars, limits)
                rows.append(cells)
            builder.table(rows)
    finally:
        workbook.close()
    return builder.build()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        return value.date().isoformat()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def parse_pptx(content: bytes, limits: IngestLimits) -> ParsedDocument:
    import pptx

    check_archive_read(content, limits)
    presentation = pptx.Presentation(io.BytesIO(content))
    builder = TextBuilder(limits)
    for slide in presentation.slides:
        limits.check_time()
        builder.new_page()
        _add_shapes(builder, slide.shapes)
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            if notes is not None and notes.text.strip():
                builder.add(f"Notes: {notes.text}")
    return builder.build()


def _add_shapes(builder: TextBuilder, shapes) -> None:
    from pptx.shapes.group import GroupShape

    for shape in sorted(shapes, key=lambda s: ((s.top or 0), (s.left or 0))):
        if isinstance(shape, GroupShape):
            _add_shapes(builder, shape.shapes)
        elif getattr(shape, "has_table", False) and shape.has_table:
            builder.table([[cell.text for cell in row.cells] for row in shape.table.rows])
        elif shape.has_text_frame:
            builder.add("\n".join(paragraph.text for paragraph in shape.text_frame.paragraphs))


def parse_eml(
    content: bytes, limits: IngestLimits, html_blocks: Callable[[str], list[tuple[str, object]]]
) -> ParsedDocument:
    import email
    import email.policy

    message = email.message_from_bytes(content, policy=email.policy.default)
    body = message.get_body(preferencelist=("html", "plain"))
    blocks: list[tuple[str, object]] = []
    if body is not None:
        text = _body_text(body)
        blocks = html_blocks(text) if body.get_content_type() == "text/html" else [("text", text)]
    attachments = []
    for part in message.iter_attachments():
        limits.check_time()
        if part.get_content_type() == "message/rfc822":
            inner = part.get_content()
            data = inner.as_bytes() if hasattr(inner, "as_bytes") else bytes(inner)
        else:
            data = part.get_payload(decode=True) or b""
        if data:
            attachments.append(Attachment(part.get_filename() or "attachment", data))
    headers = {name: str(message[name]) for name in MAIL_HEADERS if message[name]}
    return _mail(limits, headers, blocks, attachments)


def _body_text(body) -> str:
    """The body part's text in its declared charset; one Python does not know (`unknown-8bit`, a misspelt
    name) is read as UTF-8 if the bytes are UTF-8, else as Latin-1, which takes any byte."""
    try:
        return body.get_content()
    except LookupError:
        payload = body.get_payload(decode=True) or b""
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return payload.decode("latin-1")


def parse_msg(content: bytes, limits: IngestLimits) -> ParsedDocument:
    import extract_msg

    message = extract_msg.openMsg(content, strict=False)
    try:
        headers = {
            "From": getattr(message, "sender", None),
            "To": getattr(message, "to", None),
            "Cc": getattr(message, "cc", None),
            "Date": getattr(message, "date", None),
            "Subject": getattr(message, "subject", None),
        }
        attachments = []
        for attachment in getattr(message, "attachments", []):
            limits.check_time()
            data = attachment.data
            name = getattr(attachment, "longFilename", None) or getattr(attachment, "shortFilename", None)
            if hasattr(data, "exportBytes"):
                data = data.exportBytes()
            if isinstance(data, bytes) and data:
                attachments.append(Attachment(name or "attachment", data))
        body = getattr(message, "body", None) or ""
    finally:
        message.close()
    return _mail(limits, {k: str(v) for k, v in headers.items() if v}, [("text", body)], attachments)


def _mail(
    limits: IngestLimits,
    headers: dict[str, str],
    body: list[tuple[str, object]],
    attachments: list[Attachment],
) -> ParsedDocument:
    builder = TextBuilder(limits)
    for name, value in headers.items():
        builder.add(f"{name}: {' '.join(value.split())}", gap=LINE)
    if attachments:
        builder.add("Attachments: " + ", ".join(a.filename for a in attachments), gap=LINE)
    add_blocks(builder, body)
    parsed = builder.build()
    parsed.attachments = attachments
    return parsed
