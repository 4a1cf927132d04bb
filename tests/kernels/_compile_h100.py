"""Compile every Triton kernel for sm_90 (H100) and print its register and shared-memory use as JSON, one line
per kernel.

Run as a script by ``test_compile.py`` in a process without ``TRITON_INTERPRET``, so that the kernels are
real ``triton.jit`` functions. Pointers and strides carry the 16-divisibility hint Triton adds at launch for
aligned tensors, so the code compiled here is the code a real launch compiles.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import triton
import triton.language as tl
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from kernels._triton_utils import head_dim_pad
from kernels.block_sparse import kernel as block_sparse
from kernels.flash import kernel as flash
from kernels.paged_decode import kernel as paged_decode
from kernels.rope import kernel as rope

H100 = GPUTarget("cuda", 90, 32)
CUOBJDUMP = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump"
BF16 = "*bf16"


def compile_for_h100(kernel, pointers: dict, constexprs: dict, floats=(), num_warps=4, num_stages=3) -> dict:
    fn = kernel.fn if hasattr(kernel, "configs") else kernel
    signature = {}
    for name in fn.arg_names:
        if name in constexprs:
            signature[name] = "constexpr"
        elif name in pointers:
            signature[name] = pointers[name]
        else:
            signature[name] = "fp32" if name in floats else "i32"
    aligned = [name for name in fn.arg_names if name in pointers or name.startswith("stride_")]
    attrs = {(fn.arg_names.index(name),): [["tt.divisibility", 16]] for name in aligned}
    compiled = triton.compile(
        ASTSource(fn, signature, constexprs=constexprs, attrs=attrs),
        target=H100,
        options={"num_warps": num_warps, "num_stages": num_stages},
    )
    with tempfile.NamedTemporaryFile(suffix=".cubin") as cubin:
        cubin.write(compiled.asm["cubin"])
        cubin.flush()
        dump = subprocess.run(
            [str(CUOBJDUMP), "--dump-resource-usage", cubin.name], capture_output=True, text=True
        )
    line = next(line for line in dump.stdout.splitlines() if "REG:" in line)
    usage = {key: int(value) for key, value in (item.split(":")[:2] for item in line.split() if ":" in item)}
    return {**usage, "DYNAMIC_SHARED": compiled.metadata.shared}


@triton.jit
def _sin_cos_kernel(X, Y, N: tl.constexpr):
    """Only sin and cos: the stack frame some Triton versions' libdevice gives their argument reduction for
    large angles, which rope may use too without spilling."""
    offs = tl.arange(0, N)
    x = tl.load(X + offs)
    tl.store(Y + offs, tl.sin(x) + tl.cos(x))


ATTENTION_POINTERS = {"Q": BF16, "K": BF16, "V": BF16, "O": BF16, "LSE": "*fp32"}


def compile_flash(
    group: int, head_dim: int, causal: bool, window: bool, block_m: int, num_warps: int
) -> dict:
    return compile_for_h100(
        flash._attention_fwd_kernel,
        {**ATTENTION_POINTERS, "cu_seqlens_q": "*i32", "cu_seqlens_k": "*i32"},
        {"GROUP": group, "HEAD_DIM": head_dim, "HEAD_DIM_PAD": head_dim_pad(head_dim), "CAUSAL": causal,
         "HAS_WINDOW": window, "BLOCK_M": block_m, "BLOCK_N": 64, "DOT_FP32": False, "PRECISION": "tf32"},
        floats=("scale_log2",), num_warps=num_warps,
    )  # fmt: skip


def compile_block_sparse(head_dim: int, block_size: int, top_k: int) -> dict:
    """The attention kernel with the tiles, warps and stages its launcher picks on a GPU."""
    width = head_dim_pad(head_dim)
    block_m, block_n, num_warps, num_stages = block_sparse._tile_config(block_size, width, on_gpu=True)
    return compile_for_h100(
        block_sparse._block_sparse_attention_kernel,
        {**ATTENTION_POINTERS, "cu_seqlens": "*i32", "selected": "*i32"},
        {"GROUP": 4, "HEAD_DIM": head_dim, "HEAD_DIM_PAD": width, "BLOCK_SIZE": block_size, "TOP_K": top_k,
         "BLOCK_M": block_m, "BLOCK_N": block_n, "DOT_FP32": False, "PRECISION": "tf32"},
        floats=("scale_log2",), num_warps=num_warps, num_stages=num_stages,
    )  # fmt: skip


def compile_block_mean(head_dim: int, block_size: int) -> dict:
    return compile_for_h100(
        block_sparse._block_mean_kernel,
        {"X": BF16, "cu_seqlens": "*i32", "pooled": "*fp32"},
        {"BLOCK_SIZE": block_size, "HEAD_DIM": head_dim, "HEAD_DIM_PAD": head_dim_pad(head_dim),
         "TILE": block_sparse._pool_tile(block_size, on_gpu=True)},
    )  # fmt: skip


def compile_paged_decode_split(head_dim: int) -> dict:
    return compile_for_h100(
        paged_decode._paged_decode_split_kernel,
        {"Q": BF16, "K_cache": BF16, "V_cache": BF16, "block_tables": "*i32", "context_lens": "*i32",
         "partial_out": "*fp32", "partial_max": "*fp32", "partial_sum": "*fp32"},
        {"GROUP": 4, "GROUP_PAD": 16, "HEAD_DIM": head_dim, "HEAD_DIM_PAD": head_dim_pad(head_dim),
         "PAGE_SIZE": 16, "BLOCK_N": 64, "DOT_FP32": False, "PRECISION": "tf32"},
        floats=("scale_log2",), num_stages=2,
    )  # fmt: skip


def compile_paged_decode_merge(head_dim: int) -> dict:
    return compile_for_h100(
        paged_decode._paged_decode_merge_kernel,
        {"partial_out": "*fp32", "partial_max": "*fp32", "partial_sum": "*fp32", "O": BF16},
        {"HEAD_DIM": head_dim, "HEAD_DIM_PAD": head_dim_pad(head_dim), "SPLITS_PAD": 64},
    )


CASES = {
    "flash d128 causal 128x64 w8": lambda: compile_flash(4, 128, causal=True, window=False, block_m=128, num_warps=8),
    "flash d64 window 128x64 w4": lambda: compile_flash(1, 64, causal=True, window=True, block_m=128, num_warps=4),
    "flash d128 full 64x64 w4": lambda: compile_flash(8, 128, causal=False, window=False, block_m=64, num_warps=4),
    "flash d80 causal 128x64 w8": lambda: compile_flash(4, 80, causal=True, window=False, block_m=128, num_warps=8),
    "flash d96 full 64x64 w4": lambda: compile_flash(8, 96, causal=False, window=False, block_m=64, num_warps=4),
    "block-sparse attention d128 B512": lambda: compile_block_sparse(128, 512, 3),
    "block-sparse attention d256 B512": lambda: compile_block_sparse(256, 512, 3),
    "block-sparse attention d256 B64": lambda: compile_block_sparse(256, 64, 8),
    "block-sparse attention d96 B512": lambda: compile_block_sparse(96, 512, 3),
    "block-sparse attention d192 B64": lambda: compile_block_sparse(192, 64, 8),
    "block gate": lambda: compile_for_h100(
        block_sparse._block_gate_kernel,
        {"pooled_q": "*fp32", "pooled_k": "*fp32", "cu_seqlens": "*i32", "selected": "*i32"},
        {"GROUP": 4, "BLOCK_SIZE": 512, "HEAD_DIM_PAD": 128, "TOP_K": 3, "KB_TILE": 64},
    ),
    "block mean": lambda: compile_block_mean(128, 512),
    "block mean B48": lambda: compile_block_mean(128, 48),
    "block mean d80": lambda: compile_block_mean(80, 512),
    "paged decode split": lambda: compile_paged_decode_split(128),
    "paged decode split d80": lambda: compile_paged_decode_split(80),
    "paged decode merge": lambda: compile_paged_decode_merge(128),
    "paged decode merge d80": lambda: compile_paged_decode_merge(80),
    "rope": lambda: compile_for_h100(
        rope._rope_kernel,
        {"Q": BF16, "K": BF16, "positions": "*i64", "inv_freq": "*fp32"},
        {"HALF": 64, "HALF_PAD": 64, "Q_HEADS_PAD": 32, "K_HEADS_PAD": 8},
        floats=("scaling",),
    ),
    "sin cos": lambda: compile_for_h100(_sin_cos_kernel, {"X": "*fp32", "Y": "*fp32"}, {"N": 64}),
}  # fmt: skip


if __name__ == "__main__":
    for name, compile_case in CASES.items():
        print(json.dumps({"kernel": name, "usage": compile_case()}))
        sys.stdout.flush()
