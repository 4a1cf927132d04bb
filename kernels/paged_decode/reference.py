"""PyTorch reference of paged decode attention: gathers each sequence's pages and attends, batched."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from kernels._reference_utils import default_scale

# Gathered key tokens (sequences x padded context) held at once.
DECODE_GATHER_TOKENS = 1 << 20


def paged_decode_attention(
    q: Tensor,
    k_cache: Tensor,
    v_cache: Tensor,
    block_tables: Tensor,
    context_lens: Tensor,
    *,
    softmax_scale: float | None = None,
) -> Tensor:
    """Gathers each sequence's pages and attends, batched. Sequences are taken longest first in groups whose
    contexts are within a factor of two of the group's longest (so padding stays under half) and whose
    gathered keys stay within ``DECODE_GATHER_TOKENS``; each group is padded to its longest and masked, and
    the keys and values past each context are zeroed (stale slots may hold anything).
    The query heads sharing a KV head ride as that head's query rows, so one ``scaled_dot_product_attention``
    call serves GQA."""
    scale = default_scale(q, softmax_scale)
    batch, n_heads, head_dim = q.shape
    page_size, n_kv_heads = k_cache.shape[1], k_cache.shape[2]
    group = n_heads // n_kv_heads
    out = torch.zeros_like(q)
    lengths = context_lens.long()
    order = torch.argsort(lengths, descending=True, stable=True)
    sorted_lengths = lengths[order].tolist()
    begin = 0
    while begin < batch and sorted_lengths[begin] > 0:
        longest = sorted_lengths[begin]
        end = begin + 1
        while (
            end < batch
            and sorted_lengths[end] * 2 > longest
            and (end + 1 - begin) * longest <= DECODE_GATHER_TOKENS
        ):
            end += 1
        rows = order[begin:end]
        n_pages = -(-longest // page_size)
        pages = block_tables[rows, :n_pages].long().clamp(0, k_cache.shape[0] - 1).flatten()
        gathered = (len(rows), n_pages * page_size, n_kv_heads, head_dim)
        positions = torch.arange(n_pages * page_size, device=q.device)
        visible = (positions[None, :] < lengths[rows, None])[:, None, :, None]
        keys, values = (
            cache.index_select(0, pages).view(gathered).transpose(1, 2).float().where(visible, 0.0)
            for cache in (k_cache, v_cache)
        )
        queries = q[rows].float().view(-1, n_kv_heads, group, head_dim)
        attended = F.scaled_dot_product_attention(
            queries, keys, values, attn_mask=visible.transpose(2, 3), scale=scale
        )
        out[rows] = attended.reshape(-1, n_heads, head_dim).to(q.dtype)
        begin = end
    return out
