import hashlib
import json

import numpy
import pytest

from connectors import run_connector
from connectors.literature import connector as literature_connector
from connectors.literature.learned import (
    CUES,
    PAPER_CUES,
    VERDICT_PAPERS,
    WEIGHTS_DIR,
    load_model,
    rationale_indices,
    read_model,
    save_model,
    verdict_features,
)
from connectors.literature.training import (
    EVALUATION_CLAIMS,
    claim_folds,
    fit_softmax,
    load_training_set,
    train,
)
from connectors.loaders import corpus_document
from connectors.spans import invalid_spans
from connectors.text import split_abstract_sentences

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
    numpy.testing.assert_allclose(a.verdict.weights, b.verdict.weights, atol=1e-5)
    assert a.stance.weights.shape == (CUES, 3) and a.verdict.weights.shape == (
        2 + VERDICT_PAPERS * PAPER_CUES,
        3,
    )
    assert a.thresholds == b.thresholds
    assert first["training_scores"]["rationale_f1"] >= 0.5


def test_rationale_indices_are_read_in_the_corpus_s_sentence_list(tmp_path):
    abstract = ["Background.", "", "Mice were fed daily.", "Xylitol raised y (p < 0.01) in mice.", "Done."]
    (tmp_path / "corpus.jsonl").write_text(
        json.dumps({"doc_id": 5, "title": "T", "abstract": abstract}) + "\n"
    )
    claim = {"id": 1, "claim": "X raises y.", "cited_doc_ids": [5]}
    claim["evidence"] = {"5": [{"sentences": [1, 3], "label": "SUPPORT"}]}
    (tmp_path / "claims_train.jsonl").write_text(json.dumps(claim) + "\n")
    evaluation = tmp_path / "evaluation.jsonl"
    evaluation.write_text(json.dumps({"claim_id": "9", "claim": "other", "cited_doc_ids": ["6"]}) + "\n")
    claims, _, _ = load_training_set(tmp_path, evaluation)
    document = corpus_document({"doc_id": 5, "title": "T", "abstract": abstract})
    [(position, label)] = claims[0]["papers"]["5"].items()
    sentences = split_abstract_sentences(document.text, len("T") + 2)
    assert (sentences[position].text, label) == ("Xylitol raised y (p < 0.01) in mice.", "SUPPORT")


def test_claims_citing_a_common_paper_share_a_fold():
    claims = [
        {"claim_id": "1", "papers": {"a": {}}},
        {"claim_id": "2", "papers": {"b": {}, "a": {}}},
        {"claim_id": "3", "papers": {"b": {}}},
        {"claim_id": "4", "papers": {"c": {}}},
        {"claim_id": "5", "papers": {"d": {}}},
    ]
    fold = claim_folds(claims, folds=2)
    assert fold[0] == fold[1] == fold[2] and fold[3] != fold[0] and fold[4] != fold[0]


def test_verdict_features_pad_missing_papers_with_zeros():
    cues = numpy.zeros((2, CUES), numpy.float32)
    cues[:, 0] = [0.4, 0.8]
    stances = numpy.array([[0.6, 0.2, 0.2], [0.1, 0.1, 0.8]], numpy.float32)
    row = verdict_features([0.9, 0.5], [(cues, stances), (cues[:0], stances[:0])])
    assert row.shape == (1, 2 + VERDICT_PAPERS * PAPER_CUES)
    numpy.testing.assert_allclose(row[0, :2], [0.9, 0.4], atol=1e-6)
    share = (0.8 * 0.25 + 0.2 * 0.5) / (0.8 + 0.2)
    numpy.testing.assert_allclose(row[0, 2:7], [0.8, 0.8, share, 0.6, 0.2], atol=1e-6)
    assert not row[0, 7:].any()


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


def test_rationales_are_the_strongest_sentences_over_the_threshold_in_text_order():
    probabilities = numpy.array([[0.1, 0.0, 0.9], [0.7, 0.1, 0.2], [0.0, 0.6, 0.4], [0.3, 0.1, 0.6]])
    assert rationale_indices(probabilities, {"rationale": 0.5, "per_paper": 2}) == [1, 2]
    assert rationale_indices(probabilities, {"rationale": 0.7, "per_paper": 2}) == [1]
    assert rationale_indices(probabilities, {"rationale": 0.3, "per_paper": 1}) == [1]
    assert rationale_indices(numpy.zeros((0, 3)), {"rationale": 0.3, "per_paper": 1}) == []


def test_the_position_prior_prefers_a_late_sentence_of_nearly_equal_evidence():
    probabilities = numpy.array([[0.8, 0.0, 0.2], [0.1, 0.0, 0.9], [0.1, 0.0, 0.9], [0.7, 0.0, 0.3]])
    assert rationale_indices(probabilities, {"rationale": 0.5, "per_paper": 1}) == [0]
    assert rationale_indices(probabilities, {"rationale": 0.5, "per_paper": 1, "position": 0.3}) == [3]
    assert rationale_indices(probabilities, {"rationale": 0.5, "per_paper": 2, "position": 0.3}) == [0, 3]


def test_without_weights_the_rules_decide(monkeypatch, corpus_rows):
    monkeypatch.setattr(literature_connector, "load_model", lambda: None)
    documents = [corpus_document(row) for row in corpus_rows]
    claims = [{"claim_id": "c1", "claim": "Aspirin use reduces the risk of colorectal cancer."}]
    result = run_connector("literature", documents, options={"claims": claims}, embed=fake_embed)
    assert "source" not in result["claims"][0]


def test_a_commercial_deployment_leaves_the_non_commercial_weights_to_the_rules(
    monkeypatch, corpus_rows, uncached_loaders
):
    documents = [corpus_document(row) for row in corpus_rows]
    claims = [{"claim_id": "c1", "claim": "Aspirin use reduces the risk of colorectal cancer."}]
    monkeypatch.setenv("QUIRE_COMMERCIAL", "true")
    assert load_model() is None
    result = run_connector("literature", documents, options={"claims": claims}, embed=fake_embed)
    assert "source" not in result["claims"][0]
    monkeypatch.setenv("QUIRE_COMMERCIAL", "false")
    assert load_model() is not None


def test_weights_without_a_verdict_model_keep_the_rules_verdict(monkeypatch, corpus_rows, tmp_path):
    shipped = load_model()
    save_model(type(shipped)(shipped.stance, None, shipped.thresholds, shipped.card), tmp_path)
    stance_only = read_model(tmp_path)
    assert stance_only.verdict is None
    monkeypatch.setattr(literature_connector, "load_model", lambda: stance_only)
    documents = [corpus_document(row) for row in corpus_rows]
    claims = [{"claim_id": "c1", "claim": "Aspirin use reduces the risk of colorectal cancer."}]
    result = run_connector("literature", documents, options={"claims": claims}, embed=fake_embed)
    monkeypatch.setattr(literature_connector, "load_model", lambda: None)
    rules = run_connector("literature", documents, options={"claims": claims}, embed=fake_embed)
    learned, ruled = result["claims"][0], rules["claims"][0]
    assert learned["source"] == "learned"
    assert (learned["verdict"], learned["confidence"]) == (ruled["verdict"], ruled["confidence"])


def test_the_shipped_weights_load_offline_marked_non_commercial_and_never_trained_on_evaluation_claims():
    model = load_model()
    assert (
        model is not None and model.card["non_commercial"] is True and model.card["licence"] == "CC BY-NC 2.0"
    )
    assert model.stance.weights.shape == (CUES, 3)
    assert model.verdict is not None and model.verdict.weights.shape == (2 + VERDICT_PAPERS * PAPER_CUES, 3)
    trained_on = (WEIGHTS_DIR / "TRAINED_ON.txt").read_text().splitlines()
    claim_ids = {line.split(":")[1] for line in trained_on if line.startswith("claims_train.jsonl:")}
    assert len(claim_ids) == model.card["claims"]
    evaluation = [json.loads(line) for line in EVALUATION_CLAIMS.read_text().splitlines()]
    assert not claim_ids & {row["claim_id"] for row in evaluation}


def test_the_shipped_weights_judge_fixed_claims(corpus_rows):
    documents = [corpus_document(row) for row in corpus_rows]
    claims = [
        {"claim_id": "c1", "claim": "Aspirin use reduces the risk of colorectal cancer."},
        {"claim_id": "c2", "claim": "Vitamin D supplementation reduces fractures in older adults."},
        {"claim_id": "c3", "claim": "Quantum computers factor large integers efficiently."},
    ]
    result = run_connector("literature", documents, options={"claims": claims}, embed=fake_embed)
    aspirin, vitamin, quantum = result["claims"]
    assert aspirin["source"] == "learned" and aspirin["ranking"][0]["document_id"] == "101"
    assert aspirin["verdict"] == "SUPPORT"
    assert aspirin["evidence"][0]["span"]["quote"].startswith("Daily aspirin use")
    assert vitamin["verdict"] == "CONTRADICT" and vitamin["evidence"][0]["document_id"] == "102"
    assert vitamin["evidence"][0]["span"]["quote"].startswith("In this randomised trial")
    assert quantum["verdict"] == "NOT_ENOUGH_INFO" and quantum["evidence"] == []
    assert invalid_spans(result, {d.document_id: d.text for d in documents}) == []
