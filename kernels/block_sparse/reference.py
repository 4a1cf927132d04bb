"""PyTorch reference of block gating and block-sparse attention, implementing the kernel's rule exactly.

Each query block gathers only its selected key blocks, so the cost is ``n * top_k * block_size``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from kernels._reference_utils import default_scale, each_sequence, masked_softmax_times, sequence_bounds


def _block_means(x: Tensor, block_size: int) -> Tensor:
    """Mean over each block of ``block_size`` tokens (the last block may be partial): (L, H, D) -> (H, nb, D)."""
    length, n_heads, head_dim = x.shape
    n_blocks = -(-length // block_size)
    padded = torch.zeros(n_blocks * block_size, n_heads, head_dim, dtype=torch.float32, device=x.device)
    padded[:length] = x.float()
    sums = padded.reshape(n_blocks, block_size, n_heads, head_dim).sum(dim=1)
    counts = torch.full((n_blocks,), block_size, dtype=torch.float32, device=x.device)
    if n_blocks:
        counts[-1] = length - (n_blocks - 1) * block_size
    return (sums / counts[:, None, None]).permute(1, 0, 2)


def _select_blocks(q: Tensor, k: Tensor, block_size: int, top_k: int) -> Tensor:
    """Gating of one sequence: (H, nb, top_k) int32 key-block indices, best first, -1 padded.

    Query block ``i`` scores key block ``j <= i`` by ``mean(q in i) . mean(k in j)`` (the mean of the
    tokens' MoBA scores); its own block is always kept first; ties go to the lower block index.
    """
    n_heads = q.shape[1]
    group = n_heads // k.shape[1]
    pooled_q = _block_means(q, block_size)
    pooled_k = _block_means(k, block_size).repeat_interleave(group, dim=0)
    n_blocks = pooled_q.shape[1]
    scores = torch.matmul(pooled_q, pooled_k.transpose(-1, -2))
    block_ids = torch.arange(n_blocks, device=q.device)
    future = block_ids[None, :] > block_ids[:, None]
    own = block_ids[None, :] == block_ids[:, None]
    scores = scores.masked_fill(future, -math.inf).masked_fill(own, math.inf)
    order = torch.sort(scores, dim=-1, descending=True, stable=True).indices[..., :top_k]
    valid = torch.gather(~future.expand(n_heads, -1, -1), -1, order)
    selected = torch.where(valid, order, -1).to(torch.int32)
    if selected.shape[-1] < top_k:
        pad = torch.full((*selected.shape[:-1], top_k - selected.shape[-1]), -1, dtype=torch.int32)
        selected = torch.cat([selected, pad.to(q.device)], dim=-1)
    return selected


def block_gate(
    q: Tensor,
    k: Tensor,
    *,
    block_size: int,
    top_k: int,
    cu_seqlens: Tensor | None = None,
    max_seqlen: int | None = None,
) -> Tensor:
    """Selected key blocks: int32 (batch, n_heads, max_blocks, top_k), -1 padded."""
    bounds = sequence_bounds(cu_seqlens, q.shape[0])
    if max_seqlen is None:
        max_seqlen = max((stop - start for start, stop in bounds), default=0)
    max_blocks = -(-max_seqlen // block_size)
    selected = torch.full(
        (len(bounds), q.shape[1], max_blocks, top_k), -1, dtype=torch.int32, device=q.device
    )
    for index, (start, stop) in enumerate(bounds):
        if stop > start:
            chosen = _select_blocks(q[start:stop], k[start:stop], block_size, top_k)
            selected[index, :, : chosen.shape[1]] = chosen
    return selected


def _sparse_attend(q: Tensor, k: Tensor, v: Tensor, chosen: Tensor, block_size: int, scale: float):
    """Causal attention of one sequence over the key blocks ``chosen`` (H, n_blocks, top_k) of each query block.

    Each query block gathers only its selected key blocks, so the cost is ``n * top_k * block_size``.
    """
    length, n_heads, head_dim = q.shape
    n_kv_heads = k.shape[1]
    n_blocks = chosen.shape[1]
    padded = n_blocks * block_size
    k_blocks = torch.zeros(padded, n_kv_heads, head_dim, dtype=torch.float32, device=q.device)
    v_blocks = torch.zeros_like(k_blocks)
    k_blocks[:length] = k.float()
    v_blocks[:length] = v.float()
    k_blocks = k_blocks.reshape(n_blocks, block_size, n_kv_heads, head_dim)
    v_blocks = v_blocks.reshape(n_blocks, block_size, n_kv_heads, head_dim)
    kv_head = (torch.arange(n_heads, device=q.device) // (n_heads // n_kv_heads))[:, None]
    in_block = torch.arange(block_size, device=q.device)
    out = torch.zeros(length, n_heads, head_dim, dtype=torch.float32, device=q.device)
    lse = torch.full((n_heads, length), -math.inf, dtype=torch.float32, device=q.device)
    for block in range(n_blocks):
        start, stop = block * block_size, min((block + 1) * block_size, length)
        ids = chosen[:, block].long()
        safe_ids = ids.clamp(min=0)
        keys = k_blocks[safe_ids, :, kv_head, :].reshape(n_heads, -1, head_dim)
        values = v_blocks[safe_ids, :, kv_head, :].reshape(n_heads, -1, head_dim)
        key_pos = (safe_ids[..., None] * block_size + in_block).reshape(n_heads, 1, -1)
        usable = (
            ((ids >= 0) & (safe_ids <= block))[..., None].expand(-1, -1, block_size).reshape(n_heads, 1, -1)
        )
        query_pos = torch.arange(start, stop, device=q.device)[None, :, None]
        allowed = usable & (key_pos <= query_pos)
        scores = torch.matmul(q[start:stop].float().transpose(0, 1), keys.transpose(1, 2)) * scale
        block_out, block_lse = masked_softmax_times(scores, allowed, values)
        out[start:stop] = block_out.transpose(0, 1)
        lse[:, start:stop] = block_lse
    return out, lse


def block_sparse_attention_with_blocks(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    selected: Tensor,
    *,
    block_size: int,
    cu_seqlens: Tensor | None = None,
    max_seqlen: int | None = None,
    softmax_scale: float | None = None,
) -> tuple[Tensor, Tensor]:
    """Causal attention restricted to the key blocks in ``selected`` (as returned by ``block_gate``)."""
    scale = default_scale(q, softmax_scale)

    def attend(index: int, rows: slice, _: slice) -> tuple[Tensor, Tensor]:
        n_blocks = -(-(rows.stop - rows.start) // block_size)
        chosen = selected[index, :, :n_blocks]
        return _sparse_attend(q[rows], k[rows], v[rows], chosen, block_size, scale)

    return each_sequence(q, k, cu_seqlens, cu_seqlens, attend)
