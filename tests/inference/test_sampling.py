import pytest
import torch

from inference.sampling import sample_next_tokens


def _generator(seed: int) -> torch.Generator:
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def test_tiny_temperatures_decode_greedily():
    logits = torch.tensor([[0.0, 3.0, 1.0, 2.9], [5.0, 1.0, 4.99, 0.0]])
    for temperature in (1e-40, 5e-324, 1e-6):
        chosen = sample_next_tokens(logits, [temperature] * 2, [1.0, 1.0], [_generator(1), _generator(2)])
        assert chosen == [1, 0]


def test_a_row_without_finite_probabilities_does_not_fail_the_others():
    good = torch.randn(1, 16, generator=_generator(0))
    alone = sample_next_tokens(good, [1.0], [1.0], [_generator(5)])
    for broken in (torch.full((1, 16), float("nan")), torch.full((1, 16), float("inf"))):
        logits = torch.cat([broken, good])
        chosen = sample_next_tokens(logits, [1.0, 1.0], [1.0, 1.0], [_generator(4), _generator(5)])
        assert chosen[1:] == alone
        assert 0 <= chosen[0] < 16


def test_penalties_follow_openai_and_apply_to_generated_tokens_only():
    from inference.sampling import adjust_logits

    logits = torch.zeros(2, 5)
    adjusted = adjust_logits(logits, [[1, 1, 3], []], [0.5, 0.5], [1.0, 1.0], [(), ()])
    assert adjusted[0].tolist() == [0.0, -2.0, 0.0, -1.5, 0.0]
    assert adjusted[1].tolist() == [0.0] * 5
    negative = adjust_logits(logits, [[2, 2], [4]], [-1.0, 0.0], [-0.5, 2.0], [(), ()])
    assert negative.tolist() == [[0.0, 0.0, 2.5, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, -2.0]]
    assert logits.tolist() == torch.zeros(2, 5).tolist()


def test_logit_bias_steers_greedy_and_sampled_rows():
    from inference.sampling import adjust_logits

    logits = torch.tensor([[0.0, 3.0, 1.0, 2.9], [0.0, 3.0, 1.0, 2.9]])
    biased = adjust_logits(
        logits, [[], [1]], [0.0, 0.0], [0.0, 0.0], [((3, 0.5), (1, -100.0)), ((0, 100.0),)]
    )
    assert biased[0].tolist() == pytest.approx([0.0, -97.0, 1.0, 3.4])
    assert sample_next_tokens(biased, [0.0, 1.0], [1.0, 1.0], [None, _generator(3)]) == [3, 0]


def test_a_top_p_of_zero_is_greedy():
    logits = torch.tensor([[0.0, 3.0, 1.0, 2.9], [5.0, 1.0, 4.99, 0.0]])
    for seed in range(20):
        chosen = sample_next_tokens(logits, [1.5, 1.5], [0.0, 0.0], [_generator(seed), _generator(seed + 1)])
        assert chosen == [1, 0]


def test_a_top_p_of_one_keeps_the_tail_that_float32_rounds_past_the_whole_mass(monkeypatch):
    """The first token's probability is 1.0 in float32, so the mass before each of the other ten reads 1.0;
    they keep their 2e-9 chance each, as with no top_p at all, while a top_p below one still cuts them."""
    offered = []
    multinomial = torch.multinomial

    def recorded(probs, *args, **kwargs):
        offered.append(probs.clone())
        return multinomial(probs, *args, **kwargs)

    monkeypatch.setattr(torch, "multinomial", recorded)
    logits = torch.tensor([[0.0] + [-20.0] * 10])
    sample_next_tokens(logits, [1.0], [1.0], [_generator(0)])
    sample_next_tokens(logits, [1.0], [0.999], [_generator(0)])
    assert (offered[0] > 0).sum() == 11
    assert (offered[1] > 0).sum() == 1
