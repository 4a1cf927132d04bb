import json
import re

import pytest

from connectors import Document, run_connector
from connectors.earnings.transcript import turns_json_to_text
from connectors.spans import invalid_spans


@pytest.fixture
def call(transcript_text):
    return run_connector("earnings", [Document("ACME_q3_2021", transcript_text, kind="transcript")])


def test_speakers_have_roles_titles_and_firms(call):
    speakers = {s["name"]: s for s in call["speakers"]}
    assert speakers["Operator"]["role"] == "operator"
    assert (
        speakers["Jane Doe"]["role"] == "executive"
        and speakers["Jane Doe"]["title"] == "Chief Financial Officer"
    )
    assert speakers["John Smith"]["role"] == "executive"
    assert (
        speakers["Alex Analyst"]["role"] == "analyst" and speakers["Alex Analyst"]["firm"] == "Morgan Stanley"
    )
    assert speakers["Kim Lee"]["role"] == "analyst" and speakers["Kim Lee"]["firm"] == "Goldman Sachs"


def test_figures_with_period_kind_change_and_speaker(call):
    metrics = call["metrics"]
    revenue = next(m for m in metrics if m["metric"] == "revenue" and m["kind"] == "actual")
    assert (revenue["value"], revenue["unit"], revenue["scale"]) == (1.2, "USD", 1e9)
    assert revenue["period"] == "Q3 2021" and revenue["speaker"] == "Jane Doe"
    assert revenue["change"]["value"] == 12.0 and revenue["change"]["unit"] == "percent"
    eps = next(m for m in metrics if m["metric"] == "adjusted_eps")
    assert (eps["value"], eps["unit"]) == (0.83, "USD_per_share")
    margin = next(m for m in metrics if m["metric"] == "gross_margin" and m["kind"] == "actual")
    assert margin["value"] == 41.5 and margin["unit"] == "percent"
    guidance = next(m for m in metrics if m["metric"] == "revenue" and m["kind"] == "guidance")
    assert (guidance["low"], guidance["high"], guidance["period"]) == (4.6, 4.7, "FY2021")
    assert all(m["speaker"] not in ("Alex Analyst", "Kim Lee") for m in metrics)


def test_guidance_raised(call):
    assert any(g["direction"] == "raised" and g["metric"] == "revenue" for g in call["guidance"])


def test_questions_pair_with_management_answers(call):
    assert [q["question"]["speaker"] for q in call["qa"]] == ["Alex Analyst", "Kim Lee"]
    first, second = call["qa"]
    assert [a["speaker"] for a in first["answers"]] == ["Jane Doe", "John Smith"]
    assert first["question"]["span"]["quote"].startswith("Thanks. Can you talk about pricing")
    assert first["topic"] in {"pricing", "margins"}
    assert [a["speaker"] for a in second["answers"]] == ["John Smith"]


def test_summary_numbers_are_all_quoted_from_the_call(call, transcript_text):
    assert 3 <= len(call["summary"]) <= 6
    for bullet in call["summary"]:
        quoted = " ".join(span["quote"] for span in bullet["spans"])
        for number in re.findall(
            r"\d+(?:\.\d+)?", bullet["text"].replace("Q3 2021", "").replace("FY2021", "")
        ):
            assert number in quoted, (number, bullet)
    assert invalid_spans(call, {"ACME_q3_2021": transcript_text}) == []


def test_json_turns_become_speaker_paragraphs():
    turns = [
        {"speaker": "Operator", "text": "Welcome.", "section": "prepared"},
        {
            "speaker": "Jane Doe",
            "title": "CFO",
            "text": "Revenue was $3.1 billion in the second quarter of 2022.",
        },
        {"speaker": "Sam Roe", "firm": "UBS", "text": "What about costs?", "section": "qa"},
    ]
    text = turns_json_to_text(json.dumps({"turns": turns}))
    assert "Jane Doe -- CFO: Revenue was $3.1 billion" in text and "QUESTIONS AND ANSWERS" in text
    result = run_connector("earnings", [Document("call", text, kind="transcript")])
    assert any(
        m["metric"] == "revenue" and m["value"] == 3.1 and m["period"] == "Q2 2022" for m in result["metrics"]
    )
    with pytest.raises(ValueError, match="speaker"):
        turns_json_to_text(json.dumps([{"text": "no speaker"}]))
    with pytest.raises(ValueError, match="parse"):
        turns_json_to_text("{not json")


def test_transcript_without_speakers_still_reports_figures():
    text = "Revenue for the second quarter of 2021 was $452.2 million, up 2.5%.\nWe expect full-year sales of $1.82 billion to $1.83 billion."
    result = run_connector("earnings", [Document("call", text)])
    assert result["speakers"] == [] and result["qa"] == []
    assert any("no speakers" in w for w in result["warnings"])
    assert any(m["metric"] == "revenue" and m["value"] == 452.2 for m in result["metrics"])


def test_bad_options_raise():
    with pytest.raises(ValueError, match="summary_bullets"):
        run_connector("earnings", [Document("c", "x")], options={"summary_bullets": 9})


def test_summary_is_filled_to_three_bullets_with_quoted_sentences():
    text = (
        "Jane Doe -- CFO: Revenue was $10.0 million in the first quarter of 2022. "
        "Revenue in Europe was $4.0 million. Revenue in Asia was $3.5 million."
    )
    result = run_connector("earnings", [Document("call", text)])
    assert len(result["summary"]) == 3
    assert result["summary"][1]["text"] == "Revenue in Europe was $4.0 million."
    for bullet in result["summary"]:
        quoted = " ".join(span["quote"] for span in bullet["spans"])
        assert all(n in quoted for n in re.findall(r"\d+\.\d+", bullet["text"]))


def test_header_lines_on_their_own_as_in_published_transcripts():
    text = (
        "Prepared Remarks:\n\nOperator\n\nWelcome to the call.\n\n"
        "Jane Doe -- Chief Financial Officer\n\nRevenue was $2.5 billion in the fourth quarter of 2021.\n\n"
        "Questions and Answers:\n\nOperator\n\nOur first question comes from Sam Roe with UBS.\n\n"
        "Sam Roe -- UBS -- Analyst\nHow is demand?\n\n"
        "Jane Doe -- Chief Financial Officer\nDemand is strong.\n"
    )
    result = run_connector("earnings", [Document("call", text)])
    roles = {s["name"]: (s["role"], s["firm"]) for s in result["speakers"]}
    assert roles == {
        "Operator": ("operator", None),
        "Jane Doe": ("executive", None),
        "Sam Roe": ("analyst", "UBS"),
    }
    assert result["metrics"][0]["speaker"] == "Jane Doe" and result["metrics"][0]["period"] == "Q4 2021"
    (pair,) = result["qa"]
    assert pair["question"]["span"]["quote"] == "How is demand?"
    assert [(a["speaker"], a["span"]["quote"]) for a in pair["answers"]] == [
        ("Jane Doe", "Demand is strong.")
    ]


@pytest.mark.parametrize(
    ("sentence", "direction"),
    [
        ("We are raising our full-year outlook.", "raised"),
        ("Our guidance is unchanged.", "maintained"),
        ("Our 2021 outlook has been lowered to $3 billion.", "lowered"),
        ("We are withdrawing our guidance.", "withdrawn"),
        ("Sales were in line with our expectations, increasing 19%.", None),
        ("We now expect revenue of $5 billion.", None),
    ],
)
def test_guidance_direction(sentence, direction):
    from connectors.earnings.connector import _guidance_direction

    assert _guidance_direction(sentence) == direction
