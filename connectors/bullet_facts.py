"""The earnings scorer's own parser of reference bullets: numbers with scale and unit, metric words, periods.

Frozen on purpose and independent of `connectors.earnings`: a change to the connector never moves the facts it
is scored against. Metric names are the contract's (CONNECTORS.md); only the metrics a Reuters-style bullet names
in plain words are known, any other fact is matched on value and period.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SCALES = {
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "mln": 1e6,
    "mn": 1e6,
    "mm": 1e6,
    "m": 1e6,
    "billion": 1e9,
    "bln": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "trillion": 1e12,
}
NUMBER = re.compile(
    r"(?P<currency>\$|€|£)?\s?(?P<value>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?:\s?(?P<scale>thousand|million|billion|trillion|bln|mln|bn|mn|mm|[kmb])\b)?"
    r"(?:\s?(?P<unit>%|percent|per\s?cent|percentage points?|basis points?|bps|cents?)\b)?",
    re.IGNORECASE,
)
# "$9.55 to $9.70 billion", "9 - 14 percent": the low end takes the high end's scale.
RANGE_JOIN = re.compile(r"^\s*(?:to|-|\u2013|and|through)\s*$", re.IGNORECASE)
# Checked in order; the last metric named before a number (or the first one after, when none is) is its metric.
METRIC_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        (
            "adjusted_eps",
            r"\b(?:adjusted|adj\.?|non-gaap|core|operating)\s+(?:diluted\s+)?(?:earnings|loss|eps|income)\s+per\s+(?:diluted\s+)?share\b"
            r"|\b(?:adjusted|adj\.?|non-gaap)\s+(?:diluted\s+)?eps\b",
        ),
        (
            "eps",
            r"\b(?:earnings|loss|eps|net income|net loss|income)\s+per\s+(?:diluted\s+|basic\s+)?share\b|\beps\b",
        ),
        ("ffo", r"\b(?:core\s+|adjusted\s+|normalized\s+)?(?:ffo|funds from operations)\b"),
        ("adjusted_ebitda", r"\badjusted\s+ebitda\b(?!\s+margin)"),
        ("ebitda", r"\bebitda\b(?!\s+margin)"),
        ("gross_margin", r"\bgross\s+margins?\b"),
        ("operating_margin", r"\boperating\s+margins?\b"),
        ("net_interest_margin", r"\bnet\s+interest\s+margin\b"),
        ("net_interest_income", r"\bnet\s+interest\s+income\b"),
        ("free_cash_flow", r"\bfree\s+cash\s+flows?\b"),
        ("net_income", r"\bnet\s+(?:income|earnings|loss)\b"),
        ("operating_income", r"\boperating\s+(?:income|profit)\b"),
        ("same_store_sales", r"\b(?:same[- ](?:store|restaurant)|comparable(?:\s+store)?|comp)\s+sales\b"),
        ("net_written_premiums", r"\bnet\s+written\s+premiums?\b"),
        ("gross_written_premiums", r"\bgross\s+written\s+premiums?\b"),
        ("catastrophe_losses", r"\bcatastrophe\s+losses\b"),
        ("special_charges", r"\bforward\s+loss(?:es)?\b|\bimpairments?\b|\brestructuring\s+charges?\b"),
        ("share_repurchase", r"\b(?:share\s+)?repurchases?\b|\bbuybacks?\b"),
        ("bookings", r"\b(?:new\s+)?orders\b|\bbookings\b"),
        ("backlog", r"\bbacklog\b"),
        ("dividend", r"\bdividends?\b"),
        ("capex", r"\bcapital\s+expenditures?\b|\bcapex\b"),
        ("revenue", r"\b(?:revenues?|sales)\b"),
    )
)
# A figure written "per share" is earnings per share whatever the bullet calls the earnings.
PER_SHARE = re.compile(r"^\s*(?:a|per)\s+(?:diluted\s+)?share\b", re.IGNORECASE)
ADJUSTED = re.compile(r"\b(?:adjusted|adj\.?|non-gaap|excluding|core)\b", re.IGNORECASE)
GUIDANCE_WORDS = re.compile(
    r"\b(?:sees?|expects?|expected|outlook|guidance|forecasts?|anticipates?|projects?|targets?)\b",
    re.IGNORECASE,
)
_MONTH = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_DAY_OF_MONTH = re.compile(rf"\b(?:{_MONTH})\.?\s*$", re.IGNORECASE)
_LABEL_BEFORE = re.compile(r"(?:\bq|\bfy|\bh|\bfiscal|\bfiscal year|\bfull year)\s*'?$", re.IGNORECASE)
_YEAR = re.compile(r"(?:19|20)\d\d")
_QUARTER = re.compile(
    r"\bq(?P<q>[1-4])(?:\s*(?:of\s+)?(?:fiscal\s+|fy\s*)?'?(?P<year>(?:19|20)\d\d|\d\d)\b)?"
    r"|\b(?P<word>first|second|third|fourth)[- ]quarter(?:\s+(?:of\s+)?(?:fiscal\s+)?(?P<year2>(?:19|20)\d\d))?",
    re.IGNORECASE,
)
_HALF = re.compile(
    r"\b(?:h(?P<h>[12])|(?P<word>first|second)[- ]half)(?:\s+(?:of\s+)?(?P<year>(?:19|20)\d\d))?\b",
    re.IGNORECASE,
)
_FULL_YEAR = re.compile(
    r"\b(?:fy|fiscal(?:\s+year)?|full[- ]year|year)\s*'?(?P<year>(?:19|20)\d\d|\d\d)\b"
    r"|\b(?P<bare>fy|full[- ]year|fiscal\s+year|annual)\b"
    r"|(?<!\d, )(?<!\d )(?<!with )(?<!to )(?<!versus )\b(?P<alone>(?:19|20)\d\d)\b",
    re.IGNORECASE,
)
_VERSUS = re.compile(
    r"\b(?:versus|vs\.?|compared (?:to|with))\s+(?:about\s+|approximately\s+)?(?:\$|€|£)?\s?$", re.IGNORECASE
)
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4}


@dataclass(frozen=True)
class Fact:
    value: float
    scale: float
    decimals: int
    unit: str
    metric: str | None
    period: str | None
    text: str

    def as_dict(self) -> dict:
        return {
            "value": self.value,
            "scale": self.scale,
            "decimals": self.decimals,
            "unit": self.unit,
            "metric": self.metric,
            "period": self.period,
            "text": self.text,
        }


def call_quarter(document_id: str) -> tuple[int | None, int | None]:
    """The call's quarter and fiscal year from an ECTSum id ("SKX_q3_2021" is (3, 2021))."""
    match = re.search(r"q([1-4])[_ -]?((?:19|20)\d\d)", document_id, re.IGNORECASE)
    return (int(match.group(1)), int(match.group(2))) if match else (None, None)


def _year(text: str | None, default: int | None) -> int | None:
    if not text:
        return default
    return int(text) if len(text) == 4 else 2000 + int(text)


def bullet_period(bullet: str, quarter: int | None, year: int | None) -> str | None:
    """The period a bullet speaks of: a quarter, a half or a fiscal year it names, else the call's quarter (or,
    for guidance, the call's fiscal year, the next one on a fourth-quarter call)."""
    guidance = bool(GUIDANCE_WORDS.search(bullet))
    named = _QUARTER.search(bullet)
    if named:
        number = int(named.group("q")) if named.group("q") else _ORDINALS[named.group("word").lower()]
        named_year = _year(named.group("year") or named.group("year2"), None)
        if named_year is None and year is not None and quarter is not None:
            if guidance:
                named_year = year + 1 if number < quarter else year
            else:
                named_year = year - 1 if number > quarter else year
        return f"Q{number} {named_year}" if named_year else None
    half = _HALF.search(bullet)
    if half:
        number = int(half.group("h")) if half.group("h") else _ORDINALS[half.group("word").lower()]
        half_year = _year(half.group("year"), year)
        return f"H{number} {half_year}" if half_year else None
    if re.search(r"\b(?:qtrly|quarterly|quarter)\b", bullet, re.IGNORECASE):
        return f"Q{quarter} {year}" if quarter and year else None
    full = next(
        (
            found
            for found in _FULL_YEAR.finditer(bullet)
            if not (found.group("alone") and _DAY_OF_MONTH.search(bullet[: found.start()]))
        ),
        None,
    )
    if full:
        full_year = _year(full.group("year") or full.group("alone"), None)
        if full_year is None:
            full_year = year + 1 if guidance and quarter == 4 and year else year
        return f"FY{full_year}" if full_year else None
    if guidance:
        return f"FY{year + 1 if quarter == 4 else year}" if year else None
    return f"Q{quarter} {year}" if quarter and year else None


def previous_year(period: str | None) -> str | None:
    match = re.fullmatch(r"(Q[1-4] |H[12] |FY)((?:19|20)\d\d)", period or "")
    return f"{match.group(1)}{int(match.group(2)) - 1}" if match else period


def _is_label(text: str, match: re.Match[str]) -> bool:
    """Years, "q3", "fy22", "h1" and days of a month are not figures."""
    if _YEAR.fullmatch(match.group("value")) and not match.group("currency"):
        return True
    before = text[: match.start("value")]
    return bool(_LABEL_BEFORE.search(before) or _DAY_OF_MONTH.search(before))


def _unit(match: re.Match[str]) -> tuple[str, float]:
    unit = (match.group("unit") or "").lower()
    if unit.startswith(("%", "percent", "per")):
        return "percent", 1.0
    if unit.startswith(("percentage", "basis", "bps")):
        return "points", 1.0
    if unit.startswith("cent"):
        return "USD", 0.01
    return ("USD" if match.group("currency") == "$" else match.group("currency") or "count"), 1.0


def _metric(bullet: str, match: re.Match[str]) -> str | None:
    position = match.start("value")
    before: tuple[int, str] | None = None
    after: tuple[int, str] | None = None
    for name, pattern in METRIC_WORDS:
        for found in pattern.finditer(bullet):
            if found.end() <= position and (before is None or found.end() > before[0]):
                before = (found.end(), name)
            elif found.start() >= position and (after is None or found.start() < after[0]):
                after = (found.start(), name)
    chosen = before[1] if before else after[1] if after else None
    per_share = PER_SHARE.match(bullet[match.end() :])
    if per_share and chosen not in ("ffo", "dividend", "adjusted_eps"):
        chosen = "eps"
    clause = bullet[:position].rsplit(";", 1)[-1][-60:]
    if chosen == "eps" and ADJUSTED.search(clause):
        return "adjusted_eps"
    return chosen


def numbers(text: str) -> list[re.Match[str]]:
    return [match for match in NUMBER.finditer(text) if not _is_label(text, match)]


def parse_bullets(bullets: list[str], document_id: str) -> list[Fact]:
    """Every figure of the reference bullets with its metric (None when the bullet names none the parser knows)
    and period; a number after "versus" is the year-ago figure."""
    quarter, year = call_quarter(document_id)
    facts = []
    for bullet in bullets:
        period = bullet_period(bullet, quarter, year)
        found = numbers(bullet)
        for index, match in enumerate(found):
            value = float(match.group("value").replace(",", ""))
            unit, factor = _unit(match)
            scale = SCALES.get((match.group("scale") or "").lower(), 1.0)
            following = found[index + 1] if index + 1 < len(found) else None
            if (
                following is not None
                and not match.group("scale")
                and not match.group("unit")
                and following.group("scale")
                and (match.group("currency") or None) in (None, following.group("currency"))
                and value < float(following.group("value").replace(",", ""))
                and RANGE_JOIN.match(bullet[match.end() : following.start()])
            ):
                scale = SCALES[following.group("scale").lower()]
            decimals = len(match.group("value").split(".")[1]) if "." in match.group("value") else 0
            if factor != 1.0:
                value, scale, decimals = value * factor, 1.0, decimals + 2
            compared = _VERSUS.search(bullet[: match.start("value")])
            facts.append(
                Fact(
                    value=value,
                    scale=scale,
                    decimals=decimals,
                    unit=unit,
                    metric=_metric(bullet, match),
                    period=previous_year(period) if compared else period,
                    text=bullet,
                )
            )
    return facts


def call_numbers(text: str) -> list[tuple[float, float]]:
    """(value, scale) of every number a call writes."""
    figures = []
    for match in NUMBER.finditer(text):
        _, factor = _unit(match)
        value = float(match.group("value").replace(",", "")) * factor
        figures.append((value, SCALES.get((match.group("scale") or "").lower(), 1.0)))
    return figures
