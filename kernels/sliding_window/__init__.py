"""Causal attention within a window of keys: ``kernel.py`` (the flash kernel with its window bound on),
``reference.py`` (PyTorch), checks here."""

from __future__ import annotations

from torch import Tensor

from kernels import _checks
from kernels._dispatch import implementation, self_attention_args


def sliding_window_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    window: int,
    cu_seqlens: Tensor | None = None,
    max_seqlen: int | None = None,
    softmax_scale: float | None = None,
) -> tuple[Tensor, Tensor]:
    """Causal attention where query ``i`` sees keys ``(i - window, i]``; cost grows with n * window."""
    q, k, v, cu, max_len, scale = self_attention_args(q, k, v, cu_seqlens, max_seqlen, softmax_scale)
    window = _checks.require_positive_int("window", window)
    return implementation("sliding_window", q, k, v, head_dim=q.shape[2]).sliding_window_attention(
        q, k, v, window=window, cu_seqlens=cu, max_seqlen=max_len, softmax_scale=scale
    )
