"""Training the learned earnings analyzers (`connectors.earnings.learned`) on ECTSum's train split.

Every figure the rules find in a train call is an example. Its labels come from the call's reference bullets,
read by the scorer's own parser (`connectors.bullet_facts`): salient when a bullet states its value (or its
change), and then the bullet's metric and period. Three linear heads share the hashed features and train
together with Adam on the CPU in about a minute.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import numpy as np

from connectors.bullet_facts import Fact, parse_bullets
from connectors.earnings.learned import (
    DIMENSIONS,
    METRIC_CLASSES,
    PERIOD_CLASSES,
    WEIGHTS,
    hashed,
    metric_features,
    period_relation,
)

VALIDATION_SHARE = 0.15
SEED = 7


def _matches(fact: Fact, value: float | None, scale: float) -> bool:
    if value is None:
        return False
    return round(abs(value) * scale / fact.scale, fact.decimals) == round(fact.value, fact.decimals)


def call_examples(document_id: str, text: str, bullets: list[str]) -> list[tuple[list[str], int, int, int]]:
    """(features, salient, metric class or -1, period class or -1) of every figure the rules find in a call."""
    from connectors.base import Document, RunContext
    from connectors.earnings.connector import analyse_call

    run = RunContext(mode="analyzers", client=None, progress=lambda *_: None, plan={}, embed=None)
    result = analyse_call(Document(document_id, text), run, learned=False)
    facts = parse_bullets(bullets, document_id)
    quarter, year = result["period"]["quarter"], result["period"]["fiscal_year"]
    seen: set[str] = set()
    examples = []
    for figure in result["metrics"]:
        first = figure["metric"] not in seen
        seen.add(figure["metric"])
        features = metric_features(figure, text, quarter, year, first)
        change = figure.get("change") or {}
        matched = [
            fact
            for fact in facts
            if _matches(fact, figure["value"], figure["scale"]) or _matches(fact, change.get("value"), 1.0)
        ]
        metric = period = -1
        if matched:
            named = [fact.metric for fact in matched if fact.metric]
            if named:
                metric = METRIC_CLASSES.index(named[0] if named[0] in METRIC_CLASSES else "other")
            period = PERIOD_CLASSES.index(period_relation(matched[0].period, quarter, year))
        examples.append((features, int(bool(matched)), metric, period))
    return examples


def read_split(data: Path) -> list[tuple[str, str, list[str]]]:
    """(call id, transcript, reference bullets) of ECTSum's `ects/*.txt` and `gt_summaries/*.txt` under `data`."""
    ects = data / "ects" if (data / "ects").is_dir() else next(data.rglob("ects"))
    summaries = ects.parent / "gt_summaries"
    calls = []
    for path in sorted(ects.glob("*.txt")):
        summary = summaries / path.name
        if not summary.exists():
            continue
        bullets = [line.strip() for line in summary.read_text(encoding="utf-8").splitlines() if line.strip()]
        calls.append((path.stem, path.read_text(encoding="utf-8"), bullets))
    if not calls:
        raise ValueError(f"no ECTSum calls (ects/*.txt with gt_summaries/*.txt) under {data}")
    return calls


def _fit(
    examples: list[tuple[list[str], int, int, int]], epochs: int, progress: Callable[[str], None]
) -> dict[str, np.ndarray]:
    import torch

    torch.manual_seed(SEED)
    ids = [torch.tensor(hashed(features)) for features, *_ in examples]
    offsets = torch.tensor([0, *np.cumsum([len(i) for i in ids])[:-1]])
    flat = torch.cat(ids)
    salient = torch.tensor([e[1] for e in examples], dtype=torch.float32)
    metric = torch.tensor([e[2] for e in examples])
    period = torch.tensor([e[3] for e in examples])
    heads = {
        "salience": torch.nn.EmbeddingBag(DIMENSIONS, 1, mode="sum"),
        "metric": torch.nn.EmbeddingBag(DIMENSIONS, len(METRIC_CLASSES), mode="sum"),
        "period": torch.nn.EmbeddingBag(DIMENSIONS, len(PERIOD_CLASSES), mode="sum"),
    }
    for head in heads.values():
        torch.nn.init.zeros_(head.weight)
    biases = {
        "salience": torch.zeros(1, requires_grad=True),
        "metric": torch.zeros(len(METRIC_CLASSES), requires_grad=True),
        "period": torch.zeros(len(PERIOD_CLASSES), requires_grad=True),
    }
    parameters = [p for head in heads.values() for p in head.parameters()] + list(biases.values())
    optimiser = torch.optim.Adam(parameters, lr=0.05)
    order = list(range(len(examples)))
    generator = random.Random(SEED)
    batch = 512
    for epoch in range(epochs):
        generator.shuffle(order)
        total = 0.0
        for begin in range(0, len(order), batch):
            rows = order[begin : begin + batch]
            pieces = [ids[i] for i in rows]
            batch_offsets = torch.tensor([0, *np.cumsum([len(p) for p in pieces])[:-1]])
            batch_ids = torch.cat(pieces)
            index = torch.tensor(rows)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                heads["salience"](batch_ids, batch_offsets)[:, 0] + biases["salience"], salient[index]
            )
            for name, target in (("metric", metric[index]), ("period", period[index])):
                keep = target >= 0
                if keep.any():
                    logits = heads[name](batch_ids, batch_offsets) + biases[name]
                    loss = loss + torch.nn.functional.cross_entropy(logits[keep], target[keep])
            loss = loss + 1e-6 * sum(head.weight.pow(2).sum() for head in heads.values())
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(rows)
        progress(f"epoch {epoch + 1}/{epochs}: loss {total / len(order):.4f}")
    del flat, offsets
    weights = {name: head.weight.detach().numpy().astype(np.float16) for name, head in heads.items()}
    weights["salience"] = weights["salience"][:, 0]
    weights.update({f"{name}_bias": bias.detach().numpy() for name, bias in biases.items()})
    return weights


def _accuracy(
    weights: dict[str, np.ndarray], examples: list[tuple[list[str], int, int, int]]
) -> dict[str, float]:
    hits = {"salience": [0, 0], "metric": [0, 0], "period": [0, 0]}
    positives = caught = 0
    for features, salient, metric, period in examples:
        ids = hashed(features)
        score = float(weights["salience"][ids].astype(np.float32).sum() + weights["salience_bias"][0])
        hits["salience"][0] += int((score > 0) == bool(salient))
        hits["salience"][1] += 1
        positives += salient
        caught += salient and score > 0
        for name, target in (("metric", metric), ("period", period)):
            if target >= 0:
                logits = weights[name][ids].astype(np.float32).sum(axis=0) + weights[f"{name}_bias"]
                hits[name][0] += int(int(logits.argmax()) == target)
                hits[name][1] += 1
    report = {f"{name}_accuracy": hit / max(1, count) for name, (hit, count) in hits.items()}
    report["salience_recall"] = caught / max(1, positives)
    return report


def train(
    data: Path, out: Path | None = None, progress: Callable[[str], None] = print, epochs: int = 4
) -> dict:
    """Train the three heads on ECTSum's train calls under `data`; write the weights (and TRAINED_ON.txt) to
    `out` (a folder; the shipped `weights/` by default). Returns the validation metrics."""
    calls = read_split(Path(data))
    shuffled = list(calls)
    random.Random(SEED).shuffle(shuffled)
    cut = max(1, int(len(shuffled) * VALIDATION_SHARE)) if len(shuffled) > 4 else 0
    validation, training = shuffled[:cut], shuffled[cut:]
    examples: list[tuple[list[str], int, int, int]] = []
    for index, (document_id, text, bullets) in enumerate(training):
        examples.extend(call_examples(document_id, text, bullets))
        if index % 100 == 0:
            progress(f"features {index}/{len(training)}")
    held = [
        example
        for document_id, text, bullets in validation
        for example in call_examples(document_id, text, bullets)
    ]
    weights = _fit(examples, epochs, progress)
    folder = Path(out) if out is not None else WEIGHTS.parent
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / WEIGHTS.name, **weights)
    (folder / "TRAINED_ON.txt").write_text(
        "".join(f"{call[0]}\n" for call in sorted(training)), encoding="utf-8"
    )
    report = {
        "calls": len(training),
        "validation_calls": len(validation),
        "figures": len(examples),
        "salient_share": sum(e[1] for e in examples) / max(1, len(examples)),
        **{f"validation_{key}": value for key, value in _accuracy(weights, held).items()},
    }
    progress(str(report))
    return report
