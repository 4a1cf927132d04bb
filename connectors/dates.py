"""Dates, durations and written numbers in contracts: the parsers the connectors share."""

from __future__ import annotations

import calendar
import datetime
import re
from dataclasses import dataclass

MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:\s?(?:s\s?t|n\s?d|r\s?d|t\s?h))?"
ORDINAL_WORDS = [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
    "twentieth",
    "twenty-first",
    "twenty-second",
    "twenty-third",
    "twenty-fourth",
    "twenty-fifth",
    "twenty-sixth",
    "twenty-seventh",
    "twenty-eighth",
    "twenty-ninth",
    "thirtieth",
    "thirty-first",
]
_YEAR = r"(?P<year>(?:19|20)\d\d)"
# A date may sit in a form's blank ("_Dec. 8, 2005_"): no letter or digit on either side, where \b would
# refuse an underscore.
_FROM = r"(?<![A-Za-z0-9])"
_TO = r"(?![A-Za-z0-9])"
# ISO 8601's YYYY-MM-DD: read year, month, day and nothing else, so a month out of 1-12 is no date; a time of day
# after it ("2019-03-12T00:00:00Z", "2020-04-01T09:30+02:00") is part of the date's span, not of its value.
_ISO_DATE = re.compile(
    rf"{_FROM}{_YEAR}-(?P<nmonth>[01]?\d)-(?P<day>[0-3]?\d)"
    rf"(?:T\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d(?::?\d\d)?)?)?{_TO}"
)
# The same year first with slashes, as East Asian and some European documents write it (2019/03/12).
_YEAR_FIRST_SLASHED = re.compile(rf"{_FROM}{_YEAR}/(?P<nmonth>[01]?\d)/(?P<day>[0-3]?\d){_TO}")
_YEAR_FIRST = (_ISO_DATE, _YEAR_FIRST_SLASHED)
DATE_PATTERNS = [
    re.compile(rf"{_FROM}{_MONTH}\s+{_DAY}(?:\s*[,.]\s*|\s+){_YEAR}{_TO}", re.IGNORECASE),
    re.compile(rf"(?<!\d){_DAY}\s+(?:day\s+)?(?:of\s+)?{_MONTH}(?:\s*,\s*|\s+){_YEAR}{_TO}", re.IGNORECASE),
    # A month's abbreviation between dashes, as spreadsheets and bank statements write it (12-Mar-2019, 3-Sep-19).
    re.compile(
        rf"{_FROM}(?P<day>[0-3]?\d)-{_MONTH}-(?P<year>(?:19|20)?\d\d){_TO}",
        re.IGNORECASE,
    ),
    _ISO_DATE,
    _YEAR_FIRST_SLASHED,
    # Dots, day first with a four-digit year, as German, Russian and most of continental Europe write it
    # (12.03.2019); never a section ("3.12") or a version ("1.2.3") nor part of a longer dotted run.
    re.compile(rf"{_FROM}(?<!\d\.)(?P<day>[0-3]?\d)\.(?P<nmonth>[01]?\d)\.{_YEAR}{_TO}(?!\.\d)"),
    re.compile(
        rf"{_FROM}(?P<nmonth>[0-3]?\d)(?P<sep>[/-])(?P<day>[0-3]?\d)(?P=sep)(?P<year>(?:19|20)?\d\d){_TO}"
    ),
    re.compile(rf"{_FROM}{_MONTH},?\s+{_YEAR}{_TO}", re.IGNORECASE),
]
_DAY_OF_MONTH = re.compile(
    rf"{_FROM}(?:{_DAY}|(?P<dayword>{'|'.join(ORDINAL_WORDS)}))\s+day\s+of\s+{_MONTH}\s*+,?\s*+(?:A\.?D\.?\s*)?{_YEAR}{_TO}",
    re.IGNORECASE,
)

WORD_NUMBERS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "a": 1,
    "an": 1,
}
_NUMBER_WORD = r"(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|one hundred(?: and)?(?: [a-z]+)?|hundred|an?)"
DURATION_PATTERN = re.compile(
    rf"\b(?P<words>{_NUMBER_WORD})?[\s-]*+\(?(?P<digits>(?<![\d.,])(?:\d{{1,3}}(?:,\d{{3}})+|\d{{1,4}})(?:\.\d+)?(?!\d|[.,]\d))?\)?[\s-]*+(?:additional\s+|successive\s+|consecutive\s+|calendar\s+|business\s+|full\s+|further\s+|contract\s+)*(?P<unit>years?|yrs?|months?|mos?|mths?|weeks?|wks?|days?)\b",
    re.IGNORECASE,
)
# A unit by its first letter, written out or abbreviated ("yrs", "mos.", "mths", "wks").
_UNIT_CODES = {"y": "Y", "m": "M", "w": "W", "d": "D"}


@dataclass(frozen=True)
class DateMatch:
    start: int
    end: int
    iso: str


def words_to_number(words: str) -> int | None:
    words = words.lower().replace("-", " ").replace(" and ", " ").strip()
    if not words:
        return None
    total = 0
    for word in words.split():
        if word not in WORD_NUMBERS:
            return None
        value = WORD_NUMBERS[word]
        total = total * value if value == 100 and total else total + value
    return total


def _iso(match: re.Match[str]) -> str | None:
    """The match's ISO date; "" where it names a month and a day of 1 to 31 that month does not have (April
    31, February 29 of 2019), or is written year first with a month out of 1-12 (2019-13-01): a date in form
    but not in the calendar, which is no date, nor is any part of it; None where it is not a date's form at
    all. Only a numeric date written with the year last may be day first (13/01/2019)."""
    groups = match.groupdict()
    year = int(groups["year"])
    if len(groups["year"]) == 2:
        year += 2000 if year < 50 else 1900
    month = int(groups["nmonth"]) if groups.get("nmonth") else MONTHS.get(groups["month"].lower().rstrip("."))
    if match.re in _YEAR_FIRST and not 1 <= month <= 12:
        return ""
    if groups.get("nmonth") and month > 12 and 1 <= int(groups["day"]) <= 12:
        month, groups["day"] = int(groups["day"]), groups["nmonth"]
    if not month or not 1 <= month <= 12:
        return None
    day = groups.get("day")
    if groups.get("dayword"):
        day = str(ORDINAL_WORDS.index(groups["dayword"].lower()) + 1)
    if day is None:
        return f"{year:04d}-{month:02d}"
    if not 1 <= int(day) <= 31:
        return None
    try:
        return datetime.date(year, month, int(day)).isoformat()
    except ValueError:
        return ""


def find_dates(text: str, start: int = 0, end: int | None = None) -> list[DateMatch]:
    """Dates in `text[start:end]`, non-overlapping, in order, with ISO values (YYYY-MM-DD or YYYY-MM). A day
    its month does not have (April 31) is no date, and no shorter pattern reads the month and year in it."""
    end = len(text) if end is None else end
    region = text[start:end]
    found: list[DateMatch] = []
    taken: list[tuple[int, int]] = []
    for pattern in [_DAY_OF_MONTH, *DATE_PATTERNS]:
        for match in pattern.finditer(region):
            a, b = match.start(), match.end()
            if any(a < y and x < b for x, y in taken):
                continue
            iso = _iso(match)
            if iso is not None:
                taken.append((a, b))
            if iso:
                found.append(DateMatch(start + a, start + b, iso))
    return sorted(found, key=lambda d: d.start)


# A duration as `parse_duration` writes it: "P3Y", "P2.5M", "P90D" (amount, unit).
ISO_DURATION = re.compile(r"P(\d+(?:\.\d+)?)([YMWD])")


def parse_duration(text: str) -> tuple[str, int, int] | None:
    """First duration in `text` as (ISO 8601 duration, start, end), e.g. ("P90D", 10, 31): its whole number
    ("2.5 years" is P2.5Y, "12,500 days" P12500D; never a number's last digits), from its first word or digit
    (no blank or dash before it)."""
    for match in DURATION_PATTERN.finditer(text):
        value = None
        if match.group("digits"):
            value = float(match.group("digits").replace(",", ""))
        elif match.group("words"):
            value = words_to_number(match.group("words"))
        if value is None or value <= 0:
            continue
        start = match.start() + len(match.group(0)) - len(match.group(0).lstrip(" \t\r\n-"))
        amount = int(value) if value == int(value) else value
        return f"P{amount}{_UNIT_CODES[match.group('unit')[0].lower()]}", start, match.end()
    return None


def find_durations(text: str) -> list[tuple[str, int, int]]:
    """Every duration in `text`, in order, each read by `parse_duration` after the one before it ends:
    (ISO value, start, end)."""
    durations = []
    offset = 0
    while found := parse_duration(text[offset:]):
        durations.append((found[0], offset + found[1], offset + found[2]))
        offset += found[2]
    return durations


def duration_days(iso_duration: str) -> float | None:
    match = ISO_DURATION.fullmatch(iso_duration or "")
    if not match:
        return None
    return float(match.group(1)) * {"Y": 365.0, "M": 30.0, "W": 7.0, "D": 1.0}[match.group(2)]


def duration_day_range(iso_duration: str) -> tuple[float, float] | None:
    """The fewest and the most days `iso_duration` can last on the calendar: a month 28 to 31 days, twelve of
    them 365 or 366, a year 365 or 366 (a year and a fraction, or a fraction of a month, as `duration_days`
    counts it, both ends); weeks and days as they are."""
    match = ISO_DURATION.fullmatch(iso_duration or "")
    if not match:
        return None
    amount, unit = match.group(1), match.group(2)
    if unit in "WD" or "." in amount:
        days = duration_days(iso_duration)
        return days, days
    months = int(amount) * (12 if unit == "Y" else 1)
    return _month_span_days(months)


def _month_span_days(months: int) -> tuple[float, float]:
    """The fewest and the most days from the first of a month to the first `months` months later, over every
    month of a leap-year cycle."""
    spans = []
    for year in range(2021, 2025):
        for month in range(1, 13):
            end = month - 1 + months
            start = datetime.date(year, month, 1)
            spans.append((datetime.date(year + end // 12, end % 12 + 1, 1) - start).days)
    return float(min(spans)), float(max(spans))


def add_duration(iso_date: str, iso_duration: str) -> str | None:
    """`iso_date` (YYYY-MM-DD, or YYYY-MM where only the month is known) plus a P<n>Y or P<n>M duration (the
    anniversary date, as CUAD records it), at the precision of `iso_date`."""
    date_match = re.fullmatch(r"(\d{4})-(\d\d)(?:-(\d\d))?", iso_date or "")
    duration_match = re.fullmatch(r"P(\d+)([YM])", iso_duration or "")
    if not date_match or not duration_match:
        return None
    year, month = int(date_match.group(1)), int(date_match.group(2))
    amount = int(duration_match.group(1))
    months = amount * 12 if duration_match.group(2) == "Y" else amount
    month_index = month - 1 + months
    year, month = year + month_index // 12, month_index % 12 + 1
    if date_match.group(3) is None:
        return f"{year:04d}-{month:02d}" if 1 <= year <= 9999 else None
    day = int(date_match.group(3))
    try:
        end = datetime.date(year, month, min(day, calendar.monthrange(year, month)[1]))
    except ValueError:
        return None
    return end.isoformat()
