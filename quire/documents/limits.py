"""How much work one document may cost: the limits checked at upload (where the bytes tell) and while it
is parsed (where only doing the work tells). Each breach names its `ErrorCode` and says why in a sentence
that ends up as the 413/415 message at upload, or as the document's `failure_reason` in the worker."""

from __future__ import annotations

import io
import lzma
import time
import zipfile
import zlib
from dataclasses import dataclass

from common.jsontext import json_depth
from common.refusals import ErrorCode

READ_BLOCK = 1 << 20
# What zipfile raises for an archive it cannot read: damaged (a bad directory or CRC, an offset before the
# start, a stream that does not inflate or stops short), of a ZIP version or a compression method it does
# not implement, a name that is not the UTF-8 its flag declares, a member encrypted with a password.
# LimitExceeded is a ValueError too: catch it first.
ZIP_ERRORS = (
    zipfile.BadZipFile,
    ValueError,
    NotImplementedError,
    UnicodeDecodeError,
    RuntimeError,
    EOFError,
    zlib.error,
    lzma.LZMAError,
    OSError,
)
# What opening one member raises when the archive is sound but that member cannot be unzipped: encrypted
# with a password (RuntimeError), or compressed with a method zipfile does not implement.
MEMBER_UNREADABLE = (RuntimeError, NotImplementedError)
# Archives smaller than this when unzipped are not judged by their compression ratio.
RATIO_FLOOR_BYTES = 1 << 20


@dataclass(frozen=True)
class IngestLimits:
    max_text_chars: int = 20_971_520
    max_unzipped_bytes: int = 104_857_600
    max_compression_ratio: int = 100
    max_pdf_pages: int = 2_000
    max_nesting_depth: int = 512
    # OCR: pages per document (the plan's cap), pixels per rendered page, the resolution pages render at, and
    # the languages Tesseract reads (its codes joined by "+").
    max_ocr_pages: int = 500
    max_ocr_pixels: int = 40_000_000
    ocr_dpi: int = 300
    ocr_languages: str = "eng"
    ocr_pictures: str = "textless"  # common.env.OCR_PICTURES
    # Uploads of many files: files per request and ZIPs inside ZIPs.
    max_batch_files: int = 1_000
    max_zip_depth: int = 3
    # time.monotonic() by which ingestion must end (the task's soft time limit), or None.
    deadline: float | None = None

    def check_time(self) -> None:
        """Raise DeadlinePassed once the deadline is past; called between pages, blocks, tags and batches,
        so a time limit stops the work even where a library swallows Celery's soft-limit exception."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise DeadlinePassed()

    @classmethod
    def from_settings(cls) -> IngestLimits:
        from django.conf import settings

        return cls(
            max_text_chars=settings.QUIRE_MAX_DOCUMENT_BYTES,
            max_unzipped_bytes=settings.QUIRE_INGEST_MAX_UNZIPPED_BYTES,
            max_compression_ratio=settings.QUIRE_INGEST_MAX_COMPRESSION_RATIO,
            max_pdf_pages=settings.QUIRE_INGEST_MAX_PDF_PAGES,
            max_nesting_depth=settings.QUIRE_INGEST_MAX_NESTING_DEPTH,
            max_ocr_pages=settings.QUIRE_INGEST_MAX_OCR_PAGES,
            max_ocr_pixels=settings.QUIRE_INGEST_MAX_OCR_PIXELS,
            ocr_dpi=settings.QUIRE_INGEST_OCR_DPI,
            ocr_languages=settings.QUIRE_INGEST_OCR_LANGUAGES,
            ocr_pictures=settings.QUIRE_INGEST_OCR_PICTURES,
            max_batch_files=settings.QUIRE_UPLOAD_MAX_FILES,
            max_zip_depth=settings.QUIRE_UPLOAD_MAX_ZIP_DEPTH,
        )

    def remaining(self) -> float | None:
        """Seconds left before the deadline, or None without one."""
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())


class DeadlinePassed(Exception):
    """Ingestion ran past its time limit."""


class LimitExceeded(ValueError):
    """The document would cost more than a limit allows; `code` is the refusal's at upload."""

    def __init__(self, code: ErrorCode, reason: str):
        super().__init__(reason)
        self.code = code


def check_archive_declared(archive: zipfile.ZipFile, archive_bytes: int, limits: IngestLimits) -> None:
    """Refuse a ZIP whose members, by the sizes its central directory declares, unzip past the limit or
    at a ratio past the limit."""
    declared = sum(info.file_size for info in archive.infolist())
    _check_unzipped(declared, archive_bytes, limits, "declares")


def check_archive_read(content: bytes, limits: IngestLimits) -> None:
    """Inflate every member in blocks without keeping them, counting the bytes that really come out, and
    stop at the first block past the limits, whatever the headers say. A member that inflates to more than
    its declared size fails zipfile's CRC check at its declared end; one that cannot be unzipped at all
    (encrypted, an unknown compression) inflates to nothing and is left to whoever reads it."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        check_archive_declared(archive, len(content), limits)
        total = 0
        for info in archive.infolist():
            try:
                member = archive.open(info)
            except MEMBER_UNREADABLE:
                continue
            with member:
                while block := member.read(READ_BLOCK):
                    total += len(block)
                    _check_unzipped(total, len(content), limits, "inflates to")


def _check_unzipped(size: int, archive_bytes: int, limits: IngestLimits, verb: str) -> None:
    if size > limits.max_unzipped_bytes:
        raise LimitExceeded(
            ErrorCode.DOCUMENT_EXPANDS_TOO_LARGE,
            f"the archive {verb} more than {limits.max_unzipped_bytes} bytes unzipped "
            f"(QUIRE_INGEST_MAX_UNZIPPED_BYTES)",
        )
    if size > RATIO_FLOOR_BYTES and size > limits.max_compression_ratio * max(archive_bytes, 1):
        raise LimitExceeded(
            ErrorCode.DOCUMENT_EXPANDS_TOO_LARGE,
            f"the archive {verb} more than {limits.max_compression_ratio} times its own size unzipped "
            f"(QUIRE_INGEST_MAX_COMPRESSION_RATIO), like a zip bomb",
        )


def check_pages(count: int, limits: IngestLimits, kind: str = "PDF") -> None:
    if count > limits.max_pdf_pages:
        raise LimitExceeded(
            ErrorCode.TOO_MANY_PAGES,
            f"the {kind} has more than {limits.max_pdf_pages} pages (QUIRE_INGEST_MAX_PDF_PAGES)",
        )


def check_ocr_pages(count: int, limits: IngestLimits) -> None:
    if count > limits.max_ocr_pages:
        raise LimitExceeded(
            ErrorCode.TOO_MANY_PAGES,
            f"more than {limits.max_ocr_pages} pages need OCR, the plan's cap (max_ocr_pages)",
        )


def check_ocr_pixels(page: int, pixels: int, limits: IngestLimits) -> None:
    if pixels > limits.max_ocr_pixels:
        raise LimitExceeded(
            ErrorCode.DOCUMENT_TOO_LARGE,
            f"page {page} renders to {pixels} pixels for OCR, more than {limits.max_ocr_pixels} "
            f"(QUIRE_INGEST_MAX_OCR_PIXELS)",
        )


# An image is scaled down to QUIRE_INGEST_MAX_OCR_PIXELS for OCR (a 50-megapixel phone photo of a page holds far
# more pixels than its text needs); one of more than this many times that is refused, as its pixels would cost
# too much to decode.
IMAGE_PIXELS_FACTOR = 4


def check_image_pixels(page: int, pixels: int, limits: IngestLimits) -> None:
    if pixels > IMAGE_PIXELS_FACTOR * limits.max_ocr_pixels:
        raise LimitExceeded(
            ErrorCode.DOCUMENT_TOO_LARGE,
            f"page {page} of the image has {pixels} pixels, more than {IMAGE_PIXELS_FACTOR} times "
            f"QUIRE_INGEST_MAX_OCR_PIXELS ({IMAGE_PIXELS_FACTOR * limits.max_ocr_pixels})",
        )


def check_batch_files(count: int, limits: IngestLimits, holder: str = "the upload") -> None:
    """The files of an upload, or the attachments of an e-mail (`holder`), each to become a document."""
    if count > limits.max_batch_files:
        raise LimitExceeded(
            ErrorCode.DOCUMENT_TOO_LARGE,
            f"{holder} holds more than {limits.max_batch_files} files (QUIRE_UPLOAD_MAX_FILES)",
        )


def check_zip_depth(depth: int, limits: IngestLimits) -> None:
    if depth > limits.max_zip_depth:
        raise LimitExceeded(
            ErrorCode.NESTING_TOO_DEEP,
            f"the ZIP nests ZIPs deeper than {limits.max_zip_depth} levels (QUIRE_UPLOAD_MAX_ZIP_DEPTH)",
        )


def check_text(chars: int, limits: IngestLimits) -> None:
    if chars > limits.max_text_chars:
        raise LimitExceeded(
            ErrorCode.DOCUMENT_TOO_LARGE,
            f"the extracted text is longer than {limits.max_text_chars} characters "
            f"(QUIRE_MAX_DOCUMENT_BYTES applies to the text too)",
        )


def check_depth(depth: int, limits: IngestLimits, kind: str) -> None:
    if depth > limits.max_nesting_depth:
        raise LimitExceeded(
            ErrorCode.NESTING_TOO_DEEP,
            f"the {kind} nests deeper than {limits.max_nesting_depth} levels (QUIRE_INGEST_MAX_NESTING_DEPTH)",
        )


def check_json_depth(text: str, limits: IngestLimits) -> None:
    check_depth(json_depth(text), limits, "JSON")
