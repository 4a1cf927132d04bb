"""Dense attention over packed sequences: ``kernel.py`` (Triton), ``reference.py`` (PyTorch), checks here."""

from __future__ import annotations

from torch import Tensor

from kernels import _checks
from kernels._dispatch import implementation, softmax_scale_for, varlen


def flash_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    causal: bool = True,
    cu_seqlens_q: Tensor | None = None,
    cu_seqlens_k: Tensor | None = None,
    max_seqlen_q: int | None = None,
    max_seqlen_k: int | None = None,
    softmax_scale: float | None = None,
) -> tuple[Tensor, Tensor]:
    """Dense attention: out (total_q, n_heads, head_dim) in q.dtype and lse (n_heads, total_q) float32.

    Causal with len_q < len_k aligns the queries to the end of the keys. A query with no visible key
    gets a zero output and an lse of -inf.
    """
    q, k, v = _checks.check_qkv(q, k, v)
    if (cu_seqlens_q is None) != (cu_seqlens_k is None):
        raise ValueError("pass both cu_seqlens_q and cu_seqlens_k, or neither")
    cu_q, max_q = varlen("cu_seqlens_q", cu_seqlens_q, max_seqlen_q, q.shape[0], q.device)
    cu_k, max_k = varlen("cu_seqlens_k", cu_seqlens_k, max_seqlen_k, k.shape[0], q.device)
    if cu_q.shape != cu_k.shape:
        raise ValueError(
            f"cu_seqlens_q and cu_seqlens_k hold different batch sizes: {cu_q.shape} vs {cu_k.shape}"
        )
    scale = softmax_scale_for(q, softmax_scale)
    return implementation("flash", q, k, v, head_dim=q.shape[2]).flash_attention(
        q, k, v, causal=bool(causal), cu_seqlens_q=cu_q, cu_seqlens_k=cu_k,
        max_seqlen_q=max_q, max_seqlen_k=max_k, softmax_scale=scale,
    )  # fmt: skip
