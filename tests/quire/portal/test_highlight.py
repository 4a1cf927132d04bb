"""Findings extracted from connector outputs and the marked-up document text."""

import pytest

from quire.portal.highlight import findings_from_output, highlight_text, suggestions_from_output


def span(start: int, end: int, text: str, document_id: str = "doc_1") -> dict:
    return {"document_id": document_id, "start": start, "end": end, "quote": text[start:end]}


TEXT = "This Agreement is governed by the laws of Delaware. <b>Fees</b> are due monthly."


def test_findings_take_section_and_label_from_the_output():
    output = {
        "connector": "legal",
        "context": {"strategy": "whole", "span": span(0, 4, TEXT)},
        "clauses": [{"category": "Governing Law", "confidence": 0.9, "span": span(5, 50, TEXT)}],
        "risks": [{"code": "no_liability_cap", "severity": "high", "span": None}],
        "qa": [
            {
                "question": {"speaker": "Ann", "span": span(0, 4, TEXT)},
                "answers": [{"speaker": "Bo", "span": span(52, 63, TEXT)}],
            }
        ],
        "summary": [{"text": "Fees monthly.", "spans": [span(52, 63, TEXT), span(68, 80, TEXT)]}],
    }
    findings = findings_from_output(output)
    assert [(f.number, f.section, f.label) for f in findings] == [
        (1, "clauses", "Governing Law"),
        (2, "qa", "Ann"),
        (3, "qa", "Bo"),
        (4, "summary", "Fees monthly."),
        (5, "summary", "Fees monthly."),
    ]
    assert findings[0].quote == TEXT[5:50]
    with pytest.raises(ValueError):
        findings_from_output(["not", "an", "object"])


def test_findings_follow_the_connectors_reading_order_whatever_order_the_stored_result_keeps():
    stored = {
        "qa": [{"question": {"speaker": "Ann", "span": span(0, 4, TEXT)}}],
        "tone": [{"section": "q_and_a", "evidence": [span(5, 14, TEXT)]}],
        "metrics": [{"metric": "revenue", "span": span(52, 63, TEXT)}],
        "summary": [{"text": "Fees monthly.", "spans": [span(52, 63, TEXT)]}],
        "connector": "earnings",
    }
    sections = [f.section for f in findings_from_output(stored)]
    assert sections == ["summary", "metrics", "qa", "tone"]
    unknown = findings_from_output({**stored, "connector": "retired"})
    assert [f.section for f in unknown] == ["qa", "tone", "metrics", "summary"]


def test_highlight_escapes_text_and_marks_overlapping_spans():
    output = {
        "a": [
            {"label": "x", "span": span(5, 20, TEXT)},
            {"label": "y", "span": span(10, 30, TEXT)},
            {"label": "z", "span": span(52, 63, TEXT)},
        ]
    }
    html = str(highlight_text(TEXT, findings_from_output(output)))
    assert "<b>" not in html and "&lt;b&gt;Fees&lt;/b&gt;" in html
    assert f'<span class="anchor" id="finding-1"></span><mark data-findings="1">{TEXT[5:10]}</mark>' in html
    assert (
        f'<span class="anchor" id="finding-2"></span><mark data-findings="1 2">{TEXT[10:20]}</mark>' in html
    )
    assert f'<mark data-findings="2">{TEXT[20:30]}</mark>' in html
    assert 'id="finding-3"' in html and '<mark data-findings="3">&lt;b&gt;Fees&lt;/b&gt;</mark>' in html
    stripped = html
    for tag in (
        "</mark>",
        '<span class="anchor" id="finding-1"></span>',
        '<span class="anchor" id="finding-2"></span>',
        '<span class="anchor" id="finding-3"></span>',
    ):
        stripped = stripped.replace(tag, "")
    for numbers in ("1", "1 2", "2", "3"):
        stripped = stripped.replace(f'<mark data-findings="{numbers}">', "")
    assert stripped == TEXT.replace("<", "&lt;").replace(">", "&gt;")


def test_spans_outside_the_text_are_not_marked():
    findings = findings_from_output({"a": [{"label": "far", "span": span(0, 3, "abc") | {"end": 500}}]})
    assert str(highlight_text("short", findings)) == "short"


def test_suggestions_are_not_findings_and_are_marked_apart():
    output = {
        "clauses": [{"category": "Governing Law", "confidence": 0.91, "span": span(5, 50, TEXT)}],
        "suggestions": [
            {"category": "Governing Law", "confidence": 0.2, "span": span(30, 50, TEXT)},
            {"category": "Revenue/Profit Sharing", "confidence": 0.12, "span": span(52, 80, TEXT)},
        ],
    }
    findings = findings_from_output(output)
    suggestions = suggestions_from_output(output, first=len(findings) + 1)
    assert [(f.number, f.label, f.suggestion) for f in findings] == [(1, "Governing Law", False)]
    assert [(f.number, f.label, f.confidence, f.suggestion) for f in suggestions] == [
        (2, "Governing Law", 0.2, True),
        (3, "Revenue/Profit Sharing", 0.12, True),
    ]
    html = str(highlight_text(TEXT, findings + suggestions))
    assert f'<mark data-findings="1 2">{TEXT[30:50]}</mark>' in html
    assert '<mark class="suggestion" data-findings="3">&lt;b&gt;Fees&lt;/b&gt;' in html
    assert 'class="suggestion" data-findings="1' not in html
    assert suggestions_from_output({"clauses": []}) == []
