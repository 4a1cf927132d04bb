"""Numeric-fact recall and ROUGE of the earnings connector on a fixed sample of ECTSum train calls.

The sample is the first N calls of the sorted train calls shuffled with `random.Random(7)`, the same shuffle
`connectors.earnings.training` uses: the first 252 are the calls it holds out for validation, so with the
default N the learned heads never saw the sample; `--skip 252` (or more) samples calls they trained on instead,
a second check that a rule is not fitted to the first sample. Scored by `connectors.evaluation.score_earnings` (the
independent scorer, recall over the reference numbers the call states).

    PYTHONPATH=. python benchmarks/earnings_train_eval.py --data /path/to/ECTSum/data/final/train [--calls 252]
        [--skip 0] [--misses] [--nameless]

`--nameless` gives the connector each call under an id that names no period (as a transcript uploaded as
"transcript.txt" reaches it), so the call's quarter and year come from its text alone. `--misses` prints, per call, the reference numbers the call states that no reported figure matches, with the
figures of the same value the connector did report (metric, period), to group misses by cause.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connectors import Document, run_connector  # noqa: E402
from connectors.bullet_facts import call_numbers  # noqa: E402
from connectors.earnings.training import SEED, read_split  # noqa: E402
from connectors.evaluation import (  # noqa: E402
    fact_found,
    format_table,
    in_call,
    reference_facts,
    score_earnings,
)

VALIDATION_CALLS = 252


def sample(data: Path, calls: int, skip: int = 0) -> list[tuple[str, str, list[str]]]:
    shuffled = list(read_split(data))
    random.Random(SEED).shuffle(shuffled)
    return shuffled[skip : skip + calls]


def _miss_cause(fact: dict, same: list[dict]) -> str:
    """Why a reference fact was missed, given the reported figures of its value (`same`)."""
    if not same:
        return "value not extracted"
    if fact["metric"] is not None and not any(
        m["metric"].removesuffix("_growth") == fact["metric"] for m in same
    ):
        return "wrong metric"
    return "wrong period"


def misses(outputs: dict[str, dict], rows: list[tuple[str, str, list[str]]]) -> Counter:
    causes: Counter = Counter()
    for document_id, text, bullets in rows:
        numbers = call_numbers(text)
        metrics = outputs[document_id]["metrics"]
        for fact in reference_facts(bullets, document_id):
            if not in_call(fact, numbers) or fact_found(fact, metrics):
                continue
            same = [m for m in metrics if fact_found(fact, [m], check_metric=False)]
            cause = _miss_cause(fact, same)
            causes[cause] += 1
            print(
                f"{document_id}\t{cause}\t{fact['metric']}/{fact['period']}\t{fact['value']}\t{fact['text']}"
            )
            for m in same[:2]:
                print(f"\t\t{m['metric']}/{m['period']}/{m['kind']}: {m['sentence']['quote'][:160]}")
    return causes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="ECTSum train folder (with ects/ and gt_summaries/)")
    parser.add_argument("--calls", type=int, default=VALIDATION_CALLS)
    parser.add_argument(
        "--skip", type=int, default=0, help="calls of the shuffle to skip; 252 or more samples training calls"
    )
    parser.add_argument("--misses", action="store_true")
    parser.add_argument("--nameless", action="store_true", help="ids that name no period: the text alone")
    args = parser.parse_args()
    data = Path(args.data)
    if not data.is_dir() or not ((data / "ects").is_dir() or any(data.rglob("ects"))):
        parser.error(
            f"{data} holds no ects/: --data needs ECTSum's train folder, data/final/train of "
            "https://github.com/rajdeep345/ECTSum (ects/ and gt_summaries/)"
        )
    rows = sample(data, args.calls, args.skip)
    started = time.perf_counter()
    outputs = {
        document_id: run_connector(
            "earnings", [Document(f"call-{number}" if args.nameless else document_id, text)]
        )
        for number, (document_id, text, _) in enumerate(rows)
    }
    metrics = score_earnings(
        outputs,
        [{"document_id": document_id, "bullets": bullets} for document_id, _, bullets in rows],
        {document_id: text for document_id, text, _ in rows},
    )
    metrics["seconds"] = round(time.perf_counter() - started, 1)
    if args.misses:
        print(dict(misses(outputs, rows)))
    print(format_table([("earnings", "train", metrics)]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
