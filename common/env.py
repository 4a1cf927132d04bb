"""Typed readers for settings that come from the environment."""

from __future__ import annotations

import os
import re

from cryptography.fernet import Fernet


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise RuntimeError(f"{name} must be a boolean (true/false), got {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be an integer, got {value!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


# When the pictures of a Word document, workbook or deck (DOCX, DOC, RTF, XLSX, XLS, PPTX, PPT, ODT, ODS,
# ODP) are read by OCR where each stands: only when it has almost no words of its own (a scan pasted in, a deck
# of screenshots), always (beside its text: a contract with a scanned exhibit), or never.
OCR_PICTURES = ("textless", "always", "never")


def ocr_pictures(value: str) -> str:
    """One of OCR_PICTURES (QUIRE_INGEST_OCR_PICTURES); RuntimeError for anything else."""
    if value not in OCR_PICTURES:
        raise RuntimeError(
            f"QUIRE_INGEST_OCR_PICTURES must be one of {', '.join(OCR_PICTURES)}, got {value!r}"
        )
    return value


def ocr_pictures_refused(value: str) -> str | None:
    """Why `value` cannot say when a document's pictures are read by OCR; None where it can."""
    return None if value in OCR_PICTURES else f"one of {', '.join(OCR_PICTURES)}, not {value!r}"


_OCR_LANGUAGES = re.compile(r"[a-z]{3}(?:_[a-z]+)?(?:\+[a-z]{3}(?:_[a-z]+)?)*")


def ocr_languages(value: str) -> str:
    """Tesseract's languages as it takes them (`eng`, `eng+deu`, `chi_sim`): lower-case ISO 639-2 codes, a
    script or variant after `_`, joined by `+`; RuntimeError for anything else."""
    value = value.strip()
    if not _OCR_LANGUAGES.fullmatch(value):
        raise RuntimeError(
            f"QUIRE_INGEST_OCR_LANGUAGES must be Tesseract language codes joined by '+' (eng+deu), got {value!r}"
        )
    return value


def fernet_keys(keys: list[str]) -> list[str]:
    """`keys` (QUIRE_ENCRYPTION_KEYS) where each is a Fernet key, 32 bytes in URL-safe base64; RuntimeError
    naming the first that is not by its place, never by its value."""
    for place, key in enumerate(keys, 1):
        try:
            Fernet(key)
        except ValueError:
            raise RuntimeError(
                f"QUIRE_ENCRYPTION_KEYS: key {place} of {len(keys)} is not a Fernet key (32 bytes in URL-safe "
                'base64, 44 characters); make one with: python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"'
            ) from None
    return keys


def ocr_languages_refused(value: str, offered: str) -> str | None:
    """Why `value` cannot be the languages a document's scans are read in: not Tesseract's codes joined by "+"
    (as `ocr_languages` takes them, without surrounding blanks), one not among `offered` (the deployment's,
    joined alike), or one named twice; None where it can."""
    try:
        codes = ocr_languages(value).split("+")
    except RuntimeError:
        codes = None
    if value == value.strip() and codes is not None and set(codes) <= set(offered.split("+")):
        if len(set(codes)) == len(codes):
            return None
        return f"each language is named once; {value!r} repeats one"
    return (
        f"OCR languages are Tesseract's codes joined by '+', each one this deployment reads "
        f"({', '.join(offered.split('+'))}); {value!r} is not"
    )
