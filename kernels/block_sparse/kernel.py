"""Block-sparse causal attention (MoBA / NSA style): gate key blocks, then attend to the chosen ones only.

Keys and queries are cut into blocks of ``block_size`` tokens. Gating (``_block_mean_kernel`` then
``_block_gate_kernel``): query block ``i`` of a head scores every past key block ``j < i`` by
``mean(q in i) . mean(k in j)``, which is the mean over its tokens of MoBA's per-token score, and keeps its
own block plus the ``top_k - 1`` best, ties to the lower index. The gate takes ``top_k`` passes over the
pooled keys instead of sorting, so it needs no scratch memory. Attention (``_block_sparse_attention_kernel``):
each query tile streams only its ``top_k`` selected blocks, masking only the causal diagonal of its own
block, so the cost is ``n * top_k * block_size``.

Every grid puts the sequences on the x axis with the blocks or query tiles (``block_grid``,
``attention_grid``): CUDA takes 2**31 - 1 blocks there and only 65535 on y and z.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl
from torch import Tensor

from kernels._dispatch import interpreting, last_dim_contiguous
from kernels._triton_utils import (
    LOG2_E,
    attend_block,
    checked_grid,
    dot_in_fp32,
    dot_precision,
    head_dim_pad,
    load_rows,
    normalise_and_store,
    query_tile_grid,
)


@triton.jit(do_not_specialize=["max_blocks"])
def _block_mean_kernel(
    X, cu_seqlens, pooled,
    stride_xt, stride_xh, stride_pb, stride_ph, stride_pn, max_blocks,
    BLOCK_SIZE: tl.constexpr, HEAD_DIM: tl.constexpr, HEAD_DIM_PAD: tl.constexpr, TILE: tl.constexpr,
):  # fmt: skip
    block = tl.program_id(0) % max_blocks
    batch = tl.program_id(0) // max_blocks
    head = tl.program_id(1)
    start = tl.load(cu_seqlens + batch)
    length = tl.load(cu_seqlens + batch + 1) - start
    first = block * BLOCK_SIZE
    count = tl.minimum(length - first, BLOCK_SIZE)
    offs_d = tl.arange(0, HEAD_DIM_PAD)
    total = tl.zeros([HEAD_DIM_PAD], dtype=tl.float32)
    for tile in range(0, count, TILE):
        offs_t = tile + tl.arange(0, TILE)
        rows = (start + first + offs_t).to(tl.int64)
        x = load_rows(X, rows, offs_t < count, head, stride_xt, stride_xh, offs_d, HEAD_DIM)
        total += tl.sum(x.to(tl.float32), 0)
    mean = total / tl.maximum(count, 1).to(tl.float32)
    tl.store(pooled + batch * stride_pb + head * stride_ph + block * stride_pn + offs_d, mean)


@triton.jit(do_not_specialize=["max_blocks"])
def _block_gate_kernel(
    pooled_q, pooled_k, cu_seqlens, selected,
    stride_qb, stride_qh, stride_qn, stride_kb, stride_kh, stride_kn, stride_sb, stride_sh, stride_sn,
    max_blocks,
    GROUP: tl.constexpr, BLOCK_SIZE: tl.constexpr, HEAD_DIM_PAD: tl.constexpr, TOP_K: tl.constexpr,
    KB_TILE: tl.constexpr,
):  # fmt: skip
    q_block = tl.program_id(0) % max_blocks
    batch = tl.program_id(0) // max_blocks
    head = tl.program_id(1)
    length = tl.load(cu_seqlens + batch + 1) - tl.load(cu_seqlens + batch)
    if q_block * BLOCK_SIZE >= length:
        return
    offs_d = tl.arange(0, HEAD_DIM_PAD)
    pq = tl.load(pooled_q + batch * stride_qb + head * stride_qh + q_block * stride_qn + offs_d)
    k_base = pooled_k + batch * stride_kb + (head // GROUP) * stride_kh
    out = selected + batch * stride_sb + head * stride_sh + q_block * stride_sn
    last_score = tl.full([], float("inf"), tl.float32)
    last_index = tl.full([], -1, tl.int32)
    for rank in range(TOP_K):
        best_score = tl.full([], float("-inf"), tl.float32)
        best_index = tl.full([], -1, tl.int32)
        for tile in range(0, q_block + 1, KB_TILE):
            offs_kb = tile + tl.arange(0, KB_TILE)
            pk = tl.load(
                k_base + offs_kb[:, None] * stride_kn + offs_d[None, :],
                mask=offs_kb[:, None] <= q_block,
                other=0.0,
            )
            scores = tl.sum(pk * pq[None, :], 1)
            scores = tl.where(offs_kb == q_block, float("inf"), scores)
            after_last = (scores < last_score) | ((scores == last_score) & (offs_kb > last_index))
            candidate = (offs_kb <= q_block) & after_last
            scores = tl.where(candidate, scores, float("-inf"))
            tile_best = tl.max(scores, 0)
            tile_index = tl.min(tl.where(candidate & (scores == tile_best), offs_kb, 1 << 30), 0)
            better = (tile_best > best_score) | ((tile_best == best_score) & (tile_index < best_index))
            better = better & (tile_index < (1 << 30))
            best_index = tl.where(better, tile_index, best_index)
            best_score = tl.where(better, tile_best, best_score)
        tl.store(out + rank, best_index)
        last_score = best_score
        last_index = best_index


@triton.jit(do_not_specialize=["tiles"])
def _block_sparse_attention_kernel(
    Q, K, V, O, LSE, cu_seqlens, selected,
    stride_qt, stride_qh, stride_kt, stride_kh, stride_vt, stride_vh, stride_ot, stride_oh, stride_lse_h,
    stride_sb, stride_sh, stride_sn,
    scale_log2, tiles,
    GROUP: tl.constexpr, HEAD_DIM: tl.constexpr, HEAD_DIM_PAD: tl.constexpr, BLOCK_SIZE: tl.constexpr,
    TOP_K: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, DOT_FP32: tl.constexpr,
    PRECISION: tl.constexpr,
):  # fmt: skip
    start_m = tl.program_id(0) % tiles
    batch = tl.program_id(0) // tiles
    head = tl.program_id(1)
    seq_start = tl.load(cu_seqlens + batch)
    length = tl.load(cu_seqlens + batch + 1) - seq_start
    m0 = start_m * BLOCK_M
    if m0 >= length:
        return
    q_block = m0 // BLOCK_SIZE
    kv_head = head // GROUP
    offs_m = m0 + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, HEAD_DIM_PAD)
    rows = (seq_start + offs_m).to(tl.int64)
    q = load_rows(Q, rows, offs_m < length, head, stride_qt, stride_qh, offs_d, HEAD_DIM)
    k_base = K + seq_start.to(tl.int64) * stride_kt + kv_head * stride_kh
    v_base = V + seq_start.to(tl.int64) * stride_vt + kv_head * stride_vh
    chosen = selected + batch * stride_sb + head * stride_sh + q_block * stride_sn

    m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    acc = tl.zeros([BLOCK_M, HEAD_DIM_PAD], dtype=tl.float32)
    for rank in range(TOP_K):
        key_block = tl.load(chosen + rank)
        lo = tl.where(key_block >= 0, key_block * BLOCK_SIZE, 0)
        hi = tl.where(key_block == q_block, m0, tl.where(key_block >= 0, lo + BLOCK_SIZE, 0))
        for start_n in range(lo, hi, BLOCK_N):
            acc, l_i, m_i = attend_block(
                acc, l_i, m_i, q, k_base, v_base, offs_m, offs_d, start_n, length, 0, 0, scale_log2,
                stride_kt, stride_vt, False, True, False, BLOCK_N, HEAD_DIM, DOT_FP32, PRECISION,
            )  # fmt: skip
    for start_n in range(m0, tl.minimum(m0 + BLOCK_M, length), BLOCK_N):
        acc, l_i, m_i = attend_block(
            acc, l_i, m_i, q, k_base, v_base, offs_m, offs_d, start_n, length, 0, 0, scale_log2,
            stride_kt, stride_vt, True, True, False, BLOCK_N, HEAD_DIM, DOT_FP32, PRECISION,
        )  # fmt: skip

    normalise_and_store(
        acc, l_i, m_i, O, LSE, rows, offs_m, offs_d, seq_start, length, head, stride_ot, stride_oh, stride_lse_h,
        HEAD_DIM,
    )  # fmt: skip


def block_grid(max_blocks: int, batch: int, n_heads: int) -> tuple[int, ...]:
    """The grid of the pooling and gating kernels, ``(blocks x sequences, heads)``: program ``x`` takes block
    ``x % max_blocks`` of sequence ``x // max_blocks``."""
    return checked_grid("block gating", ("blocks x sequences", max_blocks * batch), ("heads", n_heads))


def attention_grid(max_seqlen: int, batch: int, n_heads: int, block_m: int) -> tuple[int, ...]:
    """The grid of the attention kernel, ``(query tiles x sequences, heads)``: program ``x`` takes tile
    ``x % tiles`` of sequence ``x // tiles``."""
    return query_tile_grid("block-sparse attention", max_seqlen, batch, n_heads, block_m)


def _on_gpu(device: torch.device) -> bool:
    return device.type == "cuda" and not interpreting()


def _pool_tile(block_size: int, *, on_gpu: bool) -> int:
    """Tokens ``_block_mean_kernel`` sums at a time: a power of two (``tl.arange`` needs one) dividing
    ``block_size``, so that 48-token blocks pool 16 at a time."""
    return min(64 if on_gpu else 16, block_size & -block_size)


def _pool_blocks(x: Tensor, cu_seqlens: Tensor, block_size: int, max_blocks: int) -> Tensor:
    """Block means (batch, heads, max_blocks, head_dim_pad) in float32, zero in the head-dim padding."""
    batch = cu_seqlens.shape[0] - 1
    n_heads, head_dim = x.shape[1], x.shape[2]
    width = head_dim_pad(head_dim)
    pooled = torch.zeros(batch, n_heads, max_blocks, width, dtype=torch.float32, device=x.device)
    _block_mean_kernel[block_grid(max_blocks, batch, n_heads)](
        x, cu_seqlens, pooled, x.stride(0), x.stride(1), pooled.stride(0), pooled.stride(1), pooled.stride(2),
        max_blocks, BLOCK_SIZE=block_size, HEAD_DIM=head_dim, HEAD_DIM_PAD=width,
        TILE=_pool_tile(block_size, on_gpu=_on_gpu(x.device)),
    )  # fmt: skip
    return pooled


def block_gate(
    q: Tensor, k: Tensor, *, block_size: int, top_k: int, cu_seqlens: Tensor, max_seqlen: int
) -> Tensor:
    q, k = last_dim_contiguous(q), last_dim_contiguous(k)
    cu_seqlens = cu_seqlens.contiguous()
    batch = cu_seqlens.shape[0] - 1
    n_heads = q.shape[1]
    max_blocks = triton.cdiv(max_seqlen, block_size)
    selected = torch.full((batch, n_heads, max_blocks, top_k), -1, dtype=torch.int32, device=q.device)
    if max_blocks == 0 or batch == 0:
        return selected
    pooled_q = _pool_blocks(q, cu_seqlens, block_size, max_blocks)
    pooled_k = _pool_blocks(k, cu_seqlens, block_size, max_blocks)
    _block_gate_kernel[block_grid(max_blocks, batch, n_heads)](
        pooled_q, pooled_k, cu_seqlens, selected,
        pooled_q.stride(0), pooled_q.stride(1), pooled_q.stride(2),
        pooled_k.stride(0), pooled_k.stride(1), pooled_k.stride(2),
        selected.stride(0), selected.stride(1), selected.stride(2), max_blocks,
        GROUP=n_heads // k.shape[1], BLOCK_SIZE=block_size, HEAD_DIM_PAD=pooled_q.shape[3], TOP_K=top_k,
        KB_TILE=16 if interpreting() else 64,
    )  # fmt: skip
    return selected


def _tile_config(block_size: int, head_dim: int, *, on_gpu: bool) -> tuple[int, int, int, int]:
    """(BLOCK_M, BLOCK_N, num_warps, num_stages) of ``_block_sparse_attention_kernel`` for a head dim as tiled
    (``head_dim_pad``); both tiles divide ``block_size``. Head dim 256 takes 64-row tiles and two stages: 128
    rows and three stages of 64 keys need 256 KiB of shared memory, over an H100's 227 KiB (64 rows and three
    stages fit, but spill at 4 warps)."""
    if not on_gpu:
        return 16, 16, 4, 1
    largest_pow2_divisor = block_size & -block_size
    if head_dim >= 256:
        block_m = min(64, largest_pow2_divisor)
        return block_m, min(64, block_m), 8 if block_m == 64 else 4, 2
    block_m = min(128, largest_pow2_divisor)
    return block_m, min(64, block_m), 8 if block_m == 128 else 4, 3


def block_sparse_attention_with_blocks(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    selected: Tensor,
    *,
    block_size: int,
    cu_seqlens: Tensor,
    max_seqlen: int,
    softmax_scale: float,
) -> tuple[Tensor, Tensor]:
    """Causal attention over the key blocks in ``selected`` (as ``block_gate`` returns them)."""
    q, k, v = (last_dim_contiguous(x) for x in (q, k, v))
    cu_seqlens = cu_seqlens.contiguous()
    total, n_heads, head_dim = q.shape
    out = torch.empty_like(q)
    lse = torch.empty(n_heads, total, dtype=torch.float32, device=q.device)
    batch = cu_seqlens.shape[0] - 1
    if total == 0 or max_seqlen == 0 or batch == 0:
        lse.fill_(-math.inf)
        return out.zero_(), lse
    width = head_dim_pad(head_dim)
    block_m, block_n, num_warps, num_stages = _tile_config(block_size, width, on_gpu=_on_gpu(q.device))
    _block_sparse_attention_kernel[attention_grid(max_seqlen, batch, n_heads, block_m)](
        q, k, v, out, lse, cu_seqlens, selected,
        q.stride(0), q.stride(1), k.stride(0), k.stride(1), v.stride(0), v.stride(1), out.stride(0), out.stride(1),
        lse.stride(0), selected.stride(0), selected.stride(1), selected.stride(2), softmax_scale * LOG2_E,
        triton.cdiv(max_seqlen, block_m),
        GROUP=n_heads // k.shape[1], HEAD_DIM=head_dim, HEAD_DIM_PAD=width, BLOCK_SIZE=block_size,
        TOP_K=selected.shape[3],
        BLOCK_M=block_m, BLOCK_N=block_n, DOT_FP32=dot_in_fp32(q.dtype), PRECISION=dot_precision(q.dtype),
        num_warps=num_warps, num_stages=num_stages,
    )  # fmt: skip
    return out, lse
