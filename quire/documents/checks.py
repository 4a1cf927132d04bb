"""System checks of what ingestion needs on the host: the OCR languages configured."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

from quire.documents.ocr import missing_ocr_languages


def ocr_languages_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """A warning where Tesseract lacks a language of QUIRE_INGEST_OCR_LANGUAGES (a web host that runs no ingest
    may lack them all): an ingest worker there fails every document that needs OCR, naming the language."""
    missing = missing_ocr_languages(settings.QUIRE_INGEST_OCR_LANGUAGES)
    if not missing:
        return []
    packages = " ".join(f"tesseract-ocr-{code}" for code in missing)
    return [
        checks.Warning(
            f"Tesseract lacks the OCR language data for {', '.join(missing)} (QUIRE_INGEST_OCR_LANGUAGES); "
            "ingest workers on this host cannot OCR scans.",
            hint=f"apt-get install tesseract-ocr {packages}",
            id="documents.W001",
        )
    ]
