"""Word 97-2003 binary documents (.doc, [MS-DOC]): the main text, then the footnotes and endnotes, then the text
boxes, then the headers and the footers the document shows and their text boxes, read through the piece table
(`Clx` in the table stream), whose pieces are Windows-1252 bytes or UTF-16.

A field shows its result, never its instruction; picture, object and note anchors are left out. A table's
cells are told apart by Word's end-of-cell marks, joined by tabs, and its rows by the row-end mark that follows
a row's last cell, so a row's empty last cell reads as its end. Headers and footers are read as the DOCX reader
reads them: each section's first-page one where the section has a title page, its odd-page (default) one, and
its even-page one where the document has facing pages, a section without its own showing the one before it,
and each paragraph once. Characters the formatting marks as tracked deletions or as hidden text are left
out, as Word shows the document (from the character formatting's FKP pages; a style that hides text is not
read). Text boxes are read after the notes, not where they are anchored; comments are not read. Word 6.0/95
files and encrypted ones are refused.
"""

from __future__ import annotations

import bisect
import io
import itertools
import re
import struct
from collections.abc import Iterator

from quire.documents.layout import OnceEach, ParsedDocument, TextBuilder, UnreadableDocument
from quire.documents.limits import IngestLimits

WORD_STREAM = "WordDocument"
WORD_IDENT = 0xA5EC
# Word 97's FIB version (0x00C0 from its betas on); Word 6.0 and 95 wrote 0x0065 to 0x0068.
WORD97_NFIB = 0x00C0
F_ENCRYPTED = 0x0100
F_WHICH_TABLE = 0x0200
# Indices of FibRgFcLcb97's (fc, lcb) pairs: the sections (PlcfSed), the header stories (PlcfHdd), the character
# formatting (PlcBteChpx), the document properties (Dop) and the piece table (Clx).
FC_PLCF_SED, FC_PLCF_HDD, FC_PLCF_BTE_CHPX, FC_DOP, FC_CLX = 6, 11, 12, 31, 33
FKP_SIZE = 512
# Character properties that take text out of what Word shows: a tracked deletion, hidden text. Their operand
# is 1 (or 0x81, the opposite of the style's, which never sets them) where they hold.
SPRM_DELETED, SPRM_HIDDEN = 0x0800, 0x083C
PROPERTY_ON = (0x01, 0x81)
# PlcfHdd's stories: six note separators, then six per section, at these offsets by kind and page.
SEPARATOR_STORIES, SECTION_STORIES = 6, 6
PAGE_STORIES = {"header": {"first": 4, "odd": 1, "even": 0}, "footer": {"first": 5, "odd": 3, "even": 2}}
SPRM_TITLE_PAGE = 0x300A
# A property's operand width by the top three bits of its sprm (None: a byte giving the width comes first).
OPERAND_WIDTHS = (1, 1, 2, 4, 2, 2, None, 3)
COMPRESSED = 0x40000000

FIELD_BEGIN, FIELD_SEPARATOR, FIELD_END = "\x13", "\x14", "\x15"
CELL = "\x07"
# Anchors (pictures, drawn objects, note references, comment marks) and the optional hyphen show no text;
# Word's line break, non-breaking hyphen and page or section break do.
CHARACTERS = str.maketrans(
    {"\x01": None, "\x02": None, "\x03": None, "\x04": None, "\x05": None, "\x08": None, "\x1f": None,
     "\x0b": "\n", "\x1e": "\u2011", "\x0c": "\r"}
)  # fmt: skip
_PARAGRAPH = re.compile(r"\r+")


def parse_doc(content: bytes, limits: IngestLimits) -> ParsedDocument:
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
    unshown = _unshown(word, table, *pairs[FC_PLCF_BTE_CHPX])
    body, footnotes, headers, comments, endnotes, boxes, header_boxes = counts
    builder = TextBuilder(limits)

    def paragraphs(start: int, end: int) -> list[str]:
        limits.check_time()
        return _PARAGRAPH.split(_shown(_characters(word, pieces, start, end, unshown)))

    endnotes_from = body + footnotes + headers + comments
    boxes_from = endnotes_from + endnotes
    for start, length in ((0, body), (body, footnotes), (endnotes_from, endnotes), (boxes_from, boxes)):
        for paragraph in paragraphs(start, start + length):
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
    return builder.build()


def _header(word: bytes) -> int:
    if len(word) < 32 or struct.unpack_from("<H", word, 0)[0] != WORD_IDENT:
        raise UnreadableDocument("the Word document's header is damaged")
    nfib, flags = struct.unpack_from("<H", word, 2)[0], struct.unpack_from("<H", word, 10)[0]
    if nfib < WORD97_NFIB:
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
            index: struct.unpack_from("<II", word, position + 2 + 8 * index)
            for index in (FC_PLCF_SED, FC_PLCF_HDD, FC_PLCF_BTE_CHPX, FC_DOP, FC_CLX)
        }
    except struct.error:
        raise UnreadableDocument("the Word document's header is damaged") from None
    counts = tuple(max(0, longs[index]) if index < len(longs) else 0 for index in (3, 4, 5, 7, 8, 9, 10))
    return counts, found


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
        (bool(value) for sprm, value in _properties(word[at + 2 : at + 2 + size]) if sprm == SPRM_TITLE_PAGE),
        False,
    )


def _properties(grpprl: bytes) -> Iterator[tuple[int, int]]:
    """Each property (sprm) of a list of them, with the first byte of its operand."""
    position = 0
    while position + 2 < len(grpprl):
        (sprm,) = struct.unpack_from("<H", grpprl, position)
        position += 2
        yield sprm, grpprl[position]
        width = OPERAND_WIDTHS[sprm >> 13]
        position += width if width is not None else 1 + grpprl[position]


def _unshown(word: bytes, table: bytes, fc: int, lcb: int) -> list[tuple[int, int]]:
    """The WordDocument stream's byte ranges whose characters Word does not show (tracked deletions, hidden
    text), read from the character formatting's FKP pages, merged and in order; none where those are damaged."""
    runs = []
    try:
        bounds_of_pages = _plc_cps(table, fc, lcb, data_size=4)
        count = max(0, len(bounds_of_pages) - 1)
        for number in struct.unpack_from(f"<{count}I", table, fc + 4 * len(bounds_of_pages)):
            page = word[(number & 0x3FFFFF) * FKP_SIZE : (number & 0x3FFFFF) * FKP_SIZE + FKP_SIZE]
            if len(page) < FKP_SIZE or 5 * page[-1] + 4 > FKP_SIZE - 1:
                continue
            crun = page[-1]
            bounds = struct.unpack_from(f"<{crun + 1}I", page, 0)
            for index in range(crun):
                at = 2 * page[4 * (crun + 1) + index]
                grpprl = page[at + 1 : at + 1 + page[at]] if at else b""
                if any(
                    sprm in (SPRM_DELETED, SPRM_HIDDEN) and value in PROPERTY_ON
                    for sprm, value in _properties(grpprl)
                ):
                    runs.append((bounds[index], bounds[index + 1]))
    except (struct.error, IndexError):
        return []
    merged: list[tuple[int, int]] = []
    for start, end in sorted(runs):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        elif start < end:
            merged.append((start, end))
    return merged


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
) -> str:
    """The characters from CP `start` to `end`, less those in the `unshown` byte ranges."""
    parts = []
    for first, last, offset, compressed in pieces:
        low, high = max(start, first), min(end, last)
        if low >= high:
            continue
        width = 1 if compressed else 2
        for begin, stop in _kept(offset + width * (low - first), offset + width * (high - first), unshown):
            parts.append(word[begin:stop].decode("cp1252" if compressed else "utf-16-le", errors="replace"))
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
    """The text as Word shows it: each field's result (nested ones too) without its instruction, a row-end
    mark as a line end, other cell marks as tabs, anchors left out."""
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
    joined = "".join(shown).replace(CELL * 2, "\n").replace(CELL, "\t")
    return joined.translate(CHARACTERS)
