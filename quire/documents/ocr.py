"""Text of a PDF page image with Tesseract: lines with their boxes in PDF points, and word confidences."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from quire.documents.limits import DeadlinePassed, IngestLimits, check_ocr_pixels

_WORD = re.compile(r"[^\W_]{2,}")


@dataclass(frozen=True)
class OcrLine:
    text: str
    box: tuple[float, float, float, float]
    paragraph: tuple[int, int]


def text_layer_is_good(text: str) -> bool:
    """Enough real words, and few glyphs the PDF could not map to characters."""
    words = len(_WORD.findall(text))
    garbage = text.count("(cid:") + text.count("\ufffd")
    return words >= 3 and garbage * 4 < words


def needs_ocr(text: str, has_images: bool) -> bool:
    """OCR a page whose text layer is missing or garbage, when it holds an image or unmapped glyphs."""
    if text_layer_is_good(text):
        return False
    return has_images or "(cid:" in text or "\ufffd" in text


def ocr_page(page, number: int, limits: IngestLimits) -> tuple[list[OcrLine], list[float]]:
    """The lines of pypdfium2 `page` (1-based `number`) read by Tesseract, in its reading order, and the
    confidence (0-100) of each word read; the rendered image is held to `limits.max_ocr_pixels`."""
    import pytesseract

    # One thread per Tesseract: workers already run one ingest per core, and OpenMP threads fighting over
    # the same cores make OCR many times slower.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    scale = limits.ocr_dpi / 72
    width, height = page.get_size()
    check_ocr_pixels(number, round(width * scale) * round(height * scale), limits)
    image = page.render(scale=scale).to_pil()
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
