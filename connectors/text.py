"""Text normalisation and segmentation with offsets into the normalised text."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from common.scripts import CJK_CLOSERS, CJK_SENTENCE_ENDS

_ABBREVIATIONS = {
    "inc",
    "corp",
    "co",
    "ltd",
    "llc",
    "no",
    "nos",
    "mr",
    "mrs",
    "ms",
    "dr",
    "st",
    "sec",
    "secs",
    "art",
    "vs",
    "v",
    "e.g",
    "i.e",
    "etc",
    "approx",
    "fig",
    "al",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "u.s",
    "n.a",
    "p",
    "pp",
    "l.p",
    "s.a",
    "jr",
    "sr",
    "dept",
    "ave",
    "u.k",
}
_SENTENCE_END = re.compile(
    r"[.!?;:](?:[\"')\]]*)\s+|\n\s*\n|\n(?=\s*(?:\(?[0-9ivxIVX]{1,4}[.)]|[A-Z][A-Z ]{3,}\n))"
    f"|[{CJK_SENTENCE_ENDS}][{CJK_CLOSERS}\"')\\]]*\\s*"
)


@dataclass(frozen=True)
class Segment:
    start: int
    end: int
    text: str


def normalise_text(raw: str) -> str:
    """The document text that every offset refers to: Unix newlines, no NULs or form feeds, then NFC (so a
    letter and the accent a NUL stood between compose, and the text normalises to itself)."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").replace("\x0c", "\n")
    return unicodedata.normalize("NFC", text)


def _ends_with_abbreviation(text: str, stop: int) -> bool:
    if text[stop - 1] != ".":
        return False
    word_start = stop - 1
    while word_start > 0 and not text[word_start - 1].isspace() and text[word_start - 1] not in "(\"'":
        word_start -= 1
    word = text[word_start : stop - 1].lower().lstrip("_")
    if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
        return True
    return bool(re.fullmatch(r"\d{1,2}(\.\d{1,2})*", word))


def split_sentences(
    text: str, start: int = 0, end: int | None = None, *, max_chars: int = 1500
) -> list[Segment]:
    """Sentences of `text[start:end]` with offsets into `text`, stripped of surrounding whitespace."""
    end = len(text) if end is None else end
    segments: list[Segment] = []
    cursor = start
    region = text[start:end]
    for match in _SENTENCE_END.finditer(region):
        stop = start + match.start() + 1
        if region[match.start()] in ".!?;:" and _ends_with_abbreviation(text, stop):
            continue
        if region[match.start()] == ":" and not region[match.start() : match.end()].count("\n"):
            continue
        _append(segments, text, cursor, start + match.end(), max_chars)
        cursor = start + match.end()
    _append(segments, text, cursor, end, max_chars)
    return segments


def _append(segments: list[Segment], text: str, start: int, end: int, max_chars: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start >= end:
        return
    while end - start > max_chars:
        cut = text.rfind(" ", start, start + max_chars)
        cut = cut if cut > start else start + max_chars
        segments.append(Segment(start, cut, text[start:cut]))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if start < end:
        segments.append(Segment(start, end, text[start:end]))


# How far back from a period its word is looked for: a word ends a sentence or not by its last characters.
_WORD_WINDOW = 64
_ABSTRACT_END = re.compile(r"[.!?][\"')\]]*\s+|\n\s*\n")
_ABSTRACT_ABBREVIATIONS = frozenset(
    [
        "e.g",
        "i.e",
        "vs",
        "al",
        "approx",
        "ca",
        "cf",
        "fig",
        "Fig",
        "figs",
        "Figs",
        "U.S",
        "U.K",
        "Inc",
        "St",
        "Dr",
    ]
)


def _abstract_sentence_ends(text: str, stop: int, following: int) -> bool:
    """Whether the period at `stop - 1` ends a sentence of an abstract, the next sentence starting at `following`."""
    if text[stop - 1] != ".":
        return True
    before_stop = text[max(0, stop - 1 - _WORD_WINDOW) : stop - 1]
    word = before_stop.rsplit(None, 1)[-1].lstrip("([") if before_stop.strip() else ""
    next_lower = following < len(text) and text[following].islower()
    if (
        word in _ABSTRACT_ABBREVIATIONS
        or (len(word) == 1 and word.isupper())
        or (next_lower and len(word) <= 3)
    ):
        return False
    if len(word) == 1 and word.isalpha():
        before = before_stop[: len(before_stop) - len(word)].rsplit(None, 1)
        return bool(before) and before[-1][-1].isdigit()
    return not (word.isdigit() and following < len(text) and text[following].isdigit())


# A paper's first paragraph is its title (CONNECTORS.md: a paper's text is `title + "\n\n" + abstract`) when it is
# one line of at most this many characters.
TITLE_MAX_CHARS = 300


def paper_title(text: str, metadata: dict) -> str:
    """A paper's title: its metadata's `title` where it has that key (a corpus line's, empty where the paper has
    none); else its first paragraph, where that is one line of at most TITLE_MAX_CHARS that ends no sentence with
    a period and an abstract follows it (a paper uploaded as `title + "\n\n" + abstract`)."""
    if "title" in metadata:
        return str(metadata.get("title") or "")
    first, gap, rest = text.partition("\n\n")
    if not gap or not rest.strip() or "\n" in first or not first.strip():
        return ""
    if len(first) > TITLE_MAX_CHARS or first.rstrip().endswith("."):
        return ""
    return first


def split_abstract_sentences(text: str, start: int = 0, *, max_chars: int = 1500) -> list[Segment]:
    """Sentences of a scientific abstract as SciFact numbers them: split at `.`, `!`, `?` or a blank line (never at
    `;` or `:`), not after a genus or an initial ("E. coli"), "e.g.", "vs." or "et al.", but after an upper-case
    acronym ("ART.") or a unit after a number ("48 h.")."""
    segments: list[Segment] = []
    cursor = start
    for match in _ABSTRACT_END.finditer(text, start):
        if _abstract_sentence_ends(text, match.start() + 1, match.end()):
            _append(segments, text, cursor, match.end(), max_chars)
            cursor = match.end()
    _append(segments, text, cursor, len(text), max_chars)
    return segments


def split_paragraphs(text: str) -> list[Segment]:
    """Blocks separated by blank lines (or single lines when the text has no blank lines)."""
    separator = re.compile(r"\n\s*\n") if re.search(r"\n\s*\n", text) else re.compile(r"\n")
    segments: list[Segment] = []
    cursor = 0
    for match in separator.finditer(text):
        _append(segments, text, cursor, match.start(), 10**9)
        cursor = match.end()
    _append(segments, text, cursor, len(text), 10**9)
    return segments
