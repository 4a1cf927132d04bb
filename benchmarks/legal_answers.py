"""Legal answer accuracy per value category, and the Parties answer's precision and recall, over a CUAD folder,
as the scorer counts them.

Runs the legal connector (shipped weights) on every contract of `DIR/cuad/labels.jsonl` and compares its answers
with CUAD's, read by the scorer's own label parser (`connectors.cuad_labels`): every labelled answer of the six
value categories counts once; an answered party name is right when it matches some labelled Parties span, and a
labelled span is found when some answered name matches it (`party_matches`). DIR is the folder `python -m connectors prepare legal` builds from CUAD's release
(the 401 training contracts the answer rules were written on) or `tests/data`.

    python benchmarks/legal_answers.py --data DIR [--split dev|heldout|all] [--misses]

`--misses` prints each wrong answer (contract, category, CUAD's answer, the connector's).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connectors import Document, run_connector  # noqa: E402
from connectors.cuad_labels import VALUE_CATEGORIES, answer_right, label_answer  # noqa: E402
from connectors.evaluation import parties_counts, read_jsonl  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", required=True, type=Path, help="folder holding cuad/labels.jsonl and cuad/contracts"
    )
    parser.add_argument("--split", default="all", help="a split of labels.jsonl, or all")
    parser.add_argument("--misses", action="store_true", help="print every wrong answer")
    args = parser.parse_args()
    if not (args.data / "cuad" / "labels.jsonl").is_file():
        parser.error(
            f"{args.data} has no cuad/labels.jsonl: --data needs the folder `python -m connectors prepare legal` "
            "builds from CUAD v1 (cuad/labels.jsonl and cuad/contracts/), or tests/data"
        )
    rows = [
        row for row in read_jsonl(args.data / "cuad" / "labels.jsonl") if args.split in ("all", row["split"])
    ]
    counts = {category: [0, 0] for category in VALUE_CATEGORIES}
    wrong = []
    parties = [0, 0, 0, 0]
    started = time.perf_counter()
    for row in rows:
        text = (args.data / "cuad" / "contracts" / f"{row['document_id']}.txt").read_text(encoding="utf-8")
        answers = run_connector("legal", [Document(row["document_id"], text)])["answers"]
        parties = [a + b for a, b in zip(parties, parties_counts(row, answers), strict=True)]
        for category in VALUE_CATEGORIES:
            label = row["answers"].get(category, "")
            right = answer_right(category, label, answers.get(category))
            if right is None:
                continue
            counts[category][0] += right
            counts[category][1] += 1
            if not right:
                wrong.append(
                    (row["document_id"], category, label_answer(category, label), answers.get(category))
                )
    if args.misses:
        for document_id, category, expected, got in wrong:
            print(f"{document_id}\t{category}\t{expected}\t{got}")
    print(f"{len(rows)} contracts, {time.perf_counter() - started:.0f} s")
    print(f"{'category':<36} {'right':>6} {'labelled':>8} {'accuracy':>8}")
    for category, (right, total) in [
        *counts.items(),
        ("all", [sum(c[0] for c in counts.values()), sum(c[1] for c in counts.values())]),
    ]:
        print(f"{category:<36} {right:>6} {total:>8} {right / total if total else 0:>8.3f}")
    right, named, found, labelled = parties
    print(
        f"Parties: {right} of {named} names right (precision {right / max(1, named):.3f}), "
        f"{found} of {labelled} labelled spans found (recall {found / max(1, labelled):.3f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
