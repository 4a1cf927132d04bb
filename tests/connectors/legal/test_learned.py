import json
from pathlib import Path

import numpy as np
import pytest

from connectors import Document, run_connector
from connectors.base import OptionError
from connectors.evaluation import calibration_error, precision_at_recall, score_legal
from connectors.legal.analyzers import Clause, analyse_contract, find_rule_clauses
from connectors.legal.categories import CUAD_CATEGORIES
from connectors.legal.learned import (
    RERANK_FLOOR,
    RERANK_KERNEL,
    RERANK_TOP,
    SIGNALS,
    WEIGHTS_DIR,
    CategoryHead,
    ClauseModel,
    PresenceGate,
    SentenceReranker,
    SuggestionScale,
    candidates,
    clause_bounds,
    combine,
    merge,
    shipped_model,
    suggest,
)
from connectors.legal.training import (
    CUAD_TEST_SPLIT,
    GATE_TREES,
    _presence_fit,
    gate_trees,
    read_contracts,
    train,
)
from connectors.spans import invalid_spans
from connectors.text import Segment, split_sentences
from inference.client import embed_local

DATA = Path(__file__).resolve().parents[2] / "data"
FIXTURE_CONTRACTS = ("cuad_04", "cuad_24", "cuad_25", "cuad_29")
OFFICIAL_TEST_DEV_CONTRACTS = ("cuad_22", "cuad_23", "cuad_27", "cuad_28")
TERM = (
    "This Agreement shall commence on the Effective Date and shall continue in effect for a period of three (3) "
    "years, unless earlier terminated as provided herein."
)
EXPECTED_FIXTURE_LEARNED = {"Parties": "both", "Expiration Date": "learned"}
EXPECTED_TERM_LOGIT = 1.449
EXPECTED_FIXTURE_RERANK_BIAS = -0.844
EXPECTED_SHIPPED_TERM_LOGIT = 13.467
EXPECTED_SHIPPED_TERM_SCORE = 16.815
INSURANCE = (
    "The Distributor shall maintain, at its own cost, commercial general liability insurance with a "
    "reputable insurer in an amount of not less than $2,000,000 per occurrence and shall name the Company "
    "as an additional insured."
)


def run_legal(text: str, **options) -> dict:
    return run_connector("legal", [Document("contract", text)], options=options or None)


def test_the_shipped_weights_load_offline_small_and_with_their_card():
    model = shipped_model()
    assert model is not None and model.categories == CUAD_CATEGORIES
    assert model.recalibration is not None and model.suggestions is not None
    assert set(model.heads) == set(CUAD_CATEGORIES)
    assert {head.mode for head in model.heads.values()} <= {"rules", "learned", "both"}
    gate_inputs = [CUAD_CATEGORIES.index(c) for c, head in model.heads.items() if head.mode == "rules"]
    assert (
        model.weights[:, gate_inputs].any(axis=0).all()
        and model.reranker.weights[:, gate_inputs].any(axis=0).all()
    )
    assert sum(path.stat().st_size for path in WEIGHTS_DIR.iterdir()) < 5_000_000
    trained_on = (WEIGHTS_DIR / "TRAINED_ON.txt").read_text(encoding="utf-8").splitlines()
    heldout = [
        row["source_file"]
        for row in map(json.loads, (DATA / "cuad" / "labels.jsonl").read_text(encoding="utf-8").splitlines())
        if row["split"] == "heldout"
    ]
    assert trained_on and not set(trained_on) & (set(heldout) | CUAD_TEST_SPLIT)
    assert "CC BY 4.0" in (WEIGHTS_DIR / "MODEL_CARD.md").read_text(encoding="utf-8")


def test_the_model_scores_an_insurance_clause_above_an_unrelated_sentence():
    model = shipped_model()
    logits = model.logits([INSURANCE, "The parties have executed this Agreement in two counterparts."])
    column = CUAD_CATEGORIES.index("Insurance")
    assert logits.shape == (2, len(CUAD_CATEGORIES))
    assert logits[0, column] > logits[1, column] + 2.0


def test_the_shipped_model_gives_its_recorded_logit_on_a_fixed_term_clause():
    model = shipped_model()
    logit = model.logits([TERM])[0, CUAD_CATEGORIES.index("Expiration Date")]
    assert logit == pytest.approx(EXPECTED_SHIPPED_TERM_LOGIT, abs=0.05)
    assert (
        model.heads["Expiration Date"].mode != "rules" and logit >= model.heads["Expiration Date"].threshold
    )


def test_legal_jobs_use_the_model_by_default_with_calibrated_verified_clauses(contract_text):
    text = contract_text + "\n\n12. Insurance. " + INSURANCE + "\n"
    learned = run_legal(text)
    rules = run_legal(text, clause_model="rules")
    assert invalid_spans(learned, {"contract": text}) == []
    assert all(0.0 <= c["confidence"] <= 1.0 for c in learned["clauses"])
    assert "Insurance" in {c["category"] for c in learned["clauses"]}
    assert learned["answers"]["Insurance"] == "Yes"
    assert learned["answers"]["Governing Law"] == rules["answers"]["Governing Law"] == "Delaware"
    assert [c["confidence"] for c in learned["clauses"]] != [c["confidence"] for c in rules["clauses"]]
    with pytest.raises(ValueError, match="clause_model"):
        run_legal(text, clause_model="neural")


def test_a_date_category_keeps_the_first_date_of_a_model_sentence():
    model = shipped_model()
    assert model.heads["Agreement Date"].date_spans and not model.heads["Governing Law"].date_spans
    text = "This Supply Agreement is made and entered into as of March 3, 2015 by and between Acme Inc. and Beta LLC."
    sentence = Segment(10, 10 + len(text), text)
    start, end = clause_bounds(sentence, date_spans=True)
    assert text[start - 10 : end - 10] == "March 3, 2015"
    assert clause_bounds(sentence, date_spans=False) == (sentence.start, sentence.end)


class CountingEmbed:
    """Fixed vectors of `dim` coordinates: the first is 1 for a text mentioning insurance, the second always 1."""

    def __init__(self, dim: int = 3) -> None:
        self.dim = dim
        self.texts: list[str] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.texts.extend(texts)
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        vectors[:, 0] = ["insurance" in t.lower() for t in texts]
        vectors[:, 1] = 1.0
        return vectors


def test_the_reranker_rescores_only_each_category_s_best_sentences_from_their_vectors():
    texts = [f"Sentence {i}." for i in range(6)] + ["The Distributor shall maintain insurance."]
    logits = np.array([[float(i), -float(i)] for i in range(7)])
    weights = np.array([[2.0, 0.0], [0.5, 0.0], [0.0, 0.0]], dtype=np.float32)
    reranker = SentenceReranker(weights, np.array([-1.0, 0.0], dtype=np.float32))
    embed = CountingEmbed()
    out = reranker.reranked(texts, logits, embed)
    best = np.argsort(-logits[:, 0])[:RERANK_TOP]
    assert sorted(embed.texts) == sorted(texts[i] for i in best)
    assert out[6, 0] == logits[6, 0] + 2.0 + 0.5 - 1.0
    assert out[5, 0] == logits[5, 0] + 0.5 - 1.0
    others = [i for i in range(7) if i not in best]
    assert np.array_equal(out[others], logits[others]) and np.array_equal(out[:, 1], logits[:, 1])
    assert reranker.reranked([], np.zeros((0, 2)), embed).shape == (0, 2)
    with pytest.raises(ValueError, match="3-d MiniLM vectors"):
        reranker.reranked(texts, logits, CountingEmbed(384))


def test_sentences_below_the_reranker_s_floor_keep_their_logit_and_are_not_embedded():
    texts = [f"Sentence {i}." for i in range(6)] + ["The Distributor shall maintain insurance."]
    logits = np.array([[float(i) - 5.0, 0.0] for i in range(7)])
    weights = np.array([[2.0, 0.0], [0.5, 0.0], [0.0, 0.0]], dtype=np.float32)
    embed = CountingEmbed()
    out = SentenceReranker(weights, np.array([-1.0, 0.0], dtype=np.float32), floor=0.5).reranked(
        texts, logits, embed
    )
    assert embed.texts == [texts[6]]
    assert out[6, 0] == logits[6, 0] + 2.0 + 0.5 - 1.0
    assert np.array_equal(out[:6], logits[:6])
    embed = CountingEmbed()
    out = SentenceReranker(weights, np.zeros(2, dtype=np.float32), floor=5.0).reranked(texts, logits, embed)
    assert embed.texts == [] and np.array_equal(out, logits)


def test_the_shipped_reranker_s_floor_and_kernel_are_the_ones_training_applies():
    reranker = shipped_model().reranker
    assert reranker.floor == RERANK_FLOOR and reranker.kernel == RERANK_KERNEL


def test_the_reranker_s_vectors_do_not_depend_on_which_kernel_this_process_timed_fastest(monkeypatch):
    import inference.embeddings as embeddings

    model = shipped_model()
    texts = [TERM, "The parties have executed this Agreement in two counterparts."]
    scores = []
    for fastest in ("int_mm", "packed"):
        timed = {"fp32": 9.0, "int_mm": 2.0, "packed": 2.0} | {fastest: 1.0}
        monkeypatch.setattr(embeddings, "_probe_seconds", timed)
        assert embeddings.int8_kernel() == fastest
        scores.append(model.scores(texts))
    assert np.array_equal(scores[0], scores[1])


def test_the_reranker_reads_the_model_s_own_encoder_not_the_run_s(contract_text):
    model = shipped_model()
    assert model.reranker is not None and model.reranker.weights.shape == (384, len(CUAD_CATEGORIES))
    assert model.reranker.weights[:, CUAD_CATEGORIES.index("Expiration Date")].any()

    def refuse(texts: list[str]) -> np.ndarray:
        raise AssertionError("the legal model asked the run's embedder")

    result = run_connector("legal", [Document("contract", contract_text)], embed=refuse)
    assert result["clauses"] == analyse_contract("contract", contract_text, model).clauses


def test_the_shipped_model_gives_its_recorded_score_on_a_fixed_term_clause():
    model = shipped_model()
    column = CUAD_CATEGORIES.index("Expiration Date")
    texts = [TERM, "The parties have executed this Agreement in two counterparts."]
    fp32 = model.scores(texts, embed_local)[0, column]
    assert fp32 == pytest.approx(EXPECTED_SHIPPED_TERM_SCORE, abs=0.05)
    assert model.scores(texts)[0, column] == pytest.approx(fp32, abs=0.5)
    assert fp32 != pytest.approx(model.logits([TERM])[0, column], abs=0.05)


def _one_category_model(head: CategoryHead) -> ClauseModel:
    return ClauseModel(
        ("Insurance",),
        {},
        np.zeros(0, np.float32),
        np.zeros((0, 1), np.float32),
        np.zeros(1),
        {"Insurance": head},
        np.zeros((0, 1), np.float32),
        np.zeros(1),
    )


def test_a_rule_clause_in_both_mode_needs_the_model_logit_of_its_sentence_to_reach_the_bar(tmp_path):
    head = CategoryHead("both", 1.0, 8, (1.0, 0.0), (0.0, 0.0), rule_bar=0.5)
    model = _one_category_model(head)
    sentences = [Segment(0, 40, "x" * 40), Segment(41, 80, "y" * 39), Segment(81, 120, "z" * 39)]
    logits = np.array([[2.0], [0.4], [-3.0]])
    rules = [Clause("Insurance", 5, 20, 0.7), Clause("Insurance", 45, 60, 0.7)]
    kept = merge(model, sentences, logits, rules, [Clause("Insurance", 0, 40, 0.9)])
    assert [(c.start, c.end) for c in kept] == [(5, 20)]
    assert kept[0].confidence == 0.5
    unbarred = _one_category_model(CategoryHead("both", 1.0, 8, (1.0, 0.0), (0.0, 0.0)))
    assert len(merge(unbarred, sentences, logits, rules, [])) == 2
    model.recalibration = (1.0, -1.0)
    recalibrated = merge(model, sentences, logits, rules, [Clause("Insurance", 0, 40, 0.9)])
    assert [(c.start, c.confidence) for c in recalibrated] == [(5, 0.269)]
    model.save(tmp_path, {})
    loaded = ClauseModel.load(tmp_path)
    assert loaded.heads["Insurance"] == head and loaded.recalibration == (1.0, -1.0)


def _gated_model(document_bias: tuple[float, float], add_from: float | None) -> ClauseModel:
    """Two categories, their contract-level logits `document_bias`; one tree sends a category with a contract-level
    logit above 0 to a leaf of +2, else to one of -2."""
    categories = ("Insurance", "Audit Rights")
    heads = {c: CategoryHead("both", 1.0, 8, (1.0, 0.0), (0.0, 0.0)) for c in categories}
    gate = PresenceGate(
        feature=np.array([[SIGNALS - 1, -1, -1]]),
        threshold=np.zeros((1, 3)),
        left=np.array([[1, 0, 0]]),
        right=np.array([[2, 0, 0]]),
        value=np.array([[0.0, -2.0, 2.0]]),
        baseline=0.0,
        drop_below=0.5,
        add_from=add_from,
    )
    no_terms = np.zeros((0, 2), np.float32)
    return ClauseModel(
        categories,
        {},
        np.zeros(0, np.float32),
        no_terms,
        np.zeros(2),
        heads,
        no_terms,
        np.array(document_bias),
        gate,
    )


def test_the_presence_gate_drops_a_category_it_judges_absent_and_restores_one_it_judges_present(tmp_path):
    sentences = [Segment(0, 40, "x" * 40), Segment(41, 80, "y" * 39)]
    logits = np.array([[2.0, -3.0], [0.4, -1.0]])
    rules = [Clause("Audit Rights", 45, 60, 0.7)]
    learned = [Clause("Insurance", 0, 40, 0.9)]
    model = _gated_model((-2.0, 2.0), None)
    assert [c.category for c in merge(model, sentences, logits, rules, learned)] == ["Audit Rights"]
    model.presence = None
    assert {c.category for c in merge(model, sentences, logits, rules, learned)} == {
        "Insurance",
        "Audit Rights",
    }
    restoring = _gated_model((2.0, 2.0), 0.6)
    kept = merge(restoring, sentences, logits, [], [])
    assert [(c.category, c.start, c.end) for c in kept] == [("Insurance", 0, 40), ("Audit Rights", 41, 80)]
    restoring.save(tmp_path, {})
    loaded = ClauseModel.load(tmp_path)
    assert loaded.presence is not None and loaded.presence.add_from == 0.6
    assert loaded.presence.drop_below == 0.5 and loaded.presence.value.tolist() == [[0.0, -2.0, 2.0]]
    assert loaded.document_bias.tolist() == [2.0, 2.0]
    assert merge(loaded, sentences, logits, [], []) == kept


def test_the_presence_gate_s_trees_give_the_probabilities_of_the_fitted_trees():
    rng = np.random.default_rng(0)
    signals = rng.normal(size=(600, SIGNALS))
    present = (signals[:, 0] + signals[:, -1] * signals[:, 3] + rng.normal(size=600) > 0).astype(int)
    gate = _presence_fit(signals, present)
    fitted = gate_trees().fit(signals, present)
    fresh = rng.normal(size=(50, SIGNALS))
    assert np.allclose(gate.probabilities(fresh), fitted.predict_proba(fresh)[:, 1], atol=1e-9)
    assert gate.feature.shape == (GATE_TREES, gate.value.shape[1]) and gate.feature.max() < SIGNALS


def test_the_shipped_presence_gate_drops_a_category_a_contract_lacks():
    model = shipped_model()
    assert model.presence is not None
    assert model.presence.feature.shape == model.presence.value.shape
    assert model.presence.feature.max() == SIGNALS - 1
    assert model.document_weights.shape == model.weights.shape
    text = (DATA / "cuad" / "contracts" / "cuad_06.txt").read_text(encoding="utf-8")
    sentences = split_sentences(text)
    rules = find_rule_clauses(text, sentences)[0]
    gated = {c.category for c in combine(model, sentences, rules)[0]}
    ungated = ClauseModel(
        model.categories,
        model.vocabulary,
        model.idf,
        model.weights,
        model.bias,
        model.heads,
        model.document_weights,
        model.document_bias,
        reranker=model.reranker,
    )
    absent = "Affiliate License-Licensor"
    assert absent in {c.category for c in combine(ungated, sentences, rules)[0]}
    assert absent not in gated and "Governing Law" in gated


def test_suggestions_rank_what_the_clauses_leave_out_and_take_the_model_s_scale(tmp_path):
    head = CategoryHead("learned", 1.0, 8, (1.0, 0.0), (2.0, -1.0))
    model = _one_category_model(head)
    sentences = [Segment(i * 20, i * 20 + 19, "s" * 19) for i in range(5)]
    logits = np.array([[3.0], [0.5], [-1.0], [2.0], [-4.0]])
    clauses = [Clause("Insurance", 0, 19, 0.95)]
    rules = [Clause("Insurance", 62, 70, 0.9), Clause("Insurance", 2, 10, 0.9)]
    found = suggest(model, candidates(model, sentences, logits, rules, clauses, np.array([0.5]), 3))
    assert [(c.start, c.end) for c in found] == [(60, 79), (20, 39), (40, 59)]
    assert [c.confidence for c in found] == [0.441, 0.311, 0.135]
    assert (
        suggest(model, candidates(model, sentences, logits, rules, clauses, np.array([0.5]), 1)) == found[:1]
    )
    ruled = _one_category_model(CategoryHead("rules", 1.0, 8, (1.0, 0.0), (2.0, -1.0)))
    only_rules = suggest(ruled, candidates(ruled, sentences, logits, rules, clauses, np.array([1.0]), 3))
    assert [(c.start, c.end, c.confidence) for c in only_rules] == [(62, 70, 0.69)]
    model.suggestions = SuggestionScale(np.array([0.0, 0.0, 0.0, -20.0]), np.array([0.0]))
    scaled = suggest(model, candidates(model, sentences, logits, rules, clauses, np.array([0.5]), 3))
    assert [(c.start, c.confidence) for c in scaled] == [(60, 0.5), (20, 0.269), (40, 0.119)]
    model.save(tmp_path, {})
    loaded = ClauseModel.load(tmp_path)
    assert (
        suggest(loaded, candidates(loaded, sentences, logits, rules, clauses, np.array([0.5]), 3)) == scaled
    )


def test_the_ranked_list_adds_suggestions_but_the_operating_point_reads_the_clauses_only():
    gold = ["the supplier shall maintain insurance", "the buyer may audit the supplier records"]
    label = {"document_id": "d", "clauses": {"Insurance": gold}, "answers": {}}

    def clause(quote: str, confidence: float) -> dict:
        span = {"document_id": "d", "start": 0, "end": len(quote), "quote": quote}
        return {"category": "Insurance", "confidence": confidence, "span": span}

    output = {"clauses": [clause(gold[0], 0.9)], "answers": {}}
    alone = score_legal({"d": output}, [label])
    assert alone["span_recall"] == 0.5 and alone["span_precision_at_80_recall"] == 0.0
    output["suggestions"] = [clause("an unrelated sentence about price", 0.4), clause(gold[1], 0.3)]
    ranked = score_legal({"d": output}, [label])
    assert ranked["span_recall"] == 0.5 and ranked["span_precision"] == 1.0
    assert ranked["presence_micro_f1"] == alone["presence_micro_f1"]
    assert ranked["span_precision_at_80_recall"] == pytest.approx(2 / 3)
    assert ranked["span_aupr"] == pytest.approx((1 + 2 / 3) / 2)
    assert ranked["clause_calibration_error"] == pytest.approx(0.1)


def test_the_legal_connector_suggests_further_candidates_when_asked():
    text = (DATA / "cuad" / "contracts" / "cuad_00.txt").read_text(encoding="utf-8")
    plain = run_legal(text)
    assert "suggestions" not in plain
    result = run_legal(text, suggestions=3)
    assert result["clauses"] == plain["clauses"]
    suggestions = result["suggestions"]
    assert suggestions and invalid_spans(result, {"contract": text}) == []
    by_category: dict[str, list[dict]] = {}
    for found in suggestions:
        by_category.setdefault(found["category"], []).append(found)
    assert max(len(found) for found in by_category.values()) <= 3
    for category, found in by_category.items():
        assert [f["confidence"] for f in found] == sorted((f["confidence"] for f in found), reverse=True)
        mine = [c["span"] for c in result["clauses"] if c["category"] == category]
        for suggestion in found:
            span = suggestion["span"]
            assert not any(span["start"] < c["end"] and c["start"] < span["end"] for c in mine)
    rules = run_legal(text, suggestions=3, clause_model="rules")
    assert rules["suggestions"] == [] and any("suggestions need" in w for w in rules["warnings"])
    for bad in (-1, 21, 2.5, True, "3"):
        with pytest.raises(OptionError, match="suggestions must be") as refused:
            run_legal(text, suggestions=bad)
        assert refused.value.param == "options.suggestions"


def test_precision_at_80_recall_and_per_category_aupr():
    scored = [(0.9, True), (0.8, False), (0.7, True), (0.2, True)]
    assert precision_at_recall(scored, 4, 0.25) == 1.0 and precision_at_recall(scored, 4, 0.5) == 0.75
    assert precision_at_recall(scored, 4, 0.8) == 0.0
    assert precision_at_recall(scored, 3, 0.8) == pytest.approx(3 / 4)
    assert calibration_error(scored) == pytest.approx((0.1 + 0.8 + 0.3 + 0.8) / 4)
    assert calibration_error([(0.5, True), (0.5, False), (0.05, False)]) == pytest.approx(0.05 / 3)
    label = {
        "document_id": "d",
        "clauses": {"Insurance": ["the supplier shall maintain insurance"]},
        "answers": {},
    }
    span = {"document_id": "d", "start": 0, "end": 1, "quote": "the supplier shall maintain insurance"}
    clause = {"category": "Insurance", "confidence": 0.6, "span": span}
    output = {"clauses": [clause, {**clause, "confidence": 0.5}], "answers": {}}
    scores = score_legal({"d": output}, [label])
    assert scores["span_aupr"] == scores["span_aupr_macro"] == 1.0
    assert scores["span_precision_at_80_recall"] == 1.0


def _fixture(tmp_path: Path) -> Path:
    (tmp_path / "cuad" / "contracts").mkdir(parents=True)
    rows = []
    for line in (DATA / "cuad" / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["document_id"] in FIXTURE_CONTRACTS:
            rows.append(line)
            name = f"{row['document_id']}.txt"
            (tmp_path / "cuad" / "contracts" / name).write_text(
                (DATA / "cuad" / "contracts" / name).read_text(encoding="utf-8"), encoding="utf-8"
            )
    (tmp_path / "cuad" / "labels.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return tmp_path


def test_training_on_a_small_fixture_reproduces_the_model(tmp_path):
    data = _fixture(tmp_path / "data")
    report = train(data, tmp_path / "weights", kernel=None)
    model = ClauseModel.load(tmp_path / "weights")
    assert report["card"]["training_contracts"] == 4
    assert (tmp_path / "weights" / "TRAINED_ON.txt").read_text(encoding="utf-8").count("\n") == 4
    learned = {category: head.mode for category, head in model.heads.items() if head.mode != "rules"}
    assert learned == EXPECTED_FIXTURE_LEARNED
    logit = model.logits([TERM])[0, CUAD_CATEGORIES.index("Expiration Date")]
    assert logit == pytest.approx(EXPECTED_TERM_LOGIT, abs=0.05)
    assert model.presence is not None and model.presence.feature.shape[0] == GATE_TREES
    assert model.reranker is not None and model.reranker.kernel is None
    contracts = read_contracts(data)
    for contract in contracts:
        has = np.array([bool(contract.gold[category]) for category in CUAD_CATEGORIES])
        document = model.document_logits([s.text for s in contract.sentences])
        assert document[has].mean() > document[~has].mean()
    seen_twice = {
        category
        for column, category in enumerate(CUAD_CATEGORIES)
        if sum(1 for c in contracts if c.positive[:, column].any()) >= 2
    }
    reranked = {CUAD_CATEGORIES[i] for i in np.flatnonzero(model.reranker.weights.any(axis=0))}
    headed = {CUAD_CATEGORIES[i] for i in np.flatnonzero(model.weights.any(axis=0))}
    assert headed == seen_twice and set(learned) < reranked <= headed
    bias = model.reranker.bias[CUAD_CATEGORIES.index("Expiration Date")]
    assert bias == pytest.approx(EXPECTED_FIXTURE_RERANK_BIAS, abs=0.05)


def test_official_test_and_heldout_contracts_are_never_read_for_training(tmp_path):
    lines = (DATA / "cuad" / "labels.jsonl").read_text(encoding="utf-8").splitlines()
    rows = {row["document_id"]: row for row in map(json.loads, lines)}
    assert len(CUAD_TEST_SPLIT) == 102
    assert {rows[d]["source_file"] for d in (*OFFICIAL_TEST_DEV_CONTRACTS, "cuad_16")} <= CUAD_TEST_SPLIT
    data = _fixture(tmp_path)
    labels = data / "cuad" / "labels.jsonl"
    disguised = []
    for document_id in ("cuad_12", "cuad_27"):
        row = dict(rows[document_id], split="dev", document_id=f"x_{document_id}")
        disguised.append(json.dumps(row))
        (data / "cuad" / "contracts" / f"x_{document_id}.txt").write_text("Agreement.", encoding="utf-8")
    labels.write_text(labels.read_text(encoding="utf-8") + "\n".join(disguised) + "\n", encoding="utf-8")
    assert [c.document_id for c in read_contracts(data)] == sorted(FIXTURE_CONTRACTS)


def test_training_refuses_too_few_contracts(tmp_path):
    data = _fixture(tmp_path)
    labels = data / "cuad" / "labels.jsonl"
    labels.write_text("\n".join(labels.read_text(encoding="utf-8").splitlines()[:2]) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="training contracts"):
        train(data, tmp_path / "weights")
