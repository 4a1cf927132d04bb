"""What the Triton kernels share: launch helpers and the ``@triton.jit`` pieces of the attention kernels."""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels._checks import TRITON_HEAD_DIMS
from kernels._dispatch import interpreting

LOG2_E = 1.4426950408889634
# CUDA's limits on a launch grid, in blocks along x, y and z. A grid past them fails at launch with an opaque
# "invalid argument" (the interpreter runs it): the launchers put the axis that grows with the batch on x.
MAX_GRID = (2**31 - 1, 65535, 65535)


def checked_grid(kernel: str, *axes: tuple[str, int]) -> tuple[int, ...]:
    """The grid of one launch of ``kernel`` from its ``(what, blocks)`` axes in x, y, z order; a ``ValueError``
    naming the axis, what it counts and CUDA's limit when one is over it (``MAX_GRID``)."""
    for name, (what, size), limit in zip("xyz", axes, MAX_GRID, strict=False):
        if size > limit:
            raise ValueError(
                f"{kernel}: the launch grid's {name} axis would hold {size} blocks ({what}), "
                f"over CUDA's limit of {limit}"
            )
    return tuple(size for _, size in axes)


def query_tile_grid(kernel: str, max_seqlen: int, batch: int, n_heads: int, block_m: int) -> tuple[int, ...]:
    """The grid of an attention launch over query tiles, ``(query tiles x sequences, heads)``: program ``x``
    takes tile ``x % tiles`` of sequence ``x // tiles``; checked by ``checked_grid``."""
    return checked_grid(
        kernel,
        ("query tiles x sequences", triton.cdiv(max_seqlen, block_m) * batch),
        ("heads", n_heads),
    )


def dot_in_fp32(dtype: torch.dtype) -> bool:
    """Whether ``tl.dot`` operands must be upcast: the Triton interpreter miscomputes bfloat16 dots."""
    return interpreting() and dtype == torch.bfloat16


def head_dim_pad(head_dim: int) -> int:
    """The width a kernel tiles ``head_dim`` in (``tl.arange`` takes powers of two only): the smallest of
    ``TRITON_HEAD_DIMS`` that holds it; the kernels mask the rest."""
    return next(width for width in TRITON_HEAD_DIMS if width >= head_dim)


def dot_precision(dtype: torch.dtype) -> str:
    """float32 inputs keep full precision (no TF32), as torch's matmul does by default."""
    return "ieee" if dtype == torch.float32 else "tf32"


@triton.jit
def load_rows(X, rows, row_ok, head, stride_xt, stride_xh, offs_d, HEAD_DIM: tl.constexpr):
    """The ``rows`` tokens of one head of a packed (tokens, heads, head_dim) tensor; zeros where not ``row_ok``
    and in the padding of ``offs_d`` past ``HEAD_DIM``."""
    return tl.load(
        X + rows[:, None] * stride_xt + head * stride_xh + offs_d[None, :],
        mask=row_ok[:, None] & (offs_d[None, :] < HEAD_DIM),
        other=0.0,
    )


@triton.jit
def attend_block(
    acc, l_i, m_i, q, k_base, v_base, offs_m, offs_d, start_n, k_len, diag, window, scale_log2,
    stride_kt, stride_vt,
    MASKED: tl.constexpr, CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr,
    BLOCK_N: tl.constexpr, HEAD_DIM: tl.constexpr, DOT_FP32: tl.constexpr, PRECISION: tl.constexpr,
):  # fmt: skip
    """One online-softmax step of a query tile over the ``BLOCK_N`` keys at ``start_n``; the padding of
    ``offs_d`` past ``HEAD_DIM`` reads zeros."""
    start_n = tl.multiple_of(start_n, BLOCK_N)
    offs_n = start_n + tl.arange(0, BLOCK_N)
    in_seq = offs_n < k_len
    # A token's offset passes 2**31 elements in long sequences of a strided k or v (a view of fused qkv).
    rows = offs_n.to(tl.int64)
    d_ok = offs_d < HEAD_DIM
    if MASKED:
        k_ok = in_seq[None, :] & d_ok[:, None]
        v_ok = in_seq[:, None] & d_ok[None, :]
        k = tl.load(k_base + rows[None, :] * stride_kt + offs_d[:, None], mask=k_ok, other=0.0)
        v = tl.load(v_base + rows[:, None] * stride_vt + offs_d[None, :], mask=v_ok, other=0.0)
    else:
        k = tl.load(k_base + rows[None, :] * stride_kt + offs_d[:, None], mask=d_ok[:, None], other=0.0)
        v = tl.load(v_base + rows[:, None] * stride_vt + offs_d[None, :], mask=d_ok[None, :], other=0.0)
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


@triton.jit
def normalise_and_store(
    acc, l_i, m_i, O, LSE, rows, offs_m, offs_d, seq_start, seq_len, head, stride_ot, stride_oh, stride_lse_h,
    HEAD_DIM: tl.constexpr,
):  # fmt: skip
    """Divide the accumulator by the softmax sum and store the tile's output rows and natural-log lse.

    A query that saw no key gets a zero output and an lse of -inf.
    """
    has_keys = l_i > 0
    out = acc / tl.where(has_keys, l_i, 1.0)[:, None]
    lse = tl.where(
        has_keys, (m_i + tl.math.log2(tl.where(has_keys, l_i, 1.0))) / 1.4426950408889634, float("-inf")
    )
    row_ok = offs_m < seq_len
    tl.store(
        O + rows[:, None] * stride_ot + head * stride_oh + offs_d[None, :],
        out.to(O.dtype.element_ty),
        mask=row_ok[:, None] & (offs_d[None, :] < HEAD_DIM),
    )
    tl.store(LSE + head * stride_lse_h + seq_start + offs_m, lse, mask=row_ok)
