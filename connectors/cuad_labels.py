"""The legal scorer's own reader of CUAD's answer labels: dates, terms and jurisdictions as the labels write them.

Frozen on purpose and independent of `connectors.dates` and `connectors.legal`: a change to how the connector
reads a contract never moves the answers it is scored against. CUAD writes a date as M/D/YYYY (a few D/M/YYYY,
some with redacted parts, "[]"), an open-ended term as "perpetual", a duration as "successive 1 year", "60 days",
"three (3) years".
"""

from __future__ import annotations

import re

_DATE = re.compile(r"(?<!\d)(\d{1,2})/(\d{1,2})/(\d{4})(?!\d)")
_DURATION = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\)?\s*(year|month|week|day)s?\b", re.IGNORECASE)
_UNIT_CODES = {"year": "Y", "month": "M", "week": "W", "day": "D"}
DATE_CATEGORIES = ("Agreement Date", "Effective Date", "Expiration Date")
DURATION_CATEGORIES = ("Renewal Term", "Notice Period To Terminate Renewal")
VALUE_CATEGORIES = ("Governing Law", *DATE_CATEGORIES, *DURATION_CATEGORIES)


def label_date(value: str) -> str | None:
    """The first date of a label as YYYY-MM-DD, "perpetual" for an open-ended term, else None.

    CUAD's answers passed through a spreadsheet that reads two-digit years 30-49 as 1930-1949 ("12/31/1934" for a
    term ending December 31, 2034); its contracts were filed from 1993 on, so such a year is 2030-2049."""
    if re.search(r"perpetu", value, re.IGNORECASE):
        return "perpetual"
    for first, second, year_text in _DATE.findall(value):
        month, day, year = int(first), int(second), int(year_text)
        if month > 12:
            month, day = day, month
        if not (1 <= month <= 12 and 1 <= day <= 31):
            continue
        if 1930 <= year < 1950:
            year += 100
        return f"{year:04d}-{month:02d}-{day:02d}"
    return None


def label_duration(value: str) -> str | None:
    """The first duration of a label as ISO 8601 ("P1Y", "P60D"); a fractional number of years in months."""
    found = _DURATION.search(value)
    if not found:
        return None
    amount, unit = float(found.group(1)), _UNIT_CODES[found.group(2).lower()]
    if amount != int(amount):
        if unit != "Y" or amount * 12 != int(amount * 12):
            return None
        amount, unit = amount * 12, "M"
    return f"P{int(amount)}{unit}" if amount > 0 else None


def label_jurisdiction(value: str) -> str:
    return re.sub(r"^(?:the )?(?:state|commonwealth) of ", "", value.lower()).strip(" .")


def label_answer(category: str, value: str) -> str | None:
    """A label (or an answer, for Governing Law) in the form the scorer compares, None where there is none."""
    value = (value or "").strip()
    if not value:
        return None
    if category in DATE_CATEGORIES:
        return label_date(value)
    if category in DURATION_CATEGORIES:
        return label_duration(value)
    if category == "Governing Law":
        return label_jurisdiction(value)
    return value.lower()


def answer_right(category: str, label: str, answer: object) -> bool | None:
    """Whether `answer` is the one CUAD labelled for a value category (a jurisdiction read the label's way); None
    where the label gives no answer, which is not scored."""
    expected = label_answer(category, label)
    if expected is None:
        return None
    if category == "Governing Law" and isinstance(answer, str) and answer:
        answer = label_answer(category, answer)
    return answer == expected


_NAME_WORD = re.compile(r"[a-z0-9]+")
# Legal forms and articles, which one writing of a party's name has and another drops ("Acme Corp." and "ACME").
_NAME_NOISE = frozenset((
    "the", "inc", "incorporated", "ltd", "limited", "llc", "co", "corp", "corporation", "company", "lp", "l", "p",
    "plc", "gmbh", "ag", "sa", "nv", "bv",
))  # fmt: skip


def party_matches(answer: str, label: str) -> bool:
    """Whether an answered party name is a labelled Parties span: the two share at least half of their words
    once legal forms and articles are set aside; where that leaves nothing, all their words but "the" ("the
    Company" is "Company")."""
    words = [set(_NAME_WORD.findall(text.lower())) for text in (answer, label)]
    kept = [w - _NAME_NOISE for w in words]
    if not kept[0] or not kept[1]:
        return words[0] - {"the"} == words[1] - {"the"}
    return len(kept[0] & kept[1]) / len(kept[0] | kept[1]) >= 0.5
