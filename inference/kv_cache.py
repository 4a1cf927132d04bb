"""Paged KV cache: fixed-size blocks of keys and values, handed out to sequences by a block allocator."""

from __future__ import annotations

import hashlib
from array import array
from collections import OrderedDict

import torch

HASH_BYTES = 16


class BlockAllocator:
    """Reference-counted cache blocks, with full prompt blocks remembered by the hash of their tokens.

    A block whose last reference goes stays findable by its hash (prefix caching) until a new
    allocation needs the room; such blocks count as free and the least recently released goes first.
    """

    def __init__(self, num_blocks: int) -> None:
        if num_blocks <= 0:
            raise ValueError(f"num_blocks must be positive, got {num_blocks}")
        self.num_blocks = num_blocks
        self._free = list(range(num_blocks - 1, -1, -1))
        self._refcounts: dict[int, int] = {}
        self._block_by_hash: dict[int, int] = {}
        self._hash_by_block: dict[int, int] = {}
        self._evictable: OrderedDict[int, None] = OrderedDict()

    @property
    def num_free(self) -> int:
        return len(self._free) + len(self._evictable)

    def allocate(self, count: int = 1) -> list[int]:
        if count > self.num_free:
            raise MemoryError(f"asked for {count} cache blocks, {self.num_free} free")
        blocks = []
        for _ in range(count):
            if self._free:
                block = self._free.pop()
            else:
                block, _ = self._evictable.popitem(last=False)
                del self._block_by_hash[self._hash_by_block.pop(block)]
            self._refcounts[block] = 1
            blocks.append(block)
        return blocks

    def free(self, blocks: list[int]) -> None:
        """Drop a reference to each of a sequence's `blocks`, last block first: the cached blocks that become
        evictable go in that order, so eviction takes a prefix's tail before its head, which a later
        prompt can still find."""
        for block in reversed(blocks):
            count = self._refcounts.get(block)
            if count is None:
                raise ValueError(f"block {block} is not allocated")
            if count > 1:
                self._refcounts[block] = count - 1
                continue
            del self._refcounts[block]
            if block in self._hash_by_block:
                self._evictable[block] = None
            else:
                self._free.append(block)

    def cached_prefix(self, block_hashes: list[int]) -> list[int]:
        """Blocks holding the longest run of `block_hashes` from the start; nothing is acquired."""
        blocks = []
        for block_hash in block_hashes:
            block = self._block_by_hash.get(block_hash)
            if block is None:
                break
            blocks.append(block)
        return blocks

    def num_evictable_among(self, blocks: list[int]) -> int:
        return sum(block in self._evictable for block in blocks)

    def acquire(self, blocks: list[int]) -> None:
        """Take a reference to cached blocks found by `cached_prefix`."""
        for block in blocks:
            if block in self._evictable:
                del self._evictable[block]
                self._refcounts[block] = 1
            elif block in self._refcounts:
                self._refcounts[block] += 1
            else:
                raise ValueError(f"block {block} is neither cached nor allocated")

    def register(self, block: int, block_hash: int) -> None:
        """Remember that `block` holds the tokens hashed to `block_hash` (the first such block stays)."""
        if block not in self._refcounts:
            raise ValueError(f"block {block} is not allocated")
        if block_hash not in self._block_by_hash and block not in self._hash_by_block:
            self._block_by_hash[block_hash] = block
            self._hash_by_block[block] = block_hash


def block_hashes(token_ids: list[int], block_size: int, *, salt: int = 0) -> list[int]:
    """Chained hashes of each full block of `token_ids`: equal hashes mean equal tokens from the start, and
    the same `salt`, which keeps chains whose keys were computed differently apart. BLAKE2b, not Python's
    `hash`, whose collisions can be constructed: a colliding prompt would be served another's cached keys."""
    hashes = []
    previous = salt.to_bytes(HASH_BYTES, "little", signed=True)
    for start in range(0, len(token_ids) - block_size + 1, block_size):
        tokens = array("q", token_ids[start : start + block_size]).tobytes()
        previous = hashlib.blake2b(previous + tokens, digest_size=HASH_BYTES).digest()
        hashes.append(int.from_bytes(previous, "little"))
    return hashes


class PagedKVCache:
    """Keys and values of every layer, laid out `(num_blocks, block_size, n_kv_heads, head_dim)` per layer."""

    def __init__(
        self,
        *,
        num_layers: int,
        num_blocks: int,
        block_size: int,
        num_kv_heads: int,
        head_dim: int,
        dtype: torch.dtype,
        device: torch.device | str,
    ) -> None:
        if block_size <= 0:
            raise ValueError(f"block_size must be positive, got {block_size}")
        shape = (num_layers, num_blocks, block_size, num_kv_heads, head_dim)
        self.keys = torch.zeros(shape, dtype=dtype, device=device)
        self.values = torch.zeros(shape, dtype=dtype, device=device)
        self.block_size = block_size
        self.num_blocks = num_blocks
        self.allocator = BlockAllocator(num_blocks)

    @classmethod
    def bytes_per_block(
        cls, *, num_layers: int, block_size: int, num_kv_heads: int, head_dim: int, dtype: torch.dtype
    ) -> int:
        element_size = torch.empty((), dtype=dtype).element_size()
        return 2 * num_layers * block_size * num_kv_heads * head_dim * element_size

    def blocks_needed(self, num_tokens: int) -> int:
        return -(-num_tokens // self.block_size)

    def write(self, layer: int, slots: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> None:
        """Store `keys`/`values` `(tokens, n_kv_heads, head_dim)` at flat slot ids `block * block_size + offset`."""
        self.keys[layer].view(-1, *keys.shape[1:])[slots] = keys
        self.values[layer].view(-1, *values.shape[1:])[slots] = values

    def read(self, layer: int, slots: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values `(tokens, n_kv_heads, head_dim)` stored at flat slot ids."""
        shape = self.keys.shape[-2:]
        return self.keys[layer].view(-1, *shape)[slots], self.values[layer].view(-1, *shape)[slots]
