"""Pool children embedding at once: torch's default threads (one per core in every child) against each child's
share of the cores, as `quire.celery` sets OMP_NUM_THREADS for a worker's children.

    python benchmarks/worker_threads.py [--children 2] [--chunks 100]

Each child is a fresh process that embeds the first `chunks` chunks of the 40-page benchmark contract
(`benchmarks/legal_cpu.py`) in the kernel ingest uses; all start together and the table gives each setting's wall
seconds until the last one finishes, and the slowest child's own embedding time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# torch first: it reads OMP_NUM_THREADS on import, and legal_cpu sets it to 1 for its own one-core timings.
CHILD = """
import sys, time
import torch
sys.path[:0] = [{root!r}, {benchmarks!r}]
from legal_cpu import contract_of
from inference.embeddings import embed_texts, int8_is_faster
from quire.documents.chunking import chunk_text, embedding_texts
text = contract_of(40)
chunks = embedding_texts(text, chunk_text(text))[:{chunks}]
int8 = int8_is_faster()
embed_texts(chunks[:2], quantized=int8)
started = time.perf_counter()
embed_texts(chunks, quantized=int8)
print(torch.get_num_threads(), time.perf_counter() - started)
"""


def run(children: int, chunks: int, threads: int | None) -> tuple[float, float, int]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    code = CHILD.format(root=str(ROOT), benchmarks=str(ROOT / "benchmarks"), chunks=chunks)
    started = time.perf_counter()
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(children)
    ]
    outputs = [p.communicate()[0].split() for p in procs]
    wall = time.perf_counter() - started
    return wall, max(float(seconds) for _, seconds in outputs), int(outputs[0][0])


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))
    from quire.celery import available_cores, torch_threads_per_child

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=2)
    parser.add_argument("--chunks", type=int, default=100)
    args = parser.parse_args(argv)
    share = torch_threads_per_child(args.children, available_cores())
    print(f"{args.children} children, {available_cores()} cores, {args.chunks} chunks each")
    print(f"{'setting':<28} {'threads':>7} {'wall s':>8} {'slowest embed s':>16}")
    for name, threads in [("torch default", None), ("share of the cores", share)]:
        wall, slowest, used = run(args.children, args.chunks, threads)
        print(f"{name:<28} {used:>7} {wall:8.2f} {slowest:16.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
