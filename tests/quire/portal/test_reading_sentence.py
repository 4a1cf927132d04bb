from quire.portal.views.jobs import reading_sentence


def test_the_context_record_in_words():
    entry = {
        "strategy": "whole",
        "attention": "block_sparse",
        "tokens_in": 48_210,
        "cached_tokens": 44_353,
        "calls": 41,
        "estimated_cost": {"amount": 0.031, "currency": "usd"},
        "alternative": {"strategy": "rag", "estimated_cost": {"amount": 0.0444, "currency": "usd"}},
    }
    assert reading_sentence(entry) == (
        "read whole, block-sparse attention, 48,210 tokens, 41 questions, 92 % served from cache, "
        "est. $0.031 (retrieval would have cost $0.044)"
    )
    assert reading_sentence({"strategy": "analyzers", "calls": 0}) == "read by the analyzers only, no model"
