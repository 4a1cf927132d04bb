"""What the PyTorch references share: packed-sequence bounds, the per-sequence loop, the masked softmax.

The references compute in float32 whatever the input dtype and work on any device. Inputs are assumed
valid: the ops in ``kernels`` check them before calling a reference.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import torch
from torch import Tensor


def default_scale(q: Tensor, softmax_scale: float | None) -> float:
    return 1.0 / math.sqrt(q.shape[-1]) if softmax_scale is None else softmax_scale


def sequence_bounds(cu_seqlens: Tensor | None, total: int) -> list[tuple[int, int]]:
    if cu_seqlens is None:
        return [(0, total)]
    return list(itertools.pairwise(cu_seqlens.tolist()))


def each_sequence(
    q: Tensor,
    k: Tensor,
    cu_seqlens_q: Tensor | None,
    cu_seqlens_k: Tensor | None,
    attend: Callable[[int, slice, slice], tuple[Tensor, Tensor]],
) -> tuple[Tensor, Tensor]:
    """Out (in q.dtype) and lse of packed sequences, ``attend(index, q_rows, k_rows)`` giving one sequence's."""
    out = torch.empty_like(q)
    lse = torch.empty(q.shape[1], q.shape[0], dtype=torch.float32, device=q.device)
    q_bounds = sequence_bounds(cu_seqlens_q, q.shape[0])
    k_bounds = sequence_bounds(cu_seqlens_k, k.shape[0])
    for index, ((q0, q1), (k0, k1)) in enumerate(zip(q_bounds, k_bounds, strict=True)):
        seq_out, seq_lse = attend(index, slice(q0, q1), slice(k0, k1))
        out[q0:q1] = seq_out.to(q.dtype)
        lse[:, q0:q1] = seq_lse
    return out, lse


def masked_softmax_times(scores: Tensor, allowed: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
    """softmax(scores over the allowed keys) @ values, and the log-sum-exp; rows with no key give 0 and -inf."""
    scores = scores.masked_fill(~allowed, -math.inf)
    lse = torch.logsumexp(scores, dim=-1)
    probs = torch.exp(scores - lse.nan_to_num(neginf=0.0)[..., None])
    return torch.matmul(probs, values), lse
