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
