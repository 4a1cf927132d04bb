"""How a job plans each document's reading (whole only when what it sends fits), and the cost its result shows
beside the strategy it used: the other strategy, for as many questions."""

from __future__ import annotations

from django.conf import settings
from django.test import override_settings

from connectors.model import whole_reading
from inference.context import TokenPrices, predicted_usage
from quire.documents.models import Document, tokens_for
from quire.jobs.services import QUESTION_TOKENS, SECTION_HEADER_TOKENS, context_costed, plan_job_context


def test_a_document_is_read_whole_only_when_its_marked_prompt_fits_and_sections_leave_room_for_markers():
    text = "\n\n".join(f"{i}. The Supplier shall deliver the Goods." for i in range(3000))
    document = Document(id="doc_marked", text=text)
    marked = tokens_for(len(whole_reading(document.pk, text)))
    assert marked > document.token_estimate * 1.1
    window = (document.token_estimate + marked) // 2 + settings.QUIRE_RESERVED_OUTPUT_TOKENS + QUESTION_TOKENS
    with override_settings(QUIRE_MODEL_WINDOW=window):
        plan = plan_job_context([document], connector="earnings")["documents"][document.pk]
    assert (plan["strategy"], plan["document_tokens"], plan["fits"]) == ("map_reduce", marked, False)
    assert len(plan["sections"]) >= 2
    for start, end in plan["sections"]:
        sent = tokens_for(len(whole_reading(document.pk, text[start:end]))) + SECTION_HEADER_TOKENS
        assert sent <= plan["token_budget"], (start, end)


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
