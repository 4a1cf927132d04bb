"""Rich Text Format (RTF 1.9.1): the text a reader shows, paragraphs and tables in document order, footnotes
after the body, then the headers and then the footers, as the DOCX reader reads them: the first page's where a
section has a title page (`\\titlepg`), those of all and right pages, those of left pages where the document
has facing pages (`\\facingp`), each paragraph once (a table in a footnote, header or footer reads as lines of
cells joined by tabs). A shape's text box (`\\shptxt`) is read after the paragraph or table it stands in (in a
note, header or footer, where it stands), the copy Word writes for older readers (`\\shprslt`) not. Destinations
that hold no body text (font and colour tables, style sheets, document info, pictures unless they are read by
OCR (`_Reader.picture`), objects, field instructions, shape properties, anything else marked `\\*`) are
skipped, and so are hidden text and tracked deletions. `\\'hh` bytes are read in the document's code page
(`\\ansicpg`, else Windows-1252), `\\uN` as Unicode, skipping the `\\ucN` fallback characters that follow it.
"""

from __future__ import annotations

import codecs
import logging
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from quire.documents.layout import (
    Attachment,
    BlockSink,
    OnceEach,
    ParsedDocument,
    TextBuilder,
    add_blocks,
    attach,
)
from quire.documents.limits import IngestLimits, check_depth
from quire.documents.sniffing import RTF_SIGNATURE

logger = logging.getLogger(__name__)
# An OLE 1 object header's format: the object is embedded (1 is a link).
OLE1_EMBEDDED = 2

_TOKEN = re.compile(
    rb"\\([a-zA-Z]{1,32})(-?\d{1,10})? ?"  # control word, its parameter, and the space that ends it
    rb"|\\'([0-9a-fA-F]{2})"  # a byte in the code page
    rb"|\\([^a-zA-Z'])"  # control symbol
    rb"|([{}])"
    rb"|[\r\n]+"  # line ends in RTF source are not text
    rb"|([^\\{}\r\n]+)",
    re.S,
)

# Destinations whose text is not the document's body.
SKIPPED = frozenset(
    {
        "fonttbl", "colortbl", "stylesheet", "info", "object", "objdata", "themedata",
        "colorschememapping", "datastore", "latentstyles", "listtable", "listoverridetable", "rsidtbl",
        "generator", "xmlnstbl", "mmathPr", "fldinst", "filetbl", "revtbl", "nonshppict", "template", "sp",
        "shprslt",
        "userprops", "docvar", "pgdsctbl", "protusertbl", "xe", "tc", "bkmkstart", "bkmkend", "atnid",
        "atnauthor", "annotation", "fchars", "lchars", "pn", "pntxta", "pntxtb",
    }
)  # fmt: skip
CHARACTERS = {
    "tab": "\t", "emdash": "\u2014", "endash": "\u2013", "bullet": "\u2022", "lquote": "\u2018",
    "rquote": "\u2019", "ldblquote": "\u201c", "rdblquote": "\u201d", "emspace": "\u2003",
    "enspace": "\u2002", "qmspace": "\u2005", "zwj": "\u200d", "zwnj": "\u200c", "line": "\n",
    "lbr": "\n", "sect": "\n\n", "page": "\n\n", "column": "\n",
}  # fmt: skip
# Header and footer destinations: the story each one's text goes to, in the order the stories are read.
PAGE_STORIES = {
    "headerf": "header first", "header": "header", "headerr": "header", "headerl": "header left",
    "footerf": "footer first", "footer": "footer", "footerr": "footer", "footerl": "footer left",
}  # fmt: skip
FOOTNOTE = "footnote"
# A text box's text in the body, read after the paragraph (or the table) its shape stands in.
BOX = "box"
SYMBOLS = {"~": "\u00a0", "_": "\u2011", "-": "", "{": "{", "}": "}", "\\": "\\", "\n": "\n\n", "\r": "\n\n"}


@dataclass
class _Group:
    skip: bool = False
    hidden: bool = False
    deleted: bool = False
    story: str = ""  # where the group's text goes: the body, FOOTNOTE, BOX or one of PAGE_STORIES
    uc: int = 1
    # A shape (`\\shpinst`) in text that is read: its text box (`\\shptxt`) is read, nothing else of it.
    shape: bool = False
    # An object (`\\object`) in body text that is read; its data (`\\objdata`) gathered as it comes.
    shown_object: bool = False
    objdata: bytearray | None = None
    # A picture Word writes for newer readers (`\\*\\shppict`) in text that is read, and a picture's data
    # (`\\pict`, in hex) gathered as it comes, from the picture's own group (`pict_depth`), not its properties.
    shown_picture: bool = False
    pictdata: bytearray | None = None
    pict_depth: int = 0


@dataclass
class _Reader:
    """Paragraphs go to the builder as they end; a paragraph marked `\\intbl` is part of the current cell,
    rows gather until a paragraph outside any table (or the end) closes the table."""

    builder: TextBuilder
    encoding: str = "cp1252"
    paragraph: list[str] = field(default_factory=list)
    pending: bytearray = field(default_factory=bytearray)
    cell: list[str] = field(default_factory=list)
    row: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    stories: dict[str, list[str]] = field(default_factory=dict)
    in_cell: bool = False
    title_page: bool = False
    facing_pages: bool = False
    embedded_blocks: Callable[[bytes], list[tuple[str, object]]] | None = None
    pictures: Callable[[bytes], list[tuple[str, object]]] | None = None
    limits: IngestLimits | None = None
    attachments: list[Attachment] = field(default_factory=list)
    # What objects shown as their content hold, read after the paragraph or table they stand in.
    shown: list[tuple[str, object]] = field(default_factory=list)

    def embed(self, digits: bytearray) -> None:
        """An object's OLE 1 data (`objdata`, in hex): a file a packager or Acrobat object wraps is an
        attachment, a document or workbook is read after the paragraph or table it stands in; a linked object,
        or one whose data is damaged, is left out."""
        from quire.documents.formats import embedded_file, native_file

        if self.embedded_blocks is None or self.limits is None:
            return
        try:
            class_name, native = _ole1_native(_hex_bytes(digits))
            if class_name == "Package":
                name, content = native_file(struct.pack("<I", len(native)) + native)
                wrapped = True
            else:
                name, content, wrapped = embedded_file(native)
        except (ValueError, struct.error) as exc:
            logger.info("an RTF object was left out: %s", exc)
            return
        if wrapped:
            attach(self.attachments, self.limits, name, content, part="object")
        else:
            self.shown.extend(self.embedded_blocks(content))

    def picture(self, digits: bytearray) -> None:
        """A picture's text (with `pictures`), read after the paragraph or table it stands in; a vector drawing
        (WMF, EMF), a bitmap without a file header (`\\dibitmap`) or data that is not hex has none."""
        if self.pictures is None:
            return
        try:
            data = _hex_bytes(digits)
        except ValueError as exc:
            logger.info("an RTF picture was left out: %s", exc)
            return
        self.shown.extend(self.pictures(data))

    def text(self, group: _Group, value: str) -> None:
        if group.skip or group.hidden or group.deleted:
            return
        self.flush_bytes(group)
        if group.story:
            self.stories.setdefault(group.story, []).append(value)
        elif self.in_cell:
            self.cell.append(value)
        else:
            self.end_table()
            self.paragraph.append(value)

    def byte(self, group: _Group, value: int) -> None:
        if not (group.skip or group.hidden or group.deleted):
            self.pending.append(value)

    def flush_bytes(self, group: _Group) -> None:
        if self.pending:
            decoded = bytes(self.pending).decode(self.encoding, errors="replace")
            self.pending.clear()
            self.text(group, decoded)

    def end_paragraph(self, group: _Group) -> None:
        self.flush_bytes(group)
        if group.skip:
            return
        if group.story:
            self.stories.setdefault(group.story, []).append("\n\n")
        elif self.in_cell:
            self.cell.append("\n")
        else:
            self.end_table()
            self.builder.add(_joined(self.paragraph))
            self.paragraph.clear()
            self.add_boxes()

    def add_boxes(self) -> None:
        """The text boxes and the objects' content of the paragraph or table just added, after it."""
        for paragraph in self.story(BOX, taken=True):
            self.builder.add(paragraph)
        add_blocks(self.builder, self.shown)
        self.shown.clear()

    def story(self, name: str, *, taken: bool = False) -> list[str]:
        """The paragraphs of a story read so far (and, `taken`, no more of them)."""
        parts = self.stories.pop(name, []) if taken else self.stories.get(name, [])
        return _joined(parts).split("\n\n")

    def end_cell(self) -> None:
        self.row.append(_joined(self.cell))
        self.cell.clear()

    def end_row(self) -> None:
        if self.cell:
            self.end_cell()
        if self.row:
            self.rows.append(self.row)
        self.row = []

    def end_table(self) -> None:
        if self.cell or self.row:
            self.end_row()
        if self.rows:
            self.builder.table(self.rows)
            self.rows = []
            self.add_boxes()

    def finish(self) -> None:
        self.in_cell = False
        self.end_table()
        self.builder.add(_joined(self.paragraph))
        self.add_boxes()
        for note in self.story(FOOTNOTE):
            self.builder.add(note)
        once = OnceEach(self.builder)
        for story in dict.fromkeys(PAGE_STORIES.values()):
            if story.endswith(" first") and not self.title_page:
                continue
            if story.endswith(" left") and not self.facing_pages:
                continue
            for paragraph in self.story(story):
                once.add(paragraph)


def _joined(parts: list[str]) -> str:
    return "".join(parts).encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def parse_rtf(
    content: bytes,
    limits: IngestLimits,
    embedded_blocks: Callable[[bytes], list[tuple[str, object]]] | None = None,
    pictures: Callable[[bytes], list[tuple[str, object]]] | None = None,
) -> ParsedDocument:
    """What the RTF shows; with `embedded_blocks`, the objects its body embeds too (`_Reader.embed`), and with
    `pictures` its body's pictures' text (`_Reader.picture`)."""
    builder = TextBuilder(limits)
    reader = rtf_read(content, limits, builder, embedded_blocks, pictures)
    parsed = builder.build()
    parsed.attachments = reader.attachments
    return parsed


def rtf_read(
    content: bytes,
    limits: IngestLimits,
    builder: BlockSink,
    embedded_blocks: Callable[[bytes], list[tuple[str, object]]] | None = None,
    pictures: Callable[[bytes], list[tuple[str, object]]] | None = None,
) -> _Reader:
    """Add what the RTF shows to `builder` (or anything that takes its `add` and `table`), paragraph by
    paragraph and table by table."""
    reader = _Reader(builder, embedded_blocks=embedded_blocks, pictures=pictures, limits=limits)
    stack = [_Group()]
    skip_chars = 0
    position = content.find(RTF_SIGNATURE)
    tokens = 0
    while position < len(content):
        match = _TOKEN.match(content, position)
        if match is None:
            break
        position = match.end()
        tokens += 1
        if tokens % 65536 == 0:
            limits.check_time()
        word, parameter, hexbyte, symbol, brace, run = match.groups()
        group = stack[-1]
        if brace == b"{":
            check_depth(len(stack), limits, "RTF")
            stack.append(replace(group))
            skip_chars = 0
            continue
        if brace == b"}":
            reader.flush_bytes(group)
            if len(stack) > 1:
                stack.pop()
                if group.objdata is not None and stack[-1].objdata is not group.objdata:
                    reader.embed(group.objdata)
                if group.pictdata is not None and stack[-1].pictdata is not group.pictdata:
                    reader.picture(group.pictdata)
            skip_chars = 0
            continue
        if hexbyte is not None:
            if skip_chars:
                skip_chars -= 1
            else:
                reader.byte(group, int(hexbyte, 16))
            continue
        if run is not None and group.objdata is not None:
            group.objdata.extend(run)
            continue
        if run is not None and group.pictdata is not None:
            if len(stack) == group.pict_depth:
                group.pictdata.extend(run)
            continue
        if run is not None:
            text = run.decode(reader.encoding, errors="replace")
            if skip_chars:
                dropped = min(skip_chars, len(text))
                text, skip_chars = text[dropped:], skip_chars - dropped
            if text:
                reader.text(group, text)
            continue
        if symbol is not None:
            name = symbol.decode("latin-1")
            if name == "*":
                group.skip = True
            elif name in ("\n", "\r"):
                reader.end_paragraph(group)
            elif name in SYMBOLS:
                reader.text(group, SYMBOLS[name])
            continue
        if word is None:
            continue
        name = word.decode("ascii")
        value = int(parameter) if parameter is not None else None
        if name == "bin":
            data = group.objdata if group.objdata is not None else group.pictdata
            if data is not None and (data is group.objdata or len(stack) == group.pict_depth):
                data.extend(content[position : position + max(0, value or 0)].hex().encode())
            position += max(0, value or 0)
        elif name == "object":
            shown = not (group.skip or group.hidden or group.deleted or group.story)
            group.skip, group.shown_object = True, shown
        elif name == "shppict":
            group.shown_picture = len(stack) > 1 and not (stack[-2].skip or group.hidden or group.deleted)
        elif name == "pict":
            shown = group.shown_picture or not (group.skip or group.hidden or group.deleted)
            group.skip = True
            if shown and not group.story and reader.pictures is not None:
                group.pictdata, group.pict_depth = bytearray(), len(stack)
        elif name == "objdata":
            group.skip = True
            if group.shown_object:
                group.objdata = bytearray()
        elif name == "shpinst":
            group.skip, group.shape = True, len(stack) > 1 and not stack[-2].skip
        elif name == "shptxt" and group.shape:
            group.skip = False
            if group.story:
                reader.end_paragraph(group)
            group.story = group.story or BOX
        elif name in SKIPPED:
            group.skip = True
        elif name == "footnote":
            group.story = FOOTNOTE
        elif name in PAGE_STORIES:
            group.story = PAGE_STORIES[name]
        elif name == "titlepg":
            reader.title_page = True
        elif name == "facingp":
            reader.facing_pages = True
        elif name == "ansicpg" and value:
            reader.encoding = _codec(value, reader.encoding)
        elif name == "uc" and value is not None:
            group.uc = max(0, value)
        elif name == "u" and value is not None:
            reader.text(group, chr(value % 65536))
            skip_chars = group.uc
        elif name == "v":
            group.hidden = value != 0
        elif name == "deleted":
            group.deleted = value != 0
        elif name == "plain":
            group.hidden = group.deleted = False
        elif name == "par":
            reader.end_paragraph(group)
        elif name == "intbl" and not (group.story or group.skip):
            reader.flush_bytes(group)
            reader.in_cell = True
        elif name == "trowd" and not (group.story or group.skip):
            # A row's definition: what follows is its cells, also where a writer marks no paragraph `\intbl`.
            if reader.paragraph:
                reader.end_paragraph(group)
            reader.flush_bytes(group)
            reader.in_cell = True
        elif name == "pard":
            reader.flush_bytes(group)
            if not (group.story or group.skip):
                reader.in_cell = False
        elif name in ("cell", "nestcell") and not group.skip:
            reader.flush_bytes(group)
            if name == "cell" and not group.story:
                reader.end_cell()
            else:
                reader.text(group, "\t" if name == "cell" else " ")
        elif name == "row" and not group.skip:
            reader.flush_bytes(group)
            if group.story:
                reader.end_paragraph(group)
            else:
                reader.end_row()
        elif name in CHARACTERS:
            reader.text(group, CHARACTERS[name])
    reader.flush_bytes(stack[-1])
    reader.finish()
    return reader


def _hex_bytes(digits: bytearray) -> bytes:
    """The bytes an object's data spells in hex, its line ends and spaces left out (an odd last digit too)."""
    cleaned = bytes(digits).translate(None, b" \t\r\n")
    return bytes.fromhex(cleaned[: len(cleaned) // 2 * 2].decode("ascii", errors="replace"))


def _ole1_native(data: bytes) -> tuple[str, bytes]:
    """An embedded OLE 1 object's class and native data (MS-OLEDS ObjectHeader: version, format 2 for
    embedded, the class, topic and item names as length-prefixed strings, then the native data's size and
    bytes); ValueError for a linked object or a cut-off one."""
    position = 4
    (form,) = struct.unpack_from("<I", data, position)
    if form != OLE1_EMBEDDED:
        raise ValueError("a linked object")
    position += 4
    names = []
    for _ in range(3):
        (length,) = struct.unpack_from("<I", data, position)
        names.append(data[position + 4 : position + 4 + length].rstrip(b"\0").decode("latin-1"))
        position += 4 + length
    (size,) = struct.unpack_from("<I", data, position)
    native = data[position + 4 : position + 4 + size]
    if len(native) != size:
        raise ValueError("the object's data is cut off")
    return names[0], native


def _codec(codepage: int, current: str) -> str:
    try:
        return codecs.lookup(f"cp{codepage}").name
    except LookupError:
        return current
