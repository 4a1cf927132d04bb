"""Word 97-2003 binary documents (.doc, [MS-DOC]): the main text, then the footnotes and endnotes, read through
the piece table (`Clx` in the table stream), whose pieces are Windows-1252 bytes or UTF-16.

A field shows its result, never its instruction; picture, object and note anchors are left out. A table's
cells are told apart by Word's end-of-cell marks, joined by tabs, and its rows by the row-end mark that follows
a row's last cell, so a row's empty last cell reads as its end. Headers, footers, comments and text boxes are
not read; neither is formatting, so hidden text and tracked deletions stay in the text (accept the changes in
Word first). Word 6.0/95 files and encrypted ones are refused.
"""

from __future__ import annotations

import io
import re
import struct

from quire.documents.layout import ParsedDocument, TextBuilder, UnreadableDocument
from quire.documents.limits import IngestLimits

WORD_STREAM = "WordDocument"
WORD_IDENT = 0xA5EC
# Word 97's FIB version (0x00C0 from its betas on); Word 6.0 and 95 wrote 0x0065 to 0x0068.
WORD97_NFIB = 0x00C0
F_ENCRYPTED = 0x0100
F_WHICH_TABLE = 0x0200
FC_CLX = 33  # the index of fcClx/lcbClx among FibRgFcLcb97's pairs
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
    counts, fc_clx, lcb_clx = _fib(word)
    pieces = _pieces(table, fc_clx, lcb_clx)
    body, footnotes, headers, comments, endnotes = counts
    builder = TextBuilder(limits)
    endnotes_from = body + footnotes + headers + comments
    for start, length in ((0, body), (body, footnotes), (endnotes_from, endnotes)):
        limits.check_time()
        for paragraph in _PARAGRAPH.split(_shown(_characters(word, pieces, start, start + length))):
            builder.add(paragraph)
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


def _fib(word: bytes) -> tuple[tuple[int, ...], int, int]:
    """The character counts of the main text, footnotes, headers, comments and endnotes, and where the `Clx`
    lies in the table stream, read through the FIB's variable-length parts."""
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
        fc_clx, lcb_clx = struct.unpack_from("<II", word, position + 2 + 8 * FC_CLX)
    except struct.error:
        raise UnreadableDocument("the Word document's header is damaged") from None
    counts = tuple(max(0, longs[index]) for index in (3, 4, 5, 7, 8))
    return counts, fc_clx, lcb_clx


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


def _characters(word: bytes, pieces: list[tuple[int, int, int, bool]], start: int, end: int) -> str:
    parts = []
    for first, last, offset, compressed in pieces:
        low, high = max(start, first), min(end, last)
        if low >= high:
            continue
        width = 1 if compressed else 2
        data = word[offset + width * (low - first) : offset + width * (high - first)]
        parts.append(data.decode("cp1252" if compressed else "utf-16-le", errors="replace"))
    return "".join(parts)


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
