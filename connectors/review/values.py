"""Values of a column's type read from one passage: dates, durations, money, numbers, percentages, yes/no by
the passage's polarity, lists, and enum choices by their terms. Each finder returns (value, normalised,
start, end) with document offsets, or None."""

from __future__ import annotations

import re
from collections.abc import Iterator

from common.scripts import CJK_SENTENCE_ENDS
from connectors.dates import ISO_DURATION, find_dates, find_durations, parse_duration
from connectors.earnings.tables import (
    CURRENCY_CODES,
    CURRENCY_NAMES,
    CURRENCY_SIGNS,
    DOLLAR_CURRENCIES,
    DOLLAR_PREFIXES,
    MINUS,
    NUMBER,
    SCALES,
    SIGNS,
    parse_number,
)
from connectors.review.retrieval import stems, word_terms

Found = tuple[object, object, int, int]
_WORD = re.compile(r"[^\W_]+")
_CURRENCIES = ("USD", "EUR", "GBP", "JPY", "USD_per_share")
_FIGURE_KINDS = ("money", "percent", "number")
# A negation cue; "no later than", "not less than", "not only" and the like bound a figure, they deny nothing.
_CUE = re.compile(
    r"(?:\b(?:not|never|no|none|neither|nor|without|cannot|in\s+no\s+event|"
    r"under\s+no\s+circumstances?)\b|n't\b|\bnon-)"
    r"(?!\s+(?:later|earlier|sooner|less|more|fewer|greater|only)\b)",
    re.IGNORECASE,
)
# A word that states a prohibition, or with "un" its absence: it denies the act its clause names, before or after
# it ("Assignment is prohibited"), unless a negator stands within a few words before it ("is not restricted",
# "without restriction", "free of any restriction"). "not permitted" denies its clause as one does.
_PROHIBITION = re.compile(
    r"\b(?P<un>un)?(?:prohibit\w*|restrict\w*|forbid\w*|forbade|barred|preclud\w*|banned)\b", re.IGNORECASE
)
# What may follow a prohibition said of the act ("prohibited from", "restricted without consent", "barred."); a
# participle followed by any other word names a thing ("restricted stock", "the Restricted Period", "prohibited
# acts"), and prohibits nothing.
_PREDICATE_FOLLOWER = re.compile(
    r"\s*(?:[^\w\s]|\Z|(?:from|to|by|under|in|on|upon|at|for|as|with|without|unless|except|if|and|or|"
    r"absent|save|other|only|hereunder|herein|thereunder)\b)",
    re.IGNORECASE,
)


def _attributive(text: str, prohibition: re.Match[str], end: int) -> bool:
    """Whether the prohibition word is a participle standing before what it describes, in `text` up to `end`."""
    word = prohibition.group(0).lower()
    return word.endswith(("ed", "en")) and not _PREDICATE_FOLLOWER.match(text, prohibition.end(), end)


_NEGATOR = re.compile(
    r"(?:\b(?:not|no|never|without|neither|nor)|n't|\bfree\s+(?:of|from))(?:\s+[^\W\d_]+){0,4}?\s+\Z",
    re.IGNORECASE,
)
_PERMITTED = re.compile(r"\s+(?:be\s+)?(?:permitted|allowed|authori[sz]ed)\b", re.IGNORECASE)
# A question that asks whether the act is denied: "Can a party not assign ...?", "Is assignment not permitted?".
_QUESTION_NOT = re.compile(
    r"^\W*(?:(?:can|may|must|shall|should|will|would|could|is|are|was|were|does|do|did|has|have)"
    r"(?:\s+[^\W\d_]+){0,4}?\s+(?P<not>not)\b|(?P<nt>\w+n't|cannot)\b)|\b(?P<permission>not)(?=\s+(?:be\s+)?"
    r"(?:permitted|allowed|authori[sz]ed)\b)",
    re.IGNORECASE,
)
# What follows one of these inside a denied clause is carved out of the denial: "shall not assign except to
# an Affiliate", "may not be disclosed without the prior written consent".
_EXCEPTION = re.compile(
    r"\b(?:except|unless|other\s+than|save\s+(?:as|for)|excluding|without)\b", re.IGNORECASE
)
# A denied bound states a limit: "in no event shall liability exceed the fees" caps liability, it denies
# nothing the question asks, unless the question asks about the bound itself ("Can fees exceed $100?").
_BOUND = re.compile(
    r"\b(?:exceed(?:s|ed|ing)?|surpass(?:es|ed)?|be\s+(?:more|greater|higher|larger)\s+than)\b", re.IGNORECASE
)
_BOUND_REACH = 100
_CLAUSE_END = re.compile(
    rf"[.;:!?](?=\s|$)|[{CJK_SENTENCE_ENDS}]|\n|,?(?<!\s)\s++(?:but|however|provided\s+(?:that|however))\b",
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
    a, b = start + a, start + b
    if ")" in text[a:b] and "(" not in text[a:b]:
        # The words restate a figure before them, "30 (thirty) days", or a bracket holds the figure, "(30) days":
        # the duration starts there, its figure the number, rather than at "thirty) days".
        figure = _RESTATED.search(text, start, a)
        if figure is not None:
            a = figure.start()
            number = float(figure.group("digits").replace(",", ""))
            iso = f"P{int(number) if number.is_integer() else number}{iso[-1]}"
        elif a > start and text[a - 1] == "(":
            a -= 1
    return text[a:b], iso, a, b


_RESTATED = re.compile(r"(?<![\w.,])(?P<digits>(?:\d{1,3}(?:,\d{3})+|\d{1,4})(?:\.\d+)?)[ \t]*\([ \t]*\Z")


# Amounts of money earnings' reader (`tables.NUMBER`) leaves out or misreads, read first: a currency code before
# or after the number ("EUR 3,000,000", "250,000 USD"), letters before a dollar sign ("CAD$ 500", "A$500"), a
# currency named or signed after it ("5 million euros", "200 Canadian dollars", "12,50 €"; there a dot groups
# thousands, as the continental style writes them: "1.500 €" is 1,500), a currency sign before a number with a
# decimal comma or dotted thousands ("€ 1.234,56", "€1.234.567"), thousands grouped by spaces ("1 500 €", "EUR
# 1 250 000"), a minus sign after the currency ("EUR -500", "$-500"), and accounting's brackets around an amount
# standing by itself ("(EUR 1,000)" is negative; "Two Thousand Euros (EUR 2,000)" restates the words). The rest
# ("$5.0 million", "$0.83 per share") is earnings' reader's.
_CODE = "|".join(CURRENCY_CODES)
# Thousands grouped by a space, a no-break space or a narrow no-break space (French, Swiss, ISO 31-0: "1 500 €").
_SPACED = r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:\.\d+)?(?!\d)"
_DECIMAL_COMMA = (
    r"\d{1,3}(?:\.\d{3})+,\d{1,2}|\d{1,3}(?:[ \u00a0\u202f]\d{3})+,\d{1,2}|\d{1,3}(?:\.\d{3}){2,}|\d+,\d{1,2}"
)
_AMOUNT = re.compile(
    rf"(?<![\w{SIGNS}.,])(?P<neg>[{MINUS}]\s?)?"
    rf"(?:(?:(?P<code>{_CODE})\s?|(?P<prefix>[A-Za-z.]+)?(?P<sign>[{SIGNS}])\s?)(?P<neg_after>[{MINUS}])?)?"
    rf"(?P<value>(?:{_DECIMAL_COMMA}|{_SPACED}|(?:\d{{1,3}}(?:,\d{{3}})+|\d{{1,3}}(?:['\u2019]\d{{3}})+|\d+)(?:\.\d+)?)(?!\d|[.,'\u2019]\d))"
    rf"(?:\s?(?P<scale>(?i:{'|'.join(sorted(SCALES, key=len, reverse=True))}))\b)?"
    rf"(?:\s?(?:(?P<code_after>{_CODE})(?!\s?\d)|(?P<named>(?i:{'|'.join(CURRENCY_NAMES.values())}))|(?P<sign_after>[{SIGNS.replace('$', '')}])))?"
    rf"(?![\w{SIGNS}])"
)


_AFTER_A_WORD = re.compile(r"[^\W\d_][ \t]*\Z")


def _amounts(text: str, start: int, end: int) -> Iterator[tuple[int, int, tuple[float, str, float] | None]]:
    """The amounts read here rather than by earnings' reader, as (start, end, (value, unit, scale)); the
    figure is None for an amount in a currency this does not know ("ZZ$ 500") or in two at once ("€500 USD"):
    that is no money, rather than dollars."""
    for match in _AMOUNT.finditer(text, start, end):
        raw, sign, prefix, named = (match.group(name) for name in ("value", "sign", "prefix", "named"))
        decimal_comma = re.fullmatch(_DECIMAL_COMMA, raw) is not None
        said = {
            match.group("code"),
            match.group("code_after"),
            CURRENCY_SIGNS.get(match.group("sign_after") or ""),
        }
        said.discard(None)
        if named:
            said |= {
                code for code, words in CURRENCY_NAMES.items() if re.fullmatch(words, named, re.IGNORECASE)
            }
        if sign == "$":
            if prefix:
                said.add(DOLLAR_PREFIXES.get(prefix))
            elif not said or said - DOLLAR_CURRENCIES:
                said.add(None if said else "USD")
        elif sign:
            said.add(None if prefix else CURRENCY_SIGNS[sign])
        spaced = re.fullmatch(_SPACED, raw) is not None
        after = match.group("code_after") or named or match.group("sign_after")
        stated = match.group("code") or after or decimal_comma or spaced or match.group("neg_after")
        if not said or (not stated and (not prefix or said == {"USD"})):
            continue
        a, b = match.start(), match.end()
        if len(said) != 1 or None in said:
            yield a, b, None
            continue
        if decimal_comma:
            digits = re.sub(r"[. \u00a0\u202f]", "", raw).replace(",", ".")
        elif after and not match.group("scale") and re.fullmatch(r"[1-9]\d{0,2}\.\d{3}", raw):
            # A currency written after the number is the continental style, whose dot groups thousands:
            # "1.500 €" is 1,500 (as "1.500,00 €" is), where "€1.500" and "$1.500 per gallon" stay 1.5.
            digits = raw.replace(".", "")
        else:
            digits = re.sub(r"[,'\u2019 \u00a0\u202f]", "", raw)
        negative = bool(match.group("neg") or match.group("neg_after"))
        if (
            not negative
            and start < a
            and b < end
            and text[a - 1] == "("
            and text[b] == ")"
            and not _AFTER_A_WORD.search(text, max(0, a - 21), a - 1)
        ):
            # Accounting's brackets, standing by themselves: "(EUR 1,000)" is negative as "(€1,000)" is.
            negative, a, b = True, a - 1, b + 1
        value = -float(digits) if negative else float(digits)
        yield a, b, (value, said.pop(), SCALES.get((match.group("scale") or "").lower(), 1.0))


def _numbers(text: str, start: int, end: int) -> Iterator[Found]:
    """The figures earnings' reader reads here, less dates, the amounts `_amounts` reads and years alone. A
    bracket opened right after a word restates the figure the words give ("five (5)", "Fifty Thousand Dollars
    ($50,000)"): the figure is what it holds, positive. Accounting's brackets stand by themselves ("(1,234)", a
    table cell's value) or after the currency sign ("$(2,000)"), and are negative."""
    dates = [(d.start, d.end) for d in find_dates(text, start, end)]
    amounts = [(a, b) for a, b, _ in _amounts(text, start, end)]
    view, offset = _spaces_as_commas(text, start, end)
    for match in NUMBER.finditer(view, start - offset, end - offset):
        figure_start, figure_end = match.start() + offset, match.end() + offset
        if any(a <= figure_start < b for a, b in dates):
            continue
        if any(a < figure_end and figure_start < b for a, b in amounts):
            continue
        value, unit, scale = parse_number(match)
        raw = match.group("value")
        if unit == "count" and scale == 1.0 and re.fullmatch(r"(?:19|20)\d\d", raw):
            continue
        if match.group("open") and _AFTER_A_WORD.search(text, max(0, figure_start - 20), figure_start):
            value = abs(value)
            if text[figure_end - 1] == ")":
                figure_start, figure_end = figure_start + 1, figure_end - 1
        figure = {"value": value, "unit": unit, "scale": scale}
        yield text[figure_start:figure_end], figure, figure_start, figure_end


# Thousands grouped by spaces outside an amount ("1 500 employees"): groups of exactly three digits after a head of
# one to three, with no number right before or after the run, so "in 2019 150 offices", "items 3 4 5" and "555
# 123 4567" stay separate numbers.
_SPACED_NUMBER = re.compile(rf"(?<![\d.,])(?<![\d.,][ \u00a0\u202f]){_SPACED}(?![ \u00a0\u202f]\d)")
_CONTEXT = 30


def _spaces_as_commas(text: str, start: int, end: int) -> tuple[str, int]:
    """`text` up to `end`, from a little before `start`, with the spaces that group thousands written as commas,
    which earnings' reader reads, and where that piece starts; `text` itself where no run is grouped so."""
    runs = list(_SPACED_NUMBER.finditer(text, start, end))
    if not runs:
        return text, 0
    offset = max(0, start - _CONTEXT)
    piece = list(text[offset:end])
    for run in runs:
        for at in range(run.start(), run.end()):
            if piece[at - offset] in " \u00a0\u202f":
                piece[at - offset] = ","
    return "".join(piece), offset


def find_money(text: str, start: int, end: int) -> Found | None:
    """The first amount of money: one `_amounts` reads, else one earnings' reader reads in a currency; an
    amount in a currency `_amounts` does not know is none."""
    dates = [(d.start, d.end) for d in find_dates(text, start, end)]
    found = [
        (text[a:b], {"value": figure[0], "unit": figure[1], "scale": figure[2]}, a, b)
        for a, b, figure in _amounts(text, start, end)
        if figure is not None and not any(x <= a < y for x, y in dates)
    ]
    earnings = next(
        (number for number in _numbers(text, start, end) if number[1]["unit"] in _CURRENCIES), None
    )
    return min([*found, *([earnings] if earnings else [])], key=lambda amount: amount[2], default=None)


def find_percent(text: str, start: int, end: int) -> Found | None:
    return next((number for number in _numbers(text, start, end) if number[1]["unit"] == "percent"), None)


def find_number(text: str, start: int, end: int) -> Found | None:
    return next((number for number in _numbers(text, start, end) if number[1]["unit"] == "count"), None)


def find_yes_no(text: str, start: int, end: int, terms: list[str], question: str = "") -> Found:
    """Yes or No by the polarity of the passage's clause that carries most of the question's terms (the
    earlier on a tie), and that clause as the span that decides.

    A cue ("not", "no", "neither", "nor", "shall not", "without", "non-") denies the rest of its clause
    (clauses end at `.;:`, a line, "but", "however", "provided that"), except a cue that bounds ("shall not
    exceed", "in no event … be more than"): that states a limit; a prohibition ("is prohibited", "restricted",
    "not permitted") denies the whole clause, and one negated ("not restricted", "without restriction") denies
    nothing. Within a denied clause, what follows "except", "unless", "other than" or "without" is carved out.
    The act is allowed when a question term sits in a carve-out that the denial before it does not also name
    (the question asks about the exception), denied when one sits in a denial, else allowed. A cue the question
    itself uses ("terminate without cause") is not a denial. A question that asks about a prohibition ("Is
    assignment restricted?", "Can a party not assign?") is Yes where the act is denied or bounded, else No;
    any other is Yes where the act is allowed."""
    negative, predicate = _question_predicate(question)
    asked = {
        cue.group(0).lower()
        for cue in _CUE.finditer(question)
        if not any(a <= cue.start() < b for a, b in predicate)
    }
    said = {
        term
        for a, b in predicate
        for word in _WORD.finditer(question, a, b)
        for _, term in word_terms(word.group(0).lower())
    }
    wanted = set(terms)
    act = wanted - said or wanted
    bound_asked = _BOUND.search(question) is not None
    best: tuple[int, str, int, int] | None = None
    for clause_start, clause_end in _clauses(text, start, end):
        words = [
            (word.start() + offset, term)
            for word in _WORD.finditer(text, clause_start, clause_end)
            for offset, term in word_terms(word.group(0).lower())
            if term in wanted
        ]
        found = {stem for _, stem in words}
        if best is not None and len(found) <= best[0]:
            continue
        acts = [(position, term) for position, term in words if term in act]
        allowed, bounded = _allowed(text, clause_start, clause_end, acts, asked, bound_asked)
        answer = "Yes" if (not allowed or bounded if negative else allowed) else "No"
        best = (len(found), answer, clause_start, clause_end)
    if best is None:
        return _answer("Yes", text, start, end)
    return _answer(best[1], text, best[2], best[3])


def _question_predicate(question: str) -> tuple[bool, list[tuple[int, int]]]:
    """Whether `question` asks about a prohibition (an odd count of prohibitions and negations of the act:
    "Is assignment restricted?" does, "Is assignment not restricted?" does not), and where the words that say
    so stand."""
    negative, predicate = False, []
    for prohibition in _PROHIBITION.finditer(question):
        if _attributive(question, prohibition, len(question)):
            continue
        predicate.append(prohibition.span())
        negator = _NEGATOR.search(question, 0, prohibition.start())
        if negator is not None:
            predicate.append(negator.span())
        elif not prohibition.group("un"):
            negative = not negative
    for match in _QUESTION_NOT.finditer(question):
        group = next(name for name in ("not", "nt", "permission") if match.group(name))
        a, b = match.span(group)
        if not any(x <= a < y for x, y in predicate):
            negative = not negative
            predicate.append((a, b))
    return negative, predicate


def _allowed(
    text: str,
    clause_start: int,
    clause_end: int,
    acts: list[tuple[int, str]],
    asked: set[str],
    bound_asked: bool,
) -> tuple[bool, bool]:
    """Whether the clause allows the act whose terms stand at `acts`, and whether it bounds a figure (a
    denied "exceed") rather than denying anything."""
    negators, stated = set(), None
    for prohibition in _PROHIBITION.finditer(text, clause_start, clause_end):
        if _attributive(text, prohibition, clause_end):
            continue
        negator = _NEGATOR.search(text, max(clause_start, prohibition.start() - 60), prohibition.start())
        if negator is not None:
            negators.add(negator.start())
        elif not prohibition.group("un") and stated is None:
            stated = prohibition
    bounded, whole, denied_from, carve_from = False, False, None, None
    for cue in _CUE.finditer(text, clause_start, clause_end):
        if cue.group(0).lower() in asked or cue.start() in negators:
            continue
        if not bound_asked and _bounds(text, cue.end(), clause_end):
            bounded = True
            continue
        whole = _PERMITTED.match(text, cue.end(), clause_end) is not None
        denied_from, carve_from = (clause_start if whole else cue.start()), cue.start() + 1
        break
    if stated is not None and (denied_from is None or stated.start() < denied_from):
        whole, denied_from, carve_from = True, clause_start, stated.end()
    positions = [position for position, _ in acts]
    if denied_from is None or not (positions if whole else _denied(text, denied_from, positions)):
        return True, bounded
    carved_from = next((e.start() for e in _EXCEPTION.finditer(text, carve_from, clause_end)), None)
    if carved_from is None:
        return False, bounded
    carved = {term for position, term in acts if position > carved_from}
    return bool(carved - {term for position, term in acts if denied_from <= position < carved_from}), bounded


def _bounds(text: str, cue_end: int, clause_end: int) -> bool:
    """Whether the cue ending at `cue_end` denies a bound: "exceed" or "be more than" follows it within the
    clause, with no comma, "and" or "or" between them."""
    bound = _BOUND.search(text, cue_end, min(clause_end, cue_end + _BOUND_REACH))
    return bound is not None and not re.search(r",|\b(?:and|or)\b", text[cue_end : bound.start()])


def _denied(text: str, cue_start: int, words: list[int]) -> bool:
    """Whether the cue at `cue_start` denies one of the term positions `words`: a "non-" its own word, any
    other cue the rest of the clause after it."""
    if text[cue_start : cue_start + 4].lower() == "non-":
        return any(cue_start + 4 <= position <= cue_start + 5 for position in words)
    return any(position > cue_start for position in words)


def _clauses(text: str, start: int, end: int) -> list[tuple[int, int]]:
    clauses, clause_start = [], start
    for boundary in _CLAUSE_END.finditer(text, start, end):
        if boundary.start() > clause_start:
            clauses.append((clause_start, boundary.start()))
        clause_start = boundary.end()
    if clause_start < end:
        clauses.append((clause_start, end))
    return clauses


def _answer(answer: str, text: str, start: int, end: int) -> Found:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
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


_BARE_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


def _stated_figure(kind: str, number: float, quote: str) -> dict | None:
    """The figure of the column's type `quote` states whose value is `number` (itself or times its scale: 1.5 of
    "$1.5 million", or 1500000), normalised; None when it states none."""
    if kind == "money":
        figures = [
            {"value": figure[0], "unit": figure[1], "scale": figure[2]}
            for _, _, figure in _amounts(quote, 0, len(quote))
            if figure is not None
        ]
        figures += [f for _, f, _, _ in _numbers(quote, 0, len(quote)) if f["unit"] in _CURRENCIES]
    else:
        wanted = "percent" if kind == "percent" else "count"
        figures = [f for _, f, _, _ in _numbers(quote, 0, len(quote)) if f["unit"] == wanted]
    return next(
        (
            figure
            for figure in figures
            if any(
                abs(stated - number) <= 1e-9 * max(1.0, abs(number))
                for stated in (figure["value"], figure["value"] * figure["scale"])
            )
        ),
        None,
    )


def _duration_amount(iso: object) -> tuple[str, float] | None:
    """A duration's amount in months (years, months) or days (weeks, days), so "P3Y" is "P36M"."""
    match = ISO_DURATION.fullmatch(iso) if isinstance(iso, str) else None
    if match is None:
        return None
    amount, unit = float(match.group(1)), match.group(2)
    return (
        ("months", amount * (12 if unit == "Y" else 1))
        if unit in "YM"
        else ("days", amount * (7 if unit == "W" else 1))
    )


def states(column: dict, normalised: object, quote: str) -> bool:
    """Whether `quote` states a value normalised as `normalised` in a column of this type: a date (or its month)
    `quote` holds, a duration of the same length ("36 months" of "three (3) years"), a figure of the same amount
    (12.5 thousand of "$12,500") and currency. Other types are not read from the words, and pass."""
    kind = column["type"]
    if kind == "date":
        return isinstance(normalised, str) and any(d.iso.startswith(normalised) for d in find_dates(quote))
    if kind == "duration":
        wanted = _duration_amount(normalised)
        return wanted is not None and any(
            _duration_amount(iso) == wanted for iso, _, _ in find_durations(quote)
        )
    if kind in _FIGURE_KINDS and isinstance(normalised, dict):
        figure = _stated_figure(kind, normalised["value"] * normalised["scale"], quote)
        return figure is not None and (
            kind != "money" or figure["unit"].split("_")[0] == str(normalised["unit"]).split("_")[0]
        )
    return True


def read_value(column: dict, value: object, quote: object = None) -> tuple[object, object] | None:
    """A value stated for a column (a model's answer) and its normalised form, by the rules the analyzers'
    cells follow: dates, durations and figures read by the column type's finder (the value kept as stated),
    a yes/no as "Yes" or "No", an enum as the choice it names, a party or list column's items; text with its
    whitespace collapsed. A bare number for a money, percent or number column (12500, "99.5") is read by the
    figure of `quote` (the words the value was quoted from) that states it, and a duration may be stated in ISO
    8601 ("P3Y"). None when it holds no value of the column's type."""
    kind = column["type"]
    if kind in ("party", "list"):
        items = _items(value, kind)
        return (items, [item.lower() for item in items]) if items else None
    if isinstance(value, bool):
        return (("Yes", "yes") if value else ("No", "no")) if kind == "yes_no" else None
    if not isinstance(value, str | int | float):
        return None
    text = str(value).strip()
    if not text:
        return None
    if kind in FINDERS:
        found = FINDERS[kind](text, 0, len(text))
        if found is not None:
            return value, found[1]
        if kind == "duration" and ISO_DURATION.fullmatch(text):
            return value, text
        if kind in _FIGURE_KINDS and isinstance(quote, str) and _BARE_NUMBER.fullmatch(text):
            figure = _stated_figure(kind, float(text), quote)
            return None if figure is None else (value, figure)
        return None
    if kind == "yes_no":
        said = re.match(r"(yes|no)\b", text, re.IGNORECASE)
        return None if said is None else (said.group(1).capitalize(), said.group(1).lower())
    if kind == "enum":
        choice = next((c for c in column["choices"] if c.casefold() == text.casefold()), None)
        if choice is None:
            chosen = choose(column["choices"], [(text, 1.0)])
            choice = chosen[0] if chosen else None
        return None if choice is None else (choice, choice.lower())
    return text, " ".join(text.split())


# A party list splits at semicolons, lines, "and", and commas but those before a company form ("Acme, Inc.").
_PARTY_SPLIT = re.compile(
    r"\s*(?:;|\n|\band\b|,(?!\s*(?:inc|ltd|llc|l\.l\.c|lp|l\.p|co|corp|corporation|company|limited|gmbh|s\.a|"
    r"n\.v|b\.v|plc|ag)\b))\s*",
    re.IGNORECASE,
)


def _items(value: object, kind: str) -> list[str]:
    if isinstance(value, list):
        pieces = [item for item in value if isinstance(item, str)]
    elif not isinstance(value, str):
        return []
    elif kind == "party":
        pieces = _PARTY_SPLIT.split(value)
    else:
        found = find_list(value, 0, len(value))
        pieces = found[0] if found else [value]
    return [item for item in (" ".join(piece.split()).strip(" ,;:") for piece in pieces) if item]
