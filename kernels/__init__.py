"""Long-context attention ops: Triton kernels on CUDA, pure-PyTorch references elsewhere.

Every op checks its inputs (``ValueError`` on a bad shape, dtype or device) and then runs the backend that
``backend()`` picks. Tokens are packed along dim 0 as in flash-attn's varlen API. The values inside
``cu_seqlens`` and ``context_lens`` are checked too, except on CUDA when the call gives everything the launch
needs (``max_seqlen`` with ``cu_seqlens``): reading them there would stall the host on every call.
"""

from __future__ import annotations

import math
import os
from typing import Literal

import torch
from torch import Tensor

from kernels import _checks, reference
from kernels._triton_utils import interpreting
from kernels.rope_spec import RopeSpec

__all__ = [
    "RopeSpec",
    "apply_rope_",
    "backend",
    "block_gate",
    "block_sparse_attention",
    "flash_attention",
    "paged_decode_attention",
    "sliding_window_attention",
]

Backend = Literal["triton", "reference"]
BACKEND_ENV = "QUIRE_KERNELS"


def backend(*tensors: Tensor) -> Backend:
    """``QUIRE_KERNELS`` when set, else "triton" for CUDA tensors (or, with none given, a CUDA machine)."""
    chosen = os.environ.get(BACKEND_ENV, "").strip().lower()
    if chosen:
        if chosen not in ("triton", "reference"):
            raise ValueError(f"{BACKEND_ENV} must be 'triton' or 'reference', got {chosen!r}")
        return chosen  # type: ignore[return-value]
    if tensors:
        return "triton" if all(t.is_cuda for t in tensors) else "reference"
    return "triton" if torch.cuda.is_available() else "reference"


def _use_triton(*tensors: Tensor) -> bool:
    if backend(*tensors) != "triton":
        return False
    if not interpreting() and not all(t.is_cuda for t in tensors):
        raise ValueError("the Triton backend needs CUDA tensors (or TRITON_INTERPRET=1 for CPU tensors)")
    try:
        import triton  # noqa: F401
    except ImportError as error:
        raise RuntimeError("the Triton backend needs the 'triton' package (pip install .[gpu])") from error
    return True


def _whole_batch(total: int, device: torch.device) -> Tensor:
    return torch.tensor([0, total], dtype=torch.int32, device=device)


def _scale(q: Tensor, softmax_scale: float | None) -> float:
    _checks.check_softmax_scale(softmax_scale)
    return 1.0 / math.sqrt(q.shape[-1]) if softmax_scale is None else float(softmax_scale)


def _varlen(
    name: str, cu_seqlens: Tensor | None, max_seqlen: int | None, total: int, device: torch.device
) -> tuple[Tensor, int]:
    if cu_seqlens is None:
        if max_seqlen is not None and max_seqlen < total:
            raise ValueError(f"max_seqlen {max_seqlen} is shorter than the single sequence ({total})")
        return _whole_batch(total, device), total
    if device.type == "cuda" and max_seqlen is not None:
        _checks.check_cu_seqlens_layout(name, cu_seqlens, device)
        if isinstance(max_seqlen, bool) or not isinstance(max_seqlen, int) or max_seqlen < 0:
            raise ValueError(f"max_seqlen for {name} must be a non-negative int, got {max_seqlen!r}")
        return cu_seqlens, max_seqlen
    bounds = _checks.check_cu_seqlens(name, cu_seqlens, total, device)
    return cu_seqlens, _checks.resolve_max_seqlen(f"max_seqlen for {name}", max_seqlen, bounds)


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
    cu_q, max_q = _varlen("cu_seqlens_q", cu_seqlens_q, max_seqlen_q, q.shape[0], q.device)
    cu_k, max_k = _varlen("cu_seqlens_k", cu_seqlens_k, max_seqlen_k, k.shape[0], q.device)
    if cu_q.shape != cu_k.shape:
        raise ValueError(
            f"cu_seqlens_q and cu_seqlens_k hold different batch sizes: {cu_q.shape} vs {cu_k.shape}"
        )
    scale = _scale(q, softmax_scale)
    if _use_triton(q, k, v):
        _checks.check_triton_head_dim(q.shape[2])
        from kernels import flash

        return flash.flash_attention(
            q, k, v, causal=bool(causal), cu_seqlens_q=cu_q, cu_seqlens_k=cu_k,
            max_seqlen_q=max_q, max_seqlen_k=max_k, softmax_scale=scale,
        )  # fmt: skip
    return reference.flash_attention(
        q, k, v, causal=bool(causal), cu_seqlens_q=cu_q, cu_seqlens_k=cu_k,
        max_seqlen_q=max_q, max_seqlen_k=max_k, softmax_scale=scale,
    )  # fmt: skip


def _check_self_attention(q: Tensor, k: Tensor) -> None:
    if q.shape[0] != k.shape[0]:
        raise ValueError(f"q and k must hold the same tokens, got {q.shape[0]} and {k.shape[0]}")


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
    q, k, v = _checks.check_qkv(q, k, v)
    _check_self_attention(q, k)
    window = _checks.require_positive_int("window", window)
    cu, max_len = _varlen("cu_seqlens", cu_seqlens, max_seqlen, q.shape[0], q.device)
    scale = _scale(q, softmax_scale)
    if _use_triton(q, k, v):
        _checks.check_triton_head_dim(q.shape[2])
        from kernels import sliding_window

        return sliding_window.sliding_window_attention(
            q, k, v, window=window, cu_seqlens=cu, max_seqlen=max_len, softmax_scale=scale
        )
    return reference.sliding_window_attention(
        q, k, v, window=window, cu_seqlens=cu, max_seqlen=max_len, softmax_scale=scale
    )


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
    _check_self_attention(q, k)
    _check_block_args(block_size, top_k)
    cu, max_len = _varlen("cu_seqlens", cu_seqlens, max_seqlen, q.shape[0], q.device)
    if _use_triton(q, k):
        _checks.check_triton_head_dim(q.shape[2])
        from kernels import block_sparse

        return block_sparse.block_gate(
            q, k, block_size=block_size, top_k=top_k, cu_seqlens=cu, max_seqlen=max_len
        )
    return reference.block_gate(q, k, block_size=block_size, top_k=top_k, cu_seqlens=cu, max_seqlen=max_len)


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
    q, k, v = _checks.check_qkv(q, k, v)
    _check_self_attention(q, k)
    _check_block_args(block_size, top_k)
    cu, max_len = _varlen("cu_seqlens", cu_seqlens, max_seqlen, q.shape[0], q.device)
    scale = _scale(q, softmax_scale)
    if _use_triton(q, k, v):
        _checks.check_triton_head_dim(q.shape[2])
        from kernels import block_sparse

        return block_sparse.block_sparse_attention(
            q,
            k,
            v,
            block_size=block_size,
            top_k=top_k,
            cu_seqlens=cu,
            max_seqlen=max_len,
            softmax_scale=scale,
        )
    return reference.block_sparse_attention(
        q, k, v, block_size=block_size, top_k=top_k, cu_seqlens=cu, max_seqlen=max_len, softmax_scale=scale
    )


def paged_decode_attention(
    q: Tensor,
    k_cache: Tensor,
    v_cache: Tensor,
    block_tables: Tensor,
    context_lens: Tensor,
    *,
    softmax_scale: float | None = None,
) -> Tensor:
    """One query token per sequence against a paged KV cache; returns (batch, n_heads, head_dim) in q.dtype.

    k_cache, v_cache: (num_blocks, block_size, n_kv_heads, head_dim); block_tables int32
    (batch, max_blocks_per_seq); context_lens int32 (batch,). A sequence of length 0 gets zeros.
    The values of ``context_lens`` are checked on the CPU only; on CUDA that would cost a host sync per call,
    so there the kernel clamps each length to ``max_blocks_per_seq * block_size`` instead.
    """
    q = _checks.require_tensor("q", q, 3)
    k_cache = _checks.require_tensor("k_cache", k_cache, 4)
    v_cache = _checks.require_tensor("v_cache", v_cache, 4)
    block_tables = _checks.require_tensor("block_tables", block_tables, 2)
    context_lens = _checks.require_tensor("context_lens", context_lens, 1)
    _checks.require_float("q", q)
    _checks.require_same("dtype", {"q": q, "k_cache": k_cache, "v_cache": v_cache})
    _checks.require_same(
        "device",
        {
            "q": q,
            "k_cache": k_cache,
            "v_cache": v_cache,
            "block_tables": block_tables,
            "context_lens": context_lens,
        },
    )
    if k_cache.shape != v_cache.shape:
        raise ValueError(
            f"k_cache and v_cache differ in shape: {tuple(k_cache.shape)} vs {tuple(v_cache.shape)}"
        )
    if q.shape[2] != k_cache.shape[3]:
        raise ValueError(f"head_dim mismatch: q has {q.shape[2]}, the cache {k_cache.shape[3]}")
    _checks.check_heads(q.shape[1], k_cache.shape[2])
    for name, tensor in (("block_tables", block_tables), ("context_lens", context_lens)):
        if tensor.dtype != torch.int32:
            raise ValueError(f"{name} must be int32, got {tensor.dtype}")
        if tensor.shape[0] != q.shape[0]:
            raise ValueError(f"{name} has {tensor.shape[0]} rows, q has batch {q.shape[0]}")
    capacity = block_tables.shape[1] * k_cache.shape[1]
    if not context_lens.is_cuda:
        lengths = context_lens.tolist()
        if any(n < 0 or n > capacity for n in lengths):
            raise ValueError(f"context_lens must lie in 0..{capacity} (max_blocks_per_seq * block_size)")
        if lengths and max(lengths) > 0 and k_cache.shape[0] == 0:
            raise ValueError("the cache holds no blocks")
    scale = _scale(q, softmax_scale)
    if _use_triton(q, k_cache, v_cache):
        _checks.check_triton_head_dim(q.shape[2])
        from kernels import paged_decode

        return paged_decode.paged_decode_attention(
            q,
            k_cache,
            v_cache,
            block_tables,
            context_lens,
            softmax_scale=scale,
            max_context_len=max(lengths, default=0),
        )
    return reference.paged_decode_attention(
        q, k_cache, v_cache, block_tables, context_lens, softmax_scale=scale
    )


def apply_rope_(q: Tensor, k: Tensor, positions: Tensor, spec: RopeSpec) -> None:
    """Rotate q (tokens, n_heads, head_dim) and k (tokens, n_kv_heads, head_dim) in place, as transformers' Llama.

    ``dynamic`` and ``longrope`` read the sequence length as ``max(positions) + 1``, as transformers does.
    """
    q = _checks.require_tensor("q", q, 3)
    k = _checks.require_tensor("k", k, 3)
    positions = _checks.require_tensor("positions", positions, 1)
    if not isinstance(spec, RopeSpec):
        raise ValueError(f"spec must be a RopeSpec, got {type(spec).__name__}")
    _checks.require_float("q", q)
    _checks.require_same("dtype", {"q": q, "k": k})
    _checks.require_same("device", {"q": q, "k": k, "positions": positions})
    if positions.dtype.is_floating_point or positions.dtype.is_complex or positions.dtype == torch.bool:
        raise ValueError(f"positions must hold integers, got {positions.dtype}")
    if not (q.shape[0] == k.shape[0] == positions.shape[0]):
        raise ValueError(
            f"token counts differ: q {q.shape[0]}, k {k.shape[0]}, positions {positions.shape[0]}"
        )
    if q.shape[2] != spec.head_dim or k.shape[2] != spec.head_dim:
        raise ValueError(
            f"head_dim of q ({q.shape[2]}) and k ({k.shape[2]}) must equal spec.head_dim ({spec.head_dim})"
        )
    if q.shape[0] == 0:
        return
    if _use_triton(q, k, positions):
        from kernels import rope

        rope.apply_rope_(q, k, positions, spec)
        return
    reference.apply_rope_(q, k, positions, spec)
