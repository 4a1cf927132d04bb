"""Model mode for contracts: one question per CUAD category and one per playbook rule over the contract as its
plan reads it (one shared prefix); every quote is grounded in the text and every normalised answer checked
against it."""

from __future__ import annotations

import re
from collections.abc import Sequence

from connectors.base import Document, RunContext
from connectors.dates import find_dates
from connectors.legal.analyzers import jurisdiction_answer
from connectors.legal.categories import CUAD_CATEGORIES, YES_NO_CATEGORIES
from connectors.model import DocumentReading, Ranges, Reply, grounded_span

MAX_HINTS = 3
VALUE_PATTERNS = {
    "Agreement Date": re.compile(r"\d{4}(?:-\d\d){0,2}"),
    "Effective Date": re.compile(r"\d{4}(?:-\d\d){0,2}"),
    "Expiration Date": re.compile(r"\d{4}(?:-\d\d){0,2}|perpetual"),
    "Renewal Term": re.compile(r"P\d+[YMWD]|perpetual"),
    "Notice Period To Terminate Renewal": re.compile(r"P\d+[YMWD]"),
}
ANSWER_FORMS = {
    "Governing Law": 'the governing jurisdiction, e.g. "Delaware"',
    "Agreement Date": "YYYY-MM-DD (or YYYY-MM, YYYY)",
    "Effective Date": "YYYY-MM-DD (or YYYY-MM, YYYY)",
    "Expiration Date": 'YYYY-MM-DD (or YYYY-MM, YYYY) or "perpetual"',
    "Renewal Term": 'an ISO 8601 duration such as "P1Y", or "perpetual"',
    "Notice Period To Terminate Renewal": 'an ISO 8601 duration such as "P90D"',
}


def question(category: str, clauses: list[dict]) -> str:
    """The question for `category`, with the analyzers' candidates offered as hints."""
    hints = [c["span"]["quote"][:300] for c in clauses if c["category"] == category][:MAX_HINTS]
    answer = f', "answer": {ANSWER_FORMS[category]} or null' if category in ANSWER_FORMS else ""
    text = (
        f"CUAD category: {category}. Quote every clause of the contract that belongs to this category, "
        "copied exactly; none if the contract has no such clause."
    )
    if hints:
        text += " Pattern rules flagged these (they may be wrong or incomplete): " + " | ".join(hints)
    return text + f'\nReply as {{"clauses": [{{"quote": str, "confidence": float}}]{answer}}}'


def playbook_question(rule: dict) -> str:
    """The question that checks playbook rule `rule` against the contract."""
    category = rule["category"]
    wanted = {
        "present": "The playbook requires such a clause.",
        "absent": "The playbook forbids such a clause.",
    }.get(rule.get("require", ""), "")
    if "allowed" in rule:
        wanted += f" The playbook allows only: {', '.join(rule['allowed'])}."
    for key, bound in (("max_days", "at most"), ("min_days", "at least")):
        if key in rule:
            wanted += f" The playbook wants {bound} {rule[key]} days."
    answer = f"{ANSWER_FORMS[category]} or null" if category in ANSWER_FORMS else "null"
    return (
        f"Playbook check {rule['id']} on CUAD category {category}. {wanted.strip()} Does the contract have a "
        f"{category} clause? If it does, quote the clause exactly and give its value; if it does not, say so.\n"
        f'Reply as {{"present": bool, "quote": str or null, "answer": {answer}}}'
    )


def _playbook_check(
    document: Document, rule: dict, parts: list[Reply], run: RunContext, task: str
) -> dict | None:
    """The model's answer to one playbook rule over every part it read: a clause it quotes (grounded, or
    dropped and counted), its value (checked against the text), or its absence from every part. None when no
    part gave a usable answer; the rules then decide the check from the clauses."""
    check_task = f"{task} playbook {rule['id']}"
    present: dict | None = None
    absent_parts = 0
    for part in parts:
        reply = part.value
        if not isinstance(reply, dict) or not isinstance(reply.get("present"), bool):
            continue
        if not reply["present"]:
            absent_parts += 1
            continue
        span = grounded_span(
            run, check_task, document.document_id, document.text, reply.get("quote"), part.shown
        )
        if span is None or present is not None:
            continue
        value = reply.get("answer")
        checked = _checked_answer(document, rule["category"], value)
        if value is not None and checked is None:
            run.warn(f"{check_task}: the model's value {str(value)[:40]!r} is not supported by the text")
        present = {"present": True, "answer": checked, "span": span}
    if present is not None:
        return present
    if parts and absent_parts == len(parts):
        return {"present": False, "answer": None, "span": None}
    run.warn(f"{check_task}: no grounded answer from the model; the rules decided it from the clauses")
    return None


def _checked_answer(document: Document, category: str, value: object) -> object | None:
    if value is None or not isinstance(value, str):
        return None
    if category == "Governing Law":
        return jurisdiction_answer(value) if value.lower() in document.text.lower() else None
    value = value.strip()
    pattern = VALUE_PATTERNS.get(category)
    if pattern is None or not pattern.fullmatch(value):
        return None
    if (
        category.endswith("Date")
        and value != "perpetual"
        and not any(d.iso.startswith(value) or value.startswith(d.iso) for d in find_dates(document.text))
    ):
        return None
    return value


def refine_with_model(
    document: Document, clauses: list[dict], answers: dict, run: RunContext, playbook: Sequence[dict] = ()
) -> tuple[list[dict], dict, dict[str, dict]]:
    """Clauses, answers and playbook checks (by rule id) from the model's reading of the contract: the CUAD
    categories and the playbook rules are asked together over one prefix. Anything it cannot ground in the
    text is dropped (and counted). The analyzers' clauses and answers stay when the model grounds nothing, and
    for a category (or the parts of a map-reduce reading) the model gave no usable reply for."""
    task = f"legal {document.document_id}"
    reading = DocumentReading(run, document)
    replies = reading.ask_many(
        task,
        [question(category, clauses) for category in CUAD_CATEGORIES]
        + [playbook_question(rule) for rule in playbook],
        max_tokens=400,
    )
    checks = {
        rule["id"]: check
        for rule, parts in zip(playbook, replies[len(CUAD_CATEGORIES) :], strict=True)
        if (check := _playbook_check(document, rule, parts, run, task)) is not None
    }
    found: list[dict] = []
    model_answers: dict[str, object] = {}
    unanswered: dict[str, Ranges] = {}
    silent: set[str] = set()
    for category, parts in zip(CUAD_CATEGORIES, replies[: len(CUAD_CATEGORIES)], strict=True):
        failed = [part for part in parts if not _usable(part.value)]
        if len(failed) == len(parts):
            silent.add(category)
            unanswered[category] = ((0, len(document.text)),)
        elif failed:
            unanswered[category] = sum((part.shown for part in failed), ())
        for part in parts:
            reply = part.value
            if not _usable(reply):
                continue
            for item in reply.get("clauses") or []:
                if not isinstance(item, dict):
                    continue
                span = grounded_span(
                    run, task, document.document_id, document.text, item.get("quote"), part.shown
                )
                if span is None:
                    continue
                confidence = item.get("confidence")
                confidence = (
                    float(confidence) if isinstance(confidence, int | float) and 0 <= confidence <= 1 else 0.7
                )
                found.append(
                    {
                        "category": category,
                        "confidence": round(confidence, 3),
                        "span": span,
                        "source": "model",
                    }
                )
            value = reply.get("answer")
            if category in ANSWER_FORMS and category not in model_answers and value is not None:
                checked = _checked_answer(document, category, value)
                if checked is None:
                    run.warn(
                        f"{task}: the model's answer for {category!r} is not supported by the text; "
                        "kept the analyzers'"
                    )
                else:
                    model_answers[category] = checked
    if not found:
        return clauses, answers, checks
    found.extend(
        clause
        for clause in clauses
        if any(
            start <= clause["span"]["start"] < end for start, end in unanswered.get(clause["category"], ())
        )
    )
    unique = {(c["category"], c["span"]["start"], c["span"]["end"]): c for c in found}
    reviewed = sorted(unique.values(), key=lambda c: (c["span"]["start"], c["category"]))
    answers = dict(answers)
    present = {clause["category"] for clause in reviewed}
    for category in YES_NO_CATEGORIES:
        if category not in silent:
            answers[category] = "Yes" if category in present else "No"
    answers.update(model_answers)
    return reviewed, answers, checks


def _usable(reply: object) -> bool:
    """Whether a category's reply answers it: a JSON object whose clauses, if any, are a list."""
    return isinstance(reply, dict) and isinstance(reply.get("clauses") or [], list)
