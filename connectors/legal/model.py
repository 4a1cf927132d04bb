"""Model mode for contracts: the model reviews the analyzers' candidate clauses and answers; quotes are checked."""

from __future__ import annotations

import re

from connectors.base import Document, RunContext
from connectors.dates import find_dates
from connectors.legal.categories import CUAD_CATEGORIES, YES_NO_CATEGORIES
from connectors.model import ask_json, grounded_span, numbered

MAX_CANDIDATES = 60
VALUE_PATTERNS = {
    "Agreement Date": re.compile(r"^\d{4}(?:-\d\d){0,2}$"),
    "Effective Date": re.compile(r"^\d{4}(?:-\d\d){0,2}$"),
    "Expiration Date": re.compile(r"^(?:\d{4}(?:-\d\d){0,2}|perpetual)$"),
    "Renewal Term": re.compile(r"^(?:P\d+[YMWD]|perpetual)$"),
    "Notice Period To Terminate Renewal": re.compile(r"^P\d+[YMWD]$"),
}


def _prompt(document: Document, clauses: list[dict]) -> str:
    candidates = [f"{c['category']}: {c['span']['quote']}" for c in clauses[:MAX_CANDIDATES]]
    return (
        "Review these candidate clauses from a contract (CUAD categories). Keep the correct ones, fix wrong "
        "categories, and add clauses the list missed if you can quote them exactly.\n"
        f"Categories: {', '.join(CUAD_CATEGORIES)}.\n\nCandidates:\n{numbered(candidates)}\n\n"
        'Reply as {"clauses": [{"category": str, "quote": str, "confidence": float}], '
        '"answers": {"Governing Law": str|null, "Effective Date": "YYYY-MM-DD"|null, "Expiration Date": ..., '
        '"Renewal Term": "P1Y"|null, "Notice Period To Terminate Renewal": "P90D"|null}}'
    )


def _checked_answer(document: Document, category: str, value: object) -> object | None:
    if value is None or not isinstance(value, str):
        return None
    if category == "Governing Law":
        return value if value.lower() in document.text.lower() else None
    pattern = VALUE_PATTERNS.get(category)
    if pattern is None or not pattern.match(value):
        return None
    if (
        category.endswith("Date")
        and value != "perpetual"
        and not any(d.iso.startswith(value) or value.startswith(d.iso) for d in find_dates(document.text))
    ):
        return None
    return value


def refine_with_model(
    document: Document, clauses: list[dict], answers: dict, run: RunContext
) -> tuple[list[dict], dict]:
    """Clauses and answers after the model's review; anything it cannot ground in the text is dropped."""
    task = f"legal {document.document_id}"
    reply = ask_json(run, task, _prompt(document, clauses), max_tokens=1500)
    if not isinstance(reply, dict):
        return clauses, answers
    reviewed: list[dict] = []
    for item in reply.get("clauses") or []:
        if not isinstance(item, dict) or item.get("category") not in CUAD_CATEGORIES:
            run.warn(f"{task}: the model named an unknown category; dropped")
            continue
        span = grounded_span(run, task, document.document_id, document.text, item.get("quote"))
        if span is None:
            continue
        confidence = item.get("confidence")
        confidence = (
            float(confidence) if isinstance(confidence, int | float) and 0 <= confidence <= 1 else 0.7
        )
        reviewed.append(
            {
                "category": item["category"],
                "confidence": round(confidence, 3),
                "span": span,
                "source": "model",
            }
        )
    if not reviewed:
        return clauses, answers
    answers = dict(answers)
    present = {clause["category"] for clause in reviewed}
    for category in YES_NO_CATEGORIES:
        answers[category] = "Yes" if category in present else "No"
    for category, value in (reply.get("answers") or {}).items():
        checked = _checked_answer(document, category, value)
        if checked is not None:
            answers[category] = checked
        elif value is not None:
            run.warn(
                f"{task}: the model's answer for {category!r} is not supported by the text; kept the analyzers'"
            )
    reviewed.sort(key=lambda c: c["span"]["start"])
    return reviewed, answers
