"""How a folder of real-world files reads, file by file, as an upload would: sniffed (`sniff_content_type`),
then parsed (`parse_document`), each in a worker process under a time limit. Prints the outcomes by kind
(read; refused at upload; failed with a reason of Quire's own; failed with a library's bare exception, which
should never happen) and the files the ones read carry (attachments, ingested as documents of their own), the
failures of the last two kinds file by file, and the slowest files.

Meant for public test corpora that are not in this repository: Apache POI's `test-data` (Apache-2.0),
pdf.js's `test/pdfs` (Apache-2.0), pandoc's `test` (GPL-2.0), Apache Tika's `test-documents` (Apache-2.0),
calamine's `tests` (MIT), the Open XML SDK's test assets (MIT); read here, never committed.

    python benchmarks/corpus.py DIR [DIR ...] [--workers 2] [--timeout 60] [--ocr-pages 1]
"""

from __future__ import annotations

import argparse
import collections
import os
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SUFFIXES = {
    ".pdf",
    ".docx",
    ".docm",
    ".dotx",
    ".xlsx",
    ".xlsm",
    ".pptx",
    ".pptm",
    ".ppsx",
    ".odt",
    ".ods",
    ".odp",
    ".doc",
    ".xls",
    ".ppt",
    ".msg",
    ".eml",
    ".rtf",
    ".html",
    ".htm",
    ".txt",
    ".json",
    ".png",
    ".jpg",
    ".jpeg",
    ".tif",
    ".tiff",
    ".gif",
    ".bmp",
    ".webp",
    ".heic",
}
# A reason of Quire's own starts otherwise; a library's bare exception is passed on after this.
GENERIC = "could not parse "
_OPTIONS: dict = {}


def _setup(ocr_pages: int, timeout: int) -> None:
    import logging
    import warnings

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quire.settings")
    import django

    django.setup()
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    _OPTIONS.update(ocr_pages=ocr_pages, timeout=timeout)


def _expired(*_) -> None:
    raise TimeoutError


def _read(path: str) -> tuple[str, str, str, float, int]:
    """(path, outcome, detail, seconds, the files it carries) for one file."""
    import dataclasses

    from common.refusals import Refusal
    from quire.documents.limits import IngestLimits
    from quire.documents.parsing import ParseError, parse_document
    from quire.documents.sniffing import sniff_content_type

    limits = dataclasses.replace(IngestLimits.from_settings(), max_ocr_pages=_OPTIONS["ocr_pages"])
    content = Path(path).read_bytes()
    started = time.perf_counter()
    carried = 0
    signal.signal(signal.SIGALRM, _expired)
    signal.alarm(_OPTIONS["timeout"])
    try:
        parsed = parse_document(content, sniff_content_type(content), limits)
        outcome, detail = "read", f"{len(parsed.text)} characters"
        carried = len(parsed.attachments)
    except Refusal as exc:
        outcome, detail = "refused", exc.message
    except ParseError as exc:
        outcome = "bare exception" if str(exc).startswith(GENERIC) else "failed"
        detail = str(exc)
    except TimeoutError:
        outcome, detail = "timed out", f"past {_OPTIONS['timeout']} s"
    except Exception as exc:  # what the sweep is for: anything parse_document lets through
        outcome, detail = "bare exception", f"{type(exc).__name__}: {exc}"
    finally:
        signal.alarm(0)
    return path, outcome, detail, time.perf_counter() - started, carried


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=60, help="seconds a file may take")
    parser.add_argument("--ocr-pages", type=int, default=1, help="pages a file may OCR")
    args = parser.parse_args()
    paths = sorted(
        str(path)
        for folder in args.folders
        for path in folder.rglob("*")
        if path.is_file() and path.suffix.lower() in SUFFIXES
    )
    with ProcessPoolExecutor(
        args.workers, initializer=_setup, initargs=(args.ocr_pages, args.timeout)
    ) as pool:
        results = list(pool.map(_read, paths, chunksize=4))
    kinds = collections.Counter((Path(path).suffix.lower(), outcome) for path, outcome, *_ in results)
    carried = collections.Counter()
    for path, *_, files in results:
        carried[Path(path).suffix.lower()] += files
    outcomes = ["read", "refused", "failed", "timed out", "bare exception"]
    print(f"{len(results)} files\n")
    print("| type | " + " | ".join(outcomes) + " | files carried (attachments) |")
    print("|---" * (len(outcomes) + 2) + "|")
    for suffix in sorted({suffix for suffix, _ in kinds}):
        counts = " | ".join(str(kinds[(suffix, outcome)]) for outcome in outcomes)
        print(f"| {suffix} | {counts} | {carried[suffix]} |")
    reasons = collections.Counter(detail[:70] for _, outcome, detail, *_ in results if outcome == "failed")
    print("\nfailed, by reason:")
    for reason, count in reasons.most_common(15):
        print(f"  {count:4d}  {reason}")
    print("\nbare exceptions and time-outs:")
    for path, outcome, detail, *_ in results:
        if outcome in ("bare exception", "timed out"):
            print(f"  {Path(path).name}: {detail[:150]}")
    print("\nslowest:")
    for path, _, _, seconds, _ in sorted(results, key=lambda result: -result[3])[:8]:
        print(f"  {seconds:7.2f} s  {Path(path).name}")


if __name__ == "__main__":
    main()
