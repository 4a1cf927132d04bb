"""Custom clause types on contracts their examples did not come from: for each of ten CUAD categories, a head is
trained as a workspace would train it (20 labelled passages of the category as examples, the bundled generic
paragraphs and the workspace's own paragraphs not near an example as negatives) and run over other contracts.

DIR is the folder `python -m connectors prepare legal` builds (CUAD's training contracts; the official test split
and `tests/data`'s held-out contracts are never read). The contracts are taken in `document_id` order: the
examples come from the first `--pool` that have the category, one passage per contract, and the workspace's own
paragraphs are the first 2,000 passages of the pool (the platform takes up to 2,000 passages of a workspace's most
recent documents); the heads are scored on the next `--eval` contracts. A found passage is right when it overlaps
a labelled span of its category by at least half of the shorter of the two; a labelled clause is found when a
found passage overlaps it so.

    python benchmarks/quick_study.py --data DIR [--pool 200] [--eval 60] [--rounds 2] [--answer findings]

With `--rounds R`, each round after the first answers 10 passages from CUAD's labels (a passage overlapping a
labelled span is an example, any other a counter-example) and trains again: the head's near misses among the
workspace's own passages, as a reviewer answers "Passages to check" in the portal, or with `--answer findings`
its findings on the next 100 training contracts after the scored ones, contract by contract, as a reviewer
answers a legal job's "Custom clause findings", or with `--answer reviewed` those findings and, in each contract
read, the labelled clauses no finding overlaps (as a reviewer marks a missed clause on a document's page), or
with `--answer mixed` five of those findings and five near misses, as the clause type's page lists them.

Columns: the head's cross-validated precision and recall on its own examples (what the API reports), then on the
unseen contracts: passages found and their precision, contract-level presence precision and recall (a contract
is flagged when the head finds any passage), and the labelled clauses' recall.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connectors.evaluation import read_jsonl  # noqa: E402
from connectors.legal import custom  # noqa: E402
from connectors.legal.training import excluded_files  # noqa: E402
from inference.client import embed_local  # noqa: E402

CATEGORIES = (
    "Insurance",
    "Audit Rights",
    "Non-Compete",
    "Exclusivity",
    "Change Of Control",
    "Anti-Assignment",
    "Termination For Convenience",
    "Most Favored Nation",
    "Covenant Not To Sue",
    "Liquidated Damages",
)
EXAMPLES = 20
OWN_PASSAGES = 2000
JOB_CONTRACTS = 100


@dataclass
class Contract:
    document_id: str
    text: str
    gold: dict[str, list[tuple[int, int]]]


def read(data: Path) -> list[Contract]:
    excluded = excluded_files(data)
    contracts = []
    for row in sorted(read_jsonl(data / "cuad" / "labels.jsonl"), key=lambda r: r["document_id"]):
        if row["split"] != "dev" or row["source_file"] in excluded:
            continue
        text = (data / "cuad" / "contracts" / f"{row['document_id']}.txt").read_text(encoding="utf-8")
        gold = {}
        for category in CATEGORIES:
            pieces = []
            for clause in row["clauses"].get(category, []):
                piece = clause.split("<omitted>")[0].strip()
                start = text.find(piece) if len(piece) >= 20 else -1
                if start >= 0:
                    pieces.append((start, start + len(piece)))
            gold[category] = pieces
        contracts.append(Contract(row["document_id"], text, gold))
    return contracts


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    shared = min(a[1], b[1]) - max(a[0], b[0])
    return shared >= 0.5 * min(a[1] - a[0], b[1] - b[0])


def embedded(texts: list[str]) -> custom.Passages:
    return custom.Passages(texts, embed_local(texts))


def run(
    contracts: list[Contract], pool: int, evaluated: int, rounds: int = 0, answer: str = "near_misses"
) -> list[list[dict]]:
    """The rows of each round: round 0 trains on the examples; each further round first has a reviewer answer
    10 passages from CUAD's labels and trains again. With `answer="near_misses"` the passages are the head's
    near misses among the workspace's own passages (`custom.near_misses`, the portal's "Passages to check");
    with `answer="findings"` they are the head's findings on the contracts after the scored ones, read contract
    by contract as a reviewer reads a job's results (the job page's "Custom clause findings"); with
    `answer="reviewed"` the reviewer also marks, in each contract read, the labelled clauses the head did not
    find (a document page's "Teach a clause type"), each as the labelled text itself; with `answer="mixed"`
    findings and near misses (`custom.to_ask`), as the clause type's page lists both."""
    pooled, scored = contracts[:pool], contracts[pool : pool + evaluated]
    places = [(c, span) for c in pooled for span in custom.passages(c.text)][:OWN_PASSAGES]
    own = embedded([c.text[s:e] for c, (s, e) in places])
    units = [custom.passages(c.text) for c in scored]
    documents = [embedded([c.text[s:e] for s, e in spans]) for c, spans in zip(scored, units, strict=True)]
    generic = embedded(list(custom.GENERIC_PARAGRAPHS))
    jobs = contracts[pool + evaluated : pool + evaluated + JOB_CONTRACTS]
    asked, answerable = places, own
    if answer != "near_misses":
        job_places = [(c, span) for c in jobs for span in custom.passages(c.text)]
        job_passages = embedded([c.text[s:e] for c, (s, e) in job_places])
        asked, answerable = job_places, job_passages
    if answer == "mixed":
        asked, answerable = [*places, *job_places], custom.Passages.joined(own, job_passages)
    mine = numpy.arange(len(answerable)) < len(own) if answer in ("near_misses", "mixed") else None
    by_round: list[list[dict]] = [[] for _ in range(rounds + 1)]
    for category in CATEGORIES:
        examples = [c.text[s:e] for c in pooled for s, e in c.gold[category][:1] if e - s >= 40][:EXAMPLES]
        if len(examples) < custom.MIN_EXAMPLES:
            print(f"{category}: {len(examples)} examples in the pool, fewer than a head needs; skipped")
            continue
        given = custom.Passages(examples, custom.example_vectors(examples, embed_local))
        units_asked, category_asked, category_answerable = len(asked), asked, answerable
        labelled = [(c, g) for c in jobs for g in c.gold[category]] if answer == "reviewed" else []
        if labelled:
            category_asked = [*asked, *labelled]
            category_answerable = custom.Passages.joined(
                answerable, embedded([c.text[s:e] for c, (s, e) in labelled])
            )
        answered = numpy.zeros(len(category_answerable), dtype=bool)
        is_clause = numpy.zeros(len(category_answerable), dtype=bool)
        for rows in by_round:
            positives = custom.Passages.joined(given, category_answerable.where(answered & is_clause))
            unanswered_own = own.where(~answered[mine]) if mine is not None else own
            negatives = custom.Passages.joined(
                custom.negatives_from(generic, positives),
                category_answerable.where(answered & ~is_clause),
                custom.negatives_from(unanswered_own, positives),
            )
            trained = custom.train_head(positives, negatives)
            head = custom.ClauseHead.from_json(category, category, trained.weights)
            rows.append(
                {
                    "category": category,
                    "examples": len(positives),
                    "counter": int((answered & ~is_clause).sum()),
                    "cv_precision": trained.precision,
                    "cv_recall": trained.recall,
                    **scored_on(head, category, scored, units, documents),
                }
            )
            if answer in ("findings", "reviewed"):
                chosen = findings_to_answer(
                    head, category_answerable, category_asked, answered, units=units_asked
                )
            else:
                labelled = [answerable.texts[i] for i in numpy.flatnonzero(answered)]
                chosen = [i for i, _ in custom.near_misses(head, own, [*examples, *labelled])]
            if answer == "mixed":
                found = findings_to_answer(head, job_passages, job_places, answered[~mine])
                first, near = custom.to_ask([len(own) + i for i in found], chosen)
                chosen = [*first, *near]
            for index in chosen:
                contract, span = category_asked[index]
                answered[index] = True
                is_clause[index] = any(overlaps(span, g) for g in contract.gold[category])
    return by_round


def findings_to_answer(
    head: custom.ClauseHead,
    passages: custom.Passages,
    places: list[tuple[Contract, tuple[int, int]]],
    answered: numpy.ndarray,
    *,
    units: int | None = None,
) -> list[int]:
    """The next `custom.NEAR_MISSES` answers, contract by contract in order: each contract's findings not yet
    answered, as a job gives them (at most `custom.MAX_FINDINGS` above the threshold, most confident first) among
    the first `units` places (its passages; all of them by default), then its labelled clauses among the places
    after `units` that no finding of it overlaps (the clauses a reviewer marks as missed)."""
    units = len(places) if units is None else units
    scores = head.probabilities(passages.where(numpy.arange(len(passages)) < units))
    chosen: list[int] = []
    start = 0
    while start < units and len(chosen) < custom.NEAR_MISSES:
        contract = places[start][0]
        end = start
        while end < units and places[end][0] is contract:
            end += 1
        ranked = start + numpy.argsort(-scores[start:end], kind="stable")[: custom.MAX_FINDINGS]
        found = [int(i) for i in ranked if scores[i] >= head.threshold]
        missed = [
            i
            for i in range(units, len(places))
            if places[i][0] is contract
            and not answered[i]
            and not any(overlaps(places[i][1], places[f][1]) for f in found)
        ]
        chosen.extend([i for i in found if not answered[i]] + missed)
        start = end
    return chosen[: custom.NEAR_MISSES]


def scored_on(
    head: custom.ClauseHead,
    category: str,
    scored: list[Contract],
    units: list[list[tuple[int, int]]],
    documents: list[custom.Passages],
) -> dict:
    counts = dict.fromkeys(
        ("found", "right", "flagged", "flagged_right", "present", "clauses", "clauses_found"), 0
    )
    for contract, spans, document in zip(scored, units, documents, strict=True):
        scores = head.probabilities(document)
        order = [i for i in numpy.argsort(-scores)[: custom.MAX_FINDINGS] if scores[i] >= head.threshold]
        picked = [spans[i] for i in order]
        gold = contract.gold[category]
        counts["found"] += len(picked)
        counts["right"] += sum(any(overlaps(p, g) for g in gold) for p in picked)
        counts["flagged"] += bool(picked)
        counts["flagged_right"] += bool(picked) and bool(gold)
        counts["present"] += bool(gold)
        counts["clauses"] += len(gold)
        counts["clauses_found"] += sum(any(overlaps(p, g) for p in picked) for g in gold)
    return counts


def ratio(a: float, b: float) -> str:
    return f"{a / b:.3f}" if b else "-"


def table(rows: list[dict]) -> str:
    header = (
        f"{'category':<28} {'ex':>3} {'cx':>3} {'cv P':>6} {'cv R':>6} {'found':>6} {'P':>6} "
        f"{'pres P':>7} {'pres R':>7} {'clause R':>9}"
    )
    lines = [header, "-" * len(header)]
    if not rows:
        return "no category had enough examples in the pool"
    total = {key: sum(row[key] for row in rows) for key in rows[0] if key != "category"}
    for row in [*rows, {**total, "category": "all (micro)", "cv_precision": None, "cv_recall": None}]:
        cv = (
            f"{row['cv_precision']:>6.3f} {row['cv_recall']:>6.3f}"
            if row["cv_precision"] is not None
            else f"{'':>6} {'':>6}"
        )
        lines.append(
            f"{row['category']:<28} {row['examples']:>3} {row['counter']:>3} {cv} {row['found']:>6} "
            f"{ratio(row['right'], row['found']):>6} {ratio(row['flagged_right'], row['flagged']):>7} "
            f"{ratio(row['flagged_right'], row['present']):>7} {ratio(row['clauses_found'], row['clauses']):>9}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", required=True, type=Path, help="the folder `connectors prepare legal` built"
    )
    parser.add_argument("--pool", type=int, default=200, help="contracts the examples come from")
    parser.add_argument("--eval", type=int, default=60, help="contracts after the pool the heads are run on")
    parser.add_argument(
        "--rounds", type=int, default=0, help="rounds of answering 10 passages, each followed by training"
    )
    parser.add_argument(
        "--answer",
        choices=("near_misses", "findings", "reviewed", "mixed"),
        default="near_misses",
        help="what a round answers: the near misses among the workspace's passages, the findings on the "
        f"next {JOB_CONTRACTS} contracts after the scored ones, or (reviewed) those findings and the labelled "
        "clauses they missed, or (mixed) half findings and half near misses",
    )
    args = parser.parse_args()
    if not (args.data / "cuad" / "labels.jsonl").is_file():
        parser.error(
            f"{args.data} has no cuad/labels.jsonl: --data needs the folder `python -m connectors prepare legal` "
            "builds from CUAD v1 (cuad/labels.jsonl and cuad/contracts/)"
        )
    started = time.perf_counter()
    contracts = read(args.data)
    answered = {
        "near_misses": "near misses",
        "findings": "findings",
        "reviewed": "findings and misses",
        "mixed": "findings and near misses",
    }[args.answer]
    for number, rows in enumerate(run(contracts, args.pool, args.eval, args.rounds, args.answer)):
        print(
            f"round {number}"
            + (
                ": the examples"
                if number == 0
                else f": {number * custom.NEAR_MISSES} {answered} answered per category"
            )
        )
        print(table(rows) + "\n")
    scored = len(contracts[args.pool : args.pool + args.eval])
    print(f"\n{scored} contracts scored, {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
