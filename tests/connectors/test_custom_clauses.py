"""Custom clause types without the platform: input checks, training reproduces its head and reports
cross-validated metrics, and the legal and review connectors find the clause by key with a verified span."""

from __future__ import annotations

import json

import numpy
import pytest

from connectors import Document, get_connector, run_connector
from connectors.base import OptionError
from connectors.legal.custom import (
    MAX_EXAMPLE_CHARS,
    MAX_TERMS,
    THRESHOLD,
    ClauseHead,
    HeadError,
    Lexicon,
    Passages,
    TrainingTooLong,
    check_examples,
    distinct_text,
    example_vectors,
    near_duplicate_groups,
    near_misses,
    negatives_from,
    passages,
    to_ask,
    train_head,
)
from connectors.spans import invalid_spans
from tests.support.paths import DATA

FIXTURE = json.loads((DATA / "custom_clauses" / "force_majeure.json").read_text(encoding="utf-8"))


def test_examples_are_checked_naming_the_param():
    with pytest.raises(HeadError) as few:
        check_examples(["a clause"] * 9, "examples", minimum=10)
    assert few.value.param == "examples"
    with pytest.raises(HeadError) as blank:
        check_examples(["a clause", "a clause", "  \n "], "examples")
    assert blank.value.param == "examples.2"
    assert check_examples(["  two\n words "], "counter_examples") == ["two words"]


def _words(count: int) -> list[str]:
    """`count` different made-up words of three letters."""
    return ["".join(chr(97 + n // 26**k % 26) for k in range(3)) for n in range(count)]


def test_training_is_reproducible_and_cross_validated():
    generator = numpy.random.default_rng(7)
    centre = generator.normal(size=16)
    positives = Passages(
        [f"force majeure event {word}" for word in _words(12)], centre + generator.normal(size=(12, 16))
    )
    negatives = Passages(
        [f"payment is due within {word} days" for word in _words(30)],
        -centre + generator.normal(size=(30, 16)),
    )
    first, second = train_head(positives, negatives), train_head(positives, negatives)
    assert first.weights == second.weights
    assert (first.precision, first.recall) == (1.0, 1.0)
    assert {"force", "majeure", "force majeure", "event"} <= set(first.weights["terms"])
    assert "payment" not in first.weights["terms"]
    model = ClauseHead.from_json("k", "K", first.weights)
    assert (model.probabilities(positives) > THRESHOLD).all()
    assert (model.probabilities(negatives) < THRESHOLD).all()
    near = numpy.vstack([positives.vectors[:1], negatives.vectors[:3]])
    unit = near / numpy.linalg.norm(near, axis=1, keepdims=True)
    kept = negatives_from(Passages(["p", "n1", "n2", "n3"], unit), Passages(["p"], unit[:1]))
    assert kept.texts == ["n1", "n2", "n3"]
    with pytest.raises(HeadError):
        train_head(Passages(positives.texts[:1], positives.vectors[:1]), negatives)


def test_the_lexicon_tells_apart_what_the_vectors_do_not():
    """Every passage has the same vector but for a direction of its own (so that none is a near-duplicate of
    another), so only the words the examples share can find the clause; a head stored before lexicons (no
    `terms`) still loads and reads the vector alone."""
    own = 0.4 * numpy.eye(32, dtype=numpy.float32)
    vectors = numpy.hstack([numpy.ones((32, 8), dtype=numpy.float32) / numpy.sqrt(8), own])
    examples = [f"The Supplier shall carry product liability insurance of {w} million." for w in _words(10)]
    others = [f"Invoices are payable within {w} days of receipt." for w in _words(20)]
    trained = train_head(Passages(examples, vectors[:10]), Passages(others, vectors[10:30]))
    head = ClauseHead.from_json("insurance", "Insurance", trained.weights)
    probe = Passages(
        [
            "The Distributor shall carry liability insurance of five million.",
            "Payable within 30 days of receipt.",
        ],
        vectors[30:],
    )
    insured, payable = head.probabilities(probe)
    assert insured > head.threshold > payable
    assert Lexicon.learned(["a b c", "a b d"], ["a x"]).terms == ("a", "a b", "b")
    old = ClauseHead.from_json("k", "K", {"coef": [1.0] * 40, "intercept": -2.0})
    assert old.lexicon.terms == () and old.probabilities(probe).shape == (2,)


def test_passages_split_long_paragraphs_on_sentences():
    text = "Short one.\n\n" + " ".join(f"Sentence number {i} is here." for i in range(60))
    units = passages(text)
    assert units[0] == (0, 10)
    assert all(end - start <= 720 for start, end in units) and len(units) > 2


def _liability(texts: list[str]) -> numpy.ndarray:
    """A one-feature stand-in for the encoder: does the passage speak of being liable?"""
    return numpy.asarray([[float("liable" in text)] for text in texts], dtype=numpy.float32)


def test_legal_and_review_find_the_custom_clause_by_key():
    head = ClauseHead("force_majeure", "Force Majeure", numpy.asarray([8.0], dtype=numpy.float32), -4.0)
    document = Document("msa", FIXTURE["contract"])
    heads = {head.key: head}
    output = run_connector(
        "legal", [document], options={"clause_types": ["force_majeure"]}, embed=_liability, clause_heads=heads
    )
    (found,) = output["custom_clauses"]
    assert (found["clause_type"], found["name"], found["confidence"]) == (
        "force_majeure",
        "Force Majeure",
        0.982,
    )
    assert found["span"]["quote"].startswith("3. Unforeseeable Events.")
    assert not invalid_spans(output, {"msa": document.text})
    column = {"key": "fm", "question": "Force majeure?", "type": "clause", "clause_type": "force_majeure"}
    grid = run_connector(
        "review", [document], options={"columns": [column]}, embed=_liability, clause_heads=heads
    )
    cell = grid["rows"][0]["cells"]["fm"]
    assert cell["status"] == "answered" and cell["spans"] == [found["span"]]
    assert grid["columns"][0]["clause_type_version"] == 1
    retrained = {head.key: ClauseHead(head.key, head.name, head.coef, head.intercept, version=2)}
    for kept, heads_now in ((1, heads), (0, retrained)):
        again = run_connector(
            "review",
            [document],
            options={"columns": [column]},
            embed=_liability,
            clause_heads=heads_now,
            prior={**grid, "job_id": "job_earlier"},
        )
        assert again["cells"]["reused"] == kept and again["rows"][0]["cells"]["fm"]["spans"] == [
            found["span"]
        ]
    for name, options in (("legal", {"clause_types": ["force_majeure"]}), ("review", {"columns": [column]})):
        with pytest.raises(ValueError, match="not available"):
            run_connector(name, [document], options=options, embed=_liability)


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


def test_near_misses_are_the_highest_scored_passages_not_yet_labelled():
    head = ClauseHead("k", "K", numpy.asarray([1.0], dtype=numpy.float32), 0.0)
    scored = Passages(
        ["labelled  passage", "top", "top", "second", "third", "low"],
        numpy.asarray([[9.0], [8.0], [8.0], [3.0], [2.0], [-5.0]], dtype=numpy.float32),
    )
    chosen = near_misses(head, scored, ["labelled passage"], limit=3)
    assert [index for index, _ in chosen] == [1, 3, 4]
    assert chosen[0][1] == round(float(1 / (1 + numpy.exp(-8.0))), 4)
    assert near_misses(head, Passages([], numpy.zeros((0, 1), dtype=numpy.float32)), []) == []


def test_the_quick_study_answers_a_jobs_findings_contract_by_contract(monkeypatch):
    """`benchmarks/quick_study.py --answer findings` answers what a job would show a reviewer: per contract in
    order, its passages above the threshold (at most `MAX_FINDINGS`, most confident first), not those answered
    already, 10 in all."""
    import importlib

    from tests.support.paths import ROOT

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    study = importlib.import_module("quick_study")
    head = ClauseHead("k", "K", numpy.asarray([1.0], dtype=numpy.float32), 0.0, threshold=0.7)
    first, second, third = (study.Contract(name, "", {}) for name in ("a", "b", "c"))
    logits = [3.0, -2.0, 2.0, *[4.0] * 12, 1.0, *[5.0] * 6]
    places = [
        *[(first, (i, i + 1)) for i in range(3)],
        *[(second, (i, i + 1)) for i in range(13)],
        *[(third, (i, i + 1)) for i in range(6)],
    ]
    passages = Passages(
        [str(i) for i in range(22)], numpy.asarray([[v] for v in logits], dtype=numpy.float32)
    )
    answered = numpy.zeros(22, dtype=bool)
    assert study.findings_to_answer(head, passages, places, answered) == [0, 2, 3, 4, 5, 6, 7, 16, 17, 18]
    answered[[0, 2, 3, 4, 5, 6, 7, 16, 17, 18]] = True
    assert study.findings_to_answer(head, passages, places, answered) == [19, 20]


def test_the_quick_study_reviewer_marks_the_clauses_a_contracts_findings_missed(monkeypatch):
    """`--answer reviewed`: after a contract's findings, its labelled clauses that no finding overlaps."""
    import importlib

    from tests.support.paths import ROOT

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    study = importlib.import_module("quick_study")
    head = ClauseHead("k", "K", numpy.asarray([1.0], dtype=numpy.float32), 0.0, threshold=0.7)
    first, second = (study.Contract(name, "", {}) for name in ("a", "b"))
    places = [
        (first, (0, 10)),
        (first, (10, 20)),
        (first, (20, 30)),
        (second, (0, 10)),
        (second, (10, 20)),
        (first, (0, 9)),
        (first, (12, 19)),
        (second, (0, 5)),
    ]
    logits = [3.0, -2.0, 2.0, -5.0, -5.0, 0.0, 0.0, 0.0]
    passages = Passages([str(i) for i in range(8)], numpy.asarray([[v] for v in logits], dtype=numpy.float32))
    answered = numpy.zeros(8, dtype=bool)
    assert study.findings_to_answer(head, passages, places, answered, units=5) == [0, 2, 6, 7]
    answered[[0, 2, 6, 7]] = True
    assert study.findings_to_answer(head, passages, places, answered, units=5) == []


def test_a_round_asks_about_findings_first_then_near_misses_half_each():
    """`to_ask`: five findings then five near misses; either side fills what the other lacks."""
    found, near = list(range(100, 110)), list(range(10))
    assert to_ask(found, near) == ([100, 101, 102, 103, 104], [0, 1, 2, 3, 4])
    assert to_ask(found[:2], near) == ([100, 101], list(range(8)))
    assert to_ask(found, near[:3]) == (list(range(100, 107)), [0, 1, 2])
    assert to_ask([], []) == ([], [])


def test_the_lexicon_keeps_the_terms_most_examples_share_and_training_stops_at_its_deadline():
    """However many terms the examples share, a head reads at most `MAX_TERMS` (those the most examples share),
    so the solve stays the same size at the limits of what a type may hold; a deadline stops it."""
    import time

    words = _words(600)
    examples = [f"Clause about {' '.join(words[i::2])} common words" for i in range(2)]
    examples += [examples[0] + " rare", examples[1] + " rare"]
    lexicon = Lexicon.learned(examples, ["common words elsewhere"])
    assert len(lexicon.terms) == MAX_TERMS
    assert {"common", "common words", "rare"} <= set(lexicon.terms)
    generator = numpy.random.default_rng(3)
    positives = Passages([f"force majeure {w}" for w in "abcdefghij"], generator.normal(size=(10, 8)))
    negatives = Passages([f"payment {w}" for w in "abcdefghij"], generator.normal(size=(10, 8)))
    with pytest.raises(TrainingTooLong):
        train_head(positives, negatives, deadline=time.monotonic())


def test_near_duplicates_count_once_and_share_a_fold():
    """One passage numbered (1) to (10) is one example, however its vectors differ; passages whose vectors are
    at a cosine of 0.95 or more are one group, and a group's passages are held out together."""
    from connectors.legal.custom import _stratified_folds

    passage = "Neither party is liable for delays caused by events beyond its reasonable control."
    assert (
        distinct_text(f"(iv) {passage.upper()} (7)")
        == distinct_text(passage)
        == distinct_text(f"1. {passage}")
    )
    numbered = [f"{passage} ({i})" for i in range(1, 11)]
    with pytest.raises(HeadError, match="give at least 10 different example passages") as once:
        check_examples(numbered, "examples", minimum=10)
    assert once.value.param == "examples"
    generator = numpy.random.default_rng(5)
    negatives = Passages([f"payment {w}" for w in _words(20)], generator.normal(size=(20, 16)))
    with pytest.raises(HeadError, match="1 differ once near-duplicates") as trained_once:
        train_head(Passages(numbered, generator.normal(size=(10, 16))), negatives)
    assert trained_once.value.param == "examples"
    twins = generator.normal(size=(12, 16))
    vectors = numpy.vstack([twins, twins + 0.01 * generator.normal(size=(12, 16))])
    texts = [f"force majeure {w}" for w in _words(24)]
    groups = near_duplicate_groups(Passages(texts, vectors))
    assert groups.tolist() == [*range(12), *range(12)]
    y = numpy.r_[numpy.ones(24), numpy.zeros(20)]
    everything = numpy.r_[groups, 24 + numpy.arange(20)]
    folds = _stratified_folds(y, everything, 5, 0)
    assert (folds[:12] == folds[12:24]).all() and set(folds[:24]) == set(folds[24:]) == set(range(5))


def test_a_long_example_is_read_to_its_end():
    """The encoder reads the first 256 word pieces of a text: an example of several passages is the mean of its
    passages' vectors, so the clause at the end of a long one reaches its vector; a short one is read whole."""
    from connectors.legal.custom import GENERIC_PARAGRAPHS
    from inference.embeddings import embed_texts

    preamble = " ".join(GENERIC_PARAGRAPHS[1:12])
    clause = (
        "Neither party shall be liable for any failure or delay in performance caused by events beyond its "
        "reasonable control, including acts of God, fire, flood, war, terrorism, strikes or governmental action."
    )
    example = f"{preamble} {clause}"
    read = []

    def embed(texts: list[str]) -> numpy.ndarray:
        read.extend(texts)
        return embed_texts(texts)

    long, short = example_vectors([example, clause], embed)
    assert len(read) == 4 and read[-1] == clause and all(len(piece) <= 720 for piece in read)
    alone, whole = embed_texts([clause, example])
    assert numpy.array_equal(short, alone) and abs(float(numpy.linalg.norm(long)) - 1) < 1e-5
    assert float(long @ alone) > float(whole @ alone) + 0.1


def test_a_review_extending_another_reuses_no_cell_of_a_type_deleted_and_created_again_under_its_key():
    """A custom clause column records which clause type and version answered it: a type created again under a
    deleted one's key starts at version 1 again, and its cells are computed anew."""
    head = ClauseHead(
        "fm", "Force Majeure", numpy.asarray([8.0], dtype=numpy.float32), -4.0, clause_type_id="cla_first"
    )
    document = Document("msa", FIXTURE["contract"])
    column = {"key": "fm", "question": "Force majeure?", "type": "clause", "clause_type": "fm"}
    options = {"columns": [column]}
    grid = run_connector("review", [document], options=options, embed=_liability, clause_heads={"fm": head})
    recorded = grid["columns"][0]
    assert (recorded["clause_type_id"], recorded["clause_type_version"]) == ("cla_first", 1)
    again = ClauseHead("fm", "Payment", 0 * head.coef, -30.0, clause_type_id="cla_second")
    for kept, heads in ((1, {"fm": head}), (0, {"fm": again})):
        extended = run_connector(
            "review",
            [document],
            options=options,
            embed=_liability,
            clause_heads=heads,
            prior={**grid, "job_id": "job_earlier"},
        )
        assert extended["cells"]["reused"] == kept
    assert extended["rows"][0]["cells"]["fm"]["status"] == "not_found"


def test_a_key_with_a_trailing_line_break_is_refused():
    """`$` matches before a final line break: "fm\n" was a key of its own beside "fm", in a legal job's clause
    types as in a review column's clause_type and key."""
    legal, review = get_connector("legal"), get_connector("review")
    with pytest.raises(OptionError) as clause_types:
        legal.validate_options({"clause_types": ["fm\n"]})
    assert clause_types.value.param == "options.clause_types.0"
    for column, param in (
        (
            {"key": "a", "question": "q?", "type": "clause", "clause_type": "fm\n"},
            "options.columns.0.clause_type",
        ),
        ({"key": "a\n", "question": "q?", "type": "text"}, "options.columns.0.key"),
    ):
        with pytest.raises(OptionError) as refused:
            review.validate_options({"columns": [column]})
        assert refused.value.param == param


def test_a_passage_is_measured_as_it_is_stored_with_runs_of_blanks_folded():
    padded = "Supplier shall deposit the source code." + " " * MAX_EXAMPLE_CHARS
    assert check_examples([padded], "examples") == ["Supplier shall deposit the source code."]
    with pytest.raises(HeadError) as long:
        check_examples(["word " * (MAX_EXAMPLE_CHARS // 5 + 1)], "examples")
    assert long.value.param == "examples.0"
