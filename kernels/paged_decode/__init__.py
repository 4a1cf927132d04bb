"""One query token per sequence against a paged KV cache: ``kernel.py`` (Triton, split-K),
``reference.py`` (PyTorch), checks here."""

from __future__ import annotations

import torch
from torch import Tensor

from kernels import _checks
from kernels._dispatch import implementation, softmax_scale_for


def _check_paged_inputs(
    q: Tensor, k_cache: Tensor, v_cache: Tensor, block_tables: Tensor, context_lens: Tensor
) -> None:
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
    _checks.check_head_dim(q.shape[2])
    if k_cache.shape[1] == 0:
        raise ValueError("the cache's block_size (k_cache.shape[1]) must be positive")
    for name, tensor in (("block_tables", block_tables), ("context_lens", context_lens)):
        if tensor.dtype != torch.int32:
            raise ValueError(f"{name} must be int32, got {tensor.dtype}")
        if tensor.shape[0] != q.shape[0]:
            raise ValueError(f"{name} has {tensor.shape[0]} rows, q has batch {q.shape[0]}")
    if not context_lens.is_cuda:
        capacity = block_tables.shape[1] * k_cache.shape[1]
        lengths = context_lens.tolist()
        if any(n < 0 or n > capacity for n in lengths):
            raise ValueError(f"context_lens must lie in 0..{capacity} (max_blocks_per_seq * block_size)")
        if lengths and max(lengths) > 0 and k_cache.shape[0] == 0:
            raise ValueError("the cache holds no blocks")
        _check_block_ids(block_tables, context_lens, k_cache.shape[0], k_cache.shape[1])


def _check_block_ids(block_tables: Tensor, context_lens: Tensor, num_blocks: int, block_size: int) -> None:
    """The block ids a sequence's context reads, the first cdiv(context_len, block_size) of its row, must
    name cache blocks; the slots past them are never read and may hold anything."""
    used = (context_lens.long() + block_size - 1) // block_size
    in_context = torch.arange(block_tables.shape[1], device=block_tables.device)[None, :] < used[:, None]
    bad = in_context & ((block_tables < 0) | (block_tables >= num_blocks))
    if bad.any():
        row, slot = (int(index) for index in bad.nonzero()[0])
        raise ValueError(
            f"block_tables[{row}, {slot}] is {int(block_tables[row, slot])}, within context_lens[{row}] "
            f"({int(context_lens[row])} tokens); block ids must lie in 0..{num_blocks - 1}"
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
    The values of ``context_lens``, and the block ids each context reads, are checked on the CPU only; on CUDA
    that would cost a host sync per call, so there the kernel clamps each length to
    ``max_blocks_per_seq * block_size`` instead, and block ids are the caller's to get right.
    """
    q = _checks.require_tensor("q", q, 3)
    k_cache = _checks.require_tensor("k_cache", k_cache, 4)
    v_cache = _checks.require_tensor("v_cache", v_cache, 4)
    block_tables = _checks.require_tensor("block_tables", block_tables, 2)
    context_lens = _checks.require_tensor("context_lens", context_lens, 1)
    _check_paged_inputs(q, k_cache, v_cache, block_tables, context_lens)
    scale = softmax_scale_for(q, softmax_scale)
    return implementation("paged_decode", q, k_cache, v_cache, head_dim=q.shape[2]).paged_decode_attention(
        q, k_cache, v_cache, block_tables, context_lens, softmax_scale=scale
    )
