"""A 40-page contract through the legal connector on one CPU core: where the time goes.

    python benchmarks/legal_cpu.py [--pages 40] [--repeat 3]

The contract is the dev contracts of tests/data/cuad, each once and in their order, joined until it holds
`pages` x 3,000 characters (a page of an EDGAR exhibit; the 24 hold 174 such pages). The process is pinned
to one core with one BLAS/torch thread. Each stage is timed on its own (best of `repeat`, a slow kernel
once): the sentence split, the rules, the learned model's sparse features and logits, the same with the
reranker (MiniLM fp32 vectors of each category's best sentences), the whole analysis with the model, the whole connector (risks included), and the MiniLM embedding of the contract's chunks (as the
encoder reads them, `embedding_texts`) in fp32 and in each int8 kernel (a kernel the probe finds far slower
on its first chunks only). The row marked "ingest" is the path ingest takes (`int8_is_faster()`,
`int8_kernel()`): a document is embedded once, at upload, not per analysis. The last line
adds the connector, ingest's chunking (the sentence packing and the encoder's word pieces that size chunks) and
that embedding, the CPU time issue 17's 5 s budget for a 40-page contract is about.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

os.environ.update({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PAGE_CHARS = 3000
# A kernel the probe finds this many times slower than the fastest is timed on the first chunks only: on a CPU
# without fast `torch._int_mm` kernels that forward of a whole contract takes minutes.
SLOW_KERNEL = 4
COMPARED_CHUNKS = 16


def contract_of(pages: int) -> str:
    data = ROOT / "tests" / "data" / "cuad"
    rows = [json.loads(line) for line in (data / "labels.jsonl").read_text(encoding="utf-8").splitlines()]
    texts = [(data / "contracts" / f"{r['document_id']}.txt").read_text(encoding="utf-8") for r in rows]
    texts = [t for t, r in zip(texts, rows, strict=True) if r["split"] == "dev"]
    joined = "\n\n".join(texts)
    if len(joined) < pages * PAGE_CHARS:
        raise SystemExit(f"the dev contracts hold {len(joined) // PAGE_CHARS} pages, fewer than {pages}")
    return joined[: pages * PAGE_CHARS]


def best_of(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.process_time()
        work()
        times.append(time.process_time() - started)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    from connectors import Document, run_connector
    from connectors.legal.analyzers import analyse_contract, find_rule_clauses
    from connectors.legal.learned import MAX_SUGGESTIONS, shipped_model
    from connectors.text import split_sentences

    text = contract_of(args.pages)
    started = time.process_time()
    model = shipped_model()
    load = time.process_time() - started
    if model is None:
        raise SystemExit(
            "no weights in connectors/legal/weights; run `python -m connectors train legal` first"
        )
    sentences = split_sentences(text)
    stages: list[tuple[str, float]] = [
        ("load weights (once per process)", load),
        ("sentence split", best_of(args.repeat, lambda: split_sentences(text))),
        ("rules", best_of(args.repeat, lambda: find_rule_clauses(text, sentences))),
        ("model features + logits", best_of(args.repeat, lambda: model.logits([s.text for s in sentences]))),
        (
            "logits + reranker (MiniLM, best sentences)",
            best_of(args.repeat, lambda: model.scores([s.text for s in sentences])),
        ),
        ("analysis with the model", best_of(args.repeat, lambda: analyse_contract("c", text, model))),
        (
            f"analysis, model + {MAX_SUGGESTIONS} suggestions",
            best_of(args.repeat, lambda: analyse_contract("c", text, model, suggestions=MAX_SUGGESTIONS)),
        ),
        ("analysis, rules only", best_of(args.repeat, lambda: analyse_contract("c", text))),
        (
            "legal connector (+ risks)",
            best_of(args.repeat, lambda: run_connector("legal", [Document("c", text)])),
        ),
    ]
    try:
        from inference import embeddings
        from quire.documents.chunking import chunk_text, embedding_texts

        chunks = embedding_texts(text, chunk_text(text))
        stages.append(("chunking (ingest)", best_of(args.repeat, lambda: chunk_text(text))))
        seconds = embeddings._probe()
        chosen = embeddings.int8_kernel() if embeddings.int8_is_faster() else None
        encoders = (("MiniLM", embeddings.embed_texts), ("chunk encoder", embeddings.embed_chunks))
        for (encoder, embed), kernel in itertools.product(encoders, (None, *embeddings.INT8_KERNELS)):
            name = kernel or "fp32"
            slow = seconds[name] > SLOW_KERNEL * min(seconds.values())
            part = chunks[:COMPARED_CHUNKS] if slow else chunks
            embed(part[:2], quantized=kernel or False)
            ingest = kernel == chosen and embed is embeddings.embed_chunks
            label = f"{'ingest: ' if ingest else ''}{encoder} {name}, {len(part)} chunks"
            stages.append(
                (label, best_of(1 if slow else args.repeat, partial(embed, part, quantized=kernel or False)))
            )
    except (ImportError, OSError) as error:
        stages.append((f"ingest: MiniLM unavailable ({type(error).__name__})", float("nan")))
    print(
        f"{args.pages} pages, {len(text):,} characters, {len(sentences):,} sentences, one core (CPU seconds)"
    )
    print(f"{'stage':<40} {'seconds':>8}")
    print("-" * 49)
    for name, seconds in stages:
        print(f"{name:<40} {seconds:8.3f}")
    timed = dict(stages)
    ingest = next((seconds for name, seconds in stages if name.startswith("ingest:")), float("nan"))
    print("-" * 49)
    chunking = timed.get("chunking (ingest)", float("nan"))
    total = timed["legal connector (+ risks)"] + chunking + ingest
    print(f"{'connector + chunking + ingest embedding':<40} {total:8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
