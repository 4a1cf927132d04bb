"""Passages for a question: the document's sentences scored by the question's terms (weighted by how rare
each is in the document) and, when the platform hands over the document's embedded chunks, by the cosine
of the chunk around the sentence with the question."""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from common.scripts import CJK, CJK_CHARACTER
from connectors.text import split_sentences

SENTENCE_CHARS = 700
LEXICAL_WEIGHT = 0.65
_WORD = re.compile(r"[^\W_]+")
_CJK_RUN = re.compile(f"[{CJK}]+")
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "in",
        "is",
        "it",
        "its",
        "many",
        "much",
        "of",
        "on",
        "or",
        "shall",
        "should",
        "that",
        "the",
        "their",
        "there",
        "this",
        "to",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "whose",
        "why",
        "will",
        "with",
        "would",
        "any",
        "all",
        "such",
        "than",
        "then",
        "these",
        "those",
        "into",
        "under",
        "over",
        "about",
        "after",
        "before",
        "per",
        "there",
    ]
)
QUESTION_WORDS = frozenset(
    ["contract", "agreement", "document", "company", "paper", "study", "clause", "section"]
)


def stems(text: str) -> list[str]:
    """Content words of `text` (letters and digits of any script), lower-cased, an English plural folded to its
    singular and cut to six characters (a crude, language-light stem); in Chinese, Japanese and Korean,
    written without spaces, each two characters running together (`word_terms`)."""
    return [term for word in _WORD.findall(text.lower()) for _, term in word_terms(word)]


def word_terms(word: str) -> Iterator[tuple[int, str]]:
    """The terms of one lower-cased run of letters and digits, each with where it starts in the run: the run,
    its plural folded (`_singular`), cut to six characters (none for a stopword); a run of CJK characters, a
    whole clause rather than a word, gives each two characters in a row (one character alone gives itself),
    and what the run holds of other scripts gives words as above ("acme公司": "acme", "公司")."""
    if CJK_CHARACTER.search(word) is None:
        yield from _plain_terms(word, 0, len(word))
        return
    at = 0
    for run in _CJK_RUN.finditer(word):
        yield from _plain_terms(word, at, run.start())
        if run.end() - run.start() == 1:
            yield run.start(), run.group(0)
        for offset in range(run.start(), run.end() - 1):
            yield offset, word[offset : offset + 2]
        at = run.end()
    yield from _plain_terms(word, at, len(word))


def _plain_terms(word: str, start: int, end: int) -> Iterator[tuple[int, str]]:
    piece = word[start:end]
    if piece and piece not in STOPWORDS:
        yield start, _singular(piece)[:6]


def _singular(word: str) -> str:
    """An English plural folded to its singular, lightly: "parties" is "party", "taxes" "tax", "breaches"
    "breach", "fees" "fee"; a word of three letters or fewer, or ending "ss", "us" or "is" ("address",
    "status", "analysis"), stays."""
    if len(word) <= 3 or not word.endswith("s") or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("xes", "ches", "shes", "sses")):
        return word[:-2]
    return word[:-1]


def query_terms(question: str) -> list[str]:
    return list(dict.fromkeys(t for t in stems(question) if t not in QUESTION_WORDS))


@dataclass(frozen=True)
class Passage:
    start: int
    end: int
    score: float
    lexical: float
    semantic: float | None


class DocumentIndex:
    """One document's sentences, their terms and (when given) the embedded chunk each sentence sits in."""

    def __init__(self, text: str, chunks: list[tuple[int, int]] | None = None, vectors=None):
        self.text = text
        self.sentences = split_sentences(text, max_chars=SENTENCE_CHARS)
        self.terms = [frozenset(stems(s.text)) for s in self.sentences]
        frequency = Counter(term for terms in self.terms for term in terms)
        total = max(1, len(self.sentences))
        self.idf = {term: math.log(1 + total / count) for term, count in frequency.items()}
        self.unseen_idf = math.log(1 + total)
        self.vectors = vectors if chunks and vectors is not None and len(vectors) == len(chunks) else None
        self.sentence_chunk: list[int] = []
        if self.vectors is not None:
            starts = [start for start, _ in chunks]
            self.sentence_chunk = [max(0, bisect.bisect_right(starts, s.start) - 1) for s in self.sentences]

    def rank(self, terms: list[str], vector=None, *, limit: int = 8) -> list[Passage]:
        """The best `limit` sentences for a question's terms (and its vector), best first; none score zero."""
        weights = {term: self.idf.get(term, self.unseen_idf) for term in terms}
        total = sum(weights.values())
        chunk_scores = None
        if vector is not None and self.vectors is not None:
            chunk_scores = self.vectors @ vector
        passages: list[Passage] = []
        for index, sentence in enumerate(self.sentences):
            have = self.terms[index]
            lexical = sum(w for term, w in weights.items() if term in have) / total if total else 0.0
            semantic = None
            score = lexical
            if chunk_scores is not None:
                semantic = float(chunk_scores[self.sentence_chunk[index]])
                score = LEXICAL_WEIGHT * lexical + (1 - LEXICAL_WEIGHT) * max(0.0, semantic)
            if lexical > 0:
                passages.append(Passage(sentence.start, sentence.end, round(score, 4), lexical, semantic))
        passages.sort(key=lambda p: (-p.score, p.start))
        return passages[:limit]
