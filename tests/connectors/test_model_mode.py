import json

from connectors import Document, run_connector
from connectors.loaders import corpus_document
from connectors.model import parse_json_reply
from connectors.spans import invalid_spans
from inference.client import InferenceClient


def client_for(server) -> InferenceClient:
    return InferenceClient(server.url, model="scripted", max_retries=0)


def test_parse_json_reply_accepts_fenced_and_embedded_json():
    assert parse_json_reply('```json\n{"a": 1}\n```') == {"a": 1}
    assert parse_json_reply('Sure! {"a": [1, 2]} hope that helps') == {"a": [1, 2]}
    assert parse_json_reply("no json here") is None


def test_legal_model_review_keeps_grounded_quotes_only(scripted_server, contract_text):
    scripted_server.reply(
        json.dumps(
            {
                "clauses": [
                    {
                        "category": "Governing Law",
                        "quote": "governed by and construed in accordance with the laws of the State of Delaware",
                        "confidence": 0.97,
                    },
                    {
                        "category": "Source Code Escrow",
                        "quote": "Supplier shall deposit the source code with an escrow agent.",
                        "confidence": 0.9,
                    },
                    {"category": "Made Up Category", "quote": "Term", "confidence": 0.5},
                ],
                "answers": {
                    "Governing Law": "Delaware",
                    "Renewal Term": "P1Y",
                    "Expiration Date": "2031-01-01",
                },
            }
        )
    )
    result = run_connector(
        "legal", [Document("c", contract_text)], mode="model", client=client_for(scripted_server)
    )
    assert result["mode"] == "model" and result["context"]["strategy"] == "rag"
    assert [c["category"] for c in result["clauses"]] == ["Governing Law"]
    assert (
        result["answers"]["Source Code Escrow"] == "No" and result["answers"]["Governing Law"] == "Delaware"
    )
    assert result["answers"]["Expiration Date"] == "2024-03-12"
    assert any("quote not found" in w for w in result["warnings"])
    assert any("Expiration Date" in w for w in result["warnings"])
    assert invalid_spans(result, {"c": contract_text}) == []
    prompt = scripted_server.requests[0]["body"]["messages"][1]["content"]
    assert "Governing Law: This Agreement shall be governed" in prompt
    assert result["context"]["usage"] == {"calls": 1, "tokens_in": 11, "tokens_out": 7}


def test_legal_model_failure_keeps_the_analyzers_result(scripted_server, contract_text):
    scripted_server.fail(400)
    result = run_connector(
        "legal", [Document("c", contract_text)], mode="model", client=client_for(scripted_server)
    )
    assert result["answers"]["Governing Law"] == "Delaware"
    assert any("inference server failed" in w for w in result["warnings"])


def test_earnings_model_summary_needs_every_number_quoted(scripted_server, transcript_text):
    scripted_server.reply(
        json.dumps(
            {
                "summary": [
                    {
                        "text": "Q3 revenue rose 12% to $1.2 billion.",
                        "quotes": ["Third quarter revenue rose 12% to $1.2 billion."],
                    },
                    {
                        "text": "Adjusted EPS was $0.83.",
                        "quotes": ["Adjusted earnings per share were $0.83."],
                    },
                    {"text": "Gross margin was 41.5%.", "quotes": ["Gross margin was 41.5%"]},
                    {
                        "text": "Revenue will triple to $9 billion.",
                        "quotes": ["Demand stayed strong across every region."],
                    },
                ]
            }
        )
    )
    result = run_connector(
        "earnings",
        [Document("ACME_q3_2021", transcript_text)],
        mode="model",
        client=client_for(scripted_server),
    )
    texts = [b["text"] for b in result["summary"]]
    assert texts == [
        "Q3 revenue rose 12% to $1.2 billion.",
        "Adjusted EPS was $0.83.",
        "Gross margin was 41.5%.",
    ]
    assert any("numbers not in its quotes" in w for w in result["warnings"])
    assert invalid_spans(result, {"ACME_q3_2021": transcript_text}) == []


def test_literature_model_verdicts_are_grounded(scripted_server, corpus_rows):
    documents = [corpus_document(row) for row in corpus_rows]
    scripted_server.reply(
        json.dumps(
            {
                "verdict": "CONTRADICT",
                "evidence": [
                    {
                        "document_id": "102",
                        "quote": "vitamin D supplementation did not reduce the incidence of fractures in older adults",
                    }
                ],
            }
        )
    )
    scripted_server.reply(
        json.dumps({"verdict": "SUPPORT", "evidence": [{"document_id": "999", "quote": "anything"}]})
    )
    scripted_server.reply(
        json.dumps(
            {
                "sentences": [
                    {
                        "text": "Exercise helps memory [104].",
                        "citations": ["104"],
                        "quote": "improved memory scores",
                    },
                    {"text": "Invented finding.", "citations": ["555"], "quote": "x"},
                ]
            }
        )
    )
    claims = [
        {"claim_id": "a", "claim": "Vitamin D prevents fractures in the elderly."},
        {"claim_id": "b", "claim": "Aspirin reduces colorectal cancer."},
        {"claim_id": "q", "question": "What improves memory?"},
    ]
    result = run_connector(
        "literature", documents, options={"claims": claims}, mode="model", client=client_for(scripted_server)
    )
    a, b = result["claims"]
    assert a["verdict"] == "CONTRADICT" and a["evidence"][0]["span"]["document_id"] == "102"
    assert b.get("source") != "model"
    assert [s["text"] for s in result["synthesis"][0]["sentences"]] == ["Exercise helps memory [104]."]
    assert invalid_spans(result, {d.document_id: d.text for d in documents}) == []
    assert any("not shown" in w for w in result["warnings"])


def test_cli_model_mode_reads_the_server_from_the_environment(
    scripted_server, tmp_path, capsys, monkeypatch, contract_text
):
    from connectors.cli import main

    monkeypatch.setenv("QUIRE_INFERENCE_URL", scripted_server.url)
    monkeypatch.setenv("QUIRE_INFERENCE_MODEL", "scripted")
    scripted_server.reply(
        json.dumps(
            {
                "clauses": [
                    {"category": "Insurance", "quote": "general liability insurance", "confidence": 0.8}
                ],
                "answers": {},
            }
        )
    )
    path = tmp_path / "c.txt"
    path.write_text(contract_text)
    assert main(["run", "legal", str(path), "--mode", "model", "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["mode"] == "model" and [c["category"] for c in result["clauses"]] == ["Insurance"]
    assert scripted_server.requests[0]["body"]["model"] == "scripted"
