"""Flash attention forward (varlen, causal or not, GQA) with an online softmax; returns the log-sum-exp.

One program owns ``BLOCK_M`` queries of one head of one sequence and streams the key/value blocks it can
see. The grid is (query tiles x sequences, heads): the sequences share the x axis with the tiles, as CUDA
takes 2**31 - 1 blocks there and only 65535 on y and z (``launch_grid``). Key blocks that every query of the tile sees run without a mask; only the blocks on the causal
diagonal, at the window edge, or past the sequence end are masked. With a window, blocks left of the
window are never loaded, so the cost grows with ``n * window``. ``kernels.sliding_window`` launches it too.
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
    dot_in_fp32,
    dot_precision,
    head_dim_pad,
    load_rows,
    normalise_and_store,
    query_tile_grid,
)


def _autotune_configs() -> list[triton.Config]:
    """Tile shapes tried on the GPU, per power-of-two bucket of the longest query sequence (``seqlen_bucket``,
    an argument that only keys the tuning); the interpreter runs one small tile so tests cross many edges."""
    if interpreting():
        return [triton.Config({"BLOCK_M": 16, "BLOCK_N": 16}, num_warps=4, num_stages=1)]
    return [
        triton.Config({"BLOCK_M": block_m, "BLOCK_N": block_n}, num_warps=warps, num_stages=stages)
        for block_m, block_n, warps, stages in (
            (128, 64, 4, 3), (128, 64, 8, 3), (128, 128, 8, 3), (64, 64, 4, 3), (128, 32, 4, 4), (64, 128, 4, 3),
        )
    ]  # fmt: skip


@triton.autotune(
    configs=_autotune_configs(),
    key=["seqlen_bucket", "HEAD_DIM", "CAUSAL", "HAS_WINDOW", "DOT_FP32", "PRECISION"],
)
@triton.jit(do_not_specialize=["max_seqlen_q"])
def _attention_fwd_kernel(
    Q, K, V, O, LSE, cu_seqlens_q, cu_seqlens_k,
    stride_qt, stride_qh, stride_kt, stride_kh, stride_vt, stride_vh, stride_ot, stride_oh, stride_lse_h,
    scale_log2, window, seqlen_bucket, max_seqlen_q,
    GROUP: tl.constexpr, HEAD_DIM: tl.constexpr, HEAD_DIM_PAD: tl.constexpr, CAUSAL: tl.constexpr,
    HAS_WINDOW: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, DOT_FP32: tl.constexpr,
    PRECISION: tl.constexpr,
):  # fmt: skip
    tiles = tl.cdiv(max_seqlen_q, BLOCK_M)
    batch = tl.program_id(0) // tiles
    start_m = tl.program_id(0) % tiles
    head = tl.program_id(1)
    q_start = tl.load(cu_seqlens_q + batch)
    q_len = tl.load(cu_seqlens_q + batch + 1) - q_start
    m0 = start_m * BLOCK_M
    if m0 >= q_len:
        return
    k_start = tl.load(cu_seqlens_k + batch)
    k_len = tl.load(cu_seqlens_k + batch + 1) - k_start
    kv_head = head // GROUP
    diag = k_len - q_len if CAUSAL else 0

    offs_m = m0 + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, HEAD_DIM_PAD)
    q_rows = (q_start + offs_m).to(tl.int64)
    q = load_rows(Q, q_rows, offs_m < q_len, head, stride_qt, stride_qh, offs_d, HEAD_DIM)
    k_base = K + k_start.to(tl.int64) * stride_kt + kv_head * stride_kh
    v_base = V + k_start.to(tl.int64) * stride_vt + kv_head * stride_vh

    lo = 0
    hi = k_len
    all_lo = 0
    all_hi = k_len
    if CAUSAL:
        hi = tl.minimum(k_len, m0 + BLOCK_M + diag)
        all_hi = tl.minimum(k_len, m0 + diag + 1)
    if HAS_WINDOW:
        lo = tl.maximum(0, m0 + diag - window + 1) // BLOCK_N * BLOCK_N
        all_lo = tl.maximum(0, m0 + BLOCK_M + diag - window)
    hi = tl.maximum(hi, lo)
    full_lo = tl.minimum(tl.maximum((all_lo + BLOCK_N - 1) // BLOCK_N * BLOCK_N, lo), hi)
    full_hi = tl.minimum(tl.maximum(all_hi // BLOCK_N * BLOCK_N, full_lo), hi)

    m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    acc = tl.zeros([BLOCK_M, HEAD_DIM_PAD], dtype=tl.float32)
    # The key tiles at the window's left edge, the tiles every query sees, then the causal diagonal and the
    # sequence end; only the first and last ranges need a mask.
    for part in tl.static_range(3):
        if part == 0:
            part_lo, part_hi = lo, full_lo
        elif part == 1:
            part_lo, part_hi = full_lo, full_hi
        else:
            part_lo, part_hi = full_hi, hi
        for start_n in range(part_lo, part_hi, BLOCK_N):
            acc, l_i, m_i = attend_block(
                acc, l_i, m_i, q, k_base, v_base, offs_m, offs_d, start_n, k_len, diag, window, scale_log2,
                stride_kt, stride_vt,
                part != 1, CAUSAL, HAS_WINDOW, BLOCK_N, HEAD_DIM, DOT_FP32, PRECISION,
            )  # fmt: skip
    normalise_and_store(
        acc, l_i, m_i, O, LSE, q_rows, offs_m, offs_d, q_start, q_len, head, stride_ot, stride_oh, stride_lse_h,
        HEAD_DIM,
    )  # fmt: skip


def launch_grid(max_seqlen_q: int, batch: int, n_heads: int, block_m: int) -> tuple[int, ...]:
    """``(query tiles x sequences, heads)``: program ``x`` takes tile ``x % tiles`` of sequence ``x // tiles``."""
    return query_tile_grid("flash attention", max_seqlen_q, batch, n_heads, block_m)


def flash_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    causal: bool,
    cu_seqlens_q: Tensor,
    cu_seqlens_k: Tensor,
    max_seqlen_q: int,
    max_seqlen_k: int,
    softmax_scale: float,
    window: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Launch on checked inputs. ``max_seqlen_k`` is not needed to size the launch; with ``window`` the
    attention is also limited to the ``window`` keys up to each query's position."""
    q, k, v = (last_dim_contiguous(x) for x in (q, k, v))
    cu_seqlens_q, cu_seqlens_k = cu_seqlens_q.contiguous(), cu_seqlens_k.contiguous()
    total_q, n_heads, head_dim = q.shape
    out = torch.empty_like(q)
    lse = torch.empty(n_heads, total_q, dtype=torch.float32, device=q.device)
    batch = cu_seqlens_q.shape[0] - 1
    if total_q == 0 or max_seqlen_q == 0 or batch == 0:
        lse.fill_(-math.inf)
        return out.zero_(), lse

    def grid(meta: dict) -> tuple[int, ...]:
        return launch_grid(max_seqlen_q, batch, n_heads, meta["BLOCK_M"])

    _attention_fwd_kernel[grid](
        q, k, v, out, lse, cu_seqlens_q, cu_seqlens_k,
        q.stride(0), q.stride(1), k.stride(0), k.stride(1), v.stride(0), v.stride(1), out.stride(0), out.stride(1),
        lse.stride(0), softmax_scale * LOG2_E, window or 0, triton.next_power_of_2(max_seqlen_q), max_seqlen_q,
        GROUP=n_heads // k.shape[1], HEAD_DIM=head_dim, HEAD_DIM_PAD=head_dim_pad(head_dim), CAUSAL=causal,
        HAS_WINDOW=window is not None,
        DOT_FP32=dot_in_fp32(q.dtype), PRECISION=dot_precision(q.dtype),
    )  # fmt: skip
    return out, lse
