import os

import numpy as np
import pytest
import torch

# The Triton kernels run on CPU tensors through the interpreter; it must be set before triton.jit runs.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _poison_masked_loads_without_other() -> None:
    """Masked-off lanes of a load without ``other`` are undefined on the GPU; the interpreter would give
    zeros, which hides kernels that use them. Make them NaN (floats) or the largest value (integers)."""
    from triton.runtime import interpreter

    builder = interpreter.InterpreterBuilder
    original = builder.create_masked_load

    def create_masked_load(self, ptrs, mask, other, *options):
        if other is None:
            dtype_tt = ptrs.get_element_ty()
            dtype_np = interpreter._get_np_dtype(dtype_tt)
            fill = np.nan if np.issubdtype(dtype_np, np.floating) else np.iinfo(dtype_np).max
            other = interpreter.TensorHandle(np.full(ptrs.data.shape, fill, dtype=dtype_np), dtype_tt)
        return original(self, ptrs, mask, other, *options)

    builder.create_masked_load = create_masked_load


if os.environ.get("TRITON_INTERPRET") == "1":
    _poison_masked_loads_without_other()


@pytest.fixture
def triton_backend(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("QUIRE_KERNELS", "triton")
    return DEVICE


@pytest.fixture
def reference_backend(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("QUIRE_KERNELS", "reference")
    return DEVICE
