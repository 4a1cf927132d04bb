"""PyTorch reference of sliding-window attention: the chunked attention of ``kernels.flash.reference``
with a window, which touches only the ``n * window`` keys the queries can see."""

from __future__ import annotations

from torch import Tensor

from kernels._reference_utils import default_scale, each_sequence
from kernels.flash.reference import attend


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
    scale = default_scale(q, softmax_scale)
    return each_sequence(
        q,
        k,
        cu_seqlens,
        cu_seqlens,
        lambda _, rows, __: attend(q[rows], k[rows], v[rows], scale, causal=True, window=window),
    )
