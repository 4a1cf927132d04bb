import json

import pytest

from connectors.cli import main
from connectors.cuad_labels import label_answer, party_matches
from connectors.evaluation import (
    average_precision,
    fact_found,
    ndcg_at,
    precision_at_recall,
    reference_facts,
    rouge,
    score_legal,
)


def run_cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_run_legal_prints_the_contract_json(tmp_path, capsys, contract_text):
    path = tmp_path / "acme_distribution.txt"
    path.write_text(contract_text, encoding="utf-8")
    playbook = tmp_path / "playbook.json"
    playbook.write_text(json.dumps([{"category": "Governing Law", "allowed": ["New York"]}]))
    code, out, err = run_cli(capsys, "run", "legal", str(path), "--playbook", str(playbook))
    assert code == 0
    result = json.loads(out)
    assert result["connector"] == "legal" and result["answers"]["Governing Law"] == "Delaware"
    assert result["clauses"][0]["span"]["document_id"] == "acme_distribution"
    assert any(r.get("playbook") for r in result["risks"])
    assert "100%" in err


def test_flags_may_come_before_the_files(tmp_path, capsys, contract_text):
    path = tmp_path / "acme.txt"
    path.write_text(contract_text, encoding="utf-8")
    code, out, err = run_cli(capsys, "run", "legal", "--quiet", str(path))
    assert code == 0 and json.loads(out)["connector"] == "legal" and err == ""
    with pytest.raises(SystemExit):
        main(["run", "legal", "--bogus", str(path)])


def test_run_earnings_on_json_turns(tmp_path, capsys):
    path = tmp_path / "call.json"
    path.write_text(
        json.dumps(
            [
                {
                    "speaker": "Jane Doe",
                    "title": "CFO",
                    "text": "Revenue was $2.0 billion in the third quarter of 2021.",
                }
            ]
        )
    )
    code, out, _ = run_cli(capsys, "run", "earnings", str(path), "--quiet")
    assert code == 0 and json.loads(out)["metrics"][0]["value"] == 2.0


def test_run_earnings_on_two_calls_compares_them(tmp_path, capsys):
    (tmp_path / "ACME_q2_2022.txt").write_text(
        "Jane Doe: Revenue was $500 million in the second quarter of 2022. "
        "For the third quarter of 2022, we expect revenue of $520 million to $540 million."
    )
    (tmp_path / "ACME_q3_2022.txt").write_text(
        "Jane Doe: Revenue was $530 million in the third quarter of 2022."
    )
    files = [str(tmp_path / "ACME_q3_2022.txt"), str(tmp_path / "ACME_q2_2022.txt")]
    code, out, _ = run_cli(capsys, "run", "earnings", *files, "--quiet")
    comparison = json.loads(out)["comparison"]
    assert code == 0 and comparison["periods"] == ["Q2 2022", "Q3 2022"]
    assert comparison["guidance_outcomes"][0]["outcome"] == "met"


def test_run_literature_from_jsonl(tmp_path, capsys, corpus_rows):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps(row) for row in corpus_rows))
    claims = tmp_path / "claims.jsonl"
    claims.write_text(json.dumps({"claim_id": "c1", "claim": "Aspirin reduces colorectal cancer risk."}))
    code, out, _ = run_cli(
        capsys, "run", "literature", "--corpus", str(corpus), "--claims", str(claims), "--quiet"
    )
    assert code == 0 and json.loads(out)["claims"][0]["ranking"][0]["document_id"] == "101"


@pytest.mark.parametrize("content", [b"", b"\x00\x01\x02binary\x00", b"   \n\t "])
def test_bad_files_give_a_clear_error_not_a_traceback(tmp_path, capsys, content):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    code, out, err = run_cli(capsys, "run", "legal", str(path))
    assert code == 2 and out == "" and err.startswith("error: ") and "Traceback" not in err


def test_missing_file_and_missing_literature_inputs(capsys, tmp_path):
    assert run_cli(capsys, "run", "legal", str(tmp_path / "nope.txt"))[0] == 2
    code, _, err = run_cli(capsys, "run", "literature")
    assert code == 2 and "--corpus" in err


def test_model_mode_without_a_server_falls_back_with_a_warning(tmp_path, capsys, monkeypatch, contract_text):
    monkeypatch.delenv("QUIRE_INFERENCE_URL", raising=False)
    path = tmp_path / "c.txt"
    path.write_text(contract_text)
    code, out, _ = run_cli(capsys, "run", "legal", str(path), "--mode", "model", "--quiet")
    result = json.loads(out)
    assert code == 0 and result["mode"] == "analyzers" and "no inference server" in result["warnings"][0]


def test_legal_scores():
    text = "The laws of Delaware govern. Either party may terminate for convenience."
    label = {
        "document_id": "d",
        "clauses": {"Governing Law": ["The laws of Delaware govern."], "Audit Rights": ["audit"]},
        "answers": {"Governing Law": "Delaware"},
    }
    output = {
        "clauses": [
            {"category": "Governing Law", "confidence": 0.9, "span": {"quote": text[:28]}},
            {"category": "Non-Compete", "confidence": 0.4, "span": {"quote": "terminate"}},
        ],
        "answers": {"Governing Law": "Delaware"},
    }
    scores = score_legal({"d": output}, [label])
    assert scores["presence_micro_precision"] == 0.5 and scores["presence_micro_recall"] == 0.5
    assert scores["span_recall"] == 0.5 and scores["answer_value_accuracy"] == 1.0


def test_span_recall_counts_each_labelled_span_once_and_each_span_a_clause_covers():
    first, second = (
        "Neither party shall compete in the Territory.",
        "Neither party shall solicit the customers.",
    )
    label = {"document_id": "d", "clauses": {"Non-Compete": [first, second]}, "answers": {}}

    def clause(quote: str) -> dict:
        return {"category": "Non-Compete", "confidence": 0.9, "span": {"quote": quote}}

    twice = score_legal({"d": {"clauses": [clause(first), clause(first)], "answers": {}}}, [label])
    assert (twice["span_recall"], twice["span_precision"]) == (0.5, 1.0)
    both = score_legal({"d": {"clauses": [clause(f"{first} {second}")], "answers": {}}}, [label])
    assert both["span_recall"] == 1.0


def test_average_precision_does_not_depend_on_the_order_of_equal_confidences():
    hit_first = [(0.5, True), (0.5, False), (0.9, True)]
    miss_first = [(0.5, False), (0.5, True), (0.9, True)]
    assert (
        average_precision(hit_first, 2) == average_precision(miss_first, 2) == pytest.approx((1 + 2 / 3) / 2)
    )
    assert (
        precision_at_recall(hit_first, 2, 1.0)
        == precision_at_recall(miss_first, 2, 1.0)
        == pytest.approx(2 / 3)
    )


def test_the_scorer_reads_cuad_labels_with_its_own_parser():
    assert label_answer("Agreement Date", "6/21/1999") == "1999-06-21"
    assert label_answer("Expiration Date", "31/01/2025") == "2025-01-31"
    assert label_answer("Expiration Date", "[]/[]/2004") is None
    assert label_answer("Expiration Date", "09/05/2019; perpetual") == "perpetual"
    assert label_answer("Renewal Term", "2 successive 10 years") == "P10Y"
    assert label_answer("Renewal Term", "three (3) years") == "P3Y"
    assert label_answer("Renewal Term", "0.5 year") == "P6M"
    assert label_answer("Notice Period To Terminate Renewal", "successive []") is None
    assert label_answer("Governing Law", "The State of New York.") == "new york"


def test_party_names_match_across_legal_forms_and_capitals_not_across_names():
    assert party_matches("ACME CORPORATION", "Acme Corp.")
    assert party_matches("Beta Widgets LLC", "BETA WIDGETS, L.L.C.")
    assert party_matches("the Company", "Company")
    assert not party_matches("Territory", "Company")
    assert not party_matches("Acme Corp.", "Beta Widgets LLC")


def test_the_parties_answer_is_scored_by_name_precision_and_label_recall():
    label = {
        "document_id": "d",
        "clauses": {"Parties": ["Acme Corp.", "Acme", "Beta Widgets LLC"]},
        "answers": {},
    }
    output = {"clauses": [], "answers": {"Parties": ["ACME CORP.", "Products", "Beta Widgets, LLC"]}}
    scores = score_legal({"d": output}, [label])
    assert scores["answer_parties_precision"] == pytest.approx(2 / 3)
    assert scores["answer_parties_recall"] == pytest.approx(3 / 3)
    unlabelled = {"document_id": "e", "clauses": {}, "answers": {}}
    assert score_legal({"e": output}, [unlabelled])["answer_parties_precision"] == 0.0
    one_string = {"clauses": [], "answers": {"Parties": "ACME CORP."}}
    scores = score_legal({"d": one_string}, [label])
    assert scores["answer_parties_precision"] == 1.0 and scores["answer_parties_recall"] == pytest.approx(
        2 / 3
    )


def test_a_cuad_label_year_from_a_spreadsheet_two_digit_pivot_reads_in_this_century():
    label = {"document_id": "d", "clauses": {}, "answers": {"Expiration Date": "12/31/1934"}}
    scores = score_legal({"d": {"clauses": [], "answers": {"Expiration Date": "2034-12-31"}}}, [label])
    assert scores["answer_value_accuracy"] == 1.0
    label["answers"]["Expiration Date"] = "12/31/1999"
    scores = score_legal({"d": {"clauses": [], "answers": {"Expiration Date": "2099-12-31"}}}, [label])
    assert scores["answer_value_accuracy"] == 0.0


def test_ranking_and_summary_metrics():
    assert average_precision([(0.9, True), (0.8, False), (0.1, True)], 2) == pytest.approx((1 + 2 / 3) / 2)
    assert ndcg_at(["a", "b"], {"a"}) == 1.0 and ndcg_at(["b", "a"], {"a"}) < 1.0
    assert rouge("q3 revenue rose 12%", "q3 revenue rose 12%")["rougeL"] == 1.0
    facts = reference_facts(["q3 revenue rose 2.5 percent to $452.2 million."], "ACME_q3_2021")
    assert [(f["metric"], f["value"]) for f in facts] == [("revenue", 2.5), ("revenue", 452.2)]
    metric = {
        "metric": "revenue",
        "value": 0.4522,
        "scale": 1e9,
        "period": "Q3 2021",
        "change": {"value": 2.5},
    }
    assert fact_found(facts[1], [metric]) and fact_found(facts[0], [metric])
    assert not fact_found(facts[1], [{**metric, "metric": "eps"}])


def test_oversized_contract_is_refused_with_a_clear_message(tmp_path, capsys):
    from connectors.base import MAX_DOCUMENT_CHARS

    path = tmp_path / "huge.txt"
    path.write_text("This Agreement is governed by the laws of Delaware. " * (MAX_DOCUMENT_CHARS // 50 + 10))
    code, out, err = run_cli(capsys, "run", "legal", str(path), "--quiet")
    assert code == 2 and out == "" and "limit is" in err


def test_the_size_limit_counts_the_normalised_text():
    from connectors import Document
    from connectors.base import MAX_DOCUMENT_CHARS, prepare_documents

    grows = "\ufb2c" * (MAX_DOCUMENT_CHARS // 2)
    with pytest.raises(ValueError, match="once normalised; the limit is"):
        prepare_documents([Document("d", grows)])
    shrinks = "e\u0301" * (MAX_DOCUMENT_CHARS // 2 + 10)
    assert len(prepare_documents([Document("d", shrinks)])[0].text) == MAX_DOCUMENT_CHARS // 2 + 10


def test_reference_facts_skip_dates_and_share_a_range_scale():
    facts = reference_facts(
        [
            "sees 2022 total sales of approximately $9.55 to $9.70 billion.",
            "program approved on march 23, 2021.",
        ],
        "ACME_q2_2022",
    )
    assert [(f["value"], f["scale"], f["metric"]) for f in facts] == [
        (9.55, 1e9, "revenue"),
        (9.70, 1e9, "revenue"),
    ]
