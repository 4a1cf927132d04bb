"""The analysts' view of earnings calls: participants, questions, follow-ups, answers, topics, tone, and two
calls of one company compared (published transcripts of ECTSum's train split, see tests/data/README.md)."""

from pathlib import Path

import pytest

from connectors import Document, run_connector
from connectors.earnings.comparison import guidance_outcome
from connectors.earnings.qa import is_ask, is_pleasantry, topics
from connectors.earnings.tone import sentence_terms
from connectors.earnings.transcript import split_meta, turns_json_to_text
from connectors.spans import invalid_spans

CALLS = Path(__file__).resolve().parents[1] / "data" / "ectsum" / "transcripts"


def _call(name: str) -> Document:
    return Document(name, turns_json_to_text((CALLS / f"{name}.json").read_text()), kind="transcript")


@pytest.fixture(scope="module")
def aaron():
    document = _call("AAN_q1_2021")
    return document, run_connector("earnings", [document])


@pytest.fixture(scope="module")
def amphenol():
    documents = [_call("APH_q2_2021"), _call("APH_q1_2021")]
    return documents, run_connector("earnings", documents)


def test_participants_from_the_list_with_titles_and_firms_and_no_page_fields(aaron):
    _, result = aaron
    people = {p["name"]: p for p in result["participants"]}
    assert len(people) == 11
    assert people["C. Kelly Wall"] | {"document_id": None} == {
        "name": "C. Kelly Wall",
        "role": "executive",
        "title": "Chief Financial Officer",
        "firm": None,
        "document_id": None,
    }
    assert people["Michael P. Dickerson"]["role"] == "executive"
    assert people["Michael P. Dickerson"]["title"].startswith("Vice President, Corporate Communications")
    assert (people["Bradley B. Thomas"]["role"], people["Bradley B. Thomas"]["firm"]) == (
        "analyst",
        "KeyBanc Capital Markets, Inc.",
    )
    assert all(p["title"] for p in people.values())
    assert all(p["firm"] for p in people.values() if p["role"] == "analyst")
    names = {s["name"] for s in result["speakers"]}
    assert "Duration" not in names and not any(n.startswith("Duration") for n in names)
    assert names <= set(people) | {"Operator"}


def test_question_of_each_analyst_turn_is_the_ask_not_the_greeting(aaron):
    _, result = aaron
    first = result["qa"][0]
    assert first["question"]["speaker"] == "Anthony Chukumba"
    assert first["question"]["span"]["quote"].startswith(
        "First question, you mentioned, Kelly just mentioned on the"
    )
    assert "wow" not in first["question"]["span"]["quote"]
    assert first["topic"] == "supply chain"
    assert [a["speaker"] for a in first["answers"]] == ["Douglas A. Lindsay", "Steve Olsen"]
    lindsay = first["answers"][0]
    assert lindsay["substantive"] and all(
        s["quote"] in lindsay["span"]["quote"] for s in lindsay["substantive"]
    )
    assert not any(s["quote"].startswith("Hey, Anthony") for s in lindsay["substantive"])
    follow_up = first["follow_ups"][0]
    assert follow_up["question"]["questions"][-1]["quote"] == (
        "I was just wondering if you could -- if that guidance could change at all."
    )
    assert follow_up["topic"] == "guidance" and follow_up["answers"][0]["speaker"] == "C. Kelly Wall"
    asked = [q["question"]["speaker"] for q in result["qa"]]
    assert asked[:4] == ["Anthony Chukumba", "Kyle Joseph", "Alex Moroccia", "Jason Haas"]
    for pair in result["qa"]:
        for entry in [pair, *pair["follow_ups"]]:
            assert all(is_ask(q["quote"]) for q in entry["question"]["questions"])
            assert entry["topic"] not in {"morning", "thanks", "general"}


def test_tone_per_section_and_per_answer_with_evidence_spans(aaron):
    document, result = aaron
    assert invalid_spans(result, {document.document_id: document.text}) == []
    sections = {t["section"]: t for t in result["tone"]}
    assert set(sections) == {"prepared_remarks", "q_and_a"}
    prepared = sections["prepared_remarks"]
    assert prepared["score"] > 0.5 and prepared["counts"]["positive"] > prepared["counts"]["negative"]
    for item in prepared["evidence"]:
        assert all(term.lower() in item["quote"].lower() for term in item["terms"])
        assert item["category"] in {"positive", "negative", "hedging", "uncertainty"}
    answer = result["qa"][1]["answers"][0]
    assert set(answer["tone"]) >= {"score", "hedging", "uncertainty", "evidence"}
    assert any("difficult" in e["terms"] for e in answer["tone"]["evidence"])


def test_two_calls_of_one_company_compared_period_over_period(amphenol):
    documents, result = amphenol
    comparison = result["comparison"]
    assert comparison["periods"] == ["Q1 2021", "Q2 2021"]
    revenue = next(m for m in comparison["metrics"] if m["metric"] == "revenue")
    assert [v["value"] for v in revenue["values"]] == [2.377, 2.654]
    assert revenue["values"][1]["change"] == {"value": 11.65, "unit": "percent", "versus": "prior_call"}
    outcomes = {o["metric"]: o for o in comparison["guidance_outcomes"]}
    assert set(outcomes) == {"revenue", "adjusted_eps"}
    sales = outcomes["revenue"]
    assert (sales["outcome"], sales["period"]) == ("beat", "Q2 2021")
    assert (
        sales["guided"]["document_id"] == "APH_q1_2021" and sales["reported"]["document_id"] == "APH_q2_2021"
    )
    assert sales["guided"]["span"]["quote"] == "$2.415 billion to $2.475 billion"
    assert sales["reported"]["span"]["quote"] == "$2.654 billion"
    assert (outcomes["adjusted_eps"]["outcome"], outcomes["adjusted_eps"]["guided"]["low"]) == ("beat", 0.53)
    change = comparison["topics"][0]
    assert "supply chain" in change["kept"] and change["appeared"] and change["disappeared"]
    assert {t["section"] for t in comparison["tone"]} == {"prepared_remarks", "q_and_a"}
    texts = {d.document_id: d.text for d in documents}
    assert invalid_spans(result, texts) == []


def test_met_beat_missed_against_a_range_and_a_point():
    guided = {"value": 1.0, "low": 1.0, "high": 1.1, "unit": "USD", "scale": 1e9}
    assert guidance_outcome(guided, {"value": 1050.0, "unit": "USD", "scale": 1e6}) == "met"
    assert guidance_outcome(guided, {"value": 0.98, "unit": "USD", "scale": 1e9}) == "missed"
    assert guidance_outcome(guided, {"value": 1.2, "unit": "USD", "scale": 1e9}) == "beat"
    point = {"value": 0.8, "low": None, "high": None, "unit": "USD_per_share", "scale": 1.0}
    assert guidance_outcome(point, {"value": 0.8, "unit": "USD_per_share", "scale": 1.0}) == "met"
    assert guidance_outcome(point, {"value": 0.75, "unit": "USD_per_share", "scale": 1.0}) == "missed"
    assert guidance_outcome(point, {"value": 40.0, "unit": "percent", "scale": 1.0}) is None


def test_guided_quarter_missed_in_the_next_call_and_page_fields_are_nobody():
    before = (
        "Prepared Remarks:\n\nJane Doe: Revenue for the second quarter of 2022 was $500 million. "
        "For the third quarter of 2022, we expect revenue of $520 million to $540 million.\n\n"
        "Questions and Answers:\n\nOperator: Our first question comes from Sam Roe with UBS.\n\n"
        "Sam Roe: Good morning. Congrats on the quarter. How is pricing holding up?\n\n"
        "Jane Doe: Pricing held up well across the portfolio this quarter.\n\n"
        "Duration: 41 minutes\n\nCall participants:\n\nJane Doe -- Chief Financial Officer\n\n"
        "Sam Roe -- UBS -- Analyst"
    )
    after = (
        "Note: This transcript was produced from a recording.\n\nPrepared Remarks:\n\n"
        "Jane Doe: Revenue for the third quarter of 2022 was $505 million, a difficult quarter.\n\n"
        "Questions and Answers:\n\nOperator: Next is Sam Roe with UBS.\n\nSam Roe: Hi, thanks. Could you walk us through the inventory correction.\n\n"
        "Jane Doe: Sure. Inventory at our distributors fell by two weeks and we expect it to normalise by spring."
    )
    documents = [Document("ACME_q3_2022", after), Document("ACME_q2_2022", before)]
    result = run_connector("earnings", documents)
    assert {s["name"] for s in result["speakers"]} == {"Jane Doe", "Operator", "Sam Roe"}
    outcome = result["comparison"]["guidance_outcomes"][0]
    assert (outcome["metric"], outcome["outcome"]) == ("revenue", "missed")
    assert outcome["guided"]["span"]["quote"] == "$520 million to $540 million"
    assert outcome["reported"]["span"]["quote"] == "$505 million"
    questions = [q["question"]["span"]["quote"] for q in result["qa"]]
    assert questions == ["Could you walk us through the inventory correction.", "How is pricing holding up?"]
    topic_change = result["comparison"]["topics"][0]
    assert (topic_change["appeared"], topic_change["disappeared"]) == (["inventory"], ["pricing"])
    assert result["comparison"]["tone"][0]["change"] < 0


@pytest.mark.parametrize(
    ("sentence", "ask"),
    [
        ("Good morning, everyone.", False),
        ("Thanks for taking my question and congrats on a great quarter.", False),
        ("I have two questions.", False),
        ("Any color on pricing in Europe.", True),
        ("I was wondering if you could talk about the margin bridge.", True),
        ("What drove the gross margin decline", True),
        ("When I look at the difference now, it's about $400 million.", False),
        ("Is there any seasonality we should think about", True),
        ("How are you?", False),
        ("Can you hear me OK?", False),
    ],
)
def test_questions_and_pleasantries(sentence, ask):
    assert (is_ask(sentence) and not is_pleasantry(sentence)) is ask


def test_topics_come_from_the_question_never_a_greeting():
    assert topics("Good morning. Can you update us on the Hill's business and its growth?") == [
        "Hill's business"
    ]
    assert topics("Can you talk about free cash flow conversion?") == ["free cash flow"]
    assert topics("Good morning, any thoughts on the Remington integration?") == ["integration"]
    assert "morning" not in topics("Good morning, how are you thinking about the year?")
    assert topics("Richard, can you comment on that change?", frozenset({"richard"})) == ["change"]
    assert topics("Any update on the Nemadji Trail [Inaudible] legal challenge?") == [
        "Nemadji Trail legal challenge"
    ]


def test_names_with_particles_suffixes_and_a_single_listed_name():
    text = (
        "Prepared Remarks:\n\nVincent J. Delie, Jr.: Loans grew 4% this quarter.\n\n"
        "Questions and Answers:\n\nOperator: Next is Cai von Rumohr with Cowen.\n\n"
        "Cai von Rumohr: Thanks. John, just a quick one to follow up on that. How big is the backlog?\n\n"
        "Vincent J. Delie, Jr.: It grew by a third over the year and reached a record.\n\n"
        "Operator: Next question.\n\nBen: What about pricing?\n\nVincent J. Delie, Jr.: Pricing is firm.\n\n"
        "Call participants:\n\nVincent J. Delie, Jr. -- Chairman and Chief Executive Officer\n\n"
        "Cai von Rumohr -- Cowen and Company -- Analyst\n\nBen -- JP Morgan -- Analyst"
    )
    result = run_connector("earnings", [Document("call", text)])
    people = {p["name"]: (p["role"], p["title"], p["firm"]) for p in result["participants"]}
    assert people == {
        "Vincent J. Delie, Jr.": ("executive", "Chairman and Chief Executive Officer", None),
        "Cai von Rumohr": ("analyst", "Analyst", "Cowen and Company"),
        "Ben": ("analyst", "Analyst", "JP Morgan"),
    }
    assert [q["question"]["span"]["quote"] for q in result["qa"]] == [
        "How big is the backlog?",
        "What about pricing?",
    ]


def test_a_reported_figure_far_from_its_guide_gives_no_outcome():
    before = (
        "Jane Doe: Revenue for the second quarter of 2022 was $290 million. "
        "For the third quarter of 2022, we expect revenue of $280 million to $310 million."
    )
    after = "Jane Doe: Revenue for the third quarter of 2022 was $1.21 billion."
    result = run_connector("earnings", [Document("ACME_q2_2022", before), Document("ACME_q3_2022", after)])
    assert result["comparison"]["guidance_outcomes"] == []
    assert any("too far from the guided" in warning for warning in result["warnings"])


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ("Loop Capital Markets LLC -- Analyst", ("analyst", "Analyst", "Loop Capital Markets LLC")),
        (
            "Vice President, Corporate Communications and Investor Relations",
            ("executive", "Vice President, Corporate Communications and Investor Relations", None),
        ),
        ("CFO, Acme", ("executive", "CFO", "Acme")),
        ("Executive Assistant", (None, "Executive Assistant", None)),
        ("Fidelity -- Portfolio Manager", (None, "Portfolio Manager", "Fidelity")),
        ("UBS", (None, None, "UBS")),
    ],
)
def test_participant_descriptions_give_role_title_and_firm(meta, expected):
    assert split_meta(meta) == expected


def test_lexicon_terms_with_negation_stems_and_phrases():
    terms = sentence_terms(
        "Demand isn't great, but we believe it is sort of a fluctuating, strengthening market."
    )
    assert terms == {
        "positive": ["strengthening"],
        "negative": ["great"],
        "hedging": ["believe", "sort of"],
        "uncertainty": ["fluctuating"],
    }


def test_the_comparison_takes_each_calls_headline_figure_not_the_first_of_its_metric():
    def call(quarter: int, per_store: str, sales: str) -> Document:
        text = (
            f"Operator: Welcome.\nJane Doe -- CFO: We remain on track to reach our goal of {per_store} in "
            f"average sales per store. In Q{quarter}, our net sales increased 5.9% to {sales}.\n"
        )
        return Document(f"acme_q{quarter}_2021", text)

    result = run_connector(
        "earnings", [call(1, "$1.7 million", "$3.3 billion"), call(2, "$1.8 million", "$2.6 billion")]
    )
    revenue = next(m for m in result["comparison"]["metrics"] if m["metric"] == "revenue")
    assert [v["span"]["quote"] for v in revenue["values"]] == ["$3.3 billion", "$2.6 billion"]
