"""Values of a column's type read from one passage: dates, durations, money, numbers, percentages, yes/no by
the passage's polarity, lists, and enum choices by their terms. Each finder returns (value, normalised,
start, end) with document offsets, or None."""

from __future__ import annotations

import re

from connectors.dates import find_dates, parse_duration
from connectors.earnings.tables import NUMBER, parse_number
from connectors.review.retrieval import stems

Found = tuple[object, object, int, int]
NEGATION_REACH = 40
_WORD = re.compile(r"[A-Za-z0-9]+")
_CURRENCIES = ("USD", "EUR", "GBP", "JPY", "USD_per_share")
_NEGATION = re.compile(
    r"\b(?:no|not|never|none|neither|nor|without|n't|cannot|shall\s+not|may\s+not|will\s+not|prohibited|excluded)\b",
    re.IGNORECASE,
)
_LIST_LEAD = re.compile(
    r"(?::|\bincluding(?:\s+but\s+not\s+limited\s+to)?|\bsuch\s+as|\bnamely)\s*", re.IGNORECASE
)
_LIST_SPLIT = re.compile(r"\s*(?:;|,|\band\b|\bor\b|\(\w\)|\(\d+\))\s*", re.IGNORECASE)


def find_date(text: str, start: int, end: int) -> Found | None:
    dates = find_dates(text, start, end)
    if not dates:
        return None
    first = dates[0]
    return text[first.start : first.end], first.iso, first.start, first.end


def find_duration(text: str, start: int, end: int) -> Found | None:
    found = parse_duration(text[start:end])
    if found is None:
        return None
    iso, a, b = found
    return text[start + a : start + b], iso, start + a, start + b


def _numbers(text: str, start: int, end: int):
    dates = [(d.start, d.end) for d in find_dates(text, start, end)]
    for match in NUMBER.finditer(text, start, end):
        if any(a <= match.start() < b for a, b in dates):
            continue
        value, unit, scale = parse_number(match)
        raw = match.group("value")
        if unit == "count" and scale == 1.0 and re.fullmatch(r"(?:19|20)\d\d", raw):
            continue
        yield match, value, unit, scale


def _figure(match: re.Match[str], value: float, unit: str, scale: float) -> Found:
    return match.group(0).strip(), {"value": value, "unit": unit, "scale": scale}, match.start(), match.end()


def find_money(text: str, start: int, end: int) -> Found | None:
    for match, value, unit, scale in _numbers(text, start, end):
        if unit in _CURRENCIES:
            return _figure(match, value, unit, scale)
    return None


def find_percent(text: str, start: int, end: int) -> Found | None:
    for match, value, unit, scale in _numbers(text, start, end):
        if unit == "percent":
            return _figure(match, value, unit, scale)
    return None


def find_number(text: str, start: int, end: int) -> Found | None:
    for match, value, unit, scale in _numbers(text, start, end):
        if unit == "count":
            return _figure(match, value, unit, scale)
    return None


def find_yes_no(text: str, start: int, end: int, terms: list[str]) -> Found:
    """Yes, unless a negation stands within a few words before one of the question's terms in the passage."""
    wanted = set(terms)
    negated = any(
        word.group(0).lower()[:6] in wanted
        and _NEGATION.search(text, max(start, word.start() - NEGATION_REACH), word.start())
        for word in _WORD.finditer(text, start, end)
    )
    answer = "No" if negated else "Yes"
    return answer, answer.lower(), start, end


def find_list(text: str, start: int, end: int) -> Found | None:
    lead = _LIST_LEAD.search(text, start, end)
    body_start = lead.end() if lead else start
    items = [item.strip(" .,;:") for item in _LIST_SPLIT.split(text[body_start:end])]
    items = [item for item in items if 1 < len(item) <= 120]
    if len(items) < 2:
        return None
    return items, [item.lower() for item in items], body_start, end


def choose(choices: list[str], passages_text: list[tuple[str, float]]) -> tuple[str, float] | None:
    """The choice whose terms the passages carry most (weighted by each passage's score), and its share of
    the total; None when no choice's terms appear."""
    scores = {}
    for choice in choices:
        terms = set(stems(choice))
        if not terms:
            continue
        scores[choice] = sum(
            score * len(terms & set(stems(text))) / len(terms) for text, score in passages_text
        )
    total = sum(scores.values())
    if not total:
        return None
    best = max(scores, key=lambda c: scores[c])
    return best, scores[best] / total


FINDERS = {
    "date": find_date,
    "duration": find_duration,
    "money": find_money,
    "number": find_number,
    "percent": find_percent,
    "list": find_list,
}
