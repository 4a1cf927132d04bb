"""Input checks shared by the ops: every bad input becomes a ``ValueError`` naming the argument."""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32)
# The head-dim widths the Triton kernels tile: a head dim between them runs in the next one, the rest masked.
TRITON_HEAD_DIMS = (16, 32, 64, 128, 256)


def require_tensor(name: str, value: object, ndim: int) -> Tensor:
    if not isinstance(value, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if value.dim() != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(value.shape)}")
    return value


def require_float(name: str, tensor: Tensor) -> None:
    if tensor.dtype not in FLOAT_DTYPES:
        raise ValueError(f"{name} must be float16, bfloat16 or float32, got {tensor.dtype}")


def require_same(kind: str, named: dict[str, Tensor]) -> None:
    values = {name: getattr(tensor, kind) for name, tensor in named.items()}
    if len(set(values.values())) > 1:
        listed = ", ".join(f"{name}={value}" for name, value in values.items())
        raise ValueError(f"{kind} mismatch: {listed}")


def require_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def check_qkv(q: object, k: object, v: object) -> tuple[Tensor, Tensor, Tensor]:
    q = require_tensor("q", q, 3)
    k = require_tensor("k", k, 3)
    v = require_tensor("v", v, 3)
    require_float("q", q)
    require_same("dtype", {"q": q, "k": k, "v": v})
    require_same("device", {"q": q, "k": k, "v": v})
    if k.shape != v.shape:
        raise ValueError(f"k and v must have the same shape, got {tuple(k.shape)} and {tuple(v.shape)}")
    if q.shape[2] != k.shape[2]:
        raise ValueError(f"head_dim mismatch: q has {q.shape[2]}, k has {k.shape[2]}")
    check_heads(q.shape[1], k.shape[1])
    check_head_dim(q.shape[2])
    return q, k, v


def check_head_dim(head_dim: int) -> None:
    if head_dim == 0:
        raise ValueError("head_dim must be positive")


def check_same_tokens(q: Tensor, k: Tensor) -> None:
    if q.shape[0] != k.shape[0]:
        raise ValueError(f"q and k must hold the same tokens, got {q.shape[0]} and {k.shape[0]}")


def check_heads(n_heads: int, n_kv_heads: int) -> None:
    if n_heads == 0 or n_kv_heads == 0 or n_heads % n_kv_heads:
        raise ValueError(f"n_heads ({n_heads}) must be a positive multiple of n_kv_heads ({n_kv_heads})")


def check_cu_seqlens_layout(name: str, cu_seqlens: object, device: torch.device) -> Tensor:
    """Dtype, shape and device of a prefix-sum tensor, without reading its values."""
    cu = require_tensor(name, cu_seqlens, 1)
    if cu.dtype != torch.int32:
        raise ValueError(f"{name} must be int32, got {cu.dtype}")
    if cu.device != device:
        raise ValueError(f"{name} is on {cu.device}, the inputs on {device}")
    if cu.shape[0] == 0:
        raise ValueError(f"{name} needs batch + 1 entries, got none")
    return cu


def check_cu_seqlens(name: str, cu_seqlens: object, total: int, device: torch.device) -> list[int]:
    """Validate a prefix-sum tensor and return its values (one device-to-host copy)."""
    bounds = check_cu_seqlens_layout(name, cu_seqlens, device).tolist()
    if bounds[0] != 0 or bounds[-1] != total:
        raise ValueError(
            f"{name} must start at 0 and end at the token count {total}, got {bounds[0]}..{bounds[-1]}"
        )
    if any(b < a for a, b in itertools.pairwise(bounds)):
        raise ValueError(f"{name} must be non-decreasing")
    return bounds


def resolve_max_seqlen(name: str, given: int | None, bounds: list[int]) -> int:
    longest = max((b - a for a, b in itertools.pairwise(bounds)), default=0)
    if given is None:
        return longest
    if isinstance(given, bool) or not isinstance(given, int) or given < longest:
        raise ValueError(f"{name} must be an int >= the longest sequence ({longest}), got {given!r}")
    return given


def check_softmax_scale(softmax_scale: object) -> None:
    if softmax_scale is not None and (
        isinstance(softmax_scale, bool)
        or not isinstance(softmax_scale, int | float)
        or not math.isfinite(softmax_scale)
    ):
        raise ValueError(f"softmax_scale must be a finite float or None, got {softmax_scale!r}")


def check_triton_head_dim(head_dim: int) -> None:
    if head_dim > TRITON_HEAD_DIMS[-1]:
        raise ValueError(f"the Triton kernels support head_dim up to {TRITON_HEAD_DIMS[-1]}, got {head_dim}")
