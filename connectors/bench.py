"""Timing of the analyzers on synthetic long inputs built from the sample data; prints a table. The MiniLM encoder
(legal's reranker, literature) is loaded first, on its own row.

Run with `python -m connectors.bench` (one process; pin it to one core with `taskset -c 0` to measure one core).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from connectors import Document, run_connector
from connectors.loaders import load_corpus
from inference.client import embed_local

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def _repeat(texts: list[str], size: int) -> str:
    joined = ""
    while len(joined) < size:
        joined += "\n\n".join(texts) + "\n\n"
    return joined[:size]


def _amounts(texts: list[str]) -> str:
    """The amounts of money `texts` state, one after another: text as dense with figures as a table's cells."""
    return " ".join(re.findall(r"\$\d[\d,.]*(?: million| billion)?", "\n".join(texts)))


def _time(name: str, documents: list[Document], options: dict | None = None) -> float:
    started = time.perf_counter()
    run_connector(name, documents, options=options)
    return time.perf_counter() - started


def main() -> None:
    contracts = [p.read_text(encoding="utf-8") for p in sorted((DATA / "cuad" / "contracts").glob("*.txt"))]
    calls = [p.read_text(encoding="utf-8") for p in sorted((DATA / "ectsum" / "calls").glob("*.txt"))]
    corpus = load_corpus(DATA / "scifact" / "corpus.jsonl")
    claims = [json.loads(line) for line in (DATA / "scifact" / "claims.jsonl").read_text().splitlines()]
    started = time.perf_counter()
    embed_local(["warm-up"])
    rows = [("(encoder)", "load MiniLM, once per process", time.perf_counter() - started)]
    for size in (25_000, 100_000, 1_000_000):
        rows.append(
            ("legal", f"{size:,} chars", _time("legal", [Document("bench", _repeat(contracts, size))]))
        )
    for size in (25_000, 100_000, 1_000_000):
        rows.append(
            (
                "earnings",
                f"{size:,} chars",
                _time("earnings", [Document("bench_q3_2021", _repeat(calls, size))]),
            )
        )
    amounts = _repeat([_amounts(calls)], 100_000)
    rows.append(
        ("earnings", "100,000 chars of amounts", _time("earnings", [Document("bench_q3_2021", amounts)]))
    )
    options = {"claims": [{"claim_id": c["claim_id"], "claim": c["claim"]} for c in claims[:10]]}
    rows.append(("literature", f"{len(corpus)} papers, 10 claims", _time("literature", corpus, options)))
    print(f"{'connector':<12} {'input':<28} {'seconds':>8}")
    print("-" * 50)
    for name, size, seconds in rows:
        print(f"{name:<12} {size:<28} {seconds:8.2f}")


if __name__ == "__main__":
    main()
