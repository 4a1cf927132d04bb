"""Text of a page image (a PDF page rendered, a scan) with Tesseract: lines with their boxes in PDF points, and
word confidences."""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from difflib import SequenceMatcher
from statistics import fmean
from typing import Protocol

from quire.documents.layout import (
    LINE,
    PARAGRAPH,
    Box,
    TextBuilder,
    UnreadableDocument,
    continues_wide,
    wide_spacing,
)
from quire.documents.limits import DeadlinePassed, IngestLimits, check_ocr_pixels

_WORD = re.compile(r"[^\W_]{2,}")
# A page mostly covered by images whose text layer is this small (a stamp, a Bates number) is a scan.
SCAN_IMAGE_COVER = 0.5
STAMP_WORDS = 20
STAMP_TEXT_COVER = 0.02
# The paragraph of text-layer lines that OCR did not read.
_TEXT_LAYER = (-1, -1)


@dataclass(frozen=True)
class OcrLine:
    text: str
    box: Box
    paragraph: tuple[int, int]
    # The mean confidence (0-100) of the line's words of two letters or digits or more, where OCR read it; None
    # for a line of none (marks, signs, single letters).
    confidence: float | None = None


OcrReading = tuple[list[OcrLine], list[float]]


class OcrMemo(Protocol):
    """Pages of a document read by Tesseract in a run that did not finish, by 1-based page number, so that the
    run taking the document over reads them from here."""

    def read(self, number: int) -> OcrReading | None: ...

    def keep(self, number: int, reading: OcrReading) -> None: ...


def ocr_remembered(memo: OcrMemo | None, number: int, read: Callable[[], OcrReading]) -> OcrReading:
    """Page `number` as `memo` kept it, else `read()`, kept."""
    if memo is None:
        return read()
    reading = memo.read(number)
    if reading is None:
        reading = read()
        memo.keep(number, reading)
    return reading


def word_count(text: str) -> int:
    """The words of `text`: runs of two letters or digits or more."""
    return len(_WORD.findall(text))


def text_layer_is_good(text: str) -> bool:
    """Enough real words, and few glyphs the PDF could not map to characters."""
    words = word_count(text)
    garbage = text.count("(cid:") + text.count("\ufffd")
    return words >= 3 and garbage * 4 < words


def needs_ocr(text: str, has_images: bool, *, image_cover: float = 0.0, text_cover: float = 0.0) -> bool:
    """OCR a page whose text layer is missing or garbage, when it holds an image or unmapped glyphs; and a
    page whose images cover `image_cover` (a share of its area) of at least SCAN_IMAGE_COVER under a text
    layer of fewer than STAMP_WORDS words covering less than STAMP_TEXT_COVER of it (`text_cover`)."""
    if text_layer_is_good(text):
        return (
            image_cover >= SCAN_IMAGE_COVER
            and word_count(text) < STAMP_WORDS
            and text_cover < STAMP_TEXT_COVER
        )
    return has_images or "(cid:" in text or "\ufffd" in text


def with_text_layer(found: list[OcrLine], lines: list[tuple[str, Box]]) -> list[OcrLine]:
    """OCR's lines of a page with the lines of its text layer (`(text, box)`, boxes as OCR's): a text line
    takes the place of the OCR lines that read it (lying over it, with its letters); one that OCR did not
    read goes before the first OCR line below its top, in a paragraph of the text layer's."""
    merged = list(found)
    from_layer = [False] * len(merged)
    for text, box in lines:
        read = [i for i, line in enumerate(merged) if not from_layer[i] and _reads(line, text, box)]
        if read:
            merged[read[0]] = OcrLine(text, box, merged[read[0]].paragraph)
            from_layer[read[0]] = True
            for index in reversed(read[1:]):
                del merged[index], from_layer[index]
            continue
        below = next((i for i, line in enumerate(merged) if line.box[1] > box[1]), len(merged))
        merged.insert(below, OcrLine(text, box, _TEXT_LAYER))
        from_layer.insert(below, True)
    return merged


def add_ocr_lines(builder: TextBuilder, lines: list[OcrLine]) -> None:
    """OCR's lines in order, a line of a new paragraph starting one, but on a page set wide (double spacing,
    `wide_spacing`), where OCR takes each line for a paragraph, one within its usual gap after a line that
    ends no sentence goes on the paragraph."""
    spacing = wide_spacing([line.box for line in lines])
    previous = None
    for line in lines:
        joins = previous is not None and (
            previous.paragraph == line.paragraph
            or continues_wide(previous.text, line.box[1] - previous.box[3], spacing)
        )
        builder.add(line.text, gap=LINE if joins else PARAGRAPH, box=line.box)
        previous = line


def _reads(line: OcrLine, text: str, box: Box) -> bool:
    """Whether OCR's `line` lies mostly over `box` and most of its letters are those of `text`."""
    width = min(line.box[2], box[2]) - max(line.box[0], box[0])
    height = min(line.box[3], box[3]) - max(line.box[1], box[1])
    area = (line.box[2] - line.box[0]) * (line.box[3] - line.box[1])
    if width <= 0 or height <= 0 or width * height < 0.5 * area:
        return False
    ocr, layer = _letters(line.text), _letters(text)
    matched = sum(
        block.size for block in SequenceMatcher(None, ocr, layer, autojunk=False).get_matching_blocks()
    )
    return bool(ocr) and matched >= 0.7 * len(ocr)


def _letters(text: str) -> str:
    return "".join(char for char in text.casefold() if char.isalnum())


def ocr_page(page, number: int, limits: IngestLimits) -> tuple[list[OcrLine], list[float]]:
    """The lines of pypdfium2 `page` (1-based `number`) read by Tesseract, in its reading order, and the
    confidence (0-100) of each word read; the rendered image is held to `limits.max_ocr_pixels`."""
    scale = limits.ocr_dpi / 72
    width, height = page.get_size()
    check_ocr_pixels(number, round(width * scale) * round(height * scale), limits)
    return ocr_image(page.render(scale=scale).to_pil(), scale, limits)


def ocr_image(image, scale: float, limits: IngestLimits) -> tuple[list[OcrLine], list[float]]:
    """The lines of a PIL `image` read by Tesseract, in its reading order, their boxes in the image's pixels
    divided by `scale` (PDF points for a page rendered at `scale` times 72 dpi), and the confidence (0-100)
    of each word read. A page scanned askew (`skew_angle`) is read straightened, and one that reads poorly so
    (`_reads_well`; not one that reads as no word at all) is read again turned as Tesseract's orientation
    detection says (a page fed in sideways or upside down), the better reading kept; either way a line's box
    is the box of where it lies on `image`. A page lit unevenly (`uneven_light`: a photo) is binarised by
    Sauvola's local thresholds instead of one threshold for the page. Tesseract is given the time left before
    the ingest's deadline."""
    skew = skew_angle(image)
    config = SAUVOLA if uneven_light(image) else ""
    straight = _turned(image, skew)
    lines, confidences = _read(image, straight, skew, limits, config)
    # A page turned reads as garbage, not as nothing: one that gives no word at all (a photo) is not turned.
    if confidences and not _reads_well(confidences):
        turn = _orientation(straight, limits)
        if turn:
            turned = _read(image, _turned(image, skew + turn), skew + turn, limits, config)
            if _confident(turned[1]) > _confident(confidences):
                lines, confidences = turned
    return [
        OcrLine(line.text, _scaled(line.box, scale), line.paragraph, line.confidence) for line in lines
    ], confidences


# A reading is good enough not to try the page turned: at least this many words, most read confidently.
_WELL_READ_WORDS = 5
_CONFIDENT = 60.0
# The skews a scan is straightened from (degrees either way), and the least worth straightening: Tesseract
# reads a line a degree off as well as a straight one, and resampling costs the glyphs some sharpness.
MAX_SKEW = 15.0
MIN_SKEW = 1.0
# Pages are measured for skew on a copy this many pixels across at most.
_SKEW_SIDE = 1000


def skew_angle(image) -> float:
    """The angle (degrees, counter-clockwise) to turn `image` by so that its lines of text run level: the one
    within MAX_SKEW that makes the rows of its dark pixels most uneven (text lines and the gaps between them),
    where it does so clearly more than leaving it as it is; 0 below MIN_SKEW or for a page without such
    lines."""
    import numpy

    grey = image.convert("L")
    grey.thumbnail((_SKEW_SIDE, _SKEW_SIDE))
    pixels = numpy.asarray(grey)
    ys, xs = numpy.nonzero(pixels < 128)
    if len(ys) < 200 or len(ys) > 0.5 * pixels.size:
        return 0.0
    step = max(1, len(ys) // 50_000)
    ys, xs = ys[::step].astype(numpy.float64), xs[::step].astype(numpy.float64)

    def evenness(angle: float) -> float:
        radians = numpy.radians(angle)
        rows = numpy.round(ys * numpy.cos(radians) - xs * numpy.sin(radians))
        counts = numpy.bincount((rows - rows.min()).astype(numpy.int64))
        return float(numpy.dot(counts, counts))

    coarse = max(
        numpy.arange(-MAX_SKEW, MAX_SKEW + 0.25, 0.5), key=lambda angle: (evenness(angle), -abs(angle))
    )
    best = max(numpy.arange(coarse - 0.5, coarse + 0.55, 0.1), key=evenness)
    if abs(best) < MIN_SKEW or evenness(best) < 1.05 * evenness(0.0):
        return 0.0
    return round(float(best), 1)


# Tesseract's Sauvola binarisation: each pixel against a threshold of its neighbourhood.
SAUVOLA = "-c thresholding_method=2"
# Paper whose brightest parts differ by this many grey levels (of 255) from tile to tile is lit unevenly, where
# the difference varies as smoothly as light does: within this many levels (root mean square) of a quadratic
# surface over the page. A page's own dark blocks (a black banner, a photo) are not smooth so.
UNEVEN_LIGHT = 60
SMOOTH_LIGHT = 10.0
_LIGHT_TILES = 8


def uneven_light(image) -> bool:
    """Whether `image`'s paper is lit unevenly (a shadow over a photographed page, a lamp's falloff), where
    one threshold for the page loses the text in its dark part: the brightest tenth of each of 8 x 8 tiles (the
    paper around the ink) differing by UNEVEN_LIGHT grey levels or more between the lightest tile and the
    darkest, and lying within SMOOTH_LIGHT of a quadratic surface (light falls off smoothly; a page designed
    with dark blocks, whose text Sauvola's local thresholds would lose, does not)."""
    import numpy

    grey = image.convert("L")
    grey.thumbnail((256, 256))
    pixels = numpy.asarray(grey)
    if min(pixels.shape) < _LIGHT_TILES:
        return False
    rows = numpy.array_split(pixels, _LIGHT_TILES, axis=0)
    paper = numpy.array(
        [
            [numpy.percentile(tile, 90) for tile in numpy.array_split(row, _LIGHT_TILES, axis=1)]
            for row in rows
        ]
    )
    if paper.max() - paper.min() < UNEVEN_LIGHT:
        return False
    y, x = numpy.mgrid[0:_LIGHT_TILES, 0:_LIGHT_TILES] / (_LIGHT_TILES - 1)
    surface = numpy.stack([numpy.ones_like(x), x, y, x * x, x * y, y * y], axis=-1).reshape(-1, 6)
    fitted, *_ = numpy.linalg.lstsq(surface, paper.reshape(-1), rcond=None)
    residual = paper.reshape(-1) - surface @ fitted
    return float(numpy.sqrt(numpy.mean(residual**2))) <= SMOOTH_LIGHT


def _turned(image, angle: float):
    """`image` turned counter-clockwise by `angle` degrees about its centre, grown to hold it all, the corners
    it uncovers white; `image` itself for 0."""
    from PIL import Image

    if not angle:
        return image
    fill = 255 if image.mode == "L" else (255, 255, 255)
    return image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=fill)


def _read(
    image, turned, angle: float, limits: IngestLimits, config: str
) -> tuple[list[OcrLine], list[float]]:
    """Tesseract's lines of `turned` (`image` turned by `angle`, `_turned`), their boxes (in pixels) those of
    where the lines lie on `image` as it is."""
    lines, confidences = _tesseract(turned, limits, config)
    if angle:
        lines = [
            OcrLine(
                line.text,
                _turned_back(line.box, angle, image.size, turned.size),
                line.paragraph,
                line.confidence,
            )
            for line in lines
        ]
    return lines, confidences


def _turned_back(box: Box, angle: float, size: tuple[int, int], turned: tuple[int, int]) -> Box:
    """The box on the image before Pillow's `rotate(angle, expand=True)` (counter-clockwise, about the centre,
    y down) that holds `box` of the turned image."""
    radians = math.radians(angle)
    cos, sin = math.cos(radians), math.sin(radians)
    (cx, cy), (tx, ty) = (size[0] / 2, size[1] / 2), (turned[0] / 2, turned[1] / 2)
    corners = [
        (cx + (x - tx) * cos - (y - ty) * sin, cy + (x - tx) * sin + (y - ty) * cos)
        for x in (box[0], box[2])
        for y in (box[1], box[3])
    ]
    xs, ys = [x for x, _ in corners], [y for _, y in corners]
    return (
        max(0.0, min(xs)),
        max(0.0, min(ys)),
        min(float(size[0]), max(xs)),
        min(float(size[1]), max(ys)),
    )


def _orientation(image, limits: IngestLimits) -> int:
    """The quarter turn (90, 180 or 270 degrees counter-clockwise) Tesseract's orientation detection says
    `image` (straightened already) needs; 0 where it needs none or there is too little text to tell."""
    import pytesseract

    try:
        found = pytesseract.image_to_osd(
            image, output_type=pytesseract.Output.DICT, timeout=_timeout(limits), config="--psm 0"
        )
    except pytesseract.TesseractError:
        return 0
    except RuntimeError as exc:
        if "timeout" in str(exc).lower():
            raise DeadlinePassed() from exc
        raise
    return (-int(found.get("rotate", 0))) % 360


def missing_ocr_languages(languages: str) -> list[str]:
    """The languages of `languages` ("eng+deu") whose data Tesseract lacks here; every one where Tesseract is
    not installed at all."""
    installed = _installed_languages()
    return [code for code in languages.split("+") if code not in installed]


@functools.cache
def _installed_languages() -> frozenset[str]:
    """The languages Tesseract has data for, asked once a process (language data comes with a deployment)."""
    import pytesseract

    try:
        return frozenset(pytesseract.get_languages(config=""))
    except (pytesseract.TesseractNotFoundError, pytesseract.TesseractError, OSError):
        return frozenset()


def _reads_well(confidences: list[float]) -> bool:
    return len(confidences) >= _WELL_READ_WORDS and _confident(confidences) * 2 > len(confidences)


def _confident(confidences: list[float]) -> int:
    return sum(1 for confidence in confidences if confidence >= _CONFIDENT)


def _scaled(box: Box, scale: float) -> Box:
    return (box[0] / scale, box[1] / scale, box[2] / scale, box[3] / scale)


def _timeout(limits: IngestLimits) -> int:
    remaining = limits.remaining()
    if remaining is not None and remaining <= 0:
        raise DeadlinePassed()
    return 0 if remaining is None else max(1, int(remaining))


def _tesseract(image, limits: IngestLimits, config: str = "") -> tuple[list[OcrLine], list[float]]:
    """Tesseract's lines of `image` in its reading order (its options `config`), boxes in pixels, and each
    word's confidence."""
    import pytesseract

    # One thread per Tesseract: workers already run one ingest per core, and OpenMP threads fighting over
    # the same cores make OCR many times slower.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    missing = missing_ocr_languages(limits.ocr_languages)
    if missing:
        # Tesseract would read on in the languages it has, worse, and say so only on its standard error.
        raise UnreadableDocument(
            f"OCR needs Tesseract's language data for {', '.join(missing)}, which this worker lacks "
            f"(Debian's {' '.join(f'tesseract-ocr-{code}' for code in missing)})"
        )
    try:
        data = pytesseract.image_to_data(
            image,
            lang=limits.ocr_languages,
            config=config,
            output_type=pytesseract.Output.DICT,
            timeout=_timeout(limits),
        )
    except RuntimeError as exc:
        if "timeout" in str(exc).lower():
            raise DeadlinePassed() from exc
        raise
    grouped: dict[tuple[int, int, int], list[int]] = {}
    confidences = []
    for index, word in enumerate(data["text"]):
        if not word.strip():
            continue
        key = (data["block_num"][index], data["par_num"][index], data["line_num"][index])
        grouped.setdefault(key, []).append(index)
        if float(data["conf"][index]) >= 0:
            confidences.append(float(data["conf"][index]))
    lines = []
    for (block, paragraph, _), indices in grouped.items():
        left = min(data["left"][i] for i in indices)
        top = min(data["top"][i] for i in indices)
        right = max(data["left"][i] + data["width"][i] for i in indices)
        bottom = max(data["top"][i] + data["height"][i] for i in indices)
        text = " ".join(data["text"][i].strip() for i in indices)
        scores = [
            float(data["conf"][i])
            for i in indices
            if float(data["conf"][i]) >= 0 and _WORD.search(data["text"][i])
        ]
        confidence = fmean(scores) if scores else None
        lines.append(OcrLine(text, (left, top, right, bottom), (block, paragraph), confidence))
    return lines, confidences
