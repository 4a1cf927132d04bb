"""Reading connector inputs from files: contracts and transcripts (text or JSON turns), corpora, claims."""

from __future__ import annotations

import json
from pathlib import Path

from connectors.base import MAX_DOCUMENT_CHARS, Document
from connectors.earnings.transcript import turns_json_to_text
from connectors.text import normalise_text

MAX_FILE_BYTES = 4 * MAX_DOCUMENT_CHARS


def read_text_file(path: Path) -> str:
    """UTF-8 text of `path`; ValueError for a missing, empty, oversized or binary file."""
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise ValueError(f"{path}: the file is empty")
    if size > MAX_FILE_BYTES:
        raise ValueError(f"{path}: {size:,} bytes is over the {MAX_FILE_BYTES:,}-byte limit")
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise ValueError(f"{path}: looks like a binary file (NUL bytes); give plain text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    control = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if control > 0.05 * min(len(text), 8192):
        raise ValueError(f"{path}: looks like a binary file (control characters); give plain text")
    if not text.strip():
        raise ValueError(f"{path}: the file holds only whitespace")
    return text


def load_document(path: Path, *, connector: str) -> Document:
    """A contract or transcript file as a Document named after the file (JSON turns become text)."""
    text = read_text_file(path)
    kind = "text"
    if connector == "earnings" and path.suffix.lower() == ".json":
        text = turns_json_to_text(text)
        kind = "transcript"
    return Document(document_id=path.stem, text=text, kind=kind, metadata={"path": str(path)})


def _jsonl(path: Path) -> list[dict]:
    rows = []
    for number, line in enumerate(read_text_file(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{number}: not JSON: {error.msg}") from error
        if not isinstance(row, dict):
            raise ValueError(f"{path}:{number}: each line must be a JSON object")
        rows.append(row)
    return rows


def corpus_document(row: dict, where: str = "corpus") -> Document:
    """A corpus line {doc_id, title, abstract} (abstract a string or a list of sentences) as a Document. A list's
    sentences are joined with spaces and their offsets in the text kept as `metadata["sentences"]`, one per listed
    sentence (an empty one a zero-length span), so the list's indices stay the corpus's own. The text is the
    normalised text (`normalise_text`) those offsets, and every span, refer to."""
    doc_id = row.get("doc_id", row.get("_id"))
    if doc_id is None or str(doc_id) == "":
        raise ValueError(f"{where}: needs a doc_id")
    title = normalise_text(str(row.get("title") or "")).strip()
    abstract = row.get("abstract", row.get("text", ""))
    metadata: dict = {"title": title}
    if isinstance(abstract, list):
        sentences = [normalise_text(str(sentence)).strip() for sentence in abstract]
        abstract = " ".join(sentence for sentence in sentences if sentence)
        start = len(title) + 2 if title else 0
        metadata["sentences"] = []
        for sentence in sentences:
            metadata["sentences"].append([start, start + len(sentence)])
            if sentence:
                start += len(sentence) + 1
    if not isinstance(abstract, str):
        raise ValueError(f"{where}: abstract must be a string or a list of strings")
    abstract = normalise_text(abstract).strip()
    text = f"{title}\n\n{abstract}" if title else abstract
    return Document(document_id=str(doc_id), text=text, metadata=metadata)


def load_corpus(path: Path) -> list[Document]:
    return [corpus_document(row, f"{path}:{n}") for n, row in enumerate(_jsonl(path), start=1)]


def load_claims(path: Path) -> list[dict]:
    claims = []
    for number, row in enumerate(_jsonl(path), start=1):
        entry = {"claim_id": str(row.get("claim_id", row.get("id", number)))}
        if "claim" in row:
            entry["claim"] = row["claim"]
        elif "question" in row:
            entry["question"] = row["question"]
        else:
            raise ValueError(f'{path}:{number}: needs a "claim" or "question" field')
        claims.append(entry)
    return claims
