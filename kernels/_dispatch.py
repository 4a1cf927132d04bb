"""Backend choice and the argument resolution every op shares: packed sequences, softmax scale."""

from __future__ import annotations

import importlib
import math
import os
from types import ModuleType
from typing import Literal

import torch
from torch import Tensor

from kernels import _checks

Backend = Literal["triton", "reference"]
BACKEND_ENV = "QUIRE_KERNELS"


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "") in ("1", "true", "True")


def backend(*tensors: Tensor) -> Backend:
    """``QUIRE_KERNELS`` when set, else "triton" for CUDA tensors (or, with none given, a CUDA machine)."""
    chosen = os.environ.get(BACKEND_ENV, "").strip().lower()
    if chosen:
        if chosen not in ("triton", "reference"):
            raise ValueError(f"{BACKEND_ENV} must be 'triton' or 'reference', got {chosen!r}")
        return chosen  # type: ignore[return-value]
    if tensors:
        return "triton" if all(t.is_cuda for t in tensors) else "reference"
    return "triton" if torch.cuda.is_available() else "reference"


def _use_triton(*tensors: Tensor) -> bool:
    if backend(*tensors) != "triton":
        return False
    if not interpreting() and not all(t.is_cuda for t in tensors):
        raise ValueError("the Triton backend needs CUDA tensors (or TRITON_INTERPRET=1 for CPU tensors)")
    try:
        import triton  # noqa: F401
    except ImportError as error:
        raise RuntimeError("the Triton backend needs the 'triton' package (pip install .[gpu])") from error
    return True


def implementation(op: str, *tensors: Tensor, head_dim: int | None = None) -> ModuleType:
    """``kernels.<op>.kernel`` when the Triton backend runs on ``tensors``, else ``kernels.<op>.reference``.

    Both modules define the op's functions with the same names and arguments. ``head_dim``, when given, is
    checked against the head dims the Triton kernels compile for.
    """
    if not _use_triton(*tensors):
        return importlib.import_module(f"kernels.{op}.reference")
    if head_dim is not None:
        _checks.check_triton_head_dim(head_dim)
    return importlib.import_module(f"kernels.{op}.kernel")


def last_dim_contiguous(tensor: Tensor) -> Tensor:
    """``tensor``, or a contiguous copy when its last dim is not the innermost stride (what torch's CPU
    flash kernel and the Triton kernels assume)."""
    return tensor if tensor.stride(-1) == 1 else tensor.contiguous()


def softmax_scale_for(q: Tensor, softmax_scale: float | None) -> float:
    _checks.check_softmax_scale(softmax_scale)
    return 1.0 / math.sqrt(q.shape[-1]) if softmax_scale is None else float(softmax_scale)


def self_attention_args(
    q: object,
    k: object,
    v: object,
    cu_seqlens: Tensor | None,
    max_seqlen: int | None,
    softmax_scale: float | None,
) -> tuple[Tensor, Tensor, Tensor, Tensor, int, float]:
    """Checked q, k, v of attention within each packed sequence, its prefix sums, longest length and scale."""
    q, k, v = _checks.check_qkv(q, k, v)
    _checks.check_same_tokens(q, k)
    cu, max_len = varlen("cu_seqlens", cu_seqlens, max_seqlen, q.shape[0], q.device)
    return q, k, v, cu, max_len, softmax_scale_for(q, softmax_scale)


def varlen(
    name: str, cu_seqlens: Tensor | None, max_seqlen: int | None, total: int, device: torch.device
) -> tuple[Tensor, int]:
    """The prefix sums and longest sequence a launch needs; ``None`` means one sequence of ``total`` tokens."""
    if cu_seqlens is None:
        if max_seqlen is not None:
            _checks.resolve_max_seqlen(f"max_seqlen for {name}", max_seqlen, [0, total])
        return torch.tensor([0, total], dtype=torch.int32, device=device), total
    if device.type == "cuda" and max_seqlen is not None:
        _checks.check_cu_seqlens_layout(name, cu_seqlens, device)
        if isinstance(max_seqlen, bool) or not isinstance(max_seqlen, int) or max_seqlen < 0:
            raise ValueError(f"max_seqlen for {name} must be a non-negative int, got {max_seqlen!r}")
        return cu_seqlens, max_seqlen
    bounds = _checks.check_cu_seqlens(name, cu_seqlens, total, device)
    return cu_seqlens, _checks.resolve_max_seqlen(f"max_seqlen for {name}", max_seqlen, bounds)
