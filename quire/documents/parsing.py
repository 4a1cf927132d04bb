"""Bytes of a supported type to the normalised text every offset refers to, with a page map."""

from __future__ import annotations

import bisect
import io
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from connectors.earnings.transcript import turns_json_to_text
from connectors.text import normalise_text
from quire.documents import sniffing

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


def parse_document(content: bytes, content_type: str) -> ParsedDocument:
    try:
        if content_type == sniffing.PDF:
            return _parse_pdf(content)
        if content_type == sniffing.DOCX:
            return ParsedDocument(_clean(_docx_text(content)))
        if content_type == sniffing.HTML:
            return ParsedDocument(_clean(_html_text(content.decode("utf-8-sig"))))
        if content_type == sniffing.TRANSCRIPT:
            return ParsedDocument(normalise_text(turns_json_to_text(content.decode("utf-8-sig"))))
        if content_type == sniffing.TEXT:
            return ParsedDocument(normalise_text(content.decode("utf-8-sig")))
    except ParseError:
        raise
    except Exception as exc:
        raise ParseError(f"could not parse {content_type}: {type(exc).__name__}: {exc}") from exc
    raise ParseError(f"unsupported content type {content_type}")


def _clean(text: str) -> str:
    text = normalise_text(text)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _parse_pdf(content: bytes) -> ParsedDocument:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(content))
        if reader.is_encrypted:
            raise ParseError("the PDF is encrypted")
        pages = [_clean(page.extract_text() or "") for page in reader.pages]
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


def _docx_text(content: bytes) -> str:
    import docx

    document = docx.Document(io.BytesIO(content))
    blocks = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            blocks.append(" | ".join(cell.text for cell in row.cells))
    return "\n\n".join(block for block in blocks if block.strip())


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

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self.SKIP and tag != "head":
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and tag != "head":
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(re.sub(r"\s+", " ", data))


def _html_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).split("\n")]
    return "\n".join(lines)
