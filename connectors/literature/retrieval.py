"""Dense (all-MiniLM-L6-v2) retrieval re-ranked with BM25 and best-sentence similarity."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy

from connectors.base import Document
from connectors.text import Segment, paper_title, split_abstract_sentences

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
EMBEDDING_DIM = 384
EAGER_SENTENCE_PAPERS = 500


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
    """Paper and sentence embeddings, computed once and only where a query needs them.

    Up to `EAGER_SENTENCE_PAPERS` papers, every sentence is embedded in one batch and a paper's vector is the
    mean of its title and sentence vectors. Past that, a paper's vector is the embedding given in
    `metadata["embedding"]` (384 floats, e.g. stored by the platform) or of its text, and sentences are
    embedded only for the papers a query's first pass ranks highest.
    """

    def __init__(self, documents: list[Document], embed) -> None:
        self.embed = embed
        self.items = []
        for document in documents:
            title = paper_title(document.text, document.metadata)
            body_start = len(title) + 2 if title and document.text.startswith(title) else 0
            self.items.append(
                IndexedDocument(document, title, split_abstract_sentences(document.text, body_start))
            )
        self.vectors = numpy.zeros((len(documents), EMBEDDING_DIM), numpy.float32)
        given = [_given_embedding(document) for document in documents]
        if documents and all(vector is not None for vector in given):
            self.vectors = numpy.stack(given)
        elif len(documents) <= EAGER_SENTENCE_PAPERS:
            self._embed_all_sentences()
        elif documents:
            self.vectors = embed([d.text for d in documents])
        self.bm25 = BM25([d.text for d in documents])

    def _embed_all_sentences(self) -> None:
        texts: list[str] = []
        owners: list[int] = []
        for position, item in enumerate(self.items):
            pieces = ([item.title] if item.title else []) + [sentence.text for sentence in item.sentences]
            texts.extend(pieces)
            owners.extend([position] * len(pieces))
        if not texts:
            return
        vectors = self.embed(texts)
        owner_array = numpy.array(owners, dtype=numpy.int64)
        for position, item in enumerate(self.items):
            rows = vectors[owner_array == position]
            item.sentence_vectors = rows[1:] if item.title else rows
            if len(rows):
                mean = rows.mean(axis=0)
                self.vectors[position] = mean / max(float(numpy.linalg.norm(mean)), 1e-9)

    def sentence_vectors(self, index: int) -> numpy.ndarray:
        item = self.items[index]
        if item.sentence_vectors is None:
            self.prepare_sentences([index])
        return item.sentence_vectors

    def prepare_sentences(self, indices: list[int]) -> None:
        """Embed, in one batch, the sentences of the papers among `indices` that have none yet."""
        pending = [i for i in dict.fromkeys(indices) if self.items[i].sentence_vectors is None]
        texts = [sentence.text for i in pending for sentence in self.items[i].sentences]
        vectors = self.embed(texts) if texts else numpy.zeros((0, EMBEDDING_DIM), numpy.float32)
        cursor = 0
        for i in pending:
            count = len(self.items[i].sentences)
            self.items[i].sentence_vectors = vectors[cursor : cursor + count]
            cursor += count

    def rank(
        self, query: str, query_vector: numpy.ndarray, *, top_k: int = 10, rerank_depth: int = 20
    ) -> list[tuple[int, float]]:
        if not self.items:
            return []
        dense = self.vectors @ query_vector
        lexical = self.bm25.scores(query)
        lexical = lexical / lexical.max() if lexical.max() > 0 else lexical
        candidates = [
            int(i) for i in numpy.argsort(-(dense + LEXICAL_WEIGHT * lexical))[: max(rerank_depth, top_k)]
        ]
        self.prepare_sentences(candidates)
        scored = []
        for index in candidates:
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


def _given_embedding(document: Document) -> numpy.ndarray | None:
    vector = document.metadata.get("embedding")
    if vector is None:
        return None
    array = numpy.asarray(vector, dtype=numpy.float32)
    if array.shape != (EMBEDDING_DIM,):
        raise ValueError(
            f"paper {document.document_id!r}: metadata embedding must have {EMBEDDING_DIM} values"
        )
    return array / max(float(numpy.linalg.norm(array)), 1e-9)
