"""Throughput and time-to-first-token of the Quire engine against `transformers` `generate`.

Builds a random Llama checkpoint (default 8 layers, hidden 512), then for each concurrency level sends
that many requests at once and prints a table:

    python -m benchmarks.engine [--concurrency 1,8,32] [--prompt-tokens 128] [--new-tokens 64] [--device cpu]
    python -m benchmarks.engine --shared-prefix-tokens 1024 --prompt-tokens 32   # questions over one document
    python -m benchmarks.engine --mixed    # each request its own prompt and answer length

`transformers sequential` serves the requests one `generate` call after another, as a server without
batching would; `transformers batch` pads them into one `generate` call, which needs them all up front and
runs every row to the longest answer asked for. Tokens/s counts the tokens the requests asked for. With
`--mixed`, prompt lengths are drawn uniformly from 16 to twice `--prompt-tokens` and answer lengths from 8
to twice `--new-tokens` (seeded, the same draws for every runtime).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM, LogitsProcessor, LogitsProcessorList

from inference.engine import Engine, EngineConfig, SamplingParams
from inference.model import load_model


class _FirstTokenClock(LogitsProcessor):
    def __init__(self) -> None:
        self.first: float | None = None

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if self.first is None:
            self.first = time.perf_counter()
        return scores


def build_checkpoint(
    directory: Path, *, layers: int, hidden: int, vocab: int, max_positions: int = 4096
) -> Path:
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=hidden * 8 // 3 // 64 * 64,
        num_hidden_layers=layers,
        num_attention_heads=hidden // 64,
        num_key_value_heads=max(1, hidden // 128),
        max_position_embeddings=max_positions,
        bos_token_id=1,
        eos_token_id=2,
        initializer_range=0.05,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).eval().save_pretrained(directory)
    return directory


def run_ours(
    engine: Engine, prompts: list[list[int]], new_tokens: list[int]
) -> tuple[float, list[float], int]:
    start = time.perf_counter()
    ids = [
        engine.add_request(prompt, SamplingParams(max_tokens=wanted, ignore_eos=True))
        for prompt, wanted in zip(prompts, new_tokens, strict=True)
    ]
    first_token: dict[str, float] = {}
    generated = 0
    while engine.has_work():
        for output in engine.step():
            generated += len(output.new_token_ids)
            if output.new_token_ids and output.request_id not in first_token:
                first_token[output.request_id] = time.perf_counter() - start
            if output.finished:
                engine.release(output.request_id)
    return time.perf_counter() - start, [first_token[i] for i in ids], generated


def run_hf_sequential(
    model: LlamaForCausalLM, prompts: list[list[int]], new_tokens: list[int]
) -> tuple[float, list[float], int]:
    start = time.perf_counter()
    ttfts = []
    generated = 0
    for prompt, wanted in zip(prompts, new_tokens, strict=True):
        clock = _FirstTokenClock()
        out = model.generate(
            torch.tensor([prompt], device=model.device),
            max_new_tokens=wanted,
            min_new_tokens=wanted,
            do_sample=False,
            logits_processor=LogitsProcessorList([clock]),
            pad_token_id=0,
        )
        ttfts.append(clock.first - start)
        generated += out.shape[1] - len(prompt)
    return time.perf_counter() - start, ttfts, generated


def run_hf_batch(
    model: LlamaForCausalLM, prompts: list[list[int]], new_tokens: list[int]
) -> tuple[float, list[float], int]:
    width = max(len(p) for p in prompts)
    input_ids = torch.tensor([[0] * (width - len(p)) + p for p in prompts], device=model.device)
    attention_mask = torch.tensor(
        [[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=model.device
    )
    clock = _FirstTokenClock()
    start = time.perf_counter()
    out = model.generate(
        input_ids,
        attention_mask=attention_mask,
        max_new_tokens=max(new_tokens),
        min_new_tokens=max(new_tokens),
        do_sample=False,
        logits_processor=LogitsProcessorList([clock]),
        pad_token_id=0,
    )
    elapsed = time.perf_counter() - start
    if out.shape[1] - width != max(new_tokens):
        raise RuntimeError(
            f"generate returned {out.shape[1] - width} new tokens, asked for {max(new_tokens)}"
        )
    return elapsed, [clock.first - start] * len(prompts), sum(new_tokens)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument(
        "--shared-prefix-tokens",
        type=int,
        default=0,
        help="tokens of one document put before every prompt (questions over one document)",
    )
    parser.add_argument("--mixed", action="store_true", help="per-request prompt and answer lengths")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--skip-hf-sequential-above", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=1, help="runs per cell; the fastest is reported")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device} needs a CUDA GPU, and torch sees none; --device cpu runs here")
    if args.threads:
        torch.set_num_threads(args.threads)
    levels = [int(level) for level in args.concurrency.split(",")]
    dtype = torch.bfloat16 if args.device.startswith("cuda") else torch.float32

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_checkpoint(Path(tmp), layers=args.layers, hidden=args.hidden, vocab=args.vocab)
        ours = load_model(model_dir, device=args.device, dtype=dtype)
        reference = LlamaForCausalLM.from_pretrained(model_dir, dtype=dtype).to(args.device).eval()

    generator = torch.Generator().manual_seed(1)
    longest_prompt = args.prompt_tokens * 2 if args.mixed else args.prompt_tokens
    longest_answer = args.new_tokens * 2 if args.mixed else args.new_tokens
    blocks_per_request = -(-(args.shared_prefix_tokens + longest_prompt + longest_answer) // 16)

    def new_engine(level: int) -> Engine:
        return Engine(ours, None, EngineConfig(num_blocks=blocks_per_request * level, max_num_seqs=level))

    print(
        f"model: {args.layers} layers, hidden {args.hidden}, vocab {args.vocab}, {dtype}, {args.device}, "
        f"torch threads {torch.get_num_threads()}; prompt {args.shared_prefix_tokens} shared + "
        f"{'16..' + str(longest_prompt) if args.mixed else args.prompt_tokens} own tokens, "
        f"{'8..' + str(longest_answer) if args.mixed else args.new_tokens} new tokens; best of {args.repeats}"
    )
    header = (
        f"{'concurrent':>10} | {'runtime':<24} | {'tokens/s':>9} | {'TTFT p50 s':>10} | {'wall s':>7} | "
        f"{'vs HF seq':>9} | {'vs HF batch':>11}"
    )
    print(header)
    print("-" * len(header))
    with torch.inference_mode():
        run_ours(new_engine(2), [[5] * args.prompt_tokens], [4])
        run_hf_sequential(reference, [[5] * args.prompt_tokens], [4])
        for level in levels:
            shared = torch.randint(3, args.vocab, (args.shared_prefix_tokens,), generator=generator).tolist()
            if args.mixed:
                own_lengths = torch.randint(16, longest_prompt + 1, (level,), generator=generator).tolist()
                new_tokens = torch.randint(8, longest_answer + 1, (level,), generator=generator).tolist()
            else:
                own_lengths, new_tokens = [args.prompt_tokens] * level, [args.new_tokens] * level
            prompts = [
                shared + torch.randint(3, args.vocab, (length,), generator=generator).tolist()
                for length in own_lengths
            ]
            names = ["quire engine", "transformers sequential", "transformers batch"]
            if level > args.skip_hf_sequential_above:
                names.remove("transformers sequential")
            rows: dict[str, tuple[float, list[float], int]] = {}
            for _ in range(args.repeats):
                for name in names:
                    if name == "quire engine":
                        result = run_ours(new_engine(level), prompts, new_tokens)
                    elif name == "transformers sequential":
                        result = run_hf_sequential(reference, prompts, new_tokens)
                    else:
                        result = run_hf_batch(reference, prompts, new_tokens)
                    if name not in rows or result[0] < rows[name][0]:
                        rows[name] = result
            rates = {name: generated / wall for name, (wall, _, generated) in rows.items()}
            for name, (wall, ttfts, _) in rows.items():
                sequential = rates.get("transformers sequential")
                versus_seq = f"{rates[name] / sequential:.2f}x" if sequential else ""
                versus_batch = f"{rates[name] / rates['transformers batch']:.2f}x"
                print(
                    f"{level:>10} | {name:<24} | {rates[name]:>9.1f} | {statistics.median(ttfts):>10.3f} | "
                    f"{wall:>7.2f} | {versus_seq:>9} | {versus_batch:>11}"
                )


if __name__ == "__main__":
    main()
