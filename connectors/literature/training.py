"""Rebuild the literature weights (the stance and verdict models) from SciFact's training claims.

`DATA` holds SciFact's `claims_train.jsonl` ({id, claim, evidence: {doc_id: [{sentences, label}]},
cited_doc_ids}) and `corpus.jsonl` ({doc_id, title, abstract: [sentences] or str}). Only training claims are
read; the claims of the evaluation set (`tests/data/scifact/claims.jsonl`, both splits) and every training claim
citing one of their papers are left out. The penalties and thresholds are picked by 5-fold cross-validation over
the claims (claims citing a common paper share a fold; each claim judged by the models fitted without its fold);
the stance model is then fitted on all of them, and the verdict model on the claims' out-of-fold stances.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy

from connectors.base import Document
from connectors.literature.learned import (
    STANCE_CLASSES,
    VERDICT_PAPERS,
    VERDICTS,
    WEIGHTS_DIR,
    LiteratureModel,
    Softmax,
    rationale_picks,
    save_model,
    stance_features,
    verdict_features,
)
from connectors.literature.retrieval import CorpusIndex
from connectors.loaders import corpus_document
from connectors.text import paper_title, split_abstract_sentences

EVALUATION_CLAIMS = Path(__file__).resolve().parents[2] / "tests" / "data" / "scifact" / "claims.jsonl"
LICENCE = "CC BY-NC 2.0"
TOP_K = 10
STANCE_L2_GRID = (0.001, 0.01, 0.1)
VERDICT_L2_GRID = (0.01, 0.1, 1.0, 10.0)
RATIONALE_GRID = (0.4, 0.5, 0.6, 0.7, 0.8)
PER_PAPER_GRID = (1, 2, 3)
POSITION_GRID = (0.0, 0.2, 0.4)
FOLDS = 5


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def fit_softmax(
    features: numpy.ndarray,
    labels: numpy.ndarray,
    classes: int,
    *,
    l2: float = 1e-2,
    steps: int = 400,
    rate: float = 0.05,
) -> Softmax:
    """Class-balanced multinomial logistic regression by full-batch Adam; deterministic."""
    mean = features.mean(axis=0)
    scale = features.std(axis=0) + 1e-6
    x = (features - mean) / scale
    counts = numpy.bincount(labels, minlength=classes).astype(numpy.float64)
    sample_weight = (len(labels) / (classes * numpy.maximum(counts, 1)))[labels]
    sample_weight /= sample_weight.sum()
    onehot = numpy.eye(classes)[labels]
    weights = numpy.zeros((x.shape[1], classes))
    bias = numpy.zeros(classes)
    moments = [numpy.zeros_like(weights), numpy.zeros_like(bias)]
    squares = [numpy.zeros_like(weights), numpy.zeros_like(bias)]
    for step in range(1, steps + 1):
        logits = x @ weights + bias
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = numpy.exp(logits)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        error = (probabilities - onehot) * sample_weight[:, None]
        gradients = [x.T @ error + l2 * weights, error.sum(axis=0)]
        for parameter, gradient, moment, square in zip(
            (weights, bias), gradients, moments, squares, strict=True
        ):
            moment *= 0.9
            moment += 0.1 * gradient
            square *= 0.999
            square += 0.001 * gradient**2
            parameter -= rate * (moment / (1 - 0.9**step)) / (numpy.sqrt(square / (1 - 0.999**step)) + 1e-8)
    return Softmax(
        weights.astype(numpy.float32),
        bias.astype(numpy.float32),
        mean.astype(numpy.float32),
        scale.astype(numpy.float32),
    )


def _label(value: str) -> str:
    return "CONTRADICT" if value in ("CONTRADICT", "REFUTE", "REFUTES") else "SUPPORT"


def _rationale_positions(document: Document, indices: list[int]) -> set[int]:
    """Positions, in the connector's sentence split, of the labelled rationale sentences.

    With the abstract given as a list of sentences (`corpus_document`'s `metadata["sentences"]`) a split sentence
    counts when it covers half of a labelled one; with the abstract as one string the labelled indices are read
    in the connector's split directly."""
    title = paper_title(document.text, document.metadata)
    sentences = split_abstract_sentences(document.text, len(title) + 2 if title else 0)
    listed = document.metadata.get("sentences")
    if listed is None:
        return {i for i in indices if i < len(sentences)}
    found = set()
    for i in indices:
        if i >= len(listed) or listed[i][0] == listed[i][1]:
            continue
        start, end = listed[i]
        for position, segment in enumerate(sentences):
            if min(end, segment.end) - max(start, segment.start) >= (end - start) / 2:
                found.add(position)
    return found


def load_training_set(
    data: Path, evaluation: Path = EVALUATION_CLAIMS
) -> tuple[list[dict], list[dict], dict]:
    """Training claims (with their usable papers and rationale positions), the corpus rows and the exclusions."""
    if not evaluation.exists():
        raise FileNotFoundError(f"{evaluation}: the evaluation claims, needed to leave them out of training")
    held = _jsonl(evaluation)
    held_ids = {str(c["claim_id"]) for c in held}
    held_texts = {c["claim"].strip().lower() for c in held}
    held_docs = {str(d) for c in held for d in c.get("cited_doc_ids", [])} | {
        str(d) for c in held for d in c.get("evidence", {})
    }
    corpus = {str(row.get("doc_id", row.get("_id"))): row for row in _jsonl(data / "corpus.jsonl")}
    claims, excluded, missing = [], [], 0
    for row in _jsonl(data / "claims_train.jsonl"):
        claim_id, cited = str(row["id"]), [str(d) for d in row.get("cited_doc_ids", [])]
        if claim_id in held_ids or row["claim"].strip().lower() in held_texts or held_docs & set(cited):
            excluded.append(claim_id)
            continue
        papers = {}
        for doc_id in cited:
            if doc_id not in corpus:
                missing += 1
                continue
            document = corpus_document(corpus[doc_id])
            labels: dict[int, str] = {}
            for rationale in row.get("evidence", {}).get(doc_id, []):
                for position in _rationale_positions(document, rationale["sentences"]):
                    labels[position] = _label(rationale["label"])
            papers[doc_id] = labels
        if papers:
            claims.append({"claim_id": claim_id, "claim": row["claim"], "papers": papers})
    return claims, list(corpus.values()), {"excluded": excluded, "missing_papers": missing}


class _Workspace:
    """The training claims' papers indexed once; claims and their sentence features embedded once."""

    def __init__(self, claims: list[dict], rows: list[dict], embed: Callable) -> None:
        used = {doc_id for claim in claims for doc_id in claim["papers"]}
        documents = [corpus_document(row) for row in rows if str(row.get("doc_id", row.get("_id"))) in used]
        self.index = CorpusIndex(documents, embed)
        self.position = {item.document.document_id: p for p, item in enumerate(self.index.items)}
        self.claims = claims
        self.vectors = embed([claim["claim"] for claim in claims]) if claims else numpy.zeros((0, 384))
        self.features: dict[tuple[int, str], numpy.ndarray] = {}

    def sentence_features(self, n: int, doc_id: str) -> numpy.ndarray:
        key = (n, doc_id)
        if key not in self.features:
            position = self.position[doc_id]
            item = self.index.items[position]
            self.features[key] = stance_features(
                self.claims[n]["claim"],
                self.vectors[n],
                [s.text for s in item.sentences],
                self.index.sentence_vectors(position),
                item.document.text,
            )
        return self.features[key]

    def stance_examples(self, members: list[int]) -> tuple[numpy.ndarray, numpy.ndarray]:
        features, labels = [], []
        for n in members:
            for doc_id, gold in self.claims[n]["papers"].items():
                rows = self.sentence_features(n, doc_id)
                features.append(rows)
                labels.extend(STANCE_CLASSES.index(gold.get(i, "NEUTRAL")) for i in range(len(rows)))
        return numpy.vstack(features), numpy.asarray(labels, dtype=numpy.int64)


def claim_folds(claims: list[dict], folds: int = FOLDS) -> list[int]:
    """A fold per claim: claims citing a common paper (transitively) share one; groups largest first, each to
    the fold with fewest claims so far."""
    parent: dict[str, str] = {}

    def root(node: str) -> str:
        while parent.setdefault(node, node) != node:
            node = parent[node]
        return node

    for claim in claims:
        for doc_id in claim["papers"]:
            parent[root(f"claim:{claim['claim_id']}")] = root(f"paper:{doc_id}")
    groups: dict[str, list[int]] = {}
    for n, claim in enumerate(claims):
        groups.setdefault(root(f"claim:{claim['claim_id']}"), []).append(n)
    ordered = sorted(groups.values(), key=lambda members: (-len(members), members[0]))
    fold, sizes = [0] * len(claims), [0] * folds
    for members in ordered:
        k = min(range(folds), key=lambda j: (sizes[j], j))
        for n in members:
            fold[n] = k
        sizes[k] += len(members)
    return fold


def _verdict_of(claim: dict) -> str:
    labels = {label for gold in claim["papers"].values() for label in gold.values()}
    if not labels:
        return "NOT_ENOUGH_INFO"
    return "CONTRADICT" if labels == {"CONTRADICT"} else "SUPPORT"


def _macro_f1(pairs: list[tuple[str, str]]) -> float:
    f1s = []
    for cls in ("SUPPORT", "CONTRADICT", "NOT_ENOUGH_INFO"):
        tp = sum(1 for g, p in pairs if g == cls and p == cls)
        fp = sum(1 for g, p in pairs if g != cls and p == cls)
        fn = sum(1 for g, p in pairs if g == cls and p != cls)
        f1s.append(2 * tp / max(1, 2 * tp + fp + fn))
    return sum(f1s) / 3


Ruled = dict[int, tuple[str, list[tuple[int, int]], list[tuple[int, float]]]]


def _rules_evidence(space: _Workspace, members: list[int]) -> Ruled:
    """The rules' verdict, evidence (paper position, sentence index) and ranking (paper position, score) for each
    claim."""
    from connectors.literature.connector import verify_claim

    found = {}
    for n in members:
        claim = space.claims[n]
        result = verify_claim(space.index, claim["claim_id"], claim["claim"], space.vectors[n], TOP_K)
        evidence = []
        for entry in result["evidence"]:
            position = space.position[entry["document_id"]]
            starts = [s.start for s in space.index.items[position].sentences]
            evidence.append((position, starts.index(entry["span"]["start"])))
        ranking = [(space.position[entry["document_id"]], entry["score"]) for entry in result["ranking"]]
        found[n] = (result["verdict"], evidence, ranking)
    return found


# P(SUPPORT), P(CONTRADICT), P(NEUTRAL) of each sentence of a paper for a claim: from the claim's number, the
# paper's position in the index and its sentences' cues.
Stances = Callable[[int, int, numpy.ndarray], numpy.ndarray]


def softmax_stances(model_of: Callable[[int], Softmax]) -> Stances:
    """The stances of the stance model `model_of(n)` judging claim `n`."""
    return lambda n, position, features: model_of(n).probabilities(features)


def _stances(
    space: _Workspace, stances: Stances, n: int, position: int
) -> tuple[numpy.ndarray, numpy.ndarray]:
    features = space.sentence_features(n, space.index.items[position].document.document_id)
    return features, stances(n, position, features)


def _verdict_rows(space: _Workspace, stances: Stances, ruled: Ruled) -> numpy.ndarray:
    """`verdict_features` of every claim, with its `stances`."""
    rows = []
    for n, (_verdict, _evidence, ranking) in ruled.items():
        top = ranking[:VERDICT_PAPERS]
        papers = [_stances(space, stances, n, position) for position, _ in top]
        rows.append(verdict_features([score for _, score in ranking], papers))
    return numpy.vstack(rows)


def _verdict_cv(
    rows: numpy.ndarray, labels: numpy.ndarray, fold: list[int]
) -> tuple[float, list[str], float]:
    """The verdict model's L2 penalty by cross-validated macro-F1 (each claim judged by the model fitted on the
    other folds' rows): the penalty, the out-of-fold verdicts and their macro-F1."""
    folds = numpy.asarray(fold)
    best: tuple[float, list[str], float] | None = None
    for l2 in VERDICT_L2_GRID:
        predicted = numpy.zeros(len(labels), dtype=numpy.int64)
        for k in range(FOLDS):
            train_rows = folds != k
            if not train_rows.any() or train_rows.all():
                continue
            model = fit_softmax(rows[train_rows], labels[train_rows], len(VERDICTS), l2=l2)
            predicted[~train_rows] = model.probabilities(rows[~train_rows]).argmax(axis=1)
        verdicts = [VERDICTS[int(i)] for i in predicted]
        score = _macro_f1(list(zip((VERDICTS[int(i)] for i in labels), verdicts, strict=True)))
        if best is None or score > best[2] + 1e-9:
            best = (l2, verdicts, score)
    assert best is not None
    return best


def _score(
    space: _Workspace,
    stances: Stances | None,
    ruled: Ruled,
    thresholds: dict[str, float] | None,
    verdicts: list[str] | None = None,
) -> dict[str, float]:
    """Verdict macro-F1 and rationale F1 as the connector picks them (`connector._learned_verdict`): the verdict
    `verdicts[n]` (the rules' when None), no rationale for NOT_ENOUGH_INFO, else in the papers the rules'
    evidence rests on (or the top paper with the strongest evidence) the stance model's sentences; the rules'
    own verdict and sentences when `thresholds` is None."""
    pairs, tp, fp, fn = [], 0, 0, 0
    for n, (ruled_verdict, evidence, ranking) in ruled.items():
        claim = space.claims[n]
        verdict = ruled_verdict if verdicts is None else verdicts[n]
        chosen: set[tuple[str, int]] = set()
        if thresholds is None:
            chosen = {(space.index.items[p].document.document_id, i) for p, i in evidence}
        elif verdict != "NOT_ENOUGH_INFO":
            top = [position for position, _ in ranking[:VERDICT_PAPERS]]
            probabilities = {p: _stances(space, stances, n, p)[1] for p in top}
            ruled_sentences: dict[int, list[int]] = {}
            for p, i in evidence:
                ruled_sentences.setdefault(p, []).append(i)
            for position, indices in rationale_picks(top, probabilities, ruled_sentences, thresholds).items():
                chosen |= {(space.index.items[position].document.document_id, i) for i in indices}
        pairs.append((_verdict_of(claim), verdict))
        gold = {(doc_id, i) for doc_id, labels in claim["papers"].items() for i in labels}
        tp, fp, fn = tp + len(gold & chosen), fp + len(chosen - gold), fn + len(gold - chosen)
    return {"verdict_macro_f1": _macro_f1(pairs), "rationale_f1": 2 * tp / max(1, 2 * tp + fp + fn)}


def _tune(
    space: _Workspace, stances: Stances, ruled: Ruled, verdicts: list[str] | None
) -> tuple[dict[str, float], dict[str, float]]:
    """Thresholds maximising rationale F1 over all claims, each judged by the models that did not see it."""
    best: tuple[float, dict[str, float], dict[str, float]] | None = None
    for rationale in RATIONALE_GRID:
        for per_paper in PER_PAPER_GRID:
            for position in POSITION_GRID:
                thresholds = {"rationale": rationale, "per_paper": per_paper, "position": position}
                scores = _score(space, stances, ruled, thresholds, verdicts)
                if best is None or scores["rationale_f1"] > best[0] + 1e-9:
                    best = (scores["rationale_f1"], thresholds, scores)
    assert best is not None
    return best[1], best[2]


@dataclass
class Prepared:
    """The training claims' workspace, folds, the rules' verdicts, evidence and rankings, and gold verdicts."""

    space: _Workspace
    fold: list[int]
    ruled: Ruled
    labels: numpy.ndarray

    @classmethod
    def build(cls, claims: list[dict], rows: list[dict], embed: Callable) -> Prepared:
        space = _Workspace(claims, rows, embed)
        labels = numpy.asarray([VERDICTS.index(_verdict_of(claim)) for claim in claims], dtype=numpy.int64)
        return cls(space, claim_folds(claims), _rules_evidence(space, list(range(len(claims)))), labels)

    def gold_stance(self, n: int, position: int) -> list[str]:
        """The labelled stance (SUPPORT, CONTRADICT or NEUTRAL) of each sentence of a paper for claim `n`."""
        item = self.space.index.items[position]
        gold = self.space.claims[n]["papers"].get(item.document.document_id, {})
        return [gold.get(i, "NEUTRAL") for i in range(len(item.sentences))]

    def cross_validated(self, stances: Stances) -> dict:
        """The connector's steps over `stances`: the claims' `verdict_rows`, the verdict model's penalty
        (`verdict_l2`) and the rationale `thresholds` chosen by cross-validation, and the `scores` (verdict
        macro-F1 and rationale F1) they reach."""
        rows = _verdict_rows(self.space, stances, self.ruled)
        verdict_l2, verdicts, _ = _verdict_cv(rows, self.labels, self.fold)
        thresholds, scores = _tune(self.space, stances, self.ruled, verdicts)
        return {"verdict_rows": rows, "verdict_l2": verdict_l2, "thresholds": thresholds, "scores": scores}


def train(
    data: Path,
    out: Path | None = None,
    progress: Callable[[str], None] = lambda stage: None,
    *,
    embed: Callable | None = None,
    evaluation: Path = EVALUATION_CLAIMS,
) -> dict:
    """Fit the stance and verdict models on `data` (penalties and thresholds chosen by cross-validation), write
    them with their card and TRAINED_ON.txt to `out` (the shipped `weights/` by default) and return the card."""
    if embed is None:
        from inference.client import embed_local

        embed = embed_local
    out = WEIGHTS_DIR if out is None else Path(out)
    claims, rows, exclusions = load_training_set(Path(data), evaluation)
    if len(claims) < 10:
        raise ValueError(
            f"{data}: only {len(claims)} usable training claims (need claims_train.jsonl and corpus.jsonl)"
        )
    progress(f"literature: {len(claims)} training claims, {len(exclusions['excluded'])} left out; embedding")
    prepared = Prepared.build(claims, rows, embed)
    space, fold, ruled, labels = prepared.space, prepared.fold, prepared.ruled, prepared.labels
    everything = list(range(len(claims)))
    rules = _score(space, None, ruled, None)
    best: tuple[float, dict] | None = None
    for l2 in STANCE_L2_GRID:
        progress(f"literature: {FOLDS}-fold stance models at L2 {l2}")
        held_out_models = [
            fit_softmax(
                *space.stance_examples([n for n in everything if fold[n] != k]), len(STANCE_CLASSES), l2=l2
            )
            for k in range(FOLDS)
        ]
        held_out = softmax_stances(lambda n, models=held_out_models: models[fold[n]])
        _, rules_verdict_scores = _tune(space, held_out, ruled, None)
        run = {
            "stance_l2": l2,
            **prepared.cross_validated(held_out),
            "rules_verdict_rationale_f1": rules_verdict_scores["rationale_f1"],
        }
        total = run["scores"]["verdict_macro_f1"] + run["scores"]["rationale_f1"]
        if best is None or total > best[0] + 1e-9:
            best = (total, run)
    assert best is not None
    chosen = best[1]
    progress(
        f"literature: stance L2 {chosen['stance_l2']}, verdict L2 {chosen['verdict_l2']}, thresholds "
        f"{chosen['thresholds']}, cross-validated {chosen['scores']}; fitting on all claims"
    )
    stance = fit_softmax(*space.stance_examples(everything), len(STANCE_CLASSES), l2=chosen["stance_l2"])
    verdict = fit_softmax(chosen["verdict_rows"], labels, len(VERDICTS), l2=chosen["verdict_l2"])
    fitted = softmax_stances(lambda n: stance)
    in_sample = verdict.probabilities(_verdict_rows(space, fitted, ruled)).argmax(axis=1)
    training_scores = _score(
        space, fitted, ruled, chosen["thresholds"], [VERDICTS[int(i)] for i in in_sample]
    )
    card = {
        "model": "literature stance (SUPPORT/CONTRADICT/NEUTRAL per claim-sentence pair) and claim verdict "
        "(SUPPORT/CONTRADICT/NOT_ENOUGH_INFO)",
        "encoder": "all-MiniLM-L6-v2 (bundled), frozen",
        "heads": "a softmax regression in numpy over 28 cues per claim-sentence pair (MiniLM cosine, word overlap, "
        "the rules' contrast cues, signed direction and negation agreement, hedges, section and position); a "
        "softmax regression over the top three papers' stances (17 features) gives the verdict; the stance "
        "evidence (1 - P(NEUTRAL)) picks the rationale sentences; the rules rank the papers",
        "dataset": "SciFact (Wadden et al., EMNLP 2020), claims_train.jsonl and corpus.jsonl",
        "licence": LICENCE,
        "non_commercial": True,
        "split": "train claims only; evaluation claims and claims citing their papers left out",
        "folds": f"{FOLDS}-fold cross-validation, claims citing a common paper in one fold",
        "claims": len(claims),
        "papers": len(space.index.items),
        "sentences": int(sum(len(item.sentences) for item in space.index.items)),
        "excluded_claims": sorted(exclusions["excluded"], key=int),
        "missing_papers": exclusions["missing_papers"],
        "stance_l2": chosen["stance_l2"],
        "verdict_l2": chosen["verdict_l2"],
        "cross_validated_scores": {
            **{k: round(v, 4) for k, v in chosen["scores"].items()},
            "rules_verdict_macro_f1": round(rules["verdict_macro_f1"], 4),
            "rules_rationale_f1": round(rules["rationale_f1"], 4),
            "rules_verdict_learned_rationale_f1": round(chosen["rules_verdict_rationale_f1"], 4),
        },
        "training_scores": {k: round(v, 4) for k, v in training_scores.items()},
    }
    save_model(LiteratureModel(stance, verdict, chosen["thresholds"], card), out)
    (out / "TRAINED_ON.txt").write_text(
        "".join(f"claims_train.jsonl:{c['claim_id']}\n" for c in claims)
        + "".join(f"corpus.jsonl:{item.document.document_id}\n" for item in space.index.items)
    )
    return {**card, "thresholds": chosen["thresholds"], "out": str(out)}
