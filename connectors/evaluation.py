"""Scoring connector outputs against labelled data with the metrics of CONNECTORS.md."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from connectors.bullet_facts import call_numbers, parse_bullets
from connectors.cuad_labels import VALUE_CATEGORIES, answer_right, party_matches
from connectors.spans import token_jaccard

if TYPE_CHECKING:
    from connectors.base import Document

SPAN_HIT_JACCARD = 0.5
Item = TypeVar("Item")


def prf(true_positive: int, false_positive: int, false_negative: int) -> tuple[float, float, float]:
    precision = true_positive / (true_positive + false_positive) if true_positive + false_positive else 0.0
    recall = true_positive / (true_positive + false_negative) if true_positive + false_negative else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _thresholds(scored: list[tuple[float, bool]]) -> list[tuple[int, int]]:
    """(items, hits) kept at each distinct confidence, highest first: items of equal confidence stand or fall
    together, so their order (which a sort leaves to chance) cannot move the curve."""
    points = []
    hits = 0
    ranked = sorted(scored, key=lambda pair: -pair[0])
    for items, (confidence, is_hit) in enumerate(ranked, start=1):
        hits += is_hit
        if items == len(ranked) or ranked[items][0] != confidence:
            points.append((items, hits))
    return points


def _precision_recall(right: int, wrong: int, found: int, labelled: int) -> tuple[float, float, float]:
    """Precision over the predictions (`right` of them hit a labelled span, `wrong` none), recall over the
    labelled spans (`found` of `labelled` hit by any prediction), and their F1: two predictions of one span
    count once toward recall, and one prediction covering two spans counts for both."""
    precision = right / (right + wrong) if right + wrong else 0.0
    recall = found / labelled if labelled else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def average_precision(scored: list[tuple[float, bool]], positives: int) -> float:
    """Area under the precision-recall curve (step-wise, as average precision) of confidence-ranked hits, one
    step per distinct confidence (as scikit-learn's `average_precision_score`)."""
    if positives == 0:
        return 0.0
    total, previous = 0.0, 0
    for items, hits in _thresholds(scored):
        total += (hits - previous) * hits / items
        previous = hits
    return total / positives


def precision_at_recall(scored: list[tuple[float, bool]], positives: int, recall: float) -> float:
    """The best precision at any confidence threshold whose recall reaches `recall` (0 when none does)."""
    reached = [
        hits / items for items, hits in _thresholds(scored) if positives and hits / positives >= recall
    ]
    return max(reached, default=0.0)


def calibration_error(scored: list[tuple[float, bool]], bins: int = 10) -> float:
    """Expected calibration error: over equal-width confidence bins, the share-weighted gap between the mean
    confidence and the share of hits (0 when every confidence is the chance of a hit)."""
    if not scored:
        return 0.0
    sums: dict[int, list[float]] = {}
    for confidence, is_hit in scored:
        entry = sums.setdefault(min(bins - 1, int(confidence * bins)), [0.0, 0.0, 0.0])
        entry[0] += confidence
        entry[1] += is_hit
        entry[2] += 1
    return sum(abs(total - hits) for total, hits, _ in sums.values()) / len(scored)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def first_hits(matches: list[tuple[Item, float, float, int]]) -> list[tuple[Item, float, bool]]:
    """`(item, confidence, best token Jaccard, index of that labelled span)` most confident first, each item with
    its Jaccard and whether it is the first to hit its span (a later one on the same span counts as a miss, as
    in CUAD's AUPR)."""
    found: set[int] = set()
    out = []
    for item, _, jaccard, index in sorted(matches, key=lambda match: -match[1]):
        out.append((item, jaccard, jaccard >= SPAN_HIT_JACCARD and index not in found))
        if jaccard >= SPAN_HIT_JACCARD:
            found.add(index)
    return out


def _matches(clauses: list[dict], gold: list[str]) -> list[tuple[dict, float, float, int]]:
    return [
        (
            clause,
            clause["confidence"],
            *max(
                ((token_jaccard(clause["span"]["quote"], g), i) for i, g in enumerate(gold)),
                default=(0.0, -1),
            ),
        )
        for clause in clauses
    ]


def score_legal(outputs: dict[str, dict], labels: list[dict]) -> dict[str, float]:
    from connectors.legal.categories import CUAD_CATEGORIES, YES_NO_CATEGORIES

    per_category = {category: [0, 0, 0] for category in CUAD_CATEGORIES}
    span_tp = span_fp = gold_hit = gold_total = 0
    scored: list[tuple[float, bool]] = []
    clause_scored: list[tuple[float, bool]] = []
    scored_by_category: dict[str, list[tuple[float, bool]]] = {category: [] for category in CUAD_CATEGORIES}
    gold_by_category = dict.fromkeys(CUAD_CATEGORIES, 0)
    answer_hits = {"value": [0, 0], "yes_no": [0, 0]}
    parties = [0, 0, 0, 0]
    for label in labels:
        output = outputs[label["document_id"]]
        predicted: dict[str, list[dict]] = {}
        for clause in output["clauses"]:
            predicted.setdefault(clause["category"], []).append(clause)
        suggested: dict[str, list[dict]] = {}
        for clause in output.get("suggestions", []):
            suggested.setdefault(clause["category"], []).append(clause)
        for category in CUAD_CATEGORIES:
            gold = [g for g in label["clauses"].get(category, []) if g.strip()]
            mine = predicted.get(category, [])
            counts = per_category[category]
            if mine and gold:
                counts[0] += 1
            elif mine:
                counts[1] += 1
            elif gold:
                counts[2] += 1
            clause_hits = first_hits(_matches(mine, gold))
            clause_scored.extend((clause["confidence"], hit) for clause, _, hit in clause_hits)
            span_tp += sum(1 for _, jaccard, _ in clause_hits if jaccard >= SPAN_HIT_JACCARD)
            span_fp += sum(1 for _, jaccard, _ in clause_hits if jaccard < SPAN_HIT_JACCARD)
            gold_hit += sum(
                1
                for g in gold
                if any(token_jaccard(clause["span"]["quote"], g) >= SPAN_HIT_JACCARD for clause in mine)
            )
            gold_total += len(gold)
            for clause, _, hit in first_hits(_matches(mine + suggested.get(category, []), gold)):
                scored.append((clause["confidence"], hit))
                scored_by_category[category].append((clause["confidence"], hit))
            gold_by_category[category] += len(gold)
        answers = output.get("answers", {})
        for category in VALUE_CATEGORIES:
            right = answer_right(category, label["answers"].get(category, ""), answers.get(category))
            if right is not None:
                answer_hits["value"][0] += int(right)
                answer_hits["value"][1] += 1
        parties = [a + b for a, b in zip(parties, parties_counts(label, answers), strict=True)]
        for category in YES_NO_CATEGORIES:
            expected = "Yes" if [g for g in label["clauses"].get(category, []) if g.strip()] else "No"
            answer_hits["yes_no"][0] += int(answers.get(category) == expected)
            answer_hits["yes_no"][1] += 1
    tp = sum(c[0] for c in per_category.values())
    fp = sum(c[1] for c in per_category.values())
    fn = sum(c[2] for c in per_category.values())
    micro = prf(tp, fp, fn)
    macro_scores = [prf(*c) for c in per_category.values() if c[0] + c[2] > 0]
    span = _precision_recall(span_tp, span_fp, gold_hit, gold_total)
    labelled = [c for c in CUAD_CATEGORIES if gold_by_category[c]]
    return {
        "documents": len(labels),
        "presence_micro_precision": micro[0],
        "presence_micro_recall": micro[1],
        "presence_micro_f1": micro[2],
        "presence_macro_f1": sum(s[2] for s in macro_scores) / len(macro_scores) if macro_scores else 0.0,
        "span_precision": span[0],
        "span_recall": span[1],
        "span_aupr": average_precision(scored, sum(gold_by_category.values())),
        "span_aupr_macro": sum(
            average_precision(scored_by_category[c], gold_by_category[c]) for c in labelled
        )
        / max(1, len(labelled)),
        "span_precision_at_80_recall": precision_at_recall(scored, sum(gold_by_category.values()), 0.8),
        "clause_calibration_error": calibration_error(clause_scored),
        "answer_value_accuracy": answer_hits["value"][0] / max(1, answer_hits["value"][1]),
        "answer_yes_no_accuracy": answer_hits["yes_no"][0] / max(1, answer_hits["yes_no"][1]),
        **_parties_scores(*parties),
    }


def parties_counts(label: dict, answers: dict) -> tuple[int, int, int, int]:
    """For one contract: the answered party names matching some labelled Parties span (`party_matches`), the
    names answered, the labelled spans some name matches, the spans labelled; zeros without a Parties label."""
    labelled = [p for p in label["clauses"].get("Parties", []) if p.strip()]
    if not labelled:
        return 0, 0, 0, 0
    answer = answers.get("Parties") or []
    named = [answer] if isinstance(answer, str) else [n for n in answer if isinstance(n, str)]
    return (
        sum(1 for n in named if any(party_matches(n, p) for p in labelled)),
        len(named),
        sum(1 for p in labelled if any(party_matches(n, p) for n in named)),
        len(labelled),
    )


def _parties_scores(right: int, named: int, found: int, labelled: int) -> dict[str, float]:
    """Precision of the answered party names (each matching some labelled Parties span, `party_matches`) and
    recall of the labelled spans, over the contracts with a Parties label."""
    precision, recall = right / max(1, named), found / max(1, labelled)
    return {
        "answer_parties_precision": precision,
        "answer_parties_recall": recall,
        "answer_parties_f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
    }


def format_table(rows: list[tuple[str, str, dict[str, float]]]) -> str:
    lines = [f"{'set':<12} {'split':<8} {'metric':<28} {'value':>8}", "-" * 60]
    for name, split, metrics in rows:
        for metric, value in metrics.items():
            shown = f"{value:8.3f}" if isinstance(value, float) and not math.isnan(value) else f"{value!s:>8}"
            lines.append(f"{name:<12} {split:<8} {metric:<28} {shown}")
    return "\n".join(lines)


def evaluate_legal(data_dir: Path, split: str, progress: Callable[[str], None]) -> dict[str, float]:
    from connectors import Document, run_connector
    from connectors.legal.learned import MAX_SUGGESTIONS

    labels = [row for row in read_jsonl(data_dir / "cuad" / "labels.jsonl") if split in ("all", row["split"])]
    outputs = {}
    for row in labels:
        progress(f"legal {row['document_id']}")
        text = (data_dir / "cuad" / "contracts" / f"{row['document_id']}.txt").read_text(encoding="utf-8")
        outputs[row["document_id"]] = run_connector(
            "legal", [Document(row["document_id"], text)], options={"suggestions": MAX_SUGGESTIONS}
        )
    return score_legal(outputs, labels)


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:\.[0-9]+)?", text.lower())


def _ngrams(tokens: list[str], n: int) -> dict[tuple[str, ...], int]:
    counts: dict[tuple[str, ...], int] = {}
    for i in range(len(tokens) - n + 1):
        gram = tuple(tokens[i : i + n])
        counts[gram] = counts.get(gram, 0) + 1
    return counts


def _lcs(first: list[str], second: list[str]) -> int:
    previous = [0] * (len(second) + 1)
    for a in first:
        current = [0]
        for j, b in enumerate(second):
            current.append(previous[j] + 1 if a == b else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge(candidate: str, reference: str) -> dict[str, float]:
    """ROUGE-1, ROUGE-2 and ROUGE-L F1 over lower-cased word tokens."""
    cand, ref = _tokens(candidate), _tokens(reference)
    scores = {}
    for n in (1, 2):
        c, r = _ngrams(cand, n), _ngrams(ref, n)
        overlap = sum(min(count, r.get(gram, 0)) for gram, count in c.items())
        scores[f"rouge{n}"] = prf(overlap, sum(c.values()) - overlap, sum(r.values()) - overlap)[2]
    lcs = _lcs(cand, ref)
    scores["rougeL"] = prf(lcs, len(cand) - lcs, len(ref) - lcs)[2]
    return scores


def _base_metric(metric: str) -> str:
    return metric[: -len("_growth")] if metric.endswith("_growth") else metric


def reference_facts(bullets: list[str], document_id: str) -> list[dict]:
    """Numbers of the reference bullets with the metric and period they state (metric None when unclear), by the
    scorer's own parser (`connectors.bullet_facts`), which shares nothing with the connector."""
    return [fact.as_dict() for fact in parse_bullets(bullets, document_id)]


def _same_value(fact: dict, value: float, scale: float) -> bool:
    """Whether a value equals the fact at the fact's own precision ($3.42 billion is "$3.4 billion")."""
    scaled = abs(value) * scale / fact["scale"]
    return round(scaled, fact["decimals"]) == round(fact["value"], fact["decimals"])


def in_call(fact: dict, numbers: list[tuple[float, float]]) -> bool:
    """Whether the call states the fact's number at all (analysts' estimates and figures of the press release
    that the call never says cannot be found in it)."""
    return any(_same_value(fact, value, scale) for value, scale in numbers)


def _candidate_values(metric: dict) -> list[tuple[float, float]]:
    values = [(metric["value"], metric["scale"])]
    for key in ("low", "high"):
        if metric.get(key) is not None:
            values.append((metric[key], metric["scale"]))
    change = metric.get("change") or {}
    for key in ("value", "low", "high"):
        if change.get(key) is not None:
            values.append((change[key], 1.0))
    return values


def fact_found(fact: dict, metrics: list[dict], *, check_metric: bool = True) -> bool:
    """Whether a reported metric states the fact: same value at the fact's precision, same metric and period.

    A fact whose metric the reference does not name in words the scorer knows is matched on value and period.
    """
    for metric in metrics:
        if check_metric and fact["metric"] is not None and _base_metric(metric["metric"]) != fact["metric"]:
            continue
        if check_metric and fact["period"] and metric.get("period") and fact["period"] != metric["period"]:
            continue
        if any(_same_value(fact, value, scale) for value, scale in _candidate_values(metric)):
            return True
    return False


def score_earnings(
    outputs: dict[str, dict], labels: list[dict], texts: dict[str, str] | None = None
) -> dict[str, float]:
    """ROUGE of the summary and recall of the reference numbers; with the calls' `texts`, recall counts only
    the reference numbers the call states (the figures present in the call). The `_strict` recall
    counts a fact whose metric the scorer cannot name as missed instead of matching it on value and period."""
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    found = found_named = found_value_only = counted = total = 0
    for label in labels:
        output = outputs[label["document_id"]]
        summary = " ".join(bullet["text"] for bullet in output["summary"])
        for key, value in rouge(summary, " ".join(label["bullets"])).items():
            totals[key] += value
        numbers = call_numbers(texts[label["document_id"]]) if texts is not None else None
        for fact in reference_facts(label["bullets"], label["document_id"]):
            total += 1
            if numbers is not None and not in_call(fact, numbers):
                continue
            counted += 1
            hit = fact_found(fact, output["metrics"])
            found += hit
            found_named += hit and fact["metric"] is not None
            found_value_only += fact_found(fact, output["metrics"], check_metric=False)
    documents = max(1, len(labels))
    return {
        "calls": len(labels),
        "reference_numbers": total,
        "reference_numbers_in_call": counted,
        "numeric_fact_recall": found / max(1, counted),
        "numeric_fact_recall_strict": found_named / max(1, counted),
        "numeric_value_recall": found_value_only / max(1, counted),
        **{key: value / documents for key, value in totals.items()},
    }


def evaluate_earnings(data_dir: Path, split: str, progress: Callable[[str], None]) -> dict[str, float]:
    from connectors import Document, run_connector

    labels = [
        row for row in read_jsonl(data_dir / "ectsum" / "labels.jsonl") if split in ("all", row["split"])
    ]
    outputs = {}
    texts = {}
    for row in labels:
        progress(f"earnings {row['document_id']}")
        text = (data_dir / "ectsum" / "calls" / f"{row['document_id']}.txt").read_text(encoding="utf-8")
        texts[row["document_id"]] = text
        outputs[row["document_id"]] = run_connector("earnings", [Document(row["document_id"], text)])
    return score_earnings(outputs, labels, texts)


def ndcg_at(ranked: list[str], relevant: set[str], k: int = 10) -> float:
    gains = sum(1 / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k]) if doc in relevant)
    ideal = sum(1 / math.log2(rank + 2) for rank in range(min(k, len(relevant))))
    return gains / ideal if ideal else 0.0


def rationale_sentences(document: Document, indices: list[int]) -> list[tuple[int, int]]:
    """Offsets of labelled rationale sentences: SciFact's sentence indices, read in the corpus's own sentence list
    where it gave one (`metadata["sentences"]`), else in a re-split of the abstract."""
    given = document.metadata.get("sentences")
    if given is None:
        from connectors.text import paper_title, split_abstract_sentences

        title = paper_title(document.text, document.metadata)
        given = [
            (s.start, s.end) for s in split_abstract_sentences(document.text, len(title) + 2 if title else 0)
        ]
    return [(given[i][0], given[i][1]) for i in indices if i < len(given) and given[i][0] < given[i][1]]


def score_literature(output: dict, labels: list[dict], documents: dict) -> dict[str, float]:
    classes = ("SUPPORT", "CONTRADICT", "NOT_ENOUGH_INFO")
    by_id = {claim["claim_id"]: claim for claim in output["claims"]}
    recall = {1: [], 3: [], 10: []}
    ndcg = []
    confusion = {(gold, predicted): 0 for gold in classes for predicted in classes}
    rationale_tp = rationale_fp = rationale_found = rationale_gold = 0
    for label in labels:
        predicted = by_id[label["claim_id"]]
        ranked = [entry["document_id"] for entry in predicted["ranking"]]
        relevant = set(label["evidence"]) or set()
        if relevant:
            for k in recall:
                recall[k].append(len(set(ranked[:k]) & relevant) / len(relevant))
            ndcg.append(ndcg_at(ranked, relevant))
        confusion[(label["label"], predicted["verdict"])] += 1
        gold_sentences = []
        for doc_id, evidence in label["evidence"].items():
            document = documents[doc_id]
            for start, end in rationale_sentences(document, evidence["sentences"]):
                gold_sentences.append((doc_id, start, end))
        covered = set()
        for item in predicted["evidence"]:
            span = item["span"]
            hit = False
            for position, (doc_id, start, end) in enumerate(gold_sentences):
                overlap = min(end, span["end"]) - max(start, span["start"])
                if doc_id == span["document_id"] and overlap >= (end - start) / 2:
                    covered.add(position)
                    hit = True
            rationale_tp += hit
            rationale_fp += not hit
        rationale_found += len(covered)
        rationale_gold += len(gold_sentences)
    f1s = []
    for cls in classes:
        tp = confusion[(cls, cls)]
        fp = sum(confusion[(other, cls)] for other in classes if other != cls)
        fn = sum(confusion[(cls, other)] for other in classes if other != cls)
        f1s.append(prf(tp, fp, fn)[2])
    total = sum(confusion.values())
    return {
        "claims": len(labels),
        "recall_at_1": sum(recall[1]) / max(1, len(recall[1])),
        "recall_at_3": sum(recall[3]) / max(1, len(recall[3])),
        "recall_at_10": sum(recall[10]) / max(1, len(recall[10])),
        "ndcg_at_10": sum(ndcg) / max(1, len(ndcg)),
        "verdict_accuracy": sum(confusion[(c, c)] for c in classes) / max(1, total),
        "verdict_macro_f1": sum(f1s) / len(f1s),
        "rationale_f1": _precision_recall(rationale_tp, rationale_fp, rationale_found, rationale_gold)[2],
    }


def evaluate_literature(data_dir: Path, split: str, progress: Callable[[str], None]) -> dict[str, float]:
    from connectors import run_connector
    from connectors.loaders import load_corpus

    labels = [
        row for row in read_jsonl(data_dir / "scifact" / "claims.jsonl") if split in ("all", row["split"])
    ]
    corpus = load_corpus(data_dir / "scifact" / "corpus.jsonl")
    progress(f"literature {len(labels)} claims over {len(corpus)} papers")
    output = run_connector(
        "literature",
        corpus,
        options={"claims": [{"claim_id": r["claim_id"], "claim": r["claim"]} for r in labels]},
    )
    return score_literature(output, labels, {d.document_id: d for d in corpus})
