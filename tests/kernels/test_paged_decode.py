"""Triton paged decode attention against the reference that gathers the pages."""

import inspect

import pytest
import torch

import kernels
from kernels.paged_decode import kernel, reference
from tests.kernels._inputs import assert_close, float64_attention, strided

PAGE_SIZE = 16


def _paged_inputs(
    seed: int, context_lens: list[int], n_heads: int, n_kv_heads: int, head_dim: int, dtype, device
):
    gen = torch.Generator().manual_seed(seed)
    pages_per_seq = max(1, -(-max(context_lens) // PAGE_SIZE))
    num_pages = len(context_lens) * pages_per_seq + 3
    k_cache = torch.randn(num_pages, PAGE_SIZE, n_kv_heads, head_dim, generator=gen).to(dtype)
    v_cache = torch.randn(num_pages, PAGE_SIZE, n_kv_heads, head_dim, generator=gen).to(dtype)
    # Each sequence owns a random, non-contiguous set of pages.
    order = torch.randperm(num_pages, generator=gen)[: len(context_lens) * pages_per_seq]
    block_tables = order.reshape(len(context_lens), pages_per_seq).to(torch.int32)
    q = torch.randn(len(context_lens), n_heads, head_dim, generator=gen).to(dtype)
    lens = torch.tensor(context_lens, dtype=torch.int32)
    return (x.to(device) for x in (q, k_cache, v_cache, block_tables, lens))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("group", [1, 4, 8])
def test_paged_decode_matches_reference(triton_backend, dtype, group):
    q, k_cache, v_cache, tables, lens = _paged_inputs(
        group, [37, 1, 0, 70], 8, 8 // group, 64, dtype, triton_backend
    )
    out = kernels.paged_decode_attention(q, k_cache, v_cache, tables, lens)
    expected = reference.paged_decode_attention(q, k_cache, v_cache, tables, lens)
    assert out.shape == q.shape and out.dtype == dtype
    assert_close(out, expected, dtype)
    assert torch.all(out[2] == 0)


@pytest.mark.parametrize(
    ("dtype", "head_dim", "num_splits"), [(torch.float16, 128, 3), (torch.bfloat16, 64, 8)]
)
def test_paged_decode_split_k_merges_the_slices(triton_backend, dtype, head_dim, num_splits):
    q, k_cache, v_cache, tables, lens = _paged_inputs(
        7, [100, 33, 16, 5], 4, 1, head_dim, dtype, triton_backend
    )
    out = kernel.paged_decode_attention(
        q, k_cache, v_cache, tables, lens, softmax_scale=head_dim**-0.5, num_splits=num_splits
    )
    expected = reference.paged_decode_attention(q, k_cache, v_cache, tables, lens)
    assert_close(out, expected, dtype)


def test_paged_decode_float32(triton_backend):
    q, k_cache, v_cache, tables, lens = _paged_inputs(9, [21, 48], 2, 2, 64, torch.float32, triton_backend)
    out = kernels.paged_decode_attention(q, k_cache, v_cache, tables, lens, softmax_scale=0.2)
    expected = reference.paged_decode_attention(q, k_cache, v_cache, tables, lens, softmax_scale=0.2)
    assert_close(out, expected, torch.float32)


def test_paged_decode_kernel_clamps_lengths_past_the_block_table(triton_backend):
    q, k_cache, v_cache, tables, _ = _paged_inputs(8, [40, 20], 2, 1, 64, torch.float16, triton_backend)
    capacity = tables.shape[1] * PAGE_SIZE
    too_long = torch.tensor([capacity + 100, 20], dtype=torch.int32, device=triton_backend)
    out = kernel.paged_decode_attention(q, k_cache, v_cache, tables, too_long, softmax_scale=0.125)
    clamped = torch.tensor([capacity, 20], dtype=torch.int32, device=triton_backend)
    expected = reference.paged_decode_attention(q, k_cache, v_cache, tables, clamped, softmax_scale=0.125)
    assert_close(out, expected, torch.float16)


def test_split_count_is_a_runtime_argument():
    """The split count follows the batch and the longest context, which change every decode step; as a
    constexpr each new count compiled a kernel of its own (about a second on the GPU) in the middle of serving."""
    fn = kernel._paged_decode_split_kernel
    fn = getattr(fn, "fn", fn)
    annotations = inspect.signature(fn).parameters
    assert "num_splits" in annotations
    assert "constexpr" not in str(annotations["num_splits"].annotation)
    assert all(
        "constexpr" in str(annotations[name].annotation) for name in ("HEAD_DIM", "PAGE_SIZE", "BLOCK_N")
    )


def test_paged_decode_reads_strided_context_lens_by_value(triton_backend):
    q, k_cache, v_cache, tables, lens = _paged_inputs(4, [37, 20, 5], 4, 2, 64, torch.float32, triton_backend)
    out = kernels.paged_decode_attention(q, k_cache, v_cache, tables, strided(lens))
    expected = reference.paged_decode_attention(q, k_cache, v_cache, tables, lens)
    assert_close(out, expected, torch.float32)


@pytest.mark.parametrize("backend", ["reference", "triton"])
@pytest.mark.parametrize("bad_id", [99, 4, -1])
def test_block_ids_outside_the_cache_are_refused_within_the_context(monkeypatch, backend, bad_id):
    monkeypatch.setenv("QUIRE_KERNELS", backend)
    gen = torch.Generator().manual_seed(0)
    k_cache, v_cache = (torch.randn(4, PAGE_SIZE, 1, 64, generator=gen) for _ in range(2))
    q = torch.randn(2, 2, 64, generator=gen)
    tables = torch.tensor([[1, 2], [3, bad_id]], dtype=torch.int32)
    with pytest.raises(ValueError, match=rf"block_tables\[1, 1\] is {bad_id}.*0\.\.3"):
        kernels.paged_decode_attention(q, k_cache, v_cache, tables, torch.tensor([20, 17], dtype=torch.int32))
    # Past a row's context the slots are never read: whatever they hold, the answer is the clean table's.
    lens = torch.tensor([20, 16], dtype=torch.int32)
    out = kernels.paged_decode_attention(q, k_cache, v_cache, tables, lens)
    clean = torch.tensor([[1, 2], [3, 0]], dtype=torch.int32)
    assert_close(out, reference.paged_decode_attention(q, k_cache, v_cache, clean, lens), torch.float32)


@pytest.mark.parametrize("backend", ["reference", "triton"])
@pytest.mark.parametrize("junk", [float("nan"), float("inf")])
def test_cache_slots_past_the_context_may_hold_anything(monkeypatch, backend, junk):
    """Stale slots of a partly filled last page (and whole pages past the context) are never attended to."""
    monkeypatch.setenv("QUIRE_KERNELS", backend)
    gen = torch.Generator().manual_seed(1)
    k_cache, v_cache = (torch.randn(4, PAGE_SIZE, 2, 32, generator=gen) for _ in range(2))
    q = torch.randn(2, 4, 32, generator=gen)
    tables = torch.tensor([[2, 0, 3], [1, 3, 0]], dtype=torch.int32)
    lens = torch.tensor([20, 16], dtype=torch.int32)
    expected = reference.paged_decode_attention(q, k_cache, v_cache, tables, lens)
    for cache in (k_cache, v_cache):
        cache[0, 4:] = junk
        cache[3] = junk
    out = kernels.paged_decode_attention(q, k_cache, v_cache, tables, lens)
    assert torch.isfinite(out).all()
    assert_close(out, expected, torch.float32)


@pytest.mark.parametrize("head_dim", [80, 96])
@pytest.mark.parametrize("num_splits", [None, 3])
def test_head_dims_between_the_tile_widths_are_padded(triton_backend, head_dim, num_splits):
    """Head dim 80 or 96 runs in 128-wide tiles whose padding reads zeros and is never stored."""
    q, k_cache, v_cache, tables, lens = _paged_inputs(
        head_dim, [37, 20, 0, 5], 8, 2, head_dim, torch.float16, triton_backend
    )
    if num_splits is None:
        out = kernels.paged_decode_attention(q, k_cache, v_cache, tables, lens)
    else:
        out = kernel.paged_decode_attention(
            q, k_cache, v_cache, tables, lens, softmax_scale=head_dim**-0.5, num_splits=num_splits
        )
    for row, length in enumerate(lens.tolist()):
        pages = tables[row].long().cpu()
        keys, values = (cache.cpu()[pages].flatten(0, 1)[:length] for cache in (k_cache, v_cache))
        expected, _ = float64_attention(
            q[row : row + 1].cpu(), keys, values, torch.ones(1, length, dtype=torch.bool)
        )
        assert_close(out[row : row + 1].cpu(), expected, torch.float16)
