"""Bytes of a supported type to the normalised text every offset refers to, with a page map (PDFs, sheets
and slides are pages), line boxes (PDFs) and tables (PDF, DOCX, XLSX, PPTX)."""

from __future__ import annotations

import ctypes
import re
import zipfile

from celery.exceptions import SoftTimeLimitExceeded

from connectors.earnings.transcript import turns_json_to_text
from connectors.text import normalise_text
from quire.documents import formats, sniffing
from quire.documents.layout import PageCallback, ParsedDocument, TextBuilder, add_blocks
from quire.documents.limits import (
    DeadlinePassed,
    IngestLimits,
    LimitExceeded,
    check_depth,
    check_json_depth,
    check_text,
)
from quire.documents.pdf import PdfError, parse_pdf

__all__ = ["ParseError", "ParsedDocument", "parse_document"]
HTML_FEED_CHARS = 1 << 16
# What reading an Office file raises when a part it needs is missing (KeyError), the archive is broken or a
# part's XML does not parse (ElementTree's and lxml's errors are SyntaxErrors).
OFFICE_DAMAGE = (KeyError, zipfile.BadZipFile, SyntaxError)
_SURROGATE = re.compile("[\ud800-\udfff]")


class ParseError(ValueError):
    pass


def parse_document(
    content: bytes,
    content_type: str,
    limits: IngestLimits | None = None,
    on_page: PageCallback | None = None,
) -> ParsedDocument:
    """The document's text (a lone surrogate read as U+FFFD), page map, line boxes, tables and OCR record (and
    an e-mail's attachments); raises ParseError with the reason, also for a document past `limits` (by
    default the settings' limits): checked before the work where the bytes tell, and while it is done where
    only the work tells (the text is counted as it is extracted). `on_page(done, total)` follows a PDF page
    by page."""
    limits = limits or IngestLimits.from_settings()
    try:
        parsed = _parse(content, content_type, limits, on_page)
        # A lone surrogate (JSON's "\\ud83d" escape) cannot be stored as UTF-8; one character for another
        # keeps every offset.
        parsed.text = _SURROGATE.sub("\ufffd", parsed.text)
        check_text(len(parsed.text), limits)
        if not parsed.text.strip():
            raise ParseError("the document has no text")
        return parsed
    except (ParseError, DeadlinePassed, SoftTimeLimitExceeded):
        raise
    except (LimitExceeded, PdfError) as exc:
        raise ParseError(str(exc)) from exc
    except RecursionError as exc:
        raise ParseError(f"could not parse {content_type}: it nests too deeply") from exc
    except Exception as exc:
        if isinstance(exc, ctypes.ArgumentError) and SoftTimeLimitExceeded.__name__ in str(exc):
            # The soft time limit fired inside a native call, and ctypes turned it into an argument error.
            raise SoftTimeLimitExceeded() from exc
        if content_type in sniffing.OOXML_PARTS.values() and isinstance(exc, OFFICE_DAMAGE):
            detail = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            raise ParseError(f"the file is damaged: {detail}") from exc
        raise ParseError(f"could not parse {content_type}: {type(exc).__name__}: {exc}") from exc


def _text(content: bytes) -> str:
    text = sniffing.decoded_text(content)
    if text is None:
        raise ParseError("the file is not text in UTF-8, UTF-16 with a byte order mark or Windows-1252")
    return text


def _parse(
    content: bytes, content_type: str, limits: IngestLimits, on_page: PageCallback | None
) -> ParsedDocument:
    if content_type == sniffing.PDF:
        return parse_pdf(content, limits, on_page)
    if content_type == sniffing.DOCX:
        return formats.parse_docx(content, limits)
    if content_type == sniffing.XLSX:
        return formats.parse_xlsx(content, limits)
    if content_type == sniffing.PPTX:
        return formats.parse_pptx(content, limits)
    if content_type == sniffing.EML:
        return formats.parse_eml(content, limits, lambda html: html_blocks(html, limits))
    if content_type == sniffing.MSG:
        return formats.parse_msg(content, limits)
    if content_type == sniffing.HTML:
        return parse_html(_text(content), limits)
    if content_type == sniffing.TRANSCRIPT:
        text = _text(content)
        check_json_depth(text, limits)
        return ParsedDocument(normalise_text(turns_json_to_text(text)))
    if content_type == sniffing.TEXT:
        return ParsedDocument(normalise_text(_text(content)))
    raise ParseError(f"unsupported content type {content_type}")


class _HtmlText:
    """An lxml HTML parser's target: the text in blocks, and the outermost tables as rows of cells."""

    BLOCKS = {
        "p",
        "div",
        "br",
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
        "table",
        "ul",
        "ol",
        "blockquote",
        "pre",
        "header",
        "footer",
        "title",
    }
    SKIP = {"script", "style", "noscript", "template", "head"}

    def __init__(self, limits: IngestLimits) -> None:
        self.limits = limits
        self.parts: list[str] = []
        self.chars = 0
        self.skipping = 0
        self.depth = 0
        # Text and tables in document order: ("text", str) and ("table", rows of cell texts).
        self.blocks: list[tuple[str, object]] = []
        self.rows: list[list[str]] | None = None
        self.table_depth = 0

    def start(self, tag: str, attrib) -> None:
        self.depth += 1
        self.limits.check_time()
        check_depth(self.depth, self.limits, "HTML")
        if tag in self.SKIP and tag != "head":
            self.skipping += 1
        elif tag == "table":
            self._table_start()
        elif self.rows is not None and self.table_depth == 1 and tag == "tr":
            self.rows.append([])
        elif self.rows is not None and self.table_depth == 1 and tag in ("td", "th"):
            if not self.rows:
                self.rows.append([])
            self.rows[-1].append("")
        elif tag in self.BLOCKS or (self.rows is not None and tag in ("td", "th")):
            self._break()

    def end(self, tag: str) -> None:
        self.depth -= 1
        if tag in self.SKIP and tag != "head":
            self.skipping = max(0, self.skipping - 1)
        elif tag == "table" and self.rows is not None:
            self._table_end()
        elif tag in self.BLOCKS:
            self._break()

    def data(self, data: str) -> None:
        if self.skipping:
            return
        data = re.sub(r"\s+", " ", data)
        self.chars += len(data)
        check_text(self.chars, self.limits)
        if self.rows is None:
            self.parts.append(data)
        elif self.rows and self.rows[-1]:
            self.rows[-1][-1] += data
        elif data.strip():
            self.parts.append(data)

    def close(self) -> list[tuple[str, object]]:
        while self.rows is not None:
            self._table_end()
        self._flush()
        return self.blocks

    def _break(self) -> None:
        if self.rows is not None and self.rows and self.rows[-1]:
            self.rows[-1][-1] += " "
        else:
            self.parts.append("\n\n")

    def _table_start(self) -> None:
        """A table outside any other starts a table; one inside a cell reads as text of that cell."""
        self.table_depth += 1
        if self.table_depth == 1:
            self._flush()
            self.rows = []
        else:
            self._break()

    def _table_end(self) -> None:
        self.table_depth -= 1
        if self.table_depth == 0:
            self._flush()
            self.blocks.append(("table", self.rows))
            self.rows = None

    def _flush(self) -> None:
        text = "\n".join(line.strip() for line in "".join(self.parts).split("\n"))
        if text.strip():
            self.blocks.append(("text", text))
        self.parts = []


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
