"""What each vertical's training reads from its rules, on `tests/data`'s dev split, as one hash.

The learned models are trained on what the rules give: legal's rule clauses, which each category's choice
between rules and model reads; the figures earnings' rules find, with the features and labels salience is
fitted on; literature's stance cues. A rule change that moves those leaves the shipped weights choosing on
outputs the rules no longer give. `python -m connectors train` records the hash beside the weights
(`weights/RULES_PROBE`) and `tests/connectors/test_rules_probe.py` compares it with today's rules, so such a
change is retrained, or the weights are kept on purpose: `python -m connectors probe VERTICAL --record`,
with the measurement that kept them in docs/training.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy

DEFAULT_DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
PROBE_FILE = "RULES_PROBE"
VERTICALS = ("legal", "earnings", "literature")


def weights_dir(vertical: str) -> Path:
    return Path(__file__).resolve().parent / vertical / "weights"


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _dev_rows(path: Path) -> list[dict]:
    return [row for row in _jsonl(path) if row["split"] == "dev"]


def _legal(data: Path) -> Iterator[object]:
    from connectors.legal.analyzers import find_rule_clauses
    from connectors.text import split_sentences

    for row in _dev_rows(data / "cuad" / "labels.jsonl"):
        text = (data / "cuad" / "contracts" / f"{row['document_id']}.txt").read_text(encoding="utf-8")
        clauses = find_rule_clauses(text, split_sentences(text))[0]
        yield row["document_id"], [(c.category, c.start, c.end, round(c.confidence, 4)) for c in clauses]


def _earnings(data: Path) -> Iterator[object]:
    from connectors.earnings.training import call_examples

    for row in _dev_rows(data / "ectsum" / "labels.jsonl"):
        text = (data / "ectsum" / "calls" / f"{row['document_id']}.txt").read_text(encoding="utf-8")
        examples = call_examples(row["document_id"], text, row["bullets"])
        yield row["document_id"], [(sorted(features), *labels) for features, *labels in examples]


def _literature(data: Path) -> Iterator[object]:
    from connectors.literature.learned import lexical_features
    from connectors.literature.retrieval import EMBEDDING_DIM, CorpusIndex
    from connectors.loaders import corpus_document

    corpus = {str(row["doc_id"]): row for row in _jsonl(data / "scifact" / "corpus.jsonl")}
    for claim in _dev_rows(data / "scifact" / "claims.jsonl"):
        papers = [corpus_document(corpus[str(d)]) for d in claim["cited_doc_ids"] if str(d) in corpus]
        index = CorpusIndex(papers, lambda texts: numpy.zeros((len(texts), EMBEDDING_DIM), numpy.float32))
        for item in index.items:
            count = len(item.sentences)
            similarities = numpy.linspace(0.2, 0.8, count, dtype=numpy.float32)
            features = lexical_features(
                claim["claim"], [s.text for s in item.sentences], item.document.text, similarities
            )
            yield claim["claim_id"], item.document.document_id, numpy.round(features, 4).tolist()


_READERS: dict[str, Callable[[Path], Iterator[object]]] = {
    "legal": _legal,
    "earnings": _earnings,
    "literature": _literature,
}


def rules_probe(vertical: str, data: Path | None = None) -> str:
    """The SHA-256 of what `vertical`'s training reads from its rules on the dev split under `data` (the
    repository's tests/data by default)."""
    digest = hashlib.sha256()
    for item in _READERS[vertical](data or DEFAULT_DATA):
        digest.update(json.dumps(item, separators=(",", ":")).encode())
    return digest.hexdigest()


def recorded_probe(vertical: str, folder: Path | None = None) -> str | None:
    path = (folder or weights_dir(vertical)) / PROBE_FILE
    return path.read_text(encoding="utf-8").split()[0] if path.exists() else None


def probe_record(vertical: str, folder: Path | None = None, data: Path | None = None) -> str:
    """Write today's hash beside the weights in `folder` (the shipped ones by default) and return it."""
    value = rules_probe(vertical, data)
    (folder or weights_dir(vertical)).joinpath(PROBE_FILE).write_text(
        f"{value}\nwhat `python -m connectors train {vertical}` read from the rules when these weights were made "
        "(connectors/rules_probe.py)\n",
        encoding="utf-8",
    )
    return value
