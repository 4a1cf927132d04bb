"""Sliding-window attention (Mistral / Longformer style): causal, query ``i`` sees keys ``(i - window, i]``.

It runs the flash kernel of ``kernels.flash`` with its window bound on: each query tile starts its key loop
at the first block inside the window, so blocks left of it are never loaded and the cost is ``n * window``.
"""

from __future__ import annotations

from torch import Tensor

from kernels.flash import launch_attention


def sliding_window_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    window: int,
    cu_seqlens: Tensor,
    max_seqlen: int,
    softmax_scale: float,
) -> tuple[Tensor, Tensor]:
    return launch_attention(
        q, k, v, causal=True, window=window, cu_seqlens_q=cu_seqlens, cu_seqlens_k=cu_seqlens,
        max_seqlen_q=max_seqlen, softmax_scale=softmax_scale,
    )  # fmt: skip
