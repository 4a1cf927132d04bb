"""Figures of one sentence of an earnings call: ranges, changes and levels, each with the metric it measures."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache

from connectors.earnings.tables import (
    COUNT_METRICS,
    COUNT_NOUNS,
    CURRENCY_UNITS,
    INCOME_METRICS,
    METRICS,
    NUMBER,
    PER_SHARE_METRICS,
    POINTS_UNITS,
    RANGE,
    RATIO_METRICS,
    SIGNS,
    currency_of,
    fits_unit,
    is_per_share,
    parse_number,
    per_share_unit,
)

_CHANGE_WORDS = re.compile(
    r"\b(?:up|down|increased?|decreased?|grew|growth|rose|fell|declined?|improved?|improvement|expanded|contracted|higher|lower|gain(?:ed)?|drop(?:ped)?|"
    r"growing|rising|falling|declining|increasing|decreasing|jump(?:s|ed)?|"
    r"increase of|decrease of|growth of|by)\s*(?:only\s+|just\s+|(?:a\s+)?(?:very\s+)?(?:strong|solid|robust|healthy|impressive)\s+)?"
    r"(?:of\s+|by\s+|approximately\s+|about\s+|nearly\s+|roughly\s+|over\s+|more than\s+)?"
    r"(?:in\s+the\s+(?:low|mid|high|upper)[\s-]+)?$",
    re.IGNORECASE,
)
# A percentage named as a change after it: "representing 30% year-over-year growth", "a 7% decline in".
_CHANGE_NOUN_AFTER = re.compile(
    r"^\s+(?:(?:year[- ]over[- ]year|yoy|y/y|sequential|organic)\s+)?(?P<noun>growth|increase|rise|decline|decrease|drop)\b",
    re.IGNORECASE,
)
# A growth rate stated as a level: "our total revenue growth in the quarter was 2.6%".
_GROWTH_WAS = re.compile(
    r"\b(?:growth|increase|decline|decrease)\s+(?:[\w-]+\s+){0,4}?(?:was|were|of|at|is)\s+(?:approximately\s+|about\s+)?$",
    re.IGNORECASE,
)
# A second change joined to the first: "decreased 9.7% reported and 11.1% in constant currency".
_ALSO_CHANGE = re.compile(r"^[\s\w-]{0,30}?,?\s*\b(?:and|or)\s+$", re.IGNORECASE)
_NEGATIVE_CHANGE = re.compile(
    r"\b(?:down|decrease|decreased|fell|declin\w*|lower|contracted|drop\w*)\b", re.IGNORECASE
)
_NEGATIVE_POINTS_AFTER = re.compile(
    r"^\s*(?:of\s+)?(?:lower|declines?|decreases?|deteriorations?|contractions?|compressions?|drops?)\b",
    re.IGNORECASE,
)
_GUIDANCE = re.compile(
    r"\b(?:guidance|guide[sd]?|outlook|expects?|expected|expecting|anticipat\w*|forecast\w*|project(?:s|ed|ing|ions?)?|sees?|target(?:ing)?|"
    r"estimat\w*|will be|(?:look|looking|aim|aiming)\s+to\s+(?:deliver|achieve|generate|grow|reach)|to be (?:in the range|between|approximately|about|around)|we now (?:expect|see|anticipate)|range of|plan to)\b",
    re.IGNORECASE,
)
# Comparisons with past expectations: "better-than-expected", "as we anticipated".
_PAST_EXPECTATION = re.compile(
    r"\b(?:than|as)[- ](?:(?:we|i|had|previously|originally|initially|we'd|had been)\s+)*"
    r"(?:expected|anticipated|forecast(?:ed)?|projected|estimated)\b|"
    r"\b(?:in line with|consistent with|above|below|ahead of|exceeded|exceeding|beat|versus|vs\.?|than|at|within|"
    r"(?:upside|downside|relative|compared)\s+to)\s+"
    r"(?:our\s+|the\s+|its\s+)?(?:(?:(?:low|high|top|bottom|upper|lower)[\s-])?(?:end|half|part|bottom|top)\s+of\s+(?:our\s+|the\s+|its\s+)?)?"
    r"(?:[\w-]+\s+)?(?:guidance|guide|outlook|expectations?|forecast|projections?)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Figure:
    """A figure stated in a sentence: `value` in `unit` times `scale`, document offsets of the number, the ends
    of a range and the change the sentence gives with it."""

    metric: str
    value: float
    unit: str
    scale: float
    start: int
    end: int
    low: float | None = None
    high: float | None = None
    change: dict | None = None


# A look-behind of a name's pattern: "(?<!backlog of )" before "orders".
_LOOK_BEHIND = re.compile(r"\(\?<[!=](?:[^()\\]|\\.)*\)")


class _Names:
    """Names of metrics `_named_last` looks for (a table of `(name, pattern)`), with each pattern stripped of its
    look-behinds, whose words a window's edge may cut off ("backlog of" before "orders"); `always`: those whose
    look-behinds could not be stripped."""

    def __init__(self, names: tuple[tuple[str, re.Pattern[str]], ...]) -> None:
        self.names = names
        self.unbounded = tuple(re.compile(_LOOK_BEHIND.sub("", p.pattern), p.flags) for _, p in names)
        self.always = frozenset(order for order, p in enumerate(self.unbounded) if "(?<" in p.pattern)


@lru_cache(maxsize=16)
def _named_in(sentence: str, names: _Names) -> frozenset[int]:
    """The indices of the `names` whose pattern, look-behinds aside, matches somewhere in `sentence`."""
    return names.always | {order for order, pattern in enumerate(names.unbounded) if pattern.search(sentence)}


_WORD_CHAR = re.compile(r"\w")


def _named_last(
    sentence: str, start: int, end: int, names: _Names, unit: str | None = None
) -> tuple[int, str] | None:
    """(end, name) of the name of `names` that ends last in `sentence[start:end]` (the end counted from `start`),
    the earlier-listed one on a tie; with `unit`, only names a figure in that unit can measure.

    Only the names the whole sentence holds are looked for, and those a window that cuts a word could hold at its
    edges (a name starts with a letter: "sales" of "wholesales"), so that a sentence dense with figures is not
    read whole for every name at each of them."""
    window = sentence[start:end]
    orders: Iterable[int] = _named_in(sentence, names)
    if end < len(sentence) and _WORD_CHAR.match(sentence, end) and _WORD_CHAR.match(sentence, end - 1):
        orders = range(len(names.names))
    elif start > 0 and _WORD_CHAR.match(sentence, start - 1) and window[:1].isalpha():
        orders = orders | {order for order, (_, pattern) in enumerate(names.names) if pattern.match(window)}
    best: tuple[int, int, str] | None = None
    for order in orders:
        name, pattern = names.names[order]
        if unit is not None and not fits_unit(name, unit):
            continue
        for match in pattern.finditer(window):
            candidate = (match.end(), -order, name)
            if best is None or candidate[:2] > best[:2]:
                best = candidate
    return (best[0], best[2]) if best else None


_METRIC_NAMES = _Names(METRICS)


def _metric_before(sentence: str, position: int, unit: str | None = None) -> str | None:
    """The metric named nearest before `position`; with `unit`, the nearest one a figure in that unit can measure."""
    named = _named_last(sentence, max(0, position - 240), position, _METRIC_NAMES, unit)
    return named[1] if named else None


_JOINED_AFTER = re.compile(r"^\s+(?:of|in|for)\s+", re.IGNORECASE)
_FILLER_WORD = re.compile(r"[\w-]+\s+")
_GROWTH_AFTER = re.compile(
    r"^\s+(?:(?:(?:year[- ]over[- ]year|yoy|organic|sequential)\s+)?(?:growth(?:\s+rate)?|increase|decrease|decline|rise|drop)\s+(?:in|of)|higher|lower)\s+(?:(?:our|the)\s+)?",
    re.IGNORECASE,
)
# Words after a metric's name that make the figure something else: "$5 million revenue increase",
# "a $1 billion revenue business".
_NOT_THE_METRIC_AFTER = re.compile(
    r"^\s*(?:increases?|decreases?|declines?|growth|headwinds?|tailwinds?|impacts?|benefits?|improvements?|"
    r"reductions?|savings|business(?:es)?|compan(?:y|ies)|opportunit(?:y|ies)|run[- ]rate|targets?|goals?|"
    r"synerg(?:y|ies)|contribution)\b",
    re.IGNORECASE,
)
# Words between a figure and a metric that make the figure a change or a part of it: "$2 million of lower revenue".
_CHANGE_FILLER = re.compile(
    r"(?:lower|higher|incremental|additional|increased|decreased|reduced|less|more|lost|improved)\b",
    re.IGNORECASE,
)
_ABOUT = r"(?:approximately\s+|about\s+|roughly\s+)?"
_LEFT_OUT = r"excluding|excludes|excluded|net of"
# Amounts left out of a figure or added to one are not the figure: "excluding $10 million of cost actions",
# "raised by $0.75", "$92 million higher than the prior year".
_NOT_A_LEVEL = re.compile(
    rf"\b(?:{_LEFT_OUT}|by|improvement of|increase of|decrease of|"
    r"(?:average\s+)?price\s+of|included\s+in\s+[\w\s]{0,30}?(?:is|are|was|were))\s+"
    rf"{_ABOUT}$",
    re.IGNORECASE,
)
_EXCLUDED = re.compile(rf"\b(?:{_LEFT_OUT})\s+{_ABOUT}$", re.IGNORECASE)
# The size of an effect or of a change, not a level: "impacted net sales by 5%", "increased $7.5 million".
_EFFECT_BY = re.compile(
    r"\b(?:impact\w*|affect\w*|benefit\w*|hurt|weighed on)\b[^.]{0,50}" rf"\bby\s+{_ABOUT}$", re.IGNORECASE
)
_CHANGED_BY = re.compile(
    r"\b(?:increased|decreased|grew|rose|fell|declined|improved|dropped)\s+(?:approximately\s+|about\s+|roughly\s+|nearly\s+)?$",
    re.IGNORECASE,
)
# A percentage given beside the amount of a change: "increased $7.5 million or 48%".
_AMOUNT_OR = re.compile(
    r"\b(?:up|down|increased|decreased|grew|rose|fell|declined|improved|(?:an?\s+)?(?:increase|decrease|decline|growth)\s+of)"
    rf"\s+(?:by\s+)?[{SIGNS}]?\d[\d.,]*\s*"
    r"(?:thousand|million|billion)?\s*,?\s*or\s+$",
    re.IGNORECASE,
)
_ADJUSTED_BASIS = re.compile(
    r"\b(?:on an? (?:adjusted|non-gaap|core) basis|excluding (?:special|one-time|non-recurring|unusual) items|"
    r"adjust(?:ing|ed) for (?:the )?(?:special|one-time|non-recurring|unusual)|ongoing operations)\b",
    re.IGNORECASE,
)
_ADJUSTED_EARNINGS = re.compile(r"\b(?:adjusted|non-gaap|core)\s+(?:diluted\s+)?earnings\b", re.IGNORECASE)
# Earnings named right before an amount of dollars and cents: "adjusted earnings were $0.65", "earnings of $1.11".
_EARNINGS_BEFORE = re.compile(
    r"\b(?:(?P<adjusted>adjusted|non-gaap|core)\s+)?earnings(?:\s+(?:in|for)\s+the\s+quarter)?\s+(?:were|was|of)\s+"
    r"(?:approximately\s+|about\s+)?$",
    re.IGNORECASE,
)
_EARNED_BEFORE = re.compile(r"\bearned\s+(?:approximately\s+|about\s+)?$", re.IGNORECASE)
# An adjusted basis named right after a figure: "$1.35 on an adjusted basis", "$0.94 adjusted", "$1.10 as adjusted".
_ADJUSTED_AFTER = re.compile(
    r"^\s*+(?:per\s+(?:diluted\s+)?share\s*+)?,?\s*+(?:on\s+an?\s+(?:adjusted|non-gaap|core)\b[\w\s-]{0,20}?\bbasis|"
    r"as\s+adjusted|adjusted\b(?!\s+(?:ebitda|operating|net|gross|free|for|earnings|eps|diluted|income)\b))",
    re.IGNORECASE,
)
_DIFFERENCE_AFTER = re.compile(
    r"^\s*(?:higher|lower|above|below|better|worse|ahead of|short of|more than|less than|"
    r"favorable|unfavorable)\b",
    re.IGNORECASE,
)
_MODIFIER_AFTER = re.compile(
    r"^\s+(?:quarterly|annual|annualized|cash|special|regular|total|paid|accelerated|common)\s+",
    re.IGNORECASE,
)
# What follows an amount in millions written without its currency ("sales were 4.8 billion, up 10%"): not a
# noun it counts ("8.5 million guests").
_BARE_AMOUNT_END = re.compile(
    r"^\s*(?:$|[,.;:)]|(?:in|of|for|up|down|compared|versus|vs|and|or|from|this|last|as|during|which|an?|the|was|were|"
    r"year|quarter|increas\w*|decreas\w*|grow\w*|declin\w*)\b)",
    re.IGNORECASE,
)


def _bare_amount(sentence: str, match: re.Match[str], unit: str, scale: float) -> bool:
    """Whether a count in millions or more is an amount written without its currency ("sales were 4.8 billion")."""
    return unit == "count" and scale >= 1e6 and bool(_BARE_AMOUNT_END.match(sentence[match.end() :]))


_SHARES_AFTER = re.compile(r"^\s+shares\b", re.IGNORECASE)
_SHARE_COUNT = re.compile(
    r"\b(?:share\s+count|shares\s+outstanding|weighted[- ]average|diluted\s+shares)\b", re.IGNORECASE
)
# A loss that is an item, not the result: "loss on the sale", "loss related to the fire".
_LOSS_ITEM = r"(?!\s+(?:on|related|associated|due|attributable to the|from the sale|in connection)\b)"
# "a net loss of", "loss per share was", "compared to a loss of", with no other figure or result in between.
_LOSS_BEFORE = re.compile(
    rf"\bloss\b{_LOSS_ITEM}(?:(?!\b(?:income|profits?|earnings|revenues?|sales|ebitda|margins?|cash|but|while|whereas|compared|versus|vs)\b)[^\d;{SIGNS}])*$",
    re.IGNORECASE,
)
# "a $12 million operating loss", "$0.26 loss per share".
_LOSS_AFTER = re.compile(
    rf"^\s*(?:(?:net|operating|adjusted|pre-tax|ebitda|gaap|diluted)\s+){{0,3}}loss\b{_LOSS_ITEM}",
    re.IGNORECASE,
)
# A figure joined to a loss: "a net loss of $45.2 million, or $0.33 per share", "narrowed to $5 million from $8 million".
_LOSS_COMPANION = re.compile(
    r"^\s*+,?\s*+(?:or|and|compared\s+(?:to|with)|versus|vs\.?|from)\s+(?:a\s+)?(?:(?:diluted|net)\s+)?(?:loss\s+)?(?:of\s+)?$",
    re.IGNORECASE,
)


_EPS_AFTER = re.compile(
    r"^\s+(?:of\s+)?(?:(?:adjusted|core|non-gaap|gaap|diluted|basic)\s+){0,2}(?:earnings|eps|income)\s+per\s+(?:diluted\s+)?share",
    re.IGNORECASE,
)


def _metric_named_at(window: str) -> str | None:
    """The metric whose name starts `window` (the first of METRICS to match there; a name starts with a letter)."""
    if not window[:1].isalpha():
        return None
    for name, pattern in METRICS:
        match = pattern.match(window)
        if match and not _NOT_THE_METRIC_AFTER.match(window[match.end() :]):
            return name
    return None


def _metric_after(sentence: str, position: int, joined_allowed: bool = True) -> str | None:
    """The metric named right after a number: "$1.3 billion of sales", "$0.94 diluted earnings per share",
    "$29 million of pre-tax cat losses", "$46 million forward loss"; a figure followed by "of"/"in" may have two
    words between ("of pre-tax"), one followed by the name itself none. A percentage "of" a metric is a share of
    it, not its value, so callers pass `joined_allowed=False` for percentages."""
    window = sentence[position : position + 80]
    if _EPS_AFTER.match(window):
        return (
            "adjusted_eps"
            if re.match(r"\s+(?:of\s+)?(?:adjusted|core|non-gaap)", window, re.IGNORECASE)
            else "eps"
        )
    if _SHARES_AFTER.match(window) and _says(_BUYBACK, sentence):
        return "share_repurchase"
    joined = _JOINED_AFTER.match(window)
    if joined and not joined_allowed:
        return None
    if joined:
        return _metric_within_two_words(window[joined.end() :])
    if not window[:1].isspace():
        return None
    modifier = _MODIFIER_AFTER.match(window)
    return _metric_named_at(window[modifier.end() :] if modifier else window.lstrip())


def _growth_named_after(sentence: str, position: int) -> str | None:
    """The metric of a percentage followed by "growth in"/"increase in" a metric, with at most two words before
    its name ("21% growth rate in gross written premium", "a 7% decline in new vehicle revenue")."""
    window = sentence[position : position + 80]
    match = _GROWTH_AFTER.match(window)
    if match is None:
        return None
    return _metric_within_two_words(window[match.end() :])


def _metric_within_two_words(text: str) -> str | None:
    """The metric named at the start of `text` or after at most two filler words that are no change words."""
    start = 0
    for _ in range(3):
        metric = _metric_named_at(text[start:])
        if metric:
            return metric
        filler = _FILLER_WORD.match(text[start:])
        if filler is None or _CHANGE_FILLER.match(filler.group(0)):
            return None
        start += filler.end()
    return None


def _is_year_or_label(sentence: str, match: re.Match[str]) -> bool:
    raw = match.group("value")
    if match.group("currency") or match.group("unit") or match.group("scale"):
        return False
    if re.fullmatch(r"(?:19|20)\d\d", raw):
        return True
    before = sentence[max(0, match.start() - 12) : match.start()].lower()
    return bool(re.search(r"(?:q|quarter|fiscal|fy|page|slide|section|item|note)\s*$", before))


def _is_loss(sentence: str, start: int, end: int) -> bool:
    """Whether the figure at `start:end` of a sentence is stated as a loss ("a net loss of $4.45 per share")."""
    return bool(
        _LOSS_BEFORE.search(sentence[max(0, start - 70) : start])
        or _LOSS_AFTER.match(sentence[end : end + 40])
    )


def _change_target(figures: list[Figure], metric: str | None, unit: str) -> int | None:
    """The index of the figure a change in `unit` belongs to: the last figure when it is of the change's metric,
    or for a change in points the last percentage of its metric ("a margin of 4.5% on revenue of $31.5 billion,
    a 30 basis point expansion")."""
    indices = range(len(figures) - 1, -1, -1)
    if unit not in POINTS_UNITS:
        indices = indices[:1]
    for index in indices:
        figure = figures[index]
        if (
            figure.metric == metric
            and figure.change is None
            and (figure.unit != "percent" or unit in POINTS_UNITS)
        ):
            return index
    return None


# Percentages that are levels even after a change word: "gross margin improved to 42%".
_LEVEL_PERCENT_METRICS = ("gross_margin", "operating_margin", *RATIO_METRICS)


@dataclass
class _Scan:
    """One sentence being read: its figures so far and what its earlier numbers leave for the later ones."""

    sentence: str
    offset: int
    currency: str = "USD"
    figures: list[Figure] = field(default_factory=list)
    pending_change: dict | None = None
    pending_metric: str | None = None
    last_change_end: int | None = None
    last_loss_end: int | None = None

    def bounds(self, match: re.Match[str]) -> tuple[int, int]:
        return self.offset + match.start(), self.offset + match.end()


def extract_figures(sentence: str, offset: int) -> list[Figure]:
    """Figures of one sentence (offsets shifted by `offset`): ranges first, then every other number as a change
    (a percentage or points after a change word) or a level, each with its metric, change and sign. An amount
    written without its currency is in the one currency the sentence's other amounts name, else in dollars."""
    numbers = list(NUMBER.finditer(sentence))
    named = {currency_of(match) for match in numbers} - {None}
    scan = _Scan(sentence, offset, named.pop() if len(named) == 1 else "USD")
    taken: list[tuple[int, int]] = []
    for match in RANGE.finditer(sentence):
        # A range the call replaces is no figure, and neither are its ends.
        replaced = _prior_guidance(sentence, match.start())
        figure = None if replaced else _range_figure(scan, match)
        if figure is not None:
            scan.figures.append(figure)
        if figure is not None or replaced:
            taken.append((match.start(), match.end()))
    for match in numbers:
        if not any(start <= match.start() < end for start, end in taken):
            _read_number(scan, match)
    if _RESPECTIVELY.search(sentence):
        _assign_respectively(scan)
    return scan.figures


_RESPECTIVELY = re.compile(r"\brespectively\b", re.IGNORECASE)


def _metrics_in_order(text: str) -> list[str]:
    """The metrics a list names, in the order it names them ("net revenues, net income and earnings per share")."""
    found = sorted(
        (match.start(), -(match.end() - match.start()), match.end(), name)
        for name, pattern in METRICS
        for match in pattern.finditer(text)
    )
    names: list[str] = []
    last_end = -1
    for start, _, end, name in found:
        if start >= last_end:
            names.append(name)
            last_end = end
    return names


# "GAAP and adjusted diluted earnings per share", "reported and adjusted operating income": two readings of one
# metric, which a "respectively" list gives in that order.
_PAIRED_READINGS = re.compile(
    r"\b(adjusted|non-gaap|gaap|reported|diluted)\s+and\s+(adjusted|non-gaap|gaap|reported|diluted)\s+",
    re.IGNORECASE,
)


def _readings_spelt_out(text: str) -> str:
    """`text` with each pair of readings spelt out, "GAAP and adjusted diluted earnings per share" as "GAAP diluted
    earnings per share and adjusted diluted earnings per share", so that each reading names its own metric."""
    for match in _PAIRED_READINGS.finditer(text):
        rest = text[match.end() :]
        phrase = next(
            (found.group() for _, pattern in METRICS if (found := pattern.match(rest)) is not None), None
        )
        if phrase is not None:
            first, second = match.group(1), match.group(2)
            spelt = f"{first} {phrase} and {second} {phrase}"
            return text[: match.start()] + spelt + _readings_spelt_out(rest[len(phrase) :])
    return text


def _assign_respectively(scan: _Scan) -> None:
    """Figures listed "respectively" take the metrics the list names before them in the same order: from the first
    figure that follows two metrics or more ("sales of $2.4 billion and GAAP and adjusted earnings per share of
    $0.53 and $0.52"), when the counts match; where there are twice as many figures, or more, each run of as many
    figures as metrics takes them in turn ("adjusted and GAAP earnings per share increased 58% and 12% to $0.60
    and $0.46"), a run whose units do not fit kept as it was read."""
    figures = sorted(scan.figures, key=lambda figure: figure.start)
    after = scan.offset
    for head, figure in enumerate(figures):
        names = _metrics_in_order(
            _readings_spelt_out(scan.sentence[after - scan.offset : figure.start - scan.offset])
        )
        after = figure.end
        if len(names) < 2:
            continue
        listed = figures[head:]
        if len(listed) % len(names):
            return
        assigned = figures[:head]
        for first in range(0, len(listed), len(names)):
            run = listed[first : first + len(names)]
            if all(fits_unit(name, item.unit) for name, item in zip(names, run, strict=True)):
                assigned += [replace(item, metric=name) for name, item in zip(names, run, strict=True)]
            else:
                assigned += run
        scan.figures = assigned
        return


_LABEL_BEFORE = re.compile(r"(?:\bq|quarter|fiscal|\bfy)\s*'?$", re.IGNORECASE)
_BUYBACK = re.compile(r"\b(?:repurchas\w*|buybacks?)\b", re.IGNORECASE)
_SEQUENTIAL = re.compile(r"sequential|prior quarter|last quarter|previous quarter", re.IGNORECASE)
# How far before a figure the words that end right before it are looked for ("range of about", "from").
_ENDS_BEFORE_REACH = 80


def _ends_before(pattern: re.Pattern[str], sentence: str, position: int) -> bool:
    """Whether `pattern`, anchored at its end, matches the words right before `position`."""
    return pattern.search(sentence, max(0, position - _ENDS_BEFORE_REACH), position) is not None


@lru_cache(maxsize=64)
def _says(pattern: re.Pattern[str], sentence: str) -> bool:
    return pattern.search(sentence) is not None


# "from $17.4 million to $104.1 million" is a change from one level to another, not a range.
# "should range from $30 million to $50 million" is a range.
_NOT_A_RANGE_BEFORE = re.compile(
    r"(?<!\brange\s)(?<!\branges\s)(?<!\branging\s)\bfrom\s+(?:approximately\s+|about\s+)?$", re.IGNORECASE
)
_RANGE_OF_BEFORE = re.compile(r"\brange\s+(?:of|from)\s+(?:approximately\s+|about\s+)?$", re.IGNORECASE)
# An amount after a past change is the change and the level it reached: "increased $5 million to $227.9 million",
# "raised our authorization by $100 million to $200 million".
# A figure of the guidance a call replaces: "raising it to $10.5 billion, up from our previous guidance of $10.2
# billion to $10.4 billion", "from our prior range of", "versus the $4.6 billion we guided before".
_PRIOR_GUIDANCE_BEFORE = re.compile(
    r"\b(?:from|versus|vs\.?|compared\s+(?:to|with)|replacing|over)\s+(?:(?:our|the|its|their)\s+)?"
    r"(?:previous(?:ly\s+(?:issued|provided|announced|given))?|prior|earlier|original|initial|last)\s+"
    r"(?:[\w-]+\s+){0,3}?(?:guidance|range|outlook|forecast|expectations?|view|target)\s*"
    r"(?:range\s+)?(?:of\s+|at\s+|for\s+)?(?:approximately\s+|about\s+|roughly\s+)?$",
    re.IGNORECASE,
)


def _prior_guidance(sentence: str, start: int) -> bool:
    return bool(_PRIOR_GUIDANCE_BEFORE.search(sentence[max(0, start - 100) : start]))


_CHANGED_TO_BEFORE = re.compile(
    r"(?:\b(?:increased|decreased|grew|rose|fell|declined|improved|dropped|raised|reduced|lowered)\s+"
    r"(?:(?:[\w-]+\s+){0,5}?by\s+)?|\b(?:an?|the)\s+(?:[\w-]+\s+)?(?:increase|decrease)\s+(?:[\w-]+\s+){0,5}?by\s+)"
    r"(?:approximately\s+|about\s+|roughly\s+|nearly\s+)?$",
    re.IGNORECASE,
)


def _joined_per_share(match: re.Match[str], low_unit: str, high_unit: str) -> tuple[str, str]:
    """The units of a range's ends where one is an amount and the other an amount per share in its currency or
    in none ("$4.80 to $4.90 per share", "€4.80 to 4.90 per share"): both per share in that currency."""
    for money, other, prefix in ((low_unit, high_unit, "h_"), (high_unit, low_unit, "l_")):
        if (
            money in CURRENCY_UNITS
            and is_per_share(other)
            and (other == per_share_unit(money) or currency_of(match, prefix) is None)
        ):
            return per_share_unit(money), per_share_unit(money)
    return low_unit, high_unit


def _range_figure(scan: _Scan, match: re.Match[str]) -> Figure | None:
    """The figure of a range ("$9.55 to $9.70 billion", "up 3% to 5%"): its midpoint, with `low` and `high`."""
    sentence = scan.sentence
    low, low_unit, low_scale = parse_number(match, "l_")
    high, high_unit, high_scale = parse_number(match, "h_")
    low_unit, high_unit = _joined_per_share(match, low_unit, high_unit)
    unit = high_unit if high_unit != "count" else low_unit
    scale = high_scale if high_scale != 1.0 else low_scale
    if low_scale not in (1.0, scale):
        low = round(low * low_scale / scale, 9)
    if low_unit not in ("count", high_unit) and high_unit != "count":
        return None
    if low_unit in ("percent", *POINTS_UNITS) and high_unit == "count":
        return None
    if _bare_amount(sentence, match, unit, scale):
        unit = scan.currency
    counted = _counted_metric(sentence, match, _metric_after(sentence, match.end()))
    if (
        (unit == "count" and counted is None)
        or low > high
        or re.fullmatch(r"(?:19|20)\d\d", match.group("l_value"))
    ):
        return None
    if _ends_before(_LABEL_BEFORE, sentence, match.start()) or _ends_before(
        _NOT_A_RANGE_BEFORE, sentence, match.start()
    ):
        return None
    if unit in CURRENCY_UNITS and _CHANGED_TO_BEFORE.search(
        sentence[max(0, match.start() - 80) : match.start()]
    ):
        return None
    joiner = sentence[match.end("low") : match.start("high")].strip().lower()
    if (
        joiner == "and"
        and not match.group(0).lower().startswith("between")
        and not _ends_before(_RANGE_OF_BEFORE, sentence, match.start())
    ):
        return None
    metric = (
        counted
        or _metric_after(sentence, match.end(), unit != "percent")
        or _metric_before(sentence, match.start())
    )
    if metric is None and unit in CURRENCY_UNITS and scale == 1.0 and high < 100:
        metric = _forecast_cents_metric(sentence, match.start(), match.end())
    if is_per_share(unit) and metric not in PER_SHARE_METRICS:
        metric = _per_share_metric(sentence, match.start())
    if metric == "eps" and (
        _ADJUSTED_BASIS.search(sentence[max(0, match.start() - 120) : match.start()])
        or _ADJUSTED_AFTER.match(sentence[match.end() :])
    ):
        metric = "adjusted_eps"
    growth = (
        unit in POINTS_UNITS
        or (unit == "percent" and metric is not None and not fits_unit(metric, unit))
        or (
            unit == "percent"
            and bool(
                re.search(
                    r"\b(?:up|down|grow\w*|growth|increase\w*|decrease\w*|decline\w*|rise|higher|lower)\b",
                    sentence[max(0, match.start() - 120) : match.start()],
                    re.IGNORECASE,
                )
            )
        )
    )
    if metric is not None and growth and (unit in POINTS_UNITS or not fits_unit(metric, unit)):
        metric = metric + "_growth"
    elif metric is None or not fits_unit(metric, unit):
        return None
    if unit in CURRENCY_UNITS and metric in ("eps", "adjusted_eps"):
        unit = per_share_unit(unit)
    if metric in INCOME_METRICS and _is_loss(sentence, match.start(), match.end()):
        low, high = -abs(high), -abs(low)
    change = {"low": low, "high": high, "unit": unit} if growth else None
    start, end = scan.bounds(match)
    return Figure(
        metric, round((low + high) / 2, 6), unit, scale, start, end, low=low, high=high, change=change
    )


def _read_number(scan: _Scan, match: re.Match[str]) -> None:
    """Add what a single number states: a change of a metric or a level of one (or nothing)."""
    sentence = scan.sentence
    if _is_year_or_label(sentence, match) or _prior_guidance(sentence, match.start()):
        return
    value, unit, scale = parse_number(match)
    before = sentence[max(0, match.start() - 40) : match.start()]
    named_after = _metric_after(sentence, match.end(), unit != "percent")
    counted = _counted_metric(sentence, match, named_after) if unit == "count" else None
    if unit == "count" and scale == 1.0 and counted is None:
        return
    if _not_a_level(sentence, match, unit, before, named_after):
        return
    growth_metric = _growth_named_after(sentence, match.end()) if unit == "percent" else None
    metric = counted or _number_metric(sentence, match, unit, before, named_after, growth_metric)
    if _is_change(scan, match, unit, before, growth_metric) and (
        unit in POINTS_UNITS or metric not in _LEVEL_PERCENT_METRICS
    ):
        _add_change(scan, match, value, unit, metric, growth_metric)
    else:
        _add_level(scan, match, value, unit, scale, metric)


def _not_a_level(
    sentence: str, match: re.Match[str], unit: str, before: str, named_after: str | None
) -> bool:
    """Whether a number is an amount left out of or added to a figure, an effect, or a difference, not a figure."""
    if not named_after and (
        (unit != "percent" and unit not in POINTS_UNITS and _NOT_A_LEVEL.search(before))
        or (unit in POINTS_UNITS and _EXCLUDED.search(before))
    ):
        return True
    if _EFFECT_BY.search(sentence[max(0, match.start() - 80) : match.start()]):
        return True
    if unit in CURRENCY_UNITS and _CHANGED_BY.search(before):
        return True
    return (
        unit != "percent"
        and unit not in POINTS_UNITS
        and bool(_DIFFERENCE_AFTER.match(sentence[match.end() :]))
    )


_COUNTED = (*COUNT_METRICS, "backlog", "bookings")
# Units a counted metric is stated in: "net new orders increased 24% over last year to 7,056 homes".
_UNITS_COUNTED = re.compile(r"\s+(?:homes|units|vehicles|aircraft)\b", re.IGNORECASE)
_MONTH_BEFORE = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+$", re.IGNORECASE
)
# What may stand between a counted metric's name and its number: "deliveries between", "customers were about".
_COUNT_GAP = re.compile(
    r"(?:\s*(?:were|was|of|to|between|totaled|totaling|reached|at|approximately|about|around|over|nearly|roughly|"
    r"of about|increased|decreased|grew|rose|fell|declined)\b)*\s*",
    re.IGNORECASE,
)
_NEAR_BEFORE = 40
# A number that is part of a name: "T700 orders", "F-150 deliveries".
_NAME_PART = re.compile(r"[A-Za-z]-?$")
_COUNTED_NAMES = _Names(
    tuple((name, pattern) for name, pattern in (*METRICS, *COUNT_NOUNS) if name in _COUNTED)
)
_COUNT_NOUNS_AFTER = tuple(
    (name, re.compile(rf"\s+(?:[a-z-]+\s+)?(?:{pattern.pattern})", re.IGNORECASE))
    for name, pattern in COUNT_NOUNS
)


def _counted_metric(sentence: str, match: re.Match[str], named_after: str | None) -> str | None:
    """The counted metric of a bare count: its noun right after it ("21,588 homes closed", "5,400 customers",
    "to 7,056 homes" after net new orders) or named just before it with no other number between ("home
    deliveries between 2,700 and 3,000")."""
    window = sentence[max(0, match.start() - _NEAR_BEFORE) : match.start()]
    if (
        _MONTH_BEFORE.search(window)
        or _NAME_PART.search(window)
        or sentence[match.end() : match.end() + 1].isalpha()
    ):
        return None
    if named_after in _COUNTED:
        return named_after
    after = sentence[match.end() :]
    for name, pattern in _COUNT_NOUNS_AFTER:
        if pattern.match(after):
            return name
    if _UNITS_COUNTED.match(after):
        metric = _metric_before(sentence, match.start(), "count")
        return metric if metric in _COUNTED else None
    named = _named_last(sentence, max(0, match.start() - _NEAR_BEFORE), match.start(), _COUNTED_NAMES)
    return named[1] if named and _COUNT_GAP.fullmatch(window[named[0] :]) else None


def _per_share_metric(sentence: str, position: int) -> str:
    """An amount per share of no per-share metric named: EPS, adjusted when the words before it say so."""
    window = sentence[max(0, position - 100) : position]
    return (
        "adjusted_eps"
        if re.search(r"\b(?:adjusted|core|non-gaap|operating)\b", window, re.IGNORECASE)
        else "eps"
    )


# Dollars and cents forecast under no metric's name are EPS: "our guidance range of $1.03 to $1.13", "earnings
# between $1.68 and $1.78", "our fiscal 2022 earnings outlook of about $3.20".
_EPS_FORECAST_BEFORE = re.compile(
    r"\b(?:earnings|guidance|outlook)\b(?:(?!\b(?:revenues?|sales|ebitda|margins?|capital|capex|tax|cash|income|"
    r"expenses?|costs?|prices?|rates?)\b)[^\d$;])*$",
    re.IGNORECASE,
)
_PER_UNIT_AFTER = re.compile(
    r"^\s*(?:per|a|an)\s+(?!(?:(?:fully\s+)?diluted\s+|common\s+)?share\b)", re.IGNORECASE
)


def _forecast_cents_metric(sentence: str, start: int, end: int) -> str | None:
    """EPS (adjusted when the words before say so) for dollars and cents after "earnings", "guidance" or
    "outlook" with no other metric between, not a price per unit."""
    if _PER_UNIT_AFTER.match(sentence[end:]) or not _EPS_FORECAST_BEFORE.search(
        sentence[max(0, start - 60) : start]
    ):
        return None
    return _per_share_metric(sentence, start)


def _number_metric(
    sentence: str,
    match: re.Match[str],
    unit: str,
    before: str,
    named_after: str | None,
    growth_metric: str | None,
) -> str | None:
    """The metric a single number measures: named after it, else before it (for points, one they can measure);
    an amount per share is EPS unless a per-share metric is named, adjusted when the sentence says so; an
    amount in millions or more right after "earnings were" or "earned" is net income."""
    metric = named_after or _metric_before(sentence, match.start())
    if unit in POINTS_UNITS and not (metric and fits_unit(metric, unit)):
        metric = _metric_before(sentence, match.start(), unit)
    metric = growth_metric or metric
    if is_per_share(unit) and metric not in PER_SHARE_METRICS:
        metric = _per_share_metric(sentence, match.start())
    money = unit in CURRENCY_UNITS
    if metric is None and money and not match.group("scale") and parse_number(match)[0] < 100:
        metric = _forecast_cents_metric(sentence, match.start(), match.end())
    amount = (money or unit == "count") and not named_after
    earnings = _EARNINGS_BEFORE.search(before) if amount else None
    if earnings and metric is None and money and not match.group("scale"):
        metric = "adjusted_eps" if earnings.group("adjusted") else "eps"
    elif amount and parse_number(match)[2] >= 1e6 and (earnings or _EARNED_BEFORE.search(before)):
        metric = "adjusted_net_income" if earnings and earnings.group("adjusted") else "net_income"
    if metric == "eps" and (
        _ADJUSTED_BASIS.search(sentence[max(0, match.start() - 120) : match.start()])
        or _ADJUSTED_EARNINGS.search(before)
        or _ADJUSTED_AFTER.match(sentence[match.end() :])
    ):
        metric = "adjusted_eps"
    return metric


def _is_change(scan: _Scan, match: re.Match[str], unit: str, before: str, growth_metric: str | None) -> bool:
    """Points always; a percentage after a change word, beside a changed amount, before "growth in" a metric, or
    joined to the change before it ("9.7% reported and 11.1% in constant currency")."""
    if unit in POINTS_UNITS:
        return True
    if unit != "percent":
        return False
    return (
        bool(_CHANGE_WORDS.search(before) or _AMOUNT_OR.search(before))
        or growth_metric is not None
        or bool(_CHANGE_NOUN_AFTER.match(scan.sentence[match.end() :]))
        or bool(_GROWTH_WAS.search(before))
        or (
            scan.last_change_end is not None
            and bool(_ALSO_CHANGE.match(scan.sentence[scan.last_change_end : match.start()]))
        )
    )


def _add_change(
    scan: _Scan, match: re.Match[str], value: float, unit: str, metric: str | None, growth_metric: str | None
) -> None:
    """A change goes onto the figure it belongs to; without one it waits for the next level of its metric and,
    for a metric other than EPS, is reported as the metric's growth."""
    sentence = scan.sentence
    after = sentence[match.end() :]
    noun_after = _CHANGE_NOUN_AFTER.match(after)
    if noun_after:
        negative = noun_after.group("noun").lower() in ("decline", "decrease", "drop")
    else:
        negative = bool(
            _NEGATIVE_CHANGE.search(sentence[max(0, match.start() - 40) : match.start()])
            or (growth_metric and _NEGATIVE_CHANGE.match(after.lstrip()))
            or (unit in POINTS_UNITS and _NEGATIVE_POINTS_AFTER.match(after))
        )
    signed = -abs(value) if negative else value
    versus = "prior_quarter" if _says(_SEQUENTIAL, sentence) else "year_ago"
    scan.last_change_end = match.end()
    start, end = scan.bounds(match)
    change = {"value": signed, "unit": unit, "versus": versus, "start": start, "end": end}
    target = _change_target(scan.figures, metric, unit)
    if target is not None:
        scan.figures[target] = replace(scan.figures[target], change=change)
        return
    scan.pending_change, scan.pending_metric = change, metric
    if metric and metric not in ("eps", "adjusted_eps"):
        scan.figures.append(Figure(metric + "_growth", signed, unit, 1.0, start, end))


def _add_level(
    scan: _Scan, match: re.Match[str], value: float, unit: str, scale: float, metric: str | None
) -> None:
    """A level of a metric (an amount, a percentage, a count of a counted metric), negative when stated as a
    loss, carrying the change that waited for it."""
    sentence = scan.sentence
    if metric is None or not fits_unit(metric, unit):
        return
    if unit in CURRENCY_UNITS and metric in ("eps", "adjusted_eps", "book_value_per_share") and scale == 1.0:
        unit = per_share_unit(unit)
    shares_bought = (
        metric == "share_repurchase"
        and bool(_SHARES_AFTER.match(sentence[match.end() :]))
        and not _SHARE_COUNT.search(sentence[max(0, match.start() - 80) : match.start()])
    )
    if _bare_amount(sentence, match, unit, scale) and fits_unit(metric, scan.currency):
        unit = scan.currency
    if unit == "count" and metric not in _COUNTED and not shares_bought:
        return
    if metric in INCOME_METRICS and (
        _is_loss(sentence, match.start(), match.end())
        or (
            scan.last_loss_end is not None
            and _LOSS_COMPANION.match(sentence[scan.last_loss_end : match.start()])
        )
    ):
        value = -abs(value)
        scan.last_loss_end = match.end()
    change = None
    if scan.pending_change is not None and scan.pending_metric in (None, metric):
        change = scan.pending_change
        # The change reported as the metric's growth while it waited is this level's change after all.
        scan.figures = [
            figure
            for figure in scan.figures
            if not (
                figure.metric == f"{metric}_growth"
                and (figure.start, figure.end) == (change["start"], change["end"])
            )
        ]
    scan.pending_change = None
    start, end = scan.bounds(match)
    scan.figures.append(Figure(metric, value, unit, scale, start, end, change=change))


def is_guidance(sentence: str) -> bool:
    """Whether a sentence looks ahead (guidance, outlook, expectations), not back at past expectations."""
    return bool(_GUIDANCE.search(_PAST_EXPECTATION.sub(" ", sentence)))
