"""Every span of a result is checked against the stored text before the result is saved.

A span whose quote is not at its offsets is repaired by searching the quote; a finding whose span cannot be
found is dropped and counted. Nothing is saved wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.spans import is_valid_span, repair_span

_DROP = object()
_SPAN_KEYS = frozenset({"document_id", "start", "end", "quote"})


@dataclass
class Verification:
    output: dict
    checked: int = 0
    repaired: int = 0
    dropped: int = 0


def verify_spans(output: dict, texts: dict[str, str]) -> Verification:
    report = Verification(output={})
    for key, value in output.items():
        checked = _walk(value, texts, report)
        report.output[key] = None if checked is _DROP else checked
    if report.dropped:
        warnings = list(report.output.get("warnings") or [])
        warnings.append(
            f"{report.dropped} finding(s) dropped: their quotes were not found in the document text"
        )
        report.output["warnings"] = warnings
    return report


def _walk(value, texts: dict[str, str], report: Verification):
    if isinstance(value, dict):
        if value.keys() >= _SPAN_KEYS:
            return _check(value, texts, report)
        result = {}
        for key, child in value.items():
            checked = _walk(child, texts, report)
            if checked is _DROP:
                return _DROP
            result[key] = checked
        return result
    if isinstance(value, list):
        return [c for c in (_walk(child, texts, report) for child in value) if c is not _DROP]
    return value


def _check(span: dict, texts: dict[str, str], report: Verification):
    report.checked += 1
    text = texts.get(str(span.get("document_id")))
    if text is None:
        report.dropped += 1
        return _DROP
    if is_valid_span(span, text):
        return span
    repaired = repair_span(span, text)
    if repaired is None:
        report.dropped += 1
        return _DROP
    report.repaired += 1
    return {**span, **repaired}
