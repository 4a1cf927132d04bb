"""Rule-based clause finder and answer normaliser for contracts (analyzers mode, CPU only)."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from connectors.dates import (
    ORDINAL_WORDS,
    DateMatch,
    add_duration,
    find_dates,
    find_durations,
    parse_duration,
)
from connectors.legal.categories import (
    ANY_SENTENCE_RULE,
    CUAD_CATEGORIES,
    MAX_CLAUSES,
    SENTENCE_RULES,
    THRESHOLDS,
    YES_NO_CATEGORIES,
)
from connectors.spans import trimmed_span
from connectors.text import Segment, split_sentences

if TYPE_CHECKING:
    from connectors.legal.learned import ClauseModel

PREAMBLE_CHARS = 4000
_TITLE_WORDS = re.compile(
    r"\b(?:AGREEMENT|CONTRACT|LICEN[CS]E|AMENDMENT|ADDENDUM|MEMORANDUM|TERMS|STATEMENT OF WORK|ARRANGEMENT|DEED|LEASE|PLAN)\b",
    re.IGNORECASE,
)
_LEGAL_FORMS = (
    "Inc", "Incorporated", "Corp", "Corporation", "Company", "Co", "LLC", "L.L.C", "Ltd", "Limited", "LLP", "L.P",
    "LP", "PLC", "plc", "GmbH", "AG", "S.A", "SA", "N.V", "B.V", "S.R.L", "S.r.l", "SRL", "SpA", "Pty", "Trust",
    "Bank", "Holdings", "Group", "Partners", "Association", "University", "S.p.A", "Pte", "AB", "A/S", "Oy", "KK",
    "S.L", "N.A", "SARL", "S.A.R.L", "SAS", "S.A.S", "ApS", "ASA", "Oyj", "PLLC", "Ltda", "BV", "Pvt",
)  # fmt: skip
# Not "NV" (Nevada, in an address) nor "KG" alone (a "GmbH & Co. KG" is read as its GmbH).
# A legal form as written or in capitals ("Inc." and "INC."), never in lower case ("a Delaware corporation").
_ENTITY_SUFFIX = "(?:{})\\.?".format(
    "|".join(
        sorted({re.escape(w) for form in _LEGAL_FORMS for w in (form, form.upper())}, key=len, reverse=True)
    )
)
# Spaces, or one line break: a name never runs across a blank line.
_NAME_GAP = r"(?:[ \t]+|[ \t]*\n[ \t]*)"
# A place in a company's name: "Fonterra (USA) Inc.", "Technology (ShenZhen) Co., Ltd.".
_NAME_PLACE = r"\([A-Z][\w .&'-]{0,30}\)"
_ENTITY = re.compile(
    rf"\b(?:[A-Z0-9][\w&'.,-]*{_NAME_GAP}(?:(?:of|de|&|{_NAME_PLACE}){_NAME_GAP})?){{0,7}}?"
    rf"(?:[A-Z0-9][\w&'.-]*)(?:{_NAME_GAP}{_NAME_PLACE})?"
    rf"(?:,?{_NAME_GAP}{_ENTITY_SUFFIX}(?![\w]))+",
)
_HEREINAFTER = re.compile(
    r"\b(?:hereinafter|hereafter)(?:\s+(?:referred\s+to\s+as|called|known\s+as))?\s*(?:the\s+|as\s+)?[\"“]([^\"“”]{2,60})[\"”]",
    re.IGNORECASE,
)
_NAMED_PARTY = re.compile(
    r"\b(?:between|among|and|with)\s+((?:[A-Z][\w.&'-]*)(?:\s+(?:[A-Z][\w.&'-]*|of|de|&)){0,6}?)(?=\s*(?:\(|,|\band\b|$))"
)
_UPPER_NAME = re.compile(r"\b([A-Z][A-Z0-9&'.-]+(?:[ \t]+[A-Z][A-Z0-9&'.-]+){1,4})\b")
PARTY_FALLBACK_CHARS = 2000
# Words before a party's name in a preamble ("This Agreement is made by and between ...", "BY AND BETWEEN").
_NAME_LEAD = re.compile(r"(?:\s*(?i:by|and|between|among|with|this|the|is|made|entered|into)\b)*\s*")
PARTY_CONTEXT_CHARS = 300
# Words a company's name does not hold past its start: a sentence ("China. The Company"), a legend ("HARM TO THE
# COMPANY IF DISCLOSED"), a section number ("Section 4.1 Bank").
_NOT_IN_A_NAME = re.compile(
    r"\s(?:The|THE|To|TO|If|IF|Is|IS|Be|BE|Would|WOULD|By|BY|Section|SECTION|\d+\.\d+)\s"
)
# What stands before a legal form that is no party's name: a description ("a Delaware Corporation") or an
# EDGAR exhibit's filing line ("Source: ACME INC, 10-K").
_NOT_A_NAME = re.compile(r"(?:\b(?i:an?)|\bSource:)\s*$")
PARTY_REGION_CHARS = 1500
_RECITALS = re.compile(
    r"\b(?:WHEREAS|Whereas|RECITALS?|Recitals|BACKGROUND|NOW,?\s+THEREFORE|W\s*I\s*T\s*N\s*E\s*S\s*S\s*E\s*T\s*H)\b"
)
_PARTY_ROLE = re.compile(
    r"(?i)(?:the\s+)?(?:[\w-]+\s+)?(?:company|client|customer|supplier|vendor|distributor|(?:sub)?licens(?:or|ee)|"
    r"franchis(?:or|ee)|(?:sub)?contractor|consultant|employer|employee|executive|agent|manufacturer|purchaser|"
    r"buyer|seller|reseller|provider|recipient|sponsor|developer|publisher|partner|member|issuer|borrower|lender|"
    r"guarantor|landlord|tenant|lessor|lessee|owner|operator|investor|shareholder|stockholder|fund|trust|"
    r"(?:sub-?)?advis[eo]r|administrator|servicer|transferor|transferee|assignor|assignee|grantor|grantee|"
    r"talent|artist|professional|party\s+[a-z0-9])s?"
)
_PARTY_DESCRIPTION = re.compile(
    r"(?i)\b(?:corporation|company|partnership|limited\s+liability|organi[sz]ed|incorporated|existing\s+under|"
    r"principal\s+(?:place|office|executive)|registered\s+(?:office|address)|offices?\s+at|residing|individual|"
    r"association|institution)\b"
)
_NAME_BEFORE = re.compile(r"[A-Z][\w.'&-]+(?:[ \t]+[A-Z][\w.'&-]+)+,?\s*$")
DEFINED_TERMS_CHARS = 3000
_DEFINED_TERM = re.compile(
    r"\(\s*(?:the\s+|hereinafter(?:\s+referred\s+to\s+as)?\s*|each\s+a\s+|individually\s+)?[\"“”']+([^\"“”']{2,60})[\"“”']+"
)
_REGION_KIND = r"(?i:State|Commonwealth|Province|Kingdom|People's Republic)\s+(?i:of)\s+"
# The place ends at punctuation, at one of the words that follow it in any case ("WITHOUT REGARD"), at a word in
# lower case other than "of" ("Texas governing contracts"), or at a line break before a heading ("Ireland\nSection
# 12"); never inside a word ("Tex" of "Texas").
_GOVERNING_LAW = re.compile(
    r"(?<!-)\b(?i:laws?)\s+(?:(?i:in\s+force\s+in)\s+|(?i:of)\s+)(?:(?i:the)\s+)?"
    rf"(?:{_REGION_KIND})?"
    r"(?P<place>(?:[A-Z][A-Za-z.']+)(?:\s+(?:(?:of|OF)\s+)?[A-Z][A-Za-z.']+)*?)"
    r"(?=\s*(?:[,.;()]|\b(?i:and|without|excluding|as|applicable|which|that|in|to|other|except|shall|will|"
    r"governs?|apply|applies|is|are|with|for|by|regardless|notwithstanding|irrespective)\b|$)"
    r"|\s+(?!of\b)[a-z]|[ \t]*\n\s*(?:\d|(?i:section|article)\b))",
)
_PLACE_NOISE = re.compile(
    r"^(?:the\s+)?(?:United States of America|United States|USA|U\.S\.A?\.?)$", re.IGNORECASE
)
_US_STATE_PREFIX = re.compile(r"^(?:State|Commonwealth)\s+of\s+", re.IGNORECASE)
_NAMED_REGION = re.compile(rf"^(?:(?i:the)\s+)?(?:{_REGION_KIND})?")
_STATE_SUFFIX = re.compile(r"\s+State$", re.IGNORECASE)
_COUNTRY_NAMES = {
    "china": "People's Republic of China",
    "prc": "People's Republic of China",
    "p.r.c": "People's Republic of China",
    "peoples republic of china": "People's Republic of China",
    "republic of china": "Taiwan",
    "r.o.c": "Taiwan",
    "roc": "Taiwan",
    "federal republic of germany": "Germany",
    "u.k": "United Kingdom",
    "uk": "United Kingdom",
}
_REGIONS = {
    "Canada": (
        "Alberta",
        "British Columbia",
        "Manitoba",
        "New Brunswick",
        "Newfoundland and Labrador",
        "Nova Scotia",
        "Ontario",
        "Prince Edward Island",
        "Quebec",
        "Saskatchewan",
    ),
    "Australia": (
        "New South Wales",
        "Queensland",
        "South Australia",
        "Tasmania",
        "Victoria",
        "Western Australia",
    ),
}
_REGION_COUNTRY = {
    region.lower(): f"{region}, {country}" for country, names in _REGIONS.items() for region in names
}
_US_STATES = (
    "Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut", "Delaware",
    "District of Columbia", "Florida", "Georgia", "Hawaii", "Idaho", "Illinois", "Indiana", "Iowa", "Kansas",
    "Kentucky", "Louisiana", "Maine", "Maryland", "Massachusetts", "Michigan", "Minnesota", "Mississippi",
    "Missouri", "Montana", "Nebraska", "Nevada", "New Hampshire", "New Jersey", "New Mexico", "New York",
    "North Carolina", "North Dakota", "Ohio", "Oklahoma", "Oregon", "Pennsylvania", "Rhode Island",
    "South Carolina", "South Dakota", "Tennessee", "Texas", "Utah", "Vermont", "Virginia", "Washington",
    "West Virginia", "Wisconsin", "Wyoming",
)  # fmt: skip
_DEMONYMS = {
    "english": "England",
    "swiss": "Switzerland",
    "german": "Germany",
    "french": "France",
    "dutch": "Netherlands",
    "irish": "Ireland",
    "scottish": "Scotland",
    "israeli": "Israel",
    "japanese": "Japan",
    "italian": "Italy",
    "chinese": "People's Republic of China",
    "prc": "People's Republic of China",
    "canadian": "Canada",
    "australian": "Australia",
    "singapore": "Singapore",
    "hong kong": "Hong Kong",
}
_STATE_NAMES = "|".join(sorted(_US_STATES, key=len, reverse=True))
_STATE_OF = re.compile(rf"\b(?:State|Commonwealth)\s+of\s+(?P<place>{_STATE_NAMES})\b", re.IGNORECASE)
_NAMED_LAW = re.compile(
    rf"\b(?P<place>{_STATE_NAMES}|{'|'.join(sorted(_DEMONYMS, key=len, reverse=True))})\s+laws?\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Clause:
    category: str
    start: int
    end: int
    confidence: float


def score_sentence(category: str, sentence: str) -> float:
    if not ANY_SENTENCE_RULE[category].search(sentence):
        return 0.0
    return sum(rule.weight for rule in SENTENCE_RULES[category] if rule.pattern.search(sentence))


def _confidence(score: float, threshold: float) -> float:
    return round(min(0.99, 0.5 + 0.25 * (score - threshold + 0.5)), 3)


def find_sentence_clauses(text: str, sentences: list[Segment]) -> list[Clause]:
    clauses: list[Clause] = []
    for category in SENTENCE_RULES:
        threshold = THRESHOLDS[category]
        scored = []
        for sentence in sentences:
            score = score_sentence(category, sentence.text)
            if score >= threshold:
                scored.append((score, sentence))
        scored.sort(key=lambda pair: (-pair[0], pair[1].start))
        for score, sentence in scored[: MAX_CLAUSES[category]]:
            clauses.append(Clause(category, sentence.start, sentence.end, _confidence(score, threshold)))
    return clauses


_UPPER_TITLE = re.compile(
    r"(?<![A-Za-z])((?:(?!THIS\b)[A-Z][A-Z0-9&',./-]*(?: |\n(?![ \t]*\n))){0,6}(?:AGREEMENT|CONTRACT|LICENSE AGREEMENT|AMENDMENT|ADDENDUM|MEMORANDUM OF UNDERSTANDING|STATEMENT OF WORK|LEASE)(?:\s+(?:FOR|OF|AND|ON)\s+(?:[A-Z][A-Z&'-]*\s*){1,4})?)(?![a-z])"
)
_TITLE_NOISE = re.compile(r"^(?:EXHIBIT|EX-|SCHEDULE|ANNEX|APPENDIX)[\w.\s-]*?\s+(?=[A-Z]{3})")
# The end of what comes before a title on its line: a company's name ("PREMIER NUTRITION CORPORATION
# MANUFACTURING AGREEMENT") or a legend's last sentence ("... IF PUBLICLY DISCLOSED. SERVICES AGREEMENT").
_TITLE_LEAD = re.compile(rf"^.*(?:\b{_ENTITY_SUFFIX}|[.,;:])\s+(?=\S)", re.DOTALL)


def _title_lead(title: str) -> int:
    """How many characters of `title` belong to what precedes the title itself (0 for none)."""
    lead = _TITLE_LEAD.match(title)
    return lead.end() if lead and _UPPER_TITLE.search(title, lead.end()) else 0


# A line the fallback never takes for a title: one with a run of spaces (a flattened line break, or a table of
# contents' gap before a page number) or ending in a page number after dot leaders.
_NOT_A_TITLE_LINE = re.compile(r"[ \t]{3,}|\.{3,}\s*\d+$")
_SECTION_NUMBER = re.compile(r"\d{1,2}(?:\.\d{1,2})*\.?[ \t]+")


def find_document_name(text: str) -> Clause | None:
    head = text[:1500]
    match = next((m for m in _UPPER_TITLE.finditer(head) if not m.group(1).startswith("THIS ")), None)
    if match and len(match.group(1).split()) >= 2:
        start, end = match.start(1), match.end(1)
        noise = _TITLE_NOISE.match(text[start:end])
        if noise:
            start += noise.end()
        start += _title_lead(text[start:end])
        while end > start and text[end - 1].isspace():
            end -= 1
        if end - start >= 8:
            return Clause("Document Name", start, end, 0.85)
    cursor = 0
    for line in text[:PREAMBLE_CHARS].split("\n"):
        start = cursor + len(line) - len(line.lstrip())
        cursor += len(line) + 1
        stripped = line.strip()
        if not stripped or len(stripped) > 120 or _NOT_A_TITLE_LINE.search(stripped):
            continue
        number = _SECTION_NUMBER.match(stripped)
        if number:
            start += number.end()
            stripped = stripped[number.end() :]
        if (
            _TITLE_WORDS.search(stripped)
            and (stripped.isupper() or stripped.istitle())
            and len(stripped.split()) <= 12
        ):
            return Clause("Document Name", start, start + len(stripped), 0.8)
    return None


def _preamble_sentence(text: str, sentences: list[Segment]) -> Segment | None:
    for sentence in sentences:
        if sentence.start > PREAMBLE_CHARS:
            break
        if _BETWEEN_LINE.fullmatch(sentence.text.strip()) and _TITLE_WORDS.search(
            text, max(0, sentence.start - TITLE_LOOKBACK_CHARS), sentence.start
        ):
            recitals = _RECITALS.search(text, sentence.end, sentence.start + PARTY_REGION_CHARS)
            if recitals:
                return Segment(sentence.start, recitals.start(), text[sentence.start : recitals.start()])
        if re.search(
            r"\b(?:by and between|by and among|between|among)\b", sentence.text, re.IGNORECASE
        ) and re.search(r"\b(?:agreement|contract|entered into|made)\b", sentence.text, re.IGNORECASE):
            return sentence
    return None


# "JOINT VENTURE AGREEMENT / BETWEEN / KIROMIC BIOPHARMA Inc., ... / AND / MOLIPHARMA S.R.L. ...": a title, then
# "between" on a line of its own, the parties in the blocks after it, up to the recitals.
_BETWEEN_LINE = re.compile(r"(?:by\s+and\s+)?(?:between|among)\s*:?", re.IGNORECASE)
TITLE_LOOKBACK_CHARS = 200

_NOT_PARTIES = {
    "agreement",
    "effective date",
    "contract",
    "this agreement",
    "the agreement",
    "party",
    "parties",
    "the parties",
    "exhibit",
    "schedule",
    "whereas",
    "recitals",
    "section",
    "article",
    "the",
    "this",
    "state",
    "delaware",
}


def find_parties(text: str, sentences: list[Segment]) -> tuple[list[Clause], list[str]]:
    preamble = _preamble_sentence(text, sentences)
    if preamble is None:
        head = min(len(text), PARTY_FALLBACK_CHARS)
        preamble = Segment(0, head, text[:head])
    defined_end = min(len(text), max(preamble.end, DEFINED_TERMS_CHARS))
    clauses: list[Clause] = []
    names: list[str] = []
    recitals = _RECITALS.search(text, preamble.end, preamble.start + PARTY_REGION_CHARS)
    parties_end = recitals.start() if recitals else preamble.end
    for match in _ENTITY.finditer(text, preamble.start, max(preamble.end, parties_end)):
        start = match.start()
        titles = list(_TITLE_WORDS.finditer(match.group(0)))
        if titles:
            start += titles[-1].end()
        start = _NAME_LEAD.match(text, start, match.end()).end()
        name = text[start : match.end()].strip(" ,")
        if (
            len(name) < 3
            or name.lower() in {n.lower() for n in names}
            or _NOT_A_NAME.search(text, max(0, start - 16), start)
            or _NOT_IN_A_NAME.search(name)
        ):
            continue
        names.append(name)
        clauses.append(Clause("Parties", start, start + len(name), 0.75))
    taken = {(c.start, c.end) for c in clauses}
    searches = (
        (_DEFINED_TERM, 0.6, defined_end),
        (_HEREINAFTER, 0.6, defined_end),
        (_NAMED_PARTY, 0.5, preamble.end),
        (_UPPER_NAME, 0.5, preamble.end),
    )
    for pattern, confidence, region_end in searches:
        for match in pattern.finditer(text, preamble.start, region_end):
            term = match.group(1).strip().rstrip(",.")
            start = match.start(1)
            if (
                term.lower() in _NOT_PARTIES
                or not term[:1].isupper()
                or len(term) < 2
                or _TITLE_WORDS.search(term)
            ):
                continue
            if any(a <= start < b for a, b in taken):
                continue
            taken.add((start, start + len(term)))
            clauses.append(Clause("Parties", start, start + len(term), confidence))
            if (
                confidence > 0.5
                and term.lower() not in {n.lower() for n in names}
                and _names_a_party(text, match.start(), term)
            ):
                names.append(term)
    return clauses, names


def _names_a_party(text: str, at: int, term: str) -> bool:
    """Whether `term`, defined at `at` (its parenthesis or "hereinafter"), names a party: a party's role ("the
    Licensee", "Party A"), or the words before it, back to the previous defined term or semicolon (at most
    PARTY_CONTEXT_CHARS), hold a company's name, a description of one ("a Delaware corporation", "with offices
    at") or end in a person's or firm's name."""
    if _PARTY_ROLE.fullmatch(term):
        return True
    end = len(text[:at].rstrip(" \t\n(,"))
    start = max(
        0, end - PARTY_CONTEXT_CHARS, *(text.rfind(mark, 0, end) + len(mark) for mark in ('")', "”)", ";"))
    )
    before = text[start:end]
    return bool(_ENTITY.search(before) or _PARTY_DESCRIPTION.search(before) or _NAME_BEFORE.search(before))


_FILING_SOURCE = re.compile(r"Source:[^\n]{0,100},\s*$")


def find_agreement_date(text: str, sentences: list[Segment]) -> tuple[Clause | None, str | None]:
    """The preamble's first date, else the first in the opening PREAMBLE_CHARS (a month's full date there before
    the bare month: "September 2018 ... made on 25 September 2018"); never the filing date of an EDGAR exhibit's
    "Source: COMPANY, 10-Q, 11/8/2019" line."""
    preamble = _preamble_sentence(text, sentences)
    regions = [(preamble.start, preamble.end)] if preamble else []
    regions.append((0, min(len(text), PREAMBLE_CHARS)))
    for start, end in regions:
        dates = [
            d
            for d in find_dates(text, start, end)
            if not _FILING_SOURCE.search(text, max(0, d.start - 100), d.start)
        ]
        if dates:
            first = dates[0]
            if len(first.iso) == 7:
                first = next((d for d in dates if len(d.iso) == 10 and d.iso.startswith(first.iso)), first)
            return Clause("Agreement Date", first.start, first.end, 0.8), first.iso
    return None, None


def _jurisdiction(sentence: str) -> str | None:
    """The place whose laws govern: "the laws of <place>", else "<place or demonym> law" ("Ohio law", "English
    law"), else the first "State of <US state>" the sentence names."""
    for match in _GOVERNING_LAW.finditer(sentence):
        place = match.group("place").strip().rstrip(".")
        if place.isupper():
            place = " ".join("of" if w == "OF" else w.title() for w in place.split())
        place = _US_STATE_PREFIX.sub("", place)
        if (
            _PLACE_NOISE.match(place)
            or place.lower() in {"this", "such", "any", "each"}
            or place.endswith("'s")
        ):
            continue
        return canonical_jurisdiction(place)
    named = _NAMED_LAW.search(sentence) or _STATE_OF.search(sentence)
    if named is None:
        return None
    place = named.group("place")
    return _DEMONYMS.get(place.lower()) or next(
        state for state in _US_STATES if state.lower() == place.lower()
    )


def jurisdiction_answer(named: str) -> str:
    """A jurisdiction as someone names it ("the Province of Ontario", "State of New York") written as the
    analyzers answer it ("Ontario, Canada", "New York"): its kind and article dropped as the analyzers drop them
    from "the laws of ...", then `canonical_jurisdiction`."""
    return canonical_jurisdiction(_NAMED_REGION.sub("", " ".join(named.split())).rstrip("."))


def canonical_jurisdiction(place: str) -> str:
    """One name per jurisdiction, as CUAD's answers write it: a country by its full name ("PRC" → "People's
    Republic of China"), a Canadian province or Australian state with its country ("Ontario, Canada"), a US state
    without "State" ("New York State" → "New York")."""
    place = " ".join(place.split())
    key = place.lower().rstrip(".")
    return _COUNTRY_NAMES.get(key) or _REGION_COUNTRY.get(key) or _STATE_SUFFIX.sub("", place)


_RENEWAL_CUE = re.compile(
    r"\b(?:renew\w*|successive|additional|further|extend\w*|extension)\b", re.IGNORECASE
)
_NOTICE_CUE = re.compile(r"\b(?:notice|notif\w*|prior|before|in advance|preceding)\b", re.IGNORECASE)
_OPEN_ENDED = re.compile(
    r"\b(?:until\s+terminat\w*|until\s+(?:either|one|the)\s+part(?:y|ies)\b.{0,40}\bterminat|indefinite\w*|"
    r"perpetu\w*|no\s+fixed\s+term|remain\s+in\s+(?:full\s+)?(?:force|effect)\s+unless\s+terminated|"
    r"end\w*\s+when\s+terminated|continue\w*\s+unless\s+and\s+until|thereafter,?\s+unless\s+terminated)",
    re.IGNORECASE | re.DOTALL,
)


_UNTIL_EVENT = re.compile(r"\b(?:continu|remain)\w*\b[^.;]{0,80}?\b(?:until|through)\b", re.IGNORECASE)
_ENDS_ON_EVENT = re.compile(
    r"\b(?:terminat|expir|end)\w*\b[^.;]{0,60}?\b(?:upon|if|when|following|on\s+the\s+(?:expiration|"
    r"termination|exercise|occurrence|earli\w+))\b|\bnot\s+be\s+terminable\b",
    re.IGNORECASE,
)
_BOUNDED = re.compile(r"\bin\s+no\s+event\s+later\b", re.IGNORECASE)


def _open_ended(quote: str, dates: list[DateMatch]) -> bool:
    """Whether a term clause without a stated term has no end date: an open-ended phrase with at most one date (its
    start), or "continue(s) ... until" an event rather than a date."""
    if _OPEN_ENDED.search(quote) and not dates[1:]:
        return True
    found = _UNTIL_EVENT.search(quote)
    return bool(found) and not any(date.start >= found.end() for date in dates)


_NOTICE_FOLLOWS = re.compile(
    r"['\u2019]?s?['\u2019]?\W*(?:(?:advance|prior|written|calendar|business|of)\s+){0,3}"
    r"(?:notice|prior|before|in\s+advance)\b",
    re.IGNORECASE,
)
_END_CUE = re.compile(
    r"\b(?:until|through|expir\w*|end\w*(?:\s+on)?|terminat\w*\s+on|to)\s*(?:and\s+including\s+)?$",
    re.IGNORECASE,
)
_NTH = rf"(?P<nth>{'|'.join(ORDINAL_WORDS)}|\d{{1,2}}\s*(?:st|nd|rd|th))(?:\s*\([^()]{{1,8}}\))?"
_ANNIVERSARY = re.compile(rf"\b{_NTH}\s+anniversary\b", re.IGNORECASE)
_NTH_YEAR = re.compile(
    rf"\bend\s+of\s+(?:the\s+)?(?:{_NTH}\s+(?:contract\s+)?year|(?:contract\s+)?year\s+(?P<number>\d{{1,2}}))\b",
    re.IGNORECASE,
)


def _term_of(quote: str) -> str | None:
    """The term a clause states, as P<n>Y or P<n>M: its first duration in years or months that is not a notice
    period ("12 months' notice"), else its first "n-th anniversary" or "end of the n-th (Contract) Year"."""
    for value, _, end in find_durations(quote):
        if value[-1] in "YM" and not _NOTICE_FOLLOWS.match(quote, end):
            return value
    found = _ANNIVERSARY.search(quote) or _NTH_YEAR.search(quote)
    if not found:
        return None
    nth = (found["nth"] or found["number"]).lower()
    years = ORDINAL_WORDS.index(nth) + 1 if nth in ORDINAL_WORDS else int(re.sub(r"\D", "", nth))
    return f"P{years}Y" if years else None


_YEARLY = re.compile(
    r"\b(?:year[\s-]+to[\s-]+year|(?:successive|additional|further)\s+(?:annual|yearly)|(?:annual|yearly)\s+"
    r"(?:periods?|terms?|basis|renewals?)|every\s+year)\b",
    re.IGNORECASE,
)
_MONTHLY = re.compile(r"\b(?:month[\s-]+to[\s-]+month|monthly\s+(?:periods?|terms?|basis))\b", re.IGNORECASE)
_NOTICE_NEAR = re.compile(r"\W{0,3}(?:\w+\W+){0,3}?(?:prior|before|in advance|notice)\b", re.IGNORECASE)


def _renewal_term(quote: str) -> str | None:
    """A renewal clause's term: "year to year" or "successive annual periods" is a year, "month to month" a
    month; else the duration in years or months after a renewal cue that is not a notice period ("60 days
    prior"), else any such duration."""
    if _YEARLY.search(quote):
        return "P1Y"
    if _MONTHLY.search(quote):
        return "P1M"
    terms = [
        (value, bool(_RENEWAL_CUE.search(quote[max(0, start - 80) : start])))
        for value, start, end in find_durations(quote)
        if value[-1] in "YM" and not _NOTICE_NEAR.match(quote, end)
    ]
    cued = [value for value, after_cue in terms if after_cue]
    return cued[0] if cued else terms[0][0] if terms else None


def _duration_near(quote: str, cue: re.Pattern[str], *, before: bool) -> str | None:
    """The duration in `quote` next to a cue word (cue before it, or after it)."""
    for value, start, end in find_durations(quote):
        window = (
            quote[max(0, start - 80) : start]
            if before
            else quote[max(0, start - 30) : start] + quote[end : end + 25]
        )
        if cue.search(window):
            return value
    return None


_SAME_TERM = re.compile(
    r"\b(?:same|equal|identical|like)\s+(?:duration|length|period|term)\b|"
    r"\b(?:equal|identical)\s+(?:in\s+length\s+)?to\s+the\s+(?:initial|original)\s+term\b",
    re.IGNORECASE,
)


def _notice_period(quote: str) -> str | None:
    """The first duration in `quote` that a notice cue follows within three words ("120 days advance written
    notice", "six (6) months prior")."""
    return next((value for value, _, end in find_durations(quote) if _NOTICE_FOLLOWS.match(quote, end)), None)


def _first_duration(quote: str) -> str | None:
    found = parse_duration(quote)
    return found[0] if found else None


def _first_answer(quotes: list[str], read: Callable[[str], str | None]) -> str | None:
    """The first answer `read` finds in the quotes (best clause first)."""
    return next((answer for answer in map(read, quotes) if answer), None)


_LAST_SIGNATURE = re.compile(
    r"\b(?:last|later|latest)\b[^.;]{0,40}?\b(?:signature|signatory|signed|sign|execut\w*)\b", re.IGNORECASE
)
_DAY_AFTER = re.compile(r"\bday\s+(?:after|following)\b", re.IGNORECASE)
_DATE_LINE = re.compile(r"\bdated?\s*:?\s*$", re.IGNORECASE)
_WITNESS = re.compile(r"\bIN\s+WITNESS\s+WHEREOF\b", re.IGNORECASE)


# A date the contract names its effective date: `effective as of April 1, 2019`, or one the definition follows,
# `April 1, 2019 (the "Effective Date")`.
_EFFECTIVE_BEFORE = re.compile(
    r"\beffective\s+(?:as\s+of|on|from|date\s+(?:of|is|shall\s+be))\s*(?:the\s+)?$", re.IGNORECASE
)
_EFFECTIVE_AFTER = re.compile(
    r"^[\s,]{0,3}\(\s*(?:the\s+|this\s+)?[\"“”']{0,2}Effective\s+Date\b", re.IGNORECASE
)


def effective_first(text: str, dates: list) -> list:
    """`dates` (found in `text`) with the one the text names the effective date first: a clause "made on March
    12, 2019 and effective as of April 1, 2019 (the "Effective Date")" starts on April 1."""
    named = [
        d
        for d in dates
        if _EFFECTIVE_AFTER.search(text[d.end : d.end + 40])
        or _EFFECTIVE_BEFORE.search(text[max(0, d.start - 40) : d.start])
    ]
    return named[:1] + [d for d in dates if d not in named[:1]]


def _first_start_date(quote: str) -> str | None:
    """The first date of an Effective Date clause that the term does not run until ("through and including March
    31, 2004" is an end), the one the clause names its effective date before any other."""
    return next(
        (
            d.iso
            for d in effective_first(quote, find_dates(quote))
            if not _END_CUE.search(quote[max(0, d.start - 25) : d.start])
        ),
        None,
    )


def _signature_dates(text: str) -> list[str]:
    """The full dates written after "Date:" in the signature block: the 3,000 characters from the last "IN WITNESS
    WHEREOF", else the contract's last 3,000."""
    witness = list(_WITNESS.finditer(text))
    start = witness[-1].start() if witness else max(0, len(text) - 3000)
    return [
        date.iso
        for date in find_dates(text, start, start + 3000)
        if len(date.iso) == 10 and _DATE_LINE.search(text[max(0, date.start - 12) : date.start])
    ]


def normalise_answers(
    text: str, clauses: list[Clause], parties: list[str], agreement_date: str | None
) -> dict:
    by_category: dict[str, list[Clause]] = {}
    for clause in clauses:
        by_category.setdefault(clause.category, []).append(clause)

    def quotes(category: str) -> list[str]:
        return [
            text[c.start : c.end] for c in sorted(by_category.get(category, []), key=lambda c: -c.confidence)
        ]

    answers: dict[str, object] = {}
    name = quotes("Document Name")
    answers["Document Name"] = name[0] if name else None
    answers["Parties"] = parties
    if agreement_date is None:
        agreement_date = next(
            (dates[0].iso for quote in quotes("Agreement Date") if (dates := find_dates(quote))), None
        )
    signed = _signature_dates(text)
    if agreement_date in signed:
        agreement_date = max(signed)
    answers["Agreement Date"] = agreement_date
    effective = None
    effective_quotes = quotes("Effective Date")
    if effective_quotes and _LAST_SIGNATURE.search(effective_quotes[0]) and signed:
        effective = max(signed)
        if _DAY_AFTER.search(effective_quotes[0]):
            effective = (datetime.date.fromisoformat(effective) + datetime.timedelta(days=1)).isoformat()
    if effective is None:
        effective = next((start for quote in effective_quotes if (start := _first_start_date(quote))), None)
    answers["Effective Date"] = effective or (agreement_date if by_category.get("Effective Date") else None)
    expiration = None
    term_duration = None
    expiration_quotes = quotes("Expiration Date")
    for quote in expiration_quotes:
        term = _term_of(quote)
        dates = find_dates(quote)
        if not term and _open_ended(quote, dates):
            expiration = "perpetual"
            break
        later = [d.iso for d in dates if not effective or d.iso > effective]
        if later:
            expiration = later[-1]
            break
        if term:
            term_duration = term
            break
    if expiration is None and term_duration and (effective or agreement_date):
        expiration = add_duration(effective or agreement_date or "", term_duration)
    elif expiration is None and not term_duration and expiration_quotes:
        best = expiration_quotes[0]
        if _ENDS_ON_EVENT.search(best) and not _BOUNDED.search(best) and not find_dates(best):
            expiration = "perpetual"
    answers["Expiration Date"] = expiration
    renewal = quotes("Renewal Term")
    initial_term = term_duration or _first_answer(expiration_quotes, _term_of)
    answers["Renewal Term"] = (
        (initial_term if renewal and _SAME_TERM.search(renewal[0]) else None)
        or _first_answer(renewal, _renewal_term)
        or _first_answer(renewal, lambda quote: _duration_near(quote, _RENEWAL_CUE, before=True))
        or _first_answer(renewal, _first_duration)
    )
    notice = quotes("Notice Period To Terminate Renewal")
    answers["Notice Period To Terminate Renewal"] = (
        _first_answer(notice, _notice_period)
        or _first_answer(notice, lambda quote: _duration_near(quote, _NOTICE_CUE, before=False))
        or _first_answer(notice, _first_duration)
    )
    answers["Governing Law"] = _first_answer(quotes("Governing Law"), _jurisdiction)
    for category in YES_NO_CATEGORIES:
        answers[category] = "Yes" if by_category.get(category) else "No"
    return {category: answers.get(category) for category in CUAD_CATEGORIES}


def find_rule_clauses(text: str, sentences: list[Segment]) -> tuple[list[Clause], list[str], str | None]:
    """The rules' clauses, the parties' names and the agreement date (ISO) of one contract."""
    clauses = find_sentence_clauses(text, sentences)
    title = find_document_name(text)
    if title:
        clauses.append(title)
    party_clauses, parties = find_parties(text, sentences)
    clauses.extend(party_clauses)
    date_clause, agreement_date = find_agreement_date(text, sentences)
    if date_clause:
        clauses.append(date_clause)
        effective_with_date = any(
            c.category == "Effective Date" and find_dates(text, c.start, c.end) for c in clauses
        )
        if not effective_with_date:
            clauses.append(Clause("Effective Date", date_clause.start, date_clause.end, 0.55))
    for clause in [c for c in clauses if c.category == "Effective Date" and c.end - c.start > 40]:
        dates = effective_first(text, find_dates(text, clause.start, clause.end))
        if dates:
            clauses.append(
                Clause("Effective Date", dates[0].start, dates[0].end, round(clause.confidence - 0.05, 3))
            )
    return clauses, parties, agreement_date


class ContractAnalysis(NamedTuple):
    clauses: list[dict]
    answers: dict
    suggestions: list[dict]


def analyse_contract(
    document_id: str,
    text: str,
    model: ClauseModel | None = None,
    *,
    suggestions: int = 0,
) -> ContractAnalysis:
    """Clauses (as CONNECTORS.md dicts, in document order) and normalised answers for one contract; with a
    learned clause `model`, its clauses join or replace the rules' per category and confidences are calibrated,
    and `suggestions` asks for up to that many further candidates per category (most confident first)."""
    sentences = split_sentences(text)
    clauses, parties, agreement_date = find_rule_clauses(text, sentences)
    suggested: list[Clause] = []
    if model is not None:
        from connectors.legal.learned import combine

        clauses, suggested = combine(model, sentences, clauses, suggestions)
    answers = normalise_answers(text, clauses, parties, agreement_date)
    result = _as_dicts(
        document_id, text, sorted(clauses, key=lambda c: (c.start, CUAD_CATEGORIES.index(c.category)))
    )
    return ContractAnalysis(result, answers, _as_dicts(document_id, text, suggested))


def _as_dicts(document_id: str, text: str, clauses: list[Clause]) -> list[dict]:
    result = []
    for clause in clauses:
        span = trimmed_span(document_id, text, clause.start, clause.end)
        if span:
            result.append({"category": clause.category, "confidence": clause.confidence, "span": span})
    return result
