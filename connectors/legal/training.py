"""`python -m connectors train legal --data DIR`: rebuilds `connectors/legal/weights/` from labelled contracts.

DIR is laid out as `tests/data` is (`cuad/labels.jsonl`, `cuad/contracts/<document_id>.txt`). Only rows of the
`dev` split are read, and of those none whose original CUAD file is in CUAD's official test split. Per
category the choice between the rules, the model and both, the model's threshold and the calibration of
every confidence are made by cross-validation over the training contracts (grouped by contract).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from connectors.legal.analyzers import Clause, find_rule_clauses
from connectors.legal.categories import CUAD_CATEGORIES
from connectors.legal.learned import (
    MODES,
    WEIGHTS_DIR,
    CategoryHead,
    ClauseModel,
    learned_clauses,
    merge,
    sentence_terms,
    term_weights,
)
from connectors.spans import token_jaccard
from connectors.text import Segment, split_sentences

TRAIN_SPLIT = "dev"
# CUAD v1 contracts known to be in the official test split (test.json); never trained on.
CUAD_TEST_SPLIT = frozenset({"LohaCompanyltd_20191209_F-1_EX-10.16_11917878_EX-10.16_Supply Agreement"})
HIT_JACCARD = 0.5
MIN_DOCUMENT_FREQUENCY = 2
REGULARISATION = 4.0
FOLDS = 4
MIN_POSITIVE_CONTRACTS = 2
THRESHOLDS = tuple(round(-4.0 + 0.25 * step, 2) for step in range(33))
LEARNED_MAX_CLAUSES = 4
OVERALL = "all (cross-validated, chosen per category)"


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


def read_contracts(data: Path) -> list[Contract]:
    """The training contracts of DIR: the `dev` rows, less CUAD's official test split."""
    contracts = []
    for line in (data / "cuad" / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if row["split"] != TRAIN_SPLIT or row["source_file"] in CUAD_TEST_SPLIT:
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
    terms = sorted(t for t, n in frequency.items() if n >= MIN_DOCUMENT_FREQUENCY)
    idf = np.array([math.log((1 + sentences) / (1 + frequency[t])) + 1 for t in terms], dtype=np.float32)
    return {t: i for i, t in enumerate(terms)}, idf


def _features(contracts: list[Contract], vocabulary: dict[str, int], idf: np.ndarray):
    from scipy.sparse import csr_matrix

    indptr, indices, data = [0], [], []
    for contract in contracts:
        previous = ""
        for sentence in contract.sentences:
            columns, values = term_weights(sentence_terms(sentence.text, previous), vocabulary, idf)
            indices.extend(columns.tolist())
            data.extend(values.tolist())
            indptr.append(len(indices))
            previous = sentence.text
    return csr_matrix((data, indices, indptr), shape=(len(indptr) - 1, len(vocabulary)), dtype=np.float32)


def _fit(contracts: list[Contract]) -> ClauseModel:
    """Logistic-regression heads over the contracts' sentences (every head in `learned` mode)."""
    from sklearn.linear_model import LogisticRegression

    vocabulary, idf = _vocabulary(contracts)
    features = _features(contracts, vocabulary, idf)
    labels = np.vstack([c.positive for c in contracts])
    weights = np.zeros((len(vocabulary), len(CUAD_CATEGORIES)), dtype=np.float32)
    bias = np.full(len(CUAD_CATEGORIES), -10.0, dtype=np.float32)
    for column in range(len(CUAD_CATEGORIES)):
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
    return ClauseModel(CUAD_CATEGORIES, vocabulary, idf, weights, bias, heads)


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


@dataclass
class Counts:
    presence: list[int] = field(default_factory=lambda: [0, 0, 0])
    span: list[int] = field(default_factory=lambda: [0, 0, 0])
    scored: list[tuple[float, bool]] = field(default_factory=list)

    def add(self, hits: list[tuple[Clause, float, int]], gold: int) -> None:
        if hits and gold:
            self.presence[0] += 1
        elif hits:
            self.presence[1] += 1
        elif gold:
            self.presence[2] += 1
        matched = {index for _, jaccard, index in hits if jaccard >= HIT_JACCARD}
        self.span[0] += sum(1 for _, jaccard, _ in hits if jaccard >= HIT_JACCARD)
        self.span[1] += sum(1 for _, jaccard, _ in hits if jaccard < HIT_JACCARD)
        self.span[2] += gold - len(matched)

    def objective(self) -> float:
        return _f1(*self.presence) + _f1(*self.span)


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def _platt(points: list[tuple[float, bool]]) -> tuple[float, float] | None:
    if len({hit for _, hit in points}) < 2:
        return None
    from sklearn.linear_model import LogisticRegression

    scores = np.array([[score] for score, _ in points])
    fit = LogisticRegression(C=1.0).fit(scores, np.array([hit for _, hit in points], dtype=int))
    return float(fit.coef_[0][0]), float(fit.intercept_[0])


def _out_of_fold_logits(contracts: list[Contract], progress: Callable[[str], None]) -> list[np.ndarray]:
    logits: list[np.ndarray] = [np.zeros(0)] * len(contracts)
    for fold in range(FOLDS):
        progress(f"legal: fold {fold + 1}/{FOLDS}")
        train = [c for i, c in enumerate(contracts) if i % FOLDS != fold]
        model = _fit(train)
        for i, contract in enumerate(contracts):
            if i % FOLDS == fold:
                logits[i] = model.logits([s.text for s in contract.sentences])
    return logits


def _choose_heads(
    contracts: list[Contract], logits: list[np.ndarray], model: ClauseModel
) -> tuple[dict[str, CategoryHead], dict[str, dict]]:
    heads: dict[str, CategoryHead] = {}
    report: dict[str, dict] = {}
    total = Counts()
    for column, category in enumerate(CUAD_CATEGORIES):
        learnable = bool(model.weights[:, column].any())
        candidates = [("rules", 0.0)]
        if learnable:
            candidates += [(mode, t) for mode in ("learned", "both") for t in THRESHOLDS]
        best: tuple[float, int, str, float, Counts] | None = None
        for mode, threshold in candidates:
            counts = Counts()
            head = CategoryHead(mode, threshold, LEARNED_MAX_CLAUSES, (1.0, 0.0), (1.0, 0.0))
            probe = ClauseModel(
                (category,), {}, model.idf, model.weights[:, [column]], model.bias[[column]], {category: head}
            )
            for contract, contract_logits in zip(contracts, logits, strict=True):
                rules = [c for c in contract.rules if c.category == category]
                found = learned_clauses(probe, contract.sentences, contract_logits[:, [column]])
                kept = merge(probe, rules, found)
                counts.add(_hits(contract, kept), len(contract.gold[category]))
            key = (counts.objective(), -MODES.index(mode))
            if best is None or key > (best[0], best[1]):
                best = (key[0], key[1], mode, threshold, counts)
        assert best is not None
        _, _, mode, threshold, counts = best
        total.presence = [a + b for a, b in zip(total.presence, counts.presence, strict=True)]
        total.span = [a + b for a, b in zip(total.span, counts.span, strict=True)]
        learned_points, rule_points = [], []
        for contract, contract_logits in zip(contracts, logits, strict=True):
            rules = [c for c in contract.rules if c.category == category]
            for clause, jaccard, _ in _hits(contract, rules):
                rule_points.append((clause.confidence, jaccard >= HIT_JACCARD))
            if mode != "rules":
                scores = contract_logits[:, column]
                for row in np.argsort(-scores, kind="stable")[:LEARNED_MAX_CLAUSES]:
                    if scores[row] >= threshold:
                        sentence = contract.sentences[row]
                        clause = Clause(category, sentence.start, sentence.end, 0.0)
                        jaccard = _hits(contract, [clause])[0][1]
                        learned_points.append((float(scores[row]), jaccard >= HIT_JACCARD))
        heads[category] = CategoryHead(
            mode,
            threshold,
            LEARNED_MAX_CLAUSES,
            _platt(learned_points) or (1.0, 0.0),
            _platt(rule_points) or (0.0, _logit_of_share(rule_points)),
        )
        report[category] = {
            "mode": mode,
            "threshold": threshold,
            "cv_presence_f1": round(_f1(*counts.presence), 3),
            "cv_span_f1": round(_f1(*counts.span), 3),
        }
    tp, fp, fn = total.span
    report[OVERALL] = {
        "presence_micro_f1": round(_f1(*total.presence), 3),
        "span_precision": round(tp / max(1, tp + fp), 3),
        "span_recall": round(tp / max(1, tp + fn), 3),
    }
    return heads, report


def _logit_of_share(points: list[tuple[float, bool]]) -> float:
    share = (sum(1 for _, hit in points if hit) + 1) / (len(points) + 2)
    return math.log(share / (1 - share))


def train(data: Path, out: Path | None = None, progress: Callable[[str], None] = lambda stage: None) -> dict:
    """Cross-validates, fits the final heads on every training contract and writes the weights, the model card
    and TRAINED_ON.txt to `out` (the package's `weights/` by default)."""
    out = out or WEIGHTS_DIR
    contracts = read_contracts(data)
    if len(contracts) < FOLDS:
        raise ValueError(f"{data}: {len(contracts)} training contracts; at least {FOLDS} are needed")
    progress(f"legal: {len(contracts)} training contracts")
    logits = _out_of_fold_logits(contracts, progress)
    progress("legal: final fit")
    model = _fit(contracts)
    heads, report = _choose_heads(contracts, logits, model)
    model.weights[:, [i for i, c in enumerate(CUAD_CATEGORIES) if heads[c].mode == "rules"]] = 0.0
    used = np.flatnonzero(np.abs(model.weights).max(axis=1) > 1e-3)
    terms = sorted(model.vocabulary, key=model.vocabulary.__getitem__)
    model.vocabulary = {terms[i]: n for n, i in enumerate(used)}
    model.idf, model.weights = model.idf[used], model.weights[used]
    model.heads = heads
    card = {
        "data": "CUAD v1 (The Atticus Project), CC BY 4.0",
        "training_contracts": len(contracts),
        "split": f"tests/data/cuad `{TRAIN_SPLIT}` rows, less contracts known to be in CUAD's official test split",
        "features": "sentence word unigrams and bigrams + previous-sentence unigrams, sublinear TF-IDF",
        "vocabulary": len(model.vocabulary),
        "folds": FOLDS,
        "modes": {m: sum(1 for h in heads.values() if h.mode == m) for m in MODES},
    }
    model.save(out, card)
    (out / "TRAINED_ON.txt").write_text("".join(f"{c.source_file}\n" for c in contracts), encoding="utf-8")
    (out / "MODEL_CARD.md").write_text(model_card(card, report), encoding="utf-8")
    return {"card": card, "categories": report}


def model_card(card: dict, report: dict[str, dict]) -> str:
    overall = report[OVERALL]
    rows = "\n".join(
        f"| {category} | {row['mode']} | {row['cv_presence_f1']:.3f} | {row['cv_span_f1']:.3f} |"
        for category, row in report.items()
        if category != OVERALL
    )
    return f"""# Legal clause model (CUAD categories)

Built by `python -m connectors train legal --data tests/data`; loaded offline by `connectors/legal/learned.py`.

- Data: {card["data"]}. Contracts are public SEC EDGAR filings.
- Licence of the weights' training data: CC BY 4.0 (commercial use allowed, with attribution to The Atticus
  Project).
- Split: {card["split"]}: {card["training_contracts"]} contracts, listed by CUAD file name in `TRAINED_ON.txt`.
  CUAD's official train/test lists (`train_separate_questions.json` / `test.json`) could not be obtained here,
  so the model is not trained on CUAD's 408 training contracts; it is trained on the development sample only,
  less the one development contract a public evaluation of the official test split names. The held-out
  sample (`cuad_12`-`cuad_19`) was never used for training or for any choice below.
- Model: per CUAD category a logistic regression (liblinear, C={REGULARISATION}, balanced classes) over
  {card["features"]}; {card["vocabulary"]} terms kept (document frequency >= {MIN_DOCUMENT_FREQUENCY}, weights
  of categories left to the rules pruned), stored as float16.
- Per category, {card["folds"]}-fold cross-validation over the training contracts (grouped by contract)
  chooses the rules, the model or both, and the model's logit threshold (at most {LEARNED_MAX_CLAUSES} clauses
  per category); the objective is presence F1 + span F1 (token Jaccard >= {HIT_JACCARD}). Confidences are
  Platt-calibrated on the out-of-fold clauses (the model's logits, the rules' scores) against span hits.
- Modes: {card["modes"]}.
- Cross-validated on the training contracts (choices made on the same folds, so optimistic): presence
  micro-F1 {overall["presence_micro_f1"]:.3f}, span precision {overall["span_precision"]:.3f}, span recall
  {overall["span_recall"]:.3f}. Held-out figures are in docs/connectors.md.

| category | source | CV presence F1 | CV span F1 |
|---|---|---|---|
{rows}
"""
