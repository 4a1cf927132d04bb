import hashlib
import json

import numpy
import pytest

from connectors import run_connector
from connectors.literature import connector as literature_connector
from connectors.literature.learned import decide, read_model
from connectors.literature.training import fit_softmax, train
from connectors.loaders import corpus_document

TOPICS = [
    ("aspirin", "colorectal cancer", "reduces"),
    ("statin", "heart attacks", "lowers"),
    ("exercise", "memory loss", "reduces"),
    ("vitamin d", "fractures", "prevents"),
    ("metformin", "diabetes", "reduces"),
    ("smoking", "lung cancer", "increases"),
    ("caffeine", "sleep quality", "worsens"),
    ("fasting", "insulin resistance", "reduces"),
]


def fake_embed(texts):
    """Bag-of-words vectors: deterministic, and similar for texts that share words."""
    rows = numpy.zeros((len(texts), 384), dtype=numpy.float32)
    for row, text in zip(rows, texts, strict=True):
        for word in text.lower().replace(".", " ").split():
            row[int(hashlib.md5(word.encode()).hexdigest(), 16) % 384] += 1.0
    return rows / numpy.maximum(numpy.linalg.norm(rows, axis=1, keepdims=True), 1e-9)


def write_fixture(folder):
    corpus, claims = [], []
    for n, (agent, outcome, verb) in enumerate(TOPICS):
        doc_id = 1000 + n
        corpus.append(
            {
                "doc_id": doc_id,
                "title": f"A trial of {agent}",
                "abstract": [
                    f"Little is known about {agent} in adults.",
                    f"We enrolled patients from {n + 3} hospitals.",
                    f"In the trial {agent} significantly {verb} {outcome} compared with placebo.",
                    "Follow-up lasted two years.",
                ],
            }
        )
        opposite = "does not change" if n % 2 else "has no effect on"
        for m, (text, label) in enumerate(
            [
                (f"{agent} {verb} {outcome}.", "SUPPORT"),
                (f"{agent} {opposite} {outcome}.", "CONTRADICT"),
                (f"{agent} is sold in pharmacies.", None),
            ]
        ):
            evidence = {str(doc_id): [{"sentences": [2], "label": label}]} if label else {}
            claims.append({"id": 10 * n + m, "claim": text, "evidence": evidence, "cited_doc_ids": [doc_id]})
    (folder / "corpus.jsonl").write_text("".join(json.dumps(row) + "\n" for row in corpus))
    (folder / "claims_train.jsonl").write_text("".join(json.dumps(row) + "\n" for row in claims))
    evaluation = folder / "evaluation.jsonl"
    evaluation.write_text(
        json.dumps({"claim_id": "72", "claim": "held out", "cited_doc_ids": ["1007"]}) + "\n"
    )
    return evaluation


def test_training_on_a_fixture_is_reproducible_and_leaves_the_evaluation_claims_out(tmp_path):
    evaluation = write_fixture(tmp_path)
    first = train(tmp_path, tmp_path / "a", embed=fake_embed, evaluation=evaluation)
    train(tmp_path, tmp_path / "b", embed=fake_embed, evaluation=evaluation)
    assert first["non_commercial"] is True and first["licence"] == "CC BY-NC 2.0"
    assert first["excluded_claims"] == ["70", "71", "72"]
    trained_on = (tmp_path / "a" / "TRAINED_ON.txt").read_text().splitlines()
    assert "claims_train.jsonl:0" in trained_on and "claims_train.jsonl:70" not in trained_on
    assert "corpus.jsonl:1007" not in trained_on
    a, b = read_model(tmp_path / "a"), read_model(tmp_path / "b")
    numpy.testing.assert_allclose(a.stance.weights, b.stance.weights, atol=1e-5)
    numpy.testing.assert_allclose(a.rerank.weights, b.rerank.weights, atol=1e-5)
    assert a.thresholds == b.thresholds
    assert first["training_scores"]["rationale_f1"] >= 0.6


def test_too_little_training_data_is_refused(tmp_path):
    evaluation = write_fixture(tmp_path)
    (tmp_path / "claims_train.jsonl").write_text("")
    with pytest.raises(ValueError, match="usable training claims"):
        train(tmp_path, tmp_path / "out", embed=fake_embed, evaluation=evaluation)


def test_softmax_fit_separates_classes():
    rng = numpy.random.default_rng(0)
    labels = numpy.repeat([0, 1, 2], 40)
    features = rng.normal(size=(120, 4)) + numpy.eye(3, 4)[labels] * 4
    model = fit_softmax(features, labels, 3)
    assert (model.probabilities(features).argmax(axis=1) == labels).mean() > 0.95


def test_decide_reads_the_strongest_paper_and_keeps_its_label():
    thresholds = {"rationale": 0.5, "verdict": 0.7}
    contradicting = numpy.array([[0.05, 0.05, 0.9], [0.1, 0.8, 0.1]])
    weakly_supporting = numpy.array([[0.55, 0.0, 0.45]])
    decision = decide([(0, contradicting), (1, weakly_supporting)], thresholds)
    assert decision.verdict == "CONTRADICT" and [(p, i) for p, i, _ in decision.rationale] == [(0, 1)]
    assert decide([(1, weakly_supporting)], thresholds).verdict == "NOT_ENOUGH_INFO"
    assert decide([(1, weakly_supporting)], thresholds).rationale == []


def test_without_weights_the_rules_decide(monkeypatch, corpus_rows):
    monkeypatch.setattr(literature_connector, "load_model", lambda: None)
    documents = [corpus_document(row) for row in corpus_rows]
    claims = [{"claim_id": "c1", "claim": "Aspirin use reduces the risk of colorectal cancer."}]
    result = run_connector("literature", documents, options={"claims": claims}, embed=fake_embed)
    assert "source" not in result["claims"][0]
