"""Dense (all-MiniLM-L6-v2) retrieval re-ranked with BM25 and best-sentence similarity."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy

from connectors.base import Document
from connectors.text import Segment, split_sentences

_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "and",
        "or",
        "in",
        "on",
        "for",
        "to",
        "with",
        "by",
        "from",
        "at",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "that",
        "this",
        "these",
        "those",
        "it",
        "its",
        "into",
        "than",
        "then",
        "there",
        "their",
        "which",
        "who",
        "whom",
        "whose",
        "what",
        "when",
        "where",
        "how",
        "not",
        "no",
        "can",
        "may",
        "might",
        "will",
        "would",
        "should",
        "could",
        "has",
        "have",
        "had",
        "do",
        "does",
        "did",
        "we",
        "our",
        "us",
        "they",
        "them",
        "he",
        "she",
        "his",
        "her",
        "also",
        "such",
        "both",
        "between",
        "within",
        "after",
        "before",
        "over",
        "under",
        "more",
        "most",
        "less",
        "least",
    ]
)
DENSE_WEIGHT, SENTENCE_WEIGHT, LEXICAL_WEIGHT = 0.5, 0.3, 0.2


def content_words(text: str) -> list[str]:
    return [
        w for w in re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", text.lower()) if w not in _STOPWORDS and len(w) > 1
    ]


@dataclass
class IndexedDocument:
    document: Document
    title: str
    sentences: list[Segment]
    sentence_vectors: numpy.ndarray | None = None


class BM25:
    def __init__(self, texts: list[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.terms = [Counter(content_words(text)) for text in texts]
        self.lengths = [sum(t.values()) for t in self.terms]
        self.average_length = sum(self.lengths) / max(1, len(self.lengths)) or 1.0
        frequencies: Counter[str] = Counter()
        for terms in self.terms:
            frequencies.update(terms.keys())
        count = len(texts)
        self.idf = {term: math.log(1 + (count - df + 0.5) / (df + 0.5)) for term, df in frequencies.items()}

    def scores(self, query: str) -> numpy.ndarray:
        words = set(content_words(query))
        result = numpy.zeros(len(self.terms), dtype=numpy.float32)
        for index, terms in enumerate(self.terms):
            norm = self.k1 * (1 - self.b + self.b * self.lengths[index] / self.average_length)
            result[index] = sum(
                self.idf[w] * terms[w] * (self.k1 + 1) / (terms[w] + norm) for w in words if w in terms
            )
        return result


class CorpusIndex:
    """Sentence embeddings of every paper (one batched pass); a paper's vector is its sentences' mean."""

    def __init__(self, documents: list[Document], embed) -> None:
        self.items = []
        texts: list[str] = []
        owners: list[int] = []
        for position, document in enumerate(documents):
            title = str(document.metadata.get("title") or "")
            body_start = len(title) + 2 if title and document.text.startswith(title) else 0
            sentences = split_sentences(document.text, body_start)
            self.items.append(IndexedDocument(document, title, sentences))
            pieces = [title] if title else []
            pieces += [sentence.text for sentence in sentences]
            texts.extend(pieces)
            owners.extend([position] * len(pieces))
        vectors = embed(texts) if texts else numpy.zeros((0, 384), numpy.float32)
        self.vectors = numpy.zeros((len(documents), vectors.shape[1] if len(vectors) else 384), numpy.float32)
        owner_array = numpy.array(owners, dtype=numpy.int64)
        for position, item in enumerate(self.items):
            rows = vectors[owner_array == position] if len(owners) else vectors[:0]
            offset = 1 if item.title else 0
            item.sentence_vectors = rows[offset:]
            if len(rows):
                mean = rows.mean(axis=0)
                self.vectors[position] = mean / max(float(numpy.linalg.norm(mean)), 1e-9)
        self.bm25 = BM25([d.text for d in documents])

    def sentence_vectors(self, index: int) -> numpy.ndarray:
        vectors = self.items[index].sentence_vectors
        return vectors if vectors is not None else numpy.zeros((0, self.vectors.shape[1]), numpy.float32)

    def rank(self, query: str, query_vector: numpy.ndarray, *, top_k: int = 10) -> list[tuple[int, float]]:
        if not self.items:
            return []
        dense = self.vectors @ query_vector
        lexical = self.bm25.scores(query)
        lexical = lexical / lexical.max() if lexical.max() > 0 else lexical
        scored = []
        for index in range(len(self.items)):
            sentences = self.sentence_vectors(index)
            best_sentence = float((sentences @ query_vector).max()) if len(sentences) else float(dense[index])
            score = (
                DENSE_WEIGHT * float(dense[index])
                + SENTENCE_WEIGHT * best_sentence
                + LEXICAL_WEIGHT * float(lexical[index])
            )
            scored.append((index, round(score, 4)))
        scored.sort(key=lambda pair: -pair[1])
        return scored[:top_k]
