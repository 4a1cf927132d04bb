"""Text of a page image (a PDF page rendered, a scan) with Tesseract: lines with their boxes in PDF points, and word confidences."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from quire.documents.layout import LINE, PARAGRAPH, Box, TextBuilder
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


def text_layer_is_good(text: str) -> bool:
    """Enough real words, and few glyphs the PDF could not map to characters."""
    words = len(_WORD.findall(text))
    garbage = text.count("(cid:") + text.count("\ufffd")
    return words >= 3 and garbage * 4 < words


def needs_ocr(text: str, has_images: bool, *, image_cover: float = 0.0, text_cover: float = 0.0) -> bool:
    """OCR a page whose text layer is missing or garbage, when it holds an image or unmapped glyphs; and a
    page whose images cover `image_cover` (a share of its area) of at least SCAN_IMAGE_COVER under a text
    layer of fewer than STAMP_WORDS words covering less than STAMP_TEXT_COVER of it (`text_cover`)."""
    if text_layer_is_good(text):
        return (
            image_cover >= SCAN_IMAGE_COVER
            and len(_WORD.findall(text)) < STAMP_WORDS
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
    """OCR's lines in order, a line of a new paragraph starting one."""
    previous = None
    for line in lines:
        builder.add(line.text, gap=LINE if previous == line.paragraph else PARAGRAPH, box=line.box)
        previous = line.paragraph


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
    of each word read. Tesseract is given the time left before the ingest's deadline."""
    import pytesseract

    # One thread per Tesseract: workers already run one ingest per core, and OpenMP threads fighting over
    # the same cores make OCR many times slower.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    remaining = limits.remaining()
    if remaining is not None and remaining <= 0:
        raise DeadlinePassed()
    try:
        data = pytesseract.image_to_data(
            image,
            output_type=pytesseract.Output.DICT,
            timeout=0 if remaining is None else max(1, int(remaining)),
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
        box = (left / scale, top / scale, right / scale, bottom / scale)
        lines.append(OcrLine(text, box, (block, paragraph)))
    return lines, confidences
