"""`EngineConfig`: cache size, batch limits and the block-sparse prefill settings of an engine."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch

from inference.context import SPARSE_FROM

CPU_KV_CACHE_BYTES = 512 * 2**20


def sparse_from_env() -> int:
    """`QUIRE_SPARSE_FROM`: prompt length from which prefill uses block-sparse attention."""
    text = os.environ.get("QUIRE_SPARSE_FROM", "").strip()
    if not text:
        return SPARSE_FROM
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
    sparse_from: int = field(default_factory=sparse_from_env)
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
        if self.max_model_len is not None and self.max_model_len < 2:
            raise ValueError(f"max_model_len must be at least 2, got {self.max_model_len}")
