"""Word 97-2003 binary documents (.doc, [MS-DOC]): the main text with its text boxes, then the footnotes and
endnotes, then the text boxes the main text does not anchor, then the headers and the footers the document shows
and their text boxes, read through the piece table (`Clx` in the table stream), whose pieces are Windows-1252
bytes or UTF-16.

A field shows its result, never its instruction; picture, object and note anchors are left out. A table's cells are
told apart by Word's end-of-cell marks, joined by tabs, and its rows by the row-end mark, the paragraph the
paragraph formatting marks as a row's end (`sprmPFTtp`); where that formatting cannot be read, by the mark that
follows a row's last cell, so a row's empty last cell reads as its end. Headers and footers are read as the DOCX
reader reads them: each section's first-page one where the section has a title page, its odd-page (default) one,
and its even-page one where the document has facing pages, a section without its own showing the one before it, and
each paragraph once. Characters the formatting marks as tracked deletions or as hidden text are left out, as Word
shows the document: hidden by their paragraph's style, their character style or their own formatting, each read
over the one before (the FKP pages of the character and paragraph formatting, and the style sheet). A text box
whose shape the main text anchors (`PlcSpaMom`'s shape ids matched to `PlcftxbxTxt`'s) is read after the paragraph
holding the anchor, or after the first paragraph past the table holding it (`sprmPFInTable`), outside fields. So
is an object the main text embeds (its character's `sprmCFOle2`, its storage under `ObjectPool` named by
`sprmCPicLocation`) where it is a worksheet or a document, read as that file is read; a file a packager or Acrobat
object wraps (shown as its icon) is an attachment, and a picture (Paintbrush, MS Draw) is left out. A picture the
main text holds inline (its bitmap in the Data stream) or anchors as a floating shape (its blip in the
WordDocument stream) is read by OCR, after the paragraph holding it, where the parser is given `pictures`.
Comments are not read. Word 6.0/95 files and encrypted ones are
refused.
"""

from __future__ import annotations

import bisect
import io
import itertools
import re
import struct
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

from quire.documents.layout import (
    Attachment,
    OnceEach,
    ParsedDocument,
    TextBuilder,
    UnreadableDocument,
    add_blocks,
    attach,
)
from quire.documents.limits import IngestLimits
from quire.documents.officeart import OPTIONS, atoms, blip_store, fbse_bitmap, picture_index

WORD_STREAM = "WordDocument"
WORD_IDENT = 0xA5EC
# The FIB's first word in a Word 6.0 or 95 file.
WORD6_IDENT = 0xA5DC
# Word 97's FIB version (0x00C0 from its betas on); Word 6.0 and 95 wrote 0x0065 to 0x0068.
WORD97_NFIB = 0x00C0
F_ENCRYPTED = 0x0100
F_WHICH_TABLE = 0x0200
# Indices of FibRgFcLcb97's (fc, lcb) pairs: the style sheet (STSH), the sections (PlcfSed), the header stories
# (PlcfHdd), the character and paragraph formatting (PlcBteChpx, PlcBtePapx), the document properties (Dop) and
# the piece table (Clx).
FC_STSHF, FC_PLCF_SED, FC_PLCF_HDD, FC_PLCF_BTE_CHPX, FC_PLCF_BTE_PAPX, FC_DOP, FC_CLX = (
    1,
    6,
    11,
    12,
    13,
    31,
    33,
)
FKP_SIZE = 512
# Character properties that take text out of what Word shows: a tracked deletion, hidden text. Their operand
# is 1 where they hold, 0 where not; 0x80 and 0x81 say the same as, or the opposite of, the style's.
SPRM_DELETED, SPRM_HIDDEN = 0x0800, 0x083C
PROPERTY_ON = (0x01, 0x81)
SAME_AS_STYLE, OPPOSITE_OF_STYLE = 0x80, 0x81
SPRM_CHARACTER_STYLE = 0x4A30
# An embedded object's character: `sprmCFOle2` on, and `sprmCPicLocation` naming its storage, `ObjectPool/_<n>`.
SPRM_OLE, SPRM_PICTURE_LOCATION = 0x080A, 0x6A03
OBJECT_POOL = "ObjectPool"
SPRM_IN_TABLE, SPRM_ROW_END, SPRM_INNER_ROW_END = 0x2416, 0x2417, 0x244C
# Inline pictures' data ([MS-DOC] PICFAndOfficeArtData), at the offset a character's `sprmCPicLocation` gives:
# a PICF (its size, its header's size, its `mfpf.mm`: a picture named in the file after the header where
# MM_SHAPEFILE), then [MS-ODRAW] records, of which a file record (`officeart.FBSE`) holds the picture's blip.
DATA_STREAM = "Data"
MM_SHAPEFILE = 0x0066
# The main text's drawn objects (PlcSpaMom: an FSPA of 26 bytes per anchor, its shape id first) and the text box
# stories (PlcftxbxTxt: an FTXBXS of 22 bytes per story, `fReusable` at 8, the id of its shape at 14).
FC_PLC_SPA_MOM, FC_PLCF_TXBX_TXT = 40, 56
# The drawings (OfficeArtContent, in the table stream): the drawing group (its blip store, each blip kept in the
# WordDocument stream at its file record's `foDelay`), then each drawing after a byte saying whose it is (0 the
# main text's): its shapes, each a shape record (FSP, its id first) and its properties.
FC_DGG_INFO = 50
DGG_CONTAINER, DG_CONTAINER, SHAPE_RECORD, MAIN_DRAWING = 0xF000, 0xF002, 0xF00A, 0
FSPA_SIZE, FTXBXS_SIZE = 26, 22
# The pairs read; one past the FIB's count of pairs is empty.
READ_PAIRS = (
    FC_STSHF, FC_PLCF_SED, FC_PLCF_HDD, FC_PLCF_BTE_CHPX, FC_PLCF_BTE_PAPX, FC_DOP, FC_CLX, FC_PLC_SPA_MOM,
    FC_PLCF_TXBX_TXT, FC_DGG_INFO,
)  # fmt: skip
# A style's character properties are its second UPX for a paragraph style, its first for a character style, its
# third for a table style (by its kind, `stk`); no style is based on 0x0FFF.
STYLE_CHARACTER_UPX = {1: 1, 2: 0, 3: 2}
NO_STYLE = 0x0FFF
# PlcfHdd's stories: six note separators, then six per section, at these offsets by kind and page.
SEPARATOR_STORIES, SECTION_STORIES = 6, 6
PAGE_STORIES = {"header": {"first": 4, "odd": 1, "even": 0}, "footer": {"first": 5, "odd": 3, "even": 2}}
SPRM_TITLE_PAGE = 0x300A
# A property's operand width by the top three bits of its sprm (None: a byte giving the width comes first).
OPERAND_WIDTHS = (1, 1, 2, 4, 2, 2, None, 3)
COMPRESSED = 0x40000000

FIELD_BEGIN, FIELD_SEPARATOR, FIELD_END = "\x13", "\x14", "\x15"
CELL = "\x07"
# A table row's end mark, told apart from a cell's by the paragraph formatting (it reads as a cell mark).
ROW_END = "\x1d"
# Anchors (pictures, drawn objects, note references, comment marks) and the optional hyphen show no text;
# Word's line break, non-breaking hyphen and page or section break do.
CHARACTERS = str.maketrans(
    {"\x01": None, "\x02": None, "\x03": None, "\x04": None, "\x05": None, "\x08": None, "\x1f": None,
     "\x0b": "\n", "\x1e": "\u2011", "\x0c": "\r"}
)  # fmt: skip
_PARAGRAPH = re.compile(r"\r+")
# Paragraph marks and field begin and end marks, in an 8-bit piece and in a UTF-16 one.
_MARKS = {True: re.compile(rb"[\r\x13\x15]"), False: re.compile(rb"[\r\x13\x15]\x00")}


def parse_doc(
    content: bytes,
    limits: IngestLimits,
    embedded_blocks: Callable[[bytes], list[tuple[str, object]]] | None = None,
    pictures: Callable[[bytes], list[tuple[str, object]]] | None = None,
) -> ParsedDocument:
    """The document's text (see the module's docstring); an embedded worksheet or document is read where it
    stands with `embedded_blocks` (none without it), and a picture the main text holds with `pictures`
    (`_inline_pictures`, `_floating_pictures`)."""
    import olefile

    with olefile.OleFileIO(io.BytesIO(content)) as ole:
        if not ole.exists(WORD_STREAM):
            raise UnreadableDocument("the Word document has no WordDocument stream")
        word = ole.openstream(WORD_STREAM).read()
        flags = _header(word)
        table_name = "1Table" if flags & F_WHICH_TABLE else "0Table"
        if not ole.exists(table_name):
            raise UnreadableDocument(f"the Word document has no {table_name} stream")
        table = ole.openstream(table_name).read()
        counts, pairs = _fib(word)
        pieces = _pieces(table, *pairs[FC_CLX])
        runs = _character_formats(word, table, *pairs[FC_PLCF_BTE_CHPX])
        objects = _objects(ole, runs or [], pieces, counts[0]) if embedded_blocks else []
        inline = _inline_pictures(ole, word, runs or [], pieces, counts[0]) if pictures else []
    if pictures:
        inline = sorted(inline + _floating_pictures(word, table, pairs, counts[0]), key=lambda item: item[0])
    formats = _paragraph_formats(word, table, *pairs[FC_PLCF_BTE_PAPX])
    unshown = _unshown(runs, table, pairs, formats)
    row_ends = [paragraph.end for paragraph in formats if paragraph.row_end]
    body, footnotes, headers, comments, endnotes, boxes, header_boxes = counts
    builder = TextBuilder(limits)
    attachments: list[Attachment] = []

    def characters(start: int, end: int) -> str:
        return _characters(word, pieces, start, end, unshown, row_ends)

    def paragraphs(start: int, end: int) -> list[str]:
        limits.check_time()
        return _PARAGRAPH.split(_shown(characters(start, end)))

    endnotes_from = body + footnotes + headers + comments
    boxes_from = endnotes_from + endnotes
    anchored = _anchored_boxes(word, table, pairs, pieces, formats, body, boxes)
    placed = _placed(word, pieces, formats, body, [cp for cp, _ in objects])
    pictured = _placed(word, pieces, formats, body, [cp for cp, _ in inline])
    raw, at = [], 0
    for after, kind, value in sorted(
        [(after, 0, (start, end)) for after, start, end in anchored]
        + [(after, 1, found) for after, (_, found) in zip(placed, objects, strict=True)]
        + [(after, 2, data) for after, (_, data) in zip(pictured, inline, strict=True)],
        key=lambda event: event[:2],
    ):
        limits.check_time()
        raw.append(characters(at, after))
        at = after
        if kind == 0:
            start, end = value
            raw.append(characters(boxes_from + start, boxes_from + end).rstrip("\r") + "\r")
            continue
        for paragraph in _PARAGRAPH.split(_shown("".join(raw))):
            builder.add(paragraph)
        raw = []
        if kind == 2:
            add_blocks(builder, pictures(value))  # type: ignore[misc]
            continue
        name, data, icon, storage = value
        if icon:
            attach(attachments, limits, name, data, part=storage)
        else:
            add_blocks(builder, embedded_blocks(data))  # type: ignore[misc]
    raw.append(characters(at, body))
    for paragraph in _PARAGRAPH.split(_shown("".join(raw))):
        builder.add(paragraph)
    unanchored = [(0, boxes)]
    for _, start, end in sorted(anchored, key=lambda box: box[1]):
        unanchored[-1:] = [(unanchored[-1][0], start), (end, boxes)]
    boxes_left = [(boxes_from + start, boxes_from + end) for start, end in unanchored]
    for start, end in ((body, body + footnotes), (endnotes_from, boxes_from), *boxes_left):
        for paragraph in paragraphs(start, end):
            builder.add(paragraph)
    once = OnceEach(builder)
    headers_from = body + footnotes
    page_parts = [
        (headers_from + start, headers_from + end)
        for start, end in _page_stories(word, table, pairs, headers)
    ]
    header_boxes_from = boxes_from + boxes
    for start, end in [*page_parts, (header_boxes_from, header_boxes_from + header_boxes)]:
        for paragraph in paragraphs(start, end):
            once.add(paragraph)
    parsed = builder.build()
    parsed.attachments = attachments
    return parsed


def _header(word: bytes) -> int:
    ident = struct.unpack_from("<H", word, 0)[0] if len(word) >= 32 else None
    if ident not in (WORD_IDENT, WORD6_IDENT):
        raise UnreadableDocument("the Word document's header is damaged")
    nfib, flags = struct.unpack_from("<H", word, 2)[0], struct.unpack_from("<H", word, 10)[0]
    if ident == WORD6_IDENT or nfib < WORD97_NFIB:
        raise UnreadableDocument("a Word 6.0/95 document, which Quire does not read; save it as DOCX")
    if flags & F_ENCRYPTED:
        raise UnreadableDocument(
            "the Word document is encrypted with a password; send it without the password"
        )
    return flags


def _fib(word: bytes) -> tuple[tuple[int, ...], dict[int, tuple[int, int]]]:
    """The character counts of the main text, footnotes, headers, comments, endnotes, text boxes and the
    headers' text boxes, and where the structures Quire reads lie in the table stream ((fc, lcb) by index among
    FibRgFcLcb97's pairs), read through the FIB's variable-length parts."""
    try:
        position = 32
        (csw,) = struct.unpack_from("<H", word, position)
        position += 2 + 2 * csw
        (cslw,) = struct.unpack_from("<H", word, position)
        longs = struct.unpack_from(f"<{cslw}i", word, position + 2)
        position += 2 + 4 * cslw
        (pairs,) = struct.unpack_from("<H", word, position)
        if cslw < 9 or pairs <= FC_CLX:
            raise UnreadableDocument("the Word document's header is damaged")
        found = {
            index: struct.unpack_from("<II", word, position + 2 + 8 * index) if index < pairs else (0, 0)
            for index in READ_PAIRS
        }
    except struct.error:
        raise UnreadableDocument("the Word document's header is damaged") from None
    counts = tuple(max(0, longs[index]) if index < len(longs) else 0 for index in (3, 4, 5, 7, 8, 9, 10))
    return counts, found


def _anchored_boxes(
    word: bytes,
    table: bytes,
    pairs: dict[int, tuple[int, int]],
    pieces: list[tuple[int, int, int, bool]],
    paragraphs: list[_Paragraph],
    body: int,
    boxes: int,
) -> list[tuple[int, int, int]]:
    """The text box stories whose shapes the main text anchors, as (where its text is read, first and end CP in
    the text box document), in reading order: after the first paragraph at or after the anchor that ends
    outside any field and any table (the paragraph holding the anchor, or the one after the table holding it).
    None where those structures are damaged."""
    try:
        shapes = _shape_anchors(table, *pairs[FC_PLC_SPA_MOM])
        stories = [
            (shapes[shape], start, end)
            for shape, start, end in _box_stories(table, *pairs[FC_PLCF_TXBX_TXT], boxes)
            if shape in shapes and shapes[shape] < body
        ]
    except (struct.error, IndexError):
        return []
    if not stories:
        return []
    places = _placed(word, pieces, paragraphs, body, [anchor for anchor, _, _ in stories])
    placed = [(place, start, end) for place, (_, start, end) in zip(places, stories, strict=True)]
    return sorted(placed, key=lambda box: box[0])


def _placed(
    word: bytes,
    pieces: list[tuple[int, int, int, bool]],
    paragraphs: list[_Paragraph],
    body: int,
    cps: list[int],
) -> list[int]:
    """Where what the main text anchors at each CP is read: after the first paragraph at or after it that ends
    outside any field and any table."""
    if not cps:
        return []
    ends = _paragraph_ends(word, pieces, body, [(p.start, p.end) for p in paragraphs if p.in_table])
    return [ends[index] if (index := bisect.bisect_right(ends, cp)) < len(ends) else body for cp in cps]


def _objects(ole, runs: list[_Run], pieces: list[tuple[int, int, int, bool]], body: int) -> list:
    """The objects the main text embeds, each once, in order: (the CP of its character, (its name, its file,
    whether it is a file shown as its icon, a name for it where it has none)))."""
    from quire.documents.formats import embedded_file, storage_file

    found, seen = [], set()
    for run in runs:
        if not run.ole:
            continue
        cp = _cp_at(pieces, run.start)
        storage = [OBJECT_POOL, f"_{run.picture}"]
        if cp is None or cp >= body or run.picture in seen or not ole.exists("/".join(storage)):
            continue
        seen.add(run.picture)
        name, data, wrapped = embedded_file(storage_file(ole, storage))
        found.append((cp, (name, data, wrapped, f"object {run.picture}")))
    return sorted(found, key=lambda item: item[0])


def _inline_pictures(
    ole, word: bytes, runs: list[_Run], pieces: list[tuple[int, int, int, bool]], body: int
) -> list[tuple[int, bytes]]:
    """The pictures the main text holds inline, in order: (the CP of its character, `\\x01` formatted with the
    `sprmCPicLocation` of its data in the Data stream, not an object's), the picture file
    `_picture_file` finds there."""
    if not ole.exists(DATA_STREAM):
        return []
    data = ole.openstream(DATA_STREAM).read()
    found = []
    for run in runs:
        if run.ole or run.picture is None:
            continue
        for fc in range(run.start, run.end):
            cp = _cp_at(pieces, fc)
            if cp is None or cp >= body or not _is_picture_mark(word, pieces, fc):
                continue
            picture = _picture_file(data, run.picture)
            if picture is not None:
                found.append((cp, picture))
            break
    return sorted(found, key=lambda item: item[0])


def _floating_pictures(
    word: bytes, table: bytes, pairs: dict[int, tuple[int, int]], body: int
) -> list[tuple[int, bytes]]:
    """The pictures the main text anchors as floating shapes (`PlcSpaMom`'s anchors by shape id), as (the CP
    of its anchor, the bitmap its properties name in the drawing group's blip store); none where those
    structures are missing or damaged."""
    try:
        anchors = _shape_anchors(table, *pairs[FC_PLC_SPA_MOM])
        fc, size = pairs[FC_DGG_INFO]
        if not anchors or not size:
            return []
        _, kind, length = struct.unpack_from("<HHI", table, fc)
        if kind != DGG_CONTAINER:
            return []
        group = table[fc + 8 : fc + 8 + length]
        store = blip_store(group)
        found = []
        at, end = fc + 8 + length, fc + size
        while at + 9 <= end:
            label = table[at]
            _, kind, length = struct.unpack_from("<HHI", table, at + 1)
            drawing = table[at + 9 : at + 9 + length]
            at += 9 + length
            if label != MAIN_DRAWING or kind != DG_CONTAINER:
                continue
            shape = None
            for atom, instance, start, stop in atoms(drawing):
                if atom == SHAPE_RECORD:
                    (shape,) = struct.unpack_from("<I", drawing, start)
                elif atom == OPTIONS and shape in anchors and anchors[shape] < body:
                    blip = picture_index(drawing, start, stop, instance)
                    bitmap = fbse_bitmap(group, *store[blip - 1], word) if 0 < blip <= len(store) else None
                    if bitmap is not None:
                        found.append((anchors[shape], bitmap))
    except (struct.error, IndexError):
        return []
    return found


def _is_picture_mark(word: bytes, pieces: list[tuple[int, int, int, bool]], fc: int) -> bool:
    """Whether the character at byte `fc` is a picture's mark, `\\x01` (its first byte in a UTF-16 piece)."""
    for first, last, offset, compressed in pieces:
        width = 1 if compressed else 2
        if offset <= fc < offset + width * (last - first) and (fc - offset) % width == 0:
            return word[fc : fc + width] == (b"\x01", b"\x01\x00")[width - 1]
    return False


def _picture_file(data: bytes, offset: int) -> bytes | None:
    """The picture file of the PICFAndOfficeArtData at `offset` of the Data stream ([MS-DOC] PICF, then
    [MS-ODRAW]'s OfficeArtInlineSpContainer: the shape, then a file record, FBSE, holding the picture's
    record, its blip): a bitmap's bytes (JPEG, PNG, TIFF; a DIB's too, without a file header, which OCR leaves
    out); None for a metafile, a blip kept elsewhere, or damaged data."""
    try:
        size, header = struct.unpack_from("<IH", data, offset)
        end = min(len(data), offset + size)
        position = offset + header
        if struct.unpack_from("<H", data, offset + 6)[0] == MM_SHAPEFILE:
            position += 1 + data[position]
    except (struct.error, IndexError):
        return None
    records = data[position:end]
    store = blip_store(records)
    return fbse_bitmap(records, *store[0]) if store else None


def _cp_at(pieces: list[tuple[int, int, int, bool]], fc: int) -> int | None:
    """The CP of the character at byte `fc` of the WordDocument stream; None where no piece holds it."""
    for first, last, offset, compressed in pieces:
        width = 1 if compressed else 2
        if offset <= fc < offset + width * (last - first):
            return first + (fc - offset) // width
    return None


def _shape_anchors(table: bytes, fc: int, lcb: int) -> dict[int, int]:
    """The main text's drawn objects: shape id to the CP of its anchor."""
    cps = _plc_cps(table, fc, lcb, data_size=FSPA_SIZE)
    anchors = {}
    for index in range(len(cps) - 1):
        (shape,) = struct.unpack_from("<i", table, fc + 4 * len(cps) + FSPA_SIZE * index)
        anchors.setdefault(shape, cps[index])
    return anchors


def _box_stories(table: bytes, fc: int, lcb: int, boxes: int) -> list[tuple[int, int, int]]:
    """The text box document's stories in use, as (the id of the shape holding it, first CP, end CP); the last
    entry, which closes the document, and reusable ones are left out."""
    cps = _plc_cps(table, fc, lcb, data_size=FTXBXS_SIZE)
    stories = []
    for index in range(len(cps) - 2):
        at = fc + 4 * len(cps) + FTXBXS_SIZE * index
        (reusable,) = struct.unpack_from("<H", table, at + 8)
        (shape,) = struct.unpack_from("<i", table, at + 14)
        start, end = cps[index], min(cps[index + 1], boxes)
        if not reusable and shape and start < end:
            stories.append((shape, start, end))
    return stories


def _paragraph_ends(
    word: bytes, pieces: list[tuple[int, int, int, bool]], end: int, in_table: list[tuple[int, int]]
) -> list[int]:
    """The CPs just after each paragraph mark of the main text (up to `end`) outside any field and any table
    (`in_table`: the byte ranges of paragraphs in tables), in order."""
    starts = [low for low, _ in in_table]
    ends, depth = [], 0
    for first, last, offset, compressed in pieces:
        if first >= end:
            break
        width = 1 if compressed else 2
        data = word[offset : offset + width * (min(last, end) - first)]
        for match in _MARKS[compressed].finditer(data):
            if match.start() % width:
                continue
            mark, cp = data[match.start()], first + match.start() // width
            if mark == 0x13:
                depth += 1
            elif mark == 0x15:
                depth = max(0, depth - 1)
            elif mark == 0x0D and not depth:
                fc = offset + width * (cp - first)
                index = bisect.bisect_right(starts, fc) - 1
                if index < 0 or fc >= in_table[index][1]:
                    ends.append(cp + 1)
    return ends


def _page_stories(
    word: bytes, table: bytes, pairs: dict[int, tuple[int, int]], length: int
) -> list[tuple[int, int]]:
    """The headers, then the footers, the sections show, each once, as ranges of the header document's CPs;
    none where the structures that place them are damaged."""
    try:
        cps = _plc_cps(table, *pairs[FC_PLCF_HDD])
        title_pages = _title_pages(word, table, *pairs[FC_PLCF_SED])
        fc_dop, lcb_dop = pairs[FC_DOP]
        facing = lcb_dop > 0 and bool(table[fc_dop] & 1)
    except (struct.error, IndexError):
        return []
    if any(b < a for a, b in itertools.pairwise(cps)):
        return []
    cps = tuple(min(cp, length) for cp in cps)
    shown: dict[str, list[tuple[int, int]]] = {"header": [], "footer": []}
    current: dict[tuple[str, str], tuple[int, int]] = {}
    for section, title_page in enumerate(title_pages):
        for kind, pages in PAGE_STORIES.items():
            for page, offset in pages.items():
                story = SEPARATOR_STORIES + SECTION_STORIES * section + offset
                if story + 1 < len(cps) and cps[story] < cps[story + 1]:
                    current[kind, page] = (cps[story], cps[story + 1])
                if (page == "first" and not title_page) or (page == "even" and not facing):
                    continue
                if (kind, page) in current and current[kind, page] not in shown[kind]:
                    shown[kind].append(current[kind, page])
    return shown["header"] + shown["footer"]


def _plc_cps(table: bytes, fc: int, lcb: int, data_size: int = 0) -> tuple[int, ...]:
    """The CPs of a PLC of `lcb` bytes at `fc` whose data elements are `data_size` bytes each."""
    if lcb < 4:
        return ()
    count = (lcb - 4) // (4 + data_size)
    return struct.unpack_from(f"<{count + 1}I", table, fc)


def _title_pages(word: bytes, table: bytes, fc: int, lcb: int) -> list[bool]:
    """Per section, whether it has a title page (`sprmSFTitlePage` in its properties); one section without one
    where the document lists none."""
    cps = _plc_cps(table, fc, lcb, data_size=12)
    titles = []
    for index in range(len(cps) - 1):
        (fc_sepx,) = struct.unpack_from("<i", table, fc + 4 * len(cps) + 12 * index + 2)
        titles.append(fc_sepx >= 0 and _section_title_page(word, fc_sepx))
    return titles or [False]


def _section_title_page(word: bytes, at: int) -> bool:
    (size,) = struct.unpack_from("<H", word, at)
    return next(
        (
            operand[0] != 0
            for sprm, operand in _properties(word[at + 2 : at + 2 + size])
            if sprm == SPRM_TITLE_PAGE and operand
        ),
        False,
    )


def _properties(grpprl: bytes) -> Iterator[tuple[int, bytes]]:
    """Each property (sprm) of a list of them, with its operand."""
    position = 0
    while position + 2 < len(grpprl):
        (sprm,) = struct.unpack_from("<H", grpprl, position)
        position += 2
        width = OPERAND_WIDTHS[sprm >> 13]
        if width is None:
            width, position = grpprl[position], position + 1
        yield sprm, grpprl[position : position + width]
        position += width


def _unshown(
    runs: list[_Run] | None, table: bytes, pairs: dict[int, tuple[int, int]], paragraphs: list[_Paragraph]
) -> list[tuple[int, int]]:
    """The WordDocument stream's byte ranges whose characters Word does not show, merged and in order: tracked
    deletions, and hidden text (`sprmCFVanish`) as the characters' own formatting, their character style
    (`sprmCIstd`) and their paragraph's style give it, each over the one before. Read from the character
    formatting's runs, the paragraph formatting and the style sheet; none where the character formatting is
    damaged (`runs` None), no hiding by styles where the style sheet or the paragraph formatting is."""
    if runs is None:
        return []
    try:
        styles = _styles_hiding(table, *pairs[FC_STSHF])
    except (struct.error, IndexError):
        styles = []
    if not any(styles):
        paragraphs = []

    def hides(istd: int | None) -> bool | None:
        return styles[istd] if istd is not None and 0 <= istd < len(styles) else None

    hidden = []
    bounds = sorted({at for start, end, *_ in (*runs, *paragraphs) for at in (start, end)})
    run_at, paragraph_at = 0, 0
    for start, end in itertools.pairwise(bounds):
        while run_at < len(runs) and runs[run_at][1] <= start:
            run_at += 1
        while paragraph_at < len(paragraphs) and paragraphs[paragraph_at].end <= start:
            paragraph_at += 1
        run = runs[run_at] if run_at < len(runs) and runs[run_at][0] <= start else None
        paragraph = (
            paragraphs[paragraph_at]
            if paragraph_at < len(paragraphs) and paragraphs[paragraph_at].start <= start
            else None
        )
        by_style = bool(hides(paragraph.style) if paragraph else False)
        if run is None:
            if by_style:
                hidden.append((start, end))
            continue
        if (styled := hides(run.style)) is not None:
            by_style = styled
        if run.deleted or _vanished(run.vanish, by_style):
            hidden.append((start, end))
    merged: list[tuple[int, int]] = []
    for start, end in hidden:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        elif start < end:
            merged.append((start, end))
    return merged


def _vanished(value: int | None, inherited: bool) -> bool:
    """A `sprmCFVanish` operand read over what it is set on top of: 0 and 1 as they say, 0x80 the same as
    `inherited`, 0x81 its opposite; none, `inherited`."""
    if value is None or value == SAME_AS_STYLE:
        return inherited
    if value == OPPOSITE_OF_STYLE:
        return not inherited
    return bool(value)


def _fkp_pages(word: bytes, table: bytes, fc: int, lcb: int, entry_size: int) -> Iterator[tuple[bytes, int]]:
    """The FKP pages a PlcBte (character or paragraph formatting) lists, each with its count of runs; a page
    whose count cannot fit is left out."""
    bounds_of_pages = _plc_cps(table, fc, lcb, data_size=4)
    count = max(0, len(bounds_of_pages) - 1)
    for number in struct.unpack_from(f"<{count}I", table, fc + 4 * len(bounds_of_pages)):
        page = word[(number & 0x3FFFFF) * FKP_SIZE : (number & 0x3FFFFF) * FKP_SIZE + FKP_SIZE]
        if len(page) == FKP_SIZE and (entry_size + 4) * page[-1] + 4 <= FKP_SIZE - 1:
            yield page, page[-1]


class _Run(NamedTuple):
    """A run of character formatting: its byte range, whether it is a tracked deletion, its `sprmCFVanish`
    operand and its character style (`sprmCIstd`), each None where the run does not set it, and whether it is an
    embedded object's character (`sprmCFOle2`) with the storage number `sprmCPicLocation` gives."""

    start: int
    end: int
    deleted: bool
    vanish: int | None
    style: int | None
    ole: bool
    picture: int | None


def _character_formats(word: bytes, table: bytes, fc: int, lcb: int) -> list[_Run] | None:
    """The runs of character formatting (`_character_runs`); None where the formatting is damaged."""
    try:
        return list(_character_runs(word, table, fc, lcb))
    except (struct.error, IndexError):
        return None


def _character_runs(word: bytes, table: bytes, fc: int, lcb: int) -> Iterator[_Run]:
    for page, crun in _fkp_pages(word, table, fc, lcb, entry_size=1):
        bounds = struct.unpack_from(f"<{crun + 1}I", page, 0)
        for index in range(crun):
            at = 2 * page[4 * (crun + 1) + index]
            deleted, vanish, style, ole, picture = False, None, None, False, None
            for sprm, operand in _properties(page[at + 1 : at + 1 + page[at]] if at else b""):
                if sprm == SPRM_DELETED and operand:
                    deleted = deleted or operand[0] in PROPERTY_ON
                elif sprm == SPRM_HIDDEN and operand:
                    vanish = operand[0]
                elif sprm == SPRM_CHARACTER_STYLE and len(operand) == 2:
                    style = int.from_bytes(operand, "little")
                elif sprm == SPRM_OLE and operand:
                    ole = operand[0] in PROPERTY_ON
                elif sprm == SPRM_PICTURE_LOCATION and len(operand) == 4:
                    picture = int.from_bytes(operand, "little")
            yield _Run(bounds[index], bounds[index + 1], deleted, vanish, style, ole, picture)


class _Paragraph(NamedTuple):
    """A run of paragraph formatting: its byte range, its paragraph style (0, Normal, where none is given),
    whether it is in a table (`sprmPFInTable`) and whether it is a table row's end mark (`sprmPFTtp`, or
    `sprmPFInnerTtp` in a nested table)."""

    start: int
    end: int
    style: int
    in_table: bool
    row_end: bool


def _paragraph_formats(word: bytes, table: bytes, fc: int, lcb: int) -> list[_Paragraph]:
    """The paragraph formatting's runs, from its FKP pages; none where they are damaged."""
    try:
        return list(_paragraph_runs(word, table, fc, lcb))
    except (struct.error, IndexError):
        return []


def _paragraph_runs(word: bytes, table: bytes, fc: int, lcb: int) -> Iterator[_Paragraph]:
    for page, crun in _fkp_pages(word, table, fc, lcb, entry_size=13):
        bounds = struct.unpack_from(f"<{crun + 1}I", page, 0)
        for index in range(crun):
            at = 2 * page[4 * (crun + 1) + 13 * index]
            style, flags = 0, set()
            if at:
                start, size = (at + 2, 2 * page[at + 1]) if page[at] == 0 else (at + 1, 2 * page[at] - 1)
                if start + 2 <= FKP_SIZE:
                    (style,) = struct.unpack_from("<H", page, start)
                    flags = {
                        sprm
                        for sprm, operand in _properties(page[start + 2 : start + size])
                        if operand[:1] == b"\x01"
                    }
            yield _Paragraph(
                bounds[index],
                bounds[index + 1],
                style,
                SPRM_IN_TABLE in flags,
                bool(flags & {SPRM_ROW_END, SPRM_INNER_ROW_END}),
            )


def _styles_hiding(table: bytes, fc: int, lcb: int) -> list[bool | None]:
    """Per style of the style sheet (STSH), whether it hides text (`sprmCFVanish` in its character properties,
    read over the style it is based on), None where neither it nor a style it is based on says."""
    sheet = table[fc : fc + lcb]
    if lcb < 6:
        return []
    size, count, base_size = struct.unpack_from("<HHH", sheet, 0)
    position = 2 + size
    own: list[int | None] = []
    bases: list[int] = []
    for _ in range(count):
        (length,) = struct.unpack_from("<H", sheet, position)
        std = sheet[position + 2 : position + 2 + length]
        position += 2 + length
        own.append(None)
        bases.append(NO_STYLE)
        if length < base_size + 2:
            continue
        kind, base = std[2] & 0x0F, struct.unpack_from("<H", std, 2)[0] >> 4
        upx_count = std[4] & 0x0F
        (name_length,) = struct.unpack_from("<H", std, base_size)
        at = base_size + 2 + 2 * name_length + 2
        upxs = []
        for _ in range(upx_count):
            if at + 2 > len(std):
                break
            (upx_size,) = struct.unpack_from("<H", std, at)
            upxs.append(std[at + 2 : at + 2 + upx_size])
            at += 2 + upx_size + upx_size % 2
        character = (
            upxs[STYLE_CHARACTER_UPX[kind]]
            if kind in STYLE_CHARACTER_UPX and len(upxs) > STYLE_CHARACTER_UPX[kind]
            else b""
        )
        bases[-1] = base
        for sprm, operand in _properties(character):
            if sprm == SPRM_HIDDEN and operand:
                own[-1] = operand[0]
    resolved: dict[int, bool | None] = {}

    def resolve(istd: int, depth: int = 0) -> bool | None:
        if istd in resolved:
            return resolved[istd]
        if not 0 <= istd < len(own) or depth > len(own):
            return None
        base = resolve(bases[istd], depth + 1) if bases[istd] != NO_STYLE else None
        value = own[istd]
        resolved[istd] = base if value is None else _vanished(value, bool(base))
        return resolved[istd]

    return [resolve(istd) for istd in range(len(own))]


def _pieces(table: bytes, fc_clx: int, lcb_clx: int) -> list[tuple[int, int, int, bool]]:
    """The piece table: (first CP, end CP, byte offset in the WordDocument stream, whether 8-bit) per piece."""
    clx = table[fc_clx : fc_clx + lcb_clx]
    position = 0
    try:
        while position < len(clx) and clx[position] == 0x01:
            (size,) = struct.unpack_from("<h", clx, position + 1)
            position += 3 + max(0, size)
        if position >= len(clx) or clx[position] != 0x02:
            raise UnreadableDocument("the Word document has no piece table")
        (size,) = struct.unpack_from("<I", clx, position + 1)
        plc = clx[position + 5 : position + 5 + size]
        count = (len(plc) - 4) // 12
        cps = struct.unpack_from(f"<{count + 1}I", plc, 0)
        pieces = []
        for index in range(count):
            (fc,) = struct.unpack_from("<I", plc, 4 * (count + 1) + 8 * index + 2)
            compressed = bool(fc & COMPRESSED)
            offset = (fc & ~COMPRESSED) // 2 if compressed else fc
            pieces.append((cps[index], cps[index + 1], offset, compressed))
    except struct.error:
        raise UnreadableDocument("the Word document's piece table is damaged") from None
    return pieces


def _characters(
    word: bytes,
    pieces: list[tuple[int, int, int, bool]],
    start: int,
    end: int,
    unshown: list[tuple[int, int]],
    row_ends: Sequence[int] = (),
) -> str:
    """The characters from CP `start` to `end`, less those in the `unshown` byte ranges; a table row's end
    mark (the paragraph mark that ends at a byte offset of `row_ends`) as ROW_END."""
    parts = []
    for first, last, offset, compressed in pieces:
        low, high = max(start, first), min(end, last)
        if low >= high:
            continue
        width = 1 if compressed else 2
        for begin, stop in _kept(offset + width * (low - first), offset + width * (high - first), unshown):
            chunk = word[begin:stop].decode("cp1252" if compressed else "utf-16-le", errors="replace")
            marks = row_ends[bisect.bisect_right(row_ends, begin) : bisect.bisect_right(row_ends, stop)]
            if marks and (compressed or "\ufffd" not in chunk) and len(chunk) == (stop - begin) // width:
                letters = list(chunk)
                for mark in marks:
                    if letters[(mark - begin) // width - 1] == CELL:
                        letters[(mark - begin) // width - 1] = ROW_END
                chunk = "".join(letters)
            parts.append(chunk)
    return "".join(parts)


def _kept(begin: int, stop: int, unshown: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """The parts of the byte range [begin, stop) outside the `unshown` ranges."""
    index = max(0, bisect.bisect_right(unshown, (begin, begin)) - 1)
    for low, high in unshown[index:]:
        if low >= stop:
            break
        if high <= begin:
            continue
        if low > begin:
            yield begin, low
        begin = max(begin, high)
    if begin < stop:
        yield begin, stop


def _shown(text: str) -> str:
    """The text as Word shows it: each field's result (nested ones too) without its instruction, a row's end
    as a line end (ROW_END where the paragraph formatting marks it, else the second of two cell marks in a row),
    other cell marks as tabs, anchors left out."""
    shown: list[str] = []
    fields: list[bool] = []  # per open field: whether its result has begun
    for piece in re.split(r"([\x13\x14\x15])", text):
        if piece == FIELD_BEGIN:
            fields.append(False)
        elif piece == FIELD_SEPARATOR:
            if fields:
                fields[-1] = True
        elif piece == FIELD_END:
            if fields:
                fields.pop()
        elif all(fields):
            shown.append(piece)
    joined = "".join(shown)
    if ROW_END in joined:
        joined = joined.replace(CELL + ROW_END, "\n").replace(ROW_END, "\n")
    else:
        joined = joined.replace(CELL * 2, "\n")
    return joined.replace(CELL, "\t").translate(CHARACTERS)
