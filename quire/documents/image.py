"""Scans and photographs of pages (PNG, JPEG, TIFF, GIF, BMP, WebP, HEIC) to text by OCR: each frame of a TIFF a
page (a scanner's or a fax's multi-page file), of the other types the first frame (a GIF's or WebP's animation is
not pages, a HEIF file's primary image comes first); lines with their boxes in points at the resolution the
image declares."""

from __future__ import annotations

import functools
import io
import logging
import math
import warnings
from statistics import fmean

from common.refusals import ErrorCode
from quire.documents.layout import PageCallback, ParsedDocument, TextBuilder, UnreadableDocument
from quire.documents.limits import (
    IngestLimits,
    LimitExceeded,
    check_image_pixels,
    check_ocr_pages,
    check_pages,
)
from quire.documents.ocr import OcrMemo, add_ocr_lines, ocr_image, ocr_remembered, word_count

logger = logging.getLogger(__name__)
# A resolution outside this range is a writer's placeholder (0, 1, 65535), not the scan's: such an image is
# taken at ASSUMED_DPI, a pixel a point.
DPI_RANGE = (50.0, 2400.0)
ASSUMED_DPI = 72.0


def parse_image(
    content: bytes, limits: IngestLimits, on_page: PageCallback | None = None, ocr_memo: OcrMemo | None = None
) -> ParsedDocument:
    """Each page of the image read by Tesseract; raises UnreadableDocument for bytes Pillow cannot decode and
    LimitExceeded for more pages, or a page of more pixels, than `limits` allow."""
    image = open_image(content, limits)
    with image:
        total = page_total(image)
        check_pages(total, limits, "image")
        check_ocr_pages(total, limits)
        builder = TextBuilder(limits)
        sizes, confidences = [], []
        for number in range(1, total + 1):
            limits.check_time()
            page, dpi = page_frame(image, number, limits)
            builder.new_page()
            scale = dpi / 72
            sizes.append([round(page.width / scale, 2), round(page.height / scale, 2)])
            found, scores = ocr_remembered(
                ocr_memo, number, functools.partial(ocr_image, page, scale, limits)
            )
            confidences.extend(scores)
            add_ocr_lines(builder, found)
            if on_page is not None:
                on_page(number, total)
    confidence = round(fmean(confidences), 1) if confidences else None
    parsed = builder.build(ocr_pages=list(range(1, total + 1)), ocr_confidence=confidence)
    parsed.page_sizes = sizes
    return parsed


def open_image(content: bytes, limits: IngestLimits):
    """The image Pillow opens (its header read, no pixels decoded); UnreadableDocument for bytes it cannot,
    LimitExceeded for an image of more pixels than it may decode (Pillow's own bound on decompression bombs is
    the same refusal)."""
    from PIL import Image, UnidentifiedImageError

    _heif_opener()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(content))
    except Image.DecompressionBombError:
        raise LimitExceeded(
            ErrorCode.DOCUMENT_TOO_LARGE,
            f"the image has more than {2 * Image.MAX_IMAGE_PIXELS} pixels, more than Quire decodes",
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UnreadableDocument(f"the image is damaged or of a kind Quire does not decode: {exc}") from None
    return image


@functools.cache
def _heif_opener() -> None:
    """Let Pillow open HEIF/HEIC photos (pi-heif's decoder), once a process."""
    import pi_heif

    pi_heif.register_heif_opener()


def page_total(image) -> int:
    return getattr(image, "n_frames", 1) if image.format == "TIFF" else 1


def page_frame(image, number: int, limits: IngestLimits):
    """Page `number` (1-based) of `image` as Tesseract reads it, and its resolution in dpi: turned as its
    EXIF orientation says (a phone's photo), its pixels made square (a fax's 204 x 98 dpi stretched to 204 x
    196), scaled down to `limits.max_ocr_pixels` where it holds more (a JPEG decoded at a reduced scale
    already), transparency laid on white, and in grey or RGB. LimitExceeded past `check_image_pixels`;
    UnreadableDocument where the pixels do not decode (a file cut short)."""
    from PIL import Image, ImageOps

    image.seek(number - 1)
    check_image_pixels(number, image.width * image.height, limits)
    x_dpi, y_dpi = _resolution(image)
    dpi = max(x_dpi, y_dpi)
    width, height = image.width * dpi / x_dpi, image.height * dpi / y_dpi
    shrink = min(1.0, math.sqrt(limits.max_ocr_pixels / (width * height)))
    size = (max(1, round(width * shrink)), max(1, round(height * shrink)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            if image.getexif().get(EXIF_ORIENTATION, 1) in TURNED_ORIENTATIONS:
                size = size[::-1]
            if shrink < 1 and image.format == "JPEG":
                image.draft(image.mode, (math.ceil(image.width * shrink), math.ceil(image.height * shrink)))
            frame = _readable(ImageOps.exif_transpose(image))
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnreadableDocument(f"page {number} of the image is damaged: {exc}") from None
    if frame.size != size:
        frame = frame.resize(size, Image.Resampling.LANCZOS)
    return frame, dpi * shrink


# The EXIF orientations that turn the picture a quarter (its width becomes its height).
EXIF_ORIENTATION = 0x0112
TURNED_ORIENTATIONS = (5, 6, 7, 8)


def _resolution(image) -> tuple[float, float]:
    dpi = image.info.get("dpi")
    try:
        x_dpi, y_dpi = (float(value) for value in dpi)
    except (TypeError, ValueError):
        return ASSUMED_DPI, ASSUMED_DPI
    low, high = DPI_RANGE
    if not (low <= x_dpi <= high and low <= y_dpi <= high):
        return ASSUMED_DPI, ASSUMED_DPI
    return x_dpi, y_dpi


def _readable(frame):
    """`frame` in grey ("L") or RGB: transparency laid on white (black text on a transparent page would
    otherwise turn black on black), 16-bit and float pixels stretched to 8 bits."""
    from PIL import Image

    if frame.mode in ("1", "L", "RGB"):
        return frame.convert("L") if frame.mode == "1" else frame
    if frame.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        import numpy

        pixels = numpy.asarray(frame, dtype=numpy.float64)
        low, high = float(pixels.min()), float(pixels.max())
        stretched = (pixels - low) * (255 / (high - low)) if high > low else numpy.full_like(pixels, 255)
        return Image.fromarray(stretched.astype(numpy.uint8), "L")
    if "A" in frame.mode or "transparency" in frame.info:
        rgba = frame.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return frame.convert("RGB")


# Pictures of fewer pixels than this (icons, logos, bullets), or narrower than a line of text, hold no text
# worth OCR.
MIN_PICTURE_PIXELS = 60_000
MIN_PICTURE_SIDE = 20
# A line read off a picture whose words (of two letters or digits or more) have a lower mean confidence, or that
# has none, is the texture of a photo or an icon, not text.
PICTURE_LINE_CONFIDENCE = 50.0
# A document (a DOCX or a deck) with fewer words of its own than this is read through its pictures too: a
# scanned contract pasted into Word page by page, a deck of screenshots.
PICTURE_ONLY_WORDS = 20


class PictureReader:
    """OCR of the pictures a document shows, as ("text", paragraph) blocks read where each picture stands (its
    lines whose words have a mean confidence of PICTURE_LINE_CONFIDENCE or more); a vector drawing (EMF, WMF,
    SVG), a small picture, or one Pillow cannot decode or too large for OCR gives none. Each picture read
    counts as a page against `limits.max_ocr_pages`; `record` puts the pages read and the mean word confidence
    on the parsed document. Read once with `count` first (no OCR), a document's pictures past the cap are
    refused before any is read, and `on_page(read, counted)` follows them picture by picture."""

    @staticmethod
    def wanted(text: str) -> bool:
        """Whether a document whose own text is `text` is read through its pictures too: it has fewer than
        PICTURE_ONLY_WORDS words."""
        return word_count(text) < PICTURE_ONLY_WORDS

    def __init__(self, limits: IngestLimits, on_page: PageCallback | None = None) -> None:
        self.limits, self.on_page = limits, on_page
        self.counted = 0
        self.read = 0
        self.pages: set[int] = set()
        self.confidences: list[float] = []

    def __call__(self, data: bytes, page: int = 1) -> list[tuple[str, object]]:
        from quire.documents.sniffing import image_type

        if image_type(data) is None:
            return []
        frame = self._frame(data)
        if frame is None:
            return []
        lines, confidences = ocr_image(frame, 1.0, self.limits)
        if self.on_page is not None:
            self.on_page(self.read, max(self.read, self.counted))
        self.confidences.extend(confidences)
        paragraphs: dict[tuple[int, int], list[str]] = {}
        for line in lines:
            if (line.confidence or 0) >= PICTURE_LINE_CONFIDENCE:
                paragraphs.setdefault(line.paragraph, []).append(line.text)
        if paragraphs:
            self.pages.add(page)
        return [("text", "\n".join(texts)) for texts in paragraphs.values()]

    def count(self, data: bytes, page: int = 1) -> list[tuple[str, object]]:
        """Count a picture OCR would read (its header read, no pixels decoded), refusing past the cap; no
        text."""
        from quire.documents.sniffing import image_type

        if image_type(data) is None:
            return []
        try:
            image = open_image(data, self.limits)
        except (UnreadableDocument, LimitExceeded):
            return []
        with image:
            if self._large_enough(image):
                self.counted += 1
                check_ocr_pages(self.counted, self.limits)
        return []

    @staticmethod
    def _large_enough(image) -> bool:
        return min(image.size) >= MIN_PICTURE_SIDE and image.width * image.height >= MIN_PICTURE_PIXELS

    def _frame(self, data: bytes):
        try:
            image = open_image(data, self.limits)
        except (UnreadableDocument, LimitExceeded) as exc:
            logger.info("a picture was left out: %s", exc)
            return None
        with image:
            if not self._large_enough(image):
                return None
            self.read += 1
            check_ocr_pages(self.read, self.limits)
            try:
                return page_frame(image, 1, self.limits)[0]
            except (UnreadableDocument, LimitExceeded) as exc:
                logger.info("a picture was left out: %s", exc)
                return None

    def record(self, parsed: ParsedDocument) -> None:
        parsed.ocr_pages = sorted(self.pages)
        parsed.ocr_confidence = round(fmean(self.confidences), 1) if self.confidences else None
