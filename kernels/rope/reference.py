"""PyTorch reference of RoPE: transformers' Llama rotary embedding, bit for bit in fp32 and bf16."""

from __future__ import annotations

import torch
from torch import Tensor

from kernels.rope.spec import RopeSpec


def rope_cos_sin(
    positions: Tensor, spec: RopeSpec, dtype: torch.dtype, seq_len: int | None = None
) -> tuple[Tensor, Tensor]:
    """cos and sin (tokens, rotary_dim) in ``dtype``, computed as transformers' rotary embedding does for a
    sequence of ``seq_len`` tokens (``max(positions) + 1`` when None)."""
    if seq_len is None:
        seq_len = int(positions.max().item()) + 1 if positions.numel() else 0
    inv_freq, scaling = spec.inv_freq(seq_len)
    freqs = positions[:, None].float() * inv_freq.to(positions.device)[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return (emb.cos() * scaling).to(dtype), (emb.sin() * scaling).to(dtype)


def _rotate_(x: Tensor, cos: Tensor, sin: Tensor) -> None:
    rotary = x[..., : cos.shape[-1]]
    half = cos.shape[-1] // 2
    rotated_half = torch.cat((-rotary[..., half:], rotary[..., :half]), dim=-1)
    rotary.copy_(rotary * cos[:, None, :] + rotated_half * sin[:, None, :])


def apply_rope_(
    q: Tensor, k: Tensor, positions: Tensor, spec: RopeSpec, *, seq_len: int | None = None
) -> None:
    cos, sin = rope_cos_sin(positions, spec, q.dtype, seq_len)
    _rotate_(q, cos, sin)
    _rotate_(k, cos, sin)
