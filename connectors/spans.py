"""Spans: `{"document_id", "start", "end", "quote"}` with `text[start:end] == quote` always.

The one place that defines the span shape, builds, finds and repairs spans, walks the spans nested in a
result and verifies a result against its documents; the platform calls `verify` and `walk_spans`, then
`place_spans`, which adds where each span sits on the page: `page` (1-based) and, for PDFs, `boxes`.
"""

from __future__ import annotations

import bisect
import copy
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from common.scripts import CJK_CHARACTER

SPAN_KEYS = frozenset({"document_id", "start", "end", "quote"})
Policy = Literal["keep", "repair", "drop"]
POLICIES: tuple[Policy, ...] = ("keep", "repair", "drop")
Path = tuple[str | int, ...]


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


_LOOKALIKES = (
    "'\u2018\u2019\u201a\u201b\u2032",
    '"\u201c\u201d\u201e\u201f\u2033',
    "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212",
)
_LOOKALIKE_CLASS = {mark: f"[{re.escape(marks)}]" for marks in _LOOKALIKES for mark in marks}
_LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl"}
_SPELLED = re.compile("ff[il]|f[fil]", re.IGNORECASE)
# How a text may write the letters a ligature stands for: spelled out, as the ligature, or part of each.
_LIGATURE_FORMS = {
    "ffi": ("\ufb03", "\ufb00i", "f\ufb01"),
    "ffl": ("\ufb04", "\ufb00l", "f\ufb02"),
    "ff": ("\ufb00",),
    "fi": ("\ufb01",),
    "fl": ("\ufb02",),
}


def _units(word: str) -> list[tuple[str, str]]:
    """`word` cut into the pieces a pattern matches one by one, each with its pattern: a letter group a ligature
    may stand for ("fi"), a typographic mark and its plain forms (' and \u2019, - and \u2013), else a character."""
    units: list[tuple[str, str]] = []
    position = 0
    while position < len(word):
        spelled = _SPELLED.match(word, position)
        if spelled is not None:
            letters = spelled.group()
            forms = _LIGATURE_FORMS[letters.lower()]
            units.append((letters, f"(?:{re.escape(letters)}|{'|'.join(forms)})"))
            position = spelled.end()
            continue
        character = word[position]
        units.append((character, _LOOKALIKE_CLASS.get(character) or re.escape(character)))
        position += 1
    return units


def _flexible_pattern(quote: str) -> re.Pattern[str] | None:
    """The quote ignoring case, runs of whitespace, typographic quotes and dashes against plain ones, and
    ligatures against the letters they join (PDF text writes "\ufb01"); beside a CJK character, whose line may
    break anywhere without a space, whitespace is optional on both sides."""
    words = "".join(_LIGATURES.get(character, character) for character in quote).split()
    if not words:
        return None
    pattern = []
    for index, word in enumerate(words):
        if index:
            pattern.append(r"\s*" if _cjk_meet(words[index - 1][-1], word[0]) else r"\s+")
        previous = ""
        for piece, piece_pattern in _units(word):
            if previous and _cjk_meet(previous[-1], piece[0]):
                pattern.append(r"\s*")
            pattern.append(piece_pattern)
            previous = piece
    return re.compile("".join(pattern), re.IGNORECASE)


def _cjk_meet(before: str, after: str) -> bool:
    return bool(CJK_CHARACTER.match(before) or CJK_CHARACTER.match(after))


def find_span(
    document_id: str,
    text: str,
    quote: str,
    *,
    near: int | None = None,
    within: Sequence[tuple[int, int]] = (),
) -> dict | None:
    """Locate `quote` in `text`: exact first, then ignoring case and runs of whitespace (the quote composed as
    the normalised text is, so "e\u0301" finds "\u00e9").

    With several matches, one inside the ranges `within` (what a model was shown) wins, else the one nearest
    them; an exact match wins over a loose one only as near to those ranges (a quote reflowed from the passage
    shown is placed there, not on an exact copy elsewhere); among those, the one starting closest to `near`
    (or the first). None when absent.
    """
    if not quote or not quote.strip():
        return None

    def outside(match: tuple[int, int]) -> int:
        start, end = match
        return min((max(a - start, end - b, 0) for a, b in within), default=0)

    exact = [(m.start(), m.start() + len(quote)) for m in re.finditer(re.escape(quote), text)]
    loose: list[tuple[int, int]] = []
    if not exact or min(map(outside, exact)):
        pattern = _flexible_pattern(unicodedata.normalize("NFC", quote.strip()))
        if pattern is None:
            return None
        loose = [(m.start(), m.end()) for m in pattern.finditer(text)]
    if not exact and not loose:
        return None

    def rank(candidate: tuple[tuple[int, int], int]) -> tuple[int, int, int, int]:
        match, kind = candidate
        return outside(match), kind, abs(match[0] - near) if near is not None else 0, match[0]

    (start, end), _ = min([(m, 0) for m in exact] + [(m, 1) for m in loose], key=rank)
    return make_span(document_id, text, start, end)


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


def is_span_shaped(value: Any) -> bool:
    """True when `value` is a dict with the span keys (whether or not it holds against a text)."""
    return isinstance(value, dict) and value.keys() >= SPAN_KEYS


@dataclass(frozen=True)
class SpanSite:
    """Where a span sits in a result: the keys and list indices down to it and the objects enclosing it."""

    span: dict
    path: Path
    owners: tuple[dict, ...]

    @property
    def section(self) -> str:
        """The result's top-level field the span is under ("" for a span at the top)."""
        return str(self.path[0]) if self.path else ""

    @property
    def finding(self) -> Path:
        """Path of the finding that holds the span: the innermost list item on its path, else its top field."""
        for index in range(len(self.path) - 1, -1, -1):
            if isinstance(self.path[index], int):
                return self.path[: index + 1]
        return self.path[:1]

    @property
    def citing(self) -> Path | None:
        """Path of the list item whose `spans` list holds the span as one of its citations (an answer or synthesis
        sentence, a summary bullet); None for a span held otherwise (a review cell's spans are not a list item's)."""
        path = self.path
        if len(path) >= 3 and path[-2] == "spans" and isinstance(path[-1], int) and isinstance(path[-3], int):
            return path[:-2]
        return None


def walk_spans(value: Any, path: Path = (), owners: tuple[dict, ...] = ()) -> Iterator[SpanSite]:
    """Every span nested anywhere in `value` (a connector result), in order, with where it sits."""
    if is_span_shaped(value):
        yield SpanSite(value, path, owners)
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from walk_spans(child, (*path, key), (*owners, value))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from walk_spans(child, (*path, index), owners)


def iter_spans(value: Any) -> Iterator[dict]:
    """Every span-shaped dict nested anywhere in a connector result."""
    return (site.span for site in walk_spans(value))


def invalid_spans(result: dict, texts: dict[str, str]) -> list[dict]:
    """Spans of `result` that do not hold against `texts` (document_id -> normalised text)."""
    return [
        span
        for span in iter_spans(result)
        if not is_valid_span(span, texts.get(str(span["document_id"]), ""))
    ]


def token_set(value: str) -> set[str]:
    return set(re.findall(r"\w+", value.lower()))


def token_jaccard(first: str, second: str) -> float:
    a, b = token_set(first), token_set(second)
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


@dataclass
class Verification:
    """A verified copy of a result and what verifying it did."""

    output: dict
    checked: int = 0
    repaired: int = 0
    dropped: int = 0
    problems: list[str] = field(default_factory=list)


def verify(result: dict, texts: dict[str, str], *, policy: Policy = "drop") -> Verification:
    """Check every span of `result` against `texts` (document_id -> normalised text); `result` is not changed.

    A span that holds is kept. One that does not is, by `policy`: `keep`, left as it is; `repair`, moved onto
    its quote when the quote is in its document, else left; `drop`, moved likewise, else the finding holding
    it (the innermost list item around it, or its top-level field, which becomes None) is removed and a
    warning added to the output's `warnings`. A span in a list item's `spans` list is one of that item's
    citations: the span alone is removed while another of them holds, the item with it once none does, so no
    sentence or bullet is left citing nothing. Every span left unverified is described in `problems`.
    """
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)}, got {policy!r}")
    report = Verification(output=_tree_copy(result))
    lost: list[SpanSite] = []
    for site in list(walk_spans(report.output)):
        report.checked += 1
        span = site.span
        text = texts.get(str(span["document_id"]))
        if text is not None and is_valid_span(span, text):
            continue
        repaired = repair_span(span, text) if text is not None and policy != "keep" else None
        if repaired is not None:
            span.update(repaired)
            report.repaired += 1
            continue
        report.problems.append(_problem(span, text))
        if policy == "drop":
            lost.append(site)
    report.dropped = _remove(report.output, _lost_findings(lost))
    if report.dropped:
        report.output["warnings"] = [
            *(report.output.get("warnings") or []),
            f"{report.dropped} finding(s) dropped: their quotes were not found in the document text",
        ]
    return report


def _tree_copy(value: Any) -> Any:
    """A deep copy in which a dict or list the value holds in several places is copied once per place, so that
    removing a finding at one path removes nothing at another."""
    if isinstance(value, dict):
        return {key: _tree_copy(child) for key, child in value.items()}
    if isinstance(value, list):
        return [_tree_copy(child) for child in value]
    return copy.deepcopy(value)


def _problem(span: dict, text: str | None) -> str:
    if text is None:
        return f"span names unknown document {span['document_id']!r}"
    return f"quote not found in {span['document_id']!r}: {str(span.get('quote'))[:60]!r}"


def _lost_findings(sites: list[SpanSite]) -> set[Path]:
    """The findings removed for these lost spans: each span's own, and every item none of whose cited spans held."""
    cited: dict[Path, list[SpanSite]] = {}
    for site in sites:
        if site.citing is not None:
            cited.setdefault(site.citing, []).append(site)
    uncited = {item for item, lost in cited.items() if len(lost) == len(lost[0].owners[-1]["spans"])}
    return {site.finding for site in sites} | uncited


def _remove(output: dict, findings: set[Path]) -> int:
    """Remove the findings at these paths (a list item is deleted, a top-level field set to None)."""
    removed = 0
    for path in sorted(findings, reverse=True):
        if not path or any(path[:length] in findings for length in range(1, len(path))):
            continue
        container: Any = output
        for key in path[:-1]:
            container = container[key]
        if isinstance(path[-1], int):
            del container[path[-1]]
        else:
            container[path[-1]] = None
        removed += 1
    return removed


@dataclass(frozen=True)
class PageMap:
    """Where a document's text sits on its pages: `page_starts` (the offset each page begins at) and, for
    PDFs, `lines`: `[start, end, page, x0, top, x1, bottom]` per line of text, sorted by `start`, the box in
    PDF points from the page's top-left corner."""

    page_starts: list[int]
    lines: list[list[float]] = field(default_factory=list)

    def page_at(self, offset: int) -> int:
        """1-based page holding character `offset`."""
        return max(1, bisect.bisect_right(self.page_starts or [0], offset))

    @cached_property
    def _line_ends(self) -> list[float]:
        return [line[1] for line in self.lines]

    def boxes(self, start: int, end: int) -> list[dict]:
        """The boxes of the lines that `[start, end)` touches."""
        first = bisect.bisect_right(self._line_ends, start)
        found = []
        for line in self.lines[first:]:
            if line[0] >= end:
                break
            page, x0, top, x1, bottom = line[2:7]
            found.append({"page": int(page), "x0": x0, "top": top, "x1": x1, "bottom": bottom})
        return found

    def place(self, span: dict) -> dict:
        """`span` (changed in place, and returned) with its `page` and, where there are lines, `boxes`."""
        span["page"] = self.page_at(span["start"])
        if self.lines:
            span["boxes"] = self.boxes(span["start"], span["end"])
        return span


def place_spans(result: dict, maps: dict[str, PageMap]) -> dict:
    """Give every span of `result` (changed in place, and returned) its `page` and, where its document has
    line boxes, `boxes`."""
    for span in iter_spans(result):
        page_map = maps.get(str(span["document_id"]))
        if page_map is not None and isinstance(span.get("start"), int) and isinstance(span.get("end"), int):
            page_map.place(span)
    return result
