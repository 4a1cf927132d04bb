"""Benchmark of the Triton kernels against torch's scaled_dot_product_attention (flash backend).

    python -m kernels.bench                     # every op, full sweep (needs a CUDA GPU)
    python -m kernels.bench --ops flash,decode  # a subset
    python -m kernels.bench --quick             # short sweep

Prints one table per op. Kernels are timed through their launchers (inputs already checked), with
``triton.testing.do_bench`` (median of repeated runs after warm-up). Without CUDA it says so and exits 0.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable

import torch
import torch.nn.functional as F

OPS = ("flash", "sliding", "block_sparse", "decode")
H100_HBM_GBPS = 3350.0


def _time_ms(fn: Callable[[], object]) -> float:
    import triton.testing

    return float(triton.testing.do_bench(fn, warmup=25, rep=100))


def _print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    sys.stdout.flush()


def _sdpa_flash(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool) -> torch.Tensor:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)


def _packed(batch: int, seqlen: int, n_heads: int, n_kv_heads: int, head_dim: int, dtype: torch.dtype):
    total = batch * seqlen
    q = torch.randn(total, n_heads, head_dim, device="cuda", dtype=dtype)
    k = torch.randn(total, n_kv_heads, head_dim, device="cuda", dtype=dtype)
    v = torch.randn(total, n_kv_heads, head_dim, device="cuda", dtype=dtype)
    cu = torch.arange(0, total + 1, seqlen, dtype=torch.int32, device="cuda")
    return q, k, v, cu


def _batched(x: torch.Tensor, batch: int) -> torch.Tensor:
    return x.reshape(batch, -1, x.shape[1], x.shape[2]).transpose(1, 2)


def bench_flash(lengths: list[int], n_heads: int, head_dim: int, dtype: torch.dtype, tokens: int) -> None:
    from kernels.flash import kernel as flash

    scale = head_dim**-0.5
    rows = []
    for causal in (True, False):
        for n in lengths:
            batch = max(1, tokens // n)
            q, k, v, cu = _packed(batch, n, n_heads, n_heads, head_dim, dtype)

            def ours(q=q, k=k, v=v, cu=cu, n=n, causal=causal):
                return flash.flash_attention(
                    q, k, v, causal=causal, cu_seqlens_q=cu, cu_seqlens_k=cu, max_seqlen_q=n, max_seqlen_k=n,
                    softmax_scale=scale,
                )  # fmt: skip

            bq, bk, bv = (_batched(x, batch) for x in (q, k, v))
            ours_ms = _time_ms(ours)
            sdpa_ms = _time_ms(lambda bq=bq, bk=bk, bv=bv, causal=causal: _sdpa_flash(bq, bk, bv, causal))
            error = (_batched(ours()[0], batch) - _sdpa_flash(bq, bk, bv, causal)).abs().max().item()
            flops = 4 * batch * n_heads * n * n * head_dim / (2 if causal else 1)
            rows.append(
                [
                    "causal" if causal else "full", str(n), str(batch), f"{ours_ms:.3f}", f"{flops / ours_ms / 1e9:.1f}",
                    f"{sdpa_ms:.3f}", f"{flops / sdpa_ms / 1e9:.1f}", f"{sdpa_ms / ours_ms:.2f}", f"{error:.1e}",
                ]
            )  # fmt: skip
            del q, k, v, bq, bk, bv
            torch.cuda.empty_cache()
    _print_table(
        f"flash attention forward, {dtype}, {n_heads} heads, head_dim {head_dim}, ~{tokens} tokens per batch",
        ["mask", "seqlen", "batch", "ours ms", "TFLOP/s", "sdpa ms", "sdpa TFLOP/s", "speedup", "max err"],
        rows,
    )


def bench_sliding(lengths: list[int], window: int, n_heads: int, head_dim: int, dtype: torch.dtype) -> None:
    from kernels.flash import kernel as flash
    from kernels.sliding_window import kernel as sliding_window

    scale = head_dim**-0.5
    rows = []
    for n in lengths:
        q, k, v, cu = _packed(1, n, n_heads, n_heads, head_dim, dtype)
        window_ms = _time_ms(
            lambda q=q, k=k, v=v, cu=cu, n=n: sliding_window.sliding_window_attention(
                q, k, v, window=window, cu_seqlens=cu, max_seqlen=n, softmax_scale=scale
            )
        )
        dense_ms = _time_ms(
            lambda q=q, k=k, v=v, cu=cu, n=n: flash.flash_attention(
                q, k, v, causal=True, cu_seqlens_q=cu, cu_seqlens_k=cu, max_seqlen_q=n, max_seqlen_k=n,
                softmax_scale=scale,
            )
        )  # fmt: skip
        visible_pairs = (
            n * (n + 1) // 2 if n <= window else window * (window + 1) // 2 + (n - window) * window
        )
        flops = 4 * n_heads * visible_pairs * head_dim
        rows.append(
            [
                str(n),
                f"{window_ms:.3f}",
                f"{flops / window_ms / 1e9:.1f}",
                f"{dense_ms:.3f}",
                f"{dense_ms / window_ms:.2f}",
            ]
        )
        del q, k, v
        torch.cuda.empty_cache()
    _print_table(
        f"sliding-window attention, window {window}, {dtype}, {n_heads} heads, head_dim {head_dim}, batch 1",
        ["seqlen", "ours ms", "TFLOP/s", "dense causal ms", "speedup"],
        rows,
    )


def _planted_qkv(
    n: int,
    n_heads: int,
    head_dim: int,
    block_size: int,
    dtype: torch.dtype,
    seed: int = 0,
    device: str = "cuda",
):
    """Random q/k/v where each query block leans toward two random earlier key blocks (the blocks to find)."""
    gen = torch.Generator(device=device).manual_seed(seed)
    n_blocks = n // block_size
    topics = torch.randn(n_heads, n_blocks, head_dim, device=device, generator=gen)
    q = torch.randn(n, n_heads, head_dim, device=device, generator=gen)
    k = torch.randn(n, n_heads, head_dim, device=device, generator=gen)
    k += topics.repeat_interleave(block_size, dim=1).transpose(0, 1)
    for block in range(1, n_blocks):
        picks = torch.randint(0, block, (n_heads, 2), device=device, generator=gen)
        target = topics.gather(1, picks[:, :, None].expand(-1, -1, head_dim)).sum(1)
        q[block * block_size : (block + 1) * block_size] += target[None]
    v = torch.randn(n, n_heads, head_dim, device=device, generator=gen)
    return q.to(dtype), k.to(dtype), v.to(dtype)


def _block_recall(q, k, selected, block_size: int, top_k: int, sample_blocks: int = 4) -> float:
    """Share of the oracle's key blocks that the gate selected. Like the gate, the oracle keeps the query's own
    block and adds the top_k - 1 others of most true causal attention mass."""
    n, n_heads, head_dim = q.shape
    n_blocks = n // block_size
    hits = total = 0
    for q_block in range(max(top_k, n_blocks - sample_blocks), n_blocks):
        rows = slice(q_block * block_size, (q_block + 1) * block_size)
        keys = (q_block + 1) * block_size
        for head in range(n_heads):
            scores = (q[rows, head].float() @ k[:keys, head].float().T) / math.sqrt(head_dim)
            causal = (
                torch.arange(keys, device=q.device)[None]
                <= torch.arange(q_block * block_size, keys, device=q.device)[:, None]
            )
            probs = torch.softmax(scores.masked_fill(~causal, -math.inf), dim=-1)
            mass = probs.sum(0).reshape(q_block + 1, block_size).sum(1)
            mass[q_block] = math.inf
            oracle = set(mass.topk(top_k).indices.tolist())
            chosen = set(selected[0, head, q_block].tolist()) - {-1}
            hits += len(oracle & chosen)
            total += top_k
    return hits / max(total, 1)


def bench_block_sparse(
    lengths: list[int], block_size: int, top_k: int, n_heads: int, head_dim: int, dtype
) -> None:
    from kernels.block_sparse import kernel as block_sparse
    from kernels.flash import kernel as flash

    scale = head_dim**-0.5

    def gate(q, k, cu, n):
        return block_sparse.block_gate(q, k, block_size=block_size, top_k=top_k, cu_seqlens=cu, max_seqlen=n)

    def gate_and_attend(q, k, v, cu, n):
        return block_sparse.block_sparse_attention_with_blocks(
            q,
            k,
            v,
            gate(q, k, cu, n),
            block_size=block_size,
            cu_seqlens=cu,
            max_seqlen=n,
            softmax_scale=scale,
        )

    rows = []
    for n in lengths:
        if n // block_size <= top_k:
            continue
        q, k, v = _planted_qkv(n, n_heads, head_dim, block_size, dtype)
        cu = torch.tensor([0, n], dtype=torch.int32, device="cuda")
        gate_ms = _time_ms(lambda q=q, k=k, cu=cu, n=n: gate(q, k, cu, n))
        sparse_ms = _time_ms(lambda q=q, k=k, v=v, cu=cu, n=n: gate_and_attend(q, k, v, cu, n))
        dense_ms = _time_ms(
            lambda q=q, k=k, v=v, cu=cu, n=n: flash.flash_attention(
                q, k, v, causal=True, cu_seqlens_q=cu, cu_seqlens_k=cu, max_seqlen_q=n, max_seqlen_k=n,
                softmax_scale=scale,
            )
        )  # fmt: skip
        recall = _block_recall(q, k, gate(q, k, cu, n), block_size, top_k)
        rows.append(
            [
                str(n),
                f"{gate_ms:.3f}",
                f"{sparse_ms:.3f}",
                f"{dense_ms:.3f}",
                f"{dense_ms / sparse_ms:.2f}",
                f"{recall:.3f}",
            ]
        )
        del q, k, v
        torch.cuda.empty_cache()
    _print_table(
        f"block-sparse attention, B={block_size}, top_k={top_k}, {dtype}, {n_heads} heads, head_dim {head_dim}, "
        "batch 1, planted-block data",
        ["seqlen", "gate ms", "sparse ms (gate+attn)", "dense flash ms", "speedup", "block recall"],
        rows,
    )


def bench_decode(
    contexts: list[int], batches: list[int], n_heads: int, n_kv_heads: int, head_dim: int, dtype, peak_gbps: float,
    max_cache_gib: float,
) -> None:  # fmt: skip
    from kernels.paged_decode import kernel as paged_decode

    page = 16
    group = n_heads // n_kv_heads
    rows = []
    for context in contexts:
        for batch in batches:
            cache_bytes = 2 * batch * context * n_kv_heads * head_dim * torch.finfo(dtype).bits // 8
            if 2 * cache_bytes > max_cache_gib * 2**30:
                continue
            pages_per_seq = context // page
            k_cache = torch.randn(
                batch * pages_per_seq, page, n_kv_heads, head_dim, device="cuda", dtype=dtype
            )
            v_cache = torch.randn_like(k_cache)
            tables = torch.randperm(batch * pages_per_seq, device="cuda", dtype=torch.int32).reshape(
                batch, -1
            )
            lens = torch.full((batch,), context, dtype=torch.int32, device="cuda")
            q = torch.randn(batch, n_heads, head_dim, device="cuda", dtype=dtype)
            ours_ms = _time_ms(
                lambda q=q, k_cache=k_cache, v_cache=v_cache, tables=tables, lens=lens, context=context: (
                    paged_decode.paged_decode_attention(
                        q, k_cache, v_cache, tables, lens, softmax_scale=head_dim**-0.5
                    )
                )
            )
            # SDPA on the same keys laid out contiguously; a group's query heads act as query rows of its KV head.
            long = tables.long()
            k_dense = k_cache[long].reshape(batch, context, n_kv_heads, head_dim).transpose(1, 2).contiguous()
            v_dense = v_cache[long].reshape(batch, context, n_kv_heads, head_dim).transpose(1, 2).contiguous()
            del k_cache, v_cache
            q_grouped = q.reshape(batch, n_kv_heads, group, head_dim)
            sdpa_ms = _time_ms(
                lambda q_grouped=q_grouped, k_dense=k_dense, v_dense=v_dense: _sdpa_flash(
                    q_grouped, k_dense, v_dense, False
                )
            )
            gbps = cache_bytes / ours_ms / 1e6
            rows.append(
                [
                    str(context), str(batch), f"{ours_ms:.3f}", f"{gbps:.0f}", f"{100 * gbps / peak_gbps:.0f}%",
                    f"{sdpa_ms:.3f}", f"{cache_bytes / sdpa_ms / 1e6:.0f}", f"{sdpa_ms / ours_ms:.2f}",
                ]
            )  # fmt: skip
            del k_dense, v_dense, q, tables, lens
            torch.cuda.empty_cache()
    _print_table(
        f"paged decode attention, page 16, {dtype}, {n_heads} q heads / {n_kv_heads} kv heads, head_dim {head_dim}"
        f" (peak HBM taken as {peak_gbps:.0f} GB/s)",
        ["context", "batch", "ours ms", "GB/s", "% peak", "sdpa ms", "sdpa GB/s", "speedup"],
        rows,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ops", default=",".join(OPS), help=f"comma-separated subset of {OPS}")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16"])
    parser.add_argument("--head-dim", type=int, default=128)
    parser.add_argument("--quick", action="store_true", help="a short sweep")
    parser.add_argument(
        "--peak-gbps", type=float, default=H100_HBM_GBPS, help="HBM bandwidth for the %% column"
    )
    parser.add_argument(
        "--max-cache-gib", type=float, default=40.0, help="skip decode shapes whose KV exceeds this"
    )
    args = parser.parse_args(argv)
    ops = [op.strip() for op in args.ops.split(",") if op.strip()]
    unknown = sorted(set(ops) - set(OPS))
    if unknown:
        parser.error(f"unknown ops {unknown}; choose from {OPS}")
    if not torch.cuda.is_available():
        print(
            "kernels.bench: no CUDA device here; the Triton kernels are benchmarked on a GPU only. Nothing timed."
        )
        return 0
    dtype = getattr(torch, args.dtype)
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    lengths = [1024 * 2**i for i in range(8)]
    contexts = [4096, 32768, 131072, 262144]
    batches = [1, 8, 32, 64]
    if args.quick:
        lengths, contexts, batches = [1024, 8192, 32768], [4096, 32768], [1, 32]
    if "flash" in ops:
        bench_flash(lengths, n_heads=16, head_dim=args.head_dim, dtype=dtype, tokens=32768)
    if "sliding" in ops:
        bench_sliding(lengths, window=4096, n_heads=16, head_dim=args.head_dim, dtype=dtype)
    if "block_sparse" in ops:
        bench_block_sparse(lengths, block_size=512, top_k=3, n_heads=16, head_dim=args.head_dim, dtype=dtype)
    if "decode" in ops:
        bench_decode(
            contexts, batches, n_heads=32, n_kv_heads=8, head_dim=args.head_dim, dtype=dtype,
            peak_gbps=args.peak_gbps, max_cache_gib=args.max_cache_gib,
        )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
