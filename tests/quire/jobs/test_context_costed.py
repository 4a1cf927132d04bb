"""The cost a job's result shows beside the strategy it used: the other strategy, for as many questions."""

from __future__ import annotations

from django.conf import settings

from inference.context import TokenPrices, predicted_usage
from quire.jobs.services import context_costed


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
    costed = context_costed(record, plan, (1.0, 0.1, 2.0))["documents"][0]
    predicted = predicted_usage(
        "rag", document_tokens=300_000, questions=4, token_budget=settings.QUIRE_RAG_TOKENS
    )
    predicted.pop("calls")
    assert costed["alternative"] == {
        "strategy": "rag",
        "estimated_cost": TokenPrices(1.0, 0.1, 2.0).cost(**predicted),
    }
