import os

import pytest
import torch

# The Triton kernels run on CPU tensors through the interpreter; it must be set before triton.jit runs.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.fixture
def triton_backend(monkeypatch: pytest.MonkeyPatch) -> str:
    pytest.importorskip("triton")
    monkeypatch.setenv("QUIRE_KERNELS", "triton")
    return DEVICE


@pytest.fixture
def reference_backend(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("QUIRE_KERNELS", "reference")
    return DEVICE
