"""Paged decode attention (vLLM PagedAttention layout) with split-K over the context.

One program takes one KV head of one sequence and one slice of its context: it walks the block table,
gathers ``BLOCK_N`` cached tokens at a time and attends with all the query heads that share the KV head
(GQA), so every cached byte is read once per step. Each slice leaves a partial (max, sum, output); a second
kernel merges the slices of a sequence. Every sequence's own context is cut into the same number of equal
slices, so short and long sequences keep every program busy and the launch reads no length on the host.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from kernels._dispatch import interpreting, last_dim_contiguous
from kernels._triton_utils import LOG2_E, checked_grid, dot_in_fp32, dot_precision, head_dim_pad


@triton.jit
def _gather_tokens(
    cache, pages, slots, kv_head, stride_b, stride_s, stride_h, offs_d, in_ctx, HEAD_DIM: tl.constexpr
):
    """The cached rows of one KV head at (page, slot) per token; zeros outside the context and in the
    padding of ``offs_d`` past ``HEAD_DIM``."""
    return tl.load(
        cache + pages[:, None] * stride_b + slots[:, None] * stride_s + kv_head * stride_h + offs_d[None, :],
        mask=in_ctx[:, None] & (offs_d[None, :] < HEAD_DIM),
        other=0.0,
    )


@triton.jit
def _paged_decode_split_kernel(
    Q, K_cache, V_cache, block_tables, context_lens, partial_out, partial_max, partial_sum,
    stride_qb, stride_qh, stride_kb, stride_ks, stride_kh, stride_vb, stride_vs, stride_vh, stride_bt,
    stride_pb, stride_ph, stride_ps, stride_mb, stride_mh,
    scale_log2, max_context_len, num_splits,
    GROUP: tl.constexpr, GROUP_PAD: tl.constexpr, HEAD_DIM: tl.constexpr, HEAD_DIM_PAD: tl.constexpr,
    PAGE_SIZE: tl.constexpr, BLOCK_N: tl.constexpr, DOT_FP32: tl.constexpr, PRECISION: tl.constexpr,
):  # fmt: skip
    batch = tl.program_id(0)
    kv_head = tl.program_id(1)
    split = tl.program_id(2)
    context_len = tl.minimum(tl.load(context_lens + batch), max_context_len)
    split_len = tl.cdiv(tl.cdiv(context_len, num_splits), BLOCK_N) * BLOCK_N
    start = split * split_len
    stop = tl.minimum(context_len, start + split_len)

    offs_g = tl.arange(0, GROUP_PAD)
    offs_d = tl.arange(0, HEAD_DIM_PAD)
    heads = kv_head * GROUP + offs_g
    head_ok = offs_g < GROUP
    q = tl.load(
        Q + batch * stride_qb + heads[:, None] * stride_qh + offs_d[None, :],
        mask=head_ok[:, None] & (offs_d[None, :] < HEAD_DIM),
        other=0.0,
    )
    if DOT_FP32:
        q = q.to(tl.float32)

    m_i = tl.full([GROUP_PAD], float("-inf"), dtype=tl.float32)
    l_i = tl.zeros([GROUP_PAD], dtype=tl.float32)
    acc = tl.zeros([GROUP_PAD, HEAD_DIM_PAD], dtype=tl.float32)
    table = block_tables + batch * stride_bt
    for block_start in range(start, stop, BLOCK_N):
        tokens = block_start + tl.arange(0, BLOCK_N)
        in_ctx = tokens < stop
        pages = tl.load(table + tokens // PAGE_SIZE, mask=in_ctx, other=0).to(tl.int64)
        slots = tokens % PAGE_SIZE
        k = _gather_tokens(
            K_cache, pages, slots, kv_head, stride_kb, stride_ks, stride_kh, offs_d, in_ctx, HEAD_DIM
        )
        v = _gather_tokens(
            V_cache, pages, slots, kv_head, stride_vb, stride_vs, stride_vh, offs_d, in_ctx, HEAD_DIM
        )
        if DOT_FP32:
            k = k.to(tl.float32)
            v = v.to(tl.float32)
        s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * scale_log2
        s = tl.where(in_ctx[None, :], s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, 1))
        alpha = tl.math.exp2(m_i - m_new)
        p = tl.math.exp2(s - m_new[:, None])
        l_i = l_i * alpha + tl.sum(p, 1)
        acc = tl.dot(p.to(v.dtype), v, acc * alpha[:, None], input_precision=PRECISION)
        m_i = m_new

    out_ptrs = (
        partial_out + batch * stride_pb + heads[:, None] * stride_ph + split * stride_ps + offs_d[None, :]
    )
    tl.store(out_ptrs, acc, mask=head_ok[:, None])
    stat_offset = batch * stride_mb + heads * stride_mh + split
    tl.store(partial_max + stat_offset, m_i, mask=head_ok)
    tl.store(partial_sum + stat_offset, l_i, mask=head_ok)


@triton.jit
def _paged_decode_merge_kernel(
    partial_out, partial_max, partial_sum, O,
    stride_pb, stride_ph, stride_ps, stride_mb, stride_mh, stride_ob, stride_oh,
    num_splits,
    HEAD_DIM: tl.constexpr, HEAD_DIM_PAD: tl.constexpr, SPLITS_PAD: tl.constexpr,
):  # fmt: skip
    batch = tl.program_id(0)
    head = tl.program_id(1)
    offs_s = tl.arange(0, SPLITS_PAD)
    offs_d = tl.arange(0, HEAD_DIM_PAD)
    split_ok = offs_s < num_splits
    stats = batch * stride_mb + head * stride_mh + offs_s
    m = tl.load(partial_max + stats, mask=split_ok, other=float("-inf"))
    l = tl.load(partial_sum + stats, mask=split_ok, other=0.0)
    acc = tl.load(
        partial_out + batch * stride_pb + head * stride_ph + offs_s[:, None] * stride_ps + offs_d[None, :],
        mask=split_ok[:, None],
        other=0.0,
    )
    m_all = tl.max(m, 0)
    m_safe = tl.where(m_all == float("-inf"), 0.0, m_all)
    weights = tl.where(l > 0, tl.math.exp2(m - m_safe), 0.0)
    total = tl.sum(l * weights, 0)
    out = tl.sum(acc * weights[:, None], 0) / tl.where(total > 0, total, 1.0)
    tl.store(
        O + batch * stride_ob + head * stride_oh + offs_d, out.to(O.dtype.element_ty), mask=offs_d < HEAD_DIM
    )


def split_grid(batch: int, n_kv_heads: int, num_splits: int) -> tuple[int, ...]:
    """``(sequences, KV heads, slices)``: the batch on x, where CUDA takes 2**31 - 1 blocks (65535 on y and z)."""
    return checked_grid(
        "paged decode", ("sequences", batch), ("KV heads", n_kv_heads), ("context slices", num_splits)
    )


def merge_grid(batch: int, n_heads: int) -> tuple[int, ...]:
    """``(sequences, heads)`` of the merge kernel, the batch on x."""
    return checked_grid("paged decode merge", ("sequences", batch), ("heads", n_heads))


def _num_splits(batch: int, n_kv_heads: int, max_context_len: int, block_n: int, device: torch.device) -> int:
    """Slices per sequence: enough that batch x kv_heads x slices fills the GPU about four times over."""
    if device.type != "cuda":
        return 1
    target_programs = 4 * torch.cuda.get_device_properties(device).multi_processor_count
    wanted = triton.cdiv(target_programs, batch * n_kv_heads)
    return max(1, min(wanted, triton.cdiv(max_context_len, 4 * block_n)))


def paged_decode_attention(
    q: Tensor,
    k_cache: Tensor,
    v_cache: Tensor,
    block_tables: Tensor,
    context_lens: Tensor,
    *,
    softmax_scale: float,
    max_context_len: int | None = None,
    num_splits: int | None = None,
) -> Tensor:
    """``max_context_len`` (the block table's capacity when None) bounds every context length: the kernel
    clamps to it, so the block table is never read past it. Each sequence's context is cut into
    ``num_splits`` equal slices (planned when None)."""
    q, k_cache, v_cache = (last_dim_contiguous(x) for x in (q, k_cache, v_cache))
    block_tables = block_tables if block_tables.stride(1) == 1 else block_tables.contiguous()
    context_lens = context_lens.contiguous()
    batch, n_heads, head_dim = q.shape
    page_size, n_kv_heads = k_cache.shape[1], k_cache.shape[2]
    if max_context_len is None:
        max_context_len = block_tables.shape[1] * page_size
    group = n_heads // n_kv_heads
    out = torch.zeros_like(q)
    if batch == 0 or max_context_len == 0:
        return out
    block_n = 16 if interpreting() else 64
    if num_splits is None:
        num_splits = _num_splits(batch, n_kv_heads, max_context_len, block_n, q.device)
    elif num_splits <= 0:
        raise ValueError(f"num_splits must be positive, got {num_splits}")
    grid = split_grid(batch, n_kv_heads, num_splits)
    merge = merge_grid(batch, n_heads)
    width = head_dim_pad(head_dim)
    partial_out = torch.empty(batch, n_heads, num_splits, width, dtype=torch.float32, device=q.device)
    partial_max = torch.empty(batch, n_heads, num_splits, dtype=torch.float32, device=q.device)
    partial_sum = torch.empty(batch, n_heads, num_splits, dtype=torch.float32, device=q.device)
    _paged_decode_split_kernel[grid](
        q, k_cache, v_cache, block_tables, context_lens, partial_out, partial_max, partial_sum,
        q.stride(0), q.stride(1), k_cache.stride(0), k_cache.stride(1), k_cache.stride(2),
        v_cache.stride(0), v_cache.stride(1), v_cache.stride(2), block_tables.stride(0),
        partial_out.stride(0), partial_out.stride(1), partial_out.stride(2), partial_max.stride(0),
        partial_max.stride(1), softmax_scale * LOG2_E, max_context_len, num_splits,
        GROUP=group, GROUP_PAD=max(16, triton.next_power_of_2(group)), HEAD_DIM=head_dim, HEAD_DIM_PAD=width,
        PAGE_SIZE=page_size,
        BLOCK_N=block_n, DOT_FP32=dot_in_fp32(q.dtype), PRECISION=dot_precision(q.dtype),
        num_warps=4, num_stages=2,
    )  # fmt: skip
    _paged_decode_merge_kernel[merge](
        partial_out, partial_max, partial_sum, out,
        partial_out.stride(0), partial_out.stride(1), partial_out.stride(2), partial_max.stride(0),
        partial_max.stride(1), out.stride(0), out.stride(1), num_splits,
        HEAD_DIM=head_dim, HEAD_DIM_PAD=width, SPLITS_PAD=max(2, triton.next_power_of_2(num_splits)),
    )  # fmt: skip
    return out
