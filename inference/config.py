"""Model configuration read from a Hugging Face `config.json`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

SUPPORTED_ARCHITECTURES = ("LlamaForCausalLM",)
SUPPORTED_ACTIVATIONS = ("silu",)


class CheckpointError(ValueError):
    """A model directory that cannot be loaded: missing file, unsupported model, bad shapes."""


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    rms_norm_eps: float
    max_position_embeddings: int
    tie_word_embeddings: bool
    attention_bias: bool
    mlp_bias: bool
    bos_token_id: int | None
    eos_token_ids: tuple[int, ...]
    torch_dtype: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> ModelConfig:
        architectures = config.get("architectures") or []
        model_type = config.get("model_type")
        if not any(arch in SUPPORTED_ARCHITECTURES for arch in architectures) and model_type != "llama":
            raise CheckpointError(
                f"unsupported architecture {architectures or model_type!r}: "
                f"this runtime serves {', '.join(SUPPORTED_ARCHITECTURES)}"
            )
        activation = config.get("hidden_act", "silu")
        if activation not in SUPPORTED_ACTIVATIONS:
            raise CheckpointError(
                f"unsupported hidden_act {activation!r}: expected one of {SUPPORTED_ACTIVATIONS}"
            )
        missing = [
            key
            for key in (
                "vocab_size",
                "hidden_size",
                "intermediate_size",
                "num_hidden_layers",
                "num_attention_heads",
            )
            if key not in config
        ]
        if missing:
            raise CheckpointError(f"config.json lacks {', '.join(missing)}")
        hidden = int(config["hidden_size"])
        heads = int(config["num_attention_heads"])
        kv_heads = int(config.get("num_key_value_heads") or heads)
        if heads % kv_heads:
            raise CheckpointError(
                f"num_attention_heads={heads} is not a multiple of num_key_value_heads={kv_heads}"
            )
        head_dim = int(config.get("head_dim") or hidden // heads)
        eos_ids = _token_ids(config.get("eos_token_id"))
        return cls(
            vocab_size=int(config["vocab_size"]),
            hidden_size=hidden,
            intermediate_size=int(config["intermediate_size"]),
            num_hidden_layers=int(config["num_hidden_layers"]),
            num_attention_heads=heads,
            num_key_value_heads=kv_heads,
            head_dim=head_dim,
            rms_norm_eps=float(config.get("rms_norm_eps", 1e-6)),
            max_position_embeddings=int(config.get("max_position_embeddings", 2048)),
            tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
            attention_bias=bool(config.get("attention_bias", False)),
            mlp_bias=bool(config.get("mlp_bias", False)),
            bos_token_id=config.get("bos_token_id"),
            eos_token_ids=eos_ids,
            torch_dtype=str(config.get("torch_dtype") or config.get("dtype") or "float32"),
            raw=config,
        )

    @classmethod
    def from_dir(cls, model_dir: str | Path) -> ModelConfig:
        """`config.json`, with the end tokens `generation_config.json` adds (a chat checkpoint's end of turn is
        often named there alone, and transformers' `generate` stops at it too)."""
        path = Path(model_dir) / "config.json"
        if not path.is_file():
            raise CheckpointError(f"{path} not found: a model directory needs config.json")
        model = cls.from_dict(_read_json(path))
        generation_path = Path(model_dir) / "generation_config.json"
        if not generation_path.is_file():
            return model
        extra = _token_ids(_read_json(generation_path).get("eos_token_id"))
        eos_ids = model.eos_token_ids + tuple(token for token in extra if token not in model.eos_token_ids)
        return replace(model, eos_token_ids=eos_ids)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path} is not valid JSON: {exc}") from exc


def _token_ids(value: Any) -> tuple[int, ...]:
    """A token id or list of them, as `eos_token_id` is written."""
    if value is None:
        return ()
    return tuple(int(token) for token in value) if isinstance(value, list) else (int(value),)
