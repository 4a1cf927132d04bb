"""OpenDocument text (.odt, as LibreOffice and Word write it): `content.xml`'s body read as a stream, its
paragraphs, headings, list items and tables in document order, then the footnotes and endnotes, then the headers
and the footers of its page styles (`styles.xml`).

Inline: spans, links and fields as their text, `text:s` as its count of spaces, tabs and line breaks. Text boxes'
and shapes' paragraphs and tables are read after the paragraph they are anchored in (a page-anchored one where
it stands; in a cell or a note, as lines of its text), and so is an object a frame embeds (`draw:object`, its own
`content.xml`): a Calc sheet's or a Writer document's paragraphs and tables, a chart's data table. Left out:
tracked deletions (`text:tracked-changes`), comments (`office:annotation`), images' and objects' own text
(titles, descriptions, replacement images), a note's citation mark, a heading's cached
number (`text:number`), and what the document hides: spans, paragraphs and tables of a style that hides them,
hidden sections, paragraphs and texts that hidden-paragraph and hidden-text fields hid when it was saved. List labels and heading numbers, which OpenDocument leaves to its styles, are counted as
`quire.documents.odt_numbering` says.

Headers and footers are read as the DOCX reader reads them: those of the page styles (master pages) the
document uses, that is the default one (`Standard`, else the first) and every one a paragraph style names,
in `styles.xml`'s order; per page style the first page's, then the default, then the left (even) pages',
any marked not to show (`style:display="false"`) left out; all the headers, then all the footers; a paragraph
or table one of them gave already not read again.

An OpenDocument spreadsheet's sheets (`ods_sheets`, read as a workbook) and a presentation's slides
(`parse_odp`) are read with the same flow: cells and frames as a document's tables and drawings.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from io import BytesIO

from quire.documents.docx_numbering import XML_SAFE
from quire.documents.layout import OnceEach, ParsedDocument, TextBuilder, add_blocks
from quire.documents.limits import IngestLimits, check_archive_read
from quire.documents.odt_numbering import LIST, LIST_HEADER, LIST_ITEM, OdtNumbering, inherited
from quire.documents.sniffing import ODT_BODY

_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_DRAW = "{urn:oasis:names:tc:opendocument:xmlns:drawing:1.0}"
_STYLE = "{urn:oasis:names:tc:opendocument:xmlns:style:1.0}"

PARAGRAPHS = {_TEXT + "p", _TEXT + "h"}
TABLE = _TABLE + "table"
TABLE_ROW = _TABLE + "table-row"
TABLE_SHAPES = _TABLE + "shapes"
NOTE = _TEXT + "note"
# Elements whose text the document does not show in its flow.
HIDDEN = {
    _TEXT + "tracked-changes", _OFFICE + "annotation", _TEXT + "note-citation", _TEXT + "soft-page-break",
    _TEXT + "number",
}  # fmt: skip
# Drawings: their text boxes' and shapes' text is read after the paragraph they are anchored in (a page's, where
# they stand); an image's or object's own text (titles, descriptions, fallback text) is not.
DRAWINGS = {_DRAW + "frame", _DRAW + "custom-shape", _DRAW + "g", _DRAW + "rect", _DRAW + "ellipse"}
TEXT_BOX = _DRAW + "text-box"
# An object embedded in a frame (`draw:object`, its own `content.xml` in the folder its `xlink:href` names): a Calc
# sheet, a Writer document, a chart's data table, read where the frame stands.
DRAW_OBJECT, XLINK_HREF = _DRAW + "object", "{http://www.w3.org/1999/xlink}href"
# A picture in a frame (its part in the folder its `xlink:href` names): read by OCR only where the document is
# read through its pictures.
DRAW_IMAGE = _DRAW + "image"
OBJECT_CONTENT = "content.xml"
# Fields that hide their paragraph, or show their text, by a condition whose last value they keep.
HIDDEN_PARAGRAPH, HIDDEN_TEXT, IS_HIDDEN = (
    _TEXT + "hidden-paragraph",
    _TEXT + "hidden-text",
    _TEXT + "is-hidden",
)
# A paragraph inside one of these is read with it, not as a block of its own.
CONTAINERS = {TABLE, NOTE, *HIDDEN, *DRAWINGS}
ROW_GROUPS = {_TABLE + "table-header-rows", _TABLE + "table-rows", _TABLE + "table-row-group"}
CELLS = {_TABLE + "table-cell", _TABLE + "covered-table-cell"}
# A cell or row repeated more often than this counts this often; an empty cell repeated counts once.
MAX_REPEAT = 64
STYLES = "styles.xml"
# A presentation's slides and their speaker notes; where a drawing stands on its slide.
DRAW_PAGE = _DRAW + "page"
_PRESENTATION = "{urn:oasis:names:tc:opendocument:xmlns:presentation:1.0}"
PRESENTATION_NOTES = _PRESENTATION + "notes"
FOOTER_DECL = _PRESENTATION + "footer-decl"
SVG_X, SVG_Y = (f"{{urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0}}{axis}" for axis in "xy")
LENGTH = re.compile(r"(-?\d+(?:\.\d*)?|-?\.\d+)\s*(cm|mm|in|pt|pc|px)?")
CENTIMETRES = {"cm": 1.0, "mm": 0.1, "in": 2.54, "pt": 2.54 / 72, "pc": 2.54 / 6, "px": 2.54 / 96, None: 1.0}
SECTION = _TEXT + "section"
# What is dropped once read or left out; a note or a hidden span is part of its paragraph until it ends.
BLOCKS = {TABLE, SECTION, *PARAGRAPHS}
PARENT_STYLE = _STYLE + "parent-style-name"
AUTOMATIC_STYLES = _OFFICE + "automatic-styles"
LISTS = {LIST, LIST_ITEM, LIST_HEADER}
MASTER_PAGE = _STYLE + "master-page"
MASTER_PAGE_NAME = _STYLE + "master-page-name"
DEFAULT_MASTER_PAGE = "Standard"
PAGE_PARTS = {
    "header": (_STYLE + "header-first", _STYLE + "header", _STYLE + "header-left"),
    "footer": (_STYLE + "footer-first", _STYLE + "footer", _STYLE + "footer-left"),
}


def parse_odt(
    content: bytes,
    limits: IngestLimits,
    pictures: Callable[[bytes, int], list[tuple[str, object]]] | None = None,
) -> ParsedDocument:
    from lxml import etree

    check_archive_read(content, limits)
    builder = TextBuilder(limits)
    numbering = OdtNumbering()
    flow = _Flow()
    named: set[str] = set()
    inside = 0
    with zipfile.ZipFile(BytesIO(content)) as archive:
        _read_parts(flow, archive, lambda: builder.page, pictures)
        styles = None
        if STYLES in archive.namelist():
            with archive.open(STYLES) as xml:
                styles = etree.parse(xml, etree.XMLParser(**XML_SAFE)).getroot()
            numbering.read_styles(styles)
            flow.read_styles(styles)
        with archive.open(ODT_BODY) as xml:
            for event, element in etree.iterparse(xml, events=("start", "end"), **XML_SAFE):
                tag = element.tag
                if event == "start":
                    inside += tag in CONTAINERS or flow.hides(element)
                    if page_style := element.get(MASTER_PAGE_NAME):
                        named.add(page_style)
                    if tag in LISTS and not inside:
                        numbering.start(element)
                    continue
                hidden = flow.hides(element)
                if tag in CONTAINERS or hidden:
                    inside -= 1
                    if tag == TABLE and not inside and not hidden:
                        builder.table(flow.rows(element))
                    if tag in DRAWINGS and not inside and not hidden and _outside_paragraphs(element):
                        add_blocks(builder, flow.drawn(element))
                        _drop(element)
                    if tag in BLOCKS and not inside:
                        _drop(element)
                elif tag in PARAGRAPHS and not inside:
                    limits.check_time()
                    if not _hidden_by_field(element):
                        text = flow.inline(element)
                        label = numbering.label(element)
                        if label is not None and text.strip():
                            text = label[0] + label[1] + text.lstrip()
                        builder.add(text)
                        add_blocks(builder, flow.boxes)
                        flow.boxes.clear()
                    _drop(element)
                elif tag in LISTS:
                    numbering.end(element)
                elif tag == AUTOMATIC_STYLES:
                    numbering.read_styles(element)
                    flow.read_styles(element)
        for note in flow.notes:
            builder.add(note)
        if styles is not None:
            _page_parts(styles, named, builder, limits, flow.hidden)
    return builder.build()


def parse_odp(
    content: bytes,
    limits: IngestLimits,
    pictures: Callable[[bytes, int], list[tuple[str, object]]] | None = None,
) -> ParsedDocument:
    """An OpenDocument presentation (.odp): each slide (`draw:page`) a page, its frames' and shapes' text boxes,
    tables and embedded objects top to bottom, then left to right (`svg:y`, `svg:x`), as a document's drawings
    are read; then, once, on the first slide showing them, its master page's own drawings and footer frame
    (`_master_kind`) and the footer text it uses (`presentation:footer-decl`), a footer not where the slide's
    style hides it (`presentation:display-footer="false"`); then
    its notes (`presentation:notes`) as `Notes: ...`. A placeholder's prompt is not in the slide, so it is not
    read."""
    from lxml import etree

    check_archive_read(content, limits)
    builder = TextBuilder(limits)
    flow = _Flow()
    with zipfile.ZipFile(BytesIO(content)) as archive:
        _read_parts(flow, archive, lambda: builder.page, pictures)
        styles = _part(archive, STYLES)
        if styles is not None:
            flow.read_styles(styles)
        masters = {m.get(_STYLE + "name"): m for m in styles.iter(MASTER_PAGE)} if styles is not None else {}
        footers: dict[str | None, str] = {}
        no_footer: set[str | None] = set()
        read_behind: set[tuple[str, object]] = set()
        with archive.open(ODT_BODY) as xml:
            for _, element in etree.iterparse(xml, events=("end",), **XML_SAFE):
                if element.tag == AUTOMATIC_STYLES:
                    flow.read_styles(element)
                    no_footer |= _styles_without_footer(element)
                if element.tag == FOOTER_DECL:
                    footers[element.get(_PRESENTATION + "name")] = element.text or ""
                if element.tag != DRAW_PAGE:
                    continue
                limits.check_time()
                builder.new_page()
                for drawing in sorted((c for c in element if c.tag in DRAWINGS), key=_slide_position):
                    add_blocks(builder, flow.drawn(drawing))
                master = masters.get(element.get(_DRAW + "master-page-name"))
                shown = {"own"} | (
                    {"footer"} if element.get(_DRAW + "style-name") not in no_footer else set()
                )
                for kind in ("own", "footer"):
                    if master is None or kind not in shown or (kind, id(master)) in read_behind:
                        continue
                    read_behind.add((kind, id(master)))
                    for drawing in sorted(
                        (c for c in master if _master_kind(c) == kind), key=_slide_position
                    ):
                        add_blocks(builder, flow.drawn(drawing))
                footer = element.get(_PRESENTATION + "use-footer-name")
                if "footer" in shown and ("decl", footer) not in read_behind and footer in footers:
                    read_behind.add(("decl", footer))
                    builder.add(footers[footer])
                notes = element.find(PRESENTATION_NOTES)
                if notes is not None:
                    text = "\n".join(str(block) for kind, block in flow.drawn(notes) if kind == "text")
                    if text.strip():
                        builder.add(f"Notes: {text}")
                flow.notes.clear()
                _drop(element)
    return builder.build()


def _master_kind(drawing) -> str | None:
    """What a master page's drawing shows on a slide: "own" text (no `presentation:class`), or its "footer"
    frame (shown where the slide's style shows footers); None for a placeholder's prompt, a date, a page
    number or a title and outline a slide fills in."""
    if drawing.tag not in DRAWINGS or drawing.get(_PRESENTATION + "placeholder") == "true":
        return None
    kind = drawing.get(_PRESENTATION + "class")
    return "own" if kind is None else "footer" if kind == "footer" else None


def _styles_without_footer(styles) -> set[str | None]:
    """The slide styles (family `drawing-page`) that hide the master's footer (`presentation:display-footer`)."""
    return {
        style.get(_STYLE + "name")
        for style in styles.iter(_STYLE + "style")
        for properties in style.iter(_STYLE + "drawing-page-properties")
        if properties.get(_PRESENTATION + "display-footer") == "false"
    }


def _slide_position(drawing) -> tuple[float, float]:
    return _length(drawing.get(SVG_Y)), _length(drawing.get(SVG_X))


def _length(value: str | None) -> float:
    """An ODF length (`2.5cm`, `1in`, `72pt`, `10mm`) in centimetres; 0 where it is missing or not one."""
    match = LENGTH.fullmatch((value or "").strip())
    if match is None:
        return 0.0
    return float(match.group(1)) * CENTIMETRES.get(match.group(2), 0.0)


@dataclass
class OdsSheet:
    """A sheet of an OpenDocument spreadsheet: its name, whether its style hides it (`table:display="false"`),
    its rows (streamed), and the blocks of what it draws (text boxes, charts), filled as its rows are read."""

    name: str
    hidden: bool
    rows: Iterator[list[str]]
    drawn: list[tuple[str, object]]


def ods_sheets(
    content: bytes,
    limits: IngestLimits,
    pictures: Callable[[bytes, int], list[tuple[str, object]]] | None = None,
) -> Iterator[OdsSheet]:
    """An OpenDocument spreadsheet's sheets (`table:table` in the body's `office:spreadsheet`), their rows as
    the texts their cells show (`text:p`, as a table's cells in a document read), streamed: a row or cell repeated
    counts at most `MAX_REPEAT` times, an empty cell once, and the empty rows after a sheet's last filled one (a
    sheet's formatting often runs to its millionth row) are left out. What a sheet draws, on the sheet
    (`table:shapes`) or anchored in a cell, is read as a document's drawings are (`_Flow.drawn`: text boxes,
    an embedded chart's data table, with `pictures` a picture's text, given its sheet's page)."""
    from lxml import etree

    check_archive_read(content, limits)
    flow = _Flow()
    sheets = 0
    with zipfile.ZipFile(BytesIO(content)) as archive, archive.open(ODT_BODY) as xml:
        _read_parts(flow, archive, lambda: sheets, pictures)
        tags = (TABLE, TABLE_ROW, TABLE_SHAPES, AUTOMATIC_STYLES, *DRAWINGS)
        events = etree.iterparse(xml, events=("start", "end"), tag=tags, **XML_SAFE)
        depth = 0
        for event, element in events:
            if element.tag != TABLE:
                if event == "end" and element.tag == AUTOMATIC_STYLES:
                    flow.read_styles(element)
                continue
            depth += 1 if event == "start" else -1
            if event == "start" and depth == 1:
                sheets += 1
                drawn: list[tuple[str, object]] = []
                name, hidden = element.get(_TABLE + "name") or "", flow.hides(element)
                yield OdsSheet(name, hidden, _ods_rows(events, flow, limits, drawn), drawn)
                depth = 0


def _ods_rows(
    events, flow: _Flow, limits: IngestLimits, drawn: list[tuple[str, object]]
) -> Iterator[list[str]]:
    """The rows of the sheet whose start `events` just gave, until its end, its drawings' blocks joining
    `drawn`; a table nested in a cell is read as that cell's text."""
    nested = 0
    empty: list[list[str]] = []
    for event, element in events:
        if element.tag == TABLE:
            if event == "end" and nested == 0:
                _drop(element)
                return
            nested += 1 if event == "start" else -1
            continue
        if event == "end" and not nested and element.tag == TABLE_SHAPES:
            drawn.extend(block for drawing in element for block in flow.drawn(drawing))
            _drop(element)
            continue
        if element.tag in DRAWINGS:
            anchor = element.getparent()
            if event == "end" and not nested and anchor is not None and anchor.tag in CELLS:
                drawn.extend(flow.drawn(element))
            continue
        if event != "end" or nested or element.tag != TABLE_ROW:
            continue
        limits.check_time()
        rows = flow.rows_of(element)
        _drop(element)
        if not any(cell.strip() for row in rows for cell in row):
            empty.extend(rows[: MAX_REPEAT - len(empty)])
            continue
        yield from empty
        empty.clear()
        yield from rows


def _read_parts(
    flow: _Flow,
    archive: zipfile.ZipFile,
    page: Callable[[], int],
    pictures: Callable[[bytes, int], list[tuple[str, object]]] | None,
) -> None:
    """Let `flow` read the package's embedded objects, and with `pictures` its pictures on the page being
    read (`page()`)."""
    names = set(archive.namelist())
    flow.objects = lambda name: _part(archive, name)
    flow.pictures, flow.page = pictures, page
    flow.picture_bytes = lambda name: archive.read(name) if name in names else None


def _part(archive: zipfile.ZipFile, name: str):
    """The root of the package's XML part `name`, or None where the package lacks it."""
    from lxml import etree

    if name not in archive.namelist():
        return None
    with archive.open(name) as xml:
        return etree.parse(xml, etree.XMLParser(**XML_SAFE)).getroot()


def _page_parts(
    styles, named: set[str], builder: TextBuilder, limits: IngestLimits, hidden: set[str]
) -> None:
    """Add the headers, then the footers, of the page styles the document uses, each paragraph or table once."""
    named = named | {e.get(MASTER_PAGE_NAME) for e in styles.iter() if e.get(MASTER_PAGE_NAME)}
    pages = list(styles.iter(MASTER_PAGE))
    names = [page.get(_STYLE + "name") for page in pages]
    default = DEFAULT_MASTER_PAGE if DEFAULT_MASTER_PAGE in names else names[0] if names else None
    used = [page for page, name in zip(pages, names, strict=True) if name == default or name in named]
    once = OnceEach(builder)
    flow = _Flow(hidden=hidden)
    for parts in PAGE_PARTS.values():
        for page in used:
            for part in (page.find(tag) for tag in parts):
                if part is None or part.get(_STYLE + "display") == "false":
                    continue
                limits.check_time()
                for child in part:
                    if flow.hides(child):
                        continue
                    if child.tag == TABLE:
                        once.table(flow.rows(child))
                        continue
                    for paragraph in [child] if child.tag in PARAGRAPHS else flow.paragraphs(child):
                        once.add(flow.inline(paragraph))
                        for block in flow.boxes:
                            once.block(block)
                        flow.boxes.clear()
                    flow.notes.clear()


def _hidden_by_field(paragraph) -> bool:
    """Whether a hidden-paragraph field in the paragraph hides it now (`text:is-hidden`, the value its condition
    had when the document was saved)."""
    return any(field.get(IS_HIDDEN) == "true" for field in paragraph.iter(HIDDEN_PARAGRAPH))


def _outside_paragraphs(element) -> bool:
    """Whether `element` stands outside any paragraph (a drawing anchored to the page, not in a paragraph)."""
    parent = element.getparent()
    while parent is not None:
        if parent.tag in PARAGRAPHS:
            return False
        parent = parent.getparent()
    return True


def _drop(element) -> None:
    """Free what has been read: the element's content and the siblings read before it."""
    element.clear()
    parent = element.getparent()
    while parent is not None and element.getprevious() is not None:
        del parent[0]


@dataclass
class _Flow:
    """How the text of a part of the document reads: its notes, kept for after the body, and the styles that
    hide what they are set on (`text:display="none"`: LibreOffice's hidden character attribute, a hidden
    paragraph style; a table's `table:display="false"`), whose spans, paragraphs and tables are left out with
    hidden sections (`text:section` with `text:display="none"`)."""

    notes: list[str] = field(default_factory=list)
    # The text boxes and shapes of the paragraph read last, to be read after it.
    boxes: list[tuple[str, object]] = field(default_factory=list)
    hidden: set[str] = field(default_factory=set)
    # Reads an embedded object's `content.xml` (by its path in the package) to its root, or None without one.
    objects: Callable[[str], object] | None = None
    # Reads a picture's text where it stands (`image.PictureReader`, given the picture's bytes and the page it
    # is on), with `picture_bytes` (a part's bytes by its path, or None) and `page` (the page being read).
    pictures: Callable[[bytes, int], list[tuple[str, object]]] | None = None
    picture_bytes: Callable[[str], bytes | None] | None = None
    page: Callable[[], int] | None = None
    # Style name to (whether it sets `text:display="none"` itself, the style it is based on), until resolved.
    _styles: dict[str, tuple[bool, str | None]] = field(default_factory=dict)

    def read_styles(self, root) -> None:
        for style in root.iter(_STYLE + "style"):
            text = style.find(_STYLE + "text-properties")
            table = style.find(_STYLE + "table-properties")
            hides = (text is not None and text.get(_TEXT + "display") == "none") or (
                table is not None and table.get(_TABLE + "display") == "false"
            )
            self._styles[style.get(_STYLE + "name") or ""] = (hides, style.get(PARENT_STYLE))
        self.hidden = {name for name in self._styles if inherited(self._styles, name)}

    def hides(self, element) -> bool:
        if element.tag == SECTION:
            return element.get(_TEXT + "display") == "none"
        return (
            bool(self.hidden)
            and (element.get(_TEXT + "style-name") or element.get(_TABLE + "style-name")) in self.hidden
        )

    def inline(self, element) -> str:
        parts = [element.text or ""]
        for child in element:
            tag = child.tag
            if tag == _TEXT + "s":
                parts.append(" " * _count(child.get(_TEXT + "c")))
            elif tag == _TEXT + "tab":
                parts.append("\t")
            elif tag == _TEXT + "line-break":
                parts.append("\n")
            elif tag == NOTE:
                body = child.find(_TEXT + "note-body")
                if body is not None:
                    self.notes.append("\n".join(self.flat(p) for p in self.paragraphs(body)))
            elif tag in DRAWINGS:
                self.boxes.extend(self.drawn(child))
            elif tag == HIDDEN_TEXT:
                if child.get(IS_HIDDEN) != "true":
                    parts.append(child.text or child.get(_TEXT + "string-value") or "")
            elif tag not in HIDDEN and isinstance(tag, str) and not self.hides(child):
                parts.append(self.inline(child))
            parts.append(child.tail or "")
        return "".join(parts)

    def drawn(self, drawing) -> list[tuple[str, object]]:
        """The paragraphs and tables of the text boxes and shapes in `drawing`, as blocks, in order."""
        blocks: list[tuple[str, object]] = []
        if self.hides(drawing):
            return blocks
        for child in drawing:
            if child.tag in PARAGRAPHS and not self.hides(child) and not _hidden_by_field(child):
                blocks.extend(self._with_boxes(child))
            elif child.tag == TABLE and not self.hides(child):
                blocks.append(("table", self.rows(child)))
            elif child.tag in DRAWINGS or child.tag == TEXT_BOX:
                blocks.extend(self.drawn(child))
            elif child.tag == DRAW_OBJECT and self.objects is not None:
                blocks.extend(self.embedded(child.get(XLINK_HREF) or ""))
            elif child.tag == DRAW_IMAGE and self.pictures is not None and self._first_image(drawing, child):
                blocks.extend(self.picture(child.get(XLINK_HREF) or ""))
        return blocks

    @staticmethod
    def _first_image(frame, image) -> bool:
        """Whether `image` is the first of its frame's pictures: the others are the same picture in another
        format (ODF's alternatives, an SVG and its PNG)."""
        return next(child for child in frame if child.tag == DRAW_IMAGE) is image

    def picture(self, href: str) -> list[tuple[str, object]]:
        """A picture's text (with `pictures`), by the part its `xlink:href` names; none for a linked file."""
        data = self.picture_bytes(href.removeprefix("./")) if self.picture_bytes else None
        if data is None or self.pictures is None:
            return []
        return self.pictures(data, self.page() if self.page else 1)

    def embedded(self, href: str) -> list[tuple[str, object]]:
        """An embedded object's paragraphs and tables, as blocks: a document's or a sheet's in order, a chart's
        data table; none for a formula, a picture or an object the package lacks."""
        root = (
            self.objects(f"{href.removeprefix('./').strip('/')}/{OBJECT_CONTENT}") if self.objects else None
        )
        body = root.find(_OFFICE + "body") if root is not None else None  # type: ignore[attr-defined]
        document = body[0] if body is not None and len(body) else None
        if document is None:
            return []
        if document.tag == _OFFICE + "chart":
            data = document.find(f".//{TABLE}")
            return [("table", self.rows(data))] if data is not None else []
        blocks: list[tuple[str, object]] = []
        for child in document:
            if child.tag == TABLE and not self.hides(child):
                blocks.append(("table", self.rows(child)))
            elif child.tag in PARAGRAPHS and not self.hides(child) and not _hidden_by_field(child):
                blocks.extend(self._with_boxes(child))
            elif child.tag not in HIDDEN and not self.hides(child):
                blocks.extend(("text", self.flat(paragraph)) for paragraph in self.paragraphs(child))
        return blocks

    def _with_boxes(self, paragraph) -> list[tuple[str, object]]:
        """The paragraph as a block, then the blocks of the text boxes and shapes anchored in it."""
        outer, self.boxes = self.boxes, []
        try:
            return [("text", self.inline(paragraph)), *self.boxes]
        finally:
            self.boxes = outer

    def flat(self, paragraph) -> str:
        """The paragraph's text with its text boxes' and shapes' after it, on lines of their own (a cell's or a
        note's text)."""
        lines = []
        for kind, block in self._with_boxes(paragraph):
            rows = block if kind == "table" else [[block]]
            lines.extend("\t".join(str(cell) for cell in row) for row in rows)  # type: ignore[union-attr]
        return "\n".join(line for line in lines if line.strip())

    def paragraphs(self, element):
        """The paragraphs within `element` that it shows (not those of its notes, comments, frames or hidden
        sections, nor hidden ones)."""
        for child in element:
            if self.hides(child):
                continue
            if child.tag in PARAGRAPHS:
                if not _hidden_by_field(child):
                    yield child
            elif child.tag not in HIDDEN and child.tag not in DRAWINGS and child.tag != NOTE:
                yield from self.paragraphs(child)

    def rows(self, table) -> list[list[str]]:
        rows: list[list[str]] = []
        for child in table:
            if child.tag in ROW_GROUPS:
                rows.extend(self.rows(child))
            elif child.tag == TABLE_ROW:
                rows.extend(self.rows_of(child))
        return rows

    def rows_of(self, row) -> list[list[str]]:
        """A `table:table-row` as the rows it stands for (it may be repeated), each its cells' texts."""
        cells: list[str] = []
        for cell in row:
            if cell.tag in CELLS:
                text = " ".join(self.flat(p) for p in self.paragraphs(cell))
                repeat = _repeat(cell.get(_TABLE + "number-columns-repeated")) if text.strip() else 1
                cells.extend([text] * repeat)
        return [cells] * _repeat(row.get(_TABLE + "number-rows-repeated"))


def _count(value: str | None) -> int:
    try:
        return max(1, min(int(value or 1), 1024))
    except ValueError:
        return 1


def _repeat(value: str | None) -> int:
    return min(_count(value), MAX_REPEAT)
