"""Continuous-batching engine: a scheduler over a paged KV cache, mixing prefills and decodes in each step."""

from __future__ import annotations

import itertools
import os
from collections import deque
from collections.abc import Sequence as SequenceOf
from dataclasses import dataclass, field
from enum import Enum

import torch

from inference.kv_cache import PagedKVCache, block_hashes
from inference.model import LENGTH_DEPENDENT_ROPE, BatchLayout, LlamaModel
from inference.sampling import sample_next_tokens
from inference.tokenizer import ChatTokenizer

DEFAULT_SPARSE_FROM = 8192
CPU_KV_CACHE_BYTES = 512 * 2**20


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    ignore_eos: bool = False
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {self.max_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be non-negative, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if any(not isinstance(text, str) or not text for text in self.stop):
            raise ValueError("stop strings must be non-empty strings")


def sparse_from_env() -> int:
    """`QUIRE_SPARSE_FROM`: prompt length from which prefill uses block-sparse attention."""
    text = os.environ.get("QUIRE_SPARSE_FROM", "").strip()
    if not text:
        return DEFAULT_SPARSE_FROM
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"QUIRE_SPARSE_FROM must be a positive integer, got {text!r}")
    return int(text)


def default_kv_cache_bytes(device: torch.device) -> int:
    """Memory for the KV cache when none is given: 80% of what is free on a GPU, 512 MiB elsewhere."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free * 0.8)
    return CPU_KV_CACHE_BYTES


@dataclass(frozen=True)
class EngineConfig:
    block_size: int = 16
    num_blocks: int | None = None
    kv_cache_bytes: int | None = None
    max_num_seqs: int = 64
    max_num_batched_tokens: int = 8192
    max_model_len: int | None = None
    sparse_from: int = field(default_factory=lambda: sparse_from_env())
    sparse_block_size: int = 64
    enable_prefix_cache: bool = True
    sparse_top_k: int = 8

    def __post_init__(self) -> None:
        for name in (
            "block_size",
            "max_num_seqs",
            "max_num_batched_tokens",
            "sparse_block_size",
            "sparse_top_k",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.sparse_block_size % 16:
            raise ValueError(f"sparse_block_size must be a multiple of 16, got {self.sparse_block_size}")
        if self.kv_cache_bytes is not None and self.kv_cache_bytes < 1:
            raise ValueError(f"kv_cache_bytes must be positive, got {self.kv_cache_bytes}")
        if self.num_blocks is not None and self.num_blocks < 1:
            raise ValueError(f"num_blocks must be positive, got {self.num_blocks}")


class SequenceStatus(Enum):
    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"


@dataclass
class Sequence:
    request_id: str
    prompt_ids: list[int]
    params: SamplingParams
    arrival: int
    generator: torch.Generator | None
    output_ids: list[int] = field(default_factory=list)
    blocks: list[int] = field(default_factory=list)
    status: SequenceStatus = SequenceStatus.WAITING
    finish_reason: str | None = None
    text: str = ""
    emitted_chars: int = 0
    num_computed: int = 0
    block_hashes: list[int] = field(default_factory=list)
    sparse_prefill: bool = False

    @property
    def num_tokens(self) -> int:
        return len(self.prompt_ids) + len(self.output_ids)

    @property
    def all_ids(self) -> list[int]:
        return self.prompt_ids + self.output_ids


@dataclass(frozen=True)
class PrefillChunk:
    """Prompt positions `start .. start + length` of a sequence, computed in one step."""

    sequence: Sequence
    start: int
    length: int

    @property
    def end(self) -> int:
        return self.start + self.length

    @property
    def completes_prompt(self) -> bool:
        return self.end == self.sequence.num_tokens


@dataclass
class StepOutput:
    """What one step produced for one request: new tokens, the text they add, and whether it ended."""

    request_id: str
    new_token_ids: list[int]
    text_delta: str
    finished: bool
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int


@dataclass
class GenerationResult:
    request_id: str
    prompt_ids: list[int]
    output_ids: list[int]
    text: str
    finish_reason: str | None


def _longest_stop_prefix_suffix(text: str, stops: SequenceOf[str]) -> int:
    """Length of the longest end of `text` that could still grow into one of `stops`."""
    longest = 0
    for stop in stops:
        for length in range(min(len(stop) - 1, len(text)), longest, -1):
            if stop.startswith(text[-length:]):
                longest = length
                break
    return longest


class Engine:
    """Schedules requests over a paged KV cache and runs one mixed prefill/decode forward per `step()`.

    Not thread-safe: `inference.service.EngineService` drives it from one thread for the server.
    """

    def __init__(
        self, model: LlamaModel, tokenizer: ChatTokenizer | None = None, config: EngineConfig | None = None
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.config = config or EngineConfig()
        self.max_model_len = self.config.max_model_len or model.config.max_position_embeddings
        num_blocks = self.config.num_blocks
        if num_blocks is None:
            per_block = PagedKVCache.bytes_per_block(
                num_layers=model.config.num_hidden_layers,
                block_size=self.config.block_size,
                num_kv_heads=model.config.num_key_value_heads,
                head_dim=model.config.head_dim,
                dtype=model.dtype,
            )
            num_blocks = max(
                1, (self.config.kv_cache_bytes or default_kv_cache_bytes(model.device)) // per_block
            )
        self.cache = model.new_cache(num_blocks=num_blocks, block_size=self.config.block_size)
        eos = set(model.config.eos_token_ids)
        if tokenizer is not None and tokenizer.eos_token_id is not None:
            eos.add(tokenizer.eos_token_id)
        self.eos_token_ids = frozenset(eos)
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []
        self.requests: dict[str, Sequence] = {}
        self._pending_outputs: list[StepOutput] = []
        self._arrivals = itertools.count()
        self.prefix_caching = (
            self.config.enable_prefix_cache and model.rope.rope_type not in LENGTH_DEPENDENT_ROPE
        )
        self.stats = {
            "steps": 0,
            "prefill_tokens": 0,
            "decode_tokens": 0,
            "preemptions": 0,
            "cached_tokens": 0,
        }

    @property
    def num_free_blocks(self) -> int:
        return self.cache.allocator.num_free

    def has_work(self) -> bool:
        return bool(self.waiting or self.running or self._pending_outputs)

    def add_request(
        self, prompt_ids: SequenceOf[int], params: SamplingParams, request_id: str | None = None
    ) -> str:
        prompt = [int(token) for token in prompt_ids]
        if not prompt:
            raise ValueError("the prompt is empty")
        vocab = self.model.config.vocab_size
        if min(prompt) < 0 or max(prompt) >= vocab:
            raise ValueError(f"prompt token ids must lie in [0, {vocab})")
        if len(prompt) >= self.max_model_len:
            raise ValueError(
                f"the prompt has {len(prompt)} tokens; this model's context is {self.max_model_len} tokens"
            )
        if self.cache.blocks_needed(len(prompt) + 1) > self.cache.num_blocks:
            raise ValueError(
                f"the prompt has {len(prompt)} tokens; the KV cache holds "
                f"{self.cache.num_blocks * self.cache.block_size} tokens"
            )
        if params.stop and self.tokenizer is None:
            raise ValueError("stop strings need an engine with a tokenizer")
        arrival = next(self._arrivals)
        request_id = request_id or f"req-{arrival}"
        if request_id in self.requests:
            raise ValueError(f"request id {request_id!r} is already in use")
        generator = None
        if params.temperature > 0:
            generator = torch.Generator()
            generator.manual_seed(params.seed if params.seed is not None else torch.seed())
        sequence = Sequence(request_id, prompt, params, arrival, generator)
        self.requests[request_id] = sequence
        self.waiting.append(sequence)
        return request_id

    def cancel(self, request_id: str) -> bool:
        """Stop a request; its blocks go back to the pool and a final output says `cancelled`."""
        sequence = self.requests.get(request_id)
        if sequence is None or sequence.status is SequenceStatus.FINISHED:
            return False
        if sequence.status is SequenceStatus.WAITING:
            self.waiting.remove(sequence)
        else:
            self.running.remove(sequence)
        self._finish(sequence, "cancelled")
        self._pending_outputs.append(self._output(sequence, [], ""))
        return True

    def step(self) -> list[StepOutput]:
        outputs, self._pending_outputs = self._pending_outputs, []
        chunks, decodes = self._schedule()
        outputs.extend(self._pending_outputs)
        self._pending_outputs = []
        if not chunks and not decodes:
            return outputs
        dense = [chunk for chunk in chunks if not chunk.sequence.sparse_prefill]
        sparse = [chunk for chunk in chunks if chunk.sequence.sparse_prefill]
        batch = self._layout(dense, sparse, decodes)
        logits = self.model.forward(
            batch,
            self.cache,
            sparse_block_size=self.config.sparse_block_size,
            sparse_top_k=self.config.sparse_top_k,
        )
        for chunk in dense + sparse:
            chunk.sequence.num_computed = chunk.end
            if self.prefix_caching:
                self._register_full_blocks(chunk)
        for sequence in decodes:
            sequence.num_computed += 1
        sampled = [chunk.sequence for chunk in dense + sparse if chunk.completes_prompt] + decodes
        next_tokens = sample_next_tokens(
            logits,
            [seq.params.temperature for seq in sampled],
            [seq.params.top_p for seq in sampled],
            [seq.generator for seq in sampled],
        )
        self.stats["steps"] += 1
        self.stats["prefill_tokens"] += sum(chunk.length for chunk in chunks)
        self.stats["decode_tokens"] += len(decodes)
        for sequence, token in zip(sampled, next_tokens, strict=True):
            outputs.append(self._append_token(sequence, token))
        return outputs

    def generate(
        self, prompts: SequenceOf[SequenceOf[int]], params: SamplingParams
    ) -> list[GenerationResult]:
        """Run `prompts` to completion together; results in prompt order."""
        ids = [self.add_request(prompt, params) for prompt in prompts]
        while self.has_work():
            self.step()
        results = []
        for request_id in ids:
            sequence = self.requests.pop(request_id)
            results.append(
                GenerationResult(
                    request_id,
                    sequence.prompt_ids,
                    sequence.output_ids,
                    sequence.text,
                    sequence.finish_reason,
                )
            )
        return results

    def release(self, request_id: str) -> None:
        """Forget a finished request."""
        sequence = self.requests.get(request_id)
        if sequence is not None and sequence.status is SequenceStatus.FINISHED:
            del self.requests[request_id]

    def _register_full_blocks(self, chunk: PrefillChunk) -> None:
        sequence = chunk.sequence
        block_size = self.cache.block_size
        for index in range(
            chunk.start // block_size, min(chunk.end // block_size, len(sequence.block_hashes))
        ):
            self.cache.allocator.register(sequence.blocks[index], sequence.block_hashes[index])

    def _schedule(self) -> tuple[list[PrefillChunk], list[Sequence]]:
        """Decodes first, then the next chunks of prompts under way, then new prompts, within the budget.

        Dense prompts are cut into chunks that fit the step's token budget; a prompt long enough for
        block-sparse attention is prefilled whole, alone among prefills. A prompt whose next uncached block
        is being computed for another prompt in this step waits one step, to find it in the prefix cache.
        """
        allocator = self.cache.allocator
        preempted = False
        decodes: list[Sequence] = []
        for sequence in list(self.running):
            if (
                sequence.status is not SequenceStatus.RUNNING
                or sequence.num_tokens - sequence.num_computed > 1
            ):
                continue
            needed = self.cache.blocks_needed(sequence.num_tokens) - len(sequence.blocks)
            while needed > allocator.num_free:
                victim = self.running[-1]
                if victim is sequence and len(self.running) == 1:
                    break
                self._preempt(victim)
                preempted = True
                if victim is sequence:
                    break
            if sequence.status is not SequenceStatus.RUNNING:
                continue
            if needed > allocator.num_free:
                self._finish(sequence, "length")
                self.running.remove(sequence)
                self._pending_outputs.append(self._flush_text(sequence))
                continue
            if needed:
                sequence.blocks.extend(allocator.allocate(needed))
            decodes.append(sequence)
        budget = self.config.max_num_batched_tokens - len(decodes)
        chunks: list[PrefillChunk] = []
        for sequence in self.running:
            remaining = sequence.num_tokens - sequence.num_computed
            if remaining > 1 and budget > 0:
                length = min(remaining, budget)
                chunks.append(PrefillChunk(sequence, sequence.num_computed, length))
                budget -= length
        block_size = self.cache.block_size
        hashes_in_flight: set[int] = set()
        while self.waiting and not preempted:
            sequence = self.waiting[0]
            if len(self.running) >= self.config.max_num_seqs:
                break
            if self.prefix_caching and len(sequence.block_hashes) != sequence.num_tokens // block_size:
                sequence.block_hashes = block_hashes(sequence.all_ids, block_size)
            hashes = sequence.block_hashes
            usable = hashes[: (sequence.num_tokens - 1) // block_size]
            cached = allocator.cached_prefix(usable)
            if len(cached) < len(usable) and usable[len(cached)] in hashes_in_flight:
                break
            sparse = not cached and sequence.num_tokens >= self.config.sparse_from
            if sparse and any(chunk.sequence.sparse_prefill for chunk in chunks):
                break
            if (sparse and sequence.num_tokens > budget and chunks) or (not sparse and budget <= 0):
                break
            needed = self.cache.blocks_needed(sequence.num_tokens) - len(cached)
            if needed > allocator.num_free - allocator.num_evictable_among(cached):
                break
            self.waiting.popleft()
            allocator.acquire(cached)
            sequence.blocks = cached + allocator.allocate(needed)
            sequence.sparse_prefill = sparse
            sequence.status = SequenceStatus.RUNNING
            sequence.num_computed = len(cached) * block_size
            self.stats["cached_tokens"] += sequence.num_computed
            hashes_in_flight.update(usable[len(cached) :])
            self.running.append(sequence)
            remaining = sequence.num_tokens - sequence.num_computed
            length = remaining if sparse else min(remaining, budget)
            chunks.append(PrefillChunk(sequence, sequence.num_computed, length))
            budget -= length
        return chunks, decodes

    def _preempt(self, sequence: Sequence) -> None:
        """Recompute preemption: drop the sequence's cache blocks; it prefills prompt and output again later."""
        self.running.remove(sequence)
        self.cache.allocator.free(sequence.blocks)
        sequence.blocks = []
        sequence.num_computed = 0
        sequence.status = SequenceStatus.WAITING
        self.stats["preemptions"] += 1
        position = next(
            (i for i, queued in enumerate(self.waiting) if queued.arrival > sequence.arrival), None
        )
        if position is None:
            self.waiting.append(sequence)
        else:
            self.waiting.insert(position, sequence)

    def _layout(
        self, dense: list[PrefillChunk], sparse: list[PrefillChunk], decodes: list[Sequence]
    ) -> BatchLayout:
        block_size = self.cache.block_size
        input_ids: list[int] = []
        positions: list[int] = []
        slots: list[int] = []
        logits_indices: list[int] = []
        bounds: list[tuple[int, int]] = []

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
            bounds.append((start, len(input_ids)))
            if chunk.completes_prompt:
                logits_indices.append(len(input_ids) - 1)
        for sequence in decodes:
            position = sequence.num_tokens - 1
            input_ids.append(sequence.output_ids[-1] if sequence.output_ids else sequence.prompt_ids[-1])
            positions.append(position)
            slots.append(slot(sequence, position))
            bounds.append((len(input_ids) - 1, len(input_ids)))
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

    def _append_token(self, sequence: Sequence, token: int) -> StepOutput:
        sequence.output_ids.append(token)
        params = sequence.params
        reason = None
        if (not params.ignore_eos and token in self.eos_token_ids) or token in params.stop_token_ids:
            reason = "stop"
        elif len(sequence.output_ids) >= params.max_tokens or sequence.num_tokens >= self.max_model_len:
            reason = "length"
        delta = ""
        if self.tokenizer is not None:
            visible = sequence.output_ids[:-1] if reason == "stop" else sequence.output_ids
            sequence.text = self.tokenizer.decode(visible)
            if params.stop:
                cut = min(
                    (i for i in (sequence.text.find(stop) for stop in params.stop) if i >= 0), default=-1
                )
                if cut >= 0:
                    sequence.text = sequence.text[:cut]
                    reason = "stop"
            end = len(sequence.text)
            if reason is None:
                end -= _longest_stop_prefix_suffix(sequence.text, params.stop)
                while end > sequence.emitted_chars and sequence.text[end - 1] == "\ufffd":
                    end -= 1
            delta = sequence.text[sequence.emitted_chars : end]
            sequence.emitted_chars = max(sequence.emitted_chars, end)
        if reason is not None:
            self.running.remove(sequence)
            self._finish(sequence, reason)
        return self._output(sequence, [token], delta)

    def _flush_text(self, sequence: Sequence) -> StepOutput:
        delta = sequence.text[sequence.emitted_chars :]
        sequence.emitted_chars = len(sequence.text)
        return self._output(sequence, [], delta)

    def _finish(self, sequence: Sequence, reason: str) -> None:
        if sequence.blocks:
            self.cache.allocator.free(sequence.blocks)
            sequence.blocks = []
        sequence.status = SequenceStatus.FINISHED
        sequence.finish_reason = reason

    def _output(self, sequence: Sequence, new_tokens: list[int], delta: str) -> StepOutput:
        finished = sequence.status is SequenceStatus.FINISHED
        return StepOutput(
            request_id=sequence.request_id,
            new_token_ids=new_tokens,
            text_delta=delta,
            finished=finished,
            finish_reason=sequence.finish_reason if finished else None,
            prompt_tokens=len(sequence.prompt_ids),
            completion_tokens=len(sequence.output_ids),
        )
