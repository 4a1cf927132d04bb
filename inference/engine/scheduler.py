"""Which sequences run in the next step, and how many of their tokens: decodes, prefill chunks, admissions."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from inference.engine.config import EngineConfig
from inference.engine.sequence import Sequence, SequenceStatus
from inference.kv_cache import PagedKVCache, block_hashes

# The hash chain of prompts of `sparse_from` tokens or more, whose keys are block-sparse or follow block-sparse
# ones: prompts below it, whose keys are dense, never find those blocks, nor they theirs.
BLOCK_SPARSE_SALT = 1


@dataclass(frozen=True)
class PrefillChunk:
    """Positions `start .. start + length` of a sequence, computed in one step; a `sparse` chunk starts at 0
    and covers the prompt with block-sparse attention (a preempted prompt's, only the prefix it first found
    cached)."""

    sequence: Sequence
    start: int
    length: int
    sparse: bool = False

    @property
    def end(self) -> int:
        return self.start + self.length

    @property
    def completes_prompt(self) -> bool:
        return self.end == self.sequence.num_tokens


@dataclass(frozen=True)
class ScheduledBatch:
    """One step's work: prompt chunks, decoding sequences, and the sequences that ended for want of cache."""

    chunks: list[PrefillChunk]
    decodes: list[Sequence]
    ended: list[Sequence]

    @property
    def dense(self) -> list[PrefillChunk]:
        return [chunk for chunk in self.chunks if not chunk.sparse]

    @property
    def sparse(self) -> list[PrefillChunk]:
        return [chunk for chunk in self.chunks if chunk.sparse]

    @property
    def prefills(self) -> list[PrefillChunk]:
        """The chunks in the order of the forward step: dense, then block-sparse."""
        return self.dense + self.sparse

    @property
    def sampled(self) -> list[Sequence]:
        """The sequences that get a token from this step, in the order of the forward's logits."""
        return [chunk.sequence for chunk in self.prefills if chunk.completes_prompt] + self.decodes

    @property
    def is_empty(self) -> bool:
        return not self.chunks and not self.decodes


class Scheduler:
    """The waiting queue and the running sequences over the blocks of one paged KV cache."""

    def __init__(self, config: EngineConfig, cache: PagedKVCache, *, prefix_caching: bool) -> None:
        self.config = config
        self.cache = cache
        self.prefix_caching = prefix_caching
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []
        self.num_preemptions = 0
        self.num_cached_tokens = 0
        self.num_sparse_prefills = 0

    def has_unfinished(self) -> bool:
        return bool(self.waiting or self.running)

    def add(self, sequence: Sequence) -> None:
        self.waiting.append(sequence)

    def finish(self, sequence: Sequence, reason: str) -> None:
        """Take the sequence out of its queue and give its blocks back."""
        if sequence.status is SequenceStatus.WAITING:
            self.waiting.remove(sequence)
        elif sequence.status is SequenceStatus.RUNNING:
            self.running.remove(sequence)
        if sequence.blocks:
            self.cache.allocator.free(sequence.blocks)
            sequence.blocks = []
        sequence.status = SequenceStatus.FINISHED
        sequence.finish_reason = reason

    def schedule(self) -> ScheduledBatch:
        """Decodes first, then the next chunks of prompts under way, then new prompts, within the budget.

        Dense prompts are cut into chunks that fit the step's token budget; a prompt long enough for
        block-sparse attention is prefilled whole, alone among prefills. A prompt whose next uncached block
        another prompt is computing (in this step, or in a later chunk of a prompt under way) waits until it
        can find that block in the prefix cache.
        A preempted sequence comes back with the block-sparse chunk (if any) over its prompt alone, its
        generated tokens following as dense chunks, as they were first computed; one whose prompt was
        block-sparse recomputes it whole unless the prefix cache still holds all of it, and a long prompt that
        found a cached (block-sparse) prefix recomputes that prefix block-sparse unless the cache still holds
        it, the rest densely.
        """
        allocator = self.cache.allocator
        preempted = False
        decodes: list[Sequence] = []
        ended: list[Sequence] = []
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
                self.finish(sequence, "length")
                ended.append(sequence)
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
        hashes_in_flight = {
            block_hash
            for sequence in self.running
            for block_hash in sequence.block_hashes[sequence.num_computed // block_size :]
        }
        while self.waiting and not preempted:
            sequence = self.waiting[0]
            if len(self.running) >= self.config.max_num_seqs:
                break
            prompt_length = len(sequence.prompt_ids)
            if self.prefix_caching and len(sequence.block_hashes) != sequence.num_tokens // block_size:
                salt = BLOCK_SPARSE_SALT if prompt_length >= self.config.sparse_from else 0
                sequence.block_hashes = block_hashes(sequence.all_ids, block_size, salt=salt)
            hashes = sequence.block_hashes
            usable = hashes[: (sequence.num_tokens - 1) // block_size]
            cached = allocator.cached_prefix(usable)
            if len(cached) < len(usable) and usable[len(cached)] in hashes_in_flight:
                break
            if sequence.preempted:
                if len(cached) * block_size < sequence.sparse_tokens:
                    cached = []
                sparse, sparse_length = not cached and sequence.sparse_tokens > 0, sequence.sparse_tokens
            else:
                if prompt_length - len(cached) * block_size >= self.config.sparse_from:
                    cached = []
                sparse, sparse_length = not cached and prompt_length >= self.config.sparse_from, prompt_length
            if sparse and any(chunk.sparse for chunk in chunks):
                break
            if (sparse and sparse_length > budget and chunks) or (not sparse and budget <= 0):
                break
            needed = self.cache.blocks_needed(sequence.num_tokens) - len(cached)
            if needed > allocator.num_free - allocator.num_evictable_among(cached):
                break
            self.waiting.popleft()
            allocator.acquire(cached)
            sequence.blocks = cached + allocator.allocate(needed)
            sequence.status = SequenceStatus.RUNNING
            sequence.num_computed = len(cached) * block_size
            self.num_cached_tokens += sequence.num_computed
            if not sequence.preempted:
                sequence.cached_tokens = sequence.num_computed
                sequence.sparse_prefill = sparse
                if prompt_length >= self.config.sparse_from:
                    sequence.sparse_tokens = prompt_length if sparse else sequence.num_computed
            self.num_sparse_prefills += sparse
            hashes_in_flight.update(usable[len(cached) :])
            self.running.append(sequence)
            remaining = sequence.num_tokens - sequence.num_computed
            length = sparse_length if sparse else min(remaining, budget)
            chunks.append(PrefillChunk(sequence, sequence.num_computed, length, sparse))
            budget -= length
        return ScheduledBatch(chunks, decodes, ended)

    def computed(self, batch: ScheduledBatch) -> None:
        """Record that the step ran: sequences move past the tokens it computed, full prompt blocks are cached."""
        for chunk in batch.prefills:
            chunk.sequence.num_computed = chunk.end
            if self.prefix_caching:
                self._register_full_blocks(chunk.sequence, chunk.start, chunk.end)
        for sequence in batch.decodes:
            sequence.num_computed += 1
            if self.prefix_caching:
                self._register_full_blocks(sequence, sequence.num_computed - 1, sequence.num_computed)

    def _register_full_blocks(self, sequence: Sequence, start: int, end: int) -> None:
        block_size = self.cache.block_size
        for index in range(start // block_size, min(end // block_size, len(sequence.block_hashes))):
            self.cache.allocator.register(sequence.blocks[index], sequence.block_hashes[index])

    def _preempt(self, sequence: Sequence) -> None:
        """Recompute preemption: drop the sequence's cache blocks; it prefills prompt and output again later."""
        self.running.remove(sequence)
        self.cache.allocator.free(sequence.blocks)
        sequence.blocks = []
        sequence.num_computed = 0
        sequence.status = SequenceStatus.WAITING
        sequence.preempted = True
        self.num_preemptions += 1
        position = next(
            (i for i, queued in enumerate(self.waiting) if queued.arrival > sequence.arrival), None
        )
        if position is None:
            self.waiting.append(sequence)
        else:
            self.waiting.insert(position, sequence)
