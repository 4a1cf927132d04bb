"""Rotary position embedding applied in place to Q and K (rotate-half convention, as transformers' Llama).

The inverse frequencies and the cos/sin scaling come from the ``RopeSpec`` and are kept on the device per
(spec, device), so a call reads nothing back from the GPU; only ``dynamic`` NTK and ``longrope``, whose
frequencies depend on the sequence length, read ``max(positions) + 1`` on the host when the caller does not
pass the length. The
kernel builds the angles in float32, rotates the first ``rotary_dim`` dims of every Q and K head of a token,
and leaves the rest of the head untouched.
"""

from __future__ import annotations

import functools

import torch
import triton
import triton.language as tl
from torch import Tensor

from kernels._dispatch import last_dim_contiguous
from kernels._triton_utils import checked_grid
from kernels.rope.spec import RopeSpec


@triton.jit
def _rotate_heads(
    X, token, stride_xt, stride_xh, n_heads, cos, sin, offs_f, HALF: tl.constexpr, HEADS_PAD: tl.constexpr
):
    offs_h = tl.arange(0, HEADS_PAD)
    mask = (offs_h[:, None] < n_heads) & (offs_f[None, :] < HALF)
    base = X + token.to(tl.int64) * stride_xt + offs_h[:, None] * stride_xh
    x1 = tl.load(base + offs_f[None, :], mask=mask, other=0.0).to(tl.float32)
    x2 = tl.load(base + HALF + offs_f[None, :], mask=mask, other=0.0).to(tl.float32)
    tl.store(
        base + offs_f[None, :], (x1 * cos[None, :] - x2 * sin[None, :]).to(X.dtype.element_ty), mask=mask
    )
    tl.store(
        base + HALF + offs_f[None, :],
        (x2 * cos[None, :] + x1 * sin[None, :]).to(X.dtype.element_ty),
        mask=mask,
    )


@triton.jit
def _rope_kernel(
    Q, K, positions, inv_freq, scaling,
    stride_qt, stride_qh, stride_kt, stride_kh, n_q_heads, n_k_heads,
    HALF: tl.constexpr, HALF_PAD: tl.constexpr, Q_HEADS_PAD: tl.constexpr, K_HEADS_PAD: tl.constexpr,
):  # fmt: skip
    token = tl.program_id(0)
    offs_f = tl.arange(0, HALF_PAD)
    position = tl.load(positions + token).to(tl.float32)
    angles = position * tl.load(inv_freq + offs_f, mask=offs_f < HALF, other=0.0)
    cos = tl.cos(angles) * scaling
    sin = tl.sin(angles) * scaling
    _rotate_heads(Q, token, stride_qt, stride_qh, n_q_heads, cos, sin, offs_f, HALF, Q_HEADS_PAD)
    _rotate_heads(K, token, stride_kt, stride_kh, n_k_heads, cos, sin, offs_f, HALF, K_HEADS_PAD)


LENGTH_DEPENDENT_TYPES = ("dynamic", "longrope")


def launch_grid(tokens: int) -> tuple[int, ...]:
    """One program a token, on the x axis (CUDA takes 2**31 - 1 blocks there)."""
    return checked_grid("rope", ("tokens", tokens))


@functools.lru_cache(maxsize=64)
def _frequencies_on(spec: RopeSpec, frequency_length: int, device: torch.device) -> tuple[Tensor, float]:
    inv_freq, scaling = spec.inv_freq(frequency_length)
    return inv_freq.to(device), float(scaling)


def apply_rope_(
    q: Tensor, k: Tensor, positions: Tensor, spec: RopeSpec, *, seq_len: int | None = None
) -> None:
    rotated_q, rotated_k = last_dim_contiguous(q), last_dim_contiguous(k)
    positions = positions.contiguous()
    if spec.rope_type not in LENGTH_DEPENDENT_TYPES:
        seq_len = 0
    elif seq_len is None:
        seq_len = int(positions.max().item()) + 1
    inv_freq, scaling = _frequencies_on(spec, spec.frequency_length(seq_len), q.device)
    half = spec.rotary_dim // 2
    _rope_kernel[launch_grid(q.shape[0])](
        rotated_q, rotated_k, positions, inv_freq, scaling,
        rotated_q.stride(0), rotated_q.stride(1), rotated_k.stride(0), rotated_k.stride(1),
        q.shape[1], k.shape[1],
        HALF=half, HALF_PAD=max(2, triton.next_power_of_2(half)),
        Q_HEADS_PAD=max(2, triton.next_power_of_2(q.shape[1])), K_HEADS_PAD=max(2, triton.next_power_of_2(k.shape[1])),
    )  # fmt: skip
    for x, rotated in ((q, rotated_q), (k, rotated_k)):
        if rotated is not x:
            x.copy_(rotated)
