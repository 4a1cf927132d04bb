"""Attention over a value tensor whose token stride times its length passes 2**31 elements, as the model's
``v`` (a view of the fused qkv output) has in very long sequences; prints the largest difference to the
reference on a contiguous copy and exits 1 when it is out of tolerance.

Run as a script by the flash and block-sparse tests, in a process of its own: a kernel that computes the
offsets in int32 reads outside the tensor, which can kill the process. The storage is allocated but only
the rows of the view are written, so it costs little real memory.

    python tests/kernels/_long_strided_v.py flash|block_sparse
"""

import os
import sys

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
os.environ["QUIRE_KERNELS"] = "triton"

import kernels
from kernels.block_sparse import reference as block_sparse_reference
from kernels.flash import reference as flash_reference

LENGTH, HEAD_DIM = 160, 16
# A multiple of 16 with (LENGTH - 1) * STRIDE past 2**31.
STRIDE = (2**31 // (LENGTH - 1) + 16) // 16 * 16


def main(op: str) -> int:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    gen = torch.Generator().manual_seed(0)
    q, k, values = (torch.randn(LENGTH, 1, HEAD_DIM, generator=gen, dtype=torch.float16) for _ in range(3))
    q, k = q.to(device), k.to(device)
    storage = torch.empty((LENGTH - 1) * STRIDE + HEAD_DIM, dtype=torch.float16, device=device)
    v = storage.as_strided((LENGTH, 1, HEAD_DIM), (STRIDE, HEAD_DIM, 1))
    v.copy_(values)
    if op == "flash":
        out, _ = kernels.flash_attention(q, k, v, causal=True)
        expected, _ = flash_reference.flash_attention(q, k, v.contiguous(), causal=True)
    else:
        out, _ = kernels.block_sparse_attention(q, k, v, block_size=16, top_k=3)
        selected = block_sparse_reference.block_gate(q, k, block_size=16, top_k=3)
        expected, _ = block_sparse_reference.block_sparse_attention_with_blocks(
            q, k, v.contiguous(), selected, block_size=16
        )
    error = (out.float() - expected.float()).abs().max().item()
    print(f"max difference {error}")
    return 0 if error <= 2e-3 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
