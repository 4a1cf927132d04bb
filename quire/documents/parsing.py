"""Bytes of a supported type to the normalised text every offset refers to, with a page map (PDFs, sheets
and slides are pages, and the frames of a scanned image), line boxes (PDFs and images) and tables (PDF, DOCX,
XLSX, PPTX, ODT, ODS, ODP, RTF)."""

from __future__ import annotations

import ctypes
import logging
import re
import zipfile
from collections.abc import Callable

from celery.exceptions import SoftTimeLimitExceeded

from common.refusals import ErrorCode, Refusal
from connectors.earnings.transcript import turns_json_to_text
from connectors.text import normalise_text
from quire.documents import formats, sniffing
from quire.documents.doc import parse_doc
from quire.documents.image import PictureReader, parse_image
from quire.documents.layout import (
    PageCallback,
    ParsedDocument,
    TextBuilder,
    UnreadableDocument,
    add_blocks,
    parsed_blocks,
)
from quire.documents.limits import (
    DeadlinePassed,
    IngestLimits,
    LimitExceeded,
    check_depth,
    check_json_depth,
    check_text,
)
from quire.documents.ocr import OcrMemo
from quire.documents.odt import parse_odp, parse_odt
from quire.documents.pdf import PdfError, parse_pdf
from quire.documents.ppt import parse_ppt
from quire.documents.pst import parse_pst
from quire.documents.rtf import parse_rtf

__all__ = ["ParseError", "ParsedDocument", "parse_document"]
logger = logging.getLogger(__name__)
HTML_FEED_CHARS = 1 << 16
# What reading an Office file raises when a part it needs is missing (KeyError), the archive is broken or a
# part's XML does not parse (ElementTree's and lxml's errors are SyntaxErrors).
OFFICE_DAMAGE = (KeyError, zipfile.BadZipFile, SyntaxError)
# The OLE files read, where olefile's errors (OSErrors: a directory entry of no known type or named twice, a
# stream that is not one) are damage.
OLE_TYPES = (sniffing.DOC, sniffing.XLS, sniffing.MSG)
_SURROGATE = re.compile("[\ud800-\udfff]")


class ParseError(ValueError):
    pass


def parse_document(
    content: bytes,
    content_type: str,
    limits: IngestLimits | None = None,
    on_page: PageCallback | None = None,
    ocr_memo: OcrMemo | None = None,
) -> ParsedDocument:
    """The document's text (a lone surrogate read as U+FFFD), page map, line boxes, tables and OCR record (and
    an e-mail's attachments, or the files a document embeds or carries: a document that holds only those has
    no text of its own, and is read for them); raises ParseError with the reason, also for a document past
    `limits` (by default the settings' limits): checked before the work where the bytes tell, and while it is
    done where only the work tells (the text is counted as it is extracted). `on_page(done, total)` follows a
    PDF page by page. A PDF's or an image's pages read by OCR are read from `ocr_memo` where it
    holds them, and kept there."""
    return _parse_checked(
        content, content_type, limits or IngestLimits.from_settings(), on_page, ocr_memo=ocr_memo
    )


def _parse_checked(
    content: bytes,
    content_type: str,
    limits: IngestLimits,
    on_page: PageCallback | None = None,
    *,
    embedded: bool = False,
    ocr_memo: OcrMemo | None = None,
) -> ParsedDocument:
    try:
        parsed = _parse(content, content_type, limits, on_page, embedded=embedded, ocr_memo=ocr_memo)
        # A lone surrogate (JSON's "\\ud83d" escape) cannot be stored as UTF-8; one character for another
        # keeps every offset.
        parsed.text = _SURROGATE.sub("\ufffd", parsed.text)
        check_text(len(parsed.text), limits)
        if not parsed.text.strip() and (embedded or not _holds_readable_files(parsed, limits)):
            held = parsed.attachments and not embedded
            raise ParseError(
                "the document has no text" + (", nor a file of a type Quire reads" if held else "")
            )
        return parsed
    except (ParseError, DeadlinePassed, SoftTimeLimitExceeded):
        raise
    except (LimitExceeded, PdfError, UnreadableDocument) as exc:
        raise ParseError(str(exc)) from exc
    except RecursionError as exc:
        raise ParseError(f"could not parse {content_type}: it nests too deeply") from exc
    except Exception as exc:
        if isinstance(exc, ctypes.ArgumentError) and SoftTimeLimitExceeded.__name__ in str(exc):
            # The soft time limit fired inside a native call, and ctypes turned it into an argument error.
            raise SoftTimeLimitExceeded() from exc
        if content_type in (*sniffing.OOXML_PARTS.values(), *sniffing.OPENDOCUMENT) and isinstance(
            exc, OFFICE_DAMAGE
        ):
            detail = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            raise ParseError(f"the file is damaged: {detail}") from exc
        if content_type in OLE_TYPES and isinstance(exc, OSError):
            raise ParseError(f"the file is damaged: {exc}") from exc
        raise ParseError(f"could not parse {content_type}: {type(exc).__name__}: {exc}") from exc


def _holds_readable_files(parsed: ParsedDocument, limits: IngestLimits) -> bool:
    for attachment in parsed.attachments:
        try:
            sniffing.sniff_content_type(attachment.content, limits=limits)
        except Refusal:
            continue
        return True
    return False


NOT_TEXT = "the file is not text in UTF-8, UTF-16 with a byte order mark or Windows-1252"


def _text(content: bytes) -> str:
    text = sniffing.decoded_text(content)
    if text is None:
        raise ParseError(NOT_TEXT)
    return text


def _embedded_blocks(content: bytes, limits: IngestLimits) -> list[tuple[str, object]]:
    """An object embedded in a document and shown as its content (a worksheet, another document), as blocks
    to read where it stands; one of a type Quire does not read, or that fails to parse, gives none (the
    document around it is still read). Objects it embeds in turn are not read, nor an embedded workbook's empty
    sheets."""
    try:
        content_type = sniffing.sniff_content_type(content, limits=limits)
        if content_type in (sniffing.ZIP, sniffing.PDF):
            return []
        blocks = parsed_blocks(_parse_checked(content, content_type, limits, embedded=True))
    except (Refusal, ParseError) as exc:
        logger.info("an embedded object was left out: %s", exc)
        return []
    if content_type not in (sniffing.XLSX, sniffing.XLS):
        return blocks
    # A workbook's empty sheets show nothing where it is embedded: their `Sheet: name` lines are left out.
    return [
        block
        for index, block in enumerate(blocks)
        if block[0] == "table" or (index + 1 < len(blocks) and blocks[index + 1][0] == "table")
    ]


def _parse(
    content: bytes,
    content_type: str,
    limits: IngestLimits,
    on_page: PageCallback | None,
    *,
    embedded: bool = False,
    ocr_memo: OcrMemo | None = None,
) -> ParsedDocument:
    if content_type == sniffing.PDF:
        return parse_pdf(content, limits, on_page, ocr_memo)
    if content_type in sniffing.IMAGES:
        return parse_image(content, limits, on_page, ocr_memo)
    if content_type in (sniffing.DOCX, sniffing.XLSX, sniffing.PPTX):
        content = formats.transitional(formats.mended(content, limits), limits)
    if content_type == sniffing.EML:
        return formats.parse_eml(content, limits, lambda html: html_blocks(html, limits))
    if content_type == sniffing.MSG:
        return formats.parse_msg(content, limits, lambda html: html_blocks(html, limits))
    if content_type == sniffing.PST:
        return parse_pst(content, limits)
    reader = _office_reader(content, content_type, limits, embedded=embedded)
    if reader is not None:
        return _through_pictures(reader, limits, on_page, embedded=embedded)
    if content_type == sniffing.HTML:
        html = sniffing.decoded_html(content)
        if html is None:
            raise ParseError(f"{NOT_TEXT}, or, for a page, the charset it declares")
        return parse_html(html, limits)
    if content_type == sniffing.TRANSCRIPT:
        text = _text(content)
        check_json_depth(text, limits)
        return ParsedDocument(normalise_text(turns_json_to_text(text)))
    if content_type == sniffing.TEXT:
        return ParsedDocument(normalise_text(_text(content)))
    raise ParseError(f"unsupported content type {content_type}")


def _office_reader(
    content: bytes, content_type: str, limits: IngestLimits, *, embedded: bool
) -> Callable[[Callable | None], ParsedDocument] | None:
    """How an Office document (one whose pictures OCR may read) is read given the reader of its pictures, or
    None for another type; one embedded in another does not read the objects it embeds in turn."""
    objects = None if embedded else lambda data: _embedded_blocks(data, limits)
    readers: dict[str, Callable[[Callable | None], ParsedDocument]] = {
        sniffing.DOCX: lambda pictures: formats.parse_docx(
            content, limits, lambda html: html_blocks(html, limits), objects, pictures
        ),
        sniffing.XLSX: lambda pictures: formats.parse_xlsx(content, limits, objects, pictures),
        sniffing.PPTX: lambda pictures: formats.parse_pptx(content, limits, objects, pictures),
        sniffing.XLS: lambda pictures: formats.parse_xls(
            content, limits, objects=not embedded, pictures=pictures
        ),
        sniffing.ODT: lambda pictures: parse_odt(content, limits, pictures),
        sniffing.ODS: lambda pictures: formats.parse_ods(content, limits, pictures),
        sniffing.ODP: lambda pictures: parse_odp(content, limits, pictures),
        sniffing.DOC: lambda pictures: parse_doc(content, limits, objects, pictures),
        sniffing.PPT: lambda pictures: parse_ppt(content, limits, pictures, objects),
        sniffing.RTF: lambda pictures: parse_rtf(content, limits, objects, pictures),
    }
    return readers.get(content_type)


def _through_pictures(
    read: Callable[[Callable | None], ParsedDocument],
    limits: IngestLimits,
    on_page: PageCallback | None,
    *,
    embedded: bool,
) -> ParsedDocument:
    """A Word document, workbook or deck (DOCX, DOC, RTF, XLSX, XLS, PPTX, PPT, ODT, ODS, ODP) read as it
    is (`read(None)`), or, when it is not embedded in another, with its pictures' text where each stands (OCR,
    `PictureReader`) as `limits.ocr_pictures` says: only where it has almost no words of its own
    (`PictureReader.wanted`: a scanned contract pasted in page by page, a deck of screenshots), always, or
    never. It is read first with its pictures counted (`PictureReader.count`: their headers read, no OCR), so
    that `on_page` follows them and, where they are more than OCR may read (the plan's `max_ocr_pages`), none
    is read: the document is read as it is, unless it has no text at all and so fails for that reason."""
    if embedded or limits.ocr_pictures == "never":
        return read(None)
    pictures = PictureReader(limits, on_page)
    try:
        plain = read(pictures.count)
    except LimitExceeded as exc:
        if exc.code != ErrorCode.TOO_MANY_PAGES:
            raise
        plain = read(None)
        if not plain.text.strip():
            raise
        logger.info("pictures left unread: %s", exc)
        return plain
    wanted = limits.ocr_pictures == "always" or PictureReader.wanted(plain.text)
    if not (wanted and pictures.counted):
        return plain
    pictured = read(pictures)
    if not pictures.pages:
        return plain
    pictures.record(pictured)
    return pictured


class _HtmlText:
    """An lxml HTML parser's target: the text in blocks, and the outermost tables as rows of cells.

    Text reads as a browser shows it: a block element (a paragraph, a heading, a list item, a rule) starts a
    paragraph, `<br>` (and a form's `<option>`) a line; whitespace, no-break spaces too, collapses to one
    space across tags and entities, except in `<pre>` (and `<textarea>`, `<listing>`, `<xmp>`), whose lines,
    indentation and tabs are kept (the line break right after its start tag left out, as browsers do)."""

    BLOCKS = {
        "p",
        "div",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "article",
        "main",
        "nav",
        "aside",
        "table",
        "caption",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "menu",
        "dir",
        "blockquote",
        "pre",
        "listing",
        "xmp",
        "textarea",
        "header",
        "footer",
        "address",
        "figure",
        "figcaption",
        "details",
        "summary",
        "fieldset",
        "legend",
        "form",
        "select",
        "center",
        "hr",
        "title",
    }
    LINES = {"option", "optgroup"}
    PREFORMATTED = {"pre", "listing", "xmp", "textarea"}
    CELLS = {"td", "th"}
    SKIP = {"script", "style", "noscript", "template", "head"}
    _SPACES = re.compile(r"\s+")

    def __init__(self, limits: IngestLimits) -> None:
        self.limits = limits
        self.parts: list[str] = []
        # Line breaks at the end of `parts` since its last text (a new block counts as a paragraph's two), and
        # whether a space is owed before the next text.
        self.newlines = 2
        self.space = False
        self.chars = 0
        self.skipping = 0
        self.preformatted = 0
        self.pre_start = False
        self.depth = 0
        # Text and tables in document order: ("text", str) and ("table", rows of cell texts).
        self.blocks: list[tuple[str, object]] = []
        self.rows: list[list[str]] | None = None
        self.table_depth = 0

    def start(self, tag: str, attrib) -> None:
        self.depth += 1
        self.limits.check_time()
        check_depth(self.depth, self.limits, "HTML")
        if tag in self.PREFORMATTED:
            self.preformatted += 1
            self.pre_start = True
        if tag in self.SKIP and tag != "head":
            self.skipping += 1
        elif tag == "table":
            self._table_start()
        elif self.rows is not None and self.table_depth == 1 and tag == "tr":
            self.rows.append([])
        elif self.rows is not None and self.table_depth == 1 and tag in self.CELLS:
            if not self.rows:
                self.rows.append([])
            self.rows[-1].append("")
        elif tag == "br":
            self._break(1, add=True)
        elif tag in self.BLOCKS:
            self._break(2)
        elif tag in self.LINES:
            self._break(1)
        elif tag in self.CELLS:
            # A cell of a nested table, or one outside any table, is apart from the text before it.
            self._break(0)

    def end(self, tag: str) -> None:
        self.depth -= 1
        if tag in self.PREFORMATTED:
            self.preformatted = max(0, self.preformatted - 1)
        if tag in self.SKIP and tag != "head":
            self.skipping = max(0, self.skipping - 1)
        elif tag == "table" and self.rows is not None:
            self._table_end()
        elif tag in self.BLOCKS:
            self._break(2)
        elif tag in self.LINES:
            self._break(1)

    def data(self, data: str) -> None:
        if self.skipping:
            return
        self.chars += len(data)
        check_text(self.chars, self.limits)
        if self.pre_start:
            self.pre_start = False
            data = data.removeprefix("\r\n").removeprefix("\n")
        if self._in_cell():
            self.rows[-1][-1] += data  # type: ignore[index]
        elif self.rows is None or data.strip():
            self._text(data)

    def close(self) -> list[tuple[str, object]]:
        while self.rows is not None:
            self._table_end()
        self._flush()
        return self.blocks

    def _in_cell(self) -> bool:
        return self.rows is not None and bool(self.rows) and bool(self.rows[-1])

    def _text(self, data: str) -> None:
        if self.preformatted:
            data = data.replace("\xa0", " ")
            if self.space and not self.newlines:
                self.parts.append(" ")
            self.parts.append(data)
            trailing = len(data) - len(data.rstrip("\n"))
            self.newlines = self.newlines + trailing if trailing == len(data) else trailing
            self.space = False
            return
        collapsed = self._SPACES.sub(" ", data)
        words = collapsed.strip(" ")
        if not words:
            self.space = self.space or bool(collapsed)
            return
        if (self.space or collapsed[0] == " ") and not self.newlines:
            self.parts.append(" ")
        self.parts.append(words)
        self.newlines, self.space = 0, collapsed[-1] == " "

    def _break(self, lines: int, *, add: bool = False) -> None:
        """End the line (`lines` 1) or the paragraph (2) here; `add`: one more line break however many came
        before it (`<br><br>` is a paragraph's break); 0: a space (in a cell, any break is one)."""
        if self._in_cell():
            self.rows[-1][-1] += " "  # type: ignore[index]
            return
        if not lines:
            self.space = True
            return
        more = lines if add else lines - self.newlines
        if more > 0:
            self.parts.append("\n" * more)
            self.newlines += more
        self.space = False

    def _table_start(self) -> None:
        """A table outside any other starts a table; one inside a cell reads as text of that cell."""
        self.table_depth += 1
        if self.table_depth == 1:
            self._flush()
            self.rows = []
        else:
            self._break(2)

    def _table_end(self) -> None:
        self.table_depth -= 1
        if self.table_depth == 0:
            self._flush()
            self.blocks.append(("table", self.rows))
            self.rows = None

    def _flush(self) -> None:
        text = "".join(self.parts)
        if text.strip():
            self.blocks.append(("text", text))
        self.parts, self.newlines, self.space = [], 2, False


def parse_html(html: str, limits: IngestLimits) -> ParsedDocument:
    """HTML's text, blocks on paragraphs of their own, and its tables (the outermost ones; a table nested in
    a cell is text of the cell) as rows of cells, like DOCX's."""
    builder = TextBuilder(limits)
    add_blocks(builder, html_blocks(html, limits))
    return builder.build()


def html_blocks(html: str, limits: IngestLimits) -> list[tuple[str, object]]:
    """HTML as ("text", str) and ("table", rows of cells) blocks in document order, parsed by libxml2 (lxml) in
    time linear in its length, fed in pieces with the deadline checked between them."""
    from lxml import etree

    target = _HtmlText(limits)
    parser = etree.HTMLParser(target=target, no_network=True)
    for start in range(0, len(html), HTML_FEED_CHARS):
        limits.check_time()
        parser.feed(html[start : start + HTML_FEED_CHARS])
    try:
        return parser.close()
    except etree.XMLSyntaxError:
        # Nothing the parser could make an element of (no input, only a comment).
        return target.close()
