"""Block gating and block-sparse causal attention (MoBA / NSA style): ``kernel.py`` (Triton),
``reference.py`` (PyTorch), checks here."""

from __future__ import annotations

from torch import Tensor

from kernels import _checks
from kernels._dispatch import implementation, self_attention_args, varlen


def _check_block_args(block_size: int, top_k: int) -> None:
    _checks.require_positive_int("block_size", block_size)
    _checks.require_positive_int("top_k", top_k)
    if block_size % 16:
        raise ValueError(f"block_size must be a multiple of 16, got {block_size}")


def block_gate(
    q: Tensor,
    k: Tensor,
    *,
    block_size: int,
    top_k: int,
    cu_seqlens: Tensor | None = None,
    max_seqlen: int | None = None,
) -> Tensor:
    """Key blocks each query block attends to: int32 (batch, n_heads, cdiv(max_seqlen, block_size), top_k).

    Query block ``i`` of a head keeps its own block first, then the ``top_k - 1`` past blocks ``j < i``
    with the highest ``mean(q in i) . mean(k in j)``, best first, ties to the lower index; -1 pads.
    """
    q = _checks.require_tensor("q", q, 3)
    k = _checks.require_tensor("k", k, 3)
    _checks.require_float("q", q)
    _checks.require_same("dtype", {"q": q, "k": k})
    _checks.require_same("device", {"q": q, "k": k})
    if q.shape[2] != k.shape[2]:
        raise ValueError(f"head_dim mismatch: q has {q.shape[2]}, k has {k.shape[2]}")
    _checks.check_heads(q.shape[1], k.shape[1])
    _checks.check_head_dim(q.shape[2])
    _checks.check_same_tokens(q, k)
    _check_block_args(block_size, top_k)
    cu, max_len = varlen("cu_seqlens", cu_seqlens, max_seqlen, q.shape[0], q.device)
    return implementation("block_sparse", q, k, head_dim=q.shape[2]).block_gate(
        q, k, block_size=block_size, top_k=top_k, cu_seqlens=cu, max_seqlen=max_len
    )


def block_sparse_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    block_size: int,
    top_k: int,
    cu_seqlens: Tensor | None = None,
    max_seqlen: int | None = None,
    softmax_scale: float | None = None,
) -> tuple[Tensor, Tensor]:
    """``block_gate`` then causal attention over the selected key blocks only; cost grows with n * top_k * B."""
    q, k, v, cu, max_len, scale = self_attention_args(q, k, v, cu_seqlens, max_seqlen, softmax_scale)
    _check_block_args(block_size, top_k)
    impl = implementation("block_sparse", q, k, v, head_dim=q.shape[2])
    selected = impl.block_gate(q, k, block_size=block_size, top_k=top_k, cu_seqlens=cu, max_seqlen=max_len)
    return impl.block_sparse_attention_with_blocks(
        q, k, v, selected, block_size=block_size, cu_seqlens=cu, max_seqlen=max_len, softmax_scale=scale
    )
