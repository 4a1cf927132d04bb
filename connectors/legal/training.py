"""`python -m connectors train legal --data DIR`: rebuilds `connectors/legal/weights/` from labelled contracts.

DIR is laid out as `tests/data` is (`cuad/labels.jsonl`, `cuad/contracts/<document_id>.txt`); `python -m
connectors prepare legal` (`cuad_data.py`) builds it from CUAD's official train split. Only rows of the `dev`
split are read, and of those none whose CUAD file is in CUAD's official test split (`cuad_test_split.txt`) or
is a held-out contract. Per category the choice between the rules, the model and both, the model's threshold,
the bar a rule clause must reach on the model's logit in both mode and the calibration of every confidence are
made by cross-validation over the training contracts (grouped by contract); the same choices made without the
scored fold's labels (cross-fitted, and on small sets nested cross-validation) measure the procedure honestly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from connectors.dates import find_dates
from connectors.evaluation import (
    SPAN_HIT_JACCARD,
    average_precision,
    calibration_error,
    first_hits,
    precision_at_recall,
)
from connectors.legal.analyzers import Clause, find_rule_clauses
from connectors.legal.categories import CUAD_CATEGORIES
from connectors.legal.learned import (
    MAX_SUGGESTIONS,
    MODES,
    RERANK_FLOOR,
    RERANK_KERNEL,
    RERANK_TOP,
    TOP_LOGITS,
    WEIGHTS_DIR,
    CategoryHead,
    ClauseModel,
    PresenceGate,
    SentenceReranker,
    SuggestionScale,
    candidates,
    category_signals,
    clause_bounds,
    document_terms,
    learned_clauses,
    log_odds,
    merged_with_presence,
    overlaps,
    rerank_vectors,
    sentence_logit,
    sentence_terms,
    suggest,
    term_weights,
)
from connectors.spans import token_jaccard
from connectors.text import Segment, split_sentences

TRAIN_SPLIT = "dev"
TEST_SPLIT_FILE = Path(__file__).resolve().parent / "cuad_test_split.txt"
# CUAD v1's official test split (the 102 titles of test.json, as CUAD file names); never trained or tuned on.
CUAD_TEST_SPLIT = frozenset(
    line.strip() for line in TEST_SPLIT_FILE.read_text(encoding="utf-8").splitlines() if line.strip()
)
HELDOUT_LABELS = Path(__file__).resolve().parents[2] / "tests" / "data" / "cuad" / "labels.jsonl"
HIT_JACCARD = SPAN_HIT_JACCARD
MIN_DOCUMENT_FREQUENCY = 2
MAX_VOCABULARY = 30_000
REGULARISATION = 4.0
DOCUMENT_REGULARISATION = 10.0
RERANK_REGULARISATION = 3.0
FOLDS = 4
MIN_POSITIVE_CONTRACTS = 2
MODEL_CONTRACTS = FOLDS
DATE_SPAN_SHARE = 0.5
NESTED_CONTRACTS = 2 * FOLDS
NESTED_MAX_CONTRACTS = 100
THRESHOLDS = tuple(round(-4.0 + 0.25 * step, 2) for step in range(33))
LEARNED_MAX_CLAUSES = 8
RULE_BARS = tuple(float(bar) for bar in range(-8, 5))
SPAN_BETA = 1.6
GATE_TREES = 200
GATE_DEPTH = 3
GATE_RATE = 0.05
GATE_LEAF = 20
DROP_BARS = tuple(round(0.05 * step, 2) for step in range(19))
ADD_BARS = (None, *(round(0.1 * step, 1) for step in range(3, 10)))
OVERALL = "all (cross-validated, chosen per category)"
NESTED = "all (nested cross-validation)"
CROSS_FITTED = "all (cross-fitted choices)"


@dataclass
class Contract:
    document_id: str
    source_file: str
    text: str
    sentences: list[Segment]
    rules: list[Clause]
    gold: dict[str, list[str]]
    positive: np.ndarray = field(default_factory=lambda: np.zeros(0))
    matches: dict[tuple[str, int, int], tuple[float, int]] = field(default_factory=dict)


def _rows(labels: Path) -> list[dict]:
    return [json.loads(line) for line in labels.read_text(encoding="utf-8").splitlines() if line.strip()]


def heldout_contracts(labels: Path = HELDOUT_LABELS) -> frozenset[str]:
    """The CUAD file names of the `heldout` rows of a labels file (by default that of tests/data)."""
    return frozenset(row["source_file"] for row in _rows(labels) if row["split"] == "heldout")


def excluded_files(data: Path) -> frozenset[str]:
    """CUAD file names never trained on: the official test split and every `heldout` contract of DIR and of
    the repository's tests/data."""
    files = (data / "cuad" / "labels.jsonl", HELDOUT_LABELS)
    return CUAD_TEST_SPLIT.union(*(heldout_contracts(labels) for labels in files if labels.exists()))


def read_contracts(data: Path) -> list[Contract]:
    """The training contracts of DIR: the `dev` rows, less CUAD's official test split and any held-out
    contract (matched by CUAD file name)."""
    excluded = excluded_files(data)
    contracts = []
    for row in _rows(data / "cuad" / "labels.jsonl"):
        if row["split"] != TRAIN_SPLIT or row["source_file"] in excluded:
            continue
        text = (data / "cuad" / "contracts" / f"{row['document_id']}.txt").read_text(encoding="utf-8")
        sentences = split_sentences(text)
        gold = {c: [g for g in row["clauses"].get(c, []) if g.strip()] for c in CUAD_CATEGORIES}
        contract = Contract(row["document_id"], row["source_file"], text, sentences, [], gold)
        contract.rules = find_rule_clauses(text, sentences)[0]
        contract.positive = _sentence_labels(contract)
        contracts.append(contract)
    return contracts


def _gold_pieces(text: str, gold: str) -> list[tuple[int, int]]:
    pieces = []
    for piece in gold.split("<omitted>"):
        piece = piece.strip()
        start = text.find(piece) if len(piece) >= 3 else -1
        if start >= 0:
            pieces.append((start, start + len(piece)))
    return pieces


def _sentence_labels(contract: Contract) -> np.ndarray:
    """Sentences by categories: 1 where a labelled span covers half the sentence or half of itself lies in it."""
    labels = np.zeros((len(contract.sentences), len(CUAD_CATEGORIES)), dtype=np.int8)
    for column, category in enumerate(CUAD_CATEGORIES):
        for gold in contract.gold[category]:
            for start, end in _gold_pieces(contract.text, gold):
                for row, sentence in enumerate(contract.sentences):
                    overlap = min(end, sentence.end) - max(start, sentence.start)
                    if overlap > 0 and (
                        overlap >= 0.5 * (sentence.end - sentence.start) or overlap >= 0.5 * (end - start)
                    ):
                        labels[row, column] = 1
    return labels


def _vocabulary(contracts: list[Contract]) -> tuple[dict[str, int], np.ndarray]:
    frequency: dict[str, int] = {}
    sentences = 0
    for contract in contracts:
        previous = ""
        for sentence in contract.sentences:
            for term in set(sentence_terms(sentence.text, previous)):
                frequency[term] = frequency.get(term, 0) + 1
            previous = sentence.text
            sentences += 1
    frequent = sorted(
        (t for t, n in frequency.items() if n >= MIN_DOCUMENT_FREQUENCY), key=lambda t: (-frequency[t], t)
    )
    terms = sorted(frequent[:MAX_VOCABULARY])
    idf = np.array([math.log((1 + sentences) / (1 + frequency[t])) + 1 for t in terms], dtype=np.float32)
    return {t: i for i, t in enumerate(terms)}, idf


def _term_matrix(rows: Iterable[list[str]], vocabulary: dict[str, int], idf: np.ndarray):
    """One sparse row of `term_weights` per list of terms."""
    from scipy.sparse import csr_matrix

    indptr, indices, data = [0], [], []
    for terms in rows:
        columns, values = term_weights(terms, vocabulary, idf)
        indices.extend(columns.tolist())
        data.extend(values.tolist())
        indptr.append(len(indices))
    return csr_matrix((data, indices, indptr), shape=(len(indptr) - 1, len(vocabulary)), dtype=np.float32)


def _features(contracts: list[Contract], vocabulary: dict[str, int], idf: np.ndarray):
    """One row per sentence of every contract: its `sentence_terms`, as `ClauseModel.logits` reads them."""
    texts = [[s.text for s in contract.sentences] for contract in contracts]
    return _term_matrix(
        (
            sentence_terms(text, previous)
            for sentences in texts
            for previous, text in zip(["", *sentences[:-1]], sentences, strict=True)
        ),
        vocabulary,
        idf,
    )


def _document_features(contracts: list[Contract], vocabulary: dict[str, int], idf: np.ndarray):
    """One row per contract: its `document_terms`, as `ClauseModel.document_logits` reads them."""
    return _term_matrix(
        (document_terms([s.text for s in contract.sentences]) for contract in contracts), vocabulary, idf
    )


def _fit(contracts: list[Contract]) -> ClauseModel:
    """Logistic-regression heads over the contracts' sentences (every head in `learned` mode), and per category a
    contract-level head of whether the contract has it."""
    from sklearn.linear_model import LogisticRegression

    vocabulary, idf = _vocabulary(contracts)
    features = _features(contracts, vocabulary, idf)
    documents = _document_features(contracts, vocabulary, idf)
    labels = np.vstack([c.positive for c in contracts])
    present = np.array([[bool(c.gold[category]) for category in CUAD_CATEGORIES] for c in contracts])
    weights = np.zeros((len(vocabulary), len(CUAD_CATEGORIES)), dtype=np.float32)
    bias = np.full(len(CUAD_CATEGORIES), -10.0, dtype=np.float32)
    document_weights = np.zeros_like(weights)
    document_bias = np.zeros(len(CUAD_CATEGORIES), dtype=np.float32)
    for column in range(len(CUAD_CATEGORIES)):
        has = present[:, column]
        if has.all() or not has.any():
            document_bias[column] = _smoothed_log_odds(int(has.sum()), len(has))
        else:
            head = LogisticRegression(
                C=DOCUMENT_REGULARISATION, class_weight="balanced", solver="liblinear", random_state=0
            )
            head.fit(documents, has)
            document_weights[:, column] = head.coef_[0]
            document_bias[column] = head.intercept_[0]
        positive_contracts = sum(1 for c in contracts if c.positive[:, column].any())
        if positive_contracts < MIN_POSITIVE_CONTRACTS:
            continue
        head = LogisticRegression(
            C=REGULARISATION, class_weight="balanced", solver="liblinear", random_state=0
        )
        head.fit(features, labels[:, column])
        weights[:, column] = head.coef_[0]
        bias[column] = head.intercept_[0]
    heads = {
        category: CategoryHead("learned", 0.0, LEARNED_MAX_CLAUSES, (1.0, 0.0), (1.0, 0.0))
        for category in CUAD_CATEGORIES
    }
    return ClauseModel(
        CUAD_CATEGORIES, vocabulary, idf, weights, bias, heads, document_weights, document_bias
    )


def _hits(contract: Contract, clauses: list[Clause]) -> list[tuple[Clause, float, int]]:
    """Each clause with its best token Jaccard against its category's labelled spans, and which span."""
    out = []
    for clause in clauses:
        key = (clause.category, clause.start, clause.end)
        if key not in contract.matches:
            quote = contract.text[clause.start : clause.end]
            contract.matches[key] = max(
                ((token_jaccard(quote, g), i) for i, g in enumerate(contract.gold[clause.category])),
                default=(0.0, -1),
            )
        out.append((clause, *contract.matches[key]))
    return out


def _first_hits(hits: list[tuple[Clause, float, int]]) -> list[tuple[float, bool]]:
    """`first_hits` of `_hits`: each clause's confidence, most confident first, and whether it is the first to
    hit its labelled span."""
    ranked = first_hits([(clause, clause.confidence, jaccard, index) for clause, jaccard, index in hits])
    return [(clause.confidence, hit) for clause, _, hit in ranked]


@dataclass
class Counts:
    presence: list[int] = field(default_factory=lambda: [0, 0, 0])
    span: list[int] = field(default_factory=lambda: [0, 0, 0])
    scored: list[tuple[float, bool]] = field(default_factory=list)
    clauses: list[tuple[float, bool]] = field(default_factory=list)
    gold: int = 0

    def add(
        self,
        hits: list[tuple[Clause, float, int]],
        gold: int,
        suggested: list[tuple[Clause, float, int]] = (),
    ) -> None:
        """One contract's category: its clauses' `hits` decide presence and span counts and their calibration;
        the ranked list that AUPR and precision at 80 % recall read holds them and the `suggested` candidates."""
        if hits and gold:
            self.presence[0] += 1
        elif hits:
            self.presence[1] += 1
        elif gold:
            self.presence[2] += 1
        clauses = _first_hits(hits)
        self.scored.extend(_first_hits([*hits, *suggested]))
        self.clauses.extend(clauses)
        self.span[0] += sum(1 for _, jaccard, _ in hits if jaccard >= HIT_JACCARD)
        self.span[1] += sum(1 for _, jaccard, _ in hits if jaccard < HIT_JACCARD)
        self.span[2] += gold - sum(hit for _, hit in clauses)
        self.gold += gold

    def merge(self, other: Counts) -> None:
        self.presence = [a + b for a, b in zip(self.presence, other.presence, strict=True)]
        self.span = [a + b for a, b in zip(self.span, other.span, strict=True)]
        self.scored.extend(other.scored)
        self.clauses.extend(other.clauses)
        self.gold += other.gold

    def summary(self) -> dict[str, float]:
        tp, fp, fn = self.span
        return {
            "presence_micro_f1": round(_fbeta(*self.presence), 3),
            "span_precision": round(tp / max(1, tp + fp), 3),
            "span_recall": round(tp / max(1, tp + fn), 3),
            "span_aupr": round(average_precision(self.scored, self.gold), 3),
            "span_precision_at_80_recall": round(precision_at_recall(self.scored, self.gold, 0.8), 3),
            "clause_calibration_error": round(calibration_error(self.clauses), 3),
        }


def _platt(points: list[tuple[float, bool]]) -> tuple[float, float] | None:
    if len({hit for _, hit in points}) < 2:
        return None
    from sklearn.linear_model import LogisticRegression

    scores = np.array([[score] for score, _ in points])
    fit = LogisticRegression(C=1.0).fit(scores, np.array([hit for _, hit in points], dtype=int))
    return float(fit.coef_[0][0]), float(fit.intercept_[0])


def _out_of_fold(
    contracts: list[Contract], progress: Callable[[str], None]
) -> tuple[list[np.ndarray], np.ndarray, list[ClauseModel]]:
    """Each contract's sentence logits and contract-level logits (contracts by categories) from the fold model
    that did not see it, and the fold models."""
    logits: list[np.ndarray] = [np.zeros(0)] * len(contracts)
    documents = np.zeros((len(contracts), len(CUAD_CATEGORIES)))
    models = []
    for fold in range(FOLDS):
        progress(f"legal: fold {fold + 1}/{FOLDS}")
        model = _fit([c for i, c in enumerate(contracts) if i % FOLDS != fold])
        models.append(model)
        for i, contract in enumerate(contracts):
            if i % FOLDS == fold:
                texts = [s.text for s in contract.sentences]
                logits[i], documents[i] = model.logits(texts), model.document_logits(texts)
    return logits, documents, models


def _reranked(
    contracts: list[Contract], logits: list[np.ndarray], kernel: str | None, progress: Callable[[str], None]
) -> tuple[list[np.ndarray], SentenceReranker]:
    """The contracts' logits with each category's RERANK_TOP best sentences (those whose logit reaches
    RERANK_FLOOR) re-scored by a reranker fitted on the other folds' contracts (a logistic regression per category
    of the sentence's label on its MiniLM vector, over every contract's RERANK_TOP best), and the reranker fitted
    on every contract."""
    from sklearn.linear_model import LogisticRegression

    learnable = [
        column
        for column in range(len(CUAD_CATEGORIES))
        if sum(1 for c in contracts if c.positive[:, column].any()) >= MIN_POSITIVE_CONTRACTS
    ]
    tops = [np.argsort(-contract_logits, axis=0, kind="stable")[:RERANK_TOP] for contract_logits in logits]
    rows = [np.unique(top[:, learnable]) for top in tops]
    texts = [
        contract.sentences[i].text for contract, picked in zip(contracts, rows, strict=True) for i in picked
    ]
    progress(f"legal: embedding {len(texts)} candidate sentences")
    vectors = rerank_vectors(texts, kernel) if texts else np.zeros((0, 1), dtype=np.float32)
    offsets = np.cumsum([0] + [len(picked) for picked in rows])
    folds = np.arange(len(contracts)) % FOLDS
    weights = np.zeros((vectors.shape[1], len(CUAD_CATEGORIES)), dtype=np.float32)
    bias = np.zeros(len(CUAD_CATEGORIES), dtype=np.float32)
    reranked = [contract_logits.copy() for contract_logits in logits]

    def fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
        head = LogisticRegression(C=RERANK_REGULARISATION, class_weight="balanced", max_iter=2000)
        head.fit(x, y)
        return head.coef_[0], float(head.intercept_[0])

    for column in learnable:
        picked = [top[:, column] for top in tops]
        x = np.vstack(
            [vectors[offsets[i] + np.searchsorted(rows[i], sentences)] for i, sentences in enumerate(picked)]
        )
        y = np.concatenate([c.positive[p, column] for c, p in zip(contracts, picked, strict=True)]).astype(
            int
        )
        owner = np.concatenate([np.full(len(sentences), i) for i, sentences in enumerate(picked)])
        decision = np.zeros(len(y))
        for fold in range(FOLDS):
            inside = folds[owner] != fold
            if len(set(y[inside].tolist())) == 2:
                w, b = fit(x[inside], y[inside])
                decision[~inside] = x[~inside] @ w + b
        if len(set(y.tolist())) == 2:
            weights[:, column], bias[column] = fit(x, y)
        for i, sentences in enumerate(picked):
            reached = logits[i][sentences, column] >= RERANK_FLOOR
            reranked[i][sentences[reached], column] += decision[owner == i][reached]
    return reranked, SentenceReranker(weights, bias, RERANK_FLOOR, kernel)


def _date_spans(contracts: list[Contract], category: str) -> bool:
    """Whether most of the category's labelled spans are bare dates (a date covering 80 % of the span)."""
    spans = [g.strip() for c in contracts for g in c.gold[category]]
    dates = sum(1 for g in spans if sum(d.end - d.start for d in find_dates(g)) >= 0.8 * len(g))
    return bool(spans) and dates > DATE_SPAN_SHARE * len(spans)


@dataclass
class Outcomes:
    """One category's out-of-fold outcomes per contract (rows): the model's best sentences (logit, whether its
    clause hits a labelled span), the rules' clauses (score, hit, the model's logit on the clause's sentence;
    ordered by that logit, best first), and for every k of the model's best sentences (k = 0..max) with the m
    first rule clauses (m = 0..all), the merged clauses' span hits, misses and labelled spans matched."""

    logits: np.ndarray
    hits: np.ndarray
    rule_scores: np.ndarray
    rule_hits: np.ndarray
    rule_logits: np.ndarray
    rules: np.ndarray
    gold: np.ndarray
    document: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    matched: np.ndarray


def _outcomes(
    contracts: list[Contract], logits: list[np.ndarray], documents: np.ndarray, column: int, date_spans: bool
) -> Outcomes:
    category = CUAD_CATEGORIES[column]
    rules = [[c for c in contract.rules if c.category == category] for contract in contracts]
    size, most, top = len(contracts), max((len(r) for r in rules), default=0), LEARNED_MAX_CLAUSES
    table = (size, top + 1, most + 1)
    out = Outcomes(
        np.full((size, top), -np.inf),
        np.zeros((size, top), dtype=bool),
        np.full((size, most), -np.inf),
        np.zeros((size, most), dtype=bool),
        np.full((size, most), -np.inf),
        np.array([len(r) for r in rules], dtype=int),
        np.array([len(c.gold[category]) for c in contracts], dtype=int),
        documents[:, column].astype(np.float64),
        np.zeros(table, dtype=int),
        np.zeros(table, dtype=int),
        np.zeros(table, dtype=int),
    )
    for i, (contract, contract_logits) in enumerate(zip(contracts, logits, strict=True)):
        scores = contract_logits[:, column]
        found = []
        for j, row in enumerate(np.argsort(-scores, kind="stable")[:top]):
            start, end = clause_bounds(contract.sentences[row], date_spans, category)
            found.append(_hits(contract, [Clause(category, start, end, float(scores[row]))])[0])
            out.logits[i, j], out.hits[i, j] = scores[row], found[-1][1] >= HIT_JACCARD
        starts = [s.start for s in contract.sentences]
        bars = [sentence_logit(contract.sentences, starts, contract_logits, column, c) for c in rules[i]]
        order = sorted(range(len(rules[i])), key=lambda r: -bars[r])
        ruled = [_hits(contract, [rules[i][r]])[0] for r in order]
        for j, (clause, jaccard, _) in enumerate(ruled):
            out.rule_scores[i, j], out.rule_hits[i, j] = clause.confidence, jaccard >= HIT_JACCARD
            out.rule_logits[i, j] = bars[order[j]]
        for m in range(len(ruled) + 1):
            kept = ruled[:m]
            for k in range(top + 1):
                learned = [hit for hit in found[:k] if not any(overlaps(hit[0], other[0]) for other in kept)]
                hits = [index for _, jaccard, index in kept + learned if jaccard >= HIT_JACCARD]
                out.tp[i, k, m] = len(hits)
                out.fp[i, k, m] = len(kept) + len(learned) - len(hits)
                out.matched[i, k, m] = len(set(hits))
    return out


@dataclass
class Choice:
    objective: float
    head: CategoryHead
    presence: tuple[int, int, int]
    span: tuple[int, int, int]


def _fbeta(tp: int, fp: int, fn: int, beta: float = 1.0) -> float:
    weight = 1 + beta * beta
    return weight * tp / (weight * tp + beta * beta * fn + fp) if tp else 0.0


def _objective(
    out: Outcomes, rows: np.ndarray, k: np.ndarray, m: np.ndarray
) -> tuple[float, tuple[int, int, int], tuple[int, int, int]]:
    """Presence F1 + span F-beta (SPAN_BETA) over `rows` when each keeps k model sentences and m rule clauses,
    with the presence and span counts."""
    tp, fp, matched = out.tp[rows, k, m], out.fp[rows, k, m], out.matched[rows, k, m]
    gold = out.gold[rows]
    present, labelled = tp + fp > 0, gold > 0
    presence = (
        int((present & labelled).sum()),
        int((present & ~labelled).sum()),
        int((~present & labelled).sum()),
    )
    span = (int(tp.sum()), int(fp.sum()), int((gold - matched).sum()))
    return _fbeta(*presence) + _fbeta(*span, SPAN_BETA), presence, span


def _choose_head(out: Outcomes, rows: np.ndarray, learnable: bool, date_spans: bool) -> Choice:
    """The category's mode, threshold and rule bar maximising `_objective` over `rows` (the simplest first among
    equals: rules, then the model, then both without a bar, then both with one), with Platt calibrations fitted
    on the same rows: the model's on the clauses it makes, the rules' on the rule clauses it keeps."""
    none = np.zeros(len(rows), dtype=int)
    every_rule = out.rules[rows]
    objective, presence, span = _objective(out, rows, none, every_rule)
    head = CategoryHead("rules", 0.0, LEARNED_MAX_CLAUSES, (1.0, 0.0), (1.0, 0.0), date_spans)
    best = Choice(objective, head, presence, span)
    logits = out.logits[rows]
    for mode, bar in (
        [("learned", None), ("both", None)] + [("both", b) for b in RULE_BARS] if learnable else []
    ):
        if mode == "learned":
            m = none
        elif bar is None:
            m = every_rule
        else:
            m = (out.rule_logits[rows] >= bar).sum(1)
        for threshold in THRESHOLDS:
            objective, presence, span = _objective(out, rows, (logits >= threshold).sum(1), m)
            if objective > best.objective:
                head = CategoryHead(
                    mode, threshold, LEARNED_MAX_CLAUSES, (1.0, 0.0), (1.0, 0.0), date_spans, bar
                )
                best = Choice(objective, head, presence, span)
    made = (logits >= best.head.threshold) & (best.head.mode != "rules")
    learned_points = list(zip(logits[made].tolist(), out.hits[rows][made].tolist(), strict=True))
    kept = np.arange(out.rule_scores.shape[1])[None, :] < every_rule[:, None]
    if best.head.rule_bar is not None:
        kept &= out.rule_logits[rows] >= best.head.rule_bar
    rule_points = list(
        zip(out.rule_scores[rows][kept].tolist(), out.rule_hits[rows][kept].tolist(), strict=True)
    )
    best.head = replace(
        best.head,
        platt=_platt(learned_points) or (1.0, 0.0),
        rule_platt=_platt(rule_points)
        or (0.0, _smoothed_log_odds(sum(1 for _, hit in rule_points if hit), len(rule_points))),
    )
    return best


def _choose_heads(
    contracts: list[Contract],
    logits: list[np.ndarray],
    documents: np.ndarray,
    model: ClauseModel,
    folds: np.ndarray | None = None,
) -> tuple[dict[str, CategoryHead], PresenceGate, dict[str, dict]]:
    """Per category the head `_choose_head` picks on the out-of-fold `logits`, the model only for a category
    with a clause in at least MODEL_CONTRACTS contracts; then the presence gate over those heads
    (`_choose_presence`, its own cross-validation over `folds`, by default contract position modulo FOLDS)."""
    heads: dict[str, CategoryHead] = {}
    tables: dict[str, Outcomes] = {}
    report: dict[str, dict] = {}
    rows = np.arange(len(contracts))
    for column, category in enumerate(CUAD_CATEGORIES):
        with_clause = sum(1 for c in contracts if c.positive[:, column].any())
        learnable = bool(model.weights[:, column].any()) and with_clause >= MODEL_CONTRACTS
        date_spans = _date_spans(contracts, category)
        tables[category] = _outcomes(contracts, logits, documents, column, date_spans)
        choice = _choose_head(tables[category], rows, learnable, date_spans)
        heads[category] = choice.head
        report[category] = {
            "mode": choice.head.mode,
            "threshold": choice.head.threshold,
            "rule_bar": choice.head.rule_bar,
            "cv_presence_f1": round(_fbeta(*choice.presence), 3),
            "cv_span_f1": round(_fbeta(*choice.span), 3),
        }
    presence = _choose_presence(tables, heads, rows % FOLDS if folds is None else folds)
    return heads, presence, report


def _kept(out: Outcomes, head: CategoryHead) -> tuple[np.ndarray, np.ndarray]:
    """Per contract, how many of the model's best sentences and of the rule clauses (best model logit first)
    `head` keeps."""
    made = (
        (out.logits >= head.threshold).sum(1) if head.mode != "rules" else np.zeros(len(out.gold), dtype=int)
    )
    if head.mode == "learned":
        return made, np.zeros(len(out.gold), dtype=int)
    if head.mode == "rules" or head.rule_bar is None:
        return made, out.rules.copy()
    return made, (out.rule_logits >= head.rule_bar).sum(1)


def _signals(out: Outcomes, head: CategoryHead) -> np.ndarray:
    """Per contract the category's `category_signals`, from its outcome table."""
    made, kept = _kept(out, head)
    return np.array(
        [
            category_signals(
                out.logits[i, :TOP_LOGITS],
                int(made[i]),
                int(out.rules[i]),
                float(out.rule_scores[i, : out.rules[i]].max()) if out.rules[i] else 0.0,
                float(out.rule_logits[i, 0]) if out.rules[i] else -math.inf,
                int(kept[i]),
                float(out.document[i]),
            )
            for i in range(len(out.gold))
        ]
    )


def gate_trees():
    """The presence gate's unfitted scikit-learn trees (no early stopping, so a fit is deterministic)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=GATE_TREES,
        max_depth=GATE_DEPTH,
        learning_rate=GATE_RATE,
        min_samples_leaf=GATE_LEAF,
        early_stopping=False,
    )


def _presence_fit(signals: np.ndarray, present: np.ndarray) -> PresenceGate:
    """Boosted regression trees of presence on `category_signals` rows pooled over every category, as a
    `PresenceGate` (bars still open)."""
    if len(set(present.tolist())) < 2:
        leaf = np.full((1, 1), -1)
        baseline = _smoothed_log_odds(int(present.sum()), len(present))
        return PresenceGate(leaf, np.zeros((1, 1)), leaf, leaf, np.zeros((1, 1)), baseline, 0.0, None)
    fit = gate_trees().fit(signals, present)
    trees = [predictors[0].nodes for predictors in fit._predictors]
    width = max(len(nodes) for nodes in trees)
    feature = np.full((len(trees), width), -1)
    threshold, value = np.zeros((len(trees), width)), np.zeros((len(trees), width))
    left, right = np.zeros((len(trees), width), dtype=int), np.zeros((len(trees), width), dtype=int)
    for t, nodes in enumerate(trees):
        inner = ~nodes["is_leaf"].astype(bool)
        size = len(nodes)
        feature[t, :size] = np.where(inner, nodes["feature_idx"], -1)
        threshold[t, :size], value[t, :size] = nodes["num_threshold"], nodes["value"]
        left[t, :size], right[t, :size] = nodes["left"], nodes["right"]
    baseline = float(np.ravel(fit._baseline_prediction)[0])
    return PresenceGate(feature, threshold, left, right, value, baseline, 0.0, None)


def _gated(
    out: Outcomes, head: CategoryHead, probability: np.ndarray, drop_below: float, add_from: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """What `apply_presence` keeps, as counts of model sentences and rule clauses per contract."""
    made, kept = _kept(out, head)
    dropped = probability < drop_below
    made, kept = np.where(dropped, 0, made), np.where(dropped, 0, kept)
    if add_from is not None and head.mode != "rules":
        empty = (made + kept == 0) & (probability >= add_from)
        kept = np.where(empty & (out.rules > 0), 1, kept)
        made = np.where(empty & (out.rules == 0), 1, made)
    return made, kept


def _choose_presence(
    tables: dict[str, Outcomes], heads: dict[str, CategoryHead], folds: np.ndarray
) -> PresenceGate:
    """The presence gate: boosted trees of whether a contract has a category on the category's signals, pooled
    over all categories and fitted on all contracts; its two bars (shared by all categories) maximise presence
    micro-F1 + span micro-F-beta on the trees' own cross-validated probabilities over `folds`."""
    signals = np.stack([_signals(tables[c], heads[c]) for c in CUAD_CATEGORIES], axis=1)
    present = np.stack([tables[c].gold > 0 for c in CUAD_CATEGORIES], axis=1).astype(int)
    width = signals.shape[2]
    gate = _presence_fit(signals.reshape(-1, width), present.ravel())
    held_out = np.zeros(present.shape)
    for fold in np.unique(folds):
        train, test = folds != fold, folds == fold
        fold_gate = _presence_fit(signals[train].reshape(-1, width), present[train].ravel())
        held_out[test] = fold_gate.probabilities(signals[test].reshape(-1, width)).reshape(
            -1, present.shape[1]
        )
    rows = np.arange(len(folds))
    best, bars = -1.0, (0.0, None)
    for drop_below in DROP_BARS:
        for add_from in ADD_BARS:
            if add_from is not None and add_from < drop_below:
                continue
            presence, span = np.zeros(3, dtype=int), np.zeros(3, dtype=int)
            for column, category in enumerate(CUAD_CATEGORIES):
                out = tables[category]
                made, kept = _gated(out, heads[category], held_out[:, column], drop_below, add_from)
                _, counted_presence, counted_span = _objective(out, rows, made, kept)
                presence += counted_presence
                span += counted_span
            objective = _fbeta(*presence) + _fbeta(*span, SPAN_BETA)
            if objective > best:
                best, bars = objective, (drop_below, add_from)
    return replace(gate, drop_below=bars[0], add_from=bars[1])


def _read(
    model: ClauseModel, contract: Contract, logits: np.ndarray, document: np.ndarray
) -> tuple[list[Clause], np.ndarray]:
    """What the connector makes of a contract with these sentence and contract-level logits: its clauses and the
    gate's probabilities."""
    found = learned_clauses(model, contract.sentences, logits)
    return merged_with_presence(model, contract.sentences, logits, contract.rules, found, document)


def _candidates(
    model: ClauseModel, contract: Contract, logits: np.ndarray, document: np.ndarray
) -> tuple[list[Clause], list[tuple[Clause, np.ndarray]]]:
    """The contract's clauses and up to MAX_SUGGESTIONS `candidates` per category beyond them."""
    found, probability = _read(model, contract, logits, document)
    return found, candidates(
        model, contract.sentences, logits, contract.rules, found, probability, MAX_SUGGESTIONS
    )


def _choose_recalibration(
    contracts: list[Contract], logits: list[np.ndarray], documents: np.ndarray, model: ClauseModel
) -> tuple[float, float] | None:
    """One sigmoid over the logit of every out-of-fold clause's confidence against whether it is the first
    clause to hit its labelled span (the hits AUPR counts): the per-category calibrations, each fitted on the
    head's own clauses before the merge and the presence gate, read high on the clauses that are finally kept."""
    model.recalibration = None
    points = []
    for contract, contract_logits, document in zip(contracts, logits, documents, strict=True):
        found, _ = _read(model, contract, contract_logits, document)
        for category in CUAD_CATEGORIES:
            points.extend(_first_hits(_hits(contract, [c for c in found if c.category == category])))
    return _platt([(log_odds(confidence), hit) for confidence, hit in points])


def _choose_suggestions(
    contracts: list[Contract], logits: list[np.ndarray], documents: np.ndarray, model: ClauseModel
) -> SuggestionScale | None:
    """The suggestions' confidences: a logistic regression of whether each out-of-fold candidate (`candidates`,
    up to MAX_SUGGESTIONS per category) hits a labelled span, over its features and its category."""
    from sklearn.linear_model import LogisticRegression

    features, columns, hits = [], [], []
    for contract, contract_logits, document in zip(contracts, logits, documents, strict=True):
        _, ranked = _candidates(model, contract, contract_logits, document)
        for (_, jaccard, _), (clause, row) in zip(
            _hits(contract, [c for c, _ in ranked]), ranked, strict=True
        ):
            features.append(row)
            columns.append(model.categories.index(clause.category))
            hits.append(jaccard >= HIT_JACCARD)
    if len(set(hits)) < 2:
        return None
    categories = np.eye(len(model.categories))[columns]
    fit = LogisticRegression(C=1.0, max_iter=2000).fit(np.hstack([np.array(features), categories]), hits)
    width = len(features[0])
    return SuggestionScale(fit.coef_[0][:width].copy(), fit.intercept_[0] + fit.coef_[0][width:])


def _score(
    contracts: list[Contract], logits: list[np.ndarray], documents: np.ndarray, model: ClauseModel
) -> Counts:
    """Presence and span counts of `model` (with its heads) on contracts whose logits are given; the ranked list
    adds up to MAX_SUGGESTIONS candidates per category beyond the clauses (`suggest`), as CUAD ranks its answers."""
    counts = Counts()
    for contract, contract_logits, document in zip(contracts, logits, documents, strict=True):
        found, ranked = _candidates(model, contract, contract_logits, document)
        more = suggest(model, ranked)
        for category in CUAD_CATEGORIES:
            mine = [c for c in found if c.category == category]
            suggested = [c for c in more if c.category == category]
            counts.add(_hits(contract, mine), len(contract.gold[category]), _hits(contract, suggested))
    return counts


def _nested(
    contracts: list[Contract],
    fold_models: list[ClauseModel],
    kernel: str | None,
    progress: Callable[[str], None],
) -> dict[str, float]:
    """Nested cross-validation: per outer fold, every choice and calibration is made again by cross-validation
    on the other folds' contracts alone, and the fold model so configured is scored on the fold."""
    counts = Counts()
    for fold, model in enumerate(fold_models):
        progress(f"legal: nested fold {fold + 1}/{FOLDS}")
        inside = [c for i, c in enumerate(contracts) if i % FOLDS != fold]
        outside = [c for i, c in enumerate(contracts) if i % FOLDS == fold]
        inside_logits, inside_documents, _ = _out_of_fold(inside, lambda stage: None)
        inside_logits, model.reranker = _reranked(inside, inside_logits, kernel, lambda stage: None)
        model.heads, model.presence, _ = _choose_heads(inside, inside_logits, inside_documents, model)
        model.recalibration = _choose_recalibration(inside, inside_logits, inside_documents, model)
        model.suggestions = _choose_suggestions(inside, inside_logits, inside_documents, model)
        texts = [[s.text for s in c.sentences] for c in outside]
        outside_documents = np.array([model.document_logits(t) for t in texts])
        counts.merge(_score(outside, [model.scores(t) for t in texts], outside_documents, model))
    return counts.summary()


def _cross_fitted(
    contracts: list[Contract], logits: list[np.ndarray], documents: np.ndarray, fold_models: list[ClauseModel]
) -> dict:
    """Per fold, every choice and calibration is made on the other folds' out-of-fold logits and labels alone
    and applied to the fold's own out-of-fold logits: no choice sees the labels it is scored on."""
    counts = Counts()
    for fold, model in enumerate(fold_models):
        inside = [i for i in range(len(contracts)) if i % FOLDS != fold]
        outside = [i for i in range(len(contracts)) if i % FOLDS == fold]
        inside_contracts, inside_logits = [contracts[i] for i in inside], [logits[i] for i in inside]
        model.heads, model.presence, _ = _choose_heads(
            inside_contracts, inside_logits, documents[inside], model, np.array(inside) % FOLDS
        )
        model.recalibration = _choose_recalibration(inside_contracts, inside_logits, documents[inside], model)
        model.suggestions = _choose_suggestions(inside_contracts, inside_logits, documents[inside], model)
        counts.merge(
            _score([contracts[i] for i in outside], [logits[i] for i in outside], documents[outside], model)
        )
    return counts.summary()


def _smoothed_log_odds(hits: int, total: int) -> float:
    """The log-odds of a share of `hits` in `total`, with one hit and one miss added (never infinite)."""
    share = (hits + 1) / (total + 2)
    return math.log(share / (1 - share))


def train(
    data: Path,
    out: Path | None = None,
    progress: Callable[[str], None] = lambda stage: None,
    nested: bool | None = None,
    kernel: str | None = RERANK_KERNEL,
) -> dict:
    """Cross-validates, fits the final heads on every training contract and writes the weights, the model card
    and TRAINED_ON.txt to `out` (the package's `weights/` by default). The choices are also scored cross-fitted
    (made without the scored fold's labels); `nested` adds full nested cross-validation (FOLDS x FOLDS more
    fits; by default only up to NESTED_MAX_CONTRACTS contracts). The reranker's vectors come from the int8
    `kernel` of `inference.embeddings.INT8_KERNELS` (None: fp32), which the weights record for run time."""
    out = out or WEIGHTS_DIR
    contracts = read_contracts(data)
    if len(contracts) < FOLDS:
        raise ValueError(f"{data}: {len(contracts)} training contracts; at least {FOLDS} are needed")
    progress(f"legal: {len(contracts)} training contracts")
    logits, documents, fold_models = _out_of_fold(contracts, progress)
    logits, reranker = _reranked(contracts, logits, kernel, progress)
    progress("legal: final fit")
    model = _fit(contracts)
    model.reranker = reranker
    heads, presence, report = _choose_heads(contracts, logits, documents, model)
    model.heads, model.presence = heads, presence
    model.recalibration = _choose_recalibration(contracts, logits, documents, model)
    model.suggestions = _choose_suggestions(contracts, logits, documents, model)
    report[OVERALL] = _score(contracts, logits, documents, model).summary()
    if len(contracts) >= NESTED_CONTRACTS:
        progress("legal: cross-fitted choices")
        report[CROSS_FITTED] = _cross_fitted(contracts, logits, documents, fold_models)
        if len(contracts) <= NESTED_MAX_CONTRACTS if nested is None else nested:
            report[NESTED] = _nested(contracts, fold_models, kernel, progress)
    used = np.flatnonzero(
        np.maximum(np.abs(model.weights).max(axis=1), np.abs(model.document_weights).max(axis=1)) > 1e-3
    )
    terms = sorted(model.vocabulary, key=model.vocabulary.__getitem__)
    model.vocabulary = {terms[i]: n for n, i in enumerate(used)}
    model.idf, model.weights = model.idf[used], model.weights[used]
    model.document_weights = model.document_weights[used]
    card = {
        "data": "CUAD v1 (The Atticus Project), CC BY 4.0",
        "training_contracts": len(contracts),
        "split": (
            f"`{TRAIN_SPLIT}` rows of labels.jsonl, less CUAD's official test split ({len(CUAD_TEST_SPLIT)} titles, "
            "connectors/legal/cuad_test_split.txt) and tests/data's held-out contracts"
        ),
        "features": "sentence word unigrams and bigrams + previous-sentence unigrams, sublinear TF-IDF; "
        f"each category's {RERANK_TOP} best sentences with a logit of at least {RERANK_FLOOR:g} re-scored on "
        f"their MiniLM vectors from the {kernel or 'fp32'} kernel",
        "vocabulary": len(model.vocabulary),
        "folds": FOLDS,
        "modes": {m: sum(1 for h in heads.values() if h.mode == m) for m in MODES},
        "rule_bars": sum(1 for h in heads.values() if h.mode == "both" and h.rule_bar is not None),
        "date_spans": [c for c, h in heads.items() if h.date_spans],
        "presence": {"drop_below": presence.drop_below, "add_from": presence.add_from},
    }
    model.save(out, card)
    (out / "TRAINED_ON.txt").write_text("".join(f"{c.source_file}\n" for c in contracts), encoding="utf-8")
    (out / "MODEL_CARD.md").write_text(model_card(card, report), encoding="utf-8")
    return {"card": card, "categories": report}


def _figures(row: dict[str, float]) -> str:
    return (
        f"presence micro-F1 {row['presence_micro_f1']:.3f}, span precision {row['span_precision']:.3f}, span "
        f"recall {row['span_recall']:.3f}, span AUPR {row['span_aupr']:.3f}, precision at 80 % recall "
        f"{row['span_precision_at_80_recall']:.3f}, the clauses' calibration error "
        f"{row['clause_calibration_error']:.3f}"
    )


def _restoring(add_from: float | None) -> str:
    if add_from is None:
        return "none is restored"
    return (
        f"one left without a clause (not in rules mode) whose probability reaches {add_from:g} gets back\n"
        "  its rule clause with the best model logit, or the model's best sentence"
    )


def model_card(card: dict, report: dict[str, dict]) -> str:
    rows = "\n".join(
        f"| {category} | {row['mode']} | {'' if row['rule_bar'] is None else format(row['rule_bar'], 'g')} | "
        f"{row['cv_presence_f1']:.3f} | {row['cv_span_f1']:.3f} |"
        for category, row in report.items()
        if category not in (OVERALL, NESTED, CROSS_FITTED)
    )
    honest = ""
    if CROSS_FITTED in report:
        honest += (
            f"\n- Cross-fitted ({FOLDS} folds; for each, every choice and calibration above is made on the other\n"
            "  folds' out-of-fold logits and labels alone and applied to the fold's own out-of-fold logits):\n"
            f"  {_figures(report[CROSS_FITTED])}."
        )
    if NESTED in report:
        honest += (
            f"\n- Nested cross-validation ({FOLDS} outer folds; in each, every choice and calibration above is made\n"
            f"  again by {FOLDS}-fold cross-validation on the other folds' contracts alone):\n"
            f"  {_figures(report[NESTED])}."
        )
    return f"""# Legal clause model (CUAD categories)

Built by `python -m connectors train legal --data DIR` (docs/training.md says how DIR is built from CUAD's
release); loaded offline by `connectors/legal/learned.py`.

- Data: {card["data"]}. Contracts are public SEC EDGAR filings.
- Licence of the weights' training data: CC BY 4.0 (commercial use allowed, with attribution to The Atticus
  Project).
- Split: {card["split"]}: {card["training_contracts"]} contracts, listed by CUAD file name in `TRAINED_ON.txt`.
  No contract of CUAD's official test split and none of tests/data's `heldout` sample was trained on or used
  for any choice below.
- Model: per CUAD category a logistic regression (liblinear, C={REGULARISATION}, balanced classes) over
  {card["features"]}; vocabulary: the {MAX_VOCABULARY} terms of highest document frequency (at least
  {MIN_DOCUMENT_FREQUENCY}); the {card["vocabulary"]} with a weight of at least 0.001 in some head kept;
  stored as float16.
- Per category, {card["folds"]}-fold cross-validation over the training contracts (grouped by contract)
  chooses the rules, the model or both, the model's logit threshold (at most {LEARNED_MAX_CLAUSES} clauses
  per category) and, in both mode, the bar the model's logit on a rule clause's sentence must reach for the
  rule clause to be kept (none, or an integer from {RULE_BARS[0]:g} to {RULE_BARS[-1]:g}); the objective is
  presence F1 + span F-beta with beta = {SPAN_BETA} (token Jaccard >= {HIT_JACCARD}). The model is a
  candidate only for a category with a clause in at least {MODEL_CONTRACTS} training contracts (one per fold).
  A category whose labelled spans are mostly bare dates ({", ".join(card["date_spans"]) or "none here"}) gets
  the first date of a model sentence as its clause. Confidences are Platt-calibrated on the out-of-fold
  clauses (the model's logits, the scores of the rule clauses kept) against span hits, then mapped through one
  sigmoid fitted on the logits of the out-of-fold clauses finally kept (after the gate) against whether each is
  the first to hit its labelled span (`recalibration`).
- Contract-level heads: per category a logistic regression (liblinear, C={DOCUMENT_REGULARISATION}, balanced
  classes) of whether a contract has the category, over the sublinear TF-IDF of the words and bigrams of all its
  sentences (the same vocabulary); its logit is one of the gate's signals.
- Presence gate: boosted regression trees ({GATE_TREES} trees of depth {GATE_DEPTH}, learning rate {GATE_RATE},
  at least {GATE_LEAF} rows a leaf), one model for every category, of whether a contract has a category on
  that category's signals alone: its best three model logits, how many clauses the model and the rules make
  and keep, the best rule confidence, the model's logit on the best rule clause's sentence, whether it has a
  clause and the contract-level head's logit, fitted on the out-of-fold signals. A category whose
  probability is under {card["presence"]["drop_below"]:g} loses its clauses;
  {_restoring(card["presence"]["add_from"])}.
  Both bars are shared by all categories and chosen on the trees' cross-validated probabilities, same
  objective.
- Suggestions (asked for with the connector's `suggestions` option): per category up to {MAX_SUGGESTIONS}
  candidates beyond the clauses, their confidence a logistic regression of a span hit on the candidate's
  calibrated score and its category's presence probability (as logits), whether the rules found it and its
  rank, with one intercept per category, fitted on the out-of-fold candidates. Span AUPR and precision at
  80 % recall below rank the clauses and these suggestions together, as CUAD ranks its answers; presence and
  span precision and recall read the clauses only.
- Modes: {card["modes"]}; {card["rule_bars"]} of the both-mode categories have a rule bar.
- Cross-validated on the training contracts with the choices made on the same folds (optimistic):
  {_figures(report[OVERALL])}.{honest}
  Held-out figures are in docs/training.md and docs/connectors.md.

| category | source | rule bar | CV presence F1 | CV span F1 |
|---|---|---|---|---|
{rows}
"""
