"""A learned claim-sentence stance model over MiniLM similarities, word overlap and contrast cues, and a
claim-level verdict over the stances of the top papers.

The rules rank the papers. The stance model, a softmax regression in numpy over 28 cues per sentence
(`lexical_features`), gives each sentence of the top papers P(SUPPORT), P(CONTRADICT), P(NEUTRAL); the verdict
model, a softmax regression over those stances summed up per paper (`verdict_features`), gives the verdict; the
stance model's evidence (1 - P(NEUTRAL)) picks the rationale sentences. The weights are rebuilt by
`connectors.literature.training` from SciFact's training claims and shipped in `weights/`; without them
(`load_model()` is None) the connector keeps its rules.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy

from common.licences import ShippedModel
from connectors.literature.retrieval import CorpusIndex, content_words
from connectors.literature.verdict import DIRECTIONS, NEGATION, NO_EFFECT, contrasts

WEIGHTS_DIR = Path(__file__).parent / "weights"
STANCE_CLASSES = ("SUPPORT", "CONTRADICT", "NEUTRAL")
VERDICTS = ("SUPPORT", "CONTRADICT", "NOT_ENOUGH_INFO")
CUES = 28
VERDICT_PAPERS = 3
PAPER_CUES = 5
SOFTMAX_PARTS = ("weights", "bias", "mean", "scale")
_NEGATION = re.compile(r"\b(?:not|no|never|without|lack\w*|absence|fail\w*|unable|cannot|none)\b|n't\b", re.I)
_BACKGROUND = re.compile(
    r"^(?:BACKGROUND|OBJECTIVES?|AIMS?|PURPOSE|INTRODUCTION|CONTEXT)\b|\blittle is known\b|\b(?:we|this study) "
    r"(?:aimed|sought|set out)\b|\bto (?:investigate|explore|determine|assess|examine|evaluate)\b",
    re.IGNORECASE,
)
_RESULT = re.compile(
    r"\b(?:we (?:found|show|showed|demonstrate|observed|report)|results?|conclusions?|significantly|"
    r"associated with|these (?:findings|data|results)|suggest\w*|indicat\w*)\b",
    re.IGNORECASE,
)
_HEDGE = re.compile(r"\b(?:may|might|could|suggest\w*|possibl\w*|potential\w*|likely)\b", re.IGNORECASE)
_STATISTICS = re.compile(r"\b(?:significant\w*|p\s*[<=]|odds ratio|hazard ratio|95%|CI)\b", re.IGNORECASE)


def _directions(text: str) -> numpy.ndarray:
    """Per antonym pair of `verdict.ANTONYMS`: +1 when only the first side occurs, -1 when only the second."""
    return numpy.array(
        [float(bool(up.search(text))) - float(bool(down.search(text))) for up, down in DIRECTIONS]
    )


def _polarity_cues(claim: str, sentence: str) -> list[float]:
    """Signed agreement of the claim's and the sentence's directions, negation parity, no-effect, hedges."""
    claim_directions, directions = _directions(claim), _directions(sentence)
    agreement = claim_directions * directions
    flipped = len(NEGATION.findall(claim)) % 2 != len(NEGATION.findall(sentence)) % 2
    claim_no_effect, no_effect = bool(NO_EFFECT.search(claim)), bool(NO_EFFECT.search(sentence))
    signed = float(agreement.sum())
    return [
        signed,
        float((agreement > 0).sum()),
        float((agreement < 0).sum()),
        -signed if flipped else signed,
        float(flipped),
        float(claim_no_effect and not no_effect),
        float(no_effect and not claim_no_effect and bool(claim_directions.any())),
        float(bool(_HEDGE.search(sentence))),
        float(bool(_STATISTICS.search(sentence))),
        float(numpy.abs(directions).sum()),
    ]


def _overlap(claim_words: set[str], words: set[str]) -> tuple[float, float]:
    shared = len(claim_words & words)
    return shared / max(1, len(claim_words)), shared / max(1, len(words))


def lexical_features(
    claim: str, sentences: list[str], context: str, similarities: numpy.ndarray
) -> numpy.ndarray:
    """Per-sentence similarity, overlap, contrast, polarity, section and position cues of one paper against one
    claim."""
    claim_words = set(content_words(claim))
    claim_negated = float(bool(_NEGATION.search(claim)))
    count = len(sentences)
    best = float(similarities.max()) if count else 0.0
    rows = []
    for position, sentence in enumerate(sentences):
        found = contrasts(claim, sentence, context)
        odd = float(len(found) % 2)
        similarity = float(similarities[position])
        forward, backward = _overlap(claim_words, set(content_words(sentence)))
        rows.append(
            [
                similarity,
                similarity - best,
                forward,
                backward,
                float(len(found)),
                odd,
                odd * similarity,
                odd * forward,
                float(any(f.startswith("direction") for f in found)),
                float("negation" in found),
                float("no_effect" in found),
                float("numbers" in found),
                claim_negated,
                float(bool(_NEGATION.search(sentence))),
                float(bool(_BACKGROUND.search(sentence))),
                float(bool(_RESULT.search(sentence))),
                position / max(1, count - 1),
                float(position == count - 1),
                *_polarity_cues(claim, sentence),
            ]
        )
    return numpy.asarray(rows, dtype=numpy.float32).reshape(count, CUES)


def stance_features(
    claim: str,
    claim_vector: numpy.ndarray,
    sentences: list[str],
    sentence_vectors: numpy.ndarray,
    context: str,
) -> numpy.ndarray:
    """One row of `lexical_features` per sentence, with the sentences' cosine to the claim."""
    return lexical_features(claim, sentences, context, sentence_vectors @ claim_vector)


@dataclass
class Softmax:
    """Multinomial logistic regression on standardised features."""

    weights: numpy.ndarray
    bias: numpy.ndarray
    mean: numpy.ndarray
    scale: numpy.ndarray

    def probabilities(self, features: numpy.ndarray) -> numpy.ndarray:
        logits = ((features - self.mean) / self.scale) @ self.weights + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = numpy.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)


@dataclass
class LiteratureModel:
    stance: Softmax
    verdict: Softmax | None
    thresholds: dict[str, float]
    card: dict


def save_model(model: LiteratureModel, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    heads = {"stance": model.stance, "verdict": model.verdict}
    arrays = {
        f"{name}_{part}": getattr(head, part).astype(numpy.float32)
        for name, head in heads.items()
        if head is not None
        for part in SOFTMAX_PARTS
    }
    numpy.savez_compressed(directory / "literature.npz", **arrays)
    (directory / "literature.json").write_text(
        json.dumps({**model.card, "thresholds": model.thresholds}, indent=2) + "\n"
    )


def read_model(directory: Path) -> LiteratureModel | None:
    arrays_path, card_path = directory / "literature.npz", directory / "literature.json"
    if not arrays_path.exists() or not card_path.exists():
        return None
    with numpy.load(arrays_path) as arrays:
        stance = Softmax(*(arrays[f"stance_{part}"] for part in SOFTMAX_PARTS))
        verdict = (
            Softmax(*(arrays[f"verdict_{part}"] for part in SOFTMAX_PARTS))
            if "verdict_weights" in arrays
            else None
        )
    card = json.loads(card_path.read_text())
    return LiteratureModel(stance, verdict, card.pop("thresholds"), card)


@lru_cache(maxsize=1)
def read_shipped() -> LiteratureModel:
    """The shipped weights, read once per process."""
    return read_model(WEIGHTS_DIR)


def load_model() -> LiteratureModel | None:
    """The shipped weights, or None when they are absent or the deployment withholds them by the licences of their
    training data (`common.licences`; asked on every call, so a changed setting holds at once)."""
    return read_shipped() if provenance().loaded else None


def provenance() -> ShippedModel:
    """The weights' provenance; `non_commercial` is their card's mark (absent weights count as unmarked)."""
    card_path = WEIGHTS_DIR / "literature.json"
    card = json.loads(card_path.read_text()) if card_path.exists() else {}
    return ShippedModel(
        key="literature-stance",
        purpose="claim-sentence stance (support, contradict, neutral) and claim verdicts over the top papers",
        connectors=("literature",),
        data=card.get("dataset", "SciFact (Wadden et al., EMNLP 2020), training claims"),
        licences=(card.get("licence", "CC BY-NC 2.0"),),
        weights=WEIGHTS_DIR / "literature.npz",
        non_commercial=bool(card.get("non_commercial", False)),
        fallback="the rules",
    )


def paper_stances(
    model: LiteratureModel, index: CorpusIndex, position: int, claim: str, claim_vector: numpy.ndarray
) -> tuple[numpy.ndarray, numpy.ndarray]:
    """One paper's (sentences, CUES) cues and (sentences, 3) probabilities of SUPPORT, CONTRADICT, NEUTRAL."""
    item = index.items[position]
    if not item.sentences:
        return numpy.zeros((0, CUES), numpy.float32), numpy.zeros((0, 3), numpy.float32)
    sentences = [s.text for s in item.sentences]
    features = stance_features(
        claim, claim_vector, sentences, index.sentence_vectors(position), item.document.text
    )
    return features, model.stance.probabilities(features)


def verdict_features(scores: list[float], papers: list[tuple[numpy.ndarray, numpy.ndarray]]) -> numpy.ndarray:
    """One row for the verdict model from the ranking scores and the top `VERDICT_PAPERS` papers' (cues,
    stances), in rank order: the first paper's score and its lead over the second, then per paper (zeros where
    there is none, or no sentence) its best evidence, its best cosine to the claim, the evidence-weighted
    share of P(CONTRADICT) over its two strongest sentences, and P(SUPPORT), P(CONTRADICT) of the strongest."""
    first = scores[0] if scores else 0.0
    row = [first, first - scores[1] if len(scores) > 1 else first]
    for features, probabilities in papers[:VERDICT_PAPERS]:
        if not len(probabilities):
            row.extend([0.0] * PAPER_CUES)
            continue
        evidence = 1 - probabilities[:, 2]
        strongest = numpy.argsort(-evidence, kind="stable")[:2]
        weight = evidence[strongest]
        share = probabilities[strongest, 1] / (
            probabilities[strongest, 0] + probabilities[strongest, 1] + 1e-9
        )
        row.extend(
            [
                float(evidence.max()),
                float(features[:, 0].max()),
                float((weight * share).sum() / (weight.sum() + 1e-9)),
                float(probabilities[strongest[0], 0]),
                float(probabilities[strongest[0], 1]),
            ]
        )
    row.extend([0.0] * PAPER_CUES * (VERDICT_PAPERS - min(len(papers), VERDICT_PAPERS)))
    return numpy.asarray([row], dtype=numpy.float32)


def rationale_indices(probabilities: numpy.ndarray, thresholds: dict[str, float]) -> list[int]:
    """The paper's sentences, at most `per_paper`, whose evidence (1 - P(NEUTRAL)) reaches `rationale`, in order.

    They are ranked by evidence plus `position` times the sentence's relative place in the abstract (0 first,
    1 last), a prior for the results and conclusions that close an abstract."""
    count = len(probabilities)
    if not count:
        return []
    evidence = 1 - probabilities[:, 2]
    ranked = evidence + thresholds.get("position", 0.0) * numpy.arange(count) / max(1, count - 1)
    best = numpy.argsort(-ranked, kind="stable")[: int(thresholds["per_paper"])]
    return sorted(int(i) for i in best if evidence[i] >= thresholds["rationale"])


def rationale_picks(
    top: list[int],
    stances: dict[int, numpy.ndarray],
    ruled: dict[int, list[int]],
    thresholds: dict[str, float],
) -> dict[int, list[int]]:
    """The rationale sentences per paper: `top` are the top papers' positions, `stances` their sentences'
    probabilities, `ruled` the sentences the rules' evidence rests on per paper (in order). The papers are the
    rules' or, where the rules find none, the top paper with the strongest evidence; in each, `rationale_indices`,
    else the rules' sentences, else the strongest one."""
    papers = list(ruled)
    if not papers:
        with_sentences = [p for p in top if len(stances[p])]
        papers = (
            [max(with_sentences, key=lambda p: float((1 - stances[p][:, 2]).max()))] if with_sentences else []
        )
    return {
        p: rationale_indices(stances[p], thresholds)
        or ruled.get(p, [])
        or [int(numpy.argmin(stances[p][:, 2]))]
        for p in papers
    }
