"""Rotary position embedding parameters read from a Hugging Face ``config.json``.

The inverse frequencies and the attention scaling factor follow ``transformers.modeling_rope_utils``
operation for operation, so cos/sin built from them equal the library's for the same config.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

ROPE_TYPES = ("default", "linear", "dynamic", "yarn", "llama3", "longrope")
DEFAULT_ROPE_THETA = 10000.0


@dataclass(frozen=True)
class RopeSpec:
    head_dim: int
    rotary_dim: int
    rope_theta: float
    max_position_embeddings: int
    rope_type: str = "default"
    factor: float | None = None
    original_max_position_embeddings: int | None = None
    low_freq_factor: float | None = None
    high_freq_factor: float | None = None
    beta_fast: float | None = None
    beta_slow: float | None = None
    attention_factor: float | None = None
    mscale: float | None = None
    mscale_all_dim: float | None = None
    truncate: bool = True
    long_factor: tuple[float, ...] | None = None
    short_factor: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.rope_type not in ROPE_TYPES:
            raise ValueError(f"unsupported rope_type {self.rope_type!r}; expected one of {ROPE_TYPES}")
        if self.head_dim <= 0 or self.rotary_dim <= 0 or self.rotary_dim > self.head_dim:
            raise ValueError(f"rotary_dim {self.rotary_dim} must be in 1..head_dim ({self.head_dim})")
        if self.rotary_dim % 2:
            raise ValueError(f"rotary_dim must be even, got {self.rotary_dim}")
        if self.rope_type in ("linear", "dynamic", "llama3", "yarn") and self.factor is None:
            raise ValueError(f"rope_type {self.rope_type!r} needs a 'factor'")
        if self.rope_type == "longrope" and self.factor is None and self.attention_factor is None:
            raise ValueError("rope_type 'longrope' needs a 'factor' or an 'attention_factor'")
        if self.rope_type in ("llama3", "yarn", "longrope") and self.original_max_position_embeddings is None:
            raise ValueError(f"rope_type {self.rope_type!r} needs 'original_max_position_embeddings'")
        if self.rope_type == "dynamic" and self.rotary_dim == 2:
            raise ValueError(
                "rope_type 'dynamic' needs a rotary_dim above 2 (its base scales by dim / (dim - 2))"
            )
        if self.rope_type == "llama3" and (self.low_freq_factor is None or self.high_freq_factor is None):
            raise ValueError("rope_type 'llama3' needs 'low_freq_factor' and 'high_freq_factor'")
        if self.rope_type == "longrope":
            half = self.rotary_dim // 2
            for name in ("long_factor", "short_factor"):
                values = getattr(self, name)
                if values is None or len(values) != half:
                    raise ValueError(f"rope_type 'longrope' needs '{name}' with {half} values")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RopeSpec:
        """Read the RoPE fields of a Hugging Face config dict (``rope_scaling`` or ``rope_parameters``)."""
        if not isinstance(config, dict):
            raise ValueError(f"config must be a dict, got {type(config).__name__}")
        head_dim = config.get("head_dim")
        if head_dim is None:
            if "hidden_size" not in config or "num_attention_heads" not in config:
                raise ValueError("config needs 'head_dim' or 'hidden_size' and 'num_attention_heads'")
            head_dim = config["hidden_size"] // config["num_attention_heads"]
        if "max_position_embeddings" not in config:
            raise ValueError("config needs 'max_position_embeddings'")
        max_positions = int(config["max_position_embeddings"])

        params = dict(config.get("rope_scaling") or config.get("rope_parameters") or {})
        nested = sorted(key for key, value in params.items() if isinstance(value, dict))
        if nested:
            raise ValueError(f"RoPE parameters per layer type ({', '.join(nested)}) are not supported")
        rope_theta = float(params.get("rope_theta", config.get("rope_theta", DEFAULT_ROPE_THETA)))
        partial = float(params.get("partial_rotary_factor", config.get("partial_rotary_factor", 1.0)))
        rope_type = params.get("rope_type", params.get("type", "default"))
        original = params.get("original_max_position_embeddings")
        if rope_type in ("llama3", "yarn", "longrope"):
            original = config.get("original_max_position_embeddings", original) or max_positions
        factor = params.get("factor")
        if rope_type in ("yarn", "longrope") and factor is None:
            factor = max_positions / original

        def optional_float(key: str) -> float | None:
            return None if params.get(key) is None else float(params[key])

        def optional_tuple(key: str) -> tuple[float, ...] | None:
            return None if params.get(key) is None else tuple(float(x) for x in params[key])

        return cls(
            head_dim=int(head_dim),
            rotary_dim=int(head_dim * partial),
            rope_theta=rope_theta,
            max_position_embeddings=max_positions,
            rope_type=rope_type,
            factor=None if factor is None else float(factor),
            original_max_position_embeddings=None if original is None else int(original),
            low_freq_factor=optional_float("low_freq_factor"),
            high_freq_factor=optional_float("high_freq_factor"),
            beta_fast=optional_float("beta_fast"),
            beta_slow=optional_float("beta_slow"),
            attention_factor=optional_float("attention_factor"),
            mscale=optional_float("mscale"),
            mscale_all_dim=optional_float("mscale_all_dim"),
            truncate=bool(params.get("truncate", True)),
            long_factor=optional_tuple("long_factor"),
            short_factor=optional_tuple("short_factor"),
        )

    @property
    def context_length(self) -> int:
        """The longest sequence the config's scaling is meant for, as vLLM derives it: ``linear`` and ``dynamic``
        stretch ``max_position_embeddings`` by ``factor``, ``yarn`` stretches the original window by it, and the
        other types already state the stretched window as ``max_position_embeddings``."""
        if self.rope_type in ("linear", "dynamic"):
            return int(self.max_position_embeddings * self.factor)
        if self.rope_type == "yarn":
            return max(self.max_position_embeddings, int(self.original_max_position_embeddings * self.factor))
        return self.max_position_embeddings

    def inv_freq(self, seq_len: int) -> tuple[torch.Tensor, float]:
        """Inverse frequencies (float32, ``rotary_dim // 2``) and the cos/sin scaling for ``seq_len`` tokens.

        ``seq_len`` is the largest position plus one; only ``dynamic`` and ``longrope`` depend on it.
        """
        dim = self.rotary_dim
        exponents = torch.arange(0, dim, 2, dtype=torch.int64).float() / dim
        base = self.rope_theta
        if self.rope_type in ("default", "linear", "llama3"):
            inv_freq = 1.0 / (base**exponents)
            if self.rope_type == "linear":
                inv_freq /= self.factor
            elif self.rope_type == "llama3":
                inv_freq = self._llama3(inv_freq)
            return inv_freq, 1.0
        if self.rope_type == "dynamic":
            # Past the context, transformers grows the base from the length as a float32 tensor (the largest
            # position + 1); within it, it keeps the base of its init, computed in Python floats.
            length: int | torch.Tensor = self.max_position_embeddings
            if seq_len > self.max_position_embeddings:
                length = torch.tensor(seq_len, dtype=torch.int64)
            scaled = (self.factor * length / self.max_position_embeddings) - (self.factor - 1)
            return 1.0 / ((base * scaled ** (dim / (dim - 2))) ** exponents), 1.0
        if self.rope_type == "yarn":
            return self._yarn(exponents)
        return self._longrope(exponents, seq_len)

    def frequency_length(self, seq_len: int) -> int:
        """The length that stands for ``seq_len``: ``inv_freq`` of it equals ``inv_freq(seq_len)``, and two
        lengths get the same frequencies exactly when their ``frequency_length`` is equal."""
        if self.rope_type == "dynamic":
            return max(seq_len, self.max_position_embeddings)
        if self.rope_type == "longrope":
            original = self.original_max_position_embeddings
            return original + 1 if seq_len > original else original
        return 0

    def _llama3(self, inv_freq: torch.Tensor) -> torch.Tensor:
        old_context = self.original_max_position_embeddings
        low_wavelen = old_context / self.low_freq_factor
        high_wavelen = old_context / self.high_freq_factor
        wavelen = 2 * math.pi / inv_freq
        scaled = torch.where(wavelen > low_wavelen, inv_freq / self.factor, inv_freq)
        smooth = (old_context / wavelen - self.low_freq_factor) / (
            self.high_freq_factor - self.low_freq_factor
        )
        smoothed = (1 - smooth) * scaled / self.factor + smooth * scaled
        is_medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
        return torch.where(is_medium, smoothed, scaled)

    def _yarn(self, exponents: torch.Tensor) -> tuple[torch.Tensor, float]:
        dim, base, factor = self.rotary_dim, self.rope_theta, self.factor
        original = self.original_max_position_embeddings

        def mscale_of(scale: float, mscale: float = 1.0) -> float:
            return 1.0 if scale <= 1 else 0.1 * mscale * math.log(scale) + 1.0

        attention = self.attention_factor
        if attention is None:
            if self.mscale and self.mscale_all_dim:
                attention = float(mscale_of(factor, self.mscale) / mscale_of(factor, self.mscale_all_dim))
            else:
                attention = mscale_of(factor)
        beta_fast = self.beta_fast or 32
        beta_slow = self.beta_slow or 1

        def correction_dim(rotations: float) -> float:
            return (dim * math.log(original / (rotations * 2 * math.pi))) / (2 * math.log(base))

        low, high = correction_dim(beta_fast), correction_dim(beta_slow)
        if self.truncate:
            low, high = math.floor(low), math.ceil(high)
        low, high = max(low, 0), min(high, dim - 1)
        if low == high:
            high += 0.001
        ramp = torch.clamp((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
        pos_freqs = base ** (torch.arange(0, dim, 2).float() / dim)
        extrapolation = 1 - ramp
        inv_freq = (1.0 / (factor * pos_freqs)) * (1 - extrapolation) + (1.0 / pos_freqs) * extrapolation
        return inv_freq, attention

    def _longrope(self, exponents: torch.Tensor, seq_len: int) -> tuple[torch.Tensor, float]:
        original = self.original_max_position_embeddings
        attention = self.attention_factor
        if attention is None:
            factor = self.factor
            attention = 1.0 if factor <= 1.0 else math.sqrt(1 + math.log(factor) / math.log(original))
        ext = self.long_factor if seq_len > original else self.short_factor
        return 1.0 / (torch.tensor(ext, dtype=torch.float32) * self.rope_theta**exponents), attention
