"""The review and ask connectors without the platform: column checks, cells by type, the CUAD template
against the legal connector, growing a review, and model mode's grounding."""

from __future__ import annotations

import json
import re

import numpy
import pytest

from connectors import Document, get_connector, run_connector
from connectors.base import OptionError
from connectors.review.templates import CUAD, TEMPLATES
from connectors.review.values import find_duration, find_money, find_number, find_yes_no, read_value
from connectors.spans import invalid_spans
from inference.client import InferenceClient
from tests.support.paths import DATA
from tests.support.spans import lose, stored

NOTE = (
    "SERVICES AGREEMENT\n\n"
    "This Services Agreement is made on 3 March 2021 between Acme Corp and Beta LLC.\n\n"
    "The initial term of this Agreement is three (3) years. Customer shall pay a monthly fee of $12,500.\n\n"
    "Supplier guarantees an uptime of 99.5% in each month. The service covers 240 locations.\n\n"
    "Either party may terminate for convenience on sixty (60) days notice. "
    "The Supplier shall not subcontract any services without consent.\n\n"
    "Notices shall be sent by the following means: courier, registered mail, and email.\n\n"
    "This Agreement is governed by the laws of the State of New York."
)
COLUMNS = [
    {"key": "signed", "question": "When was the agreement made?", "type": "date"},
    {"key": "term", "question": "How long is the initial term?", "type": "duration"},
    {"key": "fee", "question": "What monthly fee does the customer pay?", "type": "money"},
    {"key": "uptime", "question": "What uptime is guaranteed?", "type": "percent"},
    {"key": "locations", "question": "How many locations does the service cover?", "type": "number"},
    {"key": "subcontract", "question": "May the supplier subcontract services?", "type": "yes_no"},
    {
        "key": "law",
        "question": "Which state's laws govern?",
        "type": "enum",
        "choices": ["Delaware", "New York"],
    },
    {"key": "notices", "question": "By which means are notices sent?", "type": "list"},
    {"key": "termination", "question": "Can a party terminate for convenience?", "type": "clause"},
    {"key": "escrow", "question": "Is source code held in escrow?", "type": "yes_no"},
]


def _shaped(kind: str, normalised: object) -> bool:
    """Whether `normalised` has the shape docs/connectors.md gives a column of type `kind`."""
    if kind in ("money", "number", "percent"):
        unit = normalised.get("unit") if isinstance(normalised, dict) else None
        if kind == "money":
            return isinstance(unit, str) and re.fullmatch(r"[A-Z]{3}(?:_per_share)?", unit) is not None
        return unit == {"number": "count", "percent": "percent"}[kind]
    if kind == "date":
        return isinstance(normalised, str) and re.fullmatch(r"\d{4}-\d\d(?:-\d\d)?", normalised) is not None
    if kind == "duration":
        return isinstance(normalised, str) and re.fullmatch(r"P\d+(?:\.\d+)?[YMWD]", normalised) is not None
    if kind == "yes_no":
        return normalised in ("yes", "no")
    if kind in ("party", "list"):
        return isinstance(normalised, list) and all(isinstance(item, str) for item in normalised)
    return isinstance(normalised, str)


def test_cells_by_type_are_cited_and_normalised():
    result = run_connector("review", [Document("n", NOTE)], options={"columns": COLUMNS})
    cells = result["rows"][0]["cells"]
    assert cells["signed"]["normalised"] == "2021-03-03"
    assert cells["term"]["normalised"] == "P3Y"
    assert cells["fee"]["normalised"] == {"value": 12500.0, "unit": "USD", "scale": 1.0}
    assert cells["uptime"]["normalised"]["value"] == 99.5
    assert cells["locations"]["normalised"]["value"] == 240
    assert cells["subcontract"]["value"] == "No"
    assert cells["law"]["value"] == "New York"
    assert cells["notices"]["value"] == ["courier", "registered mail", "email"]
    assert "terminate for convenience" in cells["termination"]["value"]
    assert cells["escrow"]["status"] == "not_found" and cells["escrow"]["spans"] == []
    for key, cell in cells.items():
        if key != "escrow":
            assert cell["status"] == "answered" and cell["spans"], (key, cell)
    assert invalid_spans(result, {"n": NOTE}) == []
    floor = run_connector(
        "review", [Document("n", NOTE)], options={"columns": COLUMNS, "confidence_floor": 1.0}
    )
    assert {(c["confidence"] >= 1.0, c["status"]) for c in floor["rows"][0]["cells"].values()} <= {
        (True, "answered"),
        (False, "needs_review"),
        (False, "not_found"),
    }
    assert any(c["status"] == "needs_review" for c in floor["rows"][0]["cells"].values())


def test_an_aside_in_brackets_is_not_a_negative_value():
    text = (
        "ROYALTY AGREEMENT\n\n4. Royalties. Licensee shall pay Licensor a royalty (5% of Net Sales) within "
        "thirty days after each quarter. The minimum annual royalty is payable in advance ($50,000 per year). "
        "The shortfall credit is $(2,000) per quarter."
    )
    columns = [
        {"key": "rate", "question": "What is the royalty rate?", "type": "percent"},
        {"key": "minimum", "question": "What is the minimum annual royalty?", "type": "money"},
        {"key": "credit", "question": "What is the shortfall credit?", "type": "money"},
    ]
    cells = run_connector("review", [Document("d", text)], options={"columns": columns})["rows"][0]["cells"]
    assert (cells["rate"]["value"], cells["rate"]["normalised"]["value"]) == ("5%", 5.0)
    assert (cells["minimum"]["value"], cells["minimum"]["normalised"]["value"]) == ("$50,000", 50000.0)
    assert (cells["credit"]["value"], cells["credit"]["normalised"]["value"]) == ("$(2,000)", -2000.0)


def test_a_figure_in_brackets_after_its_words_is_not_negative():
    text = (
        "SERVICES AGREEMENT\n\n1. Fees. Client shall pay Provider a fixed fee of Fifty Thousand Dollars ($50,000) "
        "per month.\n\n2. Staffing. Provider shall assign five (5) full-time engineers to the project.\n\n"
        "3. Credits. The service credit is $(2,000) per outage."
    )
    columns = [
        {"key": "fee", "question": "What is the monthly fee?", "type": "money"},
        {"key": "engineers", "question": "How many engineers are assigned?", "type": "number"},
        {"key": "credit", "question": "What is the service credit?", "type": "money"},
    ]
    cells = run_connector("review", [Document("d", text)], options={"columns": columns})["rows"][0]["cells"]
    assert (cells["fee"]["value"], cells["fee"]["normalised"]) == (
        "$50,000",
        {"value": 50000.0, "unit": "USD", "scale": 1.0},
    )
    assert (cells["engineers"]["value"], cells["engineers"]["normalised"]["value"]) == ("5", 5.0)
    assert (cells["credit"]["value"], cells["credit"]["normalised"]["value"]) == ("$(2,000)", -2000.0)
    assert invalid_spans({"rows": [{"cells": cells}]}, {"d": text}) == []
    assert find_number("within (30) days", 0, 16)[:2] == (
        "30",
        {"value": 30.0, "unit": "count", "scale": 1.0},
    )
    assert find_number("(1,234)", 0, 7)[1]["value"] == -1234.0
    money = {"key": "fee", "question": "What is the fee?", "type": "money"}
    assert read_value(money, "Fifty Thousand Dollars ($50,000)")[1]["value"] == 50000.0
    assert read_value({**money, "type": "number"}, "(1,234)")[1]["value"] == -1234.0


@pytest.mark.timeout(10)
def test_a_yes_no_cell_reads_a_passage_with_long_blank_runs_in_linear_time():
    text = (
        "The Company shall not assign this Agreement"
        + " " * 50_000
        + "x, but it may assign it to an Affiliate."
    )
    found = find_yes_no(text, 0, len(text), ["assign"])
    assert found[0] in ("Yes", "No")


def test_chunk_vectors_join_the_lexical_score():
    vectors = numpy.eye(3, dtype=numpy.float32)
    chunks = [(0, 200), (200, 400), (400, len(NOTE))]
    embed = lambda texts: numpy.tile(numpy.array([0, 0, 1], dtype=numpy.float32), (len(texts), 1))
    document = Document("n", NOTE, metadata={"chunks": chunks, "vectors": vectors})
    result = run_connector("ask", [document], options={"question": "Which laws govern?"}, embed=embed)
    assert result["passages"][0]["span"]["start"] >= 400
    assert "New York" in result["answer"][0]["text"]


def test_cuad_template_is_the_legal_connectors_clauses():
    text = (DATA / "cuad" / "contracts" / "cuad_04.txt").read_text(encoding="utf-8")
    review = run_connector("review", [Document("c", text)], options={"template": "cuad"})
    legal = run_connector("legal", [Document("c", text)])
    cells = review["rows"][0]["cells"]
    assert len(cells) == len(CUAD) == 41
    for column in CUAD:
        spans = sorted((s["start"], s["end"]) for s in cells[column["key"]]["spans"])
        clauses = sorted(
            (c["span"]["start"], c["span"]["end"])
            for c in legal["clauses"]
            if column["question"] and c["category"] == _category(column)
        )
        assert spans == clauses, column["key"]
    assert cells["governing_law"]["value"] == legal["answers"]["Governing Law"]


def _category(column: dict) -> str:
    from connectors.review.templates import CUAD_KEYS

    return CUAD_KEYS[column["key"]]


def test_growing_a_review_reuses_unchanged_cells():
    connector = get_connector("review")
    first = run_connector("review", [Document("n", NOTE)], options={"columns": COLUMNS[:3]})
    changed = [COLUMNS[0], {**COLUMNS[1], "question": "What is the initial term?"}, COLUMNS[2], COLUMNS[3]]
    grown = run_connector(
        "review", [Document("n", NOTE), Document("m", NOTE)], options={"columns": changed}, prior=first
    )
    assert grown["cells"] == {"total": 8, "computed": 6, "reused": 2}
    assert grown["rows"][0]["cells"]["signed"] == first["rows"][0]["cells"]["signed"]
    assert (
        connector.settle({"rows": [{"cells": {"a": {"status": "answered", "spans": []}}}]})["rows"][0][
            "cells"
        ]["a"]["status"]
        == "needs_review"
    )


def test_growing_a_review_under_another_floor_decides_the_reused_cells_status_again():
    first = run_connector("review", [Document("n", NOTE)], options={"columns": COLUMNS})
    raised = run_connector(
        "review", [Document("n", NOTE)], options={"columns": COLUMNS, "confidence_floor": 0.99}, prior=first
    )
    assert raised["cells"]["reused"] == len(COLUMNS)
    before, after = first["rows"][0]["cells"], raised["rows"][0]["cells"]
    assert any(c["status"] == "answered" and c["confidence"] < 0.99 for c in before.values())
    for key, cell in after.items():
        assert {**cell, "status": before[key]["status"]} == before[key]
        if before[key]["status"] == "not_found":
            assert cell["status"] == "not_found"
        else:
            assert cell["status"] == ("answered" if cell["confidence"] >= 0.99 else "needs_review"), key
    lowered = run_connector(
        "review", [Document("n", NOTE)], options={"columns": COLUMNS, "confidence_floor": 0.0}, prior=raised
    )
    assert [c["status"] for c in lowered["rows"][0]["cells"].values()] == [
        c["status"] for c in before.values()
    ]


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"columns": [{"key": "a", "question": "Q", "type": "colour"}]}, "options.columns.0.type"),
        ({"columns": [{"key": f"k{i}", "question": "Q"} for i in range(51)]}, "options.columns"),
        ({"columns": [{"key": "a", "question": ""}]}, "options.columns.0.question"),
        ({"columns": [{"key": "a", "question": "Q", "type": "enum"}]}, "options.columns.0.choices"),
        (
            {"columns": [{"key": "a", "question": "Q", "type": "text", "choices": ["x"]}]},
            "options.columns.0.choices",
        ),
        ({"columns": [{"key": "A b", "question": "Q"}]}, "options.columns.0.key"),
        ({"template": "cuad", "columns": [{"key": "parties", "question": "Q"}]}, "options.columns.0.key"),
        (
            {
                "template": "cuad",
                "columns": [{"key": "own", "question": "Q"}, {"key": "governing_law", "question": "Q"}],
            },
            "options.columns.1.key",
        ),
        (
            {"columns": [{"key": "a", "question": "Q"}, {"key": "a", "question": "R"}]},
            "options.columns.1.key",
        ),
        ({"template": "tax"}, "options.template"),
        ({}, "options.columns"),
        ({"columns": [{"key": "a", "question": "Q"}], "confidence_floor": 2}, "options.confidence_floor"),
    ],
)
def test_bad_options_name_their_param(options, param):
    with pytest.raises(OptionError) as refused:
        get_connector("review").validate_options(options)
    assert refused.value.param == param
    with pytest.raises(OptionError) as empty:
        get_connector("ask").validate_options({"question": " "})
    assert empty.value.param == "options.question"


def test_templates_are_valid_column_lists():
    for name in TEMPLATES:
        checked = get_connector("review").validate_options({"template": name})
        assert checked["columns"] and len(checked["columns"]) <= 50


def test_model_mode_asks_each_column_over_one_document_prefix_and_keeps_grounded_values(scripted_server):
    answers = {
        "fee": {"value": "$12,500 a month", "quote": "Customer shall pay a monthly fee of $12,500."},
        "term": {"value": "ten years", "quote": "The initial term is ten years."},
    }
    scripted_server.responder = lambda messages: json.dumps(
        next(answer for key, answer in answers.items() if f"Column {key}:" in messages[1]["content"])
    )
    client = InferenceClient(scripted_server.url, model="scripted", max_retries=0)
    result = run_connector(
        "review", [Document("n", NOTE)], options={"columns": COLUMNS[1:3]}, mode="model", client=client
    )
    cells = result["rows"][0]["cells"]
    assert cells["fee"]["value"] == "$12,500 a month" and cells["fee"]["status"] == "answered"
    assert cells["term"]["normalised"] == "P3Y"
    assert any("quote not found" in w for w in result["warnings"])
    chats = scripted_server.chats()
    assert len(chats) == 2 and chats[0][0] == chats[1][0], "one question per column, one shared prefix"
    assert NOTE.split("\n\n")[0].strip() in chats[0][0]["content"], "the prefix holds the document"
    assert any("How long is the initial term?" in chat[1]["content"] for chat in chats)
    record = result["context"]["documents"][0]
    assert record["strategy"] == "whole" and record["calls"] == 2 and record["cached_tokens"] > 0


MODEL_ANSWERS = {
    "signed": {"value": "3 March 2021", "quote": "This Services Agreement is made on 3 March 2021"},
    "term": {"value": "three (3) years", "quote": "The initial term of this Agreement is three (3) years."},
    "fee": {"value": "$12,500", "quote": "Customer shall pay a monthly fee of $12,500."},
    "uptime": {"value": "99.5%", "quote": "Supplier guarantees an uptime of 99.5% in each month."},
    "locations": {"value": 240, "quote": "The service covers 240 locations."},
    "subcontract": {"value": "No, not without consent", "quote": "shall not subcontract any services"},
    "law": {"value": "new york", "quote": "governed by the laws of the State of New York"},
    "notices": {
        "value": "courier, registered mail, and email",
        "quote": "courier, registered mail, and email",
    },
    "termination": {
        "value": "Either party  may terminate",
        "quote": "Either party may terminate for convenience",
    },
    "parties": {"value": "Acme Corp and Beta LLC", "quote": "between Acme Corp and Beta LLC"},
    "law_other": {"value": "California", "quote": "governed by the laws of the State of New York"},
    "signed_vague": {
        "value": "early in the year",
        "quote": "This Services Agreement is made on 3 March 2021",
    },
}
MODEL_COLUMNS = [
    *COLUMNS[:-1],
    {"key": "parties", "question": "Who are the parties?", "type": "party"},
    {**COLUMNS[6], "key": "law_other"},
    {**COLUMNS[0], "key": "signed_vague"},
]


def test_model_mode_normalises_values_by_type_as_the_analyzers_do(scripted_server):
    scripted_server.responder = lambda messages: json.dumps(
        next(a for key, a in MODEL_ANSWERS.items() if f"Column {key}:" in messages[1]["content"])
    )
    client = InferenceClient(scripted_server.url, model="scripted", max_retries=0)
    options = {"columns": MODEL_COLUMNS}
    model = run_connector("review", [Document("n", NOTE)], options=options, mode="model", client=client)
    analyzers = run_connector("review", [Document("n", NOTE)], options=options)
    by_model, by_analyzers = model["rows"][0]["cells"], analyzers["rows"][0]["cells"]
    for column in MODEL_COLUMNS:
        key = column["key"]
        assert _shaped(column["type"], by_model[key]["normalised"]), (key, by_model[key])
        assert _shaped(column["type"], by_analyzers[key]["normalised"]), (key, by_analyzers[key])
        if key not in ("law_other", "signed_vague"):
            assert by_model[key]["confidence"] == 0.8 and by_model[key]["status"] == "answered", key
    for key in ("signed", "term", "fee", "uptime", "locations", "subcontract", "law", "notices"):
        assert by_model[key]["normalised"] == by_analyzers[key]["normalised"], key
    assert by_model["signed"]["value"] == "3 March 2021"
    assert (by_model["law"]["value"], by_model["subcontract"]["value"]) == ("New York", "No")
    assert by_model["parties"]["normalised"] == ["acme corp", "beta llc"]
    assert by_model["termination"]["normalised"] == "Either party may terminate"
    assert by_model["law_other"] == by_analyzers["law_other"], (
        "a value that is no choice leaves the analyzers'"
    )
    assert by_model["signed_vague"] == by_analyzers["signed_vague"], (
        "a value that is no date leaves the analyzers'"
    )


def test_ask_model_answer_keeps_sentences_whose_quotes_hold(scripted_server):
    scripted_server.reply(
        json.dumps(
            {
                "sentences": [
                    {
                        "text": "New York law governs.",
                        "passage": 0,
                        "quote": "governed by the laws of the State of New York",
                    },
                    {"text": "Delaware law governs.", "passage": 0, "quote": "laws of the State of Delaware"},
                ]
            }
        )
    )
    client = InferenceClient(scripted_server.url, model="scripted", max_retries=0)
    result = run_connector(
        "ask", [Document("n", NOTE)], options={"question": "Which laws govern?"}, mode="model", client=client
    )
    assert [sentence["text"] for sentence in result["answer"]] == ["New York law governs."]
    assert invalid_spans(result, {"n": NOTE}) == []


def test_ask_records_its_one_call_for_every_document_it_showed(scripted_server):
    """The answer comes from b's passage; the call showed passages of both documents, so each record says so,
    a question each, the call's tokens shared between them."""
    a = "SUPPLY AGREEMENT\n\nThe Supplier shall deliver the goods within thirty days of each order."
    b = "SERVICES AGREEMENT\n\nThis Agreement is governed by the laws of the State of New York."

    def responder(messages: list[dict]) -> str:
        shown = re.findall(r"^\[(\d+)\] (.*)$", messages[-1]["content"], re.MULTILINE)
        index = next(int(number) for number, passage in shown if "New York" in passage)
        quote = "governed by the laws of the State of New York"
        return json.dumps({"sentences": [{"text": "New York law.", "passage": index, "quote": quote}]})

    scripted_server.responder = responder
    client = InferenceClient(scripted_server.url, model="scripted", max_retries=0)
    result = run_connector(
        "ask",
        [Document("a", a), Document("b", b)],
        options={"question": "Which law governs and when are goods delivered?"},
        mode="model",
        client=client,
    )
    assert result["answer"][0]["spans"][0]["document_id"] == "b"
    assert {p["span"]["document_id"] for p in result["passages"]} == {"a", "b"}
    records = {r["document_id"]: r for r in result["context"]["documents"]}
    assert [r["strategy"] for r in records.values()] == ["rag", "rag"]
    assert result["context"]["strategy"] == "rag"
    assert all(r["questions"] == r["calls"] == r["shared_calls"] == 1 for r in records.values())
    [chat] = scripted_server.chats()
    prompt = (len(chat[0]["content"]) + len(chat[1]["content"])) // 4
    assert sum(r["tokens_in"] for r in records.values()) == prompt
    assert sum(r["tokens_out"] for r in records.values()) == 5
    assert records["b"]["tokens_in"] > 0 and records["b"]["model"] == "scripted"


def test_ask_gives_a_recurring_sentence_once_citing_every_place():
    law = "This Agreement shall be governed by the laws of the State of Delaware."
    text = f"MASTER AGREEMENT\n\n1. Scope. Services are described in Exhibit A.\n\n2. Law. {law}\n\nEXHIBIT A\n\n2. Law. {law}\n\n"
    result = run_connector(
        "ask",
        [Document("d", text), Document("d2", text.replace(law, law.upper()))],
        options={"question": "Which law governs the agreement?"},
    )
    texts = [sentence["text"] for sentence in result["answer"]]
    assert texts[0] == law and len(texts) == len({t.casefold() for t in texts})
    places = [(span["document_id"], span["start"]) for span in result["answer"][0]["spans"]]
    assert sorted(places) == [(d, at) for d in ("d", "d2") for at in (text.index(law), text.rindex(law))]
    assert invalid_spans(result, {"d": text, "d2": text.replace(law, law.upper())}) == []


def test_ask_model_answer_cites_the_passage_it_names(scripted_server):
    text = (
        "MASTER AGREEMENT\n\nExhibit A's superseded form was governed by the laws of the State of Delaware.\n\n"
        "9. This Agreement, as in force, is governed by the laws of the State of Delaware.\n"
    )

    def responder(messages: list[dict]) -> str:
        shown = re.findall(r"^\[(\d+)\] (.*)$", messages[-1]["content"], re.MULTILINE)
        index = next(int(number) for number, passage in shown if "in force" in passage)
        quote = "governed by the laws of the State of Delaware"
        return json.dumps({"sentences": [{"text": "Delaware law.", "passage": index, "quote": quote}]})

    scripted_server.responder = responder
    client = InferenceClient(scripted_server.url, model="scripted", max_retries=0)
    result = run_connector(
        "ask", [Document("n", text)], options={"question": "Which law governs?"}, mode="model", client=client
    )
    [sentence] = result["answer"]
    assert sentence["spans"][0]["start"] == text.index("governed", text.index("in force"))


@pytest.mark.parametrize(
    ("question", "passage", "answer", "decides"),
    [
        (
            "May the supplier subcontract services?",
            "The Supplier shall not subcontract any services without consent.",
            "No",
            "The Supplier shall not subcontract any services without consent",
        ),
        (
            "May the supplier subcontract with the customer's consent?",
            "The Supplier shall not subcontract any services without the Customer's prior written consent.",
            "Yes",
            None,
        ),
        (
            "May a party assign the agreement?",
            "Neither party may assign this Agreement without the prior written consent of the other party, "
            "which consent shall not be unreasonably withheld.",
            "No",
            None,
        ),
        (
            "May a party assign the agreement to an affiliate?",
            "No party shall assign this Agreement, except to an Affiliate in connection with a merger.",
            "Yes",
            None,
        ),
        (
            "Must amendments be in writing?",
            "No amendment to this Agreement shall be effective unless in writing and signed by both parties.",
            "Yes",
            None,
        ),
        (
            "Are fees refundable?",
            "All fees paid hereunder are non-refundable, except as set out in Section 5.",
            "No",
            None,
        ),
        (
            "Can the agreement be terminated without cause?",
            "Either party may terminate this Agreement without cause on ninety (90) days written notice.",
            "Yes",
            None,
        ),
        (
            "Must invoices be paid within 30 days?",
            "Customer shall pay each invoice no later than thirty (30) days after receipt.",
            "Yes",
            None,
        ),
        (
            "Is the licensee permitted to sublicense?",
            "Licensee may sublicense its rights to contractors; however, Licensee shall not sublicense to any "
            "competitor of Licensor.",
            "Yes",
            "Licensee may sublicense its rights to contractors",
        ),
        (
            "May the customer reverse engineer the software?",
            "Customer may use the Software for its internal purposes. Customer shall not decompile or reverse "
            "engineer the Software.",
            "No",
            "Customer shall not decompile or reverse engineer the Software",
        ),
        (
            "Does the agreement grant an exclusive license?",
            "The license granted herein is non-exclusive and non-transferable.",
            "No",
            None,
        ),
        (
            "Is either party liable for consequential damages?",
            "Neither party shall be liable for indirect or consequential damages, nor for lost profits.",
            "No",
            None,
        ),
        (
            "Is the supplier's liability capped?",
            "In no event shall the Supplier's aggregate liability under this Agreement exceed the fees paid in "
            "the twelve months before the claim.",
            "Yes",
            None,
        ),
        (
            "Is there a cap on liability?",
            "Each party's total liability shall not be more than one million dollars ($1,000,000).",
            "Yes",
            None,
        ),
        (
            "Can the annual fees exceed $100,000?",
            "The annual fees shall not exceed one hundred thousand dollars ($100,000).",
            "No",
            None,
        ),
        (
            "May the licensee sublicense?",
            "Licensee shall not sublicense, and the number of users shall not exceed ten.",
            "No",
            None,
        ),
        (
            "Will the vendor indemnify the customer?",
            "Vendor shall indemnify, defend and hold harmless Customer from any third-party claim.",
            "Yes",
            None,
        ),
    ],
)
def test_yes_no_reads_the_polarity_of_the_clause_that_decides(question, passage, answer, decides):
    from connectors.review.retrieval import query_terms
    from connectors.review.values import find_yes_no

    text = f"Section 9.\n\n{passage}\n\nSection 10."
    start = text.index(passage)
    value, normalised, first, last = find_yes_no(
        text, start, start + len(passage), query_terms(question), question
    )
    assert (value, normalised) == (answer, answer.lower())
    assert start <= first < last <= start + len(passage)
    assert text[first:last] == (decides or passage.rstrip("."))


@pytest.mark.parametrize(
    ("question", "passage", "answer"),
    [
        (
            "Is assignment prohibited?",
            "Neither party may assign this Agreement without the other party's prior written consent.",
            "Yes",
        ),
        ("Is assignment restricted?", "Either party may freely assign this Agreement.", "No"),
        ("Is assignment forbidden?", "Neither party shall assign this Agreement.", "Yes"),
        ("Is assignment barred?", "Assignment of this Agreement is prohibited.", "Yes"),
        ("Is assignment restricted?", "Assignment of this Agreement is not restricted.", "No"),
        ("Is assignment restricted?", "Either party may assign this Agreement without restriction.", "No"),
        ("Is assignment not permitted?", "A party may not assign this Agreement.", "Yes"),
        ("Can a party not assign the agreement?", "Neither party may assign this Agreement.", "Yes"),
        ("Can a party not assign the agreement?", "Either party may assign this Agreement.", "No"),
        (
            "Is assignment to an affiliate restricted?",
            "No party shall assign this Agreement, except to an Affiliate.",
            "No",
        ),
        (
            "Is the supplier's liability restricted?",
            "In no event shall the Supplier's liability exceed the fees paid.",
            "Yes",
        ),
        ("Is assignment not restricted?", "Assignment of this Agreement is restricted.", "No"),
        ("Is assignment unrestricted?", "Either party may assign this Agreement.", "Yes"),
        # A passage that states a prohibition denies the act for a plain question too.
        ("May a party assign the agreement?", "Assignment of this Agreement is prohibited.", "No"),
        ("May a party assign the agreement?", "Assignment of this Agreement is not permitted.", "No"),
        (
            "May a party assign the agreement?",
            "There is no restriction on assignment of this Agreement.",
            "Yes",
        ),
        (
            "May a party assign the agreement to an affiliate?",
            "Assignment of this Agreement is prohibited, except to an Affiliate.",
            "Yes",
        ),
        # A participle before what it describes names a thing and prohibits nothing.
        ("May the employee sell restricted stock?", "The Employee may sell restricted stock.", "Yes"),
        (
            "May the employee sell restricted stock?",
            "The Employee shall not sell restricted stock during the Term.",
            "No",
        ),
        (
            "May the employee work for a competitor?",
            "After the Restricted Period the Employee may work for a competitor.",
            "Yes",
        ),
        (
            "Is the employee restricted from competing?",
            "The Employee shall not compete with the Company.",
            "Yes",
        ),
    ],
)
def test_a_question_about_a_prohibition_is_yes_where_the_passage_denies_the_act(question, passage, answer):
    from connectors.review.retrieval import query_terms

    value, normalised, _, _ = find_yes_no(passage, 0, len(passage), query_terms(question), question)
    assert (value, normalised) == (answer, answer.lower())


def test_an_earnings_column_without_a_period_answers_the_calls_own_quarter_before_a_year_ago_one():
    text = (
        "Operator: Welcome.\nJane Doe -- CFO: Revenue in the second quarter of 2023 was $120.5 million. "
        "This quarter, revenue was $131.2 million, up 9%.\n"
    )
    call = Document("doc_1", text, metadata={"filename": "acme-2024-Q2.txt"})
    columns = [{"key": "revenue", "question": "What was revenue?", "type": "money"}]
    revenue = run_connector("review", [call], options={"columns": columns})["rows"][0]["cells"]["revenue"]
    assert revenue["value"] == "$131.2 million" and revenue["normalised"]["period"] == "Q2 2024"
    assert revenue["confidence"] == 0.75


@pytest.mark.parametrize(
    ("sentence", "value", "column_type"),
    [
        ("Revenue was CAD 131.2 million this quarter, up 9%.", "CAD 131.2 million", "money"),
        ("Adjusted earnings per share were €0.45 this quarter.", "€0.45", "money"),
    ],
)
def test_an_earnings_money_column_answers_a_figure_in_any_currency(sentence, value, column_type):
    text = f"Operator: Welcome.\nJane Doe -- CFO: {sentence}\n"
    call = Document("doc_1", text, metadata={"filename": "acme-2024-Q2.txt"})
    key = "revenue" if sentence.startswith("Revenue") else "adjusted_eps"
    columns = [{"key": key, "question": f"What was {key}?", "type": column_type}]
    answered = run_connector("review", [call], options={"columns": columns})["rows"][0]["cells"][key]
    assert (answered["status"], answered["value"]) == ("answered", value), answered


def _kpi_cells(text: str, filename: str, keys: tuple[str, ...]) -> dict:
    """The cells of the earnings_kpis template's columns `keys` over one call `text` named `filename`."""
    call = Document("doc_1", text, metadata={"filename": filename})
    columns = [c for c in TEMPLATES["earnings_kpis"] if c["key"] in keys]
    return run_connector("review", [call], options={"columns": columns})["rows"][0]["cells"]


ADJUSTED_EPS_GUIDED = (
    "Operator: Welcome.\nJane Doe -- CFO: Revenue for the quarter was $900 million. For fiscal 2024, we now expect "
    "adjusted earnings per share of $2.40 to $2.50.\n"
)


def test_earnings_kpi_columns_take_the_headline_figure_and_guidance_for_a_later_period():
    text = (
        "Operator: Welcome.\nJane Doe -- CFO: We remain on track to reach our goal of $1.8 million in average "
        "sales per store. In Q2, our net sales increased 5.9% to $2.6 billion. For the third quarter we expect "
        "revenue of $2.7 billion. For the second quarter we had expected revenue of $2.5 billion.\n"
    )
    cells = _kpi_cells(text, "acme-2021-Q2.txt", ("revenue", "guidance_revenue"))
    assert (cells["revenue"]["value"], cells["revenue"]["normalised"]["period"]) == (
        "$2.6 billion",
        "Q2 2021",
    )
    guidance = cells["guidance_revenue"]
    assert (guidance["value"], guidance["normalised"]["period"], guidance["confidence"]) == (
        "$2.7 billion",
        "Q3 2021",
        0.75,
    )


def test_the_eps_guidance_column_takes_adjusted_eps_guidance_where_the_call_guides_no_other():
    cell = _kpi_cells(ADJUSTED_EPS_GUIDED, "acme-2024-Q2.txt", ("guidance_eps",))["guidance_eps"]
    assert (cell["value"], cell["status"], cell["normalised"]["unit"]) == (
        "$2.40 to $2.50",
        "answered",
        "USD_per_share",
    )


def test_a_kpi_column_left_to_a_passage_takes_none_that_looks_the_other_way():
    keys = ("eps", "adjusted_eps", "guidance_revenue")
    cells = _kpi_cells(ADJUSTED_EPS_GUIDED, "acme-2024-Q2.txt", keys)
    assert {key: cells[key]["status"] for key in keys} == dict.fromkeys(keys, "not_found")


def test_an_earnings_kpi_the_analyzers_did_not_find_is_left_for_review_when_a_passage_answers_it():
    text = (
        "Operator: Welcome.\nJane Doe -- CFO: Adjusted diluted earnings per share of $3.34 represented an "
        "all-time quarterly high, and adjusted EBITDA margins improved again.\n"
    )
    cells = _kpi_cells(text, "acme-2021-Q1.txt", ("ebitda", "adjusted_eps"))
    assert cells["adjusted_eps"]["status"] == "answered" and cells["adjusted_eps"]["value"] == "$3.34"
    assert cells["ebitda"]["status"] == "needs_review" and cells["ebitda"]["confidence"] < 0.35


def test_a_parties_column_keeps_a_list_of_names_and_leaves_a_clause_without_names_for_review():
    contract = (
        "SERVICES AGREEMENT\n\nThis Services Agreement is entered into by and between the undersigned parties, "
        "each a Party and together the Parties, as of the date written below.\n\nThe Supplier shall provide the "
        "services described in Schedule 1.\n"
    )
    column = [c for c in TEMPLATES["cuad"] if c["key"] == "parties"]
    found = run_connector("review", [Document("unnamed", contract)], options={"columns": column})
    parties = found["rows"][0]["cells"]["parties"]
    assert parties["value"] is None and parties["spans"] and parties["status"] == "needs_review"
    named = run_connector("review", [Document("note", NOTE)], options={"columns": column})["rows"][0]["cells"]
    assert isinstance(named["parties"]["value"], list)


def test_a_date_column_whose_clause_gives_no_date_cites_it_with_no_normalised_date():
    contract = (DATA / "cuad" / "contracts" / "cuad_23.txt").read_text(encoding="utf-8")
    columns = [c for c in TEMPLATES["cuad"] if c["key"] == "expiration_date"]
    found = run_connector("review", [Document("cuad_23", contract)], options={"columns": columns})
    expiration = found["rows"][0]["cells"]["expiration_date"]
    assert expiration["value"].startswith("23. The Contract is valid for 5 years")
    assert expiration["normalised"] is None and expiration["spans"]


def test_the_adjusted_ebitda_column_takes_the_adjusted_figure_before_plain_ebitda():
    text = (
        "Operator: Welcome.\nJane Doe -- CFO: EBITDA for the quarter was $70 million. Excluding the items above, "
        "adjusted EBITDA for the quarter was $99 million.\n"
    )
    ebitda = _kpi_cells(text, "acme-2021-Q3.txt", ("ebitda",))["ebitda"]
    assert (ebitda["value"], ebitda["status"], ebitda["normalised"]["period"]) == (
        "$99 million",
        "answered",
        "Q3 2021",
    )


def test_a_kpi_column_is_not_guessed_from_passages_that_never_name_its_metric():
    text = (
        "Operator: Welcome.\nJane Doe -- CFO: Revenue was $3.1 billion, and diluted earnings per share were "
        "$1.20 in the quarter.\n"
    )
    cells = _kpi_cells(text, "acme-2021-Q3.txt", ("ffo", "free_cash_flow", "eps"))
    assert cells["eps"]["value"] == "$1.20" and cells["eps"]["status"] == "answered"
    assert cells["ffo"]["status"] == "not_found" and cells["free_cash_flow"]["status"] == "not_found"


def test_a_question_in_cyrillic_is_answered_from_cyrillic_text():
    text = (
        "ДОГОВОР ПОСТАВКИ\n\n"
        "1. Поставщик обязуется поставить товар, покупатель обязуется принять и оплатить товар.\n\n"
        "2. Срок действия договора составляет три (3) года начиная от даты подписания.\n\n"
        "3. Договор регулируется законодательством Российской Федерации."
    )
    columns = [{"key": "term", "question": "Срок действия договора?", "type": "text"}]
    cells = run_connector("review", [Document("ru", text)], options={"columns": columns})["rows"][0]["cells"]
    assert cells["term"]["status"] == "answered"
    assert cells["term"]["value"].startswith("2. Срок действия договора")
    asked = run_connector(
        "ask", [Document("ru", text)], options={"question": "Каким законодательством регулируется договор?"}
    )
    assert "законодательством Российской Федерации" in asked["answer"][0]["text"]


@pytest.mark.parametrize(
    ("text", "columns", "answers"),
    [
        (
            "供货协议\n\n本协议由甲方北京某某有限公司与乙方上海某某有限公司签订。\n\n"
            "第十条 适用法律。本协议受中华人民共和国法律管辖。\n\n第十一条 付款。买方应在收到发票后三十日内付款。",
            [
                {"key": "law", "question": "本协议适用哪国法律\uff1f", "type": "text"},
                {"key": "pay", "question": "买方何时付款\uff1f", "type": "text"},
            ],
            {"law": "法律", "pay": "三十日内付款"},
        ),
        (
            "売買契約書\n\n第1条 本契約は日本法に準拠する。\n\n第2条 買主は請求書受領後30日以内に代金を支払う。",
            [{"key": "law", "question": "本契約の準拠法は何ですか\uff1f", "type": "text"}],
            {"law": "日本法に準拠する"},
        ),
    ],
    ids=["chinese", "japanese"],
)
def test_a_question_in_chinese_or_japanese_is_answered_from_its_text(text, columns, answers):
    cells = run_connector("review", [Document("d", text)], options={"columns": columns})["rows"][0]["cells"]
    for key, words in answers.items():
        assert cells[key]["status"] != "not_found" and words in cells[key]["value"], (key, cells[key])
    asked = run_connector("ask", [Document("d", text)], options={"question": columns[0]["question"]})
    assert asked["answer"] and answers[columns[0]["key"]] in asked["answer"][0]["text"]


def test_a_run_of_chinese_characters_makes_terms_of_two_characters_and_the_yes_no_clause_holds_them():
    from connectors.review.retrieval import stems

    assert stems("第十条 适用法律。Acme公司") == ["第十", "十条", "适用", "用法", "法律", "acme", "公司"]
    assert stems("法") == ["法"]
    text = "本协议可以转让。违约方应赔偿损失。"
    _, _, start, end = find_yes_no(text, 0, len(text), stems("违约方是否赔偿损失"))
    assert text[start:end] == "违约方应赔偿损失"


BUILT_IN_CONTRACT = (
    "DISTRIBUTION AGREEMENT\n\nThis Agreement is made as of March 12, 2019 between Acme Corp. and Beta LLC.\n\n"
    "2. Term. The initial term of this Agreement shall continue for a period of five (5) years, unless earlier "
    "terminated.\n\n7. Governing Law. This Agreement shall be governed by the laws of the State of Tennessee.\n"
)
BUILT_IN_CALL = (
    "Operator: Welcome.\nJane Doe -- CFO: Third quarter revenue rose 12% to $1.2 billion. Adjusted earnings "
    "per share were $0.83.\n"
)


@pytest.mark.parametrize(
    ("text", "column", "normalised"),
    [
        (
            BUILT_IN_CONTRACT,
            {
                "key": "governing_law",
                "question": "Is the contract governed by Tennessee law?",
                "type": "yes_no",
            },
            "yes",
        ),
        (
            BUILT_IN_CONTRACT,
            {"key": "expiration_date", "question": "How long is the initial term?", "type": "duration"},
            "P5Y",
        ),
        (
            BUILT_IN_CONTRACT,
            {"key": "governing_law", "question": "Which law governs?", "type": "text"},
            "Tennessee",
        ),
        (
            BUILT_IN_CALL,
            {"key": "revenue_growth", "question": "What was third quarter revenue?", "type": "money"},
            {"value": 1.2, "unit": "USD", "scale": 1e9},
        ),
        (
            BUILT_IN_CALL,
            {"key": "revenue", "question": "What was third quarter revenue?", "type": "percent"},
            {"value": 12.0, "unit": "percent", "scale": 1.0},
        ),
        (
            BUILT_IN_CALL,
            {"key": "revenue_growth", "question": "By what percent did revenue grow?", "type": "percent"},
            {"value": 12.0, "unit": "percent", "scale": 1.0, "period": "Q3 2021"},
        ),
    ],
)
def test_a_built_in_key_declared_with_another_type_answers_in_that_type(text, column, normalised):
    document = Document("doc_1", text, metadata={"filename": "acme-2021-Q3.txt"})
    cell = run_connector("review", [document], options={"columns": [column]})["rows"][0]["cells"][
        column["key"]
    ]
    assert _shaped(column["type"], cell["normalised"]), cell
    assert cell["normalised"] == normalised and cell["status"] == "answered"


@pytest.mark.parametrize(
    ("text", "quote", "normalised"),
    [
        ("Fee: USD 250,000 a year.", "USD 250,000", (250_000.0, "USD", 1.0)),
        ("Fee: EUR 3,000.", "EUR 3,000", (3_000.0, "EUR", 1.0)),
        ("Fee: GBP 1,000.", "GBP 1,000", (1_000.0, "GBP", 1.0)),
        ("A fee of 5 million euros.", "5 million euros", (5.0, "EUR", 1e6)),
        ("A fee of 250,000 USD.", "250,000 USD", (250_000.0, "USD", 1.0)),
        ("A fee of USD 1.5 million.", "USD 1.5 million", (1.5, "USD", 1e6)),
        ("A fee of CAD$ 500.", "CAD$ 500", (500.0, "CAD", 1.0)),
        ("A fee of A$500.", "A$500", (500.0, "AUD", 1.0)),
        ("A fee of $500 CAD.", "$500 CAD", (500.0, "CAD", 1.0)),
        ("A fee of 200 Canadian dollars.", "200 Canadian dollars", (200.0, "CAD", 1.0)),
        ("A fee of € 1.234,56.", "€ 1.234,56", (1234.56, "EUR", 1.0)),
        ("A fee of €1.234.567.", "€1.234.567", (1_234_567.0, "EUR", 1.0)),
        ("A fee of 12,50 €.", "12,50 €", (12.5, "EUR", 1.0)),
        ("A fee of CHF 1'000.", "CHF 1'000", (1_000.0, "CHF", 1.0)),
        ("A fee of ZZ$ 500.", None, None),
        ("A fee of €500 USD.", None, None),
        ("A fee of $12,500.", "$12,500", (12_500.0, "USD", 1.0)),
        ("Revenue was $5.0 million.", "$5.0 million", (5.0, "USD", 1e6)),
        ("Sales were €1.2 billion.", "€1.2 billion", (1.2, "EUR", 1e9)),
        ("EPS was $0.83 per share.", "$0.83 per share", (0.83, "USD_per_share", 1.0)),
    ],
)
def test_find_money_reads_currency_codes_and_prefixes_and_refuses_an_unknown_currency(
    text, quote, normalised
):
    found = find_money(text, 0, len(text))
    if quote is None:
        assert found is None
        return
    value, shape, start, end = found
    assert (value, text[start:end]) == (quote, quote)
    assert (shape["value"], shape["unit"], shape["scale"]) == normalised


def test_a_money_column_answers_from_an_amount_in_a_currency_code():
    text = "SHARE PURCHASE AGREEMENT\n\nThe purchase price is EUR 3,000,000, payable at closing.\n"
    columns = [
        {"key": "price", "question": "What is the purchase price?", "type": "money"},
        {"key": "count", "question": "What is the purchase price?", "type": "number"},
    ]
    cells = run_connector("review", [Document("spa", text)], options={"columns": columns})["rows"][0]["cells"]
    assert cells["price"]["status"] == "answered"
    assert cells["price"]["normalised"] == {"value": 3_000_000.0, "unit": "EUR", "scale": 1.0}
    assert cells["count"]["status"] == "not_found"
    assert find_number("USD 250,000", 0, 11) is None


@pytest.mark.parametrize(
    ("text", "quote", "iso"),
    [
        ("The term is 2.5 years.", "2.5 years", "P2.5Y"),
        ("Payment is due within 12,500 days of the invoice.", "12,500 days", "P12500D"),
        ("A notice period of 1.5 months applies.", "1.5 months", "P1.5M"),
        ("Term - 3 years.", "3 years", "P3Y"),
        ("Initial term:\n - 3 years", "3 years", "P3Y"),
        ("An initial term of three (3) years.", "three (3) years", "P3Y"),
        ("The 30-day cure period.", "30-day", "P30D"),
    ],
)
def test_a_duration_is_read_from_its_whole_number_and_trimmed(text, quote, iso):
    value, normalised, start, end = find_duration(text, 0, len(text))
    assert (value, normalised, text[start:end]) == (quote, iso, quote)


def test_a_duration_column_reads_a_decimal_term():
    column = {"key": "term", "question": "How long is the term?", "type": "duration"}
    cell = run_connector("review", [Document("d", "The term is 2.5 years.")], options={"columns": [column]})
    assert cell["rows"][0]["cells"]["term"]["normalised"] == "P2.5Y"


MARKDOWN_TABLE = (
    "ACME Q2 2023 RESULTS\n\n"
    "| Metric | Q2 2023 | Q2 2022 |\n"
    "|---|---|---|\n"
    "| Revenue | $5.0 million | $4.0 million |\n"
    "| Net income | $1.0 million | $0.8 million |\n"
)


@pytest.mark.parametrize("delimiter", ["|---|---|---|", "| :--- | ---: | :---: |"])
def test_a_markdown_table_keeps_its_heading_row_across_the_delimiter_row(delimiter):
    text = MARKDOWN_TABLE.replace("|---|---|---|", delimiter)
    column = {"key": "profit", "question": "What was net income in Q2 2022?", "type": "money"}
    cell = run_connector("review", [Document("d", text)], options={"columns": [column]})["rows"][0]["cells"][
        "profit"
    ]
    assert (cell["value"], cell["status"]) == ("$0.8 million", "answered")
    assert (cell["normalised"]["column"], cell["normalised"]["row"]) == ("Q2 2022", "Net income")


CAPPED = (
    "SUPPLY AGREEMENT\n\n1. Records. The Supplier shall keep complete books and records.\n\n"
    "2. Liability. In no event shall either party's aggregate liability exceed the fees paid.\n"
)


@pytest.mark.parametrize(
    ("first", "second", "value", "quoted"),
    [
        ("No", "Yes", "Yes", ["2"]),
        ("Yes", "No", "Yes", ["1"]),
        ("No", "No", "No", ["1", "2"]),
        ("No", None, None, None),
    ],
)
def test_a_yes_no_column_read_in_parts_is_yes_when_any_part_says_so_and_no_only_when_all_do(
    scripted_server, first, second, value, quoted
):
    """A part answering null leaves the cell to the analyzers (value None here)."""
    cut = CAPPED.index("2. Liability.")
    sections = [[0, cut], [cut, len(CAPPED)]]
    plan = {"documents": {"c": {"strategy": "map_reduce", "reason": "test", "sections": sections}}}
    quotes = {
        "1": "The Supplier shall keep complete books and records.",
        "2": "In no event shall either party's aggregate liability exceed the fees paid.",
    }

    def responder(messages: list[dict]) -> str:
        part = re.search(r"Part (\d) of 2", messages[0]["content"]).group(1)
        said = first if part == "1" else second
        return json.dumps({"value": said, "quote": quotes[part]} if said else {"value": None})

    scripted_server.responder = responder
    client = InferenceClient(scripted_server.url, model="scripted", max_retries=0)
    options = {
        "columns": [{"key": "cap", "question": "Is either party's liability capped?", "type": "yes_no"}]
    }
    document = Document("c", CAPPED)
    result = run_connector("review", [document], options=options, mode="model", client=client, context=plan)
    cell = result["rows"][0]["cells"]["cap"]
    if value is None:
        assert cell == run_connector("review", [document], options=options)["rows"][0]["cells"]["cap"]
        return
    assert (cell["value"], cell["confidence"]) == (value, 0.8)
    assert [span["quote"] for span in cell["spans"]] == [quotes[part] for part in quoted]


def test_ask_model_answer_keeps_at_most_max_sentences(scripted_server):
    quote = "governed by the laws of the State of New York"
    scripted_server.responder = lambda messages: json.dumps(
        {"sentences": [{"text": f"Sentence {i}.", "passage": 0, "quote": quote} for i in range(4)]}
    )
    client = InferenceClient(scripted_server.url, model="scripted", max_retries=0)
    result = run_connector(
        "ask",
        [Document("n", NOTE)],
        options={"question": "Which laws govern?", "max_sentences": 2},
        mode="model",
        client=client,
    )
    assert [sentence["text"] for sentence in result["answer"]] == ["Sentence 0.", "Sentence 1."]
    assert "at most 2 sentences" in scripted_server.chats()[0][-1]["content"]


@pytest.mark.parametrize(
    ("choices", "param"),
    [
        (["Delaware", "New York", "Delaware"], "options.columns.0.choices.2"),
        (["Delaware", " delaware "], "options.columns.0.choices.1"),
        (["Delaware", "x" * 201], "options.columns.0.choices.1"),
    ],
    ids=["repeated", "repeated-in-other-case", "over-long"],
)
def test_an_enum_choice_given_twice_or_over_long_is_refused_naming_it(choices, param):
    column = {"key": "law", "question": "Which law governs?", "type": "enum", "choices": choices}
    with pytest.raises(OptionError) as refused:
        get_connector("review").validate_options({"columns": [{"key": "a", "question": "Q"}, column]})
    assert refused.value.param == param.replace("columns.0", "columns.1")


def test_an_enum_cell_cites_the_passage_that_names_its_choice():
    text = (
        "SERVICES AGREEMENT\n\n1. Services. Supplier provides hosting.\n\n4. Governing Law.\n"
        "This Agreement is governed by the law of the State of Delaware.\n\n5. Notices. Notices go by mail."
    )
    column = {
        "key": "law",
        "question": "Which law governs?",
        "type": "enum",
        "choices": ["Delaware", "New York"],
    }
    cell = run_connector("review", [Document("d", text)], options={"columns": [column]})["rows"][0]["cells"][
        "law"
    ]
    assert (cell["value"], cell["status"]) == ("Delaware", "answered")
    assert [span["quote"] for span in cell["spans"]] == [
        "This Agreement is governed by the law of the State of Delaware."
    ]
    assert invalid_spans({"rows": [{"cells": {"law": cell}}]}, {"d": text}) == []


@pytest.mark.parametrize(
    ("text", "quote", "normalised"),
    [
        # Accounting's brackets around an amount in a currency code or name are negative, as around "€1,000".
        ("Net loss: (EUR 1,000).", "(EUR 1,000)", (-1_000.0, "EUR", 1.0)),
        ("Net loss: (USD 2,000) for the year.", "(USD 2,000)", (-2_000.0, "USD", 1.0)),
        ("Net loss: (2,000 euros).", "(2,000 euros)", (-2_000.0, "EUR", 1.0)),
        # ... but a bracket right after words restates them, and one holding more is an aside.
        ("A fee of Two Thousand Euros (EUR 2,000).", "EUR 2,000", (2_000.0, "EUR", 1.0)),
        ("A fee (EUR 2,000 a year) is due.", "EUR 2,000", (2_000.0, "EUR", 1.0)),
        # A minus sign between the currency and the number, or the typographic minus sign.
        ("The adjustment is EUR -500.", "EUR -500", (-500.0, "EUR", 1.0)),
        ("The adjustment is €-1,250.", "€-1,250", (-1_250.0, "EUR", 1.0)),
        ("The adjustment is $-500.", "$-500", (-500.0, "USD", 1.0)),
        ("The adjustment is \u2212$1,000.", "\u2212$1,000", (-1_000.0, "USD", 1.0)),
        # Thousands grouped by spaces (French, Swiss, ISO 31-0) or by one dot before a currency written after.
        ("Le loyer est de 1 500 € par mois.", "1 500 €", (1_500.0, "EUR", 1.0)),
        ("Le prix est de EUR 1\u202f250\u202f000.", "EUR 1\u202f250\u202f000", (1_250_000.0, "EUR", 1.0)),
        ("A fee of USD 1 500.50 is due.", "USD 1 500.50", (1_500.5, "USD", 1.0)),
        ("Un loyer de 1 500,50 € est dû.", "1 500,50 €", (1_500.5, "EUR", 1.0)),
        ("Die Miete beträgt 10.000 € im Monat.", "10.000 €", (10_000.0, "EUR", 1.0)),
        ("Die Gebühr beträgt 1.500 EUR.", "1.500 EUR", (1_500.0, "EUR", 1.0)),
        ("Sales were 1.500 million euros.", "1.500 million euros", (1.5, "EUR", 1e6)),
        ("A deposit of 0.500 EUR per unit.", "0.500 EUR", (0.5, "EUR", 1.0)),
        ("A fee of $1.500 per gallon.", "$1.500", (1.5, "USD", 1.0)),
    ],
)
def test_find_money_reads_negative_and_grouped_amounts(text, quote, normalised):
    value, shape, start, end = find_money(text, 0, len(text))
    assert (value, text[start:end]) == (quote, quote)
    assert (shape["value"], shape["unit"], shape["scale"]) == normalised


@pytest.mark.parametrize(
    ("text", "quote", "iso"),
    [
        ("Either party may terminate on 30 (thirty) days notice.", "30 (thirty) days", "P30D"),
        ("The initial term is 2 (two) years.", "2 (two) years", "P2Y"),
        ("Payment is due within 5 (five) business days.", "5 (five) business days", "P5D"),
        ("Notice of (30) days is required.", "(30) days", "P30D"),
        ("Notice of ninety (90) days is required.", "ninety (90) days", "P90D"),
    ],
)
def test_a_duration_restated_in_words_after_its_figure_is_quoted_whole(text, quote, iso):
    value, normalised, start, end = find_duration(text, 0, len(text))
    assert (value, normalised, text[start:end]) == (quote, iso, quote)


def test_a_question_is_measured_without_the_blanks_around_it():
    review = get_connector("review")
    padded = " " * 40 + "Q" * 500 + "\n"
    [column] = review.validate_options({"columns": [{"key": "a", "question": padded}]})["columns"]
    assert column["question"] == "Q" * 500
    with pytest.raises(OptionError) as refused:
        review.validate_options({"columns": [{"key": "a", "question": "Q" * 501}]})
    assert refused.value.param == "options.columns.0.question"


def test_model_mode_reads_a_bare_figure_by_the_quote_that_states_it(scripted_server):
    """A model answering a money or percent column with the number alone (99.5, 12500) or a duration in ISO 8601
    ("P3Y") gives the cell, normalised by the quote's figure, rather than falling back to the analyzers."""
    answers = {
        "fee": {"value": 12500, "quote": "Customer shall pay a monthly fee of $12,500."},
        "uptime": {"value": "99.5", "quote": "Supplier guarantees an uptime of 99.5% in each month."},
        "term": {"value": "P3Y", "quote": "The initial term of this Agreement is three (3) years."},
        "other": {"value": 7, "quote": "Customer shall pay a monthly fee of $12,500."},
    }
    columns = [
        {"key": "fee", "question": "What monthly fee does the customer pay?", "type": "money"},
        {"key": "uptime", "question": "What uptime is guaranteed?", "type": "percent"},
        {"key": "term", "question": "How long is the initial term?", "type": "duration"},
        {"key": "other", "question": "What monthly fee does the customer pay?", "type": "money"},
    ]
    scripted_server.responder = lambda messages: json.dumps(
        next(answer for key, answer in answers.items() if f"Column {key}:" in messages[1]["content"])
    )
    client = InferenceClient(scripted_server.url, model="scripted", max_retries=0)
    model = run_connector(
        "review", [Document("n", NOTE)], options={"columns": columns}, mode="model", client=client
    )
    analyzers = run_connector("review", [Document("n", NOTE)], options={"columns": columns})
    cells, fallback = model["rows"][0]["cells"], analyzers["rows"][0]["cells"]
    assert (cells["fee"]["value"], cells["fee"]["confidence"]) == (12500, 0.8)
    assert cells["fee"]["normalised"] == {"value": 12500.0, "unit": "USD", "scale": 1.0}
    assert (cells["uptime"]["value"], cells["uptime"]["confidence"]) == ("99.5", 0.8)
    assert cells["uptime"]["normalised"] == {"value": 99.5, "unit": "percent", "scale": 1.0}
    assert (cells["term"]["normalised"], cells["term"]["confidence"]) == ("P3Y", 0.8)
    assert cells["other"] == fallback["other"], "a number the quote does not state leaves the analyzers' cell"


def test_model_mode_keeps_a_date_duration_or_figure_only_when_its_quote_states_it(scripted_server):
    """The span must hold the value: a model quoting "made on 3 March 2021" for the value 4 March 2021, or "$12,500"
    for $15,000, gives no cell of its own (the analyzers answer); the same value in other words ("36 months" of
    "three (3) years", 12.5 thousand dollars of "$12,500") is kept."""
    signed = "This Services Agreement is made on 3 March 2021"
    term = "The initial term of this Agreement is three (3) years."
    fee = "Customer shall pay a monthly fee of $12,500."
    answers = {
        "signed": {"value": "4 March 2021", "quote": signed},
        "signed_iso": {"value": "2021-03-03", "quote": signed},
        "term": {"value": "five years", "quote": term},
        "term_months": {"value": "36 months", "quote": term},
        "fee": {"value": "$15,000", "quote": fee},
        "fee_scaled": {"value": "12.5 thousand dollars", "quote": fee},
        "uptime": {"value": "95%", "quote": "Supplier guarantees an uptime of 99.5% in each month."},
        "locations": {"value": 250, "quote": "The service covers 240 locations."},
    }
    by_key = {column["key"]: column for column in COLUMNS}
    columns = [
        {**by_key["signed"], "key": "signed"},
        {**by_key["signed"], "key": "signed_iso"},
        {**by_key["term"], "key": "term"},
        {**by_key["term"], "key": "term_months"},
        {**by_key["fee"], "key": "fee"},
        {**by_key["fee"], "key": "fee_scaled"},
        by_key["uptime"],
        by_key["locations"],
    ]
    scripted_server.responder = lambda messages: json.dumps(
        next(a for key, a in answers.items() if f"Column {key}:" in messages[1]["content"])
    )
    client = InferenceClient(scripted_server.url, model="scripted", max_retries=0)
    options = {"columns": columns}
    model = run_connector("review", [Document("n", NOTE)], options=options, mode="model", client=client)
    analyzers = run_connector("review", [Document("n", NOTE)], options=options)
    cells, fallback = model["rows"][0]["cells"], analyzers["rows"][0]["cells"]
    for key in ("signed", "term", "fee", "uptime", "locations"):
        assert cells[key] == fallback[key], (key, cells[key])
    assert (cells["signed_iso"]["normalised"], cells["signed_iso"]["confidence"]) == ("2021-03-03", 0.8)
    assert (cells["term_months"]["normalised"], cells["term_months"]["confidence"]) == ("P36M", 0.8)
    assert (cells["fee_scaled"]["value"], cells["fee_scaled"]["confidence"]) == ("12.5 thousand dollars", 0.8)
    assert any("does not state" in warning for warning in model["warnings"]), model["warnings"]


@pytest.mark.parametrize(
    ("text", "quote", "value"),
    [
        ("The company has 1 500 employees.", "1 500", 1_500.0),
        ("It employs 1\u00a0250\u00a0000 people.", "1\u00a0250\u00a0000", 1_250_000.0),
        ("A headcount of 12 345.5 on average.", "12 345.5", 12_345.5),
        # A year, a list of small numbers or a longer run are not one grouped number.
        ("In 2019 15 offices were opened.", "15", 15.0),
        ("In 2019 150 offices were opened.", "150", 150.0),
        ("See items 3 4 5 of the schedule.", "3", 3.0),
        ("Call 555 123 4567 for details.", "555", 555.0),
    ],
)
def test_find_number_reads_thousands_grouped_by_spaces_but_never_joins_separate_numbers(text, quote, value):
    found, figure, start, end = find_number(text, 0, len(text))
    assert (found, text[start:end], figure["value"]) == (quote, quote, value)


@pytest.mark.parametrize(
    ("plural", "singular"),
    [("fees", "fee"), ("laws", "law"), ("parties", "party"), ("taxes", "tax"), ("branches", "branch")],
)
def test_a_plural_and_its_singular_are_one_term(plural, singular):
    from connectors.review.retrieval import stems

    assert stems(plural) == stems(singular)


@pytest.mark.parametrize("word", ["fee", "law", "party", "address", "status", "analysis", "yes", "gas"])
def test_a_word_that_is_no_plural_keeps_its_ending(word):
    from connectors.review.retrieval import stems

    assert stems(word) == [word[:6]]


def test_a_question_in_the_plural_finds_a_passage_in_the_singular():
    from connectors.review.retrieval import DocumentIndex, query_terms

    text = (
        "The Customer shall pay a fee of $500 each month. This Agreement is governed by the law of Delaware."
    )
    index = DocumentIndex(text)
    [passage] = index.rank(query_terms("What fees apply?"))
    assert text[passage.start : passage.end].startswith("The Customer shall pay a fee")
    [passage] = index.rank(query_terms("Which laws govern the parties?"))
    assert "law of Delaware" in text[passage.start : passage.end]


def test_an_answer_sentence_whose_spans_are_all_lost_is_dropped_and_counted():
    question = "How are notices sent and which law governs?"
    result = run_connector("ask", [Document("n", NOTE)], options={"question": question})
    assert len(result["answer"]) >= 2
    kept = [sentence["text"] for sentence in result["answer"][1:]]
    lose(result["answer"][0]["spans"])
    report = stored("ask", result, {"n": NOTE})
    assert [sentence["text"] for sentence in report.output["answer"]] == kept
    assert all(sentence["spans"] for sentence in report.output["answer"])
    assert report.dropped == 1 and "1 finding(s) dropped" in report.output["warnings"][-1]


def test_a_review_cell_whose_spans_are_all_lost_stays_and_needs_review():
    result = run_connector("review", [Document("n", NOTE)], options={"columns": COLUMNS[:2]})
    cells = result["rows"][0]["cells"]
    assert cells["signed"]["status"] == "answered"
    lose(cells["signed"]["spans"])
    report = stored("review", result, {"n": NOTE})
    kept = report.output["rows"][0]["cells"]
    assert set(kept) == {"signed", "term"} and kept["term"] == cells["term"]
    assert kept["signed"]["spans"] == [] and kept["signed"]["status"] == "needs_review"


def test_a_text_column_answers_with_the_section_not_its_heading():
    text = (
        "MASTER SERVICES AGREEMENT\n\n5. Fees.\n\nCustomer shall pay the fees within thirty days.\n\n"
        "6. Limitation of Liability.\n\nIn no event shall either party's aggregate liability under this Agreement "
        "exceed the fees paid in the twelve months before the claim.\n\n7. Governing Law.\n\nThis Agreement is "
        "governed by the laws of the State of New York.\n"
    )
    columns = [
        {"key": "liability", "question": "What is the limitation of liability?", "type": "text"},
        {"key": "law", "question": "Which law governs?", "type": "text"},
    ]
    cells = run_connector("review", [Document("doc_1", text)], options={"columns": columns})["rows"][0][
        "cells"
    ]
    assert cells["liability"]["value"].startswith("In no event shall either party's aggregate liability")
    assert cells["law"]["value"] == "This Agreement is governed by the laws of the State of New York."
    assert all(text[s["start"] : s["end"]] == s["quote"] for c in cells.values() for s in c["spans"])
