"""The model and its paged KV cache: packs a scheduled step into a `BatchLayout`, runs it, samples."""

from __future__ import annotations

import itertools

import torch

from inference.engine.config import EngineConfig, default_kv_cache_bytes
from inference.engine.scheduler import ScheduledBatch
from inference.engine.sequence import Sequence
from inference.kv_cache import PagedKVCache
from inference.model import BatchLayout, LlamaModel
from inference.sampling import TokenLogprobs, adjust_logits, sample_next_tokens, token_logprobs


class ModelRunner:
    """Owns the KV cache (sized from `config`) and runs one mixed prefill/decode forward per call."""

    def __init__(self, model: LlamaModel, config: EngineConfig) -> None:
        self.model = model
        self.config = config
        num_blocks = config.num_blocks
        if num_blocks is None:
            per_block = PagedKVCache.bytes_per_block(
                num_layers=model.config.num_hidden_layers,
                block_size=config.block_size,
                num_kv_heads=model.config.num_key_value_heads,
                head_dim=model.config.head_dim,
                dtype=model.dtype,
            )
            num_blocks = max(1, (config.kv_cache_bytes or default_kv_cache_bytes(model.device)) // per_block)
        self.cache = model.new_cache(num_blocks=num_blocks, block_size=config.block_size)
        self.last_logprobs: dict[int, TokenLogprobs] = {}

    def run(self, batch: ScheduledBatch) -> list[int]:
        """The next token of each of `batch.sampled`, in that order. For each sampled sequence that asks for
        log-probabilities (`SamplingParams.logprobs`), `last_logprobs` maps its place in `batch.sampled` to
        its token's `TokenLogprobs`."""
        logits = self.model.forward(
            self.layout(batch),
            self.cache,
            sparse_block_size=self.config.sparse_block_size,
            sparse_top_k=self.config.sparse_top_k,
        )
        sampled = batch.sampled
        adjusted = logits
        if any(seq.params.adjusts_logits for seq in sampled):
            adjusted = adjust_logits(
                logits,
                [seq.output_ids for seq in sampled],
                [seq.params.frequency_penalty for seq in sampled],
                [seq.params.presence_penalty for seq in sampled],
                [seq.params.logit_bias for seq in sampled],
            )
        chosen = sample_next_tokens(
            adjusted,
            [seq.params.temperature for seq in sampled],
            [seq.params.top_p for seq in sampled],
            [seq.generator for seq in sampled],
        )
        asking = [row for row, seq in enumerate(sampled) if seq.params.logprobs is not None]
        self.last_logprobs = {}
        if asking:
            found = token_logprobs(
                logits[asking],
                [chosen[row] for row in asking],
                [sampled[row].params.logprobs for row in asking],
            )
            self.last_logprobs = dict(zip(asking, found, strict=True))
        return chosen

    def layout(self, batch: ScheduledBatch) -> BatchLayout:
        """Every token of the step packed along dim 0: dense chunks, block-sparse chunks, then decodes."""
        dense, sparse, decodes = batch.dense, batch.sparse, batch.decodes
        block_size = self.cache.block_size
        input_ids: list[int] = []
        positions: list[int] = []
        slots: list[int] = []
        logits_indices: list[int] = []
        bounds: list[tuple[int, int, int]] = []

        def slot(sequence: Sequence, position: int) -> int:
            return sequence.blocks[position // block_size] * block_size + position % block_size

        def offsets(lengths: list[int]) -> torch.Tensor:
            return torch.tensor([0, *itertools.accumulate(lengths)], dtype=torch.int32, device=device)

        device = self.model.device
        for chunk in dense + sparse:
            sequence = chunk.sequence
            start = len(input_ids)
            input_ids.extend(sequence.all_ids[chunk.start : chunk.end])
            positions.extend(range(chunk.start, chunk.end))
            slots.extend(slot(sequence, position) for position in range(chunk.start, chunk.end))
            bounds.extend(_rope_bounds(sequence, chunk.start, chunk.end, start))
            if chunk.completes_prompt:
                logits_indices.append(len(input_ids) - 1)
        for sequence in decodes:
            position = sequence.num_tokens - 1
            input_ids.append(sequence.output_ids[-1] if sequence.output_ids else sequence.prompt_ids[-1])
            positions.append(position)
            slots.append(slot(sequence, position))
            bounds.append((len(input_ids) - 1, len(input_ids), sequence.num_tokens))
            logits_indices.append(len(input_ids) - 1)
        context_slots = None
        if any(chunk.start > 0 for chunk in dense):
            context_slots = torch.tensor(
                [slot(chunk.sequence, position) for chunk in dense for position in range(chunk.end)],
                dtype=torch.long,
                device=device,
            )
        max_blocks = max((len(seq.blocks) for seq in decodes), default=0)
        block_tables = torch.zeros((len(decodes), max_blocks), dtype=torch.int32)
        for row, sequence in enumerate(decodes):
            block_tables[row, : len(sequence.blocks)] = torch.tensor(sequence.blocks, dtype=torch.int32)
        return BatchLayout(
            input_ids=torch.tensor(input_ids, dtype=torch.long, device=device),
            positions=torch.tensor(positions, dtype=torch.long, device=device),
            slots=torch.tensor(slots, dtype=torch.long, device=device),
            dense_cu_seqlens=offsets([chunk.length for chunk in dense]),
            dense_max_len=max((chunk.length for chunk in dense), default=0),
            dense_cu_seqlens_k=offsets([chunk.end for chunk in dense]),
            dense_max_len_k=max((chunk.end for chunk in dense), default=0),
            dense_context_slots=context_slots,
            sparse_cu_seqlens=offsets([chunk.length for chunk in sparse]),
            sparse_max_len=max((chunk.length for chunk in sparse), default=0),
            decode_block_tables=block_tables.to(device),
            decode_context_lens=torch.tensor(
                [seq.num_tokens for seq in decodes], dtype=torch.int32, device=device
            ),
            logits_indices=torch.tensor(logits_indices, dtype=torch.long, device=device),
            sequence_bounds=tuple(bounds),
        )


def _rope_bounds(sequence: Sequence, first: int, stop: int, offset: int) -> list[tuple[int, int, int]]:
    """`(start, end, seq_len)` of positions `first..stop` of `sequence`, packed from `offset`, with the length
    each was first rotated with: the prompt's length for the prompt, `p + 1` for the token produced at `p`
    (a preempted sequence recomputes its produced tokens too)."""
    prompt_len = len(sequence.prompt_ids)
    bounds = []
    if first < prompt_len:
        bounds.append((offset, offset + min(stop, prompt_len) - first, prompt_len))
    for position in range(max(first, prompt_len), stop):
        bounds.append((offset + position - first, offset + position - first + 1, position + 1))
    return bounds
