"""Flash attention forward (varlen, causal or not, GQA) with an online softmax; returns the log-sum-exp.

One program owns ``BLOCK_M`` queries of one head of one sequence and streams the key/value blocks it can
see. Key blocks that every query of the tile sees run without a mask; only the blocks on the causal
diagonal, at the window edge, or past the sequence end are masked. With a window, blocks left of the
window are never loaded, so the cost grows with ``n * window``. ``sliding_window`` launches the same kernel.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl
from torch import Tensor

from kernels._triton_utils import dot_in_fp32, dot_precision, interpreting, last_dim_contiguous

LOG2_E = 1.4426950408889634


@triton.jit
def _attend_block(
    acc, l_i, m_i, q, k_base, v_base, offs_m, offs_d, start_n, k_len, diag, window, scale_log2,
    stride_kt, stride_vt,
    MASKED: tl.constexpr, CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr,
    BLOCK_N: tl.constexpr, DOT_FP32: tl.constexpr, PRECISION: tl.constexpr,
):  # fmt: skip
    start_n = tl.multiple_of(start_n, BLOCK_N)
    offs_n = start_n + tl.arange(0, BLOCK_N)
    in_seq = offs_n < k_len
    if MASKED:
        k = tl.load(k_base + offs_n[None, :] * stride_kt + offs_d[:, None], mask=in_seq[None, :], other=0.0)
        v = tl.load(v_base + offs_n[:, None] * stride_vt + offs_d[None, :], mask=in_seq[:, None], other=0.0)
    else:
        k = tl.load(k_base + offs_n[None, :] * stride_kt + offs_d[:, None])
        v = tl.load(v_base + offs_n[:, None] * stride_vt + offs_d[None, :])
    if DOT_FP32:
        s = tl.dot(q.to(tl.float32), k.to(tl.float32), input_precision="ieee") * scale_log2
    else:
        s = tl.dot(q, k, input_precision=PRECISION) * scale_log2
    if MASKED:
        visible = in_seq[None, :]
        if CAUSAL:
            visible = visible & (offs_n[None, :] <= offs_m[:, None] + diag)
        if HAS_WINDOW:
            visible = visible & (offs_n[None, :] > offs_m[:, None] + diag - window)
        s = tl.where(visible, s, float("-inf"))
    m_new = tl.maximum(m_i, tl.max(s, 1))
    m_safe = tl.where(m_new == float("-inf"), 0.0, m_new) if MASKED else m_new
    alpha = tl.math.exp2(m_i - m_safe)
    p = tl.math.exp2(s - m_safe[:, None])
    l_i = l_i * alpha + tl.sum(p, 1)
    acc = acc * alpha[:, None]
    if DOT_FP32:
        acc = tl.dot(p, v.to(tl.float32), acc, input_precision="ieee")
    else:
        acc = tl.dot(p.to(v.dtype), v, acc, input_precision=PRECISION)
    return acc, l_i, m_new


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
@triton.jit
def _attention_fwd_kernel(
    Q, K, V, O, LSE, cu_seqlens_q, cu_seqlens_k,
    stride_qt, stride_qh, stride_kt, stride_kh, stride_vt, stride_vh, stride_ot, stride_oh, stride_lse_h,
    scale_log2, window, seqlen_bucket,
    GROUP: tl.constexpr, HEAD_DIM: tl.constexpr, CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, DOT_FP32: tl.constexpr, PRECISION: tl.constexpr,
):  # fmt: skip
    start_m = tl.program_id(0)
    batch = tl.program_id(1)
    head = tl.program_id(2)
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
    offs_d = tl.arange(0, HEAD_DIM)
    q_rows = (q_start + offs_m).to(tl.int64)
    q = tl.load(
        Q + q_rows[:, None] * stride_qt + head * stride_qh + offs_d[None, :],
        mask=offs_m[:, None] < q_len,
        other=0.0,
    )
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
    acc = tl.zeros([BLOCK_M, HEAD_DIM], dtype=tl.float32)
    for start_n in range(lo, full_lo, BLOCK_N):
        acc, l_i, m_i = _attend_block(
            acc, l_i, m_i, q, k_base, v_base, offs_m, offs_d, start_n, k_len, diag, window, scale_log2,
            stride_kt, stride_vt,
            True, CAUSAL, HAS_WINDOW, BLOCK_N, DOT_FP32, PRECISION,
        )  # fmt: skip
    for start_n in range(full_lo, full_hi, BLOCK_N):
        acc, l_i, m_i = _attend_block(
            acc, l_i, m_i, q, k_base, v_base, offs_m, offs_d, start_n, k_len, diag, window, scale_log2,
            stride_kt, stride_vt,
            False, CAUSAL, HAS_WINDOW, BLOCK_N, DOT_FP32, PRECISION,
        )  # fmt: skip
    for start_n in range(full_hi, hi, BLOCK_N):
        acc, l_i, m_i = _attend_block(
            acc, l_i, m_i, q, k_base, v_base, offs_m, offs_d, start_n, k_len, diag, window, scale_log2,
            stride_kt, stride_vt,
            True, CAUSAL, HAS_WINDOW, BLOCK_N, DOT_FP32, PRECISION,
        )  # fmt: skip

    has_keys = l_i > 0
    out = acc / tl.where(has_keys, l_i, 1.0)[:, None]
    lse = tl.where(
        has_keys, (m_i + tl.math.log2(tl.where(has_keys, l_i, 1.0))) / 1.4426950408889634, float("-inf")
    )
    row_ok = offs_m < q_len
    tl.store(
        O + q_rows[:, None] * stride_ot + head * stride_oh + offs_d[None, :],
        out.to(O.dtype.element_ty),
        mask=row_ok[:, None],
    )
    tl.store(LSE + head * stride_lse_h + q_start + offs_m, lse, mask=row_ok)


def launch_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    causal: bool,
    window: int | None,
    cu_seqlens_q: Tensor,
    cu_seqlens_k: Tensor,
    max_seqlen_q: int,
    softmax_scale: float,
) -> tuple[Tensor, Tensor]:
    q, k, v = (last_dim_contiguous(x) for x in (q, k, v))
    total_q, n_heads, head_dim = q.shape
    out = torch.empty_like(q)
    lse = torch.empty(n_heads, total_q, dtype=torch.float32, device=q.device)
    batch = cu_seqlens_q.shape[0] - 1
    if total_q == 0 or max_seqlen_q == 0:
        lse.fill_(-math.inf)
        return out.zero_(), lse

    def grid(meta: dict) -> tuple[int, int, int]:
        return (triton.cdiv(max_seqlen_q, meta["BLOCK_M"]), batch, n_heads)

    _attention_fwd_kernel[grid](
        q, k, v, out, lse, cu_seqlens_q, cu_seqlens_k,
        q.stride(0), q.stride(1), k.stride(0), k.stride(1), v.stride(0), v.stride(1), out.stride(0), out.stride(1),
        lse.stride(0), softmax_scale * LOG2_E, window or 0, triton.next_power_of_2(max_seqlen_q),
        GROUP=n_heads // k.shape[1], HEAD_DIM=head_dim, CAUSAL=causal, HAS_WINDOW=window is not None,
        DOT_FP32=dot_in_fp32(q.dtype), PRECISION=dot_precision(q.dtype),
    )  # fmt: skip
    return out, lse


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
) -> tuple[Tensor, Tensor]:
    return launch_attention(
        q, k, v, causal=causal, window=None, cu_seqlens_q=cu_seqlens_q, cu_seqlens_k=cu_seqlens_k,
        max_seqlen_q=max_seqlen_q, softmax_scale=softmax_scale,
    )  # fmt: skip
