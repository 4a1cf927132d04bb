"""A PDF page (rendered with pypdfium2) or a scanned image's page as a PNG image, made once and kept in storage
beside the documents, under the tenant's schema (`page-images/<schema>/<document id>/`), so erasing a tenant
empties that folder."""

from __future__ import annotations

import contextlib
import io
import os
import threading
from collections.abc import Set
from datetime import datetime

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection

from quire.documents.limits import IngestLimits, check_ocr_pixels
from quire.documents.models import Document
from quire.documents.sniffing import IMAGES, PAGED

PAGE_IMAGE_DPI = 100
# pdfium is not thread-safe, and the web process serves requests from several threads.
_PDFIUM = threading.Lock()


PAGE_IMAGES = "page-images"


def page_images_folder(schema_name: str) -> str:
    return f"{PAGE_IMAGES}/{schema_name}"


def _name(document_id: str, page: int) -> str:
    return f"{page_images_folder(connection.schema_name)}/{document_id}/{page}.png"


def page_image(document: Document, page: int) -> bytes:
    """PNG of page `page` (1-based) of a PDF document at PAGE_IMAGE_DPI, its form fields drawn, or of a
    scanned image's page as OCR read it, scaled to PAGE_IMAGE_DPI (so a box lies over either alike);
    LookupError for a document that has no page images (`sniffing.PAGED`) or a page it does not have (or
    pdfium cannot load: an empty page of the document's text). Held to the OCR pixel limit. The connection is
    in the document's tenant's schema."""
    if document.content_type not in PAGED or not 1 <= page <= document.page_count:
        raise LookupError(f"{document.id} has no page image {page}")
    name = _name(document.id, page)
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as cached:
            return cached.read()
    with document.file.open("rb") as handle:
        content = handle.read()
    if document.content_type in IMAGES:
        image = _scanned_page(content, page)
    else:
        image = _pdf_page(document.id, content, page)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    if not default_storage.exists(name):
        default_storage.save(name, ContentFile(out.getvalue()))
        if not Document.objects.filter(pk=document.id).exists():
            page_images_delete(document.id, schema_name=connection.schema_name)
    return out.getvalue()


def _scanned_page(content: bytes, page: int):
    from PIL import Image

    from quire.documents.image import open_image, page_frame

    limits = IngestLimits.from_settings()
    with open_image(content, limits) as image:
        frame, dpi = page_frame(image, page, limits)
    if dpi != PAGE_IMAGE_DPI:
        scale = PAGE_IMAGE_DPI / dpi
        frame = frame.resize(
            (round(frame.width * scale), round(frame.height * scale)), Image.Resampling.LANCZOS
        )
    return frame


def _pdf_page(document_id: str, content: bytes, page: int):
    import pypdfium2

    with _PDFIUM:
        pdf = pypdfium2.PdfDocument(content)
        pdf.init_forms()
        try:
            scale = PAGE_IMAGE_DPI / 72
            try:
                loaded = pdf[page - 1]
            except pypdfium2.PdfiumError:
                raise LookupError(f"{document_id} has no page image {page}: pdfium cannot load it") from None
            width, height = loaded.get_size()
            check_ocr_pixels(page, round(width * scale) * round(height * scale), IngestLimits.from_settings())
            return loaded.render(scale=scale).to_pil()
        finally:
            pdf.close()


def page_images_delete(document_id: str, *, schema_name: str) -> int:
    """Delete the document's page images and their folder: under its tenant's schema, and where they were kept
    before that (`page-images/<document id>/`). Returns how many."""
    folders = (f"{page_images_folder(schema_name)}/{document_id}", f"{PAGE_IMAGES}/{document_id}")
    return sum(len(stored_folder_delete(folder)) for folder in folders)


def page_images_folder_delete(*, schema_name: str) -> int:
    """Delete every page image kept under the schema's folder, whatever document it was rendered from, and the
    folders; returns how many images."""
    folder = page_images_folder(schema_name)
    documents, _ = stored_listing(folder)
    deleted = sum(len(stored_folder_delete(f"{folder}/{document_id}")) for document_id in documents)
    stored_folder_prune(folder)
    return deleted


def stored_folder_delete(folder: str) -> list[str]:
    """Delete the files directly under `folder` (`stored_files_delete`), then the folder where it is left
    empty (`stored_folder_prune`); returns the paths deleted."""
    deleted = stored_files_delete(folder)
    stored_folder_prune(folder)
    return deleted


def stored_folder_prune(folder: str) -> None:
    """Remove `folder` where storage keeps folders (local disk) and it is empty, so that its name (a schema's,
    a document's id) does not outlive what it held; an object store keeps no folders."""
    try:
        path = default_storage.path(folder)
    except NotImplementedError:
        return
    with contextlib.suppress(OSError):
        os.rmdir(path)


def stored_listing(folder: str) -> tuple[list[str], list[str]]:
    """The folders and files directly under `folder` in storage; none where it does not exist."""
    try:
        return default_storage.listdir(folder)
    except FileNotFoundError:
        return [], []


def stored_files_delete(
    folder: str, *, written_before: datetime | None = None, keep: Set[str] = frozenset()
) -> list[str]:
    """Delete the files directly under `folder`, but for the paths in `keep` and, with `written_before`, those
    written since; returns the paths deleted."""
    deleted = []
    for name in stored_listing(folder)[1]:
        path = f"{folder}/{name}"
        if path in keep:
            continue
        try:
            if written_before is not None and default_storage.get_modified_time(path) >= written_before:
                continue
            default_storage.delete(path)
        except FileNotFoundError:
            continue
        deleted.append(path)
    return deleted
