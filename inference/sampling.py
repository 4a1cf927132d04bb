"""Next-token choice: OpenAI's penalties and logit bias, then greedy, temperature or nucleus (top-p) sampling."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

# Below this temperature a row is decoded greedily: dividing logits by it would overflow to inf and NaN.
GREEDY_BELOW_TEMPERATURE = 1e-5


def adjust_logits(
    logits: torch.Tensor,
    output_ids: Sequence[Sequence[int]],
    frequency_penalties: Sequence[float],
    presence_penalties: Sequence[float],
    logit_biases: Sequence[Sequence[tuple[int, float]]],
) -> torch.Tensor:
    """`logits` `(rows, vocab)` with each row's penalties and bias applied, as float32; `logits` itself when no
    row has any. A token generated `count` times so far loses `count * frequency + presence`; `logit_biases`
    are `(token id, bias)` pairs added as they are. The prompt's tokens are not penalised."""
    rows = len(output_ids)
    if not (
        logits.shape[0] == rows == len(frequency_penalties) == len(presence_penalties) == len(logit_biases)
    ):
        raise ValueError("one output, pair of penalties and logit bias per row of logits")
    adjusted_rows = [
        row
        for row in range(rows)
        if (output_ids[row] and (frequency_penalties[row] or presence_penalties[row])) or logit_biases[row]
    ]
    if not adjusted_rows:
        return logits
    adjusted = logits.to(torch.float32, copy=True)
    vocab = adjusted.shape[-1]
    for row in adjusted_rows:
        if output_ids[row] and (frequency_penalties[row] or presence_penalties[row]):
            generated = torch.tensor(output_ids[row], dtype=torch.long, device=adjusted.device)
            counts = torch.bincount(generated, minlength=vocab)[:vocab].to(torch.float32)
            adjusted[row] -= counts * frequency_penalties[row] + (counts > 0) * presence_penalties[row]
        if logit_biases[row]:
            token_ids = torch.tensor([token for token, _ in logit_biases[row]], device=adjusted.device)
            biases = torch.tensor([bias for _, bias in logit_biases[row]], device=adjusted.device)
            adjusted[row, token_ids] += biases
    return adjusted


def sample_next_tokens(
    logits: torch.Tensor,
    temperatures: list[float],
    top_ps: list[float],
    generators: list[torch.Generator | None],
) -> list[int]:
    """One token per row of `logits` `(rows, vocab)`. A temperature below `GREEDY_BELOW_TEMPERATURE` (0
    included) or a top_p of 0 means greedy; so does a row whose probabilities are not finite, which then
    cannot fail the other rows. A top_p of 1 cuts nothing, not even the tail that float32 sums past 1."""
    if not (logits.shape[0] == len(temperatures) == len(top_ps) == len(generators)):
        raise ValueError("one temperature, top_p and generator per row of logits")
    chosen = logits.argmax(dim=-1).tolist()
    sampled_rows = [
        row
        for row, (temperature, top_p) in enumerate(zip(temperatures, top_ps, strict=True))
        if temperature >= GREEDY_BELOW_TEMPERATURE and top_p > 0
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
    sorted_probs = sorted_probs.masked_fill((mass_before >= top_p) & (top_p < 1), 0.0)
    sorted_probs = sorted_probs.cpu()
    sorted_ids = sorted_ids.cpu()
    finite = (torch.isfinite(sorted_probs).all(dim=-1) & (sorted_probs.sum(dim=-1) > 0)).tolist()
    for position, row in enumerate(sampled_rows):
        if finite[position]:
            pick = torch.multinomial(sorted_probs[position], 1, generator=generators[row])
            chosen[row] = int(sorted_ids[position, pick])
    return chosen


@dataclass(frozen=True)
class TokenLogprobs:
    """A chosen token's log-probability and the `top` most likely tokens at its step, `(token id, logprob)`
    most likely first."""

    token_id: int
    logprob: float
    top: tuple[tuple[int, float], ...] = ()


def token_logprobs(logits: torch.Tensor, chosen: Sequence[int], tops: Sequence[int]) -> list[TokenLogprobs]:
    """Per row of `logits` `(rows, vocab)`: the log-probability of its `chosen` token and its `tops` most
    likely tokens, under the model's own distribution (log-softmax of the logits in float32, before
    temperature, top-p, penalties and logit bias, as vLLM reports them by default)."""
    if not (logits.shape[0] == len(chosen) == len(tops)):
        raise ValueError("one chosen token and top count per row of logits")
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    picked = logprobs.gather(1, torch.tensor(list(chosen), device=logits.device)[:, None])[:, 0].tolist()
    most = max(tops, default=0)
    values, ids = logprobs.topk(most, dim=-1) if most else (None, None)
    rows = []
    for row, (token, logprob, top) in enumerate(zip(chosen, picked, tops, strict=True)):
        best = () if not top else tuple(zip(ids[row, :top].tolist(), values[row, :top].tolist(), strict=True))
        rows.append(TokenLogprobs(token, logprob, best))
    return rows
