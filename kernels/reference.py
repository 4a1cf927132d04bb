"""Pure-PyTorch references of every op, with the same signatures as the dispatcher in ``kernels``.

They compute in float32 whatever the input dtype and work on any device. On the CPU, dense attention goes
through torch's CPU flash kernel where it applies; otherwise queries are processed in chunks that touch only
the keys they can see, so long sequences fit in memory. Inputs are assumed valid: ``kernels`` checks them.
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import Tensor

from kernels.rope_spec import RopeSpec

# Score elements (heads x query rows x keys) materialised at once by the chunked references.
_CHUNK_ELEMENTS = 1 << 24


def _sequence_bounds(cu_seqlens: Tensor | None, total: int) -> list[tuple[int, int]]:
    if cu_seqlens is None:
        return [(0, total)]
    bounds = cu_seqlens.tolist()
    return list(itertools.pairwise(bounds))


def _masked_softmax_times(scores: Tensor, allowed: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
    """softmax(scores over the allowed keys) @ values, and the log-sum-exp; rows with no key give 0 and -inf."""
    scores = scores.masked_fill(~allowed, -math.inf)
    lse = torch.logsumexp(scores, dim=-1)
    probs = torch.exp(scores - lse.nan_to_num(neginf=0.0)[..., None])
    return torch.matmul(probs, values), lse


# torch's CPU flash-attention kernel, which also returns the log-sum-exp; absent from some torch builds.
_CPU_FLASH = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)


def _attend_cpu_flash(
    q: Tensor, k: Tensor, v: Tensor, scale: float, *, causal: bool
) -> tuple[Tensor, Tensor]:
    """``_attend`` through torch's CPU flash kernel, one KV head (and its query heads) at a time."""
    n_heads, n_kv_heads = q.shape[1], k.shape[1]
    group = n_heads // n_kv_heads
    qf = q.float().permute(1, 0, 2)
    kf = k.float().permute(1, 0, 2)
    vf = v.float().permute(1, 0, 2)
    outs, lses = [], []
    for kv_head in range(n_kv_heads):
        heads = slice(kv_head * group, (kv_head + 1) * group)
        keys = kf[kv_head : kv_head + 1].expand(group, -1, -1)
        values = vf[kv_head : kv_head + 1].expand(group, -1, -1)
        out, lse = _CPU_FLASH(qf[None, heads], keys[None], values[None], 0.0, causal, scale=scale)
        outs.append(out[0])
        lses.append(lse[0])
    return torch.cat(outs).permute(1, 0, 2), torch.cat(lses)


def _attend(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    scale: float,
    *,
    causal: bool,
    window: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Attention of one sequence: q (Lq, H, D), k/v (Lk, Hkv, D) -> out (Lq, H, D) float32, lse (H, Lq).

    Query ``i`` sits at key position ``i + Lk - Lq`` (bottom-right alignment).
    """
    len_q, n_heads, head_dim = q.shape
    len_k, n_kv_heads, _ = k.shape
    group = n_heads // n_kv_heads
    out = torch.zeros(len_q, n_heads, head_dim, dtype=torch.float32, device=q.device)
    lse = torch.full((n_heads, len_q), -math.inf, dtype=torch.float32, device=q.device)
    if len_q == 0 or len_k == 0:
        return out, lse
    if (
        _CPU_FLASH is not None
        and q.device.type == "cpu"
        and window is None
        and (not causal or len_q == len_k)
    ):
        return _attend_cpu_flash(q, k, v, scale, causal=causal)
    offset = len_k - len_q
    qf = q.float().permute(1, 0, 2).reshape(n_kv_heads, group, len_q, head_dim)
    kf = k.float().permute(1, 0, 2)
    vf = v.float().permute(1, 0, 2)
    rows_per_chunk = max(1, _CHUNK_ELEMENTS // (n_heads * max(len_k, 1)))
    for start in range(0, len_q, rows_per_chunk):
        stop = min(len_q, start + rows_per_chunk)
        key_lo, key_hi = 0, len_k
        if causal:
            key_hi = max(0, min(len_k, stop + offset))
        if window is not None:
            key_lo = min(key_hi, max(0, start + offset - window + 1))
        if key_hi <= key_lo:
            continue
        rows = torch.arange(start, stop, device=q.device)
        cols = torch.arange(key_lo, key_hi, device=q.device)
        allowed = torch.ones(stop - start, key_hi - key_lo, dtype=torch.bool, device=q.device)
        if causal:
            allowed &= cols[None, :] <= rows[:, None] + offset
        if window is not None:
            allowed &= cols[None, :] > rows[:, None] + offset - window
        scores = torch.matmul(qf[:, :, start:stop], kf[:, None, key_lo:key_hi].transpose(-1, -2)) * scale
        chunk_out, chunk_lse = _masked_softmax_times(scores, allowed, vf[:, None, key_lo:key_hi])
        out[start:stop] = chunk_out.reshape(n_heads, stop - start, head_dim).permute(1, 0, 2)
        lse[:, start:stop] = chunk_lse.reshape(n_heads, stop - start)
    return out, lse


_DECODE_GATHER_TOKENS = 1 << 20


def _default_scale(q: Tensor, softmax_scale: float | None) -> float:
    return 1.0 / math.sqrt(q.shape[-1]) if softmax_scale is None else softmax_scale


def flash_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    causal: bool = True,
    cu_seqlens_q: Tensor | None = None,
    cu_seqlens_k: Tensor | None = None,
    max_seqlen_q: int | None = None,
    max_seqlen_k: int | None = None,
    softmax_scale: float | None = None,
) -> tuple[Tensor, Tensor]:
    scale = _default_scale(q, softmax_scale)
    out = torch.empty_like(q)
    lse = torch.empty(q.shape[1], q.shape[0], dtype=torch.float32, device=q.device)
    q_bounds = _sequence_bounds(cu_seqlens_q, q.shape[0])
    k_bounds = _sequence_bounds(cu_seqlens_k, k.shape[0])
    for (q0, q1), (k0, k1) in zip(q_bounds, k_bounds, strict=True):
        seq_out, seq_lse = _attend(q[q0:q1], k[k0:k1], v[k0:k1], scale, causal=causal)
        out[q0:q1] = seq_out.to(q.dtype)
        lse[:, q0:q1] = seq_lse
    return out, lse


def sliding_window_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    window: int,
    cu_seqlens: Tensor | None = None,
    max_seqlen: int | None = None,
    softmax_scale: float | None = None,
) -> tuple[Tensor, Tensor]:
    scale = _default_scale(q, softmax_scale)
    out = torch.empty_like(q)
    lse = torch.empty(q.shape[1], q.shape[0], dtype=torch.float32, device=q.device)
    for start, stop in _sequence_bounds(cu_seqlens, q.shape[0]):
        seq_out, seq_lse = _attend(
            q[start:stop], k[start:stop], v[start:stop], scale, causal=True, window=window
        )
        out[start:stop] = seq_out.to(q.dtype)
        lse[:, start:stop] = seq_lse
    return out, lse


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
    bounds = _sequence_bounds(cu_seqlens, q.shape[0])
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
        block_out, block_lse = _masked_softmax_times(scores, allowed, values)
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
    softmax_scale: float | None = None,
) -> tuple[Tensor, Tensor]:
    """Causal attention restricted to the key blocks in ``selected`` (as returned by ``block_gate``)."""
    scale = _default_scale(q, softmax_scale)
    out = torch.empty_like(q)
    lse = torch.empty(q.shape[1], q.shape[0], dtype=torch.float32, device=q.device)
    for index, (start, stop) in enumerate(_sequence_bounds(cu_seqlens, q.shape[0])):
        n_blocks = -(-(stop - start) // block_size)
        chosen = selected[index, :, :n_blocks]
        seq_out, seq_lse = _sparse_attend(
            q[start:stop], k[start:stop], v[start:stop], chosen, block_size, scale
        )
        out[start:stop] = seq_out.to(q.dtype)
        lse[:, start:stop] = seq_lse
    return out, lse


def block_sparse_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    block_size: int,
    top_k: int,
    cu_seqlens: Tensor | None = None,
    max_seqlen: int | None = None,
    softmax_scale: float | None = None,
) -> tuple[Tensor, Tensor]:
    selected = block_gate(
        q, k, block_size=block_size, top_k=top_k, cu_seqlens=cu_seqlens, max_seqlen=max_seqlen
    )
    return block_sparse_attention_with_blocks(
        q, k, v, selected, block_size=block_size, cu_seqlens=cu_seqlens, softmax_scale=softmax_scale
    )


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
    gathered keys stay within ``_DECODE_GATHER_TOKENS``; each group is padded to its longest and masked.
    The query heads sharing a KV head ride as that head's query rows, so one ``scaled_dot_product_attention``
    call serves GQA."""
    scale = _default_scale(q, softmax_scale)
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
            and (end + 1 - begin) * longest <= _DECODE_GATHER_TOKENS
        ):
            end += 1
        rows = order[begin:end]
        n_pages = -(-longest // page_size)
        pages = block_tables[rows, :n_pages].long().clamp(min=0).flatten()
        gathered = (len(rows), n_pages * page_size, n_kv_heads, head_dim)
        keys = k_cache.index_select(0, pages).view(gathered).transpose(1, 2).float()
        values = v_cache.index_select(0, pages).view(gathered).transpose(1, 2).float()
        queries = q[rows].float().view(-1, n_kv_heads, group, head_dim)
        positions = torch.arange(n_pages * page_size, device=q.device)
        visible = (positions[None, :] < lengths[rows, None])[:, None, None, :]
        attended = F.scaled_dot_product_attention(queries, keys, values, attn_mask=visible, scale=scale)
        out[rows] = attended.reshape(-1, n_heads, head_dim).to(q.dtype)
        begin = end
    return out


def rope_cos_sin(positions: Tensor, spec: RopeSpec, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """cos and sin (tokens, rotary_dim) in ``dtype``, computed as transformers' rotary embedding does."""
    seq_len = int(positions.max().item()) + 1 if positions.numel() else 0
    inv_freq, scaling = spec.inv_freq(seq_len)
    freqs = positions[:, None].float() * inv_freq.to(positions.device)[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return (emb.cos() * scaling).to(dtype), (emb.sin() * scaling).to(dtype)


def _rotate_(x: Tensor, cos: Tensor, sin: Tensor) -> None:
    rotary = x[..., : cos.shape[-1]]
    half = cos.shape[-1] // 2
    rotated_half = torch.cat((-rotary[..., half:], rotary[..., :half]), dim=-1)
    rotary.copy_(rotary * cos[:, None, :] + rotated_half * sin[:, None, :])


def apply_rope_(q: Tensor, k: Tensor, positions: Tensor, spec: RopeSpec) -> None:
    cos, sin = rope_cos_sin(positions, spec, q.dtype)
    _rotate_(q, cos, sin)
    _rotate_(k, cos, sin)
