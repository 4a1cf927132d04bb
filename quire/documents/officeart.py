"""Office drawing records ([MS-ODRAW]) as Word 97-2003 and PowerPoint 97-2003 keep pictures: a file record
(FBSE) holds a picture's blip, or names where another stream keeps it (`foDelay`); a blip of a bitmap (JPEG,
PNG, DIB, TIFF) holds the file's bytes after its one or two UIDs and a tag byte. A metafile's blip (EMF, WMF,
PICT) holds no file Pillow opens, so it gives none."""

from __future__ import annotations

import struct
from collections.abc import Iterator

HEADER = 8
CONTAINER = 0xF
FBSE = 0xF007
# A shape's properties (OfficeArtFOPT, its count of properties as its instance, six bytes each): a picture's
# names its blip by its index in the blip store from 1 (`pib`, a property marked as a blip id).
OPTIONS, PIB, PROPERTY_ID, PROPERTY_IS_BLIP = 0xF00B, 0x0104, 0x3FFF, 0x4000
# An FBSE's fixed part: its `foDelay` at 28, the length of its name (which follows the fixed part) at 33.
FBSE_SIZE, FBSE_DELAY, FBSE_NAME_LENGTH = 36, 28, 33
BITMAP_BLIPS = (0xF01D, 0xF02A, 0xF01E, 0xF01F, 0xF029)


def fbse_bitmap(data: bytes, body: int, end: int, delayed: bytes | None = None) -> bytes | None:
    """The bitmap of the FBSE whose body spans `body` to `end` of `data`: its own blip, else the blip at its
    `foDelay` in `delayed` (the stream that keeps blips apart); None for a metafile, a blip kept nowhere given,
    or damaged records."""
    try:
        blip = body + FBSE_SIZE + data[body + FBSE_NAME_LENGTH]
        if blip + HEADER <= end:
            return blip_bitmap(data, blip, end)
        if delayed is None:
            return None
        (offset,) = struct.unpack_from("<I", data, body + FBSE_DELAY)
        return blip_bitmap(delayed, offset, len(delayed))
    except (struct.error, IndexError):
        return None


def blip_bitmap(data: bytes, blip: int, end: int) -> bytes | None:
    """The file bytes of the blip record at `blip` (no further than `end`); None for a metafile's."""
    try:
        version_instance, kind, length = struct.unpack_from("<HHI", data, blip)
    except struct.error:
        return None
    if kind not in BITMAP_BLIPS:
        return None
    start = blip + HEADER + 16 * (1 + (version_instance >> 4 & 1)) + 1
    return data[start : min(end, blip + HEADER + length)] or None


def atoms(data: bytes) -> Iterator[tuple[int, int, int, int]]:
    """The atoms of records laid end to end in `data`, containers entered rather than skipped, so that a
    drawing split over several records (BIFF's MSODRAWING, each holding part of it) reads whole: each its
    type, instance, body start and end (no further than `data`)."""
    at = 0
    while at + HEADER <= len(data):
        version_instance, kind, length = struct.unpack_from("<HHI", data, at)
        if version_instance & 0x0F == CONTAINER:
            at += HEADER
            continue
        yield kind, version_instance >> 4, at + HEADER, min(len(data), at + HEADER + length)
        at += HEADER + length


def blip_store(group: bytes) -> list[tuple[int, int]]:
    """The file records (FBSE) of a drawing group's blip store, in order: each its body's start and end in
    `group` (the drawing group's records), which `fbse_bitmap` reads."""
    return [(start, end) for kind, _, start, end in atoms(group) if kind == FBSE]


def properties(data: bytes, start: int, end: int, count: int) -> Iterator[tuple[int, int, int]]:
    """A shape's properties (`count` of them from `start`, six bytes each): each its id, its flags (a blip id,
    complex data) and its value."""
    for at in range(start, min(end, start + 6 * count) - 5, 6):
        opid, value = struct.unpack_from("<HI", data, at)
        yield opid & PROPERTY_ID, opid & ~PROPERTY_ID, value


def picture_index(data: bytes, start: int, end: int, count: int) -> int:
    """The blip a shape's properties name: `pib`, an index into the blip store from 1; 0 where none."""
    for name, flags, value in properties(data, start, end, count):
        if name == PIB and flags & PROPERTY_IS_BLIP:
            return value
    return 0
