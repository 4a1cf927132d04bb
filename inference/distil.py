"""Distilling the chunk encoder (`embeddings.embed_chunks`): the layers `KEEP` of all-MiniLM-L6-v2, each with
only the `WIDTH` intermediate units that carry most of its feed-forward output, each projection corrected by a
rank-`RANK` term and its biases and norms retuned, trained so that a chunk's vector is the full encoder's vector
of the same text (loss: 1 - cosine). The full encoder's weights stay frozen and are not stored; the adapter
(`embeddings.ADAPTER_FILE`) holds only what training changes and the indices of the units kept."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy

KEEP = (0, 1, 3, 5)
RANK = 16
WIDTH = 768
# Chunks whose intermediate activations rank a layer's units (`intermediate_units`).
RANKING_TEXTS = 512
EPOCHS = 2.0
TOKEN_BUDGET = 4096
LEARNING_RATES = (2e-3, 3e-4)


def _student(
    encoder: Any, keep: tuple[int, ...], rank: int, seed: int, units: dict[int, Any] | None = None
) -> dict[str, Any]:
    """The trainable tensors, named as `MiniLMEncoder.adapted` reads them: the low-rank factors start at a
    random `a` and a zero `b`, so training starts from the layers as they are (with only `units[j]`'s
    intermediate units in kept layer j, where given)."""
    import torch

    from inference.embeddings import kept_weights

    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for j, index in enumerate(keep):
        layer = encoder.layers[index]
        kept = (units or {}).get(j)
        for k, (weight, linear) in enumerate(zip(kept_weights(layer, kept), layer.fp32, strict=True)):
            inner, outer = weight.shape
            tensors[f"{j}.{k}.a"] = torch.randn(inner, rank, generator=generator) / math.sqrt(inner)
            tensors[f"{j}.{k}.b"] = torch.zeros(rank, outer)
            tensors[f"{j}.{k}.bias"] = (linear.bias if k != 2 or kept is None else linear.bias[kept]).clone()
        for name, (weight, bias) in (
            ("attention_norm", layer.attention_norm),
            ("output_norm", layer.output_norm),
        ):
            tensors[f"{j}.{name}.weight"], tensors[f"{j}.{name}.bias"] = weight.clone(), bias.clone()
    tensors = {name: tensor.requires_grad_() for name, tensor in tensors.items()}
    for j, kept in (units or {}).items():
        tensors[f"{j}.intermediate"] = kept
    return tensors


def intermediate_units(
    encoder: Any, keep: tuple[int, ...], token_ids: list[list[int]], width: int
) -> dict[int, Any]:
    """Per kept layer, the `width` intermediate units (sorted indices) of largest mean |GELU output| times the
    norm of their row of the output projection, over `token_ids` read by the undistilled layers `keep`."""
    import torch

    untouched = {name: tensor.detach() for name, tensor in _student(encoder, keep, 1, 0).items()}
    totals = [torch.zeros(encoder.layers[index].fp32[2].weight.shape[1]) for index in keep]
    with torch.no_grad():
        for indices in _batches([len(ids) for ids in token_ids]):
            ids, lengths = _padded(token_ids, indices)
            _forward(encoder, keep, untouched, ids, lengths, totals)
    units = {}
    for j, index in enumerate(keep):
        weight = encoder.layers[index].fp32[3].weight
        score = totals[j] * weight.norm(dim=1)
        units[j] = score.topk(min(width, len(score))).indices.sort().values
    return units


def _forward(
    encoder: Any,
    keep: tuple[int, ...],
    tensors: dict[str, Any],
    ids: Any,
    lengths: Any,
    activity: list[Any] | None = None,
) -> Any:
    """`MiniLMEncoder.encode` of the adapted layers in fp32, differentiable in `tensors`; `activity[j]` (where
    given) adds up kept layer j's |GELU outputs| per intermediate unit over the real tokens."""
    import torch
    from torch.nn import functional

    from inference.embeddings import kept_weights

    batch, seq = ids.shape
    hidden, heads, eps = encoder.hidden, encoder.heads, encoder.norm_eps
    x = encoder.word_embeddings[ids.reshape(-1)].view(batch, seq, hidden) + encoder.position_and_type[:seq]
    x = functional.layer_norm(x.view(batch * seq, hidden), (hidden,), *encoder.embedding_norm, eps)
    real = torch.arange(seq)[None, :] < lengths[:, None]
    for j, index in enumerate(keep):
        weights = kept_weights(encoder.layers[index], tensors.get(f"{j}.intermediate"))

        def project(k: int, inputs: Any, j: int = j, weights: list[Any] = weights) -> Any:
            low_rank = (inputs @ tensors[f"{j}.{k}.a"]) @ tensors[f"{j}.{k}.b"]
            return torch.addmm(tensors[f"{j}.{k}.bias"], inputs, weights[k]) + low_rank

        def norm(name: str, inputs: Any, j: int = j) -> Any:
            return functional.layer_norm(
                inputs, (hidden,), tensors[f"{j}.{name}.weight"], tensors[f"{j}.{name}.bias"], eps
            )

        query, key, value = project(0, x).view(batch, seq, 3, heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        context = functional.scaled_dot_product_attention(
            query, key, value, attn_mask=real.view(batch, 1, 1, seq)
        )
        x = norm("attention_norm", project(1, context.transpose(1, 2).reshape(batch * seq, hidden)) + x)
        intermediate = functional.gelu(project(2, x))
        if activity is not None:
            activity[j] += intermediate.abs()[real.reshape(-1)].sum(0)
        x = norm("output_norm", project(3, intermediate) + x)
    pooled = torch.bmm(real.to(x.dtype).view(batch, 1, seq), x.view(batch, seq, hidden)).view(batch, hidden)
    return functional.normalize(pooled / lengths[:, None].to(x.dtype), dim=1)


def _batches(lengths: list[int], rng: random.Random | None = None) -> list[list[int]]:
    """Indices of texts of similar length, at most `TOKEN_BUDGET` padded tokens a batch, in random order."""
    batches: list[list[int]] = [[]]
    for index in sorted(range(len(lengths)), key=lengths.__getitem__):
        if batches[-1] and (len(batches[-1]) + 1) * lengths[index] > TOKEN_BUDGET:
            batches.append([])
        batches[-1].append(index)
    if rng is not None:
        rng.shuffle(batches)
    return batches


def _padded(token_ids: list[list[int]], indices: list[int]) -> tuple[Any, Any]:
    import torch

    lengths = torch.tensor([len(token_ids[i]) for i in indices])
    ids = torch.zeros(len(indices), int(lengths.max()), dtype=torch.long)
    for row, index in enumerate(indices):
        ids[row, : lengths[row]] = torch.tensor(token_ids[index])
    return ids, lengths


def distil(
    texts: list[str],
    *,
    keep: tuple[int, ...] = KEEP,
    rank: int = RANK,
    width: int | None = WIDTH,
    epochs: float = EPOCHS,
    seed: int = 0,
    targets: numpy.ndarray | None = None,
    progress: Callable[[int, int, float], None] | None = None,
) -> dict[str, Any]:
    """The adapter's tensors, trained on `texts` (the chunks as ingest reads them) against `targets`, their
    full-encoder fp32 vectors (computed when not given); each kept layer keeps `width` intermediate units
    (`intermediate_units` over a sample of `RANKING_TEXTS` of `texts`, drawn with `seed`; all where None);
    `progress(step, steps, loss)` every 50 steps. One-cycle AdamW, the low-rank factors at
    `LEARNING_RATES[0]`, biases and norms at `LEARNING_RATES[1]`."""
    import torch

    from inference import embeddings

    if not texts:
        raise ValueError("distil needs at least one text")
    if targets is None:
        targets = embeddings.embed_texts(texts)
    tokenizer, encoder = embeddings._load()
    token_ids = [encoding.ids for encoding in tokenizer.encode_batch(texts)]
    wanted = torch.from_numpy(numpy.asarray(targets, dtype=numpy.float32))
    units = None
    if width is not None:
        sample = random.Random(seed).sample(token_ids, min(RANKING_TEXTS, len(token_ids)))
        units = intermediate_units(encoder, keep, sample, width)
    tensors = _student(encoder, keep, rank, seed, units)
    trained = {name: t for name, t in tensors.items() if t.requires_grad}
    factors = [t for name, t in trained.items() if name.endswith((".a", ".b"))]
    others = [t for name, t in trained.items() if not name.endswith((".a", ".b"))]
    optimizer = torch.optim.AdamW(
        [{"params": factors, "lr": LEARNING_RATES[0]}, {"params": others, "lr": LEARNING_RATES[1]}],
        weight_decay=0.0,
    )
    rng = random.Random(seed)
    lengths = [len(ids) for ids in token_ids]
    plan = [batch for _ in range(math.ceil(epochs)) for batch in _batches(lengths, rng)]
    plan = plan[: max(1, round(len(plan) * epochs / math.ceil(epochs)))]
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=list(LEARNING_RATES), total_steps=len(plan), pct_start=0.1
    )
    recent: list[float] = []
    for step, indices in enumerate(plan):
        ids, batch_lengths = _padded(token_ids, indices)
        vectors = _forward(encoder, keep, tensors, ids, batch_lengths)
        loss = (1 - (vectors * wanted[indices]).sum(1)).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        recent = [*recent[-49:], loss.item()]
        if progress is not None and (step % 50 == 0 or step == len(plan) - 1):
            progress(step + 1, len(plan), sum(recent) / len(recent))
    return {name: tensor.detach().contiguous() for name, tensor in tensors.items()}


def save_adapter(
    path: Path, tensors: dict[str, Any], keep: tuple[int, ...] = KEEP, *, non_commercial: bool = False
) -> None:
    """Write the adapter as `embeddings.load_adapter` reads it; `non_commercial` marks one trained on text under a
    non-commercial licence (`embeddings.adapter_metadata`), so a commercial deployment never loads it."""
    from safetensors.torch import save_file

    metadata = {"keep": ",".join(map(str, keep)), "non_commercial": str(non_commercial).lower()}
    save_file(tensors, str(path), metadata=metadata)
