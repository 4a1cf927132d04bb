"""Llama-family decoder on the `kernels` attention ops, reading a Hugging Face checkpoint directory."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import safe_open

from inference.config import CheckpointError, ModelConfig
from inference.kv_cache import PagedKVCache
from kernels import (
    BACKEND_ENV,
    TRITON_HEAD_DIMS,
    RopeSpec,
    apply_rope_,
    backend,
    block_sparse_attention,
    flash_attention,
    paged_decode_attention,
)

LENGTH_DEPENDENT_ROPE = ("dynamic", "longrope")
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass
class BatchLayout:
    """One forward step over a flat run of tokens: dense prefill chunks, block-sparse prefills, then decodes.

    `slots` are the flat cache slots the new keys and values go to. A dense chunk may continue a prompt
    whose earlier tokens are already cached: `dense_cu_seqlens_k` then counts each chunk's whole context
    and `dense_context_slots` lists the cache slots of those keys (None when no chunk has cached context).
    `logits_indices` are the token positions whose next-token logits are wanted (the last token of each
    sequence that finishes its prompt or decodes, in order); `sequence_bounds` the `(start, end, length)` runs
    of the step's tokens: a token range and the sequence length it is rotated with, which RoPE types whose
    frequencies depend on the length scale by: a prompt's tokens take the whole prompt's length (not the end
    of this chunk), so that every chunk of a prompt is rotated as the whole prompt served alone would be, and
    a token at position `p` after the prompt takes `p + 1`, as when it was decoded (a preempted sequence
    recomputes those too).
    """

    input_ids: torch.Tensor
    positions: torch.Tensor
    slots: torch.Tensor
    dense_cu_seqlens: torch.Tensor
    dense_max_len: int
    dense_cu_seqlens_k: torch.Tensor
    dense_max_len_k: int
    dense_context_slots: torch.Tensor | None
    sparse_cu_seqlens: torch.Tensor
    sparse_max_len: int
    decode_block_tables: torch.Tensor
    decode_context_lens: torch.Tensor
    logits_indices: torch.Tensor
    sequence_bounds: tuple[tuple[int, int, int], ...] = ()

    @property
    def num_dense_tokens(self) -> int:
        return int(self.dense_cu_seqlens[-1])

    @property
    def num_sparse_tokens(self) -> int:
        return int(self.sparse_cu_seqlens[-1])


@dataclass
class LayerWeights:
    input_norm: torch.Tensor
    qkv: torch.Tensor
    qkv_bias: torch.Tensor | None
    o: torch.Tensor
    o_bias: torch.Tensor | None
    post_norm: torch.Tensor
    gate_up: torch.Tensor
    gate_up_bias: torch.Tensor | None
    down: torch.Tensor
    down_bias: torch.Tensor | None


def _rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    x32 = x.float()
    normed = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    return weight * normed.to(x.dtype)


def _weight_files(model_dir: Path) -> dict[str, Path]:
    """Map each tensor name to the safetensors file holding it."""
    index_path = model_dir / "model.safetensors.index.json"
    if index_path.is_file():
        weight_map: dict[str, str] = json.loads(index_path.read_text()).get("weight_map", {})
        files = {name: model_dir / shard for name, shard in weight_map.items()}
        missing_shards = sorted({str(path.name) for path in files.values() if not path.is_file()})
        if missing_shards:
            raise CheckpointError(
                f"{model_dir}: shards named in the index are missing: {', '.join(missing_shards)}"
            )
        return files
    single = model_dir / "model.safetensors"
    shards = [single] if single.is_file() else sorted(model_dir.glob("*.safetensors"))
    if not shards:
        raise CheckpointError(f"{model_dir}: no *.safetensors weights found")
    files = {}
    for shard in shards:
        with safe_open(str(shard), framework="pt") as handle:
            files.update(dict.fromkeys(handle.keys(), shard))
    return files


class LlamaModel:
    """Decoder weights and the forward pass over a `BatchLayout`, writing keys and values to a paged cache."""

    def __init__(
        self,
        config: ModelConfig,
        weights: dict[str, torch.Tensor],
        *,
        device: torch.device,
        dtype: torch.dtype,
    ) -> None:
        self.config = config
        self.device = device
        self.dtype = dtype
        self.rope = RopeSpec.from_config(config.raw)
        self.scale = config.head_dim**-0.5
        self.q_size = config.num_attention_heads * config.head_dim
        self.kv_size = config.num_key_value_heads * config.head_dim
        self.embed = weights["model.embed_tokens.weight"]
        self.final_norm = weights["model.norm.weight"]
        self.lm_head = self.embed if config.tie_word_embeddings else weights["lm_head.weight"]
        self.layers = [self._layer(weights, index) for index in range(config.num_hidden_layers)]

    def _layer(self, weights: dict[str, torch.Tensor], index: int) -> LayerWeights:
        prefix = f"model.layers.{index}."

        def bias(*names: str) -> torch.Tensor | None:
            keys = [f"{prefix}{name}.bias" for name in names]
            if not all(key in weights for key in keys):
                return None
            return torch.cat([weights[key] for key in keys])

        attn = prefix + "self_attn."
        mlp = prefix + "mlp."
        return LayerWeights(
            input_norm=weights[prefix + "input_layernorm.weight"],
            qkv=torch.cat([weights[attn + f"{name}_proj.weight"] for name in "qkv"]),
            qkv_bias=bias("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"),
            o=weights[attn + "o_proj.weight"],
            o_bias=bias("self_attn.o_proj"),
            post_norm=weights[prefix + "post_attention_layernorm.weight"],
            gate_up=torch.cat([weights[mlp + "gate_proj.weight"], weights[mlp + "up_proj.weight"]]),
            gate_up_bias=bias("mlp.gate_proj", "mlp.up_proj"),
            down=weights[mlp + "down_proj.weight"],
            down_bias=bias("mlp.down_proj"),
        )

    def new_cache(self, *, num_blocks: int, block_size: int) -> PagedKVCache:
        return PagedKVCache(
            num_layers=self.config.num_hidden_layers,
            num_blocks=num_blocks,
            block_size=block_size,
            num_kv_heads=self.config.num_key_value_heads,
            head_dim=self.config.head_dim,
            dtype=self.dtype,
            device=self.device,
        )

    @torch.inference_mode()
    def forward(
        self, batch: BatchLayout, cache: PagedKVCache, *, sparse_block_size: int = 64, sparse_top_k: int = 8
    ) -> torch.Tensor:
        """Logits `(len(batch.logits_indices), vocab)` in float32."""
        config = self.config
        heads, kv_heads, head_dim = config.num_attention_heads, config.num_key_value_heads, config.head_dim
        num_tokens = batch.input_ids.shape[0]
        dense_end = batch.num_dense_tokens
        sparse_end = dense_end + batch.num_sparse_tokens
        hidden = F.embedding(batch.input_ids, self.embed)
        rope_runs = self._rope_runs(batch)
        for layer_index, layer in enumerate(self.layers):
            normed = _rms_norm(hidden, layer.input_norm, config.rms_norm_eps)
            qkv = F.linear(normed, layer.qkv, layer.qkv_bias)
            q = qkv[:, : self.q_size].reshape(num_tokens, heads, head_dim)
            k = qkv[:, self.q_size : self.q_size + self.kv_size].reshape(num_tokens, kv_heads, head_dim)
            v = qkv[:, self.q_size + self.kv_size :].reshape(num_tokens, kv_heads, head_dim)
            q = q.contiguous()
            k = k.contiguous()
            if rope_runs is None:
                apply_rope_(q, k, batch.positions, self.rope)
            else:
                for start, end, seq_len in rope_runs:
                    apply_rope_(
                        q[start:end], k[start:end], batch.positions[start:end], self.rope, seq_len=seq_len
                    )
            cache.write(layer_index, batch.slots, k, v)
            parts = []
            if dense_end:
                if batch.dense_context_slots is None:
                    context_k, context_v = k[:dense_end], v[:dense_end]
                else:
                    context_k, context_v = cache.read(layer_index, batch.dense_context_slots)
                out, _ = flash_attention(
                    q[:dense_end],
                    context_k,
                    context_v,
                    causal=True,
                    cu_seqlens_q=batch.dense_cu_seqlens,
                    cu_seqlens_k=batch.dense_cu_seqlens_k,
                    max_seqlen_q=batch.dense_max_len,
                    max_seqlen_k=batch.dense_max_len_k,
                    softmax_scale=self.scale,
                )
                parts.append(out)
            if sparse_end > dense_end:
                out, _ = block_sparse_attention(
                    q[dense_end:sparse_end],
                    k[dense_end:sparse_end],
                    v[dense_end:sparse_end],
                    block_size=sparse_block_size,
                    top_k=sparse_top_k,
                    cu_seqlens=batch.sparse_cu_seqlens,
                    max_seqlen=batch.sparse_max_len,
                    softmax_scale=self.scale,
                )
                parts.append(out)
            if num_tokens > sparse_end:
                parts.append(
                    paged_decode_attention(
                        q[sparse_end:],
                        cache.keys[layer_index],
                        cache.values[layer_index],
                        batch.decode_block_tables,
                        batch.decode_context_lens,
                        softmax_scale=self.scale,
                    )
                )
            attention = parts[0] if len(parts) == 1 else torch.cat(parts)
            hidden = hidden + F.linear(attention.reshape(num_tokens, -1), layer.o, layer.o_bias)
            normed = _rms_norm(hidden, layer.post_norm, config.rms_norm_eps)
            gate, up = F.linear(normed, layer.gate_up, layer.gate_up_bias).chunk(2, dim=-1)
            hidden = hidden + F.linear(F.silu(gate) * up, layer.down, layer.down_bias)
        last = _rms_norm(hidden[batch.logits_indices], self.final_norm, config.rms_norm_eps)
        return F.linear(last, self.lm_head).float()

    def _rope_runs(self, batch: BatchLayout) -> list[tuple[int, int, int]] | None:
        """`(start, end, seq_len)` runs of adjacent token ranges whose lengths give the same RoPE frequencies,
        for the types that depend on the length; None when one call over the whole step rotates alike."""
        if self.rope.rope_type not in LENGTH_DEPENDENT_ROPE or not batch.sequence_bounds:
            return None
        stand_in = self.rope.frequency_length
        runs: list[tuple[int, int, int]] = []
        for start, end, length in batch.sequence_bounds:
            if runs and runs[-1][1] == start and stand_in(runs[-1][2]) == stand_in(length):
                runs[-1] = (runs[-1][0], end, max(runs[-1][2], length))
            else:
                runs.append((start, end, length))
        return runs

    def prompt_logits(self, input_ids: list[int]) -> torch.Tensor:
        """Logits `(len(input_ids), vocab)` at every position of one prompt, through a throwaway cache."""
        if not input_ids:
            raise ValueError("input_ids is empty")
        block_size = 16
        cache = self.new_cache(num_blocks=-(-len(input_ids) // block_size), block_size=block_size)
        length = len(input_ids)
        empty = torch.zeros(1, dtype=torch.int32, device=self.device)
        batch = BatchLayout(
            input_ids=torch.tensor(input_ids, dtype=torch.long, device=self.device),
            positions=torch.arange(length, device=self.device),
            slots=torch.arange(length, device=self.device),
            dense_cu_seqlens=torch.tensor([0, length], dtype=torch.int32, device=self.device),
            dense_max_len=length,
            dense_cu_seqlens_k=torch.tensor([0, length], dtype=torch.int32, device=self.device),
            dense_max_len_k=length,
            dense_context_slots=None,
            sparse_cu_seqlens=empty,
            sparse_max_len=0,
            decode_block_tables=torch.zeros((0, 0), dtype=torch.int32, device=self.device),
            decode_context_lens=torch.zeros(0, dtype=torch.int32, device=self.device),
            logits_indices=torch.arange(length, device=self.device),
            sequence_bounds=((0, length, length),),
        )
        return self.forward(batch, cache)


def expected_weight_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    hidden, inter = config.hidden_size, config.intermediate_size
    q_size = config.num_attention_heads * config.head_dim
    kv_size = config.num_key_value_heads * config.head_dim
    shapes: dict[str, tuple[int, ...]] = {
        "model.embed_tokens.weight": (config.vocab_size, hidden),
        "model.norm.weight": (hidden,),
    }
    if not config.tie_word_embeddings:
        shapes["lm_head.weight"] = (config.vocab_size, hidden)
    for index in range(config.num_hidden_layers):
        prefix = f"model.layers.{index}."
        shapes |= {
            prefix + "input_layernorm.weight": (hidden,),
            prefix + "post_attention_layernorm.weight": (hidden,),
            prefix + "self_attn.q_proj.weight": (q_size, hidden),
            prefix + "self_attn.k_proj.weight": (kv_size, hidden),
            prefix + "self_attn.v_proj.weight": (kv_size, hidden),
            prefix + "self_attn.o_proj.weight": (hidden, q_size),
            prefix + "mlp.gate_proj.weight": (inter, hidden),
            prefix + "mlp.up_proj.weight": (inter, hidden),
            prefix + "mlp.down_proj.weight": (hidden, inter),
        }
        if config.attention_bias:
            shapes |= {
                prefix + "self_attn.q_proj.bias": (q_size,),
                prefix + "self_attn.k_proj.bias": (kv_size,),
                prefix + "self_attn.v_proj.bias": (kv_size,),
                prefix + "self_attn.o_proj.bias": (hidden,),
            }
        if config.mlp_bias:
            shapes |= {
                prefix + "mlp.gate_proj.bias": (inter,),
                prefix + "mlp.up_proj.bias": (inter,),
                prefix + "mlp.down_proj.bias": (hidden,),
            }
    return shapes


def load_model(
    model_dir: str | Path, *, device: str | torch.device | None = None, dtype: torch.dtype | None = None
) -> LlamaModel:
    """Load `config.json` and the safetensors weights (single file or sharded with an index)."""
    directory = Path(model_dir)
    if not directory.is_dir():
        raise CheckpointError(f"model directory {directory} does not exist")
    config = ModelConfig.from_dir(directory)
    target_device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    widest = TRITON_HEAD_DIMS[-1]
    if config.head_dim > widest and backend(torch.empty(0, device=target_device)) == "triton":
        raise CheckpointError(
            f"{directory}: head_dim {config.head_dim} is wider than the {widest} the Triton kernels tile; "
            f"serve this checkpoint with {BACKEND_ENV}=reference"
        )
    if dtype is None:
        dtype = (
            DTYPES.get(config.torch_dtype, torch.float32) if target_device.type == "cuda" else torch.float32
        )
    files = _weight_files(directory)
    shapes = expected_weight_shapes(config)
    missing = [name for name in shapes if name not in files]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise CheckpointError(f"{directory}: checkpoint lacks {shown}")
    weights: dict[str, torch.Tensor] = {}
    by_file: dict[Path, list[str]] = {}
    for name in shapes:
        by_file.setdefault(files[name], []).append(name)
    for path, names in by_file.items():
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            for name in names:
                tensor = handle.get_tensor(name)
                if tuple(tensor.shape) != shapes[name]:
                    raise CheckpointError(
                        f"{path.name}: {name} has shape {tuple(tensor.shape)}, config.json implies {shapes[name]}"
                    )
                weights[name] = tensor.to(device=target_device, dtype=dtype)
    return LlamaModel(config, weights, device=target_device, dtype=dtype)
