"""Long-context attention ops: Triton kernels on CUDA, pure-PyTorch references elsewhere.

One sub-package per op (``flash``, ``sliding_window``, ``block_sparse``, ``paged_decode``, ``rope``): its
public function checks the inputs (``ValueError`` on a bad shape, dtype or device) and runs the backend that
``backend()`` picks, the Triton launcher of its ``kernel.py`` or the PyTorch function of its ``reference.py``.
Tokens are packed along dim 0 as in flash-attn's varlen API. The values inside ``cu_seqlens`` and
``context_lens`` are checked too, except on CUDA when the call gives everything the launch needs
(``max_seqlen`` with ``cu_seqlens``): reading them there would stall the host on every call.
"""

from kernels._checks import TRITON_HEAD_DIMS
from kernels._dispatch import BACKEND_ENV, backend
from kernels.block_sparse import block_gate, block_sparse_attention
from kernels.flash import flash_attention
from kernels.paged_decode import paged_decode_attention
from kernels.rope import apply_rope_
from kernels.rope.spec import RopeSpec
from kernels.sliding_window import sliding_window_attention

__all__ = [
    "BACKEND_ENV",
    "TRITON_HEAD_DIMS",
    "RopeSpec",
    "apply_rope_",
    "backend",
    "block_gate",
    "block_sparse_attention",
    "flash_attention",
    "paged_decode_attention",
    "sliding_window_attention",
]
