"""Custom clause types without the platform: input checks, training reproduces its head and reports
cross-validated metrics, and the legal and review connectors find the clause by key with a verified span."""

from __future__ import annotations

import json

import numpy
import pytest

from connectors import Document, get_connector, run_connector
from connectors.base import OptionError
from connectors.legal.custom import (
    GENERIC_PARAGRAPHS,
    ClauseHead,
    HeadError,
    check_examples,
    negatives_from,
    passages,
    train_head,
)
from connectors.spans import invalid_spans
from inference.client import embed_local
from tests.support.paths import DATA

FIXTURE = json.loads((DATA / "custom_clauses" / "force_majeure.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def head() -> ClauseHead:
    positives = embed_local(FIXTURE["examples"])
    negatives = embed_local([*FIXTURE["counter_examples"], *GENERIC_PARAGRAPHS])
    trained = train_head(positives, negatives)
    assert trained.folds == 5 and trained.positives == 12
    assert trained.precision >= 0.9 and trained.recall >= 0.9, trained
    return ClauseHead.from_json(FIXTURE["key"], FIXTURE["name"], trained.weights)


def test_examples_are_checked_naming_the_param():
    with pytest.raises(HeadError) as few:
        check_examples(["a clause"] * 9, "examples", minimum=10)
    assert few.value.param == "examples"
    with pytest.raises(HeadError) as blank:
        check_examples(["a clause", "a clause", "  \n "], "examples")
    assert blank.value.param == "examples.2"
    assert check_examples(["  two\n words "], "counter_examples") == ["two words"]


def test_training_is_reproducible_and_cross_validated():
    generator = numpy.random.default_rng(7)
    centre = generator.normal(size=16)
    positives = centre + 0.3 * generator.normal(size=(12, 16))
    negatives = -centre + 0.3 * generator.normal(size=(30, 16))
    first, second = train_head(positives, negatives), train_head(positives, negatives)
    assert first.weights == second.weights
    assert (first.precision, first.recall) == (1.0, 1.0)
    model = ClauseHead.from_json("k", "K", first.weights)
    assert (model.probabilities(positives) > 0.5).all() and (model.probabilities(negatives) < 0.5).all()
    near = numpy.vstack([positives[:1], negatives[:3]])
    unit = near / numpy.linalg.norm(near, axis=1, keepdims=True)
    kept = negatives_from(unit, unit[:1])
    assert len(kept) == 3
    with pytest.raises(HeadError):
        train_head(positives[:1], negatives)


def test_passages_split_long_paragraphs_on_sentences():
    text = "Short one.\n\n" + " ".join(f"Sentence number {i} is here." for i in range(60))
    units = passages(text)
    assert units[0] == (0, 10)
    assert all(end - start <= 720 for start, end in units) and len(units) > 2


def test_legal_and_review_find_the_custom_clause(head: ClauseHead):
    document = Document("msa", FIXTURE["contract"])
    output = run_connector(
        "legal", [document], options={"clause_types": ["force_majeure"]}, clause_heads={head.key: head}
    )
    found = output["custom_clauses"]
    assert [f["clause_type"] for f in found] == ["force_majeure"]
    assert found[0]["name"] == "Force Majeure" and found[0]["confidence"] >= 0.5
    assert found[0]["span"]["quote"].startswith("3. Unforeseeable Events.")
    assert not invalid_spans(output, {"msa": document.text})
    column = {"key": "fm", "question": "Force majeure?", "type": "clause", "clause_type": "force_majeure"}
    grid = run_connector("review", [document], options={"columns": [column]}, clause_heads={head.key: head})
    cell = grid["rows"][0]["cells"]["fm"]
    assert cell["status"] == "answered" and cell["spans"][0]["quote"] == found[0]["span"]["quote"]
    with pytest.raises(ValueError, match="not available"):
        run_connector("legal", [document], options={"clause_types": ["force_majeure"]})


def test_clause_type_options_name_their_param():
    legal, review = get_connector("legal"), get_connector("review")
    with pytest.raises(OptionError) as repeated:
        legal.validate_options({"clause_types": ["fm", "fm"]})
    assert repeated.value.param == "options.clause_types.1"
    assert legal.clause_types(legal.validate_options({"clause_types": ["fm"]})) == [
        ("fm", "options.clause_types.0")
    ]
    with pytest.raises(OptionError) as wrong_type:
        review.validate_options(
            {"columns": [{"key": "a", "question": "q?", "type": "text", "clause_type": "fm"}]}
        )
    assert wrong_type.value.param == "options.columns.0.clause_type"
    checked = review.validate_options(
        {
            "template": "cuad",
            "columns": [{"key": "a", "question": "q?", "type": "clause", "clause_type": "fm"}],
        }
    )
    assert review.clause_types(checked) == [("fm", "options.columns.0.clause_type")]
