import itertools

import pytest

from inference.context import (
    ChunkCandidate,
    ContextRefused,
    TokenPrices,
    decide_context,
    pack_chunks,
    predicted_usage,
    sections,
)


def _decide(**overrides):
    options = {
        "document_tokens": 10_000,
        "model_window": 32_768,
        "plan_context_cap": None,
        "reserved_output_tokens": 1_024,
        "sparse_from": 16_384,
        "prompt_tokens": 200,
    }
    return decide_context(**{**options, **overrides})


def test_short_document_is_read_whole_with_dense_attention():
    decision = _decide()
    assert (decision.strategy, decision.attention) == ("whole", "dense")
    assert decision.token_budget == 32_768 - 1_024 - 200
    assert "model window of 32768" in decision.reason
    assert decision.as_result() == {"strategy": "whole", "reason": decision.reason}


def test_long_document_in_window_uses_block_sparse_attention():
    decision = _decide(document_tokens=20_000)
    assert (decision.strategy, decision.attention) == ("whole", "block_sparse")
    assert "block-sparse threshold of 16384" in decision.reason


def test_sparse_threshold_counts_the_prompt_too():
    assert _decide(document_tokens=16_184).attention == "block_sparse"
    assert _decide(document_tokens=16_183).attention == "dense"


def test_document_past_the_window_falls_back_to_rag():
    decision = _decide(document_tokens=40_000)
    assert decision.strategy == "rag"
    assert decision.attention is None
    assert decision.token_budget == 31_544
    assert "40000 tokens" in decision.reason and "model window" in decision.reason


def test_plan_cap_below_the_window_decides_and_is_named():
    decision = _decide(plan_context_cap=8_192)
    assert decision.strategy == "rag"
    assert decision.token_budget == 8_192 - 1_024 - 200
    assert "plan's context cap of 8192" in decision.reason


def test_plan_cap_above_the_window_does_not_widen_it():
    decision = _decide(plan_context_cap=1_000_000, document_tokens=31_544)
    assert decision.strategy == "whole"
    assert decision.token_budget == 31_544
    assert _decide(plan_context_cap=1_000_000, document_tokens=31_545).strategy == "rag"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"document_tokens": -1}, "document_tokens"),
        ({"model_window": 0}, "model_window"),
        ({"plan_context_cap": 0}, "plan_context_cap"),
        ({"reserved_output_tokens": 40_000}, "no room"),
        ({"sparse_from": 1.5}, "sparse_from"),
    ],
)
def test_bad_inputs_raise_value_error(overrides, message):
    with pytest.raises(ValueError, match=message):
        _decide(**overrides)


def test_pack_chunks_takes_best_scores_under_budget_in_document_order():
    chunks = [
        ChunkCandidate("a", 0.9, 300, 0),
        ChunkCandidate("b", 0.8, 500, 1),
        ChunkCandidate("c", 0.7, 150, 2),
        ChunkCandidate("d", 0.1, 100, 3),
    ]
    assert [c.chunk_id for c in pack_chunks(chunks, token_budget=600)] == ["a", "c", "d"]
    assert [c.chunk_id for c in pack_chunks(chunks, token_budget=600, top_k=2)] == ["a", "c"]
    assert pack_chunks(chunks, token_budget=50) == []
    with pytest.raises(ValueError, match="token_budget"):
        pack_chunks(chunks, token_budget=-1)


def test_policy_is_honoured_or_refused():
    assert _decide(policy="rag").strategy == "rag"
    assert _decide(policy="map_reduce").strategy == "map_reduce"
    retrieval = _decide(document_tokens=40_000, policy="rag", rag_tokens=4_096)
    assert (retrieval.token_budget, retrieval.window_budget, retrieval.fits) == (4_096, 31_544, False)
    assert _decide(document_tokens=40_000, reads_all_text=True).strategy == "map_reduce"
    with pytest.raises(ContextRefused, match="context_policy 'whole' cannot hold"):
        _decide(document_tokens=40_000, policy="whole")
    with pytest.raises(ValueError, match="context_policy must be one of auto, whole, rag, map_reduce"):
        _decide(policy="everything")


def test_sections_cover_the_text_once_within_budget():
    text = "\n\n".join(f"Paragraph {i}. " + "word " * (i * 7 % 40) for i in range(60)) + "x" * 500
    cuts = sections(text, token_budget=50)
    assert cuts[0][0] == 0 and cuts[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(cuts))
    assert all(0 < end - start <= 200 for start, end in cuts)
    assert sum(text[start:end].endswith("\n\n") for start, end in cuts) > len(cuts) // 2


def test_costs_and_predicted_usage():
    prices = TokenPrices(input=1.0, cached_input=0.1, output=2.0)
    assert prices.cost(tokens_in=1_000_000, cached_tokens=500_000, tokens_out=1_000_000) == {
        "amount": 2.55,
        "currency": "usd",
    }
    whole = predicted_usage("whole", document_tokens=10_000, questions=41, token_budget=30_000)
    assert whole["cached_tokens"] == 40 * 10_000 and whole["calls"] == 41
    rag = predicted_usage("rag", document_tokens=100_000, questions=41, token_budget=4_000)
    assert rag["tokens_in"] == 41 * 4_200 and rag["cached_tokens"] == 0
    reduce = predicted_usage("map_reduce", document_tokens=100_000, questions=2, token_budget=30_000)
    assert reduce["calls"] == 2 * 4 + 1


def test_sections_of_cjk_text_end_at_its_sentence_ends():
    text = "本协议由甲方与乙方签订。" * 30 + "是否生效\uff1f" * 10
    cuts = sections(text, token_budget=20)
    assert len(cuts) > 3 and cuts[-1][1] == len(text)
    assert all(text[end - 1] in "。\uff1f" for _, end in cuts)
