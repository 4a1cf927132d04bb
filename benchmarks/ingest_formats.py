"""Parsing throughput of the data-room formats, in this process, without the database:

1. OCR: pages/s of scanned letter pages (Pillow-drawn text, 38 lines a page, saved at 150 dpi as image-only
   PDF pages) through `parse_document`, which renders each page at QUIRE_INGEST_OCR_DPI (300) with pypdfium2
   and reads it with Tesseract; the mean OCR confidence.
2. Tables: pages/s of PDF pages that each hold a ruled table of 12 rows by 4 columns (pdfplumber finds and
   extracts the tables, the text keeps them as rows of cells).
3. Text: pages/s of text-layer PDF pages (one long line a page, as benchmarks/ingest.py), through
   `parse_document` (pdfium: lines and their boxes) and, for reference, pypdf's `extract_text` (text only).

    python benchmarks/ingest_formats.py [--ocr-pages 6] [--table-pages 40] [--text-pages 200]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORDS = [
    "agreement",
    "party",
    "license",
    "term",
    "revenue",
    "margin",
    "guidance",
    "quarter",
    "growth",
    "customer",
    "liability",
    "notice",
]


def scanned_pages(count: int, rng: random.Random) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=22)
    pages = []
    for _ in range(count):
        image = Image.new("L", (1275, 1650), 255)
        draw = ImageDraw.Draw(image)
        for line in range(38):
            words = " ".join(rng.choice(WORDS) for _ in range(9))
            draw.text((110, 110 + 38 * line), words.capitalize() + ".", fill=0, font=font)
        pages.append(image)
    out = io.BytesIO()
    pages[0].save(out, "PDF", resolution=150, save_all=True, append_images=pages[1:])
    return out.getvalue()


def table_pages(count: int, rng: random.Random) -> bytes:
    from tests.support.documents import make_layout_pdf, table_page

    header = ["Metric", "Q1 2026", "Q2 2026", "Q3 2026"]
    pages = []
    for number in range(count):
        rows = [header] + [
            [rng.choice(WORDS).capitalize()] + [f"${rng.uniform(1, 999):.1f} million" for _ in range(3)]
            for _ in range(11)
        ]
        pages.append(table_page(f"Segment results, page {number + 1}", rows))
    return make_layout_pdf(pages)


def text_pages(count: int, rng: random.Random) -> bytes:
    from tests.support.documents import make_pdf

    return make_pdf([" ".join(rng.choice(WORDS) for _ in range(rng.randint(60, 120))) for _ in range(count)])


def timed(parse, content: bytes) -> tuple[float, object]:
    started = time.perf_counter()
    parsed = parse(content)
    return time.perf_counter() - started, parsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ocr-pages", type=int, default=6)
    parser.add_argument("--table-pages", type=int, default=40)
    parser.add_argument("--text-pages", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quire.settings")

    from pypdf import PdfReader

    from quire.documents.limits import IngestLimits
    from quire.documents.parsing import parse_document
    from quire.documents.sniffing import PDF

    rng = random.Random(7)
    limits = IngestLimits()

    def ours(content: bytes):
        return parse_document(content, PDF, limits)

    def reference(content: bytes):
        return [page.extract_text() for page in PdfReader(io.BytesIO(content)).pages]

    rows = []
    scans = scanned_pages(args.ocr_pages, rng)
    ours(scanned_pages(1, rng))
    seconds, parsed = timed(ours, scans)
    assert len(parsed.ocr_pages) == args.ocr_pages
    rows.append(
        ("OCR (Tesseract, 300 dpi)", args.ocr_pages, seconds, f"mean confidence {parsed.ocr_confidence}")
    )
    tables = table_pages(args.table_pages, rng)
    seconds, parsed = timed(ours, tables)
    assert len(parsed.tables) == args.table_pages
    rows.append(
        ("tables (pdfplumber)", args.table_pages, seconds, f"{len(parsed.tables)} tables, 12 x 4 cells")
    )
    text = text_pages(args.text_pages, rng)
    seconds, parsed = timed(ours, text)
    rows.append(("text layer (pdfium)", args.text_pages, seconds, f"{len(parsed.lines)} line boxes"))
    seconds, _ = timed(reference, text)
    rows.append(("text layer (pypdf, reference)", args.text_pages, seconds, "text only, no boxes"))

    print(f"{'PDF pages':32} {'pages':>6} {'seconds':>8} {'pages/s':>8}  notes")
    for name, pages, seconds, notes in rows:
        print(f"{name:32} {pages:6d} {seconds:8.2f} {pages / seconds:8.2f}  {notes}")


if __name__ == "__main__":
    main()
