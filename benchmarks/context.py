"""What reading a document costs on the engine: dense against block-sparse prefill, many questions with and
without the shared document prefix, and whole against rag against map-reduce per document.

Builds a random Llama checkpoint (default 2 layers, hidden 256) and drives `inference.engine.Engine` on token
ids, then prints two tables:

    python -m benchmarks.context [--sizes 4096,16384] [--questions 1,8,41] [--device cpu] [--gpu-hour 2.50]

On a GPU (bfloat16, the Triton kernels, warmed up before anything is timed):

    python -m benchmarks.context --sizes 4096,16384,65536,131072 --device cuda

Per size: one prompt of the document prefilled dense and block-sparse (`sparse_from` 1, the rest of the
engine's defaults: blocks of 64 tokens, top 8 blocks a query). Per size and question count: the document
followed by each question (`--question-tokens`, `--answer-tokens` generated), with the prefix cache (the
first question reads the document, the others reuse its blocks) and without it; tokens computed counts the
prompt tokens the engine prefilled. Without the cache a run past `--max-uncached-tokens` prompt tokens is not
run but extrapolated from one question (marked ~). Cost per document is the measured wall time at
`--gpu-hour` dollars an hour for whole (the shared-prefix run), rag (each question its own
`--rag-tokens` of chunks, no shared document) and map-reduce (sections of `--section-tokens`, each read once
and asked every question over its cached prefix, then one reduce call). On a CPU the kernels run their
PyTorch references; with CUDA the Triton kernels. The KV cache is sized for the largest run
(`--cache-mb`, by default what the longest document plus every question, or `--max-uncached-tokens`, takes).
"""

from __future__ import annotations

import argparse
import math
import random
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.engine import build_checkpoint
from inference.engine import Engine, EngineConfig, SamplingParams
from inference.model import load_model


def _engine(model, *, prefix_cache: bool, sparse_from: int, max_len: int, cache_mb: int) -> Engine:
    return Engine(
        model,
        None,
        EngineConfig(
            enable_prefix_cache=prefix_cache,
            sparse_from=sparse_from,
            max_model_len=max_len,
            kv_cache_bytes=cache_mb * 2**20,
            max_num_batched_tokens=8192,
        ),
    )


def _run(engine: Engine, prompts: list[list[int]], answer: int, *, first_alone: bool) -> tuple[float, int]:
    """Wall seconds and prompt tokens prefilled to answer `prompts` (`first_alone`: the first one, then the
    rest together, as the connectors send the questions of one document)."""
    before = engine.stats["prefill_tokens"]
    params = SamplingParams(max_tokens=answer, ignore_eos=True)
    start = time.perf_counter()
    batches = [prompts[:1], prompts[1:]] if first_alone else [prompts]
    for batch in batches:
        if batch:
            engine.generate(batch, params)
    return time.perf_counter() - start, engine.stats["prefill_tokens"] - before


def _cache_mb(model, tokens: int) -> int:
    """MiB of KV cache that hold `tokens` tokens of `model`, with a tenth to spare."""
    config = model.config
    per_token = 2 * config.num_hidden_layers * config.num_key_value_heads * config.head_dim
    return math.ceil(per_token * torch.finfo(model.dtype).bits // 8 * tokens * 1.1 / 2**20)


def _warm_up(model, max_len: int, cache_mb: int) -> None:
    """Compile and tune the GPU kernels (dense and block-sparse prefill of every length bucket, decode) before
    anything is timed."""
    for sparse_from in (max_len + 1, 1):
        _engine(
            model, prefix_cache=False, sparse_from=sparse_from, max_len=max_len, cache_mb=cache_mb
        ).warm_up()


def _tokens(rng: random.Random, count: int, vocab: int) -> list[int]:
    return [rng.randrange(3, vocab) for _ in range(count)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.context", description=__doc__)
    parser.add_argument("--sizes", default="4096,16384")
    parser.add_argument("--questions", default="1,8,41")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--vocab", type=int, default=4096)
    parser.add_argument("--question-tokens", type=int, default=64)
    parser.add_argument("--answer-tokens", type=int, default=16)
    parser.add_argument("--rag-tokens", type=int, default=2048)
    parser.add_argument("--section-tokens", type=int, default=4096)
    parser.add_argument("--max-uncached-tokens", type=int, default=150_000)
    parser.add_argument("--gpu-hour", type=float, default=2.50, help="dollars per GPU hour")
    parser.add_argument(
        "--cache-mb", type=int, default=0, help="KV cache MiB; 0 sizes it for the largest run"
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--dtype", choices=("float32", "bfloat16"), help="default bfloat16 on a GPU, else float32"
    )
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device} needs a CUDA GPU, and torch sees none; --device cpu runs here")
    sizes = [int(s) for s in args.sizes.split(",")]
    question_counts = [int(q) for q in args.questions.split(",")]
    rng = random.Random(0)
    max_len = max(sizes) + args.question_tokens + args.answer_tokens + 64
    with tempfile.TemporaryDirectory() as directory:
        build_checkpoint(
            Path(directory), layers=args.layers, hidden=args.hidden, vocab=args.vocab, max_positions=max_len
        )
        dtype = args.dtype or ("bfloat16" if args.device.startswith("cuda") else "float32")
        model = load_model(directory, device=args.device, dtype=getattr(torch, dtype))
    most_tokens = max(
        args.max_uncached_tokens,
        max(sizes) + max(question_counts) * (args.question_tokens + args.answer_tokens),
    )
    cache_mb = args.cache_mb or _cache_mb(model, most_tokens + max_len)

    def engine(prefix_cache: bool, sparse_from: int) -> Engine:
        return _engine(
            model, prefix_cache=prefix_cache, sparse_from=sparse_from, max_len=max_len, cache_mb=cache_mb
        )

    if args.device.startswith("cuda"):
        _warm_up(model, max_len, cache_mb)

    dollars = args.gpu_hour / 3600
    print(
        f"device {args.device}, {dtype}, {args.layers} layers, hidden {args.hidden}, KV cache {cache_mb} MiB; "
        f"${args.gpu_hour:.2f} per GPU hour\n"
    )
    print("| document tokens | dense prefill s | block-sparse prefill s | speed-up |")
    print("|---|---|---|---|")
    documents = {}
    for size in sizes:
        document = documents[size] = _tokens(rng, size, args.vocab)
        dense, _ = _run(engine(False, max_len + 1), [document], 1, first_alone=False)
        sparse, _ = _run(engine(False, 1), [document], 1, first_alone=False)
        print(f"| {size:,} | {dense:.2f} | {sparse:.2f} | {dense / sparse:.1f}x |")
    print()
    print(
        "| document tokens | questions | shared prefix: tokens computed / s | no shared prefix: tokens computed / s "
        "| whole $ | rag $ | map-reduce $ |"
    )
    print("|---|---|---|---|---|---|---|")
    for size in sizes:
        document = documents[size]
        sparse_from = min(8192, size)
        one_uncached: tuple[float, int] | None = None
        for count in question_counts:
            questions = [_tokens(rng, args.question_tokens, args.vocab) for _ in range(count)]
            shared_s, shared_tokens = _run(
                engine(True, sparse_from),
                [document + q for q in questions],
                args.answer_tokens,
                first_alone=True,
            )
            if count * (size + args.question_tokens) <= args.max_uncached_tokens:
                plain_s, plain_tokens = _run(
                    engine(False, sparse_from),
                    [document + q for q in questions],
                    args.answer_tokens,
                    first_alone=False,
                )
                if count == 1:
                    one_uncached = (plain_s, plain_tokens)
                plain = f"{plain_tokens:,} / {plain_s:.1f}"
            else:
                if one_uncached is None:
                    one_uncached = _run(
                        engine(False, sparse_from),
                        [document + questions[0]],
                        args.answer_tokens,
                        first_alone=False,
                    )
                plain = f"~{one_uncached[1] * count:,} / ~{one_uncached[0] * count:.0f}"
            rag_s, _ = _run(
                engine(False, sparse_from),
                [_tokens(rng, min(size, args.rag_tokens), args.vocab) + q for q in questions],
                args.answer_tokens,
                first_alone=False,
            )
            reduce_engine = engine(True, sparse_from)
            sections = [document[i : i + args.section_tokens] for i in range(0, size, args.section_tokens)]
            reduce_s = sum(
                _run(reduce_engine, [section + q for q in questions], args.answer_tokens, first_alone=True)[0]
                for section in sections
            )
            reduce_s += _run(
                reduce_engine,
                [_tokens(rng, len(sections) * count * args.answer_tokens + args.question_tokens, args.vocab)],
                args.answer_tokens,
                first_alone=False,
            )[0]
            print(
                f"| {size:,} | {count} | {shared_tokens:,} / {shared_s:.1f} | {plain} | {shared_s * dollars:.5f} "
                f"| {rag_s * dollars:.5f} | {reduce_s * dollars:.5f} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
