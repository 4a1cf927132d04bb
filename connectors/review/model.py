"""Model mode: a prompt of retrieved passages per document (every column one question) and a written answer
for `ask`, every value and sentence grounded on a quote found in the document.

The two functions here are the whole of model mode, so a whole-document (long-context) path can take their
place without touching the analyzers."""

from __future__ import annotations

from connectors.base import Document, RunContext
from connectors.model import ask_json, grounded_span, numbered
from connectors.review.cells import cell
from connectors.review.retrieval import Passage

MODEL_CONFIDENCE = 0.8


def model_cells(
    run: RunContext, document: Document, columns: list[dict], passages: dict[str, list[Passage]], floor: float
) -> dict[str, dict]:
    """Cells the model answered with a quote found in the document; columns it missed are left out."""
    text = document.text
    blocks = []
    for column in columns:
        shown = numbered([text[p.start : p.end] for p in passages.get(column["key"], [])[:4]])
        kind = column["type"] + (
            f" (one of: {', '.join(column['choices'])})" if column.get("choices") else ""
        )
        blocks.append(f"## {column['key']}: {column['question']} [{kind}]\n{shown or '(no passage)'}")
    prompt = (
        "Answer each question from its passages. Reply with one JSON object mapping each key to "
        '{"value": ..., "quote": "<verbatim sentence of a passage that supports it>"}, or null when the '
        "passages do not answer it.\n\n" + "\n\n".join(blocks)
    )
    reply = ask_json(run, f"review {document.document_id}", prompt, max_tokens=60 * len(columns) + 200)
    if not isinstance(reply, dict):
        return {}
    cells: dict[str, dict] = {}
    for column in columns:
        answer = reply.get(column["key"])
        if not isinstance(answer, dict) or answer.get("value") in (None, ""):
            continue
        span = grounded_span(run, f"review {column['key']}", document.document_id, text, answer.get("quote"))
        if span is not None:
            value = answer["value"]
            normalised = value.lower() if isinstance(value, str) else value
            cells[column["key"]] = cell(value, normalised, [span], MODEL_CONFIDENCE, floor)
    return cells


def model_answer(
    run: RunContext, question: str, passages: list[tuple[Document, Passage]]
) -> list[dict] | None:
    """A written answer whose every sentence cites a quote found in one of `passages`' documents; None when
    the model gave nothing usable."""
    shown = numbered([document.text[p.start : p.end] for document, p in passages])
    prompt = (
        f"Question: {question}\n\nPassages:\n{shown}\n\nAnswer in a few sentences. Reply with JSON "
        '{"sentences": [{"text": "...", "passage": <number>, "quote": "<verbatim words of that passage>"}]}.'
    )
    reply = ask_json(run, "ask", prompt)
    if not isinstance(reply, dict) or not isinstance(reply.get("sentences"), list):
        return None
    answer = []
    for sentence in reply["sentences"]:
        if not isinstance(sentence, dict) or not isinstance(sentence.get("text"), str):
            continue
        index = sentence.get("passage")
        if not isinstance(index, int) or not 0 <= index < len(passages):
            continue
        document = passages[index][0]
        span = grounded_span(run, "ask", document.document_id, document.text, sentence.get("quote"))
        if span is not None:
            answer.append({"text": sentence["text"], "spans": [span]})
    return answer or None
