"""Triton block gating and block-sparse attention against the reference implementing the same rule."""

import itertools

import pytest
import torch

import kernels
from kernels.block_sparse import reference
from kernels.block_sparse.kernel import block_sparse_attention_with_blocks
from tests.kernels._inputs import (
    assert_close,
    assert_lse_close,
    cu_seqlens,
    float64_attention,
    random_qkv,
    reference_block_sparse,
    run_long_strided_v,
    strided,
)

LENGTHS = [70, 0, 1, 33]


@pytest.mark.parametrize(
    ("group", "block_size", "top_k", "seed"), [(1, 16, 2, 0), (4, 16, 3, 1), (8, 32, 2, 2)]
)
def test_block_gate_matches_reference(triton_backend, group, block_size, top_k, seed):
    q, k, _ = random_qkv(seed, sum(LENGTHS), sum(LENGTHS), group, 1, 64, torch.float16, triton_backend)
    cu = cu_seqlens(LENGTHS, triton_backend)
    selected = kernels.block_gate(q, k, block_size=block_size, top_k=top_k, cu_seqlens=cu)
    expected = reference.block_gate(q, k, block_size=block_size, top_k=top_k, cu_seqlens=cu)
    assert selected.dtype == torch.int32
    assert torch.equal(selected, expected)
    assert torch.all(
        selected[0, :, :, 0] == torch.arange(selected.shape[2], dtype=torch.int32, device=selected.device)
    )


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("group", [1, 4, 8])
def test_block_sparse_matches_reference(triton_backend, dtype, group):
    q, k, v = random_qkv(group, sum(LENGTHS), sum(LENGTHS), group, 1, 64, dtype, triton_backend)
    cu = cu_seqlens(LENGTHS, triton_backend)
    out, lse = kernels.block_sparse_attention(q, k, v, block_size=16, top_k=2, cu_seqlens=cu)
    expected, expected_lse = reference_block_sparse(q, k, v, block_size=16, top_k=2, cu_seqlens=cu)
    assert_close(out, expected, dtype)
    assert_lse_close(lse, expected_lse)


def test_block_sparse_with_all_blocks_equals_dense_flash(triton_backend):
    q, k, v = random_qkv(11, 75, 75, 4, 2, 128, torch.float16, triton_backend)
    sparse, sparse_lse = kernels.block_sparse_attention(q, k, v, block_size=16, top_k=5)
    dense, dense_lse = kernels.flash_attention(q, k, v, causal=True)
    assert_close(sparse, dense, torch.float16)
    assert_lse_close(sparse_lse, dense_lse)


@pytest.mark.filterwarnings("ignore:All-NaN slice")
def test_block_sparse_attends_only_to_the_given_blocks(triton_backend):
    q, k, v = random_qkv(12, 64, 64, 2, 1, 64, torch.float32, triton_backend)
    selected = torch.tensor([[[[0, -1], [1, -1], [2, 0], [3, 1]]]] * 1, dtype=torch.int32).repeat(1, 2, 1, 1)
    selected = selected.to(triton_backend)
    # Query block 3 never selects block 2, so whatever block 2 holds cannot reach its output.
    k[32:48] = float("nan")
    v[32:48] = float("nan")
    cu = cu_seqlens([64], triton_backend)
    out, lse = block_sparse_attention_with_blocks(
        q, k, v, selected, block_size=16, cu_seqlens=cu, max_seqlen=64, softmax_scale=0.125
    )
    clean_k, clean_v = k.nan_to_num(), v.nan_to_num()
    expected, expected_lse = reference.block_sparse_attention_with_blocks(
        q, clean_k, clean_v, selected, block_size=16, cu_seqlens=cu, softmax_scale=0.125
    )
    assert torch.isfinite(out[48:]).all()
    assert_close(out[48:], expected[48:], torch.float32)
    assert_lse_close(lse[:, 48:], expected_lse[:, 48:])


def test_the_benchmarks_block_recall_reads_full_for_a_gate_that_finds_the_planted_blocks():
    """`kernels.bench` scores the gate on data where each query block leans toward two earlier key blocks; its
    oracle keeps the query's own block as the gate does, so the reference gate, which finds both, reads 1.0
    (against the top-3 by mass alone it read 0.688 here)."""
    from kernels.bench import _block_recall, _planted_qkv

    q, k, _ = _planted_qkv(4096, 4, 128, 512, torch.float32, device="cpu")
    cu = torch.tensor([0, 4096], dtype=torch.int32)
    selected = reference.block_gate(q, k, block_size=512, top_k=3, cu_seqlens=cu)
    assert _block_recall(q, k, selected, 512, 3) == 1.0


def test_block_sparse_reads_strided_cu_seqlens_by_value(triton_backend):
    q, k, v = random_qkv(6, sum(LENGTHS), sum(LENGTHS), 4, 1, 64, torch.float32, triton_backend)
    cu = cu_seqlens(LENGTHS, triton_backend)
    selected = kernels.block_gate(q, k, block_size=16, top_k=2, cu_seqlens=strided(cu))
    assert torch.equal(selected, reference.block_gate(q, k, block_size=16, top_k=2, cu_seqlens=cu))
    out, lse = kernels.block_sparse_attention(q, k, v, block_size=16, top_k=2, cu_seqlens=strided(cu))
    expected, expected_lse = reference_block_sparse(q, k, v, block_size=16, top_k=2, cu_seqlens=cu)
    assert_close(out, expected, torch.float32)
    assert_lse_close(lse, expected_lse)


def test_block_sparse_reads_values_whose_offsets_pass_int32():
    """v as a view of fused qkv: its token stride times the length passes 2**31 elements."""
    done = run_long_strided_v("block_sparse")
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr[-2000:])


@pytest.mark.parametrize("head_dim", [80, 96])
def test_head_dims_between_the_tile_widths_are_padded(triton_backend, head_dim):
    """Head dim 80 or 96 runs in 128-wide tiles: the gate picks the reference's blocks and the attention over
    them matches float64."""
    q, k, v = random_qkv(head_dim, sum(LENGTHS), sum(LENGTHS), 4, 2, head_dim, torch.float16, triton_backend)
    cu = cu_seqlens(LENGTHS, triton_backend)
    selected = kernels.block_gate(q, k, block_size=16, top_k=2, cu_seqlens=cu)
    assert torch.equal(selected, reference.block_gate(q, k, block_size=16, top_k=2, cu_seqlens=cu))
    out, lse = kernels.block_sparse_attention(q, k, v, block_size=16, top_k=2, cu_seqlens=cu)
    bounds = cu.tolist()
    for batch, (start, stop) in enumerate(itertools.pairwise(bounds)):
        positions = torch.arange(stop - start)
        chosen = selected[batch].cpu()[:, positions // 16]
        in_chosen = (chosen[..., None] == (positions // 16)[None, None, None, :]).any(2)
        allowed = in_chosen & (positions[None, None, :] <= positions[None, :, None])
        expected, expected_lse = float64_attention(
            q[start:stop].cpu(), k[start:stop].cpu(), v[start:stop].cpu(), allowed
        )
        assert_close(out[start:stop].cpu(), expected, torch.float16)
        assert_lse_close(lse[:, start:stop].cpu().double(), expected_lse)


def test_gpu_tiles_are_powers_of_two_that_fit_an_h100_for_every_block_size_and_head_dim():
    """What the launchers pick on a GPU, checked here on the CPU (``test_compile.py`` compiles some of them for
    sm_90): ``tl.arange`` needs powers of two (a 48-token block used to pool 48 tokens at a time and failed to
    compile), the query and key tiles divide the block, and the attention kernel's pipelined tiles, one query
    tile plus ``num_stages`` key and value tiles of bf16, stay within an H100's 227 KiB of shared memory
    (head dim 256 with 128-row tiles needed 256 KiB). That estimate equals what Triton 3.9 allocates for the
    configurations compiled in ``test_compile.py``."""
    from kernels._checks import TRITON_HEAD_DIMS
    from kernels.block_sparse.kernel import _pool_tile, _tile_config

    def power_of_two_dividing(tile: int, block_size: int) -> bool:
        return tile & (tile - 1) == 0 and block_size % tile == 0

    for block_size in range(16, 1025, 16):
        assert power_of_two_dividing(_pool_tile(block_size, on_gpu=True), block_size), block_size
        for head_dim in TRITON_HEAD_DIMS:
            block_m, block_n, _, stages = _tile_config(block_size, head_dim, on_gpu=True)
            assert power_of_two_dividing(block_m, block_size) and power_of_two_dividing(block_n, block_size)
            assert (block_m + 2 * stages * block_n) * head_dim * 2 <= 232448, (block_size, head_dim)
    assert _pool_tile(48, on_gpu=True) == 16 and _tile_config(512, 256, on_gpu=True) == (64, 64, 8, 2)
