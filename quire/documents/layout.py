"""The normalised text built piece by piece, so that every line, page and table cell knows its offsets."""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from connectors.text import normalise_text
from quire.documents.limits import IngestLimits, check_batch_files, check_text

PAGE_BREAK = "\n\n"
PARAGRAPH = "\n\n"
LINE = "\n"
ROW_START, CELL, ROW_END = "| ", " | ", " |"

Box = tuple[float, float, float, float]
PageCallback = Callable[[int, int], None]


# A line that ends a sentence (or a clause's lead-in): its closing quote or bracket aside.
_SENTENCE_END = re.compile(r"[.!?:;][\"')\]\u201d\u2019]*$")


def wide_spacing(boxes: Sequence[Box]) -> float | None:
    """The usual gap between a page's lines, one after another, where the page is set wide (double spacing):
    the lower quartile of the gaps from 0 to four lines tall (a line's height the median of the page's), where
    there are two of them or more and it is at least 0.8 of a line's height; else None (lines set close, as
    most pages are)."""
    heights = sorted(box[3] - box[1] for box in boxes)
    if len(heights) < 3 or heights[len(heights) // 2] <= 0:
        return None
    height = heights[len(heights) // 2]
    gaps = sorted(
        below[1] - above[3]
        for above, below in itertools.pairwise(boxes)
        if 0 <= below[1] - above[3] < 4 * height
    )
    if len(gaps) < 2:
        return None
    usual = gaps[len(gaps) // 4]
    return usual if usual >= 0.8 * height else None


def continues_wide(previous: str, gap: float, spacing: float | None) -> bool:
    """Whether a line `gap` below the line `previous`, on a page set wide (`spacing`, `wide_spacing`), goes
    on its paragraph: within a third more than the usual gap, after a line that ends no sentence."""
    return spacing is not None and 0 <= gap < 1.3 * spacing and not _SENTENCE_END.search(previous.rstrip())


class UnreadableDocument(ValueError):
    """A document of a supported type that cannot be read (damaged, encrypted, an older version); its message
    is the document's failure reason."""


@dataclass(frozen=True)
class Attachment:
    """A file an e-mail carries. Its filename is the sender's, without the control characters (a NUL decoded
    from `filename*=utf-8''a%00.txt`) that PostgreSQL would refuse or a listing would print."""

    filename: str
    content: bytes

    def __post_init__(self) -> None:
        cleaned = "".join(c for c in self.filename if c.isprintable() or c == " ").strip()
        object.__setattr__(self, "filename", cleaned or "attachment")


def attach(
    attachments: list[Attachment], limits: IngestLimits, name: str | None, content: bytes, *, part: str
) -> None:
    """Keep a file a document embeds as its attachment, named as its object names it, else by its `part` with
    its type's extension (`oleObject1.bin` holding an Excel 97 workbook is `oleObject1.xls`); raises
    LimitExceeded for one past the files an upload may hold (QUIRE_UPLOAD_MAX_FILES), as an e-mail with too
    many fails."""
    check_batch_files(len(attachments) + 1, limits, "the document")
    attachments.append(Attachment(name or _typed_name(part, content, limits), content))


def mail_file_name(number: int, width: int, subject: str) -> str:
    """An e-mail kept in an archive (an mbox, an Outlook data file) as a file: its place, as wide as the last
    one's so that the names sort in order, and its subject (`007 Re: Draft SPA.eml`), a `/` or `\\` in it a `-`,
    at most 100 of its characters."""
    return f"{number:0{width}d} {_subject_stem(subject)}".rstrip() + ".eml"


def forwarded_file_name(subject: str) -> str:
    """A message attached to an e-mail without a file name of its own (a forward), named by its subject as
    `mail_file_name` names one (`Re: Draft SPA.eml`), else `forwarded message.eml`."""
    return (_subject_stem(subject) or "forwarded message") + ".eml"


def _subject_stem(subject: str) -> str:
    return " ".join(subject.replace("/", "-").replace("\\", "-").split())[:100]


def _typed_name(part: str, content: bytes, limits: IngestLimits) -> str:
    from common.refusals import Refusal
    from quire.documents.sniffing import EXTENSIONS, sniff_content_type

    stem = part.rsplit("/", 1)[-1]
    try:
        extension = EXTENSIONS.get(sniff_content_type(content, limits=limits))
    except Refusal:
        return stem
    return f"{stem.rsplit('.', 1)[0]}.{extension}" if extension else stem


@dataclass
class ParsedDocument:
    text: str
    page_starts: list[int] = field(default_factory=lambda: [0])
    # [start, end, page, x0, top, x1, bottom] per line of a PDF, in PDF points from the top-left of the page as
    # rendered (its visible area, turned by /Rotate).
    lines: list[list[float]] = field(default_factory=list)
    page_sizes: list[list[float]] = field(default_factory=list)
    # {"page", "rows": [[[start, end], ...], ...]} per table.
    tables: list[dict] = field(default_factory=list)
    ocr_pages: list[int] = field(default_factory=list)
    ocr_confidence: float | None = None
    attachments: list[Attachment] = field(default_factory=list)

    @property
    def page_count(self) -> int:
        return len(self.page_starts)

    def page_at(self, offset: int) -> int:
        """1-based page holding character `offset`."""
        return bisect.bisect_right(self.page_starts, offset)

    @property
    def layout(self) -> dict:
        return {"lines": self.lines, "page_sizes": self.page_sizes} if self.lines or self.page_sizes else {}


def clean_block(text: str) -> str:
    text = normalise_text(text)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def clean_cell(value: object) -> str:
    return " ".join(normalise_text("" if value is None else str(value)).split())


class TextBuilder:
    """Appends pages, blocks and tables to the text, counting its length against the limits as it grows.

    A block is cleaned on its own (so its offsets hold in the final text) and joined to the one before it
    on its page by `gap`; a table is a block of rows on lines in Markdown's form, `| a | b |`."""

    def __init__(self, limits: IngestLimits) -> None:
        self.limits = limits
        self.parts: list[str] = []
        self.length = 0
        self.page_starts: list[int] = []
        self.lines: list[list[float]] = []
        self.tables: list[dict] = []
        self._fresh_page = True
        self._after_table = False

    @property
    def page(self) -> int:
        return max(1, len(self.page_starts))

    def new_page(self) -> None:
        if self.page_starts:
            self._raw(PAGE_BREAK)
        self.page_starts.append(self.length)
        self._fresh_page = True

    def add(self, text: str, *, gap: str = PARAGRAPH, box: Box | None = None) -> tuple[int, int] | None:
        """Append a cleaned block; its (start, end), or None when nothing was left of it."""
        text = clean_block(text)
        if not text:
            return None
        self._separate(gap)
        start = self.length
        self._raw(text)
        if box is not None:
            self.lines.append([start, self.length, self.page, *(round(v, 2) for v in box)])
        return start, self.length

    def table(
        self,
        rows: Sequence[Sequence[object]],
        *,
        row_boxes: Sequence[Box] | None = None,
        cell_boxes: Sequence[Sequence[Box | None]] | None = None,
    ) -> None:
        """Append a table (rows of cells); empty rows are left out, cell ranges recorded. With `cell_boxes`
        each cell's own box is recorded (its row's where it has none), else with `row_boxes` each row's."""
        kept = [
            (index, cells)
            for index, row in enumerate(rows)
            if any(cells := [clean_cell(value) for value in row])
        ]
        if not kept:
            return
        self._separate(PARAGRAPH)
        ranges = []
        for position, (index, cells) in enumerate(kept):
            if position:
                self._raw(LINE)
            row_start, row = self.length, []
            self._raw(ROW_START)
            for column, cell in enumerate(cells):
                if column:
                    self._raw(CELL)
                row.append([self.length, self.length + len(cell)])
                self._raw(cell)
            self._raw(ROW_END)
            ranges.append(row)
            if cell_boxes is not None:
                for column, (start, end) in enumerate(row):
                    own = cell_boxes[index][column] if column < len(cell_boxes[index]) else None
                    box = own or (row_boxes[index] if row_boxes is not None else None)
                    if end > start and box is not None:
                        self.lines.append([start, end, self.page, *(round(v, 2) for v in box)])
            elif row_boxes is not None and self.length > row_start:
                box = row_boxes[index]
                self.lines.append([row_start, self.length, self.page, *(round(v, 2) for v in box)])
        self.tables.append({"page": self.page, "rows": ranges})
        self._after_table = True

    def build(self, **extra) -> ParsedDocument:
        return ParsedDocument(
            "".join(self.parts), self.page_starts or [0], self.lines, tables=self.tables, **extra
        )

    def _separate(self, gap: str) -> None:
        if not self.page_starts:
            self.new_page()
        if not self._fresh_page:
            self._raw(PARAGRAPH if self._after_table else gap)
        self._fresh_page = self._after_table = False

    def _raw(self, piece: str) -> None:
        self.parts.append(piece)
        self.length += len(piece)
        check_text(self.length, self.limits)


class BlockSink(Protocol):
    """Where a reader puts paragraphs and tables: a `TextBuilder`, or a collector of blocks."""

    def add(self, text: str) -> object: ...

    def table(self, rows: list[list[str]]) -> object: ...


def add_blocks(builder: BlockSink, blocks: Sequence[tuple[str, object]]) -> None:
    """Append ("text", str) blocks as paragraphs and ("table", rows) blocks as tables."""
    for kind, block in blocks:
        if kind == "table":
            builder.table(block)
        else:
            builder.add(block)


def parsed_blocks(parsed: ParsedDocument) -> list[tuple[str, object]]:
    """A parsed document as ("text", paragraph) and ("table", rows) blocks again, to be read inside another."""
    text, blocks, position = parsed.text, [], 0
    tables = sorted(
        (table["rows"] for table in parsed.tables if table["rows"]), key=lambda rows: rows[0][0][0]
    )
    for rows in tables:
        start = rows[0][0][0] - len(ROW_START)
        blocks += [
            ("text", paragraph) for paragraph in text[position:start].split(PARAGRAPH) if paragraph.strip()
        ]
        blocks.append(
            ("table", [[text[cell_start:cell_end] for cell_start, cell_end in row] for row in rows])
        )
        position = rows[-1][-1][1] + len(ROW_END)
    blocks += [("text", paragraph) for paragraph in text[position:].split(PARAGRAPH) if paragraph.strip()]
    return blocks


def block_key(block: tuple[str, object]) -> tuple[str, object]:
    """A block as the text shows it, to tell one already read."""
    kind, value = block
    if kind == "table":
        return kind, tuple(tuple(clean_cell(cell) for cell in row) for row in value)  # type: ignore[union-attr]
    return kind, clean_block(str(value))


class OnceEach:
    """Adds paragraphs and tables to a builder once each: one that reads as one it added before is left out.
    Headers and footers, which every page and section may repeat, are read through one."""

    def __init__(self, builder: BlockSink) -> None:
        self.builder = builder
        self.seen: set[tuple[str, object]] = set()

    def add(self, text: str) -> None:
        self.block(("text", text))

    def table(self, rows: list[list[str]]) -> None:
        self.block(("table", rows))

    def block(self, block: tuple[str, object]) -> None:
        if (key := block_key(block)) not in self.seen:
            self.seen.add(key)
            add_blocks(self.builder, [block])
