"""Reported figures in earnings calls: numbers with units, the metric they measure, period, kind, change."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

SCALES = {
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "mm": 1e6,
    "mn": 1e6,
    "m": 1e6,
    "mln": 1e6,
    "billion": 1e9,
    "bn": 1e9,
    "bln": 1e9,
    "b": 1e9,
    "trillion": 1e12,
}
# Ordered: the first metric whose pattern matches nearest before a number names it.
METRICS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        (
            "adjusted_eps",
            r"\b(?:adjusted|adj\.?|non-gaap|core|operating|diluted adjusted)\s+(?:diluted\s+)?(?:earnings|eps|income|loss|net income|net loss)\s+per\s+(?:diluted\s+)?share\b|\badjusted\s+(?:diluted\s+)?eps\b|\bnon-gaap\s+(?:diluted\s+)?eps\b",
        ),
        (
            "eps",
            r"\b(?:diluted\s+|gaap\s+|basic\s+)?(?:earnings|eps|income|loss|net income|net loss)\s+(?:from continuing operations\s+)?per\s+(?:diluted\s+|basic\s+)?share\b|\b(?:gaap\s+|diluted\s+)?eps\b",
        ),
        ("adjusted_ebitda_margin", r"\badjusted\s+ebitda\s+margins?\b"),
        ("ebitda_margin", r"\bebitda\s+margins?\b"),
        ("adjusted_ebitda", r"\badjusted\s+ebitda\b"),
        ("ebitda", r"\bebitda\b"),
        ("gross_margin", r"\bgross\s+(?:profit\s+)?margins?\b"),
        (
            "operating_margin",
            r"\b(?:adjusted\s+|non-gaap\s+)?operating\s+(?:profit\s+|income\s+)?margins?\b|\b(?:ebit|segment)\s+margins?\b",
        ),
        ("net_margin", r"\bnet\s+(?:income\s+|profit\s+)?margins?\b"),
        ("free_cash_flow", r"\bfree\s+(?:operating\s+)?cash\s+flows?(?:\s+from\s+operations)?\b"),
        (
            "operating_cash_flow",
            r"\b(?:cash\s+(?:flow\s+)?(?:from|provided by|generated (?:by|from))\s+operati\w+|operating\s+cash\s+flows?)\b",
        ),
        ("adjusted_net_income", r"\b(?:adjusted|non-gaap|core)\s+net\s+(?:income|earnings|loss)\b"),
        ("net_income", r"\bnet\s+(?:income|earnings|loss|profit)\b"),
        ("adjusted_operating_income", r"\b(?:adjusted|non-gaap)\s+operating\s+(?:income|profit|earnings)\b"),
        ("operating_income", r"\boperating\s+(?:income|profit|earnings|loss)\b|\bebit\b"),
        ("gross_profit", r"\bgross\s+profit\b"),
        (
            "same_store_sales",
            r"\b(?:(?:same|comparable|comp)[- ](?:store|restaurant|unit|property|center|shop|branch)s?|comp(?:arable)?|"
            r"like-for-like|organic)\s+(?:sales|revenues?|growth|NOI)\b|\bcomps\b",
        ),
        ("capex", r"\bcap(?:ital)?\s*ex(?:penditures?)?\b"),
        ("dividend", r"\bdividends?\b"),
        ("share_repurchase", r"\b(?:share\s+repurchases?|buybacks?|repurchased)\b"),
        ("backlog", r"\bbacklog\b"),
        ("net_written_premiums", r"\bnet\s+(?:written\s+)?premiums?(?:\s+written)?\b"),
        ("gross_written_premiums", r"\bgross\s+written\s+premiums?\b|\bgross\s+premiums?\s+written\b"),
        ("catastrophe_losses", r"\b(?:catastrophe|cat)\s+losses\b"),
        (
            "special_charges",
            r"\b(?:forward[- ]loss(?:es)?|impairments?|restructuring\s+(?:charges?|costs?)|(?:one-time|special|non-recurring)\s+charges?)\b",
        ),
        ("arr", r"\b(?:annual(?:ized)?\s+recurring\s+revenues?|ARR)\b"),
        ("subscribers", r"\b(?:subscribers|paid\s+(?:members|memberships|subscriptions))\b"),
        ("bookings", r"\b(?:bookings|orders|order intake)\b"),
        ("net_interest_income", r"\bnet\s+interest\s+income\b"),
        ("net_interest_margin", r"\bnet\s+interest\s+margin\b"),
        ("book_value_per_share", r"\bbook\s+value\s+per\s+share\b"),
        ("ffo", r"\b(?:core\s+|adjusted\s+|normalized\s+)?(?:ffo|funds from operations)\b"),
        ("tax_rate", r"\b(?:effective\s+)?tax\s+rate\b"),
        (
            "revenue",
            r"\b(?:total\s+|net\s+|consolidated\s+|gaap\s+|adjusted\s+|quarterly\s+)?(?:revenues?|sales|top[- ]line|turnover)\b"
            r"(?!\s+(?:inducements?|force|teams?|tax(?:es)?|people|reps?|representatives|cycles?|pipeline|channels?))",
        ),
    )
)
_NUMBER = (
    r"(?P<neg>\(|-|minus\s+|negative\s+)?(?:(?P<currency>US\$|\$|€|£|¥)\s?)?(?P<value>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?:\s?(?P<scale>thousand|million|billion|trillion|bln|mln|bn|mm|mn|[kmb])\b)?"
    r"(?:\s?(?P<unit>%|percentage points?|percent|per\s?cent|basis points?|bps|dollars?(?:\s(?:per|a) (?:diluted )?share)?|cents?|(?:per|a) (?:diluted )?share))?"
)
NUMBER = re.compile(_NUMBER, re.IGNORECASE)
RANGE = re.compile(
    rf"(?:between\s+)?(?P<low>{_NUMBER.replace('(?P<', '(?P<l_')})\s*(?:to|-|and|through)\s*(?P<high>{_NUMBER.replace('(?P<', '(?P<h_')})",
    re.IGNORECASE,
)
_CHANGE_WORDS = re.compile(
    r"\b(?:up|down|increased?|decreased?|grew|growth|rose|fell|declined?|improved?|improvement|expanded|contracted|higher|lower|gain(?:ed)?|drop(?:ped)?|"
    r"increase of|decrease of|growth of|by)\s*(?:of\s+|by\s+|approximately\s+|about\s+|nearly\s+|roughly\s+|over\s+|more than\s+)?$",
    re.IGNORECASE,
)
# A second change joined to the first: "decreased 9.7% reported and 11.1% in constant currency".
_ALSO_CHANGE = re.compile(r"^[\s\w-]{0,30}?,?\s*\b(?:and|or)\s+$", re.IGNORECASE)
_NEGATIVE_CHANGE = re.compile(
    r"\b(?:down|decrease|decreased|fell|declin\w*|lower|contracted|drop\w*)\b", re.IGNORECASE
)
# Percentage points and basis points only ever measure a change: "gross margin expanded 50 basis points".
POINTS_UNITS = ("basis_points", "percentage_points")
_NEGATIVE_POINTS_AFTER = re.compile(
    r"^\s*(?:of\s+)?(?:lower|declines?|decreases?|deteriorations?|contractions?|compressions?|drops?)\b",
    re.IGNORECASE,
)
_GUIDANCE = re.compile(
    r"\b(?:guidance|guide[sd]?|outlook|expects?|expected|expecting|anticipat\w*|forecast\w*|project(?:s|ed|ing)?|sees?|target(?:ing)?|"
    r"estimat\w*|will be|(?:look|looking|aim|aiming)\s+to\s+(?:deliver|achieve|generate|grow|reach)|to be (?:in the range|between|approximately|about|around)|we now (?:expect|see|anticipate)|range of|plan to)\b",
    re.IGNORECASE,
)
# Comparisons with past expectations: "better-than-expected", "as we anticipated".
_PAST_EXPECTATION = re.compile(
    r"\b(?:than|as)[- ](?:(?:we|i|had|previously|originally|initially|we'd|had been)\s+)*"
    r"(?:expected|anticipated|forecast(?:ed)?|projected|estimated)\b|"
    r"\b(?:in line with|consistent with|above|below|ahead of|exceeded|exceeding|beat|versus|vs\.?|than)\s+"
    r"(?:our\s+|the\s+|its\s+)?(?:[\w-]+\s+)?(?:guidance|outlook|expectations?|forecast)\b",
    re.IGNORECASE,
)
_QUARTER_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}
_QUARTER = re.compile(
    r"\b(?:(?P<word>first|second|third|fourth|1st|2nd|3rd|4th)[- ](?:fiscal\s+)?quarter(?:\s+(?:of\s+)?(?:fiscal\s+(?:year\s+)?)?(?P<year1>(?:19|20)\d\d|'\d\d))?"
    r"|(?:fiscal\s+)?Q(?P<q>[1-4])(?:\s*(?:of\s+)?(?:fiscal\s+|FY\s?)?'?(?P<year2>(?:19|20)?\d\d))?"
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
_YEAR_ALONE = re.compile(
    r"(?:\b(?:in|for|during|of)\s+|^|(?<=[.;:]\s))(?P<year>(?:19|20)\d\d)\b(?!\s*(?:%|percent))"
)


@dataclass(frozen=True)
class Figure:
    metric: str
    value: float
    unit: str
    scale: float
    start: int
    end: int
    low: float | None = None
    high: float | None = None
    change: dict | None = None


def parse_number(match: re.Match[str], prefix: str = "") -> tuple[float, str, float]:
    """(value, unit, scale) of a NUMBER match; `prefix` names the groups of a range end (l_ or h_)."""
    group = lambda name: match.group(prefix + name)
    value = float(group("value").replace(",", ""))
    unit_text = (group("unit") or "").lower()
    currency = group("currency")
    scale_text = (group("scale") or "").lower()
    scale = SCALES.get(scale_text, 1.0)
    if unit_text in ("%", "percent", "per cent", "percent"):
        unit = "percent"
    elif unit_text.startswith("percentage point"):
        unit = "percentage_points"
    elif unit_text.startswith("basis point") or unit_text == "bps":
        unit = "basis_points"
    elif unit_text.startswith("dollar"):
        unit = "USD_per_share" if unit_text.endswith("share") else "USD"
    elif unit_text.startswith("cent"):
        unit, value = "USD_per_share", value / 100
    elif unit_text.startswith(("per", "a ")):
        unit = "USD_per_share"
    elif currency:
        unit = {"$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}[currency]
    else:
        unit = "count"
    if group("neg") and group("neg").strip() in ("-", "minus", "negative", "("):
        value = -value
    return value, unit, scale


def _metric_before(sentence: str, position: int, unit: str | None = None) -> str | None:
    """The metric named nearest before `position`; with `unit`, the nearest one a figure in that unit can measure."""
    window = sentence[max(0, position - 160) : position]
    best: tuple[int, int, str] | None = None
    for order, (name, pattern) in enumerate(METRICS):
        if unit is not None and not _fit_unit(name, unit):
            continue
        for match in pattern.finditer(window):
            candidate = (match.end(), -order, name)
            if best is None or candidate[:2] > best[:2]:
                best = candidate
    return best[2] if best else None


_JOINED_AFTER = re.compile(r"^\s+(?:of|in)\s+", re.IGNORECASE)
_FILLER_WORD = re.compile(r"[\w-]+\s+")
_GROWTH_AFTER = re.compile(
    r"^\s+(?:growth(?:\s+rate)?|increase|decrease|decline|rise|drop)\s+(?:in|of)\s+(?:(?:our|the)\s+)?",
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
# Amounts left out of a figure or added to one are not the figure: "excluding $10 million of cost actions",
# "raised by $0.75", "$92 million higher than the prior year".
_NOT_A_LEVEL = re.compile(
    r"\b(?:excluding|excludes|excluded|net of|by|improvement of|increase of|decrease of|"
    r"(?:average\s+)?price\s+of|included\s+in\s+[\w\s]{0,30}?(?:is|are|was|were))\s+"
    r"(?:approximately\s+|about\s+|roughly\s+)?$",
    re.IGNORECASE,
)
_EXCLUDED = re.compile(
    r"\b(?:excluding|excludes|excluded|net of)\s+(?:approximately\s+|about\s+|roughly\s+)?$", re.IGNORECASE
)
# The size of an effect or of a change, not a level: "impacted net sales by 5%", "increased $7.5 million".
_EFFECT_BY = re.compile(
    r"\b(?:impact\w*|affect\w*|benefit\w*|hurt|weighed on)\b[^.]{0,50}\bby\s+(?:approximately\s+|about\s+|roughly\s+)?$",
    re.IGNORECASE,
)
_CHANGED_BY = re.compile(
    r"\b(?:increased|decreased|grew|rose|fell|declined|improved|dropped)\s+(?:approximately\s+|about\s+|roughly\s+|nearly\s+)?$",
    re.IGNORECASE,
)
# A percentage given beside the amount of a change: "increased $7.5 million or 48%".
_AMOUNT_OR = re.compile(
    r"\b(?:up|down|increased|decreased|grew|rose|fell|declined|improved)\s+(?:by\s+)?[$€£]?\d[\d.,]*\s*"
    r"(?:thousand|million|billion)?\s*,?\s*or\s+$",
    re.IGNORECASE,
)
_ADJUSTED_BASIS = re.compile(
    r"\b(?:on an? (?:adjusted|non-gaap|core) basis|excluding (?:special|one-time|non-recurring|unusual) items)\b",
    re.IGNORECASE,
)
_ADJUSTED_EARNINGS = re.compile(r"\b(?:adjusted|non-gaap|core)\s+(?:diluted\s+)?earnings\b", re.IGNORECASE)
_DIFFERENCE_AFTER = re.compile(
    r"^\s*(?:,\s*)?(?:higher|lower|above|below|better|worse|ahead of|short of|more than|less than|"
    r"favorable|unfavorable)\b",
    re.IGNORECASE,
)
_MODIFIER_AFTER = re.compile(r"^\s+(?:quarterly|annual|annualized|cash|special|regular)\s+", re.IGNORECASE)
_SHARES_AFTER = re.compile(r"^\s+shares\b", re.IGNORECASE)
_SHARE_COUNT = re.compile(
    r"\b(?:share\s+count|shares\s+outstanding|weighted[- ]average|diluted\s+shares)\b", re.IGNORECASE
)
# Metrics whose loss is a negative value of the metric: a net loss is negative net income.
INCOME_METRICS = frozenset(
    {
        "eps",
        "adjusted_eps",
        "net_income",
        "adjusted_net_income",
        "operating_income",
        "adjusted_operating_income",
        "ebitda",
        "adjusted_ebitda",
        "gross_profit",
    }
)
# A loss that is an item, not the result: "loss on the sale", "loss related to the fire".
_LOSS_ITEM = r"(?!\s+(?:on|related|associated|due|attributable to the|from the sale|in connection)\b)"
# "a net loss of", "loss per share was", "compared to a loss of", with no other figure or result in between.
_LOSS_BEFORE = re.compile(
    rf"\bloss\b{_LOSS_ITEM}(?:(?!\b(?:income|profits?|earnings|revenues?|sales|ebitda|margins?|cash|but|while|whereas|compared|versus|vs)\b)[^\d;$€£])*$",
    re.IGNORECASE,
)
# "a $12 million operating loss", "$0.26 loss per share".
_LOSS_AFTER = re.compile(
    rf"^\s*(?:(?:net|operating|adjusted|pre-tax|ebitda|gaap|diluted)\s+){{0,3}}loss\b{_LOSS_ITEM}",
    re.IGNORECASE,
)
# A figure joined to a loss: "a net loss of $45.2 million, or $0.33 per share", "narrowed to $5 million from $8 million".
_LOSS_COMPANION = re.compile(
    r"^\s*,?\s*(?:or|and|compared\s+(?:to|with)|versus|vs\.?|from)\s+(?:a\s+)?(?:(?:diluted|net)\s+)?(?:loss\s+)?(?:of\s+)?$",
    re.IGNORECASE,
)


_EPS_AFTER = re.compile(
    r"^\s+(?:of\s+)?(?:(?:adjusted|core|non-gaap|gaap|diluted|basic)\s+){0,2}(?:earnings|eps|income)\s+per\s+(?:diluted\s+)?share",
    re.IGNORECASE,
)


def _metric_named_at(window: str) -> str | None:
    """The metric whose name starts `window` (the first of METRICS to match there)."""
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
    if _SHARES_AFTER.match(window) and re.search(r"\b(?:repurchas\w*|buybacks?)\b", sentence, re.IGNORECASE):
        return "share_repurchase"
    joined = _JOINED_AFTER.match(window)
    if joined and not joined_allowed:
        return None
    if joined:
        start = joined.end()
        for _ in range(3):
            metric = _metric_named_at(window[start:])
            if metric:
                return metric
            filler = _FILLER_WORD.match(window[start:])
            if filler is None or _CHANGE_FILLER.match(filler.group(0)):
                return None
            start += filler.end()
        return None
    if not window[:1].isspace():
        return None
    modifier = _MODIFIER_AFTER.match(window)
    return _metric_named_at(window[modifier.end() :] if modifier else window.lstrip())


def _growth_named_after(sentence: str, position: int) -> str | None:
    """The metric of a percentage followed by "growth in"/"increase in" a metric ("21% growth rate in gross
    written premium")."""
    window = sentence[position : position + 80]
    match = _GROWTH_AFTER.match(window)
    return _metric_named_at(window[match.end() :]) if match else None


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


def _fit_unit(metric: str, unit: str) -> bool:
    if metric == "subscribers":
        return unit == "count"
    if metric in ("eps", "adjusted_eps", "book_value_per_share", "ffo", "dividend"):
        return unit in ("USD", "USD_per_share", "EUR", "GBP")
    if metric.endswith("margin") or metric in ("tax_rate", "same_store_sales", "net_interest_margin"):
        return unit in ("percent", "basis_points", "percentage_points")
    return unit in ("USD", "EUR", "GBP", "JPY", "count")


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


def extract_figures(sentence: str, offset: int) -> list[Figure]:
    """Figures of one sentence (offsets shifted by `offset`): main value plus any range and change."""
    figures: list[Figure] = []
    taken: list[tuple[int, int]] = []
    for match in RANGE.finditer(sentence):
        low, low_unit, low_scale = parse_number(match, "l_")
        high, high_unit, high_scale = parse_number(match, "h_")
        unit = high_unit if high_unit != "count" else low_unit
        scale = high_scale if high_scale != 1.0 else low_scale
        if low_unit not in ("count", high_unit) and high_unit != "count":
            continue
        if unit == "count" or low > high or re.fullmatch(r"(?:19|20)\d\d", match.group("l_value")):
            continue
        if re.search(r"(?:\bq|quarter|fiscal|\bfy)\s*'?$", sentence[: match.start()], re.IGNORECASE):
            continue
        if low_unit == "count":
            low_unit = unit
        metric = _metric_after(sentence, match.end(), unit != "percent") or _metric_before(
            sentence, match.start()
        )
        growth = unit in POINTS_UNITS or (
            unit == "percent"
            and bool(
                re.search(
                    r"\b(?:up|down|grow\w*|growth|increase\w*|decrease\w*|decline\w*|rise|higher|lower)\b",
                    sentence[max(0, match.start() - 120) : match.start()],
                    re.IGNORECASE,
                )
            )
        )
        if metric is not None and growth and (unit in POINTS_UNITS or not _fit_unit(metric, unit)):
            metric = metric + "_growth"
        elif metric is None or not _fit_unit(metric, unit):
            continue
        if unit == "USD" and metric in ("eps", "adjusted_eps"):
            unit = "USD_per_share"
        if metric in INCOME_METRICS and _is_loss(sentence, match.start(), match.end()):
            low, high = -abs(high), -abs(low)
        change = {"low": low, "high": high, "unit": unit} if growth else None
        figures.append(
            Figure(
                metric,
                round((low + high) / 2, 6),
                unit,
                scale,
                offset + match.start(),
                offset + match.end(),
                low=low,
                high=high,
                change=change,
            )
        )
        taken.append((match.start(), match.end()))
    numbers = [m for m in NUMBER.finditer(sentence) if not any(a <= m.start() < b for a, b in taken)]
    pending_change: dict | None = None
    pending_metric: str | None = None
    last_change_end: int | None = None
    last_loss_end: int | None = None
    for match in numbers:
        if _is_year_or_label(sentence, match):
            continue
        value, unit, scale = parse_number(match)
        if unit == "count" and scale == 1.0:
            continue
        before = sentence[max(0, match.start() - 40) : match.start()]
        named_after = _metric_after(sentence, match.end(), unit != "percent")
        if not named_after and (
            (unit != "percent" and unit not in POINTS_UNITS and _NOT_A_LEVEL.search(before))
            or (unit in POINTS_UNITS and _EXCLUDED.search(before))
        ):
            continue
        if _EFFECT_BY.search(sentence[max(0, match.start() - 80) : match.start()]):
            continue
        if unit in ("USD", "EUR", "GBP", "JPY") and _CHANGED_BY.search(before):
            continue
        if unit not in ("percent", "basis_points", "percentage_points") and _DIFFERENCE_AFTER.match(
            sentence[match.end() :]
        ):
            continue
        metric = named_after or _metric_before(sentence, match.start())
        if unit in POINTS_UNITS and not (metric and _fit_unit(metric, unit)):
            metric = _metric_before(sentence, match.start(), unit)
        growth_metric = _growth_named_after(sentence, match.end()) if unit == "percent" else None
        metric = growth_metric or metric
        if unit == "USD_per_share" and metric not in (
            "eps",
            "adjusted_eps",
            "book_value_per_share",
            "ffo",
            "dividend",
        ):
            window = sentence[max(0, match.start() - 100) : match.start()]
            metric = (
                "adjusted_eps"
                if re.search(r"\b(?:adjusted|core|non-gaap|operating)\b", window, re.IGNORECASE)
                else "eps"
            )
        if metric == "eps" and (
            _ADJUSTED_BASIS.search(sentence[max(0, match.start() - 120) : match.start()])
            or _ADJUSTED_EARNINGS.search(before)
        ):
            metric = "adjusted_eps"
        is_change = unit in POINTS_UNITS or (
            unit == "percent"
            and (
                bool(_CHANGE_WORDS.search(before) or _AMOUNT_OR.search(before))
                or growth_metric is not None
                or (
                    last_change_end is not None
                    and bool(_ALSO_CHANGE.match(sentence[last_change_end : match.start()]))
                )
            )
        )
        if is_change and (
            unit in POINTS_UNITS or metric not in ("gross_margin", "operating_margin", "tax_rate")
        ):
            negative = (
                _NEGATIVE_CHANGE.search(before)
                or (growth_metric and _NEGATIVE_CHANGE.match(sentence[match.end() :].lstrip()))
                or (unit in POINTS_UNITS and _NEGATIVE_POINTS_AFTER.match(sentence[match.end() :]))
            )
            signed = -abs(value) if negative else value
            versus = (
                "prior_quarter"
                if re.search(
                    r"sequential|prior quarter|last quarter|previous quarter", sentence, re.IGNORECASE
                )
                else "year_ago"
            )
            last_change_end = match.end()
            change = {
                "value": signed,
                "unit": unit,
                "versus": versus,
                "start": offset + match.start(),
                "end": offset + match.end(),
            }
            target = _change_target(figures, metric, unit)
            if target is not None:
                figures[target] = replace(figures[target], change=change)
            else:
                pending_change, pending_metric = change, metric
                if metric and metric not in ("eps", "adjusted_eps"):
                    figures.append(
                        Figure(
                            metric + "_growth",
                            signed,
                            unit,
                            1.0,
                            offset + match.start(),
                            offset + match.end(),
                        )
                    )
            continue
        if metric is None or not _fit_unit(metric, unit):
            continue
        if unit == "USD" and metric in ("eps", "adjusted_eps", "book_value_per_share") and scale == 1.0:
            unit = "USD_per_share"
        shares_bought = (
            metric == "share_repurchase"
            and bool(_SHARES_AFTER.match(sentence[match.end() :]))
            and not _SHARE_COUNT.search(sentence[max(0, match.start() - 80) : match.start()])
        )
        if unit == "count" and metric not in ("bookings", "backlog", "subscribers") and not shares_bought:
            continue
        if metric in INCOME_METRICS and (
            _is_loss(sentence, match.start(), match.end())
            or (last_loss_end is not None and _LOSS_COMPANION.match(sentence[last_loss_end : match.start()]))
        ):
            value = -abs(value)
            last_loss_end = match.end()
        change = None
        if pending_change is not None and pending_metric in (None, metric):
            change = pending_change
        pending_change = None
        figures.append(
            Figure(metric, value, unit, scale, offset + match.start(), offset + match.end(), change=change)
        )
    return figures


def is_guidance(sentence: str) -> bool:
    return bool(_GUIDANCE.search(_PAST_EXPECTATION.sub(" ", sentence)))


_COMPARISON = re.compile(
    r"\b(?:compared|versus|vs\.?|from|prior|last|previous|year-ago|against|same period|over)\b", re.IGNORECASE
)


def period_of(
    sentence: str,
    default_quarter: str | None,
    default_year: str | None,
    guidance: bool,
    position: int | None = None,
) -> str | None:
    """The period a figure at `position` of a sentence speaks of ("Q3 2021", "FY2021").

    The nearest period named before the figure wins; one named after it counts unless it is a comparison
    ("compared to the second quarter of 2020"); else the call's own period. A comparison figure ("compared to
    $139 million last year") takes the prior period.
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


def _prior_period(
    sentence: str, position: int, default_quarter: str | None, default_year: str | None, guidance: bool
) -> str | None:
    """The period of a comparison figure ("compared to $139 million last year"): one named right after it, or
    the period the sentence speaks of moved back a year (or a quarter)."""
    if not _COMPARED_BEFORE.search(sentence[max(0, position - 70) : position]):
        return None
    end = _figure_end(sentence, position)
    named = _dated_period_right_after(sentence, end)
    if named:
        return _period_named(named.group(0), default_quarter, default_year, guidance)
    marker = _PRIOR_MARKER.search(sentence[end : end + 60])
    if not marker:
        return None
    current = _period_at(sentence[:position], default_quarter, default_year, guidance, position)
    return previous_period(current, quarter=bool(marker.group("quarter") or marker.group("sequential")))


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


def _period_at(
    sentence: str, default_quarter: str | None, default_year: str | None, guidance: bool, position: int
) -> str | None:
    named_next = _dated_period_right_after(sentence, _figure_end(sentence, position))
    if named_next:
        return _period_named(named_next.group(0), default_quarter, default_year, guidance)
    # Halves first: "first half of fiscal 2022" ends where its "fiscal 2022" does, and the half is the period.
    before = [m for m in _HALF.finditer(sentence) if m.end() <= position]
    before += [m for m in _QUARTER.finditer(sentence) if m.end() <= position]
    before += [m for m in _YEAR_PERIOD.finditer(sentence) if m.end() <= position]
    if guidance:
        before += [m for m in _YEAR_ALONE.finditer(sentence) if m.end() <= position]
    before = [m for m in before if not _COMPARED_PERIOD.search(sentence[max(0, m.start() - 25) : m.start()])]
    if before:
        dated = [m for m in before if re.search(r"\d", m.group(0))]
        nearest = max(dated or before, key=lambda m: m.end())
        # A quarter named after a dated half is the nearer period: "in the first half of 2021, Q2 revenue".
        quarters_nearer = [m for m in before if m.re is _QUARTER and m.end() > nearest.end()]
        if nearest.re is _HALF and quarters_nearer:
            nearest = max(quarters_nearer, key=lambda m: m.end())
        return _period_named(nearest.group(0), default_quarter, default_year, guidance)
    quarters_after = list(_QUARTER.finditer(sentence, position))
    after = quarters_after or sorted(
        [*_HALF.finditer(sentence, position), *_YEAR_PERIOD.finditer(sentence, position)],
        key=lambda m: m.start(),
    )
    if guidance and not after:
        after = list(_YEAR_ALONE.finditer(sentence, position))
    if after and not _COMPARISON.search(sentence[position : after[0].start()]):
        return _period_named(after[0].group(0), default_quarter, default_year, guidance)
    return _guidance_year(default_quarter, default_year) if guidance else default_quarter


def _quarter_parts(quarter: re.Match[str]) -> tuple[int, str | None]:
    """(quarter number, year as written or None) of a _QUARTER match."""
    word = (quarter.group("word") or quarter.group("word3") or "").lower()
    number = _QUARTER_WORDS.get(word) or int(quarter.group("q") or 0)
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
        year = _full_year(year)
        if not year and guidance and default_quarter and default_year and number < int(default_quarter[1]):
            year = str(int(default_year) + 1)
        year = year or default_year
        return f"Q{number} {year}" if year else f"Q{number}"
    half = _HALF.search(sentence)
    if half:
        number, year = _half_parts(half)
        year = _full_year(year)
        if (
            not year
            and guidance
            and default_quarter
            and default_year
            and 2 * number < int(default_quarter[1])
        ):
            year = str(int(default_year) + 1)
        year = year or default_year
        return f"H{number} {year}" if year else f"H{number}"
    annual = _YEAR_PERIOD.search(sentence)
    if annual:
        year = annual.group("year")
        if year and len(year) == 2:
            year = "20" + year
        if year:
            return f"FY{year}"
        return (_guidance_year(default_quarter, default_year) if guidance else f"FY{default_year}") or "FY"
    alone = _YEAR_ALONE.search(sentence)
    if alone and guidance:
        return f"FY{alone.group('year')}"
    if guidance:
        return _guidance_year(default_quarter, default_year)
    return default_quarter


def _dated_period_right_after(sentence: str, position: int) -> re.Match[str] | None:
    """A period with a year that follows a figure within a few words ("a rate of 5.5% in 2020")."""
    for pattern in (_QUARTER, _HALF, _YEAR_PERIOD, _YEAR_ALONE):
        match = pattern.search(sentence, position, position + 40)
        if (
            match
            and re.search(r"\d", match.group(0))
            and re.fullmatch(r"[\s%a-z]{0,15}", sentence[position : match.start()], re.IGNORECASE)
            and not _COMPARISON.search(sentence[position : match.start()])
        ):
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
    """The first explicit period a sentence names (a quarter, a half, or a fiscal or full year; in guidance also
    a year alone, "for 2021"), as written."""
    match = _QUARTER.search(sentence) or _HALF.search(sentence) or _YEAR_PERIOD.search(sentence)
    if match is None and guidance:
        match = _YEAR_ALONE.search(sentence)
    return match.group(0) if match else None


def call_period(text: str, document_id: str) -> tuple[str | None, str | None]:
    """The call's own quarter and fiscal year, from its id (e.g. AAN_q3_2021) or its most cited quarter."""
    match = re.search(r"q([1-4])[_ -]?((?:19|20)\d\d)", document_id, re.IGNORECASE)
    if match:
        return f"Q{match.group(1)} {match.group(2)}", match.group(2)
    counts: dict[str, int] = {}
    for quarter in _QUARTER.finditer(text[:20000]):
        number, year = _quarter_parts(quarter)
        if year and len(year) == 4:
            key = f"Q{number} {year}"
            counts[key] = counts.get(key, 0) + 1
    if counts:
        best = max(counts, key=lambda key: counts[key])
        return best, best.split()[-1]
    years = re.findall(r"\b(20\d\d)\b", text[:20000])
    return None, max(set(years), key=years.count) if years else None
