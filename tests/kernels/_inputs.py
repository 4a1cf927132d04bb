"""Random packed inputs, the tolerances the Triton kernels are held to per dtype, and the block-sparse
reference (gate, then attention over the selected blocks)."""

import math
import os
import subprocess
import sys
from pathlib import Path

import torch

from kernels.block_sparse import reference as block_sparse_reference

ROOT = Path(__file__).resolve().parents[2]

# (atol, rtol) of a Triton kernel's output against the float32 reference on the same inputs.
TOLERANCES = {
    torch.float16: (2e-3, 2e-3),
    torch.bfloat16: (1.6e-2, 1.6e-2),
    torch.float32: (2e-5, 2e-5),
}
# The log-sum-exp is accumulated in float32 whatever the input dtype.
LSE_TOLERANCE = (1e-4, 1e-4)


def cu_seqlens(lengths: list[int], device: str) -> torch.Tensor:
    return torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()], dtype=torch.int32, device=device)


def random_qkv(
    seed: int, total_q: int, total_k: int, n_heads: int, n_kv_heads: int, head_dim: int, dtype, device
):
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(total_q, n_heads, head_dim, generator=gen)
    k = torch.randn(total_k, n_kv_heads, head_dim, generator=gen)
    v = torch.randn(total_k, n_kv_heads, head_dim, generator=gen)
    return (x.to(dtype=dtype, device=device) for x in (q, k, v))


def reference_block_sparse(q, k, v, *, block_size: int, top_k: int, cu_seqlens=None):
    selected = block_sparse_reference.block_gate(
        q, k, block_size=block_size, top_k=top_k, cu_seqlens=cu_seqlens
    )
    return block_sparse_reference.block_sparse_attention_with_blocks(
        q, k, v, selected, block_size=block_size, cu_seqlens=cu_seqlens
    )


def float64_attention(q, k, v, allowed: torch.Tensor, scale: float | None = None):
    """Attention of one sequence in float64: q (Lq, H, D), k/v (Lk, Hkv, D), ``allowed`` (Lq, Lk) or
    (H, Lq, Lk) -> out (Lq, H, D), lse (H, Lq); a query with no allowed key gets 0 and -inf."""
    group = q.shape[1] // k.shape[1]
    scale = q.shape[2] ** -0.5 if scale is None else scale
    qd = q.double().transpose(0, 1)
    kd, vd = (x.double().transpose(0, 1).repeat_interleave(group, 0) for x in (k, v))
    scores = (qd @ kd.transpose(1, 2) * scale).masked_fill(~allowed, -math.inf)
    lse = torch.logsumexp(scores, dim=-1)
    probs = torch.exp(scores - lse.nan_to_num(neginf=0.0)[..., None])
    return (probs @ vd).transpose(0, 1), lse


def assert_close(actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype) -> None:
    atol, rtol = TOLERANCES[dtype]
    torch.testing.assert_close(actual.float(), expected.float(), atol=atol, rtol=rtol)


def assert_lse_close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    atol, rtol = LSE_TOLERANCE
    assert torch.equal(torch.isinf(actual), torch.isinf(expected))
    torch.testing.assert_close(
        actual.nan_to_num(neginf=0.0), expected.nan_to_num(neginf=0.0), atol=atol, rtol=rtol
    )


def strided(values: torch.Tensor) -> torch.Tensor:
    """The same 1-D values as a view with stride 2 over a buffer whose other entries are zeros (in range for
    an index, and wrong), as a slice such as ``lengths[::2]`` hands a kernel."""
    buffer = torch.zeros(2 * values.shape[0], dtype=values.dtype, device=values.device)
    buffer[::2] = values
    return buffer[::2]


def run_long_strided_v(op: str) -> subprocess.CompletedProcess:
    """``_long_strided_v.py`` for ``op`` in a process of its own (an out-of-bounds read may kill it)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run(
        [sys.executable, str(Path(__file__).with_name("_long_strided_v.py")), op],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )  # fmt: skip
