"""Periods in earnings calls: quarters, halves and fiscal years named in a sentence, the call's own period,
the period a figure speaks of and the one before it."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from connectors.earnings.tables import NUMBER, RANGE, SIGNS

_QUARTER_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}
_QUARTER = re.compile(
    r"\b(?:(?P<word>first|second|third|fourth|1st|2nd|3rd|4th)[- ](?:fiscal\s+)?quarter(?:\s+(?:of\s+)?(?:fiscal\s+(?:year\s+)?)?(?P<year1>(?:19|20)\d\d|'\d\d))?"
    r"|(?:fiscal\s+)?(?:Q(?P<q>[1-4])|(?P<q_first>[1-4])Q)(?:\s*(?:of\s+)?(?:fiscal\s+|FY\s?)?'?(?P<year2>(?:19|20)?\d\d)(?![.,]\d|\s*%))?"
    r"|(?:fiscal\s+(?:year\s+)?)?(?P<year3>(?:19|20)\d\d|(?<=fiscal )'\d\d)\s+(?P<word3>first|second|third|fourth)[- ]quarter)\b",
    re.IGNORECASE,
)
_HALF_WORDS = {"first": 1, "second": 2, "1st": 1, "2nd": 2, "front": 1, "back": 2, "latter": 2}
# Half years: "first half of 2021", "the first six months", "H2 2021", "1H21"; not "the second half of March".
_HALF = re.compile(
    r"\b(?:(?P<word>first|second|1st|2nd|front|back|latter)[- ]half(?!\s+of\s+(?:the\s+|this\s+|last\s+)?(?:quarter|month|week|decade|"
    r"jan\w*|feb\w*|mar\w*|apr\w*|may|june?|july?|aug\w*|sep\w*|oct\w*|nov\w*|dec\w*)\b)(?:\s+(?:of\s+)?(?:fiscal\s+(?:year\s+)?)?(?P<year1>(?:19|20)\d\d|'\d\d))?"
    r"|first\s+six\s+months(?:\s+(?:of\s+)?(?:fiscal\s+(?:year\s+)?)?(?P<year2>(?:19|20)\d\d))?"
    r"|(?:H(?P<h>[12])|(?P<h_first>[12])H)(?:\s*(?:of\s+)?(?:fiscal\s+|FY\s?)?'?(?P<year3>(?:19|20)?\d\d))?)\b",
    re.IGNORECASE,
)
_YEAR_PERIOD = re.compile(
    r"\b(?:(?:full[- ]year|fiscal(?:\s+year)?|FY|for the year|calendar(?:\s+year)?|year)\s*'?(?P<year>(?:19|20)?\d\d)\b|(?P<fy>full[- ]year|fiscal year|FY|annual|for the year)\b)",
    re.IGNORECASE,
)
# The quarter or fiscal year after the call's: "next quarter", "next fiscal year".
_NEXT = re.compile(r"\bnext\s+(?:fiscal\s+)?(?P<unit>quarter|year)\b(?!\s+or\s+(?:so|two)\b)", re.IGNORECASE)
_YEAR_ALONE = re.compile(
    r"(?:\b(?:in|for|during|of)\s+|^|(?<=[.;:]\s))(?P<year>(?:19|20)\d\d)\b(?!\s*(?:%|percent))"
    r"|\b(?P<year_before>(?:19|20)\d\d)(?=\s+(?:[\w-]+\s+){0,2}(?:guidance|outlook|forecast|earnings|revenues?|sales|eps|"
    r"ebitda|capex|capital|results|expectations?|targets?)\b)",
    re.IGNORECASE,
)


_COMPARISON = re.compile(
    r"\b(?:compared|comparable to|versus|vs\.?|from|prior|last|previous|year-ago|against|same period|over|than|"
    r"reflecting|due to|driven by|because|given)\b",
    re.IGNORECASE,
)
# The call's own quarter named without a number: "for the quarter", "in the quarter", "this quarter".
_THIS_QUARTER = re.compile(
    r"\b(?:(?:for|in|during)\s+the\s+(?:current\s+)?quarter|this\s+quarter)\b(?![- ](?:end|over))",
    re.IGNORECASE,
)


def period_of(
    sentence: str,
    default_quarter: str | None,
    default_year: str | None,
    guidance: bool,
    position: int | None = None,
) -> str | None:
    """The period a figure at `position` of a sentence speaks of ("Q3 2021", "FY2021").

    A period named right after the figure, or after the figure joined to it ("a loss of $249.8 million or $2.72
    per share for the third quarter of 2020"), wins; else the nearest one named before it; one named further
    after it counts unless it is a comparison ("compared to the second quarter of 2020"); else the call's own
    period. "Next quarter" and "next year" are the quarter and fiscal year after the call's. A comparison figure
    ("compared to $139 million last year", "$1.6 billion in Q3 last year") takes the prior period.
    """
    if position is not None:
        prior = _prior_period(sentence, position, default_quarter, default_year, guidance)
        if prior:
            return prior
        return _period_at(sentence, default_quarter, default_year, guidance, position)
    return _period_named(sentence, default_quarter, default_year, guidance)


_COMPARED_BEFORE = re.compile(
    r"(?:\b(?:compared\s+(?:to|with)|versus|vs\.?)\s+(?:[\w-]+\s+){0,6}?|\b(?:from|against)\s+)"
    r"(?:(?:approximately|about|roughly|negative|a|an|of)\s+)*$",
    re.IGNORECASE,
)
# A period named as the base of a comparison ("compared to Q4 2019") is not the figure's period.
_COMPARED_PERIOD = re.compile(
    r"\b(?:compared\s+(?:to|with)|versus|vs\.?|over|from|than)\s+(?:the\s+)?$", re.IGNORECASE
)
_PRIOR_MARKER = re.compile(
    r"\b(?:(?:last|prior|previous)[- ](?P<quarter>quarter)|(?P<sequential>sequential)|last year|prior[- ]year|"
    r"previous year|year[- ]ago|a year (?:ago|earlier)|same (?:period|quarter))",
    re.IGNORECASE,
)

# The prior period named right before a figure: "above our prior year of $1.21", "the year-ago quarter's $0.95".
_PRIOR_BEFORE = re.compile(
    r"\b(?:(?:last|prior|previous)[- ](?P<quarter>quarter)|(?:last|prior|previous)[- ]year|year[- ]ago)"
    r"(?:\s+(?:quarter|period))?(?:'s)?(?:\s+(?:level|figure|result|results))?\s+(?:of\s+)?"
    r"(?:(?:approximately|about|roughly)\s+)?$",
    re.IGNORECASE,
)

# The prior year's period named right after a figure: "$21.7 million in the prior year's second quarter",
# "1.21 for the third quarter of last year", "$1.6 billion in Q3 last year", "in the first quarter a year ago".
_PRIOR_AFTER = re.compile(
    r",?\s+(?:in|for|during)\s+the\s+(?:(?:prior|previous|last)[- ]year(?:'s)?|year[- ]ago|same)\s+"
    r"(?:(?P<word>first|second|third|fourth)\s+)?(?:fiscal\s+)?quarter\b"
    r"|,?\s+(?:in|for|during)\s+(?:the\s+(?P<word2>first|second|third|fourth)\s+(?:fiscal\s+)?quarter|"
    r"(?:fiscal\s+)?Q(?P<q2>[1-4]))\s+(?:(?:of\s+)?(?:last|the\s+prior|the\s+previous)\s+year|a\s+year\s+(?:ago|earlier))\b",
    re.IGNORECASE,
)


# An earlier year's figure given in brackets after the current one: "to $2.6 billion (2020: $2.4 billion)".
_YEAR_LABEL_BEFORE = re.compile(
    r"\(\s*(?:fiscal\s+(?:year\s+)?|FY\s?)?(?P<year>(?:19|20)\d\d)\s*:\s*$", re.IGNORECASE
)


def _prior_period(
    sentence: str, position: int, default_quarter: str | None, default_year: str | None, guidance: bool
) -> str | None:
    """The period of a comparison figure ("compared to $139 million last year", "above our prior year of $1.21",
    "(2020: $2.4 billion)"): one named right after it or labelling it, or the period the sentence speaks of moved
    back a year (or a quarter)."""
    labelled = _YEAR_LABEL_BEFORE.search(sentence[max(0, position - 20) : position])
    if labelled:
        current = _period_at(sentence[:position], default_quarter, default_year, guidance, position)
        dated = re.fullmatch(r"(Q[1-4] |H[12] |FY)((?:19|20)\d\d)", current or "")
        if dated and labelled.group("year") < dated.group(2):
            return dated.group(1) + labelled.group("year")
    prior_before = _PRIOR_BEFORE.search(sentence[max(0, position - 40) : position])
    end = _figure_end(sentence, position)
    prior_after = None if prior_before else _PRIOR_AFTER.match(sentence, end)
    if prior_before:
        a_quarter_back = bool(prior_before.group("quarter"))
    elif prior_after:
        a_quarter_back = False
    else:
        if not _COMPARED_BEFORE.search(sentence[max(0, position - 70) : position]):
            return None
        named = _period_right_after(sentence, end)
        if named:
            period = _period_named(named.group(0), default_quarter, default_year, guidance)
            return _part_named_before(sentence, position, period) or period
        marker = _PRIOR_MARKER.search(sentence[end : end + 60])
        if not marker:
            return None
        a_quarter_back = bool(marker.group("quarter") or marker.group("sequential"))
    current = _period_at(sentence[:position], default_quarter, default_year, guidance, position)
    quarter_named = prior_after and (
        prior_after.group("word") or prior_after.group("word2") or prior_after.group("q2")
    )
    if quarter_named and current and re.fullmatch(r"Q[1-4] (?:19|20)\d\d", current):
        current = f"Q{_QUARTER_WORDS.get(quarter_named.lower(), quarter_named)} {current[3:]}"
    return previous_period(current, quarter=a_quarter_back)


def previous_period(period: str | None, quarter: bool) -> str | None:
    """The period a year (or, with `quarter`, a quarter) before "Q3 2021", "H1 2021" or "FY2021"; a half or a
    fiscal year has no quarter before it and stays as it is."""
    quarterly = re.fullmatch(r"Q([1-4]) ((?:19|20)\d\d)", period or "")
    if quarterly:
        number, year = int(quarterly.group(1)), int(quarterly.group(2))
        if quarter:
            number, year = (number - 1, year) if number > 1 else (4, year - 1)
        else:
            year -= 1
        return f"Q{number} {year}"
    half = re.fullmatch(r"H([12]) ((?:19|20)\d\d)", period or "")
    if half and not quarter:
        return f"H{half.group(1)} {int(half.group(2)) - 1}"
    annual = re.fullmatch(r"FY((?:19|20)\d\d)", period or "")
    return f"FY{int(annual.group(1)) - 1}" if annual and not quarter else period


def _periods_named(sentence: str, guidance: bool, start: int = 0) -> list[re.Match[str]]:
    """Halves, quarters and years the sentence names from `start` (a bare year only in a forecast), by kind."""
    patterns = (_HALF, _QUARTER, _NEXT, _YEAR_PERIOD, *((_YEAR_ALONE,) if guidance else ()))
    return [match for pattern in patterns for match in _matches_from(pattern, sentence, start)]


@lru_cache(maxsize=256)
def _matches(pattern: re.Pattern[str], sentence: str) -> tuple[re.Match[str], ...]:
    return tuple(pattern.finditer(sentence))


def _matches_from(pattern: re.Pattern[str], sentence: str, start: int) -> list[re.Match[str]]:
    """`pattern.finditer(sentence, start)`, read off the sentence's matches, scanned once for all its figures,
    unless one of them runs across `start`."""
    found = _matches(pattern, sentence)
    if any(match.start() < start < match.end() for match in found):
        return list(pattern.finditer(sentence, start))
    return [match for match in found if match.start() >= start]


def _period_at(
    sentence: str, default_quarter: str | None, default_year: str | None, guidance: bool, position: int
) -> str | None:
    named_next = _period_right_after(sentence, _figure_end(sentence, position))
    if named_next:
        named = _period_named(named_next.group(0), default_quarter, default_year, guidance)
        return _part_named_before(sentence, position, named) or named
    # Halves first: "first half of fiscal 2022" ends where its "fiscal 2022" does, and the half is the period.
    before = [m for m in _periods_named(sentence, guidance) if m.end() <= position]
    if not guidance:
        before += [m for m in _matches(_THIS_QUARTER, sentence) if m.end() <= position]
    before = [m for m in before if not _COMPARED_PERIOD.search(sentence[max(0, m.start() - 25) : m.start()])]
    if before:
        dated = [m for m in before if m.re is _NEXT or re.search(r"\d", m.group(0))]
        nearest = max(dated or before, key=lambda m: m.end())
        # "fourth quarter 2021 ... and full-year earnings of": the full year named nearer is the period.
        full_year = max(before, key=lambda m: m.end())
        if (
            full_year.re is _YEAR_PERIOD
            and nearest.re is not _YEAR_PERIOD
            and full_year.end() > nearest.end()
        ):
            nearest = full_year
        # A quarter named after a dated half is the nearer period: "in the first half of 2021, Q2 revenue".
        quarters_nearer = [m for m in before if m.re is _QUARTER and m.end() > nearest.end()]
        if nearest.re is _HALF and quarters_nearer:
            nearest = max(quarters_nearer, key=lambda m: m.end())
        return _period_named(nearest.group(0), default_quarter, default_year, guidance)
    quarters_after = _matches_from(_QUARTER, sentence, position)
    after = quarters_after or sorted(_periods_named(sentence, guidance, position), key=lambda m: m.start())
    if after and not _COMPARISON.search(sentence[position : after[0].start()]):
        return _period_named(after[0].group(0), default_quarter, default_year, guidance)
    last_year = bool(quarters_after and _LAST_YEAR.match(sentence, quarters_after[0].end()))
    if guidance and quarters_after and (_quarter_parts(quarters_after[0])[1] or last_year):
        # A forecast "up 12% compared with the fourth quarter of 2020" speaks of the fourth quarter a year on.
        # "compared to the first quarter last year": the next first quarter after the call's.
        base = _period_named(quarters_after[0].group(0), default_quarter, default_year, last_year)
        ahead = base if last_year else _next_year(base)
        if (
            ahead
            and _COMPARED_BASE.search(sentence[position : quarters_after[0].start()])
            and is_after(ahead, default_quarter, default_year)
        ):
            return ahead
    if (
        not guidance
        and not quarters_after
        and _year_before(sentence, position, default_quarter, default_year)
    ):
        return f"FY{default_year}"
    return _guidance_year(default_quarter, default_year) if guidance else default_quarter


# "$13.80 compared with $9.94 in 2020" on a fourth-quarter call: a figure compared with the same figure of the
# year before the call's, by the year alone, is the call's fiscal year's. On an earlier quarter's call the speaker
# compares the quarter with its year-ago quarter ("$24.7 million as compared to $15.7 million in 2020").
_COMPARED_WITH_YEAR = re.compile(
    r"^[^.;]{0,60}?\b(?:compared\s+(?:to|with)|versus|vs\.?)\s+(?:[^.;]|\.(?=\d)){0,30}?\b(?:in|for)\s+"
    r"(?:fiscal\s+(?:year\s+)?)?"
    r"(?P<year>(?:19|20)\d\d)\b(?!\s*(?:first|second|third|fourth|quarter|Q[1-4]))",
    re.IGNORECASE,
)


def _year_before(sentence: str, position: int, default_quarter: str | None, default_year: str | None) -> bool:
    compared = _COMPARED_WITH_YEAR.match(sentence[_figure_end(sentence, position) :])
    return bool(
        compared
        and (default_quarter or "").startswith("Q4")
        and default_year
        and int(compared.group("year")) + 1 == int(default_year)
        and not re.search(r"\b(?:quarter|period|months)\b", compared.group(0), re.IGNORECASE)
    )


_COMPARED_BASE = re.compile(
    r"^[^.;]{0,60}?\b(?:compared\s+(?:to|with)|versus|vs\.?|over)\s+(?:the\s+)?$"
    r"|^[^;]{0,100}?\b(?:compared\s+(?:to|with)|versus|vs\.?|over)\s+[^;]{0,40}?\b(?:in|for)\s+the\s+$",
    re.IGNORECASE,
)
_LAST_YEAR = re.compile(r",?\s+(?:of\s+)?(?:last|the\s+prior|the\s+previous)\s+year\b", re.IGNORECASE)


def _next_year(period: str | None) -> str | None:
    quarterly = re.fullmatch(r"Q([1-4]) ((?:19|20)\d\d)", period or "")
    return f"Q{quarterly.group(1)} {int(quarterly.group(2)) + 1}" if quarterly else None


def _part_named_before(sentence: str, position: int, named: str | None) -> str | None:
    """A quarter or half named without a year before a figure, in the fiscal year named right after it: "first
    quarter sales ... to $220 million in fiscal 2021" is Q1 2021."""
    year = re.fullmatch(r"FY((?:19|20)\d\d)", named or "")
    if not year:
        return None
    for pattern, prefix, parts in ((_QUARTER, "Q", _quarter_parts), (_HALF, "H", _half_parts)):
        for match in pattern.finditer(sentence, 0, position):
            number, written = parts(match)
            if written is None and not _COMPARED_PERIOD.search(
                sentence[max(0, match.start() - 25) : match.start()]
            ):
                return f"{prefix}{number} {year.group(1)}"
    return None


def _quarter_parts(quarter: re.Match[str]) -> tuple[int, str | None]:
    """(quarter number, year as written or None) of a _QUARTER match."""
    word = (quarter.group("word") or quarter.group("word3") or "").lower()
    number = _QUARTER_WORDS.get(word) or int(quarter.group("q") or quarter.group("q_first") or 0)
    return number, quarter.group("year1") or quarter.group("year2") or quarter.group("year3")


def _half_parts(half: re.Match[str]) -> tuple[int, str | None]:
    """(half number, year as written or None) of a _HALF match; "first six months" is the first half."""
    word = (half.group("word") or "").lower()
    number = _HALF_WORDS.get(word) or int(half.group("h") or half.group("h_first") or 1)
    return number, half.group("year1") or half.group("year2") or half.group("year3")


def _full_year(year: str | None) -> str | None:
    year = year.lstrip("'") if year else year
    return "20" + year if year and len(year) == 2 else year


def _figure_end(sentence: str, position: int) -> int:
    figure = RANGE.match(sentence, position) or NUMBER.match(sentence, position)
    return figure.end() if figure else position


def _period_named(
    sentence: str, default_quarter: str | None, default_year: str | None, guidance: bool
) -> str | None:
    """The period the text names first (a quarter, else a half, else a fiscal year, else a year of guidance)."""
    quarter = _QUARTER.search(sentence)
    if quarter:
        number, year = _quarter_parts(quarter)
        return _part_of_year("Q", number, number, year, default_quarter, default_year, guidance)
    half = _HALF.search(sentence)
    if half:
        number, year = _half_parts(half)
        return _part_of_year("H", number, 2 * number, year, default_quarter, default_year, guidance)
    upcoming = _NEXT.search(sentence)
    if upcoming:
        return _next_after_call(upcoming.group("unit").lower(), default_quarter, default_year)
    annual = _YEAR_PERIOD.search(sentence)
    if annual:
        year = _full_year(annual.group("year"))
        if year:
            return f"FY{year}"
        return (_guidance_year(default_quarter, default_year) if guidance else f"FY{default_year}") or "FY"
    alone = _YEAR_ALONE.search(sentence)
    if alone and guidance:
        return f"FY{alone.group('year') or alone.group('year_before')}"
    if guidance:
        return _guidance_year(default_quarter, default_year)
    return default_quarter


def _part_of_year(
    prefix: str,
    number: int,
    last_quarter: int,
    year: str | None,
    default_quarter: str | None,
    default_year: str | None,
    guidance: bool,
) -> str:
    """ "Q3 2021" or "H1 2021"; without a year, the call's, or in guidance the next one when the part ends
    (`last_quarter`) before the call's quarter."""
    year = _full_year(year)
    if not year and guidance and default_quarter and default_year and last_quarter < int(default_quarter[1]):
        year = str(int(default_year) + 1)
    year = year or default_year
    return f"{prefix}{number} {year}" if year else f"{prefix}{number}"


def _next_after_call(unit: str, default_quarter: str | None, default_year: str | None) -> str | None:
    """The quarter (`unit` "quarter") or fiscal year after the call's."""
    if unit == "year":
        return f"FY{int(default_year) + 1}" if default_year else None
    own = re.fullmatch(r"Q([1-4]) ((?:19|20)\d\d)", default_quarter or "")
    if not own:
        return None
    number, year = int(own.group(1)), int(own.group(2))
    return f"Q{number + 1} {year}" if number < 4 else f"Q1 {year + 1}"


# A figure joined to the one before it, whose period both share: "a loss of $249.8 million or $2.72 per diluted
# common share for the third quarter of 2020".
_COMPANION = re.compile(rf",?\s*(?:or|and)\s+(?=[-{SIGNS}(\d])", re.IGNORECASE)


def _period_right_after(sentence: str, position: int) -> re.Match[str] | None:
    """The period that follows a figure ending at `position` within a few words, or follows the figure joined to
    it ("or $2.72 per share for the third quarter of 2020")."""
    named = _dated_period_right_after(sentence, position)
    if named:
        return named
    companion = _COMPANION.match(sentence, position)
    return _dated_period_right_after(sentence, _figure_end(sentence, companion.end())) if companion else None


# What stands between a figure and a quarter, a half or the next period named without a year that is its period.
_UNDATED_GAP = re.compile(r"\s*(?:(?:in|for|during)\s+(?:the\s+)?)?", re.IGNORECASE)


def _dated_period_right_after(sentence: str, position: int) -> re.Match[str] | None:
    """A period that follows a figure: one with a year within a few words ("a rate of 5.5% in 2020"), or a
    quarter, a half or the next quarter or year right after it or after "in", "for" or "during" ("$2.2 billion
    in the fourth quarter", "in Q4", "next quarter")."""
    for pattern in (_QUARTER, _HALF, _NEXT, _YEAR_PERIOD, _YEAR_ALONE):
        match = pattern.search(sentence, position, position + 40)
        if match is None:
            continue
        gap = sentence[position : match.start()]
        if re.search(r"\d", match.group(0)):
            if re.fullmatch(r"[\s%a-z]{0,15}", gap, re.IGNORECASE) and not _COMPARISON.search(gap):
                return match
        elif pattern in (_QUARTER, _HALF, _NEXT) and _UNDATED_GAP.fullmatch(gap):
            return match
    return None


def is_after(period: str, call_quarter: str | None, call_year: str | None) -> bool:
    """Whether a period ("Q1 2022", "H2 2022", "FY2022") comes after the call's own quarter or fiscal year, as
    guidance does; a half comes after when its last quarter does.

    A period that cannot be compared counts as after.
    """
    quarter = re.fullmatch(r"Q([1-4]) ((?:19|20)\d\d)", period)
    half = re.fullmatch(r"H([12]) ((?:19|20)\d\d)", period)
    own = re.fullmatch(r"Q([1-4]) ((?:19|20)\d\d)", call_quarter or "")
    if quarter and own:
        return (int(quarter.group(2)), int(quarter.group(1))) > (int(own.group(2)), int(own.group(1)))
    if half and own:
        return (int(half.group(2)), 2 * int(half.group(1))) > (int(own.group(2)), int(own.group(1)))
    year = re.fullmatch(r"FY((?:19|20)\d\d)", period) or re.fullmatch(r"H[12] ((?:19|20)\d\d)", period)
    if year and call_year:
        return int(year.group(1)) >= int(call_year)
    return True


def _guidance_year(default_quarter: str | None, default_year: str | None) -> str | None:
    """The fiscal year guidance speaks of by default: the call's, or the next one on a fourth-quarter call."""
    if not default_year:
        return None
    if default_quarter and default_quarter.startswith("Q4"):
        return f"FY{int(default_year) + 1}"
    return f"FY{default_year}"


def period_mention(sentence: str, guidance: bool = False) -> str | None:
    """The first explicit period a sentence names (a quarter, a half, the next quarter or year, or a fiscal or full
    year; in guidance also a year alone, "for 2021"), as written."""
    match = (
        _QUARTER.search(sentence)
        or _HALF.search(sentence)
        or _NEXT.search(sentence)
        or _YEAR_PERIOD.search(sentence)
    )
    if match is None and guidance:
        match = _YEAR_ALONE.search(sentence)
    return match.group(0) if match else None


_GUIDANCE_NOUN = re.compile(
    r"[\s'-]*(?:[a-z]+\s+)?(?:guidance|outlook|forecast|expectations?|targets?)\b", re.IGNORECASE
)
_FOR_GUIDANCE = re.compile(
    r"\b(?:guidance|outlook|forecast|expectations?)\s+(?:for|of)\s+(?:the\s+)?$", re.IGNORECASE
)
# A period that names an event ("our second quarter earnings announcement", "the Q2 earnings call").
_EVENT_AFTER = re.compile(
    r"\s+(?:earnings\s+|results\s+)?(?:call|announcement|release|report|conference)s?\b", re.IGNORECASE
)
LEADING = 60


def carried_mention(sentence: str, guidance: bool = False) -> str | None:
    """The period a sentence sets for the forecasts after it: the first one it names near its start ("For the
    first quarter, we expect") or before its first amount, or one it names as the period of guidance ("our Q1
    guidance", "outlook for 2021"); not one named in passing after its figures or at its end ("wind down in the
    first half of FY '22")."""
    first_amount = next(
        (
            number.start()
            for number in NUMBER.finditer(sentence)
            if number.group("currency") or number.group("scale") or number.group("unit")
        ),
        None,
    )
    ordered = [
        match
        for match in sorted(_periods_named(sentence, guidance), key=lambda m: (m.start(), -m.end()))
        if not _EVENT_AFTER.match(sentence, match.end())
    ]
    for match in ordered:
        if _GUIDANCE_NOUN.match(sentence, match.end()) or _FOR_GUIDANCE.search(
            sentence[max(0, match.start() - 40) : match.start()]
        ):
            return match.group(0)
    for match in ordered:
        if match.start() < LEADING or (first_amount is not None and match.end() <= first_amount):
            return match.group(0)
    return None


_NAMED_CALL = re.compile(
    r"q(?P<quarter>[1-4])[_ -]?(?:fy)?(?P<year>(?:19|20)\d\d)"
    r"|(?P<year_first>(?:19|20)\d\d)[_ -]?q(?P<quarter_last>[1-4])",
    re.IGNORECASE,
)
# A transcript's title line: "Acme Corp (ACME) Q2 2021 Earnings Call Transcript", "Second Quarter 2021 Results
# Conference Call".
_TITLE_CALL = re.compile(
    r"\b(?:Q(?P<q>[1-4])|(?P<word>first|second|third|fourth)\s+quarter)\s+(?:of\s+)?(?:fiscal\s+(?:year\s+)?)?"
    r"(?P<year>(?:19|20)\d\d)\s+(?:financial\s+)?(?:earnings|results)(?:\s+(?:conference\s+)?call)?"
    r"(?:\s+transcript)?\s*$",
    re.IGNORECASE,
)
TITLE_CHARS = 200
OPENING_CHARS = 3000
OPENING_WEIGHT = 3
# Words that, in the COMPARED_CHARS of its sentence before a quarter, make it a comparison's base ("compared to
# the second quarter of 2020", "versus $0.82 in Q3 2020", "down from the $0.71 delivered in Q2 of 2019").
_COMPARED_WITH = re.compile(
    r"\b(?:compared|versus|vs\.?|from|than|against|relative\s+to|last\s+year|prior[- ]year|year[- ]ago|"
    r"delivered\s+in|in\s+the\s+prior)\b",
    re.IGNORECASE,
)
COMPARED_CHARS = 40


class CallPeriod(NamedTuple):
    quarter: str | None
    fiscal_year: str | None
    source: str | None


def call_period(text: str, *, stated: str = "", document_id: str = "", filename: str = "") -> CallPeriod:
    """The call's own quarter and fiscal year, and where they were read (`source`): from the first of the
    period its uploader stated, its id and its file name that names one ("Q3 2021", "AAN_q3_2021",
    "acme-2021-Q3"), else from the title its first line is ("Acme (ACME) Q3 2021 Earnings Call Transcript"),
    else from the text: the quarter cited most (a citation in the opening OPENING_CHARS counts OPENING_WEIGHT
    times) in the latest year it is cited with (a year-ago quarter is cited with an earlier one; a year past
    the text's latest four-digit year and the next is a misreading, "Q4 46 stores"), or the year after it where
    every citation of that year is a comparison's base ("compared to the second quarter of 2020"). Where that
    quarter is never cited with a year, no quarter, and the year cited most."""
    for source, name in (("stated", stated), ("document_id", document_id), ("filename", filename)):
        match = _NAMED_CALL.search(name or "")
        if match:
            year = match.group("year") or match.group("year_first")
            return CallPeriod(
                f"Q{match.group('quarter') or match.group('quarter_last')} {year}", year, source
            )
    first_line = text.lstrip().split("\n", 1)[0]
    title = _TITLE_CALL.search(first_line) if len(first_line) <= TITLE_CHARS else None
    if title:
        number = int(title.group("q") or _QUARTER_WORDS[title.group("word").lower()])
        return CallPeriod(f"Q{number} {title.group('year')}", title.group("year"), "title")
    years = re.findall(r"\b((?:19|20)\d\d)\b", text)
    most_cited = max(set(years), key=lambda y: (years.count(y), y)) if years else None
    latest = max((int(y) for y in years), default=0) + 1
    votes: dict[int, int] = {}
    cited_with: dict[int, list[tuple[str, bool]]] = {}
    for quarter in _QUARTER.finditer(text):
        number, year = _quarter_parts(quarter)
        if not number:
            continue
        votes[number] = votes.get(number, 0) + (OPENING_WEIGHT if quarter.start() < OPENING_CHARS else 1)
        full = _full_year(year)
        if full and int(full) <= latest:
            sentence = max(0, text.rfind(". ", 0, quarter.start()), quarter.start() - COMPARED_CHARS)
            compared = bool(_COMPARED_WITH.search(text, sentence, quarter.start()))
            cited_with.setdefault(number, []).append((full, compared))
    number = max(votes, key=lambda n: votes[n]) if votes else None
    if number not in cited_with:
        return CallPeriod(None, most_cited, "text" if most_cited else None)
    year = max(full for full, _ in cited_with[number])
    if all(compared for full, compared in cited_with[number] if full == year):
        year = str(int(year) + 1)
    return CallPeriod(f"Q{number} {year}", year, "text")


_MONTH_NUMBERS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_ENDED = re.compile(
    r"\b(?:(?P<months>three|six|nine|twelve|3|6|9|12)[- ]months?|(?P<year_ended>(?:fiscal\s+)?years?)|"
    r"(?P<quarter_ended>quarters?))\s+ended\s+(?P<month>[A-Za-z]+)\.?(?:\s+\d{1,2})?,?(?:\s+(?P<year>(?:19|20)\d\d))?",
    re.IGNORECASE,
)
_HEADING_YEAR = re.compile(r"\b(?:FY\s?'?)?(?P<year>(?:19|20)\d\d)\b", re.IGNORECASE)


def period_of_heading(heading: str, default_year: str | None) -> str | None:
    """The period a table's column heading names: "Q1 2024", "Q2" (the call's year), "FY2023", "H1 2024",
    "2023" (a fiscal year), or "Three months ended June 30, 2024" (calendar quarters: Q2 2024; six months: a
    half; twelve months or a year: the fiscal year). None when it names none."""
    ended = _ENDED.search(heading)
    if ended:
        name = ended.group("month").lower()
        month = _MONTH_NUMBERS.get(name) or _MONTH_NUMBERS.get(name[:3])
        year_named = ended.group("year") or _year_in(heading) or default_year
        months = (ended.group("months") or "").lower()
        if ended.group("year_ended") or months in ("twelve", "12"):
            return f"FY{year_named}" if year_named else None
        if month is None or not year_named:
            return None
        if ended.group("quarter_ended") or months in ("three", "3"):
            return f"Q{(month - 1) // 3 + 1} {year_named}"
        if months in ("six", "6"):
            return f"H{1 if month <= 6 else 2} {year_named}"
        return None
    if _QUARTER.search(heading) or _HALF.search(heading) or _YEAR_PERIOD.search(heading):
        named = _period_named(heading, None, default_year, False)
        return named if named and re.search(r"\d", named) else None
    year = _year_in(heading)
    return f"FY{year}" if year else None


def _year_in(text: str) -> str | None:
    match = _HEADING_YEAR.search(text)
    return match.group("year") if match else None
