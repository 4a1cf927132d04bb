"""How a job plans each document's reading (whole only when what it sends fits), and the cost its result shows
beside the strategy it used: the other strategy, for as many questions."""

from __future__ import annotations

import itertools

from django.conf import settings
from django.test import override_settings

from common.scripts import estimated_tokens
from connectors.base import Document as ConnectorDocument
from connectors.base import RunContext
from connectors.model import DocumentReading, whole_reading
from inference.context import TokenPrices, predicted_usage
from quire.documents.models import Document, tokens_for
from quire.jobs.services import QUESTION_TOKENS, context_costed, plan_job_context


def _parts_sent(document: Document, plan: dict) -> list[int]:
    """The tokens of each part's prefix as a map-reduce reading of `plan` sends it."""
    run = RunContext(
        mode="model",
        client=None,
        progress=lambda *_: None,
        plan={"documents": {document.pk: plan}},
        embed=None,
    )
    parts = DocumentReading(run, ConnectorDocument(document.pk, document.text)).parts()
    return [estimated_tokens(part.prefix) for part in parts]


def _assert_sections_fit(document: Document, plan: dict) -> None:
    assert plan["strategy"] == "map_reduce" and len(plan["sections"]) >= 2
    cuts = plan["sections"]
    assert cuts[0][0] == 0 and cuts[-1][1] == len(document.text)
    assert all(a[1] == b[0] and a[0] < a[1] for a, b in itertools.pairwise(cuts))
    sent = _parts_sent(document, plan)
    assert max(sent) <= plan["token_budget"], (sent, plan["token_budget"])


def test_a_document_is_read_whole_only_when_its_marked_prompt_fits_and_sections_leave_room_for_markers():
    text = "\n\n".join(f"{i}. The Supplier shall deliver the Goods." for i in range(3000))
    document = Document(id="doc_marked", text=text)
    marked = tokens_for(len(whole_reading(document.pk, text)))
    assert marked > document.token_estimate * 1.1
    window = (document.token_estimate + marked) // 2 + settings.QUIRE_RESERVED_OUTPUT_TOKENS + QUESTION_TOKENS
    with override_settings(QUIRE_MODEL_WINDOW=window):
        plan = plan_job_context([document], connector="earnings")["documents"][document.pk]
    assert (plan["strategy"], plan["document_tokens"], plan["fits"]) == ("map_reduce", marked, False)
    _assert_sections_fit(document, plan)


def test_every_section_fits_where_paragraphs_are_dense_in_one_part_and_sparse_in_another():
    """Markers are counted where they fall: a long paragraph then many one-line ones (default window), and
    prose then thousands of short item lines (a plan capped at 32,768 tokens)."""
    dense_tail = Document(id="doc_dense_tail", text="a" * 540_000 + "\n\n" + "x\n\n" * 150_000)
    _assert_sections_fit(
        dense_tail, plan_job_context([dense_tail], connector="earnings")["documents"][dense_tail.pk]
    )
    prose = "\n\n".join(
        f"Paragraph {i}. " + "The Supplier shall deliver the Goods on time. " * 40 for i in range(60)
    )
    items = "\n\n".join(f"Item {n}: ${n * 7 % 1000}" for n in range(6_000))
    listed = Document(id="doc_items", text=f"{prose}\n\n{items}")
    plan = plan_job_context([listed], connector="earnings", plan_context_cap=32_768)["documents"][listed.pk]
    _assert_sections_fit(listed, plan)


def test_a_cjk_document_is_planned_at_a_token_a_character_at_least():
    article = "第{}条 甲方应当在收到乙方书面通知后三十日内支付全部款项。乙方保证所交货物符合约定。"
    text = "\n\n".join(article.format(n) for n in range(4_000))
    document = Document(id="doc_cjk", text=text)
    assert document.token_estimate > 3 * tokens_for(len(text))
    plan = plan_job_context([document], connector="earnings")["documents"][document.pk]
    assert plan["document_tokens"] == estimated_tokens(whole_reading(document.pk, text))
    _assert_sections_fit(document, plan)


def test_a_map_reduce_readings_alternative_is_priced_for_its_questions_not_its_calls():
    record = {
        "documents": [
            {
                "document_id": "doc_a",
                "strategy": "map_reduce",
                "tokens_in": 900_000,
                "cached_tokens": 0,
                "tokens_out": 3_900,
                "calls": 13,
                "questions": 4,
            }
        ]
    }
    plan = {"documents": {"doc_a": {"fits": False, "document_tokens": 300_000, "window_budget": 100_000}}}
    costed = context_costed(record, plan, (1.0, 0.1, 2.0), currency="usd")["documents"][0]
    predicted = predicted_usage(
        "rag", document_tokens=300_000, questions=4, token_budget=settings.QUIRE_RAG_TOKENS
    )
    predicted.pop("calls")
    assert costed["alternative"] == {
        "strategy": "rag",
        "estimated_cost": TokenPrices(1.0, 0.1, 2.0).cost(**predicted),
    }


def test_passages_read_beside_other_documents_are_priced_without_an_alternative():
    entry = {"document_id": "doc_b", "strategy": "rag", "calls": 1, "questions": 1, "shared_calls": 1}
    usage = {"tokens_in": 400, "cached_tokens": 0, "tokens_out": 5}
    plan = {"documents": {"doc_b": {"fits": True, "document_tokens": 100, "window_budget": 1_000}}}
    [costed] = context_costed({"documents": [{**entry, **usage}]}, plan, (1.0, 0.1, 2.0), currency="usd")[
        "documents"
    ]
    assert costed["estimated_cost"] == TokenPrices(1.0, 0.1, 2.0).cost(**usage)
    assert "alternative" not in costed


def test_the_retrieval_alternative_reads_no_more_than_the_window_leaves():
    """A rag reading gets `min(window budget, QUIRE_RAG_TOKENS)` a question, and so is its alternative's price."""
    record = {
        "documents": [
            {
                "document_id": "doc_c",
                "strategy": "map_reduce",
                "tokens_in": 60_000,
                "cached_tokens": 0,
                "tokens_out": 3_000,
                "calls": 13,
                "questions": 4,
            }
        ]
    }
    plan = {"documents": {"doc_c": {"fits": False, "document_tokens": 20_000, "window_budget": 2_000}}}
    assert settings.QUIRE_RAG_TOKENS > 2_000
    costed = context_costed(record, plan, (1.0, 0.1, 2.0), currency="usd")["documents"][0]
    predicted = predicted_usage("rag", document_tokens=20_000, questions=4, token_budget=2_000)
    predicted.pop("calls")
    assert costed["alternative"]["estimated_cost"] == TokenPrices(1.0, 0.1, 2.0).cost(**predicted)
