"""Triton flash and sliding-window attention against the PyTorch reference (interpreter on the CPU)."""

import itertools
import math

import pytest
import torch

import kernels
from kernels.flash import kernel
from kernels.flash import reference as flash_reference
from kernels.sliding_window import reference as sliding_window_reference
from tests.kernels._inputs import (
    assert_close,
    assert_lse_close,
    cu_seqlens,
    float64_attention,
    random_qkv,
    run_long_strided_v,
    strided,
)

# Odd lengths that are not a multiple of the 16-token interpreter tiles, an empty and a length-1 sequence.
Q_LENGTHS = [37, 0, 1, 50]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("group", [1, 4, 8])
@pytest.mark.parametrize("causal", [True, False])
def test_flash_varlen_matches_reference(triton_backend, dtype, group, causal):
    k_lengths = [45, 3, 1, 50]
    seed = group * 10 + causal
    q, k, v = random_qkv(seed, sum(Q_LENGTHS), sum(k_lengths), group, 1, 64, dtype, triton_backend)
    cu_q, cu_k = cu_seqlens(Q_LENGTHS, triton_backend), cu_seqlens(k_lengths, triton_backend)
    out, lse = kernels.flash_attention(q, k, v, causal=causal, cu_seqlens_q=cu_q, cu_seqlens_k=cu_k)
    expected, expected_lse = flash_reference.flash_attention(
        q, k, v, causal=causal, cu_seqlens_q=cu_q, cu_seqlens_k=cu_k
    )
    assert out.dtype == dtype and out.shape == q.shape and lse.shape == (group, sum(Q_LENGTHS))
    assert_close(out, expected, dtype)
    assert_lse_close(lse, expected_lse)


@pytest.mark.parametrize(
    ("dtype", "head_dim", "len_q", "len_k", "seed"),
    [
        (torch.float16, 128, 33, 33, 0),
        (torch.float32, 64, 20, 20, 1),
        (torch.bfloat16, 128, 19, 40, 2),
        (torch.float16, 64, 40, 19, 3),
    ],
)
def test_flash_single_sequence_matches_reference(triton_backend, dtype, head_dim, len_q, len_k, seed):
    q, k, v = random_qkv(seed, len_q, len_k, 4, 2, head_dim, dtype, triton_backend)
    out, lse = kernels.flash_attention(q, k, v, causal=True, softmax_scale=0.1)
    expected, expected_lse = flash_reference.flash_attention(q, k, v, causal=True, softmax_scale=0.1)
    assert_close(out, expected, dtype)
    assert_lse_close(lse, expected_lse)


def test_flash_query_without_keys_gets_zero_and_minus_inf(triton_backend):
    q, k, v = random_qkv(4, 20, 4, 2, 2, 64, torch.float16, triton_backend)
    out, lse = kernels.flash_attention(q, k, v, causal=True)
    assert torch.all(out[:16] == 0)
    assert torch.all(lse[:, :16] == -math.inf)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("window", [1, 7, 16, 40])
def test_sliding_window_matches_reference(triton_backend, dtype, window):
    lengths = [53, 1, 0, 30]
    q, k, v = random_qkv(window, sum(lengths), sum(lengths), 4, 1, 64, dtype, triton_backend)
    cu = cu_seqlens(lengths, triton_backend)
    out, lse = kernels.sliding_window_attention(q, k, v, window=window, cu_seqlens=cu)
    expected, expected_lse = sliding_window_reference.sliding_window_attention(
        q, k, v, window=window, cu_seqlens=cu
    )
    assert_close(out, expected, dtype)
    assert_lse_close(lse, expected_lse)


def test_sliding_window_never_loads_blocks_left_of_the_window(triton_backend):
    q, k, v = random_qkv(5, 16, 256, 2, 2, 64, torch.float16, triton_backend)
    # The 16 queries sit at key positions 240..255; with a window of 8 they need keys 233..255, so no key tile
    # (16 to 128 keys wide) left of key 128 may be read.
    k[:128] = float("nan")
    v[:128] = float("nan")
    cu_q, cu_k = cu_seqlens([16], triton_backend), cu_seqlens([256], triton_backend)
    out, _ = kernel.flash_attention(
        q,
        k,
        v,
        causal=True,
        window=8,
        cu_seqlens_q=cu_q,
        cu_seqlens_k=cu_k,
        max_seqlen_q=16,
        max_seqlen_k=256,
        softmax_scale=0.125,
    )
    rows, cols = torch.arange(16, device=q.device)[:, None] + 240, torch.arange(256, device=q.device)[None, :]
    visible = (cols <= rows) & (cols > rows - 8)
    scores = torch.einsum("qhd,khd->hqk", q.float(), k.float()) * 0.125
    probs = torch.softmax(scores.masked_fill(~visible, -math.inf), dim=-1)
    expected = torch.einsum("hqk,khd->qhd", probs, v.float().nan_to_num())
    assert torch.isfinite(out).all()
    assert_close(out, expected, torch.float16)


def test_flash_reads_strided_cu_seqlens_by_value(triton_backend):
    k_lengths = [45, 3, 1, 50]
    q, k, v = random_qkv(5, sum(Q_LENGTHS), sum(k_lengths), 4, 2, 64, torch.float32, triton_backend)
    cu_q, cu_k = cu_seqlens(Q_LENGTHS, triton_backend), cu_seqlens(k_lengths, triton_backend)
    out, lse = kernels.flash_attention(q, k, v, cu_seqlens_q=strided(cu_q), cu_seqlens_k=strided(cu_k))
    expected, expected_lse = flash_reference.flash_attention(
        q, k, v, causal=True, cu_seqlens_q=cu_q, cu_seqlens_k=cu_k
    )
    assert_close(out, expected, torch.float32)
    assert_lse_close(lse, expected_lse)


def test_flash_reads_values_whose_offsets_pass_int32():
    """v as a view of fused qkv: its token stride times the length passes 2**31 elements."""
    done = run_long_strided_v("flash")
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr[-2000:])


@pytest.mark.parametrize("head_dim", [80, 96])
@pytest.mark.parametrize("dtype", [torch.float16, torch.float32])
@pytest.mark.parametrize("mask", ["causal", "full", "window"])
def test_head_dims_between_the_tile_widths_are_padded(triton_backend, head_dim, dtype, mask):
    """Head dim 80 or 96 runs in 128-wide tiles whose padding reads zeros and is never stored."""
    q, k, v = random_qkv(head_dim, sum(Q_LENGTHS), sum(Q_LENGTHS), 4, 2, head_dim, dtype, triton_backend)
    cu = cu_seqlens(Q_LENGTHS, triton_backend)
    if mask == "window":
        out, lse = kernels.sliding_window_attention(q, k, v, window=7, cu_seqlens=cu)
    else:
        out, lse = kernels.flash_attention(q, k, v, causal=mask == "causal", cu_seqlens_q=cu, cu_seqlens_k=cu)
    bounds = cu.tolist()
    for start, stop in itertools.pairwise(bounds):
        rows, cols = torch.arange(stop - start)[:, None], torch.arange(stop - start)[None, :]
        allowed = torch.ones(stop - start, stop - start, dtype=torch.bool)
        if mask != "full":
            allowed &= cols <= rows
        if mask == "window":
            allowed &= cols > rows - 7
        expected, expected_lse = float64_attention(
            q[start:stop].cpu(), k[start:stop].cpu(), v[start:stop].cpu(), allowed
        )
        assert_close(out[start:stop].cpu(), expected, dtype)
        assert_lse_close(lse[:, start:stop].cpu().double(), expected_lse)
