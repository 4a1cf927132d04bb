"""The PyTorch references against torch's scaled_dot_product_attention and against each other."""

import math

import pytest
import torch
import torch.nn.functional as F

from kernels.block_sparse import reference as block_sparse_reference
from kernels.flash import reference as flash_reference
from kernels.paged_decode import reference as paged_decode_reference
from kernels.sliding_window import reference as sliding_window_reference
from tests.kernels._inputs import reference_block_sparse


def _sdpa(q, k, v, mask):
    """SDPA on one sequence in float64: q (Lq, H, D), k/v (Lk, Hkv, D), mask (Lq, Lk) of allowed keys."""
    group = q.shape[1] // k.shape[1]
    qd, kd, vd = (x.double().transpose(0, 1) for x in (q, k, v))
    kd, vd = kd.repeat_interleave(group, 0), vd.repeat_interleave(group, 0)
    return F.scaled_dot_product_attention(qd, kd, vd, attn_mask=mask).transpose(0, 1)


def _lse(q, k, mask):
    group = q.shape[1] // k.shape[1]
    scores = torch.einsum("qhd,khd->hqk", q.double(), k.double().repeat_interleave(group, 1)) / math.sqrt(
        q.shape[2]
    )
    return torch.logsumexp(scores.masked_fill(~mask, -math.inf), dim=-1)


def _random_qkv(gen, len_q, len_k, n_heads=4, n_kv_heads=2, head_dim=16):
    q = torch.randn(len_q, n_heads, head_dim, generator=gen)
    k = torch.randn(len_k, n_kv_heads, head_dim, generator=gen)
    v = torch.randn(len_k, n_kv_heads, head_dim, generator=gen)
    return q, k, v


@pytest.mark.parametrize(
    ("len_q", "len_k", "causal"), [(37, 37, True), (37, 37, False), (5, 23, True), (23, 23, True)]
)
def test_flash_reference_matches_sdpa(len_q, len_k, causal):
    gen = torch.Generator().manual_seed(len_q * 100 + len_k)
    q, k, v = _random_qkv(gen, len_q, len_k)
    out, lse = flash_reference.flash_attention(q, k, v, causal=causal)
    rows, cols = torch.arange(len_q)[:, None], torch.arange(len_k)[None, :]
    mask = cols <= rows + (len_k - len_q) if causal else torch.ones(len_q, len_k, dtype=torch.bool)
    torch.testing.assert_close(out.double(), _sdpa(q, k, v, mask), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(lse.double(), _lse(q, k, mask), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("causal", [True, False])
def test_flash_reference_reads_heads_whose_head_dim_is_not_innermost(causal):
    """Torch's CPU flash kernel assumes head_dim is the innermost stride; a (tokens, head_dim, heads) tensor
    seen as (tokens, heads, head_dim) is not."""
    gen = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(30, 16, heads, generator=gen).transpose(1, 2) for heads in (4, 2, 2))
    assert q.stride(-1) != 1
    out, lse = flash_reference.flash_attention(q, k, v, causal=causal)
    rows, cols = torch.arange(30)[:, None], torch.arange(30)[None, :]
    mask = cols <= rows if causal else torch.ones(30, 30, dtype=torch.bool)
    torch.testing.assert_close(out.double(), _sdpa(q, k, v, mask), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(lse.double(), _lse(q, k, mask), atol=1e-5, rtol=1e-5)


def test_flash_reference_packs_sequences_independently():
    gen = torch.Generator().manual_seed(1)
    lengths = [7, 0, 1, 20]
    q, k, v = _random_qkv(gen, sum(lengths), sum(lengths))
    cu = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()], dtype=torch.int32)
    out, lse = flash_reference.flash_attention(q, k, v, causal=True, cu_seqlens_q=cu, cu_seqlens_k=cu)
    for start, stop in zip(cu[:-1].tolist(), cu[1:].tolist(), strict=True):
        alone, alone_lse = flash_reference.flash_attention(
            q[start:stop], k[start:stop], v[start:stop], causal=True
        )
        torch.testing.assert_close(out[start:stop], alone)
        torch.testing.assert_close(lse[:, start:stop], alone_lse)


def test_flash_reference_query_without_keys_gets_zero_and_minus_inf():
    gen = torch.Generator().manual_seed(2)
    q, k, v = _random_qkv(gen, 6, 4)
    out, lse = flash_reference.flash_attention(q, k, v, causal=True)
    assert torch.all(out[:2] == 0)
    assert torch.all(lse[:, :2] == -math.inf)
    assert torch.isfinite(lse[:, 2:]).all()


@pytest.mark.parametrize("window", [1, 4, 16, 100])
def test_sliding_window_reference_matches_sdpa(window):
    gen = torch.Generator().manual_seed(window)
    q, k, v = _random_qkv(gen, 41, 41)
    out, lse = sliding_window_reference.sliding_window_attention(q, k, v, window=window)
    rows, cols = torch.arange(41)[:, None], torch.arange(41)[None, :]
    mask = (cols <= rows) & (cols > rows - window)
    torch.testing.assert_close(out.double(), _sdpa(q, k, v, mask), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(lse.double(), _lse(q, k, mask), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("length", [1, 16, 50, 64])
def test_block_sparse_reference_with_all_blocks_equals_dense_causal(length):
    gen = torch.Generator().manual_seed(length)
    q, k, v = _random_qkv(gen, length, length)
    n_blocks = -(-length // 16)
    sparse, sparse_lse = reference_block_sparse(q, k, v, block_size=16, top_k=n_blocks)
    dense, dense_lse = flash_reference.flash_attention(q, k, v, causal=True)
    torch.testing.assert_close(sparse, dense, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(sparse_lse, dense_lse, atol=1e-5, rtol=1e-5)


def test_block_gate_reference_keeps_own_block_and_the_best_past_blocks():
    gen = torch.Generator().manual_seed(3)
    q, k, _ = _random_qkv(gen, 70, 70, n_heads=2, n_kv_heads=1)
    selected = block_sparse_reference.block_gate(q, k, block_size=16, top_k=3)
    assert selected.shape == (1, 2, 5, 3)
    pooled_k = torch.stack([k[j * 16 : (j + 1) * 16, 0].mean(0) for j in range(5)])
    for head in range(2):
        for block in range(5):
            chosen = selected[0, head, block].tolist()
            assert chosen[0] == block
            pooled_q = q[block * 16 : (block + 1) * 16, head].mean(0)
            scores = pooled_k[:block] @ pooled_q
            best = scores.argsort(descending=True)[:2].tolist()
            assert chosen[1:] == ([*best, -1, -1])[:2]


def test_block_sparse_reference_ignores_unselected_blocks():
    gen = torch.Generator().manual_seed(4)
    q, k, v = _random_qkv(gen, 48, 48, n_heads=2, n_kv_heads=2)
    selected = block_sparse_reference.block_gate(q, k, block_size=16, top_k=1)
    out, _ = block_sparse_reference.block_sparse_attention_with_blocks(q, k, v, selected, block_size=16)
    local, _ = sliding_window_reference.sliding_window_attention(q, k, v, window=1)
    rows, cols = torch.arange(48)[:, None], torch.arange(48)[None, :]
    own_block = (cols <= rows) & (cols // 16 == rows // 16)
    torch.testing.assert_close(out.double(), _sdpa(q, k, v, own_block), atol=1e-5, rtol=1e-5)
    assert not torch.allclose(out, local)


def test_paged_decode_reference_gathers_the_pages():
    gen = torch.Generator().manual_seed(5)
    page, n_kv, head_dim = 16, 2, 16
    k_cache = torch.randn(10, page, n_kv, head_dim, generator=gen)
    v_cache = torch.randn(10, page, n_kv, head_dim, generator=gen)
    block_tables = torch.tensor([[7, 2, 9], [4, 0, 0], [1, 0, 0]], dtype=torch.int32)
    context_lens = torch.tensor([40, 16, 0], dtype=torch.int32)
    q = torch.randn(3, 4, head_dim, generator=gen)
    out = paged_decode_reference.paged_decode_attention(q, k_cache, v_cache, block_tables, context_lens)
    keys = torch.cat([k_cache[7], k_cache[2], k_cache[9]])[:40]
    values = torch.cat([v_cache[7], v_cache[2], v_cache[9]])[:40]
    expected = _sdpa(q[:1], keys, values, torch.ones(1, 40, dtype=torch.bool))
    torch.testing.assert_close(out[:1].double(), expected, atol=1e-5, rtol=1e-5)
    expected = _sdpa(q[1:2], k_cache[4], v_cache[4], torch.ones(1, 16, dtype=torch.bool))
    torch.testing.assert_close(out[1:2].double(), expected, atol=1e-5, rtol=1e-5)
    assert torch.all(out[2] == 0)
