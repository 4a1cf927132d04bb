"""What the literature pipeline would score with better stances: cross-validated verdict macro-F1 and rationale
F1 on SciFact's training claims when the stance model is replaced by the labelled stances, degraded to a given
accuracy.

The connector's steps after the stance model stay as `train literature` runs them (the rules' ranking and
rationale papers, the verdict model and its penalty, the rationale thresholds, all chosen by the same
cross-validation). Two numbers describe a stance model here: how often P(SUPPORT) > P(CONTRADICT) is right on
the labelled rationale sentences ("S vs C"), and how well its evidence, 1 - P(NEUTRAL), ranks those sentences
above the other sentences of the cited papers (AUC). The first row is the shipped stance model's procedure
(fold models at the card's L2 penalty) measured the same way; each synthetic row keeps a labelled sentence's
stance with probability `accuracy` (else swaps SUPPORT and CONTRADICT), at a confidence drawn from 0.6 to 1, and
draws evidence from Beta(1 + 4s, 1) for rationale sentences and Beta(1, 1 + 4s) for the others, s the
separation. Errors here are independent from sentence to sentence, where a model's are not, so the synthetic
rows are a ceiling for a stance model of that S vs C and AUC.

    python benchmarks/literature_ceiling.py --data DIR [--accuracy 0.67,0.85,1.0] [--separation 0.3,0.5,1.0]

DIR holds SciFact's `claims_train.jsonl` and `corpus.jsonl` (docs/training.md says where to get them).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connectors.literature.learned import STANCE_CLASSES, read_shipped  # noqa: E402
from connectors.literature.training import (  # noqa: E402
    FOLDS,
    Prepared,
    Stances,
    fit_softmax,
    load_training_set,
    softmax_stances,
)


def synthetic(prepared: Prepared, accuracy: float, separation: float, seed: int) -> Stances:
    def stances(n: int, position: int, features: numpy.ndarray) -> numpy.ndarray:
        rng = numpy.random.default_rng([seed, n, position])
        rows = []
        for label in prepared.gold_stance(n, position):
            if label == "NEUTRAL":
                evidence, support = rng.beta(1, 1 + 4 * separation), rng.uniform()
            else:
                evidence, kept, confidence = (
                    rng.beta(1 + 4 * separation, 1),
                    rng.uniform(),
                    rng.uniform(0.6, 1),
                )
                said = label if kept < accuracy else ("CONTRADICT" if label == "SUPPORT" else "SUPPORT")
                support = confidence if said == "SUPPORT" else 1 - confidence
            rows.append([evidence * support, evidence * (1 - support), 1 - evidence])
        return numpy.asarray(rows).reshape(-1, 3)

    return stances


def stance_quality(prepared: Prepared, stances: Stances) -> tuple[float, float]:
    """S vs C accuracy on the labelled rationale sentences and the evidence's AUC against the cited papers'
    other sentences."""
    space = prepared.space
    right, rationale, other = 0, [], []
    for n, claim in enumerate(space.claims):
        for doc_id in claim["papers"]:
            position = space.position[doc_id]
            probabilities = stances(n, position, space.sentence_features(n, doc_id))
            for label, row in zip(prepared.gold_stance(n, position), probabilities, strict=True):
                if label == "NEUTRAL":
                    other.append(1 - row[2])
                    continue
                rationale.append(1 - row[2])
                right += (row[0] > row[1]) == (label == "SUPPORT")
    scores = numpy.asarray(rationale + other)
    ranks = numpy.empty(len(scores))
    ranks[numpy.argsort(scores, kind="stable")] = numpy.arange(1, len(scores) + 1)
    positives = len(rationale)
    auc = (ranks[:positives].sum() - positives * (positives + 1) / 2) / (positives * len(other))
    return right / max(1, positives), float(auc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", required=True, type=Path, help="SciFact's claims_train.jsonl and corpus.jsonl"
    )
    parser.add_argument(
        "--accuracy", default="0.67,0.75,0.85,0.95,1.0", help="S vs C accuracies, comma-separated"
    )
    parser.add_argument(
        "--separation", default="0.2,0.3,0.4,0.5,1.0", help="evidence separations, comma-separated"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    missing = [name for name in ("claims_train.jsonl", "corpus.jsonl") if not (args.data / name).is_file()]
    if missing:
        parser.error(
            f"{args.data} has no {' or '.join(missing)}: --data needs SciFact's claims_train.jsonl and "
            "corpus.jsonl (data.tar.gz of https://github.com/allenai/scifact; docs/training.md)"
        )
    from inference.client import embed_local

    started = time.perf_counter()
    claims, rows, _ = load_training_set(args.data)
    prepared = Prepared.build(claims, rows, embed_local)
    l2 = read_shipped().card["stance_l2"]
    everything = range(len(claims))
    models = [
        fit_softmax(
            *prepared.space.stance_examples([n for n in everything if prepared.fold[n] != k]),
            len(STANCE_CLASSES),
            l2=l2,
        )
        for k in range(FOLDS)
    ]
    print(
        f"{len(claims)} training claims, {FOLDS} folds, prepared in {time.perf_counter() - started:.0f} s\n"
    )
    print("| stances | S vs C on rationale | evidence AUC | verdict macro-F1 | rationale F1 |")
    print("|---|---|---|---|---|")
    runs = [
        (f"shipped procedure (fold models, L2 {l2:g})", softmax_stances(lambda n: models[prepared.fold[n]]))
    ]
    for accuracy in (float(a) for a in args.accuracy.split(",")):
        for separation in (float(s) for s in args.separation.split(",")):
            runs.append(
                (
                    f"labelled, accuracy {accuracy:g}, separation {separation:g}",
                    synthetic(prepared, accuracy, separation, args.seed),
                )
            )
    for name, stances in runs:
        accuracy, auc = stance_quality(prepared, stances)
        scores = prepared.cross_validated(stances)["scores"]
        print(
            f"| {name} | {accuracy:.3f} | {auc:.3f} | {scores['verdict_macro_f1']:.3f} | "
            f"{scores['rationale_f1']:.3f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
