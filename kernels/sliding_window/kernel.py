"""Sliding-window attention on the flash kernel of ``kernels.flash.kernel`` with its window bound on.

Each query tile starts its key loop at the first block inside the window, so blocks left of it are never
loaded and the cost is ``n * window``.
"""

from __future__ import annotations

from torch import Tensor

from kernels.flash.kernel import flash_attention


def sliding_window_attention(
    q: Tensor, k: Tensor, v: Tensor, *, window: int, cu_seqlens: Tensor, max_seqlen: int, softmax_scale: float
) -> tuple[Tensor, Tensor]:
    return flash_attention(
        q, k, v, causal=True, cu_seqlens_q=cu_seqlens, cu_seqlens_k=cu_seqlens, max_seqlen_q=max_seqlen,
        max_seqlen_k=max_seqlen, softmax_scale=softmax_scale, window=window,
    )  # fmt: skip
