"""A result's `context.models`: the learned weights the run asked for, their version and whether they ran."""

from __future__ import annotations

from connectors import Document, run_connector
from connectors.earnings import learned as earnings_learned
from connectors.legal.learned import provenance as legal_provenance
from connectors.loaders import corpus_document

CLAIM = {"claim_id": "c1", "claim": "Aspirin use reduces the risk of colorectal cancer."}
QUESTION = {"claim_id": "q1", "question": "How does lifestyle affect memory and sleep?"}


def test_a_legal_run_records_the_clause_model_it_used_and_none_with_the_rules(contract_text):
    learned = run_connector("legal", [Document("d1", contract_text)])
    version = legal_provenance().version()
    assert learned["context"]["models"] == [{"id": "legal-clauses", "version": version, "status": "loaded"}]
    assert len(version) == 12
    rules = run_connector("legal", [Document("d1", contract_text)], options={"clause_model": "rules"})
    assert rules["context"]["models"] == []


def test_a_review_records_the_clause_model_when_a_column_reads_a_cuad_category(contract_text):
    law = {"key": "governing_law", "question": "Which law governs?", "type": "text"}
    note = {"key": "note", "question": "Who signs?", "type": "text"}
    by_category = run_connector("review", [Document("d1", contract_text)], options={"columns": [law]})
    assert [model["id"] for model in by_category["context"]["models"]] == ["legal-clauses"]
    by_passages = run_connector("review", [Document("d1", contract_text)], options={"columns": [note]})
    assert by_passages["context"]["models"] == []


def test_an_extended_review_reuses_cells_only_while_their_weights_are_unchanged(contract_text):
    law = {"key": "governing_law", "question": "Which law governs?", "type": "text"}
    documents = [Document("d1", contract_text)]
    first = run_connector("review", documents, options={"columns": [law]})
    extended = run_connector("review", documents, options={"columns": [law]}, prior=first)
    assert extended["cells"] == {"total": 1, "computed": 0, "reused": 1}
    assert extended["context"]["models"] == first["context"]["models"]
    older = {**first["context"]["models"][0], "version": "000000000000"}
    first["context"]["models"] = [older]
    again = run_connector("review", documents, options={"columns": [law]}, prior=first)
    assert again["cells"] == {"total": 1, "computed": 1, "reused": 0}
    assert any("legal-clauses 000000000000 -> " in warning for warning in again["warnings"])
    assert again["context"]["models"][0]["version"] == legal_provenance().version()


def test_a_commercial_literature_run_says_its_weights_were_withheld(
    monkeypatch, corpus_rows, uncached_loaders
):
    documents = [corpus_document(row) for row in corpus_rows]
    monkeypatch.setenv("QUIRE_COMMERCIAL", "false")
    judged = run_connector("literature", documents, options={"claims": [CLAIM]})
    assert [(m["id"], m["status"]) for m in judged["context"]["models"]] == [("literature-stance", "loaded")]
    monkeypatch.setenv("QUIRE_COMMERCIAL", "true")
    withheld = run_connector("literature", documents, options={"claims": [CLAIM]})
    assert [(m["id"], m["status"]) for m in withheld["context"]["models"]] == [
        ("literature-stance", "withheld")
    ]
    questions = run_connector("literature", documents, options={"claims": [QUESTION]})
    assert questions["context"]["models"] == []


def test_an_earnings_run_without_the_weights_records_them_absent_and_runs_the_rules(
    monkeypatch, tmp_path, transcript_text
):
    call = [Document("call", transcript_text)]
    with_weights = run_connector("earnings", call)
    assert [(m["id"], m["status"]) for m in with_weights["context"]["models"]] == [
        ("earnings-figures", "loaded")
    ]
    assert with_weights["metrics"] and all("salience" in metric for metric in with_weights["metrics"])
    monkeypatch.setattr(earnings_learned, "WEIGHTS", tmp_path / "earnings_figures.npz")
    without = run_connector("earnings", call)
    assert without["context"]["models"] == [{"id": "earnings-figures", "version": None, "status": "absent"}]
    assert all("salience" not in metric for metric in without["metrics"])
