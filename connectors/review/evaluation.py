"""Quality of the review templates against the vertical connectors on the same labelled documents.

`python -m connectors.review.evaluation [--data tests/data]` prints, for CUAD (dev and held-out), clause
presence F1, span precision/recall and answer accuracy of the `cuad` template's cells beside the legal
connector's, scored by the same `score_legal`; and, for ECTSum (dev and held-out), the share of the reference
figures that the call states which some `earnings_kpis` cell holds, beside the earnings connector's metrics
(all figures, and those whose metric is one the template asks for), and of the latter the share a column
asking for that metric holds (`kpi_column_recall`: a number in another metric's column is not counted).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from connectors import Document, run_connector
from connectors.evaluation import (
    _same_value,
    call_numbers,
    fact_found,
    format_table,
    in_call,
    read_jsonl,
    reference_facts,
    score_legal,
)
from connectors.review.templates import CUAD_KEYS, EARNINGS_METRICS

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "tests" / "data"


def review_as_legal(review: dict, *, answered_only: bool = False) -> dict:
    """A one-document cuad review in the legal connector's shape: each cell's spans as clauses, its value
    as the answer (a yes/no cell without spans answers No)."""
    clauses, answers = [], {}
    for key, cell in review["rows"][0]["cells"].items():
        category = CUAD_KEYS[key]
        kept = cell["status"] == "answered" or (not answered_only and cell["status"] == "needs_review")
        if kept:
            clauses.extend(
                {"category": category, "confidence": cell["confidence"], "span": s} for s in cell["spans"]
            )
        answers[category] = cell["value"] if kept else None
        if key in _YES_NO_KEYS:
            answers[category] = "Yes" if kept and cell["spans"] else "No"
    return {"clauses": clauses, "answers": answers}


_YES_NO_KEYS = {
    key
    for key, category in CUAD_KEYS.items()
    if category
    not in (
        "Document Name",
        "Parties",
        "Agreement Date",
        "Effective Date",
        "Expiration Date",
        "Renewal Term",
        "Notice Period To Terminate Renewal",
        "Governing Law",
    )
}


def evaluate_cuad(data_dir: Path, split: str) -> list[tuple[str, str, dict]]:
    labels = [row for row in read_jsonl(data_dir / "cuad" / "labels.jsonl") if row["split"] == split]
    legal, review, answered = {}, {}, {}
    for row in labels:
        text = (data_dir / "cuad" / "contracts" / f"{row['document_id']}.txt").read_text(encoding="utf-8")
        document = [Document(row["document_id"], text)]
        legal[row["document_id"]] = run_connector("legal", document)
        grid = run_connector("review", document, options={"template": "cuad"})
        review[row["document_id"]] = review_as_legal(grid)
        answered[row["document_id"]] = review_as_legal(grid, answered_only=True)
    return [
        ("legal", split, score_legal(legal, labels)),
        ("review cuad", split, score_legal(review, labels)),
        ("review answ.", split, score_legal(answered, labels)),
    ]


def _cell_values(review: dict) -> list[tuple[str, float, float]]:
    """(column key, value, scale) of every cell holding a number."""
    values = []
    for key, cell in review["rows"][0]["cells"].items():
        normalised = cell["normalised"]
        if cell["status"] != "not_found" and isinstance(normalised, dict) and "value" in normalised:
            values.append((key, normalised["value"], normalised.get("scale", 1.0)))
    return values


def evaluate_ectsum(data_dir: Path, split: str) -> list[tuple[str, str, dict]]:
    labels = [row for row in read_jsonl(data_dir / "ectsum" / "labels.jsonl") if row["split"] == split]
    counted = review_hits = earnings_hits = cells_filled = cells = 0
    kpi = {"counted": 0, "review": 0, "review_column": 0, "earnings": 0}
    kpi_metrics = {metric for metrics in EARNINGS_METRICS.values() for metric in metrics}
    for row in labels:
        text = (data_dir / "ectsum" / "calls" / f"{row['document_id']}.txt").read_text(encoding="utf-8")
        document = [Document(row["document_id"], text)]
        grid = run_connector("review", document, options={"template": "earnings_kpis"})
        metrics = run_connector("earnings", document)["metrics"]
        values = _cell_values(grid)
        cells += len(grid["columns"])
        cells_filled += sum(c["status"] == "answered" for c in grid["rows"][0]["cells"].values())
        numbers = call_numbers(text)
        for fact in reference_facts(row["bullets"], row["document_id"]):
            if not in_call(fact, numbers):
                continue
            counted += 1
            in_review = any(_same_value(fact, value, scale) for _, value, scale in values)
            in_column = any(
                fact["metric"] in EARNINGS_METRICS.get(key, ()) and _same_value(fact, value, scale)
                for key, value, scale in values
            )
            in_earnings = fact_found(fact, metrics, check_metric=False)
            review_hits += in_review
            earnings_hits += in_earnings
            if fact["metric"] in kpi_metrics:
                kpi["counted"] += 1
                kpi["review"] += in_review
                kpi["review_column"] += in_column
                kpi["earnings"] += in_earnings
    return [
        (
            "earnings",
            split,
            {
                "calls": len(labels),
                "reference_numbers_in_call": counted,
                "value_recall": earnings_hits / max(1, counted),
                "kpi_reference_numbers": kpi["counted"],
                "kpi_value_recall": kpi["earnings"] / max(1, kpi["counted"]),
            },
        ),
        (
            "review kpis",
            split,
            {
                "calls": len(labels),
                "reference_numbers_in_call": counted,
                "value_recall": review_hits / max(1, counted),
                "kpi_reference_numbers": kpi["counted"],
                "kpi_value_recall": kpi["review"] / max(1, kpi["counted"]),
                "kpi_column_recall": kpi["review_column"] / max(1, kpi["counted"]),
                "cells_answered": cells_filled / max(1, cells),
            },
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument(
        "--split",
        choices=("dev", "heldout", "both"),
        default="both",
        help="dev while working on a rule; heldout once, when it is final",
    )
    args = parser.parse_args(argv)
    data = Path(args.data)
    splits = ("dev", "heldout") if args.split == "both" else (args.split,)
    rows = [
        *(row for split in splits for row in evaluate_cuad(data, split)),
        *(row for split in splits for row in evaluate_ectsum(data, split)),
    ]
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
