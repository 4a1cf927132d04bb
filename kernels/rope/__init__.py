"""Rotary position embedding in place: ``spec.py`` (``RopeSpec`` from a Hugging Face config),
``kernel.py`` (Triton), ``reference.py`` (PyTorch, as transformers), checks here."""

from __future__ import annotations

import torch
from torch import Tensor

from kernels import _checks
from kernels._dispatch import implementation
from kernels.rope.spec import RopeSpec


def apply_rope_(
    q: Tensor, k: Tensor, positions: Tensor, spec: RopeSpec, *, seq_len: int | None = None
) -> None:
    """Rotate q (tokens, n_heads, head_dim) and k (tokens, n_kv_heads, head_dim) in place, as transformers' Llama.

    ``dynamic`` and ``longrope`` scale by the length of the sequence the tokens belong to: ``seq_len`` when
    given (a chunk of a longer prompt passes the whole prompt's length), else ``max(positions) + 1``, what
    transformers reads when it rotates the tokens of one call. ``seq_len`` must exceed every position; that
    is checked on the CPU only (on CUDA it would read the positions back).
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
    if seq_len is not None:
        _checks.require_positive_int("seq_len", seq_len)
        if not positions.is_cuda and positions.numel() and int(positions.max()) >= seq_len:
            raise ValueError(f"seq_len ({seq_len}) must exceed every position, got {int(positions.max())}")
    if q.shape[0] == 0:
        return
    implementation("rope", q, k, positions).apply_rope_(q, k, positions, spec, seq_len=seq_len)
