"""Ingest throughput and search latency.

1. Parse: pages/s for N synthetic PDFs of 20-100 pages (pypdf, our parser).
2. Embed: chunks/s of `inference.embeddings.embed_texts` (fp32, and int8) and of `embed_chunks` (the chunk
   encoder, in int8 where `int8_is_faster()`: what ingest stores) vs sentence-transformers `encode` on the same
   chunks as the encoder reads them (`embedding_texts`), in alternating rounds (two by default; the fastest
   round of each counts), with the cosine of each vector to sentence-transformers'.
3. Search: p50/p99 of `POST /v1/search` at M chunks in one tenant, HNSW vs exact scan, and recall@10 of HNSW.
   The M stored vectors are random mixtures of two MiniLM embeddings of real chunks (weights 0.5-1 and
   0.5-0), so they keep the structure of real embeddings while being distinct.

    python benchmarks/ingest.py [--docs 100] [--embed-chunks 2000] [--embed-rounds 2] [--search-chunks 100000]
                                [--queries 200] [--skip-search]

`--skip-search` measures parsing and embedding only, without starting PostgreSQL or Django.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# On a CPU where int8 is slower than fp32 (`int8_is_faster()`), ingest embeds in fp32 and the int8 forward is
# timed on this many chunks only.
SLOW_INT8_CHUNKS = 32
WORDS = [
    "agreement",
    "party",
    "license",
    "term",
    "revenue",
    "margin",
    "guidance",
    "quarter",
    "growth",
    "customer",
    "liability",
    "notice",
    "renewal",
    "governing",
    "law",
    "delaware",
    "cell",
    "protein",
    "expression",
    "model",
    "data",
    "analysis",
    "result",
    "significant",
    "increase",
    "decline",
    "market",
    "product",
    "service",
    "operating",
    "cash",
    "flow",
    "employee",
    "confidential",
    "information",
    "termination",
    "warranty",
]


def synthetic_pdf(pages: int, rng: random.Random) -> bytes:
    from tests.support.documents import make_pdf

    lines = []
    for _ in range(pages):
        sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(60, 120)))
        lines.append(sentence.capitalize() + ".")
    return make_pdf(lines)


def bench_parse(docs: int, rng: random.Random) -> tuple[dict, list[str]]:
    from quire.documents.chunking import chunk_text, embedding_texts
    from quire.documents.parsing import parse_document
    from quire.documents.sniffing import PDF

    pdfs = [synthetic_pdf(rng.randint(20, 100), rng) for _ in range(docs)]
    started = time.perf_counter()
    parsed = [parse_document(pdf, PDF) for pdf in pdfs]
    parse_s = time.perf_counter() - started
    started = time.perf_counter()
    chunks = [text for p in parsed for text in embedding_texts(p.text, chunk_text(p.text))]
    chunk_s = time.perf_counter() - started
    pages = sum(p.page_count for p in parsed)
    return {
        "docs": docs,
        "pages": pages,
        "pages_per_s": pages / parse_s,
        "chunks": len(chunks),
        "chunks_per_s_split": len(chunks) / chunk_s,
    }, chunks


def bench_embed(chunks: list[str], rounds: int) -> dict:
    import torch
    from sentence_transformers import SentenceTransformer

    from inference.embeddings import embed_chunks, embed_texts, int8_is_faster, model_dir

    torch.set_num_threads(os.cpu_count() or 2)
    embed_texts(chunks[:8])
    embed_texts(chunks[:8], quantized=True)
    int8_faster = int8_is_faster()
    embed_chunks(chunks[:8], quantized=int8_faster)
    int8_chunks = chunks if int8_faster else chunks[:SLOW_INT8_CHUNKS]
    reference = SentenceTransformer(str(model_dir()), device="cpu")
    reference.encode(chunks[:8])
    ours_s, int8_s, stored_s, theirs_s = (float("inf"),) * 4
    for _ in range(rounds):
        started = time.perf_counter()
        ours = embed_texts(chunks, batch_size=64)
        ours_s = min(ours_s, time.perf_counter() - started)
        started = time.perf_counter()
        quantized = embed_texts(int8_chunks, batch_size=64, quantized=True)
        int8_s = min(int8_s, time.perf_counter() - started)
        started = time.perf_counter()
        stored = embed_chunks(chunks, batch_size=64, quantized=int8_faster)
        stored_s = min(stored_s, time.perf_counter() - started)
        started = time.perf_counter()
        theirs = reference.encode(chunks, batch_size=64, normalize_embeddings=True)
        theirs_s = min(theirs_s, time.perf_counter() - started)
    int8_cosines = (quantized * theirs[: len(int8_chunks)]).sum(axis=1)
    return {
        "chunks": len(chunks),
        "ours_per_s": len(chunks) / ours_s,
        "int8_chunks": len(int8_chunks),
        "int8_faster": int8_faster,
        "int8_per_s": len(int8_chunks) / int8_s,
        "st_per_s": len(chunks) / theirs_s,
        "min_cosine": float((ours * theirs).sum(axis=1).min()),
        "int8_min_cosine": float(int8_cosines.min()),
        "int8_mean_cosine": float(int8_cosines.mean()),
        "stored_per_s": len(chunks) / stored_s,
        "stored_mean_cosine": float((stored * theirs).sum(axis=1).mean()),
    }


def bench_search(n_chunks: int, queries: int, seed_chunks: list[str]) -> dict:
    import numpy as np
    from django.db import connection
    from django_tenants.utils import tenant_context

    from inference.embeddings import embed_texts
    from quire.documents.models import Chunk, Document, DocumentStatus
    from tenants.models import Tenant
    from tenants.services import api_key_issue, tenant_provision
    from tests.support import Api

    tenant = Tenant.objects.filter(slug="bench-search").first()
    if tenant is not None:
        tenant.delete(force_drop=True)
    tenant = tenant_provision(name="Bench Search", slug="bench-search").tenant
    rng = np.random.default_rng(0)
    base = embed_texts(seed_chunks[:2000])
    weight = rng.uniform(0.5, 1.0, (n_chunks, 1))
    first, second = rng.integers(0, len(base), n_chunks), rng.integers(0, len(base), n_chunks)
    vectors = (
        weight * base[first] + (1 - weight) * base[second] + rng.normal(0, 0.005, (n_chunks, base.shape[1]))
    )
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    with tenant_context(tenant):
        document = Document.objects.create(
            filename="bench",
            content_type="text/plain",
            sha256="b" * 64,
            size_bytes=0,
            file="bench",
            status=DocumentStatus.READY,
            text="x" * 10,
        )
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("DROP INDEX IF EXISTS chunk_embedding_hnsw")
        for begin in range(0, n_chunks, 5000):
            Chunk.objects.bulk_create(
                [
                    Chunk(document=document, index=i, start=0, end=1, text="x", embedding=vectors[i])
                    for i in range(begin, min(n_chunks, begin + 5000))
                ]
            )
        load_s = time.perf_counter() - started
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '512MB'")
            cursor.execute(
                "CREATE INDEX chunk_embedding_hnsw ON documents_chunk USING hnsw (embedding vector_cosine_ops) "
                "WITH (m = 16, ef_construction = 64)"
            )
            cursor.execute("ANALYZE documents_chunk")
        index_s = time.perf_counter() - started
    from django.test import override_settings

    api = Api(api_key_issue(tenant=tenant, name="bench", role="viewer").secret)
    texts = [seed_chunks[i % len(seed_chunks)][:200] for i in range(queries)]

    def run(exact: bool) -> tuple[list[float], list[list[int]]]:
        """Through the API: unfiltered uses HNSW; a document filter makes the search an exact scan."""
        latencies, results = [], []
        for text in texts:
            body = {"query": text, "k": 10, **({"documents": [document.id]} if exact else {})}
            started = time.perf_counter()
            response = api.post("/v1/search", body)
            latencies.append(time.perf_counter() - started)
            results.append([h["chunk_index"] for h in response.json()["data"]])
        return latencies, results

    from django.conf import settings

    rest = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": "1000000/min"}}
    with override_settings(REST_FRAMEWORK=rest):
        run(False)
        hnsw_lat, hnsw_res = run(False)
        exact_lat, exact_res = run(True)
    recall = statistics.mean(
        len(set(h) & set(e)) / max(1, len(e)) for h, e in zip(hnsw_res, exact_res, strict=True)
    )

    def pct(values, q):
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    tenant.delete(force_drop=True)
    return {
        "chunks": n_chunks,
        "load_s": load_s,
        "index_s": index_s,
        "hnsw_p50": pct(hnsw_lat, 0.5),
        "hnsw_p99": pct(hnsw_lat, 0.99),
        "exact_p50": pct(exact_lat, 0.5),
        "exact_p99": pct(exact_lat, 0.99),
        "recall": recall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100)
    parser.add_argument("--embed-chunks", type=int, default=2000)
    parser.add_argument("--embed-rounds", type=int, default=2)
    parser.add_argument("--search-chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--skip-search", action="store_true", help="parse and embed only; no database")
    args = parser.parse_args()
    if args.embed_rounds < 1:
        parser.error("--embed-rounds must be at least 1")
    servers = []
    if not args.skip_search:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quire.settings")
        os.environ.setdefault("QUIRE_LOG_LEVEL", "WARNING")
        from quire.embedded import ensure_service_urls

        servers = ensure_service_urls()
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate_schemas", interactive=False, verbosity=0)
    rng = random.Random(0)
    search = None
    try:
        parse, chunks = bench_parse(args.docs, rng)
        sample = random.Random(1).sample(chunks, min(args.embed_chunks, len(chunks)))
        embed = bench_embed(sample, args.embed_rounds)
        if not args.skip_search:
            search = bench_search(args.search_chunks, args.queries, sample)
    finally:
        for server in servers:
            server.stop()
    print(f"CPUs: {os.cpu_count()}")
    print(
        f"{'parse':<28}{parse['docs']:>6} docs {parse['pages']:>7} pages {parse['pages_per_s']:>9.1f} pages/s"
        f"   chunking {parse['chunks']} chunks at {parse['chunks_per_s_split']:.0f}/s"
    )
    print(f"{'embed (ours)':<28}{embed['chunks']:>6} chunks {embed['ours_per_s']:>9.1f} chunks/s")
    print(
        f"{'embed (sentence-transformers)':<28}{embed['chunks']:>6} chunks {embed['st_per_s']:>9.1f} chunks/s"
    )
    print(
        f"{'embed ratio ours / st':<28}{embed['ours_per_s'] / embed['st_per_s']:>15.2f}x"
        f"   min cosine agreement {embed['min_cosine']:.5f}"
    )
    int8_label = "embed (ours, int8)" if embed["int8_faster"] else "embed (int8, not used here)"
    print(f"{int8_label:<28}{embed['int8_chunks']:>6} chunks {embed['int8_per_s']:>9.1f} chunks/s")
    print(
        f"{'embed ratio int8 / st':<28}{embed['int8_per_s'] / embed['st_per_s']:>15.2f}x"
        f"   cosine to st min {embed['int8_min_cosine']:.4f} mean {embed['int8_mean_cosine']:.4f}"
    )
    print(
        f"{'embed (ingest: chunk enc.)':<28}{embed['chunks']:>6} chunks {embed['stored_per_s']:>9.1f} chunks/s"
    )
    print(
        f"{'embed ratio ingest / st':<28}{embed['stored_per_s'] / embed['st_per_s']:>15.2f}x"
        f"   cosine to st mean {embed['stored_mean_cosine']:.4f} (a distilled encoder: not the same vectors)"
    )
    if search is None:
        return
    print(
        f"search at {search['chunks']} chunks (load {search['load_s']:.0f}s, HNSW build {search['index_s']:.0f}s)"
    )
    print(f"{'':<28}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'POST /v1/search (HNSW)':<28}{search['hnsw_p50']:>10.1f}{search['hnsw_p99']:>10.1f}")
    print(f"{'POST /v1/search (exact)':<28}{search['exact_p50']:>10.1f}{search['exact_p99']:>10.1f}")
    print(f"{'HNSW recall@10 vs exact':<28}{search['recall']:>10.3f}")


if __name__ == "__main__":
    main()
