"""Next-token choice: greedy, temperature and nucleus (top-p) sampling."""

from __future__ import annotations

import torch

# Below this temperature a row is decoded greedily: dividing logits by it would overflow to inf and NaN.
GREEDY_BELOW_TEMPERATURE = 1e-5


def sample_next_tokens(
    logits: torch.Tensor,
    temperatures: list[float],
    top_ps: list[float],
    generators: list[torch.Generator | None],
) -> list[int]:
    """One token per row of `logits` `(rows, vocab)`. A temperature below `GREEDY_BELOW_TEMPERATURE` (0
    included) means greedy; so does a row whose probabilities are not finite, which then cannot fail the
    other rows."""
    if not (logits.shape[0] == len(temperatures) == len(top_ps) == len(generators)):
        raise ValueError("one temperature, top_p and generator per row of logits")
    chosen = logits.argmax(dim=-1).tolist()
    sampled_rows = [
        row for row, temperature in enumerate(temperatures) if temperature >= GREEDY_BELOW_TEMPERATURE
    ]
    if not sampled_rows:
        return chosen
    rows = torch.tensor(sampled_rows, device=logits.device)
    scaled = (
        logits[rows].float()
        / torch.tensor([temperatures[r] for r in sampled_rows], device=logits.device)[:, None]
    )
    probs = torch.softmax(scaled, dim=-1)
    sorted_probs, sorted_ids = probs.sort(dim=-1, descending=True)
    top_p = torch.tensor([top_ps[r] for r in sampled_rows], device=logits.device)[:, None]
    mass_before = sorted_probs.cumsum(dim=-1) - sorted_probs
    sorted_probs = sorted_probs.masked_fill(mass_before >= top_p, 0.0)
    sorted_probs = sorted_probs.cpu()
    sorted_ids = sorted_ids.cpu()
    finite = (torch.isfinite(sorted_probs).all(dim=-1) & (sorted_probs.sum(dim=-1) > 0)).tolist()
    for position, row in enumerate(sampled_rows):
        if finite[position]:
            pick = torch.multinomial(sorted_probs[position], 1, generator=generators[row])
            chosen[row] = int(sorted_ids[position, pick])
    return chosen
