"""Bytes of a supported type to the normalised text every offset refers to, with a page map."""

from __future__ import annotations

import bisect
import io
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from celery.exceptions import SoftTimeLimitExceeded

from connectors.earnings.transcript import turns_json_to_text
from connectors.text import normalise_text
from quire.documents import sniffing
from quire.documents.limits import (
    DeadlinePassed,
    IngestLimits,
    LimitExceeded,
    check_archive_read,
    check_depth,
    check_json_depth,
    check_pages,
    check_text,
)

PAGE_BREAK = "\n\n"


@dataclass(frozen=True)
class ParsedDocument:
    text: str
    page_starts: list[int] = field(default_factory=lambda: [0])

    @property
    def page_count(self) -> int:
        return len(self.page_starts)

    def page_at(self, offset: int) -> int:
        """1-based page holding character `offset`."""
        return bisect.bisect_right(self.page_starts, offset)


class ParseError(ValueError):
    pass


def parse_document(content: bytes, content_type: str, limits: IngestLimits | None = None) -> ParsedDocument:
    """The document's text and page map; raises ParseError with the reason, also for a document past
    `limits` (by default the settings' limits): checked before the work where the bytes tell, and while
    it is done where only the work tells (the text is counted as it is extracted)."""
    limits = limits or IngestLimits.from_settings()
    try:
        parsed = _parse(content, content_type, limits)
        check_text(len(parsed.text), limits)
        return parsed
    except (ParseError, DeadlinePassed, SoftTimeLimitExceeded):
        raise
    except LimitExceeded as exc:
        raise ParseError(str(exc)) from exc
    except RecursionError as exc:
        raise ParseError(f"could not parse {content_type}: it nests too deeply") from exc
    except Exception as exc:
        raise ParseError(f"could not parse {content_type}: {type(exc).__name__}: {exc}") from exc


def _parse(content: bytes, content_type: str, limits: IngestLimits) -> ParsedDocument:
    if content_type == sniffing.PDF:
        return _parse_pdf(content, limits)
    if content_type == sniffing.DOCX:
        return ParsedDocument(_clean(_docx_text(content, limits)))
    if content_type == sniffing.HTML:
        return ParsedDocument(_clean(_html_text(content.decode("utf-8-sig"), limits)))
    if content_type == sniffing.TRANSCRIPT:
        text = content.decode("utf-8-sig")
        check_json_depth(text, limits)
        return ParsedDocument(normalise_text(turns_json_to_text(text)))
    if content_type == sniffing.TEXT:
        return ParsedDocument(normalise_text(content.decode("utf-8-sig")))
    raise ParseError(f"unsupported content type {content_type}")


def _clean(text: str) -> str:
    text = normalise_text(text)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _parse_pdf(content: bytes, limits: IngestLimits) -> ParsedDocument:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(content))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ParseError(sniffing.ENCRYPTED_REASON)
        check_pages(_count_pages(reader, limits), limits)
        pages, total = [], 0
        for page in reader.pages:
            limits.check_time()
            pages.append(_clean(page.extract_text() or ""))
            total += len(pages[-1]) + len(PAGE_BREAK)
            check_text(total - len(PAGE_BREAK), limits)
    except PdfReadError as exc:
        raise ParseError(f"could not read the PDF: {exc}") from exc
    starts, parts, offset = [], [], 0
    for page in pages:
        starts.append(offset)
        parts.append(page)
        offset += len(page) + len(PAGE_BREAK)
    text = PAGE_BREAK.join(parts)
    if not text.strip():
        raise ParseError("the PDF has no extractable text (scanned images need OCR, which is not supported)")
    return ParsedDocument(text, starts or [0])


def _count_pages(reader, limits: IngestLimits) -> int:
    """The pages in the PDF's page tree after its declared /Count passed the limit, walked without
    trusting that count and given up one page past the limit (pypdf's own walk costs seconds per ten
    thousand pages before the first page is read)."""
    check_pages(int(reader.trailer["/Root"]["/Pages"].get("/Count", 0)), limits)
    stack, seen, count = [reader.trailer["/Root"]["/Pages"]], set(), 0
    while stack and count <= limits.max_pdf_pages:
        node = stack.pop().get_object()
        ref = node.indirect_reference
        key = (ref.idnum, ref.generation) if ref is not None else id(node)
        if key in seen:
            raise ParseError("the PDF's page tree has a cycle")
        seen.add(key)
        if node.get("/Type") == "/Pages" or "/Kids" in node:
            stack.extend(node.get("/Kids", []))
        else:
            count += 1
    return count


def _docx_text(content: bytes, limits: IngestLimits) -> str:
    import docx

    check_archive_read(content, limits)
    document = docx.Document(io.BytesIO(content))
    blocks, total = [], 0
    for block in _docx_blocks(document):
        limits.check_time()
        if block.strip():
            blocks.append(block)
            total += len(block) + 2
            check_text(total, limits)
    return "\n\n".join(blocks)


def _docx_blocks(document):
    for paragraph in document.paragraphs:
        yield paragraph.text
    for table in document.tables:
        for row in table.rows:
            yield " | ".join(cell.text for cell in row.cells)


class _HtmlText(HTMLParser):
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
    VOID = {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    }
    # Tags whose end tag may be left out: a new one closes the open one, unless a scope lies between.
    IMPLIED_END = {"p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "thead", "tbody", "tfoot"}
    SCOPES = {"ul", "ol", "dl", "table", "select", "div", "section", "article", "blockquote", "body", "html"}

    def __init__(self, limits: IngestLimits) -> None:
        super().__init__(convert_charrefs=True)
        self.limits = limits
        self.parts: list[str] = []
        self.chars = 0
        self.skipping = 0
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        self._nest(tag)
        if tag in self.SKIP and tag != "head":
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag in self.BLOCKS and tag not in self.SKIP:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag) :]
        if tag in self.SKIP and tag != "head":
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(re.sub(r"\s+", " ", data))
            self.chars += len(self.parts[-1])
            check_text(self.chars, self.limits)

    def _nest(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if tag in self.IMPLIED_END:
            for position in range(len(self.open) - 1, -1, -1):
                if self.open[position] == tag:
                    del self.open[position:]
                    break
                if self.open[position] in self.SCOPES:
                    break
        self.open.append(tag)
        self.limits.check_time()
        check_depth(len(self.open), self.limits, "HTML")


def _html_text(html: str, limits: IngestLimits) -> str:
    parser = _HtmlText(limits)
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).split("\n")]
    return "\n".join(lines)
