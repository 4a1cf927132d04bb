"""PowerPoint 97-2003 presentations (.ppt, [MS-PPT]): each slide a page, its text in the order its shapes are
drawn, then its notes (`Notes: ...`), as the PPTX reader reads a deck.

The file is read as PowerPoint reads it, through its last save: the `Current User` stream names the newest
`UserEditAtom` in the `PowerPoint Document` stream, and the chain of edits before it gives the persist
directory (persist id to the offset of the record it names; a later edit's entries over an earlier's), so a
slide an incremental save replaced is read as it is now, never as it was. The document's slide list
(`SlideListWithTextContainer`, instance 0) gives the slides in order, each a `SlidePersistAtom` followed by
the text of its placeholders (a `TextHeaderAtom`, then `TextCharsAtom`, UTF-16, or `TextBytesAtom`, each byte
a code point below 256). A slide's drawing (`PPDrawing`, OfficeArt records) holds its shapes in drawing
order; a shape's `OfficeArtClientTextbox` holds its text, or an `OutlineTextRefAtom` naming one of the
placeholder texts of the slide list; a table (a group of shapes with `tableProperties`) reads as a table, its
cells placed by their anchors; placeholder text no shape names is read after the shapes. A picture shape's
text is read by OCR where it is drawn, where the parser is given `pictures` (its blip from the drawing group's
blip store, kept there or in the `Pictures` stream). Notes are the notes list's (instance 2) text of the notes
slide the slide names (`SlideAtom.notesIdRef`). An embedded object is read where its shape stands, with
`embedded_blocks` (`_Objects`). Masters, layouts' prompts and charts are not read. A PowerPoint 95 file saved
with its PowerPoint 97 copy (`PP97_DUALSTORAGE`) is read through that copy, one without it as its
`Text_Content` stream keeps its text (one page, the slides not told apart); an encrypted presentation, an older
one, and one without the records above (damaged) fail with the reason.
"""

from __future__ import annotations

import io
import logging
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from quire.documents.layout import Attachment, ParsedDocument, TextBuilder, UnreadableDocument, add_blocks
from quire.documents.limits import IngestLimits, check_depth
from quire.documents.officeart import OPTIONS, blip_store, fbse_bitmap, picture_index, properties

logger = logging.getLogger(__name__)

DOCUMENT_STREAM, CURRENT_USER_STREAM = "PowerPoint Document", "Current User"
# A PowerPoint 95 file saved with its PowerPoint 97 copy keeps that copy in this storage.
DUAL_STORAGE = "PP97_DUALSTORAGE/"
# A PowerPoint 95 file's plain text.
TEXT_CONTENT_STREAM = "Text_Content"
RT_CURRENT_USER, CURRENT_USER_SIZE = 0x0FF6, 20
RT_DOCUMENT, RT_SLIDE, RT_SLIDE_ATOM, RT_NOTES = 0x03E8, 0x03EE, 0x03EF, 0x03F0
RT_SLIDE_PERSIST, RT_SLIDE_LIST = 0x03F3, 0x0FF0
RT_OUTLINE_TEXT_REF, RT_TEXT_HEADER, RT_TEXT_CHARS, RT_TEXT_BYTES = 0x0F9E, 0x0F9F, 0x0FA0, 0x0FA8
RT_USER_EDIT, RT_PERSIST_DIRECTORY = 0x0FF5, 0x1772
CLIENT_TEXTBOX = 0xF00D
# Pictures: the document's drawing group (`PPDrawingGroup`) holds the blip store, whose file records keep each
# blip or name its place in the `Pictures` stream; a shape's properties name a picture's blip
# (`officeart.picture_index`).
PICTURES_STREAM = "Pictures"
RT_DRAWING_GROUP = 0x040B
# Embedded objects: the document's object list, an `ExEmbed` (or an ActiveX control's) per object holding its
# `ExOleObjAtom` (draw aspect, type, object id, subtype, persist id of its `ExOleObjStg`); a shape names its
# object by an `ExObjRefAtom` in its client data. A storage of instance 1 is zlib-compressed after its size.
RT_OBJECT_LIST, RT_EMBED, RT_CONTROL, RT_OLE_OBJECT, RT_OLE_STORAGE = 0x0409, 0x0FCC, 0x0FEE, 0x0FC3, 0x1011
OBJECT_REFERENCE, ICON_ASPECT, COMPRESSED = 0x0BC1, 4, 1
# Tables: a group of shapes (its own shape first) whose own shape's further properties (OfficeArtTertiaryFOPT)
# hold `tableProperties`; each cell a shape placed by its anchor in the group (OfficeArtChildAnchor: left, top,
# right, bottom), the borders line shapes without text.
GROUP, SHAPE, TERTIARY_OPTIONS, CHILD_ANCHOR, TABLE_PROPERTIES = 0xF003, 0xF004, 0xF122, 0xF00F, 0x03A0
# The slide lists by their instance: the slides' and the notes slides'.
SLIDES, NOTES = 0, 2
# `CurrentUserAtom.headerToken` of a presentation encrypted with a password.
ENCRYPTED_TOKEN = 0xF3D1C4DF
CONTAINER = 0xF
HEADER = 8
# A text's paragraphs end with a carriage return; a vertical tab breaks a line inside one.
TEXT_MARKS = str.maketrans({"\r": "\n", "\x0b": "\n"})
DAMAGED = "the presentation is damaged"
# The character a field (slide number, date, footer) stands as in a text atom.
FIELD = "*"


@dataclass
class _Listed:
    """A slide (or notes slide) as the slide list names it: its persist id, its slide id and the texts of its
    placeholders that follow it."""

    persist: int
    slide_id: int
    texts: list[str] = field(default_factory=list)


def parse_ppt(
    content: bytes,
    limits: IngestLimits,
    pictures: Callable[[bytes, int], list[tuple[str, object]]] | None = None,
    embedded_blocks: Callable[[bytes], list[tuple[str, object]]] | None = None,
) -> ParsedDocument:
    """The presentation's text (see the module's docstring); with `pictures`, a picture's text where its shape
    is drawn; with `embedded_blocks`, an object's (`_Objects`)."""
    import olefile

    try:
        with olefile.OleFileIO(io.BytesIO(content)) as ole:
            for folder in ("", DUAL_STORAGE):
                if ole.exists(folder + DOCUMENT_STREAM) and ole.exists(folder + CURRENT_USER_STREAM):
                    user = ole.openstream(folder + CURRENT_USER_STREAM).read()
                    if (
                        len(user) >= CURRENT_USER_SIZE
                        and struct.unpack_from("<H", user, 2)[0] == RT_CURRENT_USER
                    ):
                        stream = ole.openstream(folder + DOCUMENT_STREAM).read()
                        kept = folder + PICTURES_STREAM
                        delayed = ole.openstream(kept).read() if pictures and ole.exists(kept) else None
                        break
            else:
                if not ole.exists(TEXT_CONTENT_STREAM):
                    raise UnreadableDocument(
                        "a PowerPoint 95 presentation or older, which Quire does not read; save it as PPTX or PDF"
                    )
                return _text_content(ole.openstream(TEXT_CONTENT_STREAM).read(), limits)
    except OSError as exc:
        raise UnreadableDocument(f"{DAMAGED}: {exc}") from None
    try:
        return _read(stream, user, limits, pictures, delayed, embedded_blocks)
    except (struct.error, IndexError, KeyError):
        raise UnreadableDocument(DAMAGED) from None


def _text_content(data: bytes, limits: IngestLimits) -> ParsedDocument:
    """A PowerPoint 95 presentation's text as its `Text_Content` stream keeps it: Windows-1252, paragraphs
    ended by carriage returns, a blank line between shapes, the slides not told apart (one page)."""
    builder = TextBuilder(limits)
    for block in data.decode("cp1252", errors="replace").replace("\x00", "").split("\r\r"):
        builder.add(block.replace("\r", "\n").replace("\x0b", "\n"))
    return builder.build()


def _read(
    stream: bytes,
    user: bytes,
    limits: IngestLimits,
    pictures: Callable[[bytes, int], list[tuple[str, object]]] | None,
    delayed: bytes | None,
    embedded_blocks: Callable[[bytes], list[tuple[str, object]]] | None,
) -> ParsedDocument:
    directory, document = _persist_directory(stream, user)
    kind, _, start, end = _record(stream, directory[document])
    if kind != RT_DOCUMENT:
        raise UnreadableDocument(DAMAGED)
    lists, store, group = {}, [], b""
    objects = _Objects(stream, directory, limits, embedded_blocks)
    for kind, instance, body, body_end in _children(stream, start, end):
        if kind == RT_SLIDE_LIST:
            lists[instance] = _slide_list(stream, body, body_end)
        elif kind == RT_DRAWING_GROUP and pictures is not None:
            group = stream[body:body_end]
            store = blip_store(group)
        elif kind == RT_OBJECT_LIST and embedded_blocks is not None:
            objects.read_list(body, body_end)
    notes = {listed.slide_id: listed for listed in lists.get(NOTES, [])}
    builder = TextBuilder(limits)
    for listed in lists.get(SLIDES, []):
        limits.check_time()
        builder.new_page()
        offset = directory.get(listed.persist)
        if offset is None:
            continue
        kind, _, start, end = _record(stream, offset)
        if kind != RT_SLIDE:
            continue
        for kind, value in _shape_blocks(stream, start, end, listed, limits):
            if kind == "text":
                builder.add(value)
            elif kind == "table":
                builder.table(value)
            elif kind == "object":
                add_blocks(builder, objects.blocks(value))
            elif pictures is not None and 0 < value <= len(store):
                body, body_end = store[value - 1]
                bitmap = fbse_bitmap(group, body, body_end, delayed)
                if bitmap is not None:
                    add_blocks(builder, pictures(bitmap, builder.page))
        notes_id = _notes_id(stream, start, end)
        noted = notes.get(notes_id) if notes_id else None
        if noted is not None and noted.persist in directory:
            kind, _, start, end = _record(stream, directory[noted.persist])
            if kind == RT_NOTES:
                blocks = _shape_blocks(stream, start, end, noted, limits)
                said = "\n".join(value for kind, value in blocks if kind == "text")
                if said.strip():
                    builder.add(f"Notes: {said}")
    parsed = builder.build()
    parsed.attachments = objects.attachments
    return parsed


def _persist_directory(stream: bytes, user: bytes) -> tuple[dict[int, int], int]:
    """The persist directory through the last save, and the persist id of the document container."""
    token, offset = struct.unpack_from("<II", user, 12)
    if token == ENCRYPTED_TOKEN:
        raise UnreadableDocument(
            "the presentation is encrypted with a password; send it without the password"
        )
    edits, seen = [], set()
    while offset and offset not in seen:
        seen.add(offset)
        kind, _, start, _ = _record(stream, offset)
        if kind != RT_USER_EDIT:
            raise UnreadableDocument(DAMAGED)
        last, directory_at, document = struct.unpack_from("<III", stream, start + 8)
        edits.append((directory_at, document))
        offset = last
    if not edits:
        raise UnreadableDocument(DAMAGED)
    directory: dict[int, int] = {}
    for directory_at, _ in reversed(edits):
        kind, _, start, end = _record(stream, directory_at)
        if kind != RT_PERSIST_DIRECTORY:
            raise UnreadableDocument(DAMAGED)
        at = start
        while at + 4 <= end:
            (entry,) = struct.unpack_from("<I", stream, at)
            first, count = entry & 0xFFFFF, entry >> 20
            offsets = struct.unpack_from(f"<{count}I", stream, at + 4)
            directory.update(zip(range(first, first + count), offsets, strict=True))
            at += 4 + 4 * count
    return directory, edits[0][1]


def _record(stream: bytes, offset: int) -> tuple[int, int, int, int]:
    """The record at `offset`: its type, instance, and its body's start and end."""
    version_instance, kind, length = struct.unpack_from("<HHI", stream, offset)
    start = offset + HEADER
    if start + length > len(stream):
        raise UnreadableDocument(DAMAGED)
    return kind, version_instance >> 4, start, start + length


def _children(stream: bytes, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """The records inside a container's body: each its type, instance, body start and end."""
    at = start
    while at + HEADER <= end:
        kind, instance, body, body_end = _record(stream, at)
        yield kind, instance, body, min(body_end, end)
        at = body_end


def _is_container(stream: bytes, body: int) -> bool:
    return stream[body - HEADER] & 0x0F == CONTAINER


def _text(stream: bytes, kind: int, start: int, end: int) -> str:
    """A text atom's text, its paragraphs and line breaks as lines; a line that is only a field's mark (`*`,
    where PowerPoint shows a slide number, a date or a footer) left out."""
    data = stream[start:end]
    text = data.decode("utf-16-le", "replace") if kind == RT_TEXT_CHARS else data.decode("latin-1")
    return "\n".join(line for line in text.translate(TEXT_MARKS).split("\n") if line.strip() != FIELD)


def _slide_list(stream: bytes, start: int, end: int) -> list[_Listed]:
    listed: list[_Listed] = []
    for kind, _, body, body_end in _children(stream, start, end):
        if kind == RT_SLIDE_PERSIST:
            persist, _, _, slide_id = struct.unpack_from("<IIiI", stream, body)
            listed.append(_Listed(persist, slide_id))
        elif kind in (RT_TEXT_CHARS, RT_TEXT_BYTES) and listed:
            listed[-1].texts.append(_text(stream, kind, body, body_end))
    return listed


def _shape_blocks(
    stream: bytes, start: int, end: int, listed: _Listed, limits: IngestLimits
) -> list[tuple[str, Any]]:
    """A slide's texts, tables and pictures: its shapes' in drawing order, ("text", a shape's own text or the
    placeholder text its `OutlineTextRefAtom` names), ("table", a table's rows of cell texts) or ("picture",
    the 1-based index in the blip store its `pib` property names), then the placeholder texts no shape named."""
    blocks: list[tuple[str, Any]] = []
    named: set[int] = set()
    for kind, body, body_end, instance in _shape_records(stream, start, end, limits):
        if kind == GROUP:
            rows = _table_rows(stream, body, body_end, listed, named)
            if any(cell.strip() for row in rows for cell in row):
                blocks.append(("table", rows))
        elif kind == OPTIONS:
            blip = picture_index(stream, body, body_end, instance)
            if blip:
                blocks.append(("picture", blip))
        elif kind == OBJECT_REFERENCE:
            blocks.append(("object", struct.unpack_from("<I", stream, body)[0]))
        else:
            blocks.extend(("text", text) for text in _box_texts(stream, body, body_end, listed, named))
    blocks.extend(("text", text) for index, text in enumerate(listed.texts) if index not in named)
    return blocks


def _box_texts(stream: bytes, start: int, end: int, listed: _Listed, named: set[int]) -> list[str]:
    """A client text box's texts: its own, or the placeholder text its `OutlineTextRefAtom` names (once)."""
    texts = []
    for kind, _, body, body_end in _children(stream, start, end):
        if kind == RT_OUTLINE_TEXT_REF:
            (index,) = struct.unpack_from("<I", stream, body)
            if index < len(listed.texts) and index not in named:
                named.add(index)
                texts.append(listed.texts[index])
        elif kind in (RT_TEXT_CHARS, RT_TEXT_BYTES):
            texts.append(_text(stream, kind, body, body_end))
    return texts


def _is_table(stream: bytes, start: int, end: int) -> bool:
    """Whether a group of shapes is a table: its own shape (the group's first) has `tableProperties`."""
    for kind, _, body, body_end in _children(stream, start, end):
        if kind != SHAPE:
            return False
        for inner, count, inner_start, inner_end in _children(stream, body, body_end):
            if inner == TERTIARY_OPTIONS:
                found = properties(stream, inner_start, inner_end, count)
                return any(name == TABLE_PROPERTIES for name, _, _ in found)
        return False
    return False


def _table_rows(stream: bytes, start: int, end: int, listed: _Listed, named: set[int]) -> list[list[str]]:
    """A table's rows: its cells (the group's shapes with a text box) placed by their anchors' top and left
    edges, a row per top, a column per left; a cell another spans is empty."""
    cells = []
    for kind, _, body, body_end in _children(stream, start, end):
        if kind != SHAPE:
            continue
        anchor, texts = None, None
        for inner, _, inner_start, inner_end in _children(stream, body, body_end):
            if inner == CHILD_ANCHOR and inner_end - inner_start >= 16:
                anchor = struct.unpack_from("<ii", stream, inner_start)
            elif inner == CLIENT_TEXTBOX:
                texts = _box_texts(stream, inner_start, inner_end, listed, named)
        if anchor is not None and texts is not None:
            left, top = anchor
            cells.append((top, left, "\n".join(texts)))
    tops = sorted({top for top, _, _ in cells})
    lefts = sorted({left for _, left, _ in cells})
    rows = [[""] * len(lefts) for _ in tops]
    for top, left, text in cells:
        rows[tops.index(top)][lefts.index(left)] = text
    return rows


def _shape_records(
    stream: bytes, start: int, end: int, limits: IngestLimits
) -> Iterator[tuple[int, int, int, int]]:
    """The `OfficeArtClientTextbox` and `OfficeArtFOPT` records under a slide's container, and its tables (a
    group of shapes that `_is_table`, not entered), in record order: each its type, body start and end, and
    instance (an FOPT's count of properties)."""
    open_containers = [_children(stream, start, end)]
    while open_containers:
        found = next(open_containers[-1], None)
        if found is None:
            open_containers.pop()
            continue
        kind, instance, body, body_end = found
        if kind in (CLIENT_TEXTBOX, OPTIONS, OBJECT_REFERENCE) or (
            kind == GROUP and _is_table(stream, body, body_end)
        ):
            yield kind, body, body_end, instance
        elif _is_container(stream, body):
            check_depth(len(open_containers) + 1, limits, "presentation")
            limits.check_time()
            open_containers.append(_children(stream, body, body_end))


class _Objects:
    """The objects the presentation embeds (its `ExObjListContainer`: an `ExOleObjAtom` per object, naming by
    persist id the `ExOleObjStg` that keeps its OLE storage, zlib-compressed where its instance is 1), each read
    where a shape's `ExObjRefAtom` names it, once: shown as its icon, or a file an object wraps, an attachment;
    else its content read with `embedded_blocks`. An object whose storage is damaged, or would inflate past
    the limits, is left out."""

    def __init__(
        self,
        stream: bytes,
        directory: dict[int, int],
        limits: IngestLimits,
        embedded_blocks: Callable[[bytes], list[tuple[str, object]]] | None,
    ) -> None:
        self.stream, self.directory, self.limits, self.embedded_blocks = (
            stream,
            directory,
            limits,
            embedded_blocks,
        )
        self.found: dict[int, tuple[int, bool]] = {}
        self.read: set[int] = set()
        self.attachments: list[Attachment] = []

    def read_list(self, start: int, end: int) -> None:
        for kind, _, body, body_end in _children(self.stream, start, end):
            if kind not in (RT_EMBED, RT_CONTROL):
                continue
            for inner, _, atom, atom_end in _children(self.stream, body, body_end):
                if inner == RT_OLE_OBJECT and atom_end - atom >= 20:
                    aspect, _, object_id, _, persist = struct.unpack_from("<IIIII", self.stream, atom)
                    self.found[object_id] = (persist, aspect == ICON_ASPECT)

    def blocks(self, object_id: int) -> list[tuple[str, object]]:
        from quire.documents.formats import _object_blocks

        if self.embedded_blocks is None or object_id not in self.found or object_id in self.read:
            return []
        self.read.add(object_id)
        persist, icon = self.found[object_id]
        data = self._storage(persist)
        if data is None:
            return []
        part = f"object {object_id}"
        return _object_blocks(data, icon, part, self.attachments, self.limits, self.embedded_blocks)

    def _storage(self, persist: int) -> bytes | None:
        offset = self.directory.get(persist)
        if offset is None:
            return None
        kind, instance, start, end = _record(self.stream, offset)
        if kind != RT_OLE_STORAGE:
            return None
        if instance != COMPRESSED:
            return self.stream[start:end]
        inflater = zlib.decompressobj()
        try:
            data = inflater.decompress(self.stream[start + 4 : end], self.limits.max_unzipped_bytes + 1)
        except zlib.error as exc:
            logger.info("an embedded object was left out: %s", exc)
            return None
        if len(data) > self.limits.max_unzipped_bytes:
            logger.info("an embedded object was left out: it inflates past QUIRE_INGEST_MAX_UNZIPPED_BYTES")
            return None
        return data


def _notes_id(stream: bytes, start: int, end: int) -> int:
    """The slide id of the slide's notes slide (`SlideAtom.notesIdRef`; 0: none)."""
    for kind, _, body, _ in _children(stream, start, end):
        if kind == RT_SLIDE_ATOM:
            return struct.unpack_from("<I", stream, body + 16)[0]
    return 0
