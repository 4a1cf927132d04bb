import json
import re

from connectors import Document, run_connector
from connectors.legal.categories import CUAD_CATEGORIES
from connectors.loaders import corpus_document
from connectors.model import parse_json_reply
from connectors.spans import invalid_spans
from connectors.text import normalise_text
from inference.client import InferenceClient
from inference.context import ChunkCandidate, pack_chunks
from inference.context import sections as context_sections


def client_for(server) -> InferenceClient:
    return InferenceClient(server.url, model="scripted", max_retries=0)


def test_parse_json_reply_accepts_fenced_and_embedded_json():
    assert parse_json_reply('```json\n{"a": 1}\n```') == {"a": 1}
    assert parse_json_reply('Sure! {"a": [1, 2]} hope that helps') == {"a": [1, 2]}
    assert parse_json_reply("no json here") is None


def test_parse_json_reply_finds_the_object_among_brackets_and_braces_of_prose():
    reply = {"clauses": [{"quote": "governed by Delaware law"}], "answer": "Delaware"}
    assert parse_json_reply(f"As [P9] says: {json.dumps(reply)}") == reply
    assert parse_json_reply('{"value": "x", "quote": "y"}\nNote: the quote is from paragraph {P2}.') == {
        "value": "x",
        "quote": "y",
    }
    fenced = '```json\n{"clauses": [{"quote": "a"}]}\n```\n```json\n{"clauses": []}\n```'
    assert parse_json_reply(fenced) == {"clauses": [{"quote": "a"}]}
    assert parse_json_reply('See [1] and [2]: {"a": 1}') == {"a": 1}
    assert parse_json_reply('[{"a": 1}, {"b": 2}]') == [{"a": 1}, {"b": 2}]


def test_parse_json_reply_takes_no_fragment_of_a_broken_object():
    assert parse_json_reply('{"clauses": [{"quote": "a", "confidence": 0.9}], "answer": "Dela') is None
    assert parse_json_reply('{"clauses": [{"quote": "a"} {"quote": "b"}]}') is None


def test_parse_json_reply_answers_none_for_nesting_too_deep_to_decode():
    assert parse_json_reply("[" * 5000) is None
    assert parse_json_reply('{"clauses": ' + "[" * 1200) is None
    assert parse_json_reply("[" * 1200 + "]" * 1200) is None


def legal_responder(messages: list[dict]) -> str:
    question = messages[-1]["content"]
    if "CUAD category: Governing Law." in question:
        return json.dumps(
            {
                "clauses": [
                    {
                        "quote": "[P9] This Agreement shall be governed by and construed in accordance with "
                        "the laws of the State of Delaware",
                        "confidence": 0.97,
                    }
                ],
                "answer": "Delaware",
            }
        )
    if "CUAD category: Source Code Escrow." in question:
        return json.dumps(
            {"clauses": [{"quote": "Supplier shall deposit the source code.", "confidence": 0.9}]}
        )
    if "CUAD category: Expiration Date." in question:
        return json.dumps({"clauses": [], "answer": "2031-01-01"})
    return "{}"


def test_a_model_reading_reports_its_calls_in_the_stage_its_fraction_unchanged(
    scripted_server, contract_text
):
    scripted_server.responder = legal_responder
    reports: list[tuple[float, str]] = []
    run_connector(
        "legal",
        [Document("c", contract_text)],
        mode="model",
        client=client_for(scripted_server),
        progress=lambda fraction, stage: reports.append((fraction, stage)),
    )
    calls = [(f, s) for f, s in reports if "model call" in s]
    assert calls[-1] == (0.5, f"clauses c: {len(CUAD_CATEGORIES)} model calls")
    assert {f for f, _ in calls} == {0.5}
    counts = [int(re.search(r"(\d+) model calls?$", s).group(1)) for _, s in calls]
    assert counts == sorted(counts) and counts[0] >= 1


def test_legal_model_asks_every_category_of_the_whole_text_over_one_prefix(scripted_server, contract_text):
    scripted_server.responder = legal_responder
    result = run_connector(
        "legal", [Document("c", contract_text)], mode="model", client=client_for(scripted_server)
    )
    chats = scripted_server.chats()
    assert len(chats) == len(CUAD_CATEGORIES)
    assert len({messages[0]["content"] for messages in chats}) == 1
    system = chats[0][0]["content"]
    paragraphs = [p.strip() for p in normalise_text(contract_text).split("\n\n") if p.strip()]
    assert all(f"[P{i + 1}] {p}" in system for i, p in enumerate(paragraphs))
    assert sorted(m[1]["content"].split(".")[0] for m in chats) == sorted(
        f"CUAD category: {c}" for c in CUAD_CATEGORIES
    )
    assert "Pattern rules flagged these" in next(
        m[1]["content"] for m in chats if "Governing Law." in m[1]["content"]
    )
    assert result["mode"] == "model" and [c["category"] for c in result["clauses"]] == ["Governing Law"]
    assert (
        result["answers"]["Source Code Escrow"] == "No" and result["answers"]["Governing Law"] == "Delaware"
    )
    assert result["answers"]["Expiration Date"] == "2024-03-12"
    assert any("quote not found" in w for w in result["warnings"])
    assert invalid_spans(result, {"c": contract_text}) == []
    record = result["context"]["documents"][0]
    assert (record["strategy"], record["policy"], record["calls"]) == ("whole", "auto", 41)
    assert result["context"]["quotes_dropped"] == 1
    assert record["cached_tokens"] == 40 * (len(system) // 4) and record["attention"] == "dense"


PLAYBOOK_REPLIES = {
    "law": {
        "present": True,
        "quote": "governed by and construed in accordance with the laws of the State of Delaware",
        "answer": "Delaware",
    },
    "escrow": {"present": True, "quote": "Supplier shall deposit the source code.", "answer": None},
    "cap": {
        "present": True,
        "quote": "In no event shall either party's aggregate liability under this Agreement exceed the fees paid",
        "answer": None,
    },
    "mfn": {"present": False, "quote": None, "answer": None},
}


def playbook_responder(messages: list[dict]) -> str:
    found = re.match(r"Playbook check (\w+) ", messages[-1]["content"])
    return json.dumps(PLAYBOOK_REPLIES[found.group(1)]) if found else legal_responder(messages)


def test_legal_model_asks_the_playbook_over_the_same_prefix_and_keeps_only_grounded_checks(
    scripted_server, contract_text
):
    scripted_server.responder = playbook_responder
    playbook = [
        {"id": "law", "category": "Governing Law", "allowed": ["New York"]},
        {"id": "escrow", "category": "Source Code Escrow", "require": "present"},
        {"id": "cap", "category": "Cap On Liability", "require": "absent", "severity": "high"},
        {"id": "mfn", "category": "Most Favored Nation", "require": "present"},
    ]
    result = run_connector(
        "legal",
        [Document("c", contract_text)],
        options={"playbook": playbook, "include_default_risks": False},
        mode="model",
        client=client_for(scripted_server),
    )
    chats = scripted_server.chats()
    assert len(chats) == len(CUAD_CATEGORIES) + 4 and len({m[0]["content"] for m in chats}) == 1
    asked = [m[1]["content"] for m in chats if m[1]["content"].startswith("Playbook check")]
    assert sorted(q.split(" ")[2] for q in asked) == ["cap", "escrow", "law", "mfn"]
    assert "allows only: New York" in next(q for q in asked if q.startswith("Playbook check law "))
    risks = {r["code"]: r for r in result["risks"]}
    assert {code: r["source"] for code, r in risks.items()} == {
        "law": "model",
        "escrow": "rules",
        "cap": "model",
        "mfn": "model",
    }
    assert risks["law"]["detail"] == "Governing Law is Delaware; allowed: New York"
    assert risks["law"]["span"]["quote"] == PLAYBOOK_REPLIES["law"]["quote"]
    assert risks["cap"]["span"]["quote"] == PLAYBOOK_REPLIES["cap"]["quote"]
    assert risks["mfn"]["span"] is None and risks["escrow"]["span"] is None
    assert result["playbook_checks"] == {"asked": 4, "answered_by_model": 3, "dropped": 1}
    # The escrow category's and the escrow check's invented quotes are both dropped and counted.
    assert result["context"]["quotes_dropped"] == 2
    assert any("playbook escrow: no grounded answer" in w for w in result["warnings"])
    assert invalid_spans(result, {"c": contract_text}) == []


def test_parse_json_reply_refuses_numbers_json_cannot_hold():
    assert parse_json_reply('{"scale": NaN}') is None
    assert parse_json_reply('{"value": -Infinity}') is None
    assert parse_json_reply('{"value": 1e999}') is None
    assert parse_json_reply('{"value": 1' + "0" * 400 + "}") is None
    assert parse_json_reply('{"value": 1e9, "scale": 1.5}') == {"value": 1e9, "scale": 1.5}


def test_earnings_model_keeps_no_figure_that_is_not_a_finite_number(scripted_server, transcript_text):
    from connectors.base import RunContext
    from connectors.earnings.model import FIGURES, _figures

    outlook = "We expect gross margin to stay above 40% next year."

    def responder(messages: list[dict]) -> str:
        if messages[-1]["content"] != FIGURES:
            return "{}"
        return (
            '{"figures": [{"metric": "gross_margin_outlook", "value": 40, "unit": "percent", "scale": NaN, '
            f'"period": "FY2022", "kind": "guidance", "speaker": "Jane Doe", "quote": "{outlook}"}}]}}'
        )

    scripted_server.responder = responder
    result = run_connector(
        "earnings",
        [Document("acme_q3_2021", transcript_text)],
        mode="model",
        client=client_for(scripted_server),
    )
    json.dumps(result, allow_nan=False)
    assert not [m for m in result["metrics"] if m.get("source") == "model"]
    assert any("reply was not JSON" in w for w in result["warnings"])

    document = Document("acme_q3_2021", normalise_text(transcript_text))
    items = [
        ({"metric": "gross_margin_outlook", "value": value, "scale": scale, "quote": outlook}, ())
        for value, scale in ((True, 1), ("40", 1), (40, "10"))
    ]
    run = RunContext("model", None, lambda *args: None, {}, lambda texts: [])
    added = _figures(document, {"metrics": [], "guidance": []}, items, run, "test")
    assert [(m["value"], m["scale"]) for m in added] == [(40, 1)]


def test_legal_model_reply_nested_too_deep_is_no_json(scripted_server, contract_text):
    scripted_server.responder = lambda messages: (
        '{"clauses": ' + "[" * 1200 if "Governing Law." in messages[-1]["content"] else "{}"
    )
    result = run_connector(
        "legal", [Document("c", contract_text)], mode="model", client=client_for(scripted_server)
    )
    assert result["answers"]["Governing Law"] == "Delaware"
    assert any("reply was not JSON" in w for w in result["warnings"])


def test_legal_model_failure_keeps_the_analyzers_result(scripted_server, contract_text):
    scripted_server.fail(400)
    result = run_connector(
        "legal", [Document("c", contract_text)], mode="model", client=client_for(scripted_server)
    )
    assert result["answers"]["Governing Law"] == "Delaware"
    assert any("inference server failed" in w for w in result["warnings"])


SUMMARY_REPLY = {
    "summary": [
        {
            "text": "Q3 revenue rose 12% to $1.2 billion.",
            "quotes": ["Third quarter revenue rose 12% to $1.2 billion."],
        },
        {"text": "Adjusted EPS was $0.83.", "quotes": ["Adjusted earnings per share were $0.83."]},
        {"text": "Gross margin was 41.5%.", "quotes": ["[P4] Gross margin was 41.5%"]},
        {
            "text": "Revenue will triple to $9 billion.",
            "quotes": ["Demand stayed strong across every region."],
        },
    ]
}


def earnings_responder(messages: list[dict]) -> str:
    from connectors.earnings.model import FIGURES, GUIDANCE, QA, SUMMARY

    question = messages[-1]["content"]
    if question == FIGURES:
        return json.dumps(
            {
                "figures": [
                    {
                        "metric": "gross_margin_change",
                        "value": 150,
                        "unit": "basis_points",
                        "period": "Q3 2021",
                        "kind": "actual",
                        "speaker": "Jane Doe",
                        "quote": "Gross margin was 41.5%, up 150 basis points.",
                    },
                    {"metric": "revenue", "value": 9, "unit": "USD", "quote": "Revenue was 9 billion."},
                ]
            }
        )
    if question == GUIDANCE:
        return json.dumps(
            {"guidance": [{"metric": "revenue", "direction": "raised", "quote": "We are raising"}]}
        )
    if question == QA:
        return json.dumps(
            {
                "qa": [
                    {
                        "question": {
                            "speaker": "Kim Lee",
                            "quote": "What drove the revenue growth this quarter?",
                        },
                        "answers": [{"speaker": "John Smith", "quote": "Volume, mostly."}],
                        "topic": "growth",
                    }
                ]
            }
        )
    if question == SUMMARY or question.startswith("These bullets summarise"):
        return json.dumps(SUMMARY_REPLY)
    return "{}"


def test_earnings_model_asks_its_four_questions_and_keeps_what_is_grounded(scripted_server, transcript_text):
    scripted_server.responder = earnings_responder
    result = run_connector(
        "earnings",
        [Document("ACME_q3_2021", transcript_text)],
        mode="model",
        client=client_for(scripted_server),
    )
    assert len(scripted_server.chats()) == 4
    assert [b["text"] for b in result["summary"]] == [
        "Q3 revenue rose 12% to $1.2 billion.",
        "Adjusted EPS was $0.83.",
        "Gross margin was 41.5%.",
    ]
    model_metrics = [m for m in result["metrics"] if m.get("source") == "model"]
    assert [(m["metric"], m["value"], m["period"]) for m in model_metrics] == [
        ("gross_margin_change", 150, "Q3 2021")
    ]
    assert [q["question"]["span"]["quote"] for q in result["qa"]] == [
        "What drove the revenue growth this quarter?"
    ]
    assert any("numbers not in its quotes" in w for w in result["warnings"])
    assert result["context"]["quotes_dropped"] == 1
    assert invalid_spans(result, {"ACME_q3_2021": transcript_text}) == []


def test_map_reduce_sections_cover_the_text_once_then_reduce(scripted_server, transcript_text):
    text = normalise_text(transcript_text)
    sections = [list(s) for s in context_sections(text, token_budget=60)]
    assert len(sections) > 3
    plan = {"documents": {"t": {"strategy": "map_reduce", "reason": "too long", "sections": sections}}}
    scripted_server.responder = earnings_responder
    result = run_connector(
        "earnings", [Document("t", text)], mode="model", client=client_for(scripted_server), context=plan
    )
    chats = scripted_server.chats()
    assert len(chats) == 4 * len(sections) + 1
    prefixes = list(dict.fromkeys(m[0]["content"] for m in chats[:-1]))
    assert len(prefixes) == len(sections)
    shown = [re.sub(r"\[P\d+\] ", "", p.split(":\n\n", 1)[1]) for p in prefixes]
    assert " ".join(shown).split() == text.split()
    assert chats[-1][1]["content"].startswith("These bullets summarise")
    record = result["context"]["documents"][0]
    assert (record["strategy"], record["calls"], record["sections"]) == ("map_reduce", len(chats), sections)
    assert len(result["summary"]) == 3


def test_rag_prompts_hold_only_packed_chunks_in_document_order(scripted_server, contract_text):
    text = normalise_text(contract_text)
    paragraphs = [m.span() for m in re.finditer(r"[^\n]+", text)]
    asked: list[tuple[str, int]] = []

    def retrieve(document_id: str, question: str, token_budget: int) -> list[dict]:
        asked.append((question, token_budget))
        candidates = [
            ChunkCandidate(
                f"c#{i}", float(len(set(question.split()) & set(text[s:e].split()))), (e - s) // 4, i
            )
            for i, (s, e) in enumerate(paragraphs)
        ]
        return [
            {"chunk_id": c.chunk_id, "start": paragraphs[c.position][0], "end": paragraphs[c.position][1]}
            for c in pack_chunks(candidates, token_budget=token_budget)
        ]

    plan = {"documents": {"c": {"strategy": "rag", "reason": "over budget", "token_budget": 80}}}
    scripted_server.responder = legal_responder
    result = run_connector(
        "legal",
        [Document("c", text)],
        mode="model",
        client=client_for(scripted_server),
        context=plan,
        retrieve=retrieve,
    )
    chats = scripted_server.chats()
    assert len(chats) == 41 and {budget for _, budget in asked} == {80}
    for messages in chats:
        assert text[:200] not in messages[0]["content"] + messages[1]["content"]
        starts = [int(m) for m in re.findall(r"\[chars (\d+)-\d+\]", messages[1]["content"])]
        assert starts == sorted(starts)
        assert sum((e - s) // 4 for s, e in paragraphs if s in starts) <= 80
    record = result["context"]["documents"][0]
    assert (
        record["strategy"] == "rag"
        and record["chunks"]
        and record["cached_tokens"] == 40 * (len(chats[0][0]["content"]) // 4)
    )
    assert [c["category"] for c in result["clauses"]] == ["Governing Law"]


GOVERNING = "governed by the laws of the State of Delaware"
SUPERSEDED = (
    "MASTER AGREEMENT\n\nExhibit A (superseded form, not in force). This Agreement shall be governed by the laws "
    "of the State of Delaware.\n\n" + "Filler clause about delivery. " * 20
)
IN_FORCE = (
    "\n\nSECTION 9. GOVERNING LAW. This Agreement shall be governed by the laws of the State of Delaware.\n"
)


def test_a_model_quote_is_placed_in_the_chunk_or_section_it_was_shown(scripted_server):
    text = SUPERSEDED + IN_FORCE
    in_force = text.index(GOVERNING, len(SUPERSEDED))
    scripted_server.responder = lambda messages: json.dumps(
        {"value": "Delaware", "quote": GOVERNING, "present": True, "clauses": [{"quote": GOVERNING}]}
    )
    columns = [{"key": "law", "question": "Which law governs?", "type": "text"}]
    rag = {"documents": {"d": {"strategy": "rag", "reason": "test", "token_budget": 500}}}
    result = run_connector(
        "review",
        [Document("d", text)],
        options={"columns": columns},
        mode="model",
        client=client_for(scripted_server),
        context=rag,
        retrieve=lambda document_id, question, budget: [
            {"chunk_id": "c2", "start": len(SUPERSEDED) + 2, "end": len(text)}
        ],
    )
    assert result["rows"][0]["cells"]["law"]["spans"][0]["start"] == in_force
    sections = [[0, len(SUPERSEDED)], [len(SUPERSEDED), len(text)]]
    parts = {"documents": {"d": {"strategy": "map_reduce", "reason": "test", "sections": sections}}}
    scripted_server.responder = lambda messages: json.dumps(
        {"clauses": [{"quote": GOVERNING, "confidence": 0.9}]}
        if "Governing Law." in messages[1]["content"] and "Part 2 of 2" in messages[0]["content"]
        else {}
    )
    legal = run_connector(
        "legal", [Document("d", text)], mode="model", client=client_for(scripted_server), context=parts
    )
    assert [(c["category"], c["span"]["start"]) for c in legal["clauses"]] == [("Governing Law", in_force)]


def literature_responder(messages: list[dict]) -> str:
    system, question = messages[0]["content"], messages[1]["content"]
    if question.startswith("Claim: Vitamin D") and "Document 102 " in system:
        quote = "vitamin D supplementation did not reduce the incidence of fractures in older adults"
        return json.dumps({"verdict": "CONTRADICT", "rationale": "no effect", "quotes": [quote]})
    if question.startswith("Claim: Aspirin"):
        return json.dumps({"verdict": "SUPPORT", "quotes": ["aspirin cures everything"]})
    if question.startswith("Question: What improves memory?"):
        return json.dumps(
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
    return "{}"


def test_literature_model_reads_each_candidate_abstract_whole(scripted_server, corpus_rows):
    documents = [corpus_document(row) for row in corpus_rows]
    scripted_server.responder = literature_responder
    claims = [
        {"claim_id": "a", "claim": "Vitamin D prevents fractures in the elderly."},
        {"claim_id": "b", "claim": "Aspirin reduces colorectal cancer."},
        {"claim_id": "q", "question": "What improves memory?"},
    ]
    result = run_connector(
        "literature", documents, options={"claims": claims}, mode="model", client=client_for(scripted_server)
    )
    texts = {d.document_id: d.text for d in documents}
    judged = [m for m in scripted_server.chats() if m[1]["content"].startswith("Claim:")]
    assert len(judged) == 6
    for messages in judged:
        paper = re.search(r"Document (\d+) ", messages[0]["content"]).group(1)
        assert all(p in messages[0]["content"] for p in texts[paper].split("\n\n"))
    a, b = result["claims"]
    assert a["verdict"] == "CONTRADICT" and a["evidence"][0]["span"]["document_id"] == "102"
    assert a["rationale"] == [{"document_id": "102", "text": "no effect"}]
    assert b.get("source") != "model"
    assert [s["text"] for s in result["synthesis"][0]["sentences"]] == ["Exercise helps memory [104]."]
    assert invalid_spans(result, {d.document_id: d.text for d in documents}) == []
    assert any("cited no shown paper" in w for w in result["warnings"])
    assert result["context"]["quotes_dropped"] == 3
    [synthesis] = [
        m for m in scripted_server.chats() if m[1]["content"].startswith("Question: What improves")
    ]
    shown = set(re.findall(r"^\[(\d+)\] ", synthesis[1]["content"], re.MULTILINE))
    read = {re.search(r"Document (\d+) ", m[0]["content"]).group(1) for m in judged}
    records = {r["document_id"]: r for r in result["context"]["documents"]}
    assert len(shown) == 3 and {d for d, r in records.items() if r.get("shared_calls")} == shown
    for document_id, record in records.items():
        expected = "whole" if document_id in read else "rag" if document_id in shown else "analyzers"
        assert record["strategy"] == expected, (document_id, record)


def test_cli_model_mode_reads_the_server_from_the_environment(
    scripted_server, tmp_path, capsys, monkeypatch, contract_text
):
    from connectors.cli import main

    monkeypatch.setenv("QUIRE_INFERENCE_URL", scripted_server.url)
    monkeypatch.setenv("QUIRE_INFERENCE_MODEL", "scripted")
    scripted_server.responder = lambda messages: (
        json.dumps({"clauses": [{"quote": "general liability insurance", "confidence": 0.8}]})
        if "CUAD category: Insurance." in messages[1]["content"]
        else "{}"
    )
    path = tmp_path / "c.txt"
    path.write_text(contract_text)
    assert main(["run", "legal", str(path), "--mode", "model", "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["mode"] == "model" and [c["category"] for c in result["clauses"]] == ["Insurance"]
    assert scripted_server.requests[0]["body"]["model"] == "scripted"


UNANSWERED = ("Non-Compete", "Audit Rights", "Insurance", "Anti-Assignment")


def test_legal_model_keeps_the_analyzers_clauses_of_categories_it_did_not_answer(
    scripted_server, contract_text
):
    def responder(messages: list[dict]) -> str:
        question = messages[-1]["content"]
        if any(f"CUAD category: {category}." in question for category in UNANSWERED):
            return "Sorry, I cannot help with that."
        if "CUAD category: Governing Law." in question:
            return legal_responder(messages)
        return json.dumps({"clauses": []})

    scripted_server.responder = responder
    result = run_connector(
        "legal", [Document("c", contract_text)], mode="model", client=client_for(scripted_server)
    )
    kept = {c["category"]: c for c in result["clauses"]}
    assert sorted(kept) == sorted([*UNANSWERED, "Governing Law"])
    assert all(kept[category].get("source") != "model" for category in UNANSWERED)
    assert {category: result["answers"][category] for category in UNANSWERED} == dict.fromkeys(
        UNANSWERED, "Yes"
    )
    assert result["answers"]["Source Code Escrow"] == "No"
    assert "no_assignment_restriction" not in {r["code"] for r in result["risks"]}
    assert invalid_spans(result, {"c": contract_text}) == []


def test_legal_model_keeps_the_analyzers_clauses_in_the_parts_that_gave_no_answer(
    scripted_server, contract_text
):
    text = normalise_text(contract_text)
    cut = text.index("5. Assignment.")
    plan = {
        "documents": {
            "c": {"strategy": "map_reduce", "reason": "test", "sections": [[0, cut], [cut, len(text)]]}
        }
    }

    def responder(messages: list[dict]) -> str:
        first_part = "Part 1 of 2" in messages[0]["content"]
        question = messages[-1]["content"]
        if "CUAD category: Governing Law." in question:
            return legal_responder(messages)
        if first_part and "CUAD category: Non-Compete." in question:
            return "no JSON here"
        if not first_part and "CUAD category: Anti-Assignment." in question:
            return "no JSON here"
        return json.dumps({"clauses": []})

    scripted_server.responder = responder
    result = run_connector(
        "legal", [Document("c", text)], mode="model", client=client_for(scripted_server), context=plan
    )
    assert sorted(c["category"] for c in result["clauses"]) == [
        "Anti-Assignment",
        "Governing Law",
        "Non-Compete",
    ]
    assert result["answers"]["Non-Compete"] == "Yes" and result["answers"]["Anti-Assignment"] == "Yes"
    assert result["answers"]["Insurance"] == "No" and result["answers"]["Audit Rights"] == "No"


def test_quotes_given_as_one_string_are_one_quote(scripted_server, corpus_rows, transcript_text):
    from connectors.earnings.model import SUMMARY

    fracture = "vitamin D supplementation did not reduce the incidence of fractures"
    scripted_server.responder = lambda messages: (
        json.dumps({"verdict": "CONTRADICT", "rationale": "no effect", "quotes": fracture})
        if messages[-1]["content"].startswith("Claim:") and "Document 102 " in messages[0]["content"]
        else "{}"
    )
    documents = [corpus_document(row) for row in corpus_rows]
    claims = [{"claim_id": "a", "claim": "Vitamin D prevents fractures in the elderly."}]
    result = run_connector(
        "literature", documents, options={"claims": claims}, mode="model", client=client_for(scripted_server)
    )
    [claim] = result["claims"]
    assert claim["verdict"] == "CONTRADICT"
    assert [e["span"]["quote"] for e in claim["evidence"]] == [fracture]

    memory = {"text": "Exercise helps memory.", "citations": "104", "quote": "improved memory scores"}
    scripted_server.responder = lambda messages: (
        json.dumps({"sentences": [memory]}) if messages[-1]["content"].startswith("Question:") else "{}"
    )
    claims = [{"claim_id": "q", "question": "What improves memory?"}]
    result = run_connector(
        "literature", documents, options={"claims": claims}, mode="model", client=client_for(scripted_server)
    )
    assert [(s["text"], s["citations"]) for s in result["synthesis"][0]["sentences"]] == [
        ("Exercise helps memory.", ["104"])
    ]

    bullets = [
        ("Q3 revenue rose 12% to $1.2 billion.", "Third quarter revenue rose 12% to $1.2 billion."),
        ("Adjusted EPS was $0.83.", "Adjusted earnings per share were $0.83."),
        ("Gross margin was 41.5%.", "Gross margin was 41.5%"),
    ]
    scripted_server.responder = lambda messages: (
        json.dumps({"summary": [{"text": text, "quotes": quote} for text, quote in bullets]})
        if messages[-1]["content"] == SUMMARY
        else "{}"
    )
    result = run_connector(
        "earnings", [Document("t", transcript_text)], mode="model", client=client_for(scripted_server)
    )
    assert [[s["quote"] for s in b["spans"]] for b in result["summary"]] == [[q] for _, q in bullets]


TRAILING_ZERO = """PREPARED REMARKS

Operator: Good day and welcome to the Acme third quarter 2021 earnings call.

Jane Doe -- Chief Financial Officer: Thanks. Adjusted free cash flow per unit came in at $0.80 this quarter. Net loss per share was $(0.12). Revenue was $1,200.50 million.
"""


def test_earnings_model_compares_figures_with_their_quotes_as_numbers(scripted_server):
    from connectors.earnings.model import FIGURES, SUMMARY

    quotes = {
        "free_cash_flow_per_unit": (0.80, "Adjusted free cash flow per unit came in at $0.80 this quarter."),
        "net_loss_per_share": (-0.12, "Net loss per share was $(0.12)."),
        "segment_revenue": (1200.5, "Revenue was $1,200.50 million."),
    }
    bullets = [
        ("Free cash flow per unit was $0.8.", quotes["free_cash_flow_per_unit"][1]),
        ("Net loss per share was $0.12.", quotes["net_loss_per_share"][1]),
        ("Revenue was $1200.5 million.", quotes["segment_revenue"][1]),
    ]

    def responder(messages: list[dict]) -> str:
        question = messages[-1]["content"]
        if question == FIGURES:
            figures = [
                {"metric": metric, "value": value, "unit": "USD", "period": "Q3 2021", "quote": quote}
                for metric, (value, quote) in quotes.items()
            ]
            return json.dumps({"figures": figures})
        if question == SUMMARY:
            return json.dumps({"summary": [{"text": text, "quotes": [quote]} for text, quote in bullets]})
        return "{}"

    scripted_server.responder = responder
    result = run_connector(
        "earnings", [Document("t", TRAILING_ZERO)], mode="model", client=client_for(scripted_server)
    )
    kept = [(m["metric"], m["value"]) for m in result["metrics"] if m.get("source") == "model"]
    assert kept == [(metric, value) for metric, (value, _) in quotes.items()]
    assert [b["text"] for b in result["summary"]] == [text for text, _ in bullets]
    assert not any("not in its quote" in w or "numbers not in" in w for w in result["warnings"])


def test_earnings_map_reduce_keeps_the_analyzers_qa_of_a_part_without_a_usable_reply(
    scripted_server, transcript_text
):
    from connectors.earnings.model import QA

    text = normalise_text(transcript_text)
    cut = text.index("Operator: Next question comes from Kim Lee")
    plan = {
        "documents": {
            "t": {"strategy": "map_reduce", "reason": "test", "sections": [[0, cut], [cut, len(text)]]}
        }
    }

    def responder(messages: list[dict]) -> str:
        if messages[-1]["content"] != QA:
            return "{}"
        if "Part 1 of 2" in messages[0]["content"]:
            return "Sorry, I cannot produce that."
        return earnings_responder(messages)

    analyzers = run_connector("earnings", [Document("t", text)])
    scripted_server.responder = responder
    result = run_connector(
        "earnings", [Document("t", text)], mode="model", client=client_for(scripted_server), context=plan
    )
    first = [p for p in analyzers["qa"] if p["question"]["span"]["start"] < cut]
    assert first, "the analyzers found a question in the first part"
    assert [p["question"]["span"]["quote"] for p in result["qa"]] == [
        *(p["question"]["span"]["quote"] for p in first),
        "What drove the revenue growth this quarter?",
    ]
    assert result["qa"][-1]["source"] == "model"


def test_a_synthesis_quote_is_grounded_in_whichever_cited_paper_holds_it(scripted_server, corpus_rows):
    sentence = {
        "text": "Exercise helps memory, unlike coffee for sleep.",
        "citations": ["103", "104"],
        "quote": "improved memory scores compared with stretching controls",
    }
    scripted_server.responder = lambda messages: (
        json.dumps({"sentences": [sentence]}) if messages[-1]["content"].startswith("Question:") else "{}"
    )
    documents = [corpus_document(row) for row in corpus_rows]
    claims = [{"claim_id": "q", "question": "What improves memory or sleep?"}]
    result = run_connector(
        "literature", documents, options={"claims": claims}, mode="model", client=client_for(scripted_server)
    )
    [kept] = result["synthesis"][0]["sentences"]
    assert (kept["text"], kept["citations"]) == (sentence["text"], ["103", "104"])
    assert [(s["document_id"], s["quote"]) for s in kept["spans"]] == [("104", sentence["quote"])]
    assert result["context"]["quotes_dropped"] == 0
    assert invalid_spans(result, {d.document_id: d.text for d in documents}) == []


def test_legal_model_names_the_governing_law_as_the_analyzers_do(scripted_server):
    text = (
        "SERVICES AGREEMENT\n\nThis Services Agreement is made on March 12, 2019 between Maple Ltd. and Birch Inc.\n\n"
        "1. Governing Law. This Agreement shall be governed by the laws of the Province of Ontario.\n\n"
        "2. Liability. In no event shall either party's liability exceed the fees paid.\n"
    )
    quote = "This Agreement shall be governed by the laws of the Province of Ontario."

    def responder(messages: list[dict]) -> str:
        question = messages[-1]["content"]
        if "CUAD category: Governing Law." in question:
            return json.dumps(
                {"clauses": [{"quote": quote, "confidence": 0.9}], "answer": "Province of Ontario"}
            )
        if question.startswith("Playbook check law "):
            return json.dumps({"present": True, "quote": quote, "answer": "the Province of Ontario"})
        return "{}"

    scripted_server.responder = responder
    result = run_connector(
        "legal",
        [Document("c", text)],
        options={
            "playbook": [{"id": "law", "category": "Governing Law", "allowed": ["Ontario"]}],
            "include_default_risks": False,
        },
        mode="model",
        client=client_for(scripted_server),
    )
    assert result["answers"]["Governing Law"] == "Ontario, Canada"
    assert (
        result["answers"]["Governing Law"]
        == run_connector("legal", [Document("c", text)])["answers"]["Governing Law"]
    )
    assert result["risks"] == []


def test_legal_model_answer_values_are_whole_answers_without_surrounding_blanks():
    from connectors.legal.model import _checked_answer

    contract = Document("c", "This Agreement expires on March 12, 2024 and renews for one (1) year.")
    assert _checked_answer(contract, "Expiration Date", "2024-03-12\n") == "2024-03-12"
    assert _checked_answer(contract, "Renewal Term", " P1Y ") == "P1Y"
    assert _checked_answer(contract, "Renewal Term", "P1Y\nP2Y") is None
    assert _checked_answer(contract, "Expiration Date", "2024-03-12 or so") is None


def test_merged_summary_quotes_stay_in_the_part_they_were_quoted_from(scripted_server):
    from connectors.earnings.model import SUMMARY

    first = (
        "Jane Doe -- Chief Financial Officer: Operating expenses rose 12% to $300 million. "
        "Headcount rose 3% to 4,000.\n\n"
    )
    second = (
        "John Smith -- Chief Executive Officer: Revenue rose 12% to $1.2 billion. "
        "Adjusted EPS was $0.83. Gross margin was 41.5%.\n"
    )
    text = first + second
    cut = len(first)
    plan = {
        "documents": {
            "t": {"strategy": "map_reduce", "reason": "test", "sections": [[0, cut], [cut, len(text)]]}
        }
    }
    bullets = [
        {"text": "Revenue rose 12%.", "quotes": ["rose 12%"]},
        {"text": "Adjusted EPS was $0.83.", "quotes": ["Adjusted EPS was $0.83."]},
        {"text": "Gross margin was 41.5%.", "quotes": ["Gross margin was 41.5%."]},
    ]

    def responder(messages: list[dict]) -> str:
        question = messages[-1]["content"]
        if question.startswith("These bullets summarise"):
            return json.dumps({"summary": bullets})
        if question == SUMMARY and "Part 2 of 2" in messages[0]["content"]:
            return json.dumps({"summary": bullets})
        return "{}"

    scripted_server.responder = responder
    result = run_connector(
        "earnings", [Document("t", text)], mode="model", client=client_for(scripted_server), context=plan
    )
    assert result["summary"][0]["text"] == "Revenue rose 12%."
    assert [s["start"] for s in result["summary"][0]["spans"]] == [text.index("rose 12%", cut)]


def test_a_whole_reading_quote_that_names_its_paragraph_is_placed_in_that_paragraph(scripted_server):
    from connectors.model import marked_text

    text = SUPERSEDED + IN_FORCE
    in_force = text.index(GOVERNING, len(SUPERSEDED))
    marker = next(line.split()[0] for line in marked_text(text).split("\n\n") if "SECTION 9" in line)
    scripted_server.responder = lambda messages: json.dumps(
        {"clauses": [{"quote": f"{marker} This Agreement shall be {GOVERNING}", "confidence": 0.9}]}
        if "Governing Law." in messages[1]["content"]
        else {}
    )
    legal = run_connector("legal", [Document("d", text)], mode="model", client=client_for(scripted_server))
    assert [(c["category"], c["span"]["end"]) for c in legal["clauses"]] == [
        ("Governing Law", in_force + len(GOVERNING))
    ]


def test_paragraph_range_finds_each_paragraph_a_marked_reading_numbers(transcript_text):
    from connectors.model import marked_text, paragraph_range, section_reading

    text = normalise_text(transcript_text)
    middle = text.index("welcome to the Acme")
    readings = [((0, len(text)), marked_text(text))]
    readings += [
        ((start, end), section_reading("t", text, start, end, part=1, parts=2).split(":\n\n", 1)[1])
        for start, end in ((0, middle), (middle, len(text)))
    ]
    for shown, marked in readings:
        for paragraph in marked.split("\n\n"):
            marker, body = paragraph.split(" ", 1)
            start, end = paragraph_range(text, (shown,), int(marker[2:-1]))
            assert text[start:end].strip() == body
    assert paragraph_range(text, ((middle, len(text)),), 1) is None


def test_a_rag_quote_copied_with_its_passage_label_is_placed_in_that_passage(scripted_server):
    text = SUPERSEDED + IN_FORCE
    start = len(SUPERSEDED) + 2
    sentence = f"This Agreement shall be {GOVERNING}."
    scripted_server.responder = lambda messages: json.dumps(
        {"value": "Delaware", "quote": f"[chars {start}-{len(text)}] SECTION 9. GOVERNING LAW. {sentence}"}
    )
    result = run_connector(
        "review",
        [Document("d", text)],
        options={"columns": [{"key": "law", "question": "Which law governs?", "type": "text"}]},
        mode="model",
        client=client_for(scripted_server),
        context={"documents": {"d": {"strategy": "rag", "reason": "test", "token_budget": 500}}},
        retrieve=lambda document_id, question, budget: [{"chunk_id": "c2", "start": start, "end": len(text)}],
    )
    assert result["context"]["quotes_dropped"] == 0
    assert result["rows"][0]["cells"]["law"]["spans"][0]["start"] == start
