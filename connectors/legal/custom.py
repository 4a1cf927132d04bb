"""Custom clause types: a tenant's own clause, learned from its example passages.

A head is an L2-regularised logistic regression over a passage's bundled MiniLM embedding and the TF-IDF of
the words and word bigrams that at least two of its examples share (its `Lexicon`). Training takes the
positives, the negatives (counter-examples, and the tenant's own paragraphs and `GENERIC_PARAGRAPHS` that are
not near a positive), reports cross-validated precision and recall, and returns the weights as plain JSON;
scoring splits a document into passages and keeps those the head accepts. No Django here: the platform stores
heads, trains them in a worker and hands them to a run by key.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy
from threadpoolctl import threadpool_limits

from connectors.base import Embed
from connectors.legal.learned import sentence_terms, term_weights
from connectors.spans import trimmed_span
from connectors.text import split_paragraphs, split_sentences

MIN_EXAMPLES = 10
MAX_EXAMPLES = 500
MAX_EXAMPLE_CHARS = 5000
MAX_FOLDS = 5
L2 = 0.3
THRESHOLD = 0.7
NEAR_POSITIVE = 0.6
NEAR_DUPLICATE = 0.95
MAX_FINDINGS = 5
NEAR_MISSES = 10
MIN_TERM_EXAMPLES = 2
MAX_TERMS = 1000
PASSAGE_CHARS = 700
ENCODER = "all-MiniLM-L6-v2"
KEY_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,59}\Z")
LEADING_NUMBER = re.compile(r"^\W*(?:[a-z]|[ivxlc]+)[).:\]]\s", re.IGNORECASE)
LETTERS = re.compile(r"[^\W\d_]+")
T = TypeVar("T")

GENERIC_PARAGRAPHS = (
    "This Agreement shall be governed by and construed in accordance with the laws of the State of New York, "
    "without regard to its conflict of laws principles.",
    "Each party shall bear its own costs and expenses incurred in connection with the negotiation and "
    "execution of this Agreement.",
    "All notices under this Agreement shall be in writing and delivered by hand, by courier or by certified "
    "mail to the addresses set out above.",
    "This Agreement constitutes the entire agreement between the parties and supersedes all prior "
    "agreements and understandings, whether written or oral.",
    "No amendment or modification of this Agreement shall be valid unless made in writing and signed by "
    "authorised representatives of both parties.",
    "If any provision of this Agreement is held invalid or unenforceable, the remaining provisions shall "
    "continue in full force and effect.",
    "Neither party may assign this Agreement without the prior written consent of the other party, which "
    "shall not be unreasonably withheld.",
    "The Customer shall pay all invoices within thirty (30) days of the invoice date. Late payments bear "
    "interest at one percent per month.",
    "Each party shall keep confidential all information disclosed by the other party and use it only for "
    "the purposes of this Agreement.",
    "This Agreement may be executed in counterparts, each of which shall be deemed an original and all of "
    "which together constitute one instrument.",
    "The term of this Agreement begins on the Effective Date and continues for three (3) years unless "
    "terminated earlier as provided herein.",
    "Either party may terminate this Agreement upon written notice if the other party materially breaches "
    "it and fails to cure the breach within thirty days.",
    "The Supplier warrants that the Products will conform to the Specifications for a period of twelve "
    "months from delivery.",
    "In no event shall either party's aggregate liability under this Agreement exceed the fees paid in the "
    "twelve months preceding the claim.",
    "The Licensee shall maintain complete and accurate records and permit the Licensor to audit them once "
    "per calendar year on reasonable notice.",
    "The Distributor shall purchase the minimum quantities set out in Schedule B during each contract year.",
    "The Consultant is an independent contractor, and nothing in this Agreement creates a partnership, joint "
    "venture or employment relationship.",
    "The headings in this Agreement are for convenience only and shall not affect its interpretation.",
    "No waiver of any breach shall be deemed a waiver of any other or subsequent breach.",
    "Each party shall maintain commercial general liability insurance with limits of not less than one "
    "million dollars per occurrence.",
    "The Licensor grants the Licensee a non-exclusive, non-transferable licence to use the Software in the "
    "Territory during the Term.",
    "All intellectual property rights in the deliverables shall vest in the Company upon payment in full.",
    "Any dispute arising out of this Agreement shall be finally settled by arbitration in London under the "
    "rules of the London Court of International Arbitration.",
    "The Company shall indemnify and hold harmless the Contractor against all claims arising from the "
    "Company's negligence.",
    "IN WITNESS WHEREOF, the parties have executed this Agreement as of the date first written above.",
    "Prices are exclusive of value added tax and other applicable taxes, which the Customer shall pay in "
    "addition.",
    "During the Term and for one year thereafter, the Employee shall not solicit any employee of the Company "
    "to leave its employment.",
    "Delivery shall be made DDP to the Buyer's facility, and title and risk pass to the Buyer upon delivery.",
    "The Service Provider shall meet the service levels in Exhibit C and credit the fees described there for "
    "any failure.",
    "Upon termination, each party shall return or destroy the other party's Confidential Information.",
    "This Agreement is made between Acme Corporation, a Delaware corporation, and Beta LLC, a California "
    "limited liability company.",
    "The Purchaser shall have the right to inspect the goods within ten business days of receipt and reject "
    "non-conforming goods.",
)


class HeadError(ValueError):
    """Training input that cannot make a head; `param` names the input at fault."""

    def __init__(self, message: str, param: str):
        super().__init__(message)
        self.param = param


class TrainingTooLong(Exception):
    """Training was still running at the deadline it was given."""


@dataclass(frozen=True)
class Passages:
    """Passages' texts and their encoder vectors, row for row."""

    texts: list[str]
    vectors: numpy.ndarray

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.vectors):
            raise ValueError(f"{len(self.texts)} texts but {len(self.vectors)} vectors")

    def __len__(self) -> int:
        return len(self.texts)

    def where(self, keep: numpy.ndarray) -> Passages:
        return Passages([t for t, k in zip(self.texts, keep, strict=True) if k], self.vectors[keep])

    @staticmethod
    def joined(*parts: Passages) -> Passages:
        return Passages([t for part in parts for t in part.texts], numpy.vstack([p.vectors for p in parts]))


@dataclass(frozen=True)
class Lexicon:
    """The words and word bigrams a head reads beside the encoder's vector, with their IDF: a passage's
    features are its sublinear TF-IDF over these terms, L2-normalised. Empty for heads trained before it."""

    terms: tuple[str, ...] = ()
    idf: numpy.ndarray = field(default_factory=lambda: numpy.zeros(0, dtype=numpy.float32))

    @classmethod
    def learned(cls, examples: Sequence[str], others: Sequence[str]) -> Lexicon:
        """The terms at least `MIN_TERM_EXAMPLES` examples share, at most the `MAX_TERMS` most examples share
        (ties in the terms' order), their smoothed IDF over all the passages."""
        example_terms = [set(_terms(text)) for text in examples]
        shared = Counter(term for terms in example_terms for term in terms)
        common = sorted(
            (term for term, count in shared.items() if count >= MIN_TERM_EXAMPLES),
            key=lambda term: (-shared[term], term),
        )
        kept = tuple(sorted(common[:MAX_TERMS]))
        seen = dict.fromkeys(kept, 0)
        for terms in [*example_terms, *(set(_terms(text)) for text in others)]:
            for term in terms & seen.keys():
                seen[term] += 1
        total = len(examples) + len(others)
        idf = numpy.asarray([numpy.log((1 + total) / (1 + seen[t])) + 1 for t in kept], dtype=numpy.float32)
        return cls(kept, idf)

    def features(self, texts: Sequence[str]) -> numpy.ndarray:
        matrix = numpy.zeros((len(texts), len(self.terms)), dtype=numpy.float32)
        if self.terms:
            columns = {term: index for index, term in enumerate(self.terms)}
            for row, text in enumerate(texts):
                found, values = term_weights(_terms(text), columns, self.idf)
                matrix[row, found] = values
        return matrix


def _terms(text: str) -> list[str]:
    return sentence_terms(text, "")


@dataclass(frozen=True)
class ClauseHead:
    """A trained custom clause type: its key, name, and the logistic regression over the encoder's vector and
    the lexicon's TF-IDF of a passage. `clause_type_id` and `version` name the training: a type deleted and
    created again under its key starts at version 1 again, under another id."""

    key: str
    name: str
    coef: numpy.ndarray
    intercept: float
    threshold: float = THRESHOLD
    version: int = 1
    lexicon: Lexicon = field(default_factory=Lexicon)
    clause_type_id: str = ""

    @classmethod
    def from_json(cls, key: str, name: str, weights: dict, *, clause_type_id: str = "") -> ClauseHead:
        return cls(
            key=key,
            name=name,
            clause_type_id=clause_type_id,
            coef=numpy.asarray(weights["coef"], dtype=numpy.float32),
            intercept=float(weights["intercept"]),
            threshold=float(weights.get("threshold", THRESHOLD)),
            version=int(weights.get("version", 1)),
            lexicon=Lexicon(
                tuple(weights.get("terms", ())), numpy.asarray(weights.get("idf", ()), dtype=numpy.float32)
            ),
        )

    def probabilities(self, passages: Passages) -> numpy.ndarray:
        return _sigmoid(_design(passages, self.lexicon) @ self.coef + self.intercept)


def _design(passages: Passages, lexicon: Lexicon) -> numpy.ndarray:
    vectors = numpy.asarray(passages.vectors, dtype=numpy.float32)
    return numpy.hstack([vectors, lexicon.features(passages.texts)])


@dataclass(frozen=True)
class TrainedHead:
    weights: dict
    precision: float
    recall: float
    positives: int
    negatives: int
    folds: int


def folded(text: str) -> str:
    """A passage as it is stored and compared: runs of whitespace folded to one space, ends trimmed."""
    return " ".join(text.split())


def distinct_text(text: str) -> str:
    """What tells a passage from its near-duplicates: its words in lower case, without numbers, punctuation or a
    leading enumerator ("(a)", "iv."), so a passage numbered (1) to (10) or written in capitals is one."""
    return " ".join(LETTERS.findall(LEADING_NUMBER.sub("", text).casefold()))


def distinct_count(texts: Iterable[str]) -> int:
    """How many different passages `texts` holds, near-duplicates by `distinct_text` counting once."""
    return len({distinct_text(text) for text in texts})


def near_duplicate_groups(passages: Passages) -> numpy.ndarray:
    """Each passage's group, the index of its group's first passage: passages with the same `distinct_text` or
    vectors at a cosine of `NEAR_DUPLICATE` or more are one group, and so is any chain of them."""
    count = len(passages)
    keys: dict[str, int] = {}
    key = numpy.asarray(
        [keys.setdefault(distinct_text(t), len(keys)) for t in passages.texts], dtype=numpy.int32
    )
    vectors = numpy.asarray(passages.vectors, dtype=numpy.float32).reshape(count, -1)
    unit = vectors / numpy.maximum(numpy.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    near = (unit @ unit.T >= NEAR_DUPLICATE) | (key[:, None] == key[None, :])
    groups = numpy.arange(count, dtype=numpy.int32)
    while True:
        lowest = numpy.where(near, groups[None, :], numpy.int32(count)).min(axis=1)
        lowest = lowest[lowest]
        if numpy.array_equal(lowest, groups):
            return groups
        groups = lowest


def check_examples(examples: object, param: str, *, minimum: int = 0) -> list[str]:
    """The passages of `examples`, whitespace folded, in order; HeadError naming `param` (or `param.<i>`) for
    anything else, and for fewer than `minimum` different passages (near-duplicates count once: one pasted ten
    times, numbered (1) to (10) or in other capitals is one example)."""
    if not isinstance(examples, list | tuple):
        raise HeadError("give a list of passages", param)
    checked = []
    for index, passage in enumerate(examples):
        if not isinstance(passage, str) or not passage.strip():
            raise HeadError("a passage must be non-empty text", f"{param}.{index}")
        text = folded(passage)
        if len(text) > MAX_EXAMPLE_CHARS:
            raise HeadError(
                f"a passage is at most {MAX_EXAMPLE_CHARS} characters (runs of blanks counting as one)",
                f"{param}.{index}",
            )
        checked.append(text)
    if len(checked) > MAX_EXAMPLES:
        raise HeadError(f"give at most {MAX_EXAMPLES} passages; got {len(checked)}", param)
    different = distinct_count(checked)
    if different < minimum:
        raise HeadError(f"give at least {minimum} different example passages; got {different}", param)
    return checked


def example_vectors(texts: Sequence[str], embed: Embed) -> numpy.ndarray:
    """The vectors of examples or counter-examples as a head reads passages: a text of several `passages` (one
    over about `PASSAGE_CHARS` characters) is the normalised mean of its passages' vectors, since the encoder
    reads at most the first 256 word pieces of a text (about 1,200 characters of contract prose)."""
    pieces: list[str] = []
    owners: list[int] = []
    for index, text in enumerate(texts):
        units = passages(text)
        parts = [text[start:end] for start, end in units] if len(units) > 1 else [text]
        pieces.extend(parts)
        owners.extend([index] * len(parts))
    vectors = numpy.asarray(embed(pieces), dtype=numpy.float32)
    summed = numpy.zeros((len(texts), vectors.shape[1]), dtype=numpy.float32)
    numpy.add.at(summed, owners, vectors)
    split = numpy.bincount(owners, minlength=len(texts)) > 1
    summed[split] /= numpy.maximum(numpy.linalg.norm(summed[split], axis=1, keepdims=True), 1e-12)
    return summed


def check_key(key: object, param: str = "key") -> str:
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        raise HeadError(
            "a key is 1-60 characters of lower-case letters, digits and _, starting with a letter", param
        )
    return key


def negatives_from(own: Passages, positives: Passages, *, near: float = NEAR_POSITIVE) -> Passages:
    """The passages of `own` (a tenant's paragraphs) whose cosine to every positive is below `near`."""
    if len(own) == 0:
        return own
    similarity = numpy.asarray(own.vectors, dtype=numpy.float32) @ numpy.asarray(positives.vectors).T
    return own.where(similarity.max(axis=1) < near)


def train_head(
    positives: Passages, negatives: Passages, *, seed: int = 0, deadline: float | None = None
) -> TrainedHead:
    """A head over the encoder's vectors and a lexicon of the examples' shared terms, its precision and recall
    over stratified folds (pooled; each fold's lexicon learned from its own training rows; near-duplicates,
    `near_duplicate_groups`, always in one fold, so that none is predicted by a head trained on its twin), then
    the weights fitted on everything. Classes are weighted to count equally. HeadError naming `examples` when
    the positives are fewer than `MIN_EXAMPLES` groups of near-duplicates. One BLAS thread: the matrices are
    small, and threads contending for a busy worker's cores made training ten times slower. TrainingTooLong
    when still training at `deadline` (a `time.monotonic()` value)."""
    with threadpool_limits(limits=1):
        return _train(positives, negatives, seed, deadline)


def _train(positives: Passages, negatives: Passages, seed: int, deadline: float | None) -> TrainedHead:
    everything = Passages.joined(positives, negatives)
    y = numpy.concatenate([numpy.ones(len(positives)), numpy.zeros(len(negatives))])
    groups = numpy.concatenate(
        [near_duplicate_groups(positives), len(positives) + near_duplicate_groups(negatives)]
    )
    different = [len(numpy.unique(groups[y == label])) for label in (1, 0)]
    if different[0] < MIN_EXAMPLES:
        raise HeadError(
            f"give at least {MIN_EXAMPLES} different example passages; of these {len(positives)}, "
            f"{different[0]} differ once near-duplicates (cosine {NEAR_DUPLICATE} or more) count once",
            "examples",
        )
    folds = min(MAX_FOLDS, *different)
    if folds < 2:
        raise HeadError("training needs at least two different negative passages", "counter_examples")
    assigned = _stratified_folds(y, groups, folds, seed)
    out_of_fold = numpy.zeros(len(y))
    for fold in range(folds):
        held = assigned == fold
        training = everything.where(~held)
        lexicon = _lexicon(training, y[~held])
        coef, intercept = _fit(_design(training, lexicon).astype(numpy.float64), y[~held], deadline=deadline)
        out_of_fold[held] = _sigmoid(_design(everything.where(held), lexicon) @ coef + intercept)
    predicted = out_of_fold >= THRESHOLD
    true_positive = float(numpy.sum(predicted & (y == 1)))
    precision = true_positive / max(1.0, float(predicted.sum()))
    recall = true_positive / float(len(positives))
    lexicon = _lexicon(everything, y)
    coef, intercept = _fit(_design(everything, lexicon).astype(numpy.float64), y, deadline=deadline)
    return TrainedHead(
        weights={
            "encoder": ENCODER,
            "coef": [round(float(v), 6) for v in coef],
            "intercept": round(float(intercept), 6),
            "threshold": THRESHOLD,
            "terms": list(lexicon.terms),
            "idf": [round(float(v), 5) for v in lexicon.idf],
        },
        precision=round(precision, 4),
        recall=round(recall, 4),
        positives=len(positives),
        negatives=len(negatives),
        folds=folds,
    )


def _lexicon(passages: Passages, y: numpy.ndarray) -> Lexicon:
    return Lexicon.learned(
        [t for t, label in zip(passages.texts, y, strict=True) if label == 1],
        [t for t, label in zip(passages.texts, y, strict=True) if label == 0],
    )


def _stratified_folds(y: numpy.ndarray, groups: numpy.ndarray, folds: int, seed: int) -> numpy.ndarray:
    """Each row's fold: each label's groups shuffled and dealt to the folds in turn, a group's rows together."""
    generator = numpy.random.default_rng(seed)
    assigned = numpy.empty(len(y), dtype=int)
    for label in (0, 1):
        rows = numpy.flatnonzero(y == label)
        heads = numpy.unique(groups[rows])
        generator.shuffle(heads)
        fold_of = dict(zip(heads.tolist(), (numpy.arange(len(heads)) % folds).tolist(), strict=True))
        assigned[rows] = [fold_of[group] for group in groups[rows].tolist()]
    return assigned


def _fit(
    x: numpy.ndarray, y: numpy.ndarray, *, iterations: int = 15, deadline: float | None = None
) -> tuple[numpy.ndarray, float]:
    """Balanced-weight L2 logistic regression by Newton's method (the intercept unpenalised)."""
    n_positive = max(1.0, y.sum())
    n_negative = max(1.0, len(y) - y.sum())
    sample = numpy.where(y == 1, len(y) / (2 * n_positive), len(y) / (2 * n_negative))
    design = numpy.hstack([x, numpy.ones((len(x), 1))])
    penalty = numpy.full(design.shape[1], L2)
    penalty[-1] = 0.0
    w = numpy.zeros(design.shape[1])
    for _ in range(iterations):
        if deadline is not None and time.monotonic() >= deadline:
            raise TrainingTooLong()
        p = _sigmoid(design @ w)
        gradient = design.T @ (sample * (p - y)) + penalty * w
        hessian = (design * (sample * p * (1 - p))[:, None]).T @ design + numpy.diag(penalty + 1e-9)
        step = numpy.linalg.solve(hessian, gradient)
        w -= step
        if numpy.abs(step).max() < 1e-4:
            break
    return w[:-1], float(w[-1])


def _sigmoid(z: numpy.ndarray) -> numpy.ndarray:
    return 1.0 / (1.0 + numpy.exp(-numpy.clip(z, -30, 30)))


def near_misses(
    head: ClauseHead, passages: Passages, labelled: Iterable[str], *, limit: int = NEAR_MISSES
) -> list[tuple[int, float]]:
    """The passages to ask a person about next, as (index, probability): the `limit` the head scores highest,
    less those already labelled (compared with runs of whitespace folded) and repeats. Labelling them, the
    near misses as counter-examples, teaches a head what its generic negatives could not."""
    seen = {folded(text) for text in labelled}
    scores = head.probabilities(passages)
    chosen: list[tuple[int, float]] = []
    for index in numpy.argsort(-scores, kind="stable"):
        text = folded(passages.texts[index])
        if text in seen:
            continue
        seen.add(text)
        chosen.append((int(index), round(float(scores[index]), 4)))
        if len(chosen) == limit:
            break
    return chosen


def to_ask(findings: list[T], near: list[T], *, limit: int = NEAR_MISSES) -> tuple[list[T], list[T]]:
    """What to ask a reviewer about in one round, `limit` in all: a head's unanswered findings in jobs first
    (they teach precision), then its near misses (recall); half each where both have enough, either filling
    what the other lacks (`benchmarks/quick_study.py --answer mixed` measured this mix)."""
    first = findings[: max(limit // 2, limit - len(near))]
    return first, near[: limit - len(first)]


def passages(text: str) -> list[tuple[int, int]]:
    """The units a head scores: paragraphs, and runs of whole sentences of at most about `PASSAGE_CHARS`
    characters inside longer ones."""
    found: list[tuple[int, int]] = []
    for paragraph in split_paragraphs(text):
        if paragraph.end - paragraph.start <= PASSAGE_CHARS:
            found.append((paragraph.start, paragraph.end))
            continue
        start = end = None
        for sentence in split_sentences(text, paragraph.start, paragraph.end):
            if start is not None and sentence.end - start > PASSAGE_CHARS:
                found.append((start, end))
                start = None
            start = sentence.start if start is None else start
            end = sentence.end
        if start is not None:
            found.append((start, end))
    return found


def find_clauses(
    document_id: str,
    text: str,
    heads: Sequence[ClauseHead],
    embed: Embed,
    *,
    limit: int = MAX_FINDINGS,
) -> dict[str, list[dict]]:
    """Per head key, the passages of `text` it accepts (at most `limit`, most confident first), each
    `{"category", "clause_type", "name", "confidence", "span"}`: the shape of a legal clause (its category is
    the name) plus the key. The passages are embedded once for all heads."""
    units = passages(text)
    found: dict[str, list[dict]] = {head.key: [] for head in heads}
    if not units or not heads:
        return found
    texts = [text[start:end] for start, end in units]
    scored = Passages(texts, numpy.asarray(embed(texts), dtype=numpy.float32))
    for head in heads:
        scores = head.probabilities(scored)
        for index in numpy.argsort(-scores)[:limit]:
            if scores[index] < head.threshold:
                break
            span = trimmed_span(document_id, text, *units[index])
            if span is not None:
                found[head.key].append(
                    {
                        "category": head.name,
                        "clause_type": head.key,
                        "name": head.name,
                        "confidence": round(float(scores[index]), 4),
                        "span": span,
                    }
                )
    return found


def check_keys(keys: object, param: str) -> list[str]:
    """A list of distinct custom clause type keys; HeadError naming `param` or `param.<i>` otherwise."""
    if not isinstance(keys, list):
        raise HeadError("give a list of custom clause type keys", param)
    checked: list[str] = []
    for index, key in enumerate(keys):
        check_key(key, f"{param}.{index}")
        if key in checked:
            raise HeadError(f"clause type {key!r} appears twice", f"{param}.{index}")
        checked.append(key)
    return checked


def heads_named(clause_heads: dict, keys: Sequence[str]) -> list[ClauseHead]:
    """The run's heads for `keys`; ValueError for one the run was not given (deleted since the job began)."""
    missing = [key for key in keys if key not in clause_heads]
    if missing:
        raise ValueError(f"custom clause type(s) not available to this run: {', '.join(missing)}")
    return [clause_heads[key] for key in keys]
