"""Findings of a connector result and the document text with every finding's span marked.

A finding is any object of the output that holds a span (the shape and the walk are `connectors.spans`');
its label comes from the nearest enclosing object's describing field (category, metric, code, ...). The
output's `suggestions` (legal's candidates below the bar a finding must reach) are not findings: they are read
apart by `suggestions_from_output` and marked apart in the text.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from connectors import in_reading_order
from connectors.spans import PageMap, walk_spans

LABEL_FIELDS = ("category", "metric", "code", "label", "verdict", "speaker", "claim", "text", "message")
SUGGESTIONS = "suggestions"


@dataclass(frozen=True)
class Finding:
    number: int
    section: str
    label: str
    document_id: str
    start: int
    end: int
    quote: str
    suggestion: bool = False
    confidence: float | None = None


def _label(owners: tuple[dict, ...]) -> str:
    for owner in reversed(owners):
        for field in LABEL_FIELDS:
            value = owner.get(field)
            if isinstance(value, str | int | float) and not isinstance(value, bool) and str(value).strip():
                return str(value)
    return ""


def findings_from_output(output: dict) -> list[Finding]:
    """Every span of the output but its context and suggestions, numbered from 1: section by section in its
    connector's reading order (`Connector.sections`), then the rest, each in order of appearance."""
    if not isinstance(output, dict):
        raise ValueError("a connector output must be a JSON object")
    ordered = in_reading_order(output)
    return _read(
        {k: v for k, v in ordered.items() if k not in ("context", SUGGESTIONS)}, first=1, suggestion=False
    )


def suggestions_from_output(output: dict, first: int = 1) -> list[Finding]:
    """The spans of the output's suggestions, in order, numbered from `first` (after the findings, so one
    document's marks can carry both), each with its confidence where the suggestion states one."""
    if not isinstance(output, dict):
        raise ValueError("a connector output must be a JSON object")
    return _read({SUGGESTIONS: output.get(SUGGESTIONS) or []}, first=first, suggestion=True)


def _read(output: dict, *, first: int, suggestion: bool) -> list[Finding]:
    findings = []
    for site in walk_spans(output):
        start, end = site.span["start"], site.span["end"]
        if not (isinstance(start, int) and isinstance(end, int)) or start < 0 or end < start:
            continue
        confidence = site.owners[-1].get("confidence") if site.owners else None
        findings.append(
            Finding(
                number=first + len(findings),
                section=site.section,
                label=_label(site.owners) or site.section,
                document_id=str(site.span["document_id"]),
                start=start,
                end=end,
                quote=str(site.span["quote"]),
                suggestion=suggestion,
                confidence=float(confidence)
                if isinstance(confidence, int | float) and not isinstance(confidence, bool)
                else None,
            )
        )
    return findings


def highlight_text(text: str, findings: list[Finding]) -> SafeString:
    """The text, HTML-escaped, with a `<mark data-findings="n m">` around every stretch that findings cover
    and an empty anchor `<span id="finding-n">` where finding n starts. Overlapping spans share marks; a stretch
    only suggestions cover is `<mark class="suggestion" ...>`."""
    valid = [f for f in findings if f.end <= len(text) and f.start < f.end]
    points = sorted({0, len(text)} | {f.start for f in valid} | {f.end for f in valid})
    starts_at: dict[int, list[Finding]] = {}
    for finding in valid:
        starts_at.setdefault(finding.start, []).append(finding)
    suggested = {f.number for f in valid if f.suggestion}
    active: set[int] = set()
    ends_at: dict[int, list[int]] = {}
    parts: list[str] = []
    for left, right in itertools.pairwise(points):
        for number in ends_at.pop(left, []):
            active.discard(number)
        for finding in starts_at.get(left, []):
            parts.append(f'<span class="anchor" id="finding-{finding.number}"></span>')
            active.add(finding.number)
            ends_at.setdefault(finding.end, []).append(finding.number)
        piece = escape(text[left:right])
        if active:
            numbers = " ".join(str(n) for n in sorted(active))
            kind = ' class="suggestion"' if active <= suggested else ""
            parts.append(f'<mark{kind} data-findings="{numbers}">{piece}</mark>')
        else:
            parts.append(piece)
    return mark_safe("".join(parts))


MAX_PAGE_VIEWS = 20


def page_views(findings: list[Finding], page_map: PageMap, page_sizes: list[list[float]]) -> list[dict]:
    """The PDF (or scanned image) pages that findings land on (the first MAX_PAGE_VIEWS), each with the boxes of
    its findings' lines as percentages of the page, for drawing over the page image."""
    pages: dict[int, list[dict]] = {}
    for finding in findings:
        for box in page_map.boxes(finding.start, finding.end):
            if not 1 <= box["page"] <= len(page_sizes):
                continue
            width, height = page_sizes[box["page"] - 1]
            pages.setdefault(box["page"], []).append(
                {
                    "finding": finding.number,
                    "suggestion": finding.suggestion,
                    "left": round(100 * box["x0"] / width, 2),
                    "top": round(100 * box["top"] / height, 2),
                    "width": round(100 * (box["x1"] - box["x0"]) / width, 2),
                    "height": round(100 * (box["bottom"] - box["top"]) / height, 2),
                }
            )
    return [
        {
            "number": number,
            "ratio": round(100 * page_sizes[number - 1][1] / page_sizes[number - 1][0], 2),
            "boxes": boxes,
        }
        for number, boxes in sorted(pages.items())[:MAX_PAGE_VIEWS]
    ]
