"""Paged KV cache: fixed-size blocks of keys and values, handed out to sequences by a block allocator."""

from __future__ import annotations

import torch


class BlockAllocator:
    """Free list of cache block ids."""

    def __init__(self, num_blocks: int) -> None:
        if num_blocks <= 0:
            raise ValueError(f"num_blocks must be positive, got {num_blocks}")
        self.num_blocks = num_blocks
        self._free = list(range(num_blocks - 1, -1, -1))
        self._in_use: set[int] = set()

    @property
    def num_free(self) -> int:
        return len(self._free)

    def allocate(self, count: int = 1) -> list[int]:
        if count > len(self._free):
            raise MemoryError(f"asked for {count} cache blocks, {len(self._free)} free")
        blocks = [self._free.pop() for _ in range(count)]
        self._in_use.update(blocks)
        return blocks

    def free(self, blocks: list[int]) -> None:
        for block in blocks:
            if block not in self._in_use:
                raise ValueError(f"block {block} is not allocated")
            self._in_use.remove(block)
            self._free.append(block)


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
