"""Scanned pages as they come off a scanner, upright, askew and turned, and a page photographed in shadow: how
many of the words drawn on them OCR reads, and in what time, for Tesseract on the page as it is (the reference,
measured in the same run) and for `quire.documents.ocr.ocr_image` (straightened and turned as the page needs,
Sauvola's thresholds where the light is uneven).

    python benchmarks/ocr_pages.py [--lines 40] [--repeat 2] [--languages] [--takeover 6]

Each page is a letter page at 300 dpi with `--lines` lines of a contract's wording in Pillow's default font at
36 px, turned counter-clockwise by the angle in its row (Pillow's `rotate`, white fill), or photographed: in
shadow, or at an angle (keystoned by a perspective transform onto a dark desk). "Words read" is the
share of the drawn words (letters and digits, case folded) OCR's text holds, counted with their multiplicity.

`--takeover N` prints a table of a scanned PDF of N such pages whose ingest died after k pages: the seconds its
parse takes again from the file with no page kept (the reference, as before pages were kept) and with the dead
run's k pages read back from the memo (`quire.documents.ocr.OcrMemo`; here a dict of pickled pages, as the cache
stores them, without Redis's round trip).

`--languages` prints a second table: an English and a German page (DejaVu Serif, umlauts and ß) read by Tesseract
in `eng`, `deu` and both (`eng+deu`, `deu+eng`, as a workspace's or document's `ocr_languages` names them), for
what naming a second language costs a page and what naming the wrong one loses (needs Tesseract's German data).
"""

from __future__ import annotations

import argparse
import collections
import os
import pickle
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CLAUSES = [
    "This Agreement shall be governed by the laws of the State of Delaware.",
    "Either party may terminate this Agreement on ninety days written notice.",
    "The Licensee shall pay the fees within thirty days of each invoice.",
    "Neither party shall assign this Agreement without the prior written consent.",
    "The Supplier warrants that the Services will be performed with due care.",
]
ANGLES = [0, 2, -5, 10, 90, 180, 270]


def page(count: int, lines: list[str] = CLAUSES, font_path: str | None = None):
    """A letter page at 300 dpi of `count` lines, `lines` over and over, at 36 px in the font at `font_path`
    (Pillow's default font where none), and the lines drawn."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(font_path, 36) if font_path else ImageFont.load_default(size=36)
    image = Image.new("L", (2550, 3300), 255)
    draw = ImageDraw.Draw(image)
    text = [lines[index % len(lines)] for index in range(count)]
    for index, line in enumerate(text):
        draw.text((150, 200 + 70 * index), line, fill=0, font=font)
    return image, text


def shaded(page):
    """`page` as a photo of it: lit from the top left, in shadow toward the bottom right, the ink a dark grey,
    a little blur."""
    import numpy
    from PIL import Image, ImageFilter

    ink = numpy.asarray(page, dtype=numpy.float64) / 255
    height, width = ink.shape
    y, x = numpy.mgrid[0:height, 0:width]
    light = 250 - 170 * (0.5 * x / width + 0.5 * y / height) ** 1.5
    photo = Image.fromarray((light * ink + 50 * (1 - ink)).clip(0, 255).astype(numpy.uint8))
    return photo.filter(ImageFilter.GaussianBlur(1.2))


def keystoned(page, inset: float):
    """`page` as a phone photographs it from below its bottom edge: on a dark desk, its top edge `inset` of its
    width narrower at each end than its bottom (a perspective transform)."""
    import numpy
    from PIL import Image

    width, height = page.size
    photo = Image.new("L", (width + 400, height + 400), 70)
    corners = [(200 + inset * width, 200), (200 + width - inset * width, 200), (200 + width, 200 + height)]
    corners.append((200, 200 + height))
    rows = []
    for (x, y), (u, v) in zip(corners, [(0, 0), (width, 0), (width, height), (0, height)], strict=True):
        rows.append(([x, y, 1, 0, 0, 0, -u * x, -u * y], u))
        rows.append(([0, 0, 0, x, y, 1, -v * x, -v * y], v))
    coefficients = numpy.linalg.solve(numpy.array([r for r, _ in rows]), numpy.array([b for _, b in rows]))
    warp = (photo.size, Image.Transform.PERSPECTIVE, tuple(coefficients), Image.Resampling.BICUBIC)
    paper = page.transform(*warp, fillcolor=0)
    photo.paste(paper, (0, 0), Image.new("L", page.size, 255).transform(*warp, fillcolor=0))
    return photo


GERMAN = [
    "Dieser Vertrag unterliegt dem Recht der Bundesrepublik Deutschland.",
    "Jede Partei kann diesen Vertrag mit einer Frist von drei Monaten kündigen.",
    "Die Gebühren sind innerhalb von dreißig Tagen nach Rechnungsstellung zu zahlen.",
    "Änderungen bedürfen der Schriftform; mündliche Nebenabreden bestehen nicht.",
]
SERIF = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"


def languages_table(count: int, repeat: int) -> None:
    from dataclasses import replace

    from quire.documents.limits import IngestLimits
    from quire.documents.ocr import _tesseract

    print(f"\n{count} lines a page in DejaVu Serif, Tesseract alone, best of {repeat}\n")
    print("| page | languages | words read | seconds | time against the page's own language |")
    print("|---|---|---|---|---|")
    for label, lines, own in (("English", CLAUSES, "eng"), ("German", GERMAN, "deu")):
        scan, drawn = page(count, lines, SERIF)
        timings = {}
        for languages in ("eng", "deu", "eng+deu", "deu+eng"):
            limits = replace(IngestLimits(), ocr_languages=languages)
            best = float("inf")
            for _ in range(repeat):
                started = time.perf_counter()
                read, _ = _tesseract(scan, limits)
                best = min(best, time.perf_counter() - started)
            timings[languages] = (share_read(drawn, [line.text for line in read]), best)
        for languages, (share, seconds) in timings.items():
            print(
                f"| {label} | {languages} | {share:.3f} | {seconds:.2f} | {seconds / timings[own][1]:.2f} |"
            )


class _Pickled(dict):
    def read(self, number: int):
        return pickle.loads(self[number]) if number in self else None

    def keep(self, number: int, reading) -> None:
        self[number] = pickle.dumps(reading)


def takeover_table(count: int, pages: int, repeat: int) -> None:
    import io

    from quire.documents.parsing import parse_document

    scans = [page(count)[0] for _ in range(pages)]
    out = io.BytesIO()
    scans[0].save(out, "PDF", resolution=300, save_all=True, append_images=scans[1:])
    content = out.getvalue()
    kept = _Pickled()
    parse_document(content, "application/pdf", ocr_memo=kept)
    print(f"\na scanned PDF of {pages} pages, {count} lines a page, best of {repeat}\n")
    print("| pages the dead run read | parse again from the file, s | with its pages kept, s | time ratio |")
    print("|---|---|---|---|")
    for done in sorted({0, pages // 2, pages - 1}):
        timings = []
        for memo in (None, _Pickled({n: kept[n] for n in range(1, done + 1)})):
            best = float("inf")
            for _ in range(repeat):
                started = time.perf_counter()
                parse_document(content, "application/pdf", ocr_memo=None if memo is None else _Pickled(memo))
                best = min(best, time.perf_counter() - started)
            timings.append(best)
        print(f"| {done} | {timings[0]:.2f} | {timings[1]:.2f} | {timings[1] / timings[0]:.2f} |")


def words(text: str) -> collections.Counter:
    return collections.Counter(re.findall(r"[^\W_]+", text.casefold()))


def share_read(drawn: list[str], read: list[str]) -> float:
    want, got = words(" ".join(drawn)), words(" ".join(read))
    return sum((want & got).values()) / sum(want.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--languages", action="store_true", help="also the table of OCR languages")
    parser.add_argument("--takeover", type=int, metavar="PAGES", help="also the table of a parse taken over")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quire.settings")
    import django

    django.setup()
    from PIL import Image

    from quire.documents.limits import IngestLimits
    from quire.documents.ocr import _tesseract, ocr_image

    limits = IngestLimits()
    upright, drawn = page(args.lines)
    print(f"{args.lines} lines a page, 2550 x 3300 pixels, best of {args.repeat}\n")
    print("| page | Tesseract: words read | seconds | ocr_image: words read | seconds | time ratio |")
    print("|---|---|---|---|---|---|")
    pages = [
        (
            f"turned {angle}°",
            upright.rotate(angle, expand=True, fillcolor=255, resample=Image.Resampling.BICUBIC),
        )
        for angle in ANGLES
    ]
    pages.append(("photographed, in shadow", shaded(upright)))
    pages += [
        (f"photographed at an angle, top {inset:.0%} narrower each side", keystoned(upright, inset))
        for inset in (0.05, 0.15)
    ]
    for label, scan in pages:
        results = []
        for read, extra in ((_tesseract, ()), (ocr_image, (1.0,))):
            best = float("inf")
            for _ in range(args.repeat):
                started = time.perf_counter()
                lines, _ = read(scan, *extra, limits)
                best = min(best, time.perf_counter() - started)
            results.append((share_read(drawn, [line.text for line in lines]), best))
        (plain, plain_s), (ours, ours_s) = results
        print(
            f"| {label} | {plain:.3f} | {plain_s:.2f} | {ours:.3f} | {ours_s:.2f} | {ours_s / plain_s:.2f} |"
        )
    if args.languages:
        languages_table(args.lines, args.repeat)
    if args.takeover:
        takeover_table(args.lines, args.takeover, args.repeat)


if __name__ == "__main__":
    main()
