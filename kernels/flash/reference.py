"""PyTorch reference of flash attention, and the chunked attention of one sequence it shares with
``kernels.sliding_window.reference``.

On the CPU, dense and equal-length causal attention go through torch's CPU flash kernel; otherwise queries
are processed in chunks that touch only the keys they can see, so long sequences fit in memory.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from kernels._dispatch import last_dim_contiguous
from kernels._reference_utils import default_scale, each_sequence, masked_softmax_times

# Score elements (heads x query rows x keys) materialised at once by the chunked references.
_CHUNK_ELEMENTS = 1 << 24


# torch's CPU flash-attention kernel, which also returns the log-sum-exp; absent from some torch builds.
_CPU_FLASH = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)


def _attend_cpu_flash(
    q: Tensor, k: Tensor, v: Tensor, scale: float, *, causal: bool
) -> tuple[Tensor, Tensor]:
    """``attend`` through torch's CPU flash kernel, one KV head (and its query heads) at a time."""
    n_heads, n_kv_heads = q.shape[1], k.shape[1]
    group = n_heads // n_kv_heads
    qf, kf, vf = (last_dim_contiguous(x.float()).permute(1, 0, 2) for x in (q, k, v))
    outs, lses = [], []
    for kv_head in range(n_kv_heads):
        heads = slice(kv_head * group, (kv_head + 1) * group)
        keys = kf[kv_head : kv_head + 1].expand(group, -1, -1)
        values = vf[kv_head : kv_head + 1].expand(group, -1, -1)
        out, lse = _CPU_FLASH(qf[None, heads], keys[None], values[None], 0.0, causal, scale=scale)
        outs.append(out[0])
        lses.append(lse[0])
    return torch.cat(outs).permute(1, 0, 2), torch.cat(lses)


def attend(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    scale: float,
    *,
    causal: bool,
    window: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Attention of one sequence: q (Lq, H, D), k/v (Lk, Hkv, D) -> out (Lq, H, D) float32, lse (H, Lq).

    Query ``i`` sits at key position ``i + Lk - Lq`` (bottom-right alignment).
    """
    len_q, n_heads, head_dim = q.shape
    len_k, n_kv_heads, _ = k.shape
    group = n_heads // n_kv_heads
    out = torch.zeros(len_q, n_heads, head_dim, dtype=torch.float32, device=q.device)
    lse = torch.full((n_heads, len_q), -math.inf, dtype=torch.float32, device=q.device)
    if len_q == 0 or len_k == 0:
        return out, lse
    if (
        _CPU_FLASH is not None
        and q.device.type == "cpu"
        and window is None
        and (not causal or len_q == len_k)
    ):
        return _attend_cpu_flash(q, k, v, scale, causal=causal)
    offset = len_k - len_q
    qf = q.float().permute(1, 0, 2).reshape(n_kv_heads, group, len_q, head_dim)
    kf = k.float().permute(1, 0, 2)
    vf = v.float().permute(1, 0, 2)
    rows_per_chunk = max(1, _CHUNK_ELEMENTS // (n_heads * max(len_k, 1)))
    for start in range(0, len_q, rows_per_chunk):
        stop = min(len_q, start + rows_per_chunk)
        key_lo, key_hi = 0, len_k
        if causal:
            key_hi = max(0, min(len_k, stop + offset))
        if window is not None:
            key_lo = min(key_hi, max(0, start + offset - window + 1))
        if key_hi <= key_lo:
            continue
        rows = torch.arange(start, stop, device=q.device)
        cols = torch.arange(key_lo, key_hi, device=q.device)
        allowed = torch.ones(stop - start, key_hi - key_lo, dtype=torch.bool, device=q.device)
        if causal:
            allowed &= cols[None, :] <= rows[:, None] + offset
        if window is not None:
            allowed &= cols[None, :] > rows[:, None] + offset - window
        scores = torch.matmul(qf[:, :, start:stop], kf[:, None, key_lo:key_hi].transpose(-1, -2)) * scale
        chunk_out, chunk_lse = masked_softmax_times(scores, allowed, vf[:, None, key_lo:key_hi])
        out[start:stop] = chunk_out.reshape(n_heads, stop - start, head_dim).permute(1, 0, 2)
        lse[:, start:stop] = chunk_lse.reshape(n_heads, stop - start)
    return out, lse


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
    scale = default_scale(q, softmax_scale)
    return each_sequence(
        q, k, cu_seqlens_q, cu_seqlens_k, lambda _, qs, ks: attend(q[qs], k[ks], v[ks], scale, causal=causal)
    )
