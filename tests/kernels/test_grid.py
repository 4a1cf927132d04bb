"""Launch grids within CUDA's limits: 2**31 - 1 blocks on the x axis, 65535 on y and z.

A grid past them fails on the GPU with an opaque launch error ("invalid argument"), which the interpreter
never raises; these tests check the grids the launchers compute (pure functions) at batch sizes no CPU test
could launch, and that the launchers refuse what cannot fit with a ValueError naming the limit.
"""

import pytest
import torch

import kernels
from kernels._triton_utils import MAX_GRID
from kernels.block_sparse import kernel as block_sparse
from kernels.flash import kernel as flash
from kernels.paged_decode import kernel as paged_decode
from kernels.rope import kernel as rope
from tests.kernels._inputs import assert_close, assert_lse_close, cu_seqlens, random_qkv

# A batch of more sequences than the 65535 a y or z axis takes: one step of short sequences, or a chunk encoder
# batch, reaches it.
BIG_BATCH = 70_000


def _within_limits(grid: tuple[int, ...]) -> bool:
    return len(grid) <= 3 and all(0 < size <= limit for size, limit in zip(grid, MAX_GRID, strict=False))


def _programs(grid: tuple[int, ...]) -> int:
    total = 1
    for size in grid:
        total *= size
    return total


def test_cuda_grid_limits():
    assert MAX_GRID == (2**31 - 1, 65535, 65535)


@pytest.mark.parametrize("batch", [1, 7, BIG_BATCH])
@pytest.mark.parametrize("heads", [1, 32, 128])
def test_flash_grid_puts_the_sequences_on_the_x_axis(batch, heads):
    for max_seqlen, block_m in ((1, 16), (37, 16), (4096, 128), (131072, 64)):
        tiles = -(-max_seqlen // block_m)
        grid = flash.launch_grid(max_seqlen, batch, heads, block_m)
        assert _within_limits(grid), grid
        assert _programs(grid) == tiles * batch * heads


@pytest.mark.parametrize("batch", [1, 7, BIG_BATCH])
def test_block_sparse_grids_put_the_sequences_on_the_x_axis(batch):
    for max_blocks in (1, 5, 2048):
        grid = block_sparse.block_grid(max_blocks, batch, 32)
        assert _within_limits(grid), grid
        assert _programs(grid) == max_blocks * batch * 32
    for max_seqlen, block_m in ((1, 16), (70, 16), (131072, 128)):
        grid = block_sparse.attention_grid(max_seqlen, batch, 32, block_m)
        assert _within_limits(grid), grid
        assert _programs(grid) == -(-max_seqlen // block_m) * batch * 32


@pytest.mark.parametrize("batch", [1, 7, BIG_BATCH])
def test_paged_decode_grids_put_the_sequences_on_the_x_axis(batch):
    for kv_heads, splits in ((1, 1), (8, 4), (8, 528)):
        grid = paged_decode.split_grid(batch, kv_heads, splits)
        assert _within_limits(grid), grid
        assert _programs(grid) == batch * kv_heads * splits
    grid = paged_decode.merge_grid(batch, 64)
    assert _within_limits(grid) and _programs(grid) == batch * 64


def test_rope_grid_is_one_program_a_token():
    assert rope.launch_grid(1) == (1,)
    assert rope.launch_grid(2**31 - 1) == (2**31 - 1,)


@pytest.mark.parametrize(
    ("make_grid", "limit"),
    [
        (lambda: flash.launch_grid(2**31, 2**16, 8, 16), "2147483647"),
        (lambda: flash.launch_grid(16, 4, 65536, 16), "65535"),
        (lambda: block_sparse.attention_grid(2**31, 2**16, 8, 16), "2147483647"),
        (lambda: block_sparse.block_grid(4, 4, 65536), "65535"),
        (lambda: paged_decode.split_grid(4, 8, 65536), "65535"),
        (lambda: paged_decode.merge_grid(4, 65536), "65535"),
        (lambda: rope.launch_grid(2**31), "2147483647"),
    ],
)
def test_a_grid_past_the_limits_is_a_value_error_naming_the_limit(make_grid, limit):
    with pytest.raises(ValueError, match=f"CUDA's limit of {limit}"):
        make_grid()


def test_an_explicit_split_count_past_the_limit_is_refused_before_the_launch(triton_backend):
    q = torch.zeros(1, 2, 16, device=triton_backend)
    cache = torch.zeros(1, 16, 1, 16, device=triton_backend)
    tables = torch.zeros(1, 1, dtype=torch.int32, device=triton_backend)
    lens = torch.ones(1, dtype=torch.int32, device=triton_backend)
    with pytest.raises(ValueError, match="65535"):
        paged_decode.paged_decode_attention(
            q, cache, cache, tables, lens, softmax_scale=1.0, num_splits=70000
        )


# Many short sequences, so that a program's sequence and tile, both read from the x axis, cross every edge.
MANY_LENGTHS = [1, 17, 0, 16, 33, 2, 15, 48, 5, 0, 31, 19]


@pytest.mark.parametrize("causal", [True, False])
def test_flash_with_many_sequences_matches_reference(triton_backend, causal):
    from kernels.flash import reference

    k_lengths = [length + 3 for length in MANY_LENGTHS]
    q, k, v = random_qkv(5, sum(MANY_LENGTHS), sum(k_lengths), 4, 2, 32, torch.float32, triton_backend)
    cu_q, cu_k = cu_seqlens(MANY_LENGTHS, triton_backend), cu_seqlens(k_lengths, triton_backend)
    out, lse = kernels.flash_attention(q, k, v, causal=causal, cu_seqlens_q=cu_q, cu_seqlens_k=cu_k)
    expected, expected_lse = reference.flash_attention(
        q, k, v, causal=causal, cu_seqlens_q=cu_q, cu_seqlens_k=cu_k
    )
    assert_close(out, expected, torch.float32)
    assert_lse_close(lse, expected_lse)


def test_block_sparse_with_many_sequences_matches_reference(triton_backend):
    from tests.kernels._inputs import reference_block_sparse

    q, k, v = random_qkv(6, sum(MANY_LENGTHS), sum(MANY_LENGTHS), 4, 2, 32, torch.float32, triton_backend)
    cu = cu_seqlens(MANY_LENGTHS, triton_backend)
    out, lse = kernels.block_sparse_attention(q, k, v, block_size=16, top_k=2, cu_seqlens=cu)
    expected, expected_lse = reference_block_sparse(q, k, v, block_size=16, top_k=2, cu_seqlens=cu)
    assert_close(out, expected, torch.float32)
    assert_lse_close(lse, expected_lse)
