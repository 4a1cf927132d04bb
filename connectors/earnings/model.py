"""Model mode for earnings calls: the model writes the summary from the extracted figures; numbers are checked."""

from __future__ import annotations

import re

from connectors.base import Document, RunContext
from connectors.model import ask_json, grounded_span, numbered

MAX_FACT_SENTENCES = 40
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_PERIOD_LABEL = re.compile(r"\b(?:Q[1-4]|H[12]|FY\s?\d{2,4}|(?:19|20)\d\d)\b", re.IGNORECASE)


def _numbers(text: str) -> set[str]:
    """Figures in `text`; period labels (Q3, FY2021, 2021) are not figures."""
    return {n.replace(",", "") for n in _NUMBER.findall(_PERIOD_LABEL.sub(" ", text))}


def refine_with_model(document: Document, result: dict, run: RunContext) -> dict:
    """`result` with a model-written summary, kept only when every bullet's numbers are quoted from the call."""
    task = f"earnings {document.document_id}"
    sentences = list(dict.fromkeys(m["sentence"]["quote"] for m in result["metrics"]))[:MAX_FACT_SENTENCES]
    if not sentences:
        return result
    prompt = (
        "From these sentences of an earnings call, write 3 to 6 summary bullets (revenue, EPS, margins, guidance). "
        "For each bullet give the exact sentence fragments it rests on; every number in a bullet must appear in "
        f"its quotes.\n\nSentences:\n{numbered(sentences)}\n\n"
        'Reply as {"summary": [{"text": str, "quotes": [str]}]}'
    )
    reply = ask_json(run, task, prompt, max_tokens=700)
    if not isinstance(reply, dict) or not isinstance(reply.get("summary"), list):
        return result
    bullets = []
    for item in reply["summary"]:
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            continue
        spans = [
            grounded_span(run, task, document.document_id, document.text, q) for q in item.get("quotes") or []
        ]
        spans = [s for s in spans if s is not None]
        quoted = set().union(*(_numbers(s["quote"]) for s in spans)) if spans else set()
        missing = _numbers(item["text"]) - quoted
        if not spans or missing:
            run.warn(
                f"{task}: summary bullet dropped, numbers not in its quotes: {sorted(missing) or item['text'][:60]}"
            )
            continue
        bullets.append({"text": item["text"].strip(), "spans": spans, "source": "model"})
    if len(bullets) >= 3:
        return {**result, "summary": bullets[:6]}
    run.warn(f"{task}: fewer than 3 grounded bullets from the model; analyzers' summary kept")
    return result
