"""Spans: `{"document_id", "start", "end", "quote"}` with `text[start:end] == quote` always.

The one place that builds, finds, repairs and checks spans; the platform uses it to verify results.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

_WHITESPACE = re.compile(r"\s+")


def make_span(document_id: str, text: str, start: int, end: int) -> dict:
    """Span of `text[start:end]`; raises ValueError for offsets outside the text or an empty range."""
    if not 0 <= start < end <= len(text):
        raise ValueError(
            f"span [{start}, {end}) is not a non-empty range inside a text of {len(text)} characters"
        )
    return {"document_id": document_id, "start": start, "end": end, "quote": text[start:end]}


def trimmed_span(document_id: str, text: str, start: int, end: int) -> dict | None:
    """Span of `text[start:end]` without its surrounding whitespace; None when nothing is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start >= end:
        return None
    return make_span(document_id, text, start, end)


def is_valid_span(span: Any, text: str, document_id: str | None = None) -> bool:
    """True when `span` has the span shape and its quote is exactly `text[start:end]`."""
    if not isinstance(span, dict):
        return False
    start, end, quote = span.get("start"), span.get("end"), span.get("quote")
    if not (isinstance(start, int) and isinstance(end, int) and isinstance(quote, str)):
        return False
    if document_id is not None and span.get("document_id") != document_id:
        return False
    return 0 <= start < end <= len(text) and text[start:end] == quote


def _flexible_pattern(quote: str) -> re.Pattern[str] | None:
    words = quote.split()
    if not words:
        return None
    return re.compile(r"\s+".join(re.escape(word) for word in words), re.IGNORECASE)


def find_span(document_id: str, text: str, quote: str, *, near: int | None = None) -> dict | None:
    """Locate `quote` in `text`: exact first, then ignoring case and runs of whitespace.

    With several matches, the one starting closest to `near` (or the first) wins. None when absent.
    """
    if not quote or not quote.strip():
        return None
    starts = [m.start() for m in re.finditer(re.escape(quote), text)]
    if starts:
        start = min(starts, key=lambda s: abs(s - near)) if near is not None else starts[0]
        return make_span(document_id, text, start, start + len(quote))
    pattern = _flexible_pattern(quote.strip())
    if pattern is None:
        return None
    matches = list(pattern.finditer(text))
    if not matches:
        return None
    match = min(matches, key=lambda m: abs(m.start() - near)) if near is not None else matches[0]
    return make_span(document_id, text, match.start(), match.end())


def repair_span(span: Any, text: str, document_id: str | None = None) -> dict | None:
    """Return `span` when valid, else the span found by searching its quote (near its start); None if lost."""
    if not isinstance(span, dict):
        return None
    doc = document_id if document_id is not None else str(span.get("document_id", ""))
    if is_valid_span(span, text, doc):
        return span
    quote = span.get("quote")
    if not isinstance(quote, str):
        return None
    near = span.get("start") if isinstance(span.get("start"), int) else None
    return find_span(doc, text, quote, near=near)


def iter_spans(value: Any) -> Iterator[dict]:
    """Every span-shaped dict nested anywhere in a connector result."""
    if isinstance(value, dict):
        if {"document_id", "start", "end", "quote"} <= value.keys():
            yield value
            return
        for child in value.values():
            yield from iter_spans(child)
    elif isinstance(value, list):
        for child in value:
            yield from iter_spans(child)


def invalid_spans(result: dict, texts: dict[str, str]) -> list[dict]:
    """Spans of `result` that do not hold against `texts` (document_id -> normalised text)."""
    return [
        span for span in iter_spans(result) if not is_valid_span(span, texts.get(span["document_id"], ""))
    ]


def token_set(value: str) -> set[str]:
    return set(re.findall(r"\w+", value.lower()))


def token_jaccard(first: str, second: str) -> float:
    a, b = token_set(first), token_set(second)
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def collapse_whitespace(value: str) -> str:
    return _WHITESPACE.sub(" ", value).strip()


def merge_overlapping(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def verify_spans(result: Any, texts: dict[str, str]) -> list[str]:
    """Check every span of `result` against `texts` (document_id -> normalised text), repairing in place.

    A span whose offsets are off but whose quote is in its document is moved onto the quote; one whose quote
    is nowhere in it is left as it is and reported. Returns one message per span that could not be verified.
    """
    problems: list[str] = []
    for span in list(iter_spans(result)):
        text = texts.get(span["document_id"])
        if text is None:
            problems.append(f"span names unknown document {span['document_id']!r}")
            continue
        if is_valid_span(span, text):
            continue
        repaired = repair_span(span, text)
        if repaired is None:
            problems.append(f"quote not found in {span['document_id']!r}: {str(span.get('quote'))[:60]!r}")
        else:
            span.update(repaired)
    return problems
