"""The learned clause model: one logistic-regression head per CUAD category over sparse word and bigram TF-IDF
features of each sentence (plus the words of the sentence before it), with Platt-calibrated confidences; each
category's best sentences re-scored by a second regression over their MiniLM vectors (`SentenceReranker`, the
vectors from the int8 kernel the weights name, as in training).

`connectors.legal.training` builds the weights; this module only loads them (numpy, offline) and scores
sentences. Per category the weights say whether the rules, the model, or both find its clauses (in both mode,
optionally only the rule clauses on whose sentence the model's logit reaches a bar), as chosen by
cross-validation on the training contracts, and whether a model clause is its sentence or the first date in it
(for categories whose labelled spans are mostly bare dates). A presence gate, when the weights have one, then
decides per category whether the contract has it at all from the category's signals and a contract-level
head's logit (boosted trees shared by every category): below its bar the category's clauses are dropped, above a
second bar a category left without a clause gets its best candidate back. One sigmoid then recalibrates the kept
clauses' confidences. Asked for, `suggest` ranks further candidates per category beyond the clauses, with their
own fitted confidences.
"""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from common.licences import ShippedModel
from connectors.dates import find_dates
from connectors.legal.analyzers import Clause, effective_first
from connectors.text import Segment

if TYPE_CHECKING:
    from connectors.base import Embed, RunContext

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
_WORD = re.compile(r"[a-z0-9]+")
_DIGITS = re.compile(r"\d")
MODES = ("rules", "learned", "both")
LOGIT_FLOOR = -15.0
TOP_LOGITS = 3
SIGNALS = TOP_LOGITS + 8
MAX_SUGGESTIONS = 20
RERANK_TOP = 3
RERANK_FLOOR = -1.0
RERANK_KERNEL = "packed"


def sentence_terms(sentence: str, previous: str) -> list[str]:
    """The sparse terms of one sentence: its words and word bigrams, and the words of the sentence before it."""
    words = [_DIGITS.sub("0", w) for w in _WORD.findall(sentence.lower())]
    terms = words + [f"{a} {b}" for a, b in pairwise(words)]
    terms.extend(f"<p>{_DIGITS.sub('0', w)}" for w in _WORD.findall(previous.lower()))
    return terms


def document_terms(sentences: list[str]) -> list[str]:
    """The sparse terms the contract-level heads read: the words and word bigrams of every sentence."""
    return [term for sentence in sentences for term in sentence_terms(sentence, "")]


def term_weights(
    terms: list[str], vocabulary: dict[str, int], idf: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and L2-normalised sublinear TF-IDF values of the terms in the vocabulary."""
    counts: dict[int, int] = {}
    for term in terms:
        column = vocabulary.get(term)
        if column is not None:
            counts[column] = counts.get(column, 0) + 1
    if not counts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    columns = np.fromiter(counts, dtype=np.int64, count=len(counts))
    values = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))) * idf[columns]
    norm = float(np.linalg.norm(values))
    return columns, (values / norm if norm else values).astype(np.float32)


@dataclass(frozen=True)
class CategoryHead:
    mode: str
    threshold: float
    max_clauses: int
    platt: tuple[float, float]
    rule_platt: tuple[float, float]
    date_spans: bool = False
    rule_bar: float | None = None


@dataclass(frozen=True)
class PresenceGate:
    """Whether a contract has a category, from the category's `category_signals` alone: boosted regression trees
    shared by every category (trees by nodes; a leaf's `feature` is -1, a node sends a row left when its feature is
    at most `threshold`), their summed leaf values plus `baseline` a log-odds."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    baseline: float
    drop_below: float
    add_from: float | None

    def probabilities(self, signals: np.ndarray) -> np.ndarray:
        """Per category (a row of `signals`), the probability that the contract has it."""
        trees = np.arange(len(self.feature))
        node = np.zeros((len(signals), len(trees)), dtype=np.int64)
        for _ in range(self.feature.shape[1]):
            feature = self.feature[trees, node]
            inner = feature >= 0
            if not inner.any():
                break
            x = np.take_along_axis(signals, np.maximum(feature, 0), axis=1)
            step = np.where(x <= self.threshold[trees, node], self.left[trees, node], self.right[trees, node])
            node = np.where(inner, step, node)
        return 1.0 / (1.0 + np.exp(-(self.baseline + self.value[trees, node].sum(1))))


def rerank_vectors(texts: list[str], kernel: str | None) -> np.ndarray:
    """The MiniLM vectors the reranker reads, through the int8 `kernel` (None: fp32), in training and at run time."""
    from inference.client import embed_local

    return embed_local(texts, quantized=kernel or False)


@dataclass(frozen=True)
class SentenceReranker:
    """A second opinion on each category's RERANK_TOP best sentences whose logit reaches `floor`: a logistic
    regression per category over the sentence's MiniLM vector (`weights` dimensions by categories, all zero for a
    category without one), its decision value added to the sentence's logit. Sentences below the floor keep their
    logit and are never embedded. `kernel` is the int8 kernel of `inference.embeddings.INT8_KERNELS` the vectors
    come from, in training and at run time alike (None: fp32), named rather than timed per process, so the same
    contract always gets the same clauses."""

    weights: np.ndarray
    bias: np.ndarray
    floor: float = -math.inf
    kernel: str | None = None

    def embed(self, texts: list[str]) -> np.ndarray:
        return rerank_vectors(texts, self.kernel)

    def reranked(self, texts: list[str], logits: np.ndarray, embed: Embed) -> np.ndarray:
        columns = np.flatnonzero(self.weights.any(axis=0))
        if not len(texts) or not len(columns):
            return logits
        top = np.argsort(-logits, axis=0, kind="stable")[:RERANK_TOP, columns]
        chosen = logits[top, columns[None, :]] >= self.floor
        rows = np.unique(top[chosen])
        if not len(rows):
            return logits
        vectors = np.asarray(embed([texts[i] for i in rows]), dtype=np.float32)
        if vectors.shape != (len(rows), len(self.weights)):
            raise ValueError(
                f"the legal reranker reads {len(self.weights)}-d MiniLM vectors, one per sentence; the run's "
                f"embedder gave {vectors.shape} for {len(rows)} sentences"
            )
        adjust = vectors @ self.weights + self.bias
        out = logits.copy()
        for place, column in enumerate(columns):
            picked = top[chosen[:, place], place]
            out[picked, column] += adjust[np.searchsorted(rows, picked), column]
        return out


@dataclass(frozen=True)
class SuggestionScale:
    """A suggestion's confidence: a logistic regression of whether it hits a labelled span on
    `suggestion_features`, with one intercept per category."""

    weights: np.ndarray
    bias: np.ndarray

    def confidence(self, column: int, features: np.ndarray) -> float:
        return calibrated((1.0, float(self.bias[column])), float(features @ self.weights))


def log_odds(probability: float) -> float:
    probability = min(1 - 1e-4, max(1e-4, probability))
    return math.log(probability / (1 - probability))


def suggestion_features(score: float, presence: float, from_rules: bool, rank: int) -> np.ndarray:
    """A candidate's calibrated score and its category's presence probability (both as logits), whether the
    rules found it and its place among its category's suggestions."""
    return np.array(
        [
            log_odds(score),
            log_odds(presence),
            float(from_rules),
            rank / MAX_SUGGESTIONS,
        ]
    )


def category_signals(
    top: np.ndarray, made: int, rules: int, rule_score: float, rule_logit: float, kept: int, document: float
) -> np.ndarray:
    """One category's presence signals: its best model logits, how many model clauses it makes, how many rule
    clauses there are, the best rule confidence, the best model logit on a rule clause's sentence, how many rule
    clauses it keeps, whether it has any clause and the contract-level head's logit."""
    best = np.full(TOP_LOGITS, LOGIT_FLOOR)
    best[: min(TOP_LOGITS, len(top))] = top[:TOP_LOGITS]
    best = np.maximum(np.where(np.isfinite(best), best, LOGIT_FLOOR), LOGIT_FLOOR)
    return np.array(
        [
            *best,
            made,
            math.log1p(rules),
            float(rules > 0),
            rule_score if rules else 0.0,
            max(rule_logit, LOGIT_FLOOR),
            kept,
            float(made + kept > 0),
            document,
        ]
    )


def calibrated(platt: tuple[float, float], score: float) -> float:
    """A raw score (the model's logit, or a rule confidence) mapped through a fitted sigmoid, kept inside (0, 1) at
    three decimals."""
    slope, intercept = platt
    return min(0.999, max(0.001, round(1.0 / (1.0 + math.exp(-(slope * score + intercept))), 3)))


class ClauseModel:
    def __init__(
        self,
        categories: tuple[str, ...],
        vocabulary: dict[str, int],
        idf: np.ndarray,
        weights: np.ndarray,
        bias: np.ndarray,
        heads: dict[str, CategoryHead],
        document_weights: np.ndarray,
        document_bias: np.ndarray,
        presence: PresenceGate | None = None,
        suggestions: SuggestionScale | None = None,
        recalibration: tuple[float, float] | None = None,
        reranker: SentenceReranker | None = None,
    ) -> None:
        self.categories = categories
        self.vocabulary = vocabulary
        self.idf = idf
        self.weights = weights
        self.bias = bias
        self.heads = heads
        self.document_weights = document_weights
        self.document_bias = document_bias
        self.presence = presence
        self.suggestions = suggestions
        self.recalibration = recalibration
        self.reranker = reranker

    def scores(self, sentences: list[str], embed: Embed | None = None) -> np.ndarray:
        """`logits`, each category's best sentences re-scored by the `reranker` when the model has one, on the
        vectors it was trained on (`embed`, by default the reranker's own: `SentenceReranker.embed`)."""
        logits = self.logits(sentences)
        if self.reranker is None:
            return logits
        return self.reranker.reranked(sentences, logits, embed or self.reranker.embed)

    def logits(self, sentences: list[str]) -> np.ndarray:
        """Per sentence, the raw logit of every category (sentences by categories)."""
        out = np.tile(self.bias, (len(sentences), 1))
        previous = ""
        for row, sentence in enumerate(sentences):
            columns, values = term_weights(sentence_terms(sentence, previous), self.vocabulary, self.idf)
            if len(columns):
                out[row] += values @ self.weights[columns]
            previous = sentence
        return out

    def document_logits(self, sentences: list[str]) -> np.ndarray:
        """The contract-level heads' logits, one per category, over the contract's `document_terms`."""
        columns, values = term_weights(document_terms(sentences), self.vocabulary, self.idf)
        return self.document_bias + (values @ self.document_weights[columns] if len(columns) else 0.0)

    def save(self, directory: Path, card: dict) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        terms = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        gate = {}
        if self.presence is not None:
            gate = {
                "presence_feature": self.presence.feature.astype(np.int16),
                "presence_threshold": self.presence.threshold.astype(np.float64),
                "presence_left": self.presence.left.astype(np.int16),
                "presence_right": self.presence.right.astype(np.int16),
                "presence_value": self.presence.value.astype(np.float64),
            }
        if self.recalibration is not None:
            gate["recalibration"] = np.array(self.recalibration, dtype=np.float64)
        if self.suggestions is not None:
            gate["suggestion_weights"] = self.suggestions.weights.astype(np.float32)
            gate["suggestion_bias"] = self.suggestions.bias.astype(np.float32)
        if self.reranker is not None:
            gate["rerank_weights"] = self.reranker.weights.astype(np.float16)
            gate["rerank_bias"] = self.reranker.bias.astype(np.float32)
            gate["rerank_floor"] = np.array(self.reranker.floor, dtype=np.float64)
            gate["rerank_kernel"] = np.array(self.reranker.kernel or "")
        np.savez_compressed(
            directory / "clauses.npz",
            terms=np.array(terms),
            idf=self.idf.astype(np.float16),
            weights=self.weights.astype(np.float16),
            bias=self.bias.astype(np.float32),
            document_weights=self.document_weights.astype(np.float16),
            document_bias=self.document_bias.astype(np.float32),
            **gate,
        )
        meta = {
            "categories": list(self.categories),
            "heads": {
                name: {
                    "mode": head.mode,
                    "threshold": head.threshold,
                    "max_clauses": head.max_clauses,
                    "platt": list(head.platt),
                    "rule_platt": list(head.rule_platt),
                    "date_spans": head.date_spans,
                    "rule_bar": head.rule_bar,
                }
                for name, head in self.heads.items()
            },
            "presence": None
            if self.presence is None
            else {
                "baseline": self.presence.baseline,
                "drop_below": self.presence.drop_below,
                "add_from": self.presence.add_from,
            },
            "card": card,
        }
        (directory / "clauses.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path = WEIGHTS_DIR) -> ClauseModel:
        meta = json.loads((directory / "clauses.json").read_text(encoding="utf-8"))
        with np.load(directory / "clauses.npz") as arrays:
            terms = [str(t) for t in arrays["terms"]]
            idf = arrays["idf"].astype(np.float32)
            weights = arrays["weights"].astype(np.float32)
            bias = arrays["bias"].astype(np.float32)
            document_weights = arrays["document_weights"].astype(np.float32)
            document_bias = arrays["document_bias"].astype(np.float32)
            presence = None
            if meta.get("presence") is not None:
                add_from = meta["presence"]["add_from"]
                presence = PresenceGate(
                    arrays["presence_feature"].astype(np.int64),
                    arrays["presence_threshold"],
                    arrays["presence_left"].astype(np.int64),
                    arrays["presence_right"].astype(np.int64),
                    arrays["presence_value"],
                    float(meta["presence"]["baseline"]),
                    float(meta["presence"]["drop_below"]),
                    None if add_from is None else float(add_from),
                )
            recalibration = None
            if "recalibration" in arrays:
                slope, intercept = (float(v) for v in arrays["recalibration"])
                recalibration = (slope, intercept)
            suggestions = None
            if "suggestion_weights" in arrays:
                suggestions = SuggestionScale(
                    arrays["suggestion_weights"].astype(np.float64),
                    arrays["suggestion_bias"].astype(np.float64),
                )
            reranker = None
            if "rerank_weights" in arrays:
                reranker = SentenceReranker(
                    arrays["rerank_weights"].astype(np.float32),
                    arrays["rerank_bias"].astype(np.float32),
                    float(arrays["rerank_floor"]) if "rerank_floor" in arrays else -math.inf,
                    (str(arrays["rerank_kernel"]) or None) if "rerank_kernel" in arrays else None,
                )
        heads = {
            name: CategoryHead(
                mode=head["mode"],
                threshold=float(head["threshold"]),
                max_clauses=int(head["max_clauses"]),
                platt=(float(head["platt"][0]), float(head["platt"][1])),
                rule_platt=(float(head["rule_platt"][0]), float(head["rule_platt"][1])),
                date_spans=bool(head["date_spans"]),
                rule_bar=None if head.get("rule_bar") is None else float(head["rule_bar"]),
            )
            for name, head in meta["heads"].items()
        }
        vocabulary = {term: index for index, term in enumerate(terms)}
        return cls(
            tuple(meta["categories"]),
            vocabulary,
            idf,
            weights,
            bias,
            heads,
            document_weights,
            document_bias,
            presence,
            suggestions,
            recalibration,
            reranker,
        )


def learned_clauses(model: ClauseModel, sentences: list[Segment], logits: np.ndarray) -> list[Clause]:
    """Per category in learned or both mode, its sentences over the head's threshold (best first, at most
    `max_clauses`), with calibrated confidences; a head with `date_spans` keeps only the first date of a
    sentence that has one."""
    found: list[Clause] = []
    for column, category in enumerate(model.categories):
        head = model.heads[category]
        if head.mode == "rules" or not sentences:
            continue
        scores = logits[:, column]
        chosen = [
            row
            for row in np.argsort(-scores, kind="stable")[: head.max_clauses]
            if scores[row] >= head.threshold
        ]
        for row in chosen:
            start, end = clause_bounds(sentences[row], head.date_spans, category)
            found.append(Clause(category, start, end, calibrated(head.platt, float(scores[row]))))
    return found


def clause_bounds(sentence: Segment, date_spans: bool, category: str = "") -> tuple[int, int]:
    """A model clause's offsets: its sentence, or with `date_spans` the sentence's first date if it has one (for
    the Effective Date, the date the sentence names its effective date, `effective_first`)."""
    dates = find_dates(sentence.text) if date_spans else []
    if dates and category == "Effective Date":
        dates = effective_first(sentence.text, dates)
    if dates:
        return sentence.start + dates[0].start, sentence.start + dates[0].end
    return sentence.start, sentence.end


def overlaps(first: Clause, second: Clause) -> bool:
    return first.start < second.end and second.start < first.end


def sentence_logit(
    sentences: list[Segment], starts: list[int], logits: np.ndarray, column: int, clause: Clause
) -> float:
    """The highest logit of `column` over the sentences (starting at `starts`) that a clause overlaps; -inf when
    it overlaps none."""
    first = max(0, bisect_right(starts, clause.start) - 1)
    rows = range(first, bisect_left(starts, clause.end))
    return max(
        (float(logits[row, column]) for row in rows if sentences[row].end > clause.start), default=-math.inf
    )


def merge(
    model: ClauseModel,
    sentences: list[Segment],
    logits: np.ndarray,
    rule_found: list[Clause],
    learned_found: list[Clause],
) -> list[Clause]:
    """Per category the rules' clauses (calibrated), the model's, or both, as the category's head says. In both
    mode a rule clause needs the model's logit on its sentence to reach the head's `rule_bar` (when it has one),
    and a model clause overlapping a kept rule clause is dropped. The presence gate, when the model has one,
    then drops or restores categories (`apply_presence`)."""
    return merged_with_presence(model, sentences, logits, rule_found, learned_found)[0]


def merged_with_presence(
    model: ClauseModel,
    sentences: list[Segment],
    logits: np.ndarray,
    rule_found: list[Clause],
    learned_found: list[Clause],
    document: np.ndarray | None = None,
) -> tuple[list[Clause], np.ndarray]:
    """`merge`'s clauses, their confidences mapped through the model's `recalibration` when it has one, and per
    category the presence gate's probability (ones without a gate). `document` is the contract-level heads'
    logits, by default `ClauseModel.document_logits` of the sentences (training passes out-of-fold ones)."""
    merged: list[Clause] = []
    kept_rules: dict[str, list[Clause]] = {}
    rule_logits: dict[str, list[tuple[Clause, float]]] = {}
    starts = [s.start for s in sentences]
    for clause in rule_found:
        head = model.heads.get(clause.category)
        if head is None:
            merged.append(clause)
            continue
        column = model.categories.index(clause.category)
        logit = sentence_logit(sentences, starts, logits, column, clause)
        rule_logits.setdefault(clause.category, []).append((clause, logit))
        if head.mode == "rules" or (
            head.mode == "both" and (head.rule_bar is None or logit >= head.rule_bar)
        ):
            clause = Clause(
                clause.category, clause.start, clause.end, calibrated(head.rule_platt, clause.confidence)
            )
            kept_rules.setdefault(clause.category, []).append(clause)
            merged.append(clause)
    for clause in learned_found:
        if not any(overlaps(clause, other) for other in kept_rules.get(clause.category, [])):
            merged.append(clause)
    probability = np.ones(len(model.categories))
    if model.presence is not None:
        if document is None:
            document = model.document_logits([s.text for s in sentences])
        probability = presence_probability(
            model, model.presence, logits, document, rule_logits, learned_found, kept_rules
        )
        merged = apply_presence(model, model.presence, probability, sentences, logits, rule_logits, merged)
    if model.recalibration is not None:
        merged = [
            replace(c, confidence=calibrated(model.recalibration, log_odds(c.confidence))) for c in merged
        ]
    return merged, probability


def presence_probability(
    model: ClauseModel,
    presence: PresenceGate,
    logits: np.ndarray,
    document: np.ndarray,
    rule_logits: dict[str, list[tuple[Clause, float]]],
    learned_found: list[Clause],
    kept_rules: dict[str, list[Clause]],
) -> np.ndarray:
    """Per category, the gate's probability that the contract has it."""
    made: dict[str, int] = {}
    for clause in learned_found:
        made[clause.category] = made.get(clause.category, 0) + 1
    signals = []
    for column, category in enumerate(model.categories):
        ruled = rule_logits.get(category, [])
        signals.append(
            category_signals(
                -np.sort(-logits[:, column])[:TOP_LOGITS],
                made.get(category, 0),
                len(ruled),
                max((c.confidence for c, _ in ruled), default=0.0),
                max((logit for _, logit in ruled), default=-math.inf),
                len(kept_rules.get(category, [])),
                float(document[column]),
            )
        )
    return presence.probabilities(np.array(signals))


def apply_presence(
    model: ClauseModel,
    presence: PresenceGate,
    probability: np.ndarray,
    sentences: list[Segment],
    logits: np.ndarray,
    rule_logits: dict[str, list[tuple[Clause, float]]],
    merged: list[Clause],
) -> list[Clause]:
    """The presence gate: a category whose presence `probability` is under `drop_below` loses its clauses; one
    with no clause (not in rules mode) whose probability reaches `add_from` gets its rule clause with the best
    model logit on its sentence, or when the rules found none, the model's best sentence."""
    dropped = {c for column, c in enumerate(model.categories) if probability[column] < presence.drop_below}
    out = [clause for clause in merged if clause.category not in dropped]
    if presence.add_from is None:
        return out
    found = {clause.category for clause in out}
    for column, category in enumerate(model.categories):
        head = model.heads[category]
        if category in found or head.mode == "rules" or probability[column] < presence.add_from:
            continue
        ruled = rule_logits.get(category, [])
        if ruled:
            best = max(ruled, key=lambda pair: pair[1])[0]
            out.append(Clause(category, best.start, best.end, calibrated(head.rule_platt, best.confidence)))
        elif sentences:
            row = int(np.argmax(logits[:, column]))
            start, end = clause_bounds(sentences[row], head.date_spans, category)
            out.append(Clause(category, start, end, calibrated(head.platt, float(logits[row, column]))))
    return out


def candidates(
    model: ClauseModel,
    sentences: list[Segment],
    logits: np.ndarray,
    rule_found: list[Clause],
    clauses: list[Clause],
    probability: np.ndarray,
    per_category: int,
) -> list[tuple[Clause, np.ndarray]]:
    """Per category, up to `per_category` candidates that `clauses` leave out, with their
    `suggestion_features`: its rule clauses and (outside rules mode) the model's sentences, taken by calibrated
    score times the category's presence `probability`, each overlapping none of the category's clauses nor a
    candidate before it. The confidence of each is that product."""
    chosen: dict[str, list[Clause]] = {}
    for clause in clauses:
        chosen.setdefault(clause.category, []).append(clause)
    out: list[tuple[Clause, np.ndarray]] = []
    for column, category in enumerate(model.categories):
        head = model.heads[category]
        present = float(probability[column])
        found = [
            (calibrated(head.rule_platt, c.confidence), c.start, c.end, True)
            for c in rule_found
            if c.category == category
        ]
        if head.mode != "rules":
            scores = logits[:, column]
            for row in np.argsort(-scores, kind="stable")[: per_category + len(chosen.get(category, []))]:
                start, end = clause_bounds(sentences[row], head.date_spans, category)
                found.append((calibrated(head.platt, float(scores[row])), start, end, False))
        taken = list(chosen.get(category, []))
        rank = 0
        for score, start, end, from_rules in sorted(found, key=lambda c: -c[0]):
            if rank == per_category:
                break
            candidate = Clause(category, start, end, round(score * present, 3))
            if not any(overlaps(candidate, other) for other in taken):
                taken.append(candidate)
                out.append((candidate, suggestion_features(score, present, from_rules, rank)))
                rank += 1
    return out


def suggest(model: ClauseModel, found: list[tuple[Clause, np.ndarray]]) -> list[Clause]:
    """The `candidates` with their confidences from the model's `SuggestionScale` (the chance of a hit, on the
    clauses' scale, so one ranked list holds every category's clauses and suggestions, as CUAD ranks its
    answers), most confident first per category."""
    scale = model.suggestions
    out = [
        c if scale is None else replace(c, confidence=scale.confidence(model.categories.index(c.category), x))
        for c, x in found
    ]
    return sorted(out, key=lambda c: (model.categories.index(c.category), -c.confidence))


def combine(
    model: ClauseModel, sentences: list[Segment], rule_found: list[Clause], suggestions: int = 0
) -> tuple[list[Clause], list[Clause]]:
    """The contract's clauses with the model (what `merge` keeps of the rules' and the model's) and, with
    `suggestions`, up to that many further candidates per category (`suggest`)."""
    logits = model.scores([s.text for s in sentences])
    clauses, probability = merged_with_presence(
        model, sentences, logits, rule_found, learned_clauses(model, sentences, logits)
    )
    if not suggestions:
        return clauses, []
    return clauses, suggest(
        model, candidates(model, sentences, logits, rule_found, clauses, probability, suggestions)
    )


def provenance() -> ShippedModel:
    return ShippedModel(
        key="legal-clauses",
        purpose="CUAD clause presence and spans: a sentence classifier per category, a reranker of its best "
        "sentences on their MiniLM vectors and a presence gate per contract, beside the rules",
        connectors=("legal", "review"),
        data="CUAD v1 (The Atticus Project), official train split",
        licences=("CC BY 4.0",),
        weights=WEIGHTS_DIR / "clauses.npz",
        non_commercial=False,
        fallback="the rules alone",
    )


@lru_cache(maxsize=1)
def read_shipped() -> ClauseModel:
    """The model in `weights/`, read once per process."""
    return ClauseModel.load(WEIGHTS_DIR)


def shipped_model() -> ClauseModel | None:
    """The model in `weights/`, or None when the package ships without it or the deployment withholds it (asked
    on every call, so a changed licence setting holds at once)."""
    return read_shipped() if provenance().loaded else None


def run_model(run: RunContext) -> ClauseModel | None:
    """`shipped_model()` for a connector run, which records in its `context.models` that it asked for it."""
    return shipped_model() if run.use_model(provenance()) else None
