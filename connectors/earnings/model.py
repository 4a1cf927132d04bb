"""Model mode for earnings calls: figures with period and speaker, guidance, Q&A pairs and summary bullets asked
of the call as its plan reads it; quotes are grounded, numbers must be quoted."""

from __future__ import annotations

import json

from connectors.base import Document, RunContext
from connectors.earnings.connector import stated_numbers
from connectors.model import DocumentReading, Ranges, Reply, grounded_span, listed

DIRECTIONS = ("raised", "lowered", "maintained", "introduced", "withdrawn")
FIGURES = (
    "List the reported and guided financial figures of this earnings call. For each: metric (revenue, eps, "
    "adjusted_eps, gross_margin, operating_margin, ebitda, free_cash_flow, ...), value as a number, unit (USD, "
    "USD_per_share, percent, count), scale (1, 1e6, 1e9), period (e.g. Q3 2021, FY2021), kind (actual or "
    "guidance), the speaker's name, and the exact sentence fragment that states it.\n"
    'Reply as {"figures": [{"metric": str, "value": float, "unit": str, "scale": float, "period": str, '
    '"kind": str, "speaker": str, "quote": str}]}'
)
GUIDANCE = (
    "List every change to the company's guidance in this call: the metric, the direction (raised, lowered, "
    "maintained, introduced, withdrawn) and the exact fragment that says so.\n"
    'Reply as {"guidance": [{"metric": str, "direction": str, "quote": str}]}'
)
QA = (
    "List the analysts' questions of the Q&A session with the answers they got: the analyst's name and the "
    "question itself quoted exactly (not the greeting), then each answering speaker with an exact quote, and a "
    "short topic.\n"
    'Reply as {"qa": [{"question": {"speaker": str, "quote": str}, "answers": [{"speaker": str, "quote": str}], '
    '"topic": str}]}'
)
SUMMARY = (
    "Write 3 to 6 summary bullets of this call (revenue, EPS, margins, guidance). For each bullet give the exact "
    "fragments it rests on; every number in a bullet must appear in its quotes.\n"
    'Reply as {"summary": [{"text": str, "quotes": [str]}]}'
)
QUESTIONS = (FIGURES, GUIDANCE, QA, SUMMARY)


def _number(value: object) -> bool:
    """Whether `value` is a number (a bool is not; `parse_json_reply` already refused NaN, infinities and
    integers past a float's range)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _listed(reply: Reply, key: str) -> bool:
    return isinstance(reply.value, dict) and isinstance(reply.value.get(key), list)


def _items(replies: list[Reply], key: str) -> list[tuple[dict, Ranges]]:
    """The objects listed under `key` in each reply, with the ranges of the text the reply's part showed."""
    return [
        (item, reply.shown)
        for reply in replies
        if _listed(reply, key)
        for item in reply.value[key]
        if isinstance(item, dict)
    ]


def _figures(
    document: Document, result: dict, items: list[tuple[dict, Ranges]], run: RunContext, task: str
) -> list[dict]:
    known = {(m["metric"], m["span"]["start"]) for m in result["metrics"]}
    covered = [(m["sentence"]["start"], m["sentence"]["end"], m["metric"]) for m in result["metrics"]]
    added = []
    for item, shown in items:
        value = item.get("value")
        if not _number(value) or not isinstance(item.get("metric"), str):
            continue
        span = grounded_span(run, task, document.document_id, document.text, item.get("quote"), shown)
        if span is None:
            continue
        if abs(value) not in stated_numbers(span["quote"]):
            run.warn(f"{task}: figure {item['metric']} = {value} is not in its quote; dropped")
            continue
        if (item["metric"], span["start"]) in known or any(
            start <= span["start"] < end and metric == item["metric"] for start, end, metric in covered
        ):
            continue
        known.add((item["metric"], span["start"]))
        added.append(
            {
                "metric": item["metric"],
                "value": value,
                "unit": str(item.get("unit") or ""),
                "scale": item["scale"] if _number(item.get("scale")) else 1,
                "period": item.get("period") if isinstance(item.get("period"), str) else None,
                "kind": "guidance" if item.get("kind") == "guidance" else "actual",
                "low": None,
                "high": None,
                "change": None,
                "speaker": item.get("speaker") if isinstance(item.get("speaker"), str) else None,
                "span": span,
                "sentence": span,
                "source": "model",
            }
        )
    return added


def _guidance(
    document: Document, result: dict, items: list[tuple[dict, Ranges]], run: RunContext, task: str
) -> list[dict]:
    starts = {g["span"]["start"] for g in result["guidance"]}
    added = []
    for item, shown in items:
        if item.get("direction") not in DIRECTIONS or not isinstance(item.get("metric"), str):
            continue
        span = grounded_span(run, task, document.document_id, document.text, item.get("quote"), shown)
        if span is None or span["start"] in starts:
            continue
        starts.add(span["start"])
        added.append(
            {"metric": item["metric"], "direction": item["direction"], "span": span, "source": "model"}
        )
    return added


def _qa(document: Document, items: list[tuple[dict, Ranges]], run: RunContext, task: str) -> list[dict]:
    pairs = []
    for item, shown in items:
        asked = item.get("question") if isinstance(item.get("question"), dict) else {}
        span = grounded_span(run, task, document.document_id, document.text, asked.get("quote"), shown)
        if span is None:
            continue
        answers = []
        for answer in item.get("answers") or []:
            if not isinstance(answer, dict):
                continue
            answer_span = grounded_span(
                run, task, document.document_id, document.text, answer.get("quote"), shown
            )
            if answer_span is not None:
                answers.append({"speaker": str(answer.get("speaker") or ""), "span": answer_span})
        pairs.append(
            {
                "question": {"speaker": str(asked.get("speaker") or ""), "span": span},
                "answers": answers,
                "answered": bool(answers),
                "topic": str(item.get("topic") or ""),
                "source": "model",
            }
        )
    return sorted(pairs, key=lambda pair: pair["question"]["span"]["start"])


def _quoted_in(items: list[tuple[dict, Ranges]]) -> dict[str, Ranges]:
    """The ranges each summary quote of the parts was quoted from, by the quote with its whitespace collapsed."""
    found: dict[str, Ranges] = {}
    for item, shown in items:
        for quote in listed(item.get("quotes")):
            if isinstance(quote, str):
                key = " ".join(quote.split())
                found[key] = found.get(key, ()) + shown
    return found


def _ranges_of(quote: object, quoted_in: dict[str, Ranges]) -> Ranges:
    return quoted_in.get(" ".join(quote.split()), ()) if isinstance(quote, str) else ()


def _bullets(
    document: Document,
    items: list[tuple[dict, Ranges]],
    run: RunContext,
    task: str,
    quoted_in: dict[str, Ranges] | None = None,
) -> list[dict]:
    bullets = []
    for item, shown in items:
        if not isinstance(item.get("text"), str):
            continue
        spans = [
            grounded_span(
                run, task, document.document_id, document.text, q, shown or _ranges_of(q, quoted_in or {})
            )
            for q in listed(item.get("quotes"))
        ]
        spans = [s for s in spans if s is not None]
        quoted = set().union(*(stated_numbers(s["quote"]) for s in spans)) if spans else set()
        missing = stated_numbers(item["text"]) - quoted
        if not spans or missing:
            run.warn(
                f"{task}: summary bullet dropped, numbers not in its quotes: {sorted(missing, key=str) or item['text'][:60]}"
            )
            continue
        bullets.append({"text": item["text"].strip(), "spans": spans, "source": "model"})
    return bullets


def refine_with_model(document: Document, result: dict, run: RunContext) -> dict:
    """`result` with what the model read in the call added: grounded figures and guidance beside the
    analyzers', its Q&A pairs and summary when they are grounded (with the analyzers' pairs in the parts of
    the reading that gave no list of pairs). A call read in parts gets a reduce step that merges the parts'
    bullets; a merged bullet's quote is placed in the part it was quoted from."""
    task = f"earnings {document.document_id}"
    reading = DocumentReading(run, document)
    figures, guidance, qa, summary = reading.ask_many(task, list(QUESTIONS), max_tokens=700)
    summary_items = _items(summary, "summary")
    quoted_in = _quoted_in(summary_items)
    if len(summary) > 1 and summary_items:
        merged = reading.ask_bare(
            task,
            "These bullets summarise the parts of one earnings call in order. Merge them into 3 to 6 bullets "
            "for the whole call, keeping each bullet's exact quotes.\n"
            f"{json.dumps([item for item, _ in summary_items])}\n"
            'Reply as {"summary": [{"text": str, "quotes": [str]}]}',
            max_tokens=700,
        )
        summary_items = _items([Reply(merged, ())], "summary") or summary_items
    refined = dict(result)
    refined["metrics"] = sorted(
        result["metrics"] + _figures(document, result, _items(figures, "figures"), run, task),
        key=lambda m: m["span"]["start"],
    )
    refined["guidance"] = sorted(
        result["guidance"] + _guidance(document, result, _items(guidance, "guidance"), run, task),
        key=lambda g: g["span"]["start"],
    )
    pairs = _qa(document, _items(qa, "qa"), run, task)
    if pairs:
        unread = [r for reply in qa if not _listed(reply, "qa") for r in reply.shown]
        asked = {pair["question"]["span"]["start"] for pair in pairs}
        kept = [
            pair
            for pair in result["qa"]
            if pair["question"]["span"]["start"] not in asked
            and any(start <= pair["question"]["span"]["start"] < end for start, end in unread)
        ]
        refined["qa"] = sorted(pairs + kept, key=lambda pair: pair["question"]["span"]["start"])
    bullets = _bullets(document, summary_items, run, task, quoted_in)
    if len(bullets) >= 3:
        refined["summary"] = bullets[:6]
    elif summary_items:
        run.warn(f"{task}: fewer than 3 grounded bullets from the model; analyzers' summary kept")
    return refined
