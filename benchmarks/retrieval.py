"""Retrieval quality of the chunk vectors: does a clause's chunk come first when a contract's chunks are
searched for the clause's CUAD category by name (what a review column asks)?

    python benchmarks/retrieval.py [--split dev] [--min-words 8] [--resamples 1000]

Each contract of tests/data/cuad's split is cut into chunks as ingest cuts it (`chunk_text`, the encoder
reading `embedding_texts`). A query is a (contract, category) pair with a labelled clause of at least
`--min-words` words (names, dates and titles are left out: a short string such as "Company" is everywhere), the
query text the category's name. A chunk answers it when it covers half of a labelled piece's characters
(CUAD joins a clause's pieces with "<omitted>"; each is found in the text with any whitespace). Chunks are
ranked by cosine alone, within the contract, as `search_chunks` with a document filter ranks them.

Rows: the fp32 vectors (the reference; queries always use fp32), each int8 kernel ingest can choose (a kernel
the probe finds `SLOW_KERNEL` times slower than fp32 is left out), and fp32 over each whole chunk, with the
sentence it repeats from the chunk before (as ingest embedded chunks until `embedding_texts` left it out), and
the chunk encoder (`embed_chunks`, what ingest stores now) in fp32 and each int8 kernel.
Each row's Recall@k and MRR, its Recall@3 difference to fp32 with a 95 % paired bootstrap interval over the
queries, and the mean cosine of its chunk vectors to the fp32 ones.

A second table checks the vectors ingest stores on the other verticals' documents, which the chunk encoder was not
trained on: tests/data/scifact's claims of the split against the chunks of all its abstracts (a claim is answered
by a chunk of a paper it cites), and the mean cosine to the fp32 vectors of the chunks of tests/data/ectsum's calls
of the split.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SLOW_KERNEL = 4
KS = (1, 3, 5)

if TYPE_CHECKING:
    from quire.documents.chunking import ChunkSpan


def locate(text: str, piece: str) -> tuple[int, int] | None:
    words = piece.split()
    if not words:
        return None
    found = re.search(r"\s+".join(map(re.escape, words)), text)
    return (found.start(), found.end()) if found else None


def queries_of(label: dict, text: str, spans: list[ChunkSpan], min_words: int) -> list[tuple[str, set[int]]]:
    queries = []
    for category, clauses in label["clauses"].items():
        answers: set[int] = set()
        for clause in clauses:
            for piece in clause.split("<omitted>"):
                if len(piece.split()) < min_words:
                    continue
                where = locate(text, piece)
                if where is None:
                    continue
                start, end = where
                for index, span in enumerate(spans):
                    if 2 * (min(end, span.end) - max(start, span.start)) >= end - start:
                        answers.add(index)
        if answers:
            queries.append((category, answers))
    return queries


def ranks(vectors, query_vectors, queries: list[tuple[str, set[int]]]) -> list[int]:
    scores = query_vectors @ vectors.T
    found = []
    for row, (_, answers) in enumerate(queries):
        order = sorted(range(len(vectors)), key=lambda i: -scores[row, i])
        found.append(next(position for position, index in enumerate(order, 1) if index in answers))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="dev", choices=("dev", "heldout"))
    parser.add_argument("--min-words", type=int, default=8)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args(argv)

    from inference import embeddings
    from quire.documents.chunking import chunk_text, embedding_text, embedding_texts

    data = ROOT / "tests" / "data" / "cuad"
    labels = [json.loads(line) for line in (data / "labels.jsonl").read_text(encoding="utf-8").splitlines()]
    labels = [label for label in labels if label["split"] == args.split]
    seconds = embeddings._probe()
    kernels = [k for k in embeddings.INT8_KERNELS if seconds[k] <= SLOW_KERNEL * seconds["fp32"]]
    rows: dict[str, list[int]] = {}
    timings: dict[str, float] = {}
    pieces: dict[str, int] = {}
    cosines: dict[str, list[float]] = {}
    tokenizer = embeddings._load()[0]
    contracts = queries_total = chunks_total = 0
    for label in labels:
        text = (data / "contracts" / f"{label['document_id']}.txt").read_text(encoding="utf-8")
        spans = chunk_text(text)
        queries = queries_of(label, text, spans, args.min_words)
        if not queries:
            continue
        contracts += 1
        queries_total += len(queries)
        chunks_total += len(spans)
        query_vectors = embeddings.embed_texts([category for category, _ in queries])
        read = embedding_texts(text, spans)
        full, chunk = embeddings.embed_texts, embeddings.embed_chunks
        fp32_vectors = None
        variants = {"fp32": (read, False, full)}
        variants.update({f"int8 {k}": (read, k, full) for k in kernels})
        variants["fp32, repeated sentence kept"] = (
            [embedding_text(text[c.start : c.end]) for c in spans],
            False,
            full,
        )
        variants["chunk encoder fp32"] = (read, False, chunk)
        variants.update({f"chunk encoder int8 {k}": (read, k, chunk) for k in kernels})
        for name, (texts, kernel, embed) in variants.items():
            started = time.perf_counter()
            vectors = embed(texts, quantized=kernel)
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - started
            fp32_vectors = vectors if name == "fp32" else fp32_vectors
            cosines.setdefault(name, []).extend((vectors * fp32_vectors).sum(axis=1).tolist())
            pieces[name] = pieces.get(name, 0) + sum(len(e.ids) for e in tokenizer.encode_batch(texts))
            rows.setdefault(name, []).extend(ranks(vectors, query_vectors, queries))

    print(
        f"CUAD {args.split}: {contracts} contracts, {chunks_total} chunks, {queries_total} queries "
        f"(category name against the contract's chunks; clauses of {args.min_words}+ words)"
    )
    header = "".join(f"{f'R@{k}':>7}" for k in KS)
    print(
        f"{'vectors':<34}{header}{'MRR':>7}{'R@3 - fp32 [95% CI]':>26}{'cos':>7}{'pieces':>9}{'embed s':>9}"
    )
    reference = rows["fp32"]
    generator = random.Random(0)
    picks = [[generator.randrange(len(reference)) for _ in reference] for _ in range(args.resamples)]
    for name, found in rows.items():
        recalls = "".join(f"{sum(r <= k for r in found) / len(found):7.3f}" for k in KS)
        mrr = statistics.mean(1 / r for r in found)
        gains = [(f <= 3) - (r <= 3) for f, r in zip(found, reference, strict=True)]
        resampled = sorted(sum(gains[i] for i in pick) / len(pick) for pick in picks)
        low, high = resampled[int(0.025 * len(resampled))], resampled[int(0.975 * len(resampled)) - 1]
        delta = f"{statistics.mean(gains):+.3f} [{low:+.3f}, {high:+.3f}]"
        print(
            f"{name:<34}{recalls}{mrr:7.3f}{delta:>26}{statistics.mean(cosines[name]):7.3f}{pieces[name]:9,}{timings[name]:9.1f}"
        )
    other_verticals(args.split, kernels)
    return 0


def other_verticals(split: str, kernels: list[str]) -> None:
    from connectors.loaders import load_corpus
    from inference import embeddings
    from quire.documents.chunking import chunk_text, embedding_texts

    data = ROOT / "tests" / "data"
    papers = load_corpus(data / "scifact" / "corpus.jsonl")
    claims = [json.loads(line) for line in (data / "scifact" / "claims.jsonl").read_text().splitlines()]
    claims = [claim for claim in claims if claim["split"] == split and claim["cited_doc_ids"]]
    paper_texts, owners = [], []
    for paper in papers:
        read = embedding_texts(paper.text, chunk_text(paper.text))
        paper_texts += read
        owners += [paper.document_id] * len(read)
    queries = []
    for claim in claims:
        cited = {str(doc_id) for doc_id in claim["cited_doc_ids"]}
        queries.append((claim["claim"], {i for i, owner in enumerate(owners) if owner in cited}))
    calls = [json.loads(line) for line in (data / "ectsum" / "labels.jsonl").read_text().splitlines()]
    call_texts = []
    for call in calls:
        if call["split"] == split:
            text = (data / "ectsum" / "calls" / f"{call['document_id']}.txt").read_text(encoding="utf-8")
            call_texts += embedding_texts(text, chunk_text(text))
    query_vectors = embeddings.embed_texts([claim for claim, _ in queries])
    variants = {"fp32": (embeddings.embed_texts, False)}
    variants.update({f"int8 {k}": (embeddings.embed_texts, k) for k in kernels})
    variants["chunk encoder fp32"] = (embeddings.embed_chunks, False)
    variants.update({f"chunk encoder int8 {k}": (embeddings.embed_chunks, k) for k in kernels})
    print()
    print(
        f"SciFact {split}: {len(queries)} claims against {len(paper_texts)} chunks of {len(papers)} abstracts; "
        f"ECTSum {split}: {len(call_texts)} chunks of {sum(c['split'] == split for c in calls)} calls"
    )
    print(f"{'vectors':<34}{'R@1':>7}{'R@3':>7}{'MRR':>7}{'cos papers':>12}{'cos calls':>11}")
    reference: dict[str, object] = {}
    for name, (embed, kernel) in variants.items():
        vectors = {
            "papers": embed(paper_texts, quantized=kernel),
            "calls": embed(call_texts, quantized=kernel),
        }
        reference = reference or vectors
        found = ranks(vectors["papers"], query_vectors, queries)
        cos = {key: float((vectors[key] * reference[key]).sum(axis=1).mean()) for key in vectors}
        print(
            f"{name:<34}{sum(r <= 1 for r in found) / len(found):7.3f}{sum(r <= 3 for r in found) / len(found):7.3f}"
            f"{statistics.mean(1 / r for r in found):7.3f}{cos['papers']:12.3f}{cos['calls']:11.3f}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
