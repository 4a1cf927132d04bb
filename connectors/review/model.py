"""Model mode: every column one question over the document read by its context plan (the whole text as one
shared prefix, retrieved chunks, or section by section; `connectors.model.DocumentReading`), and a written
answer for `ask`; every value and sentence grounded on a quote found in the document."""

from __future__ import annotations

from connectors.base import Document, RunContext
from connectors.model import DocumentReading, ask_across, grounded_span, numbered
from connectors.review.cells import cell
from connectors.review.retrieval import Passage
from connectors.review.values import read_value, states

MODEL_CONFIDENCE = 0.8
ANSWER_TOKENS = 200


def _question(column: dict) -> str:
    kind = column["type"] + (f" (one of: {', '.join(column['choices'])})" if column.get("choices") else "")
    return (
        f"Column {column['key']}: {column['question']} [answer type: {kind}]\n"
        'Reply with one JSON object {"value": <the answer>, "quote": "<verbatim words of the document that '
        'support it>"}, or {"value": null} when the document does not answer it.'
    )


def model_cells(run: RunContext, document: Document, columns: list[dict], floor: float) -> dict[str, dict]:
    """Cells the model answered with a quote found in the document and a value of the column's type
    (`read_value`) that the quote states where the type can be read from words (`states`: a date, a duration, a
    figure; a quote that states another is dropped with a warning), from the first part of the reading that gives one; a yes/no column is "Yes" when any part
    grounds it and "No" only when every part does. Columns it missed are left out."""
    reading = DocumentReading(run, document)
    replies = reading.ask_many(
        f"review {document.document_id}", [_question(c) for c in columns], max_tokens=ANSWER_TOKENS
    )
    cells: dict[str, dict] = {}
    for column, parts in zip(columns, replies, strict=True):
        read_parts = []
        for reply in parts:
            answer = reply.value
            if not isinstance(answer, dict) or answer.get("value") in (None, ""):
                continue
            span = grounded_span(
                run,
                f"review {column['key']}",
                document.document_id,
                document.text,
                answer.get("quote"),
                reply.shown,
            )
            read = read_value(column, answer["value"], answer.get("quote")) if span is not None else None
            if read is not None and not states(column, read[1], span["quote"]):
                run.warn(
                    f"review {column['key']}: the quote does not state the value {str(answer['value'])[:80]!r}; "
                    "dropped"
                )
                read = None
            if read is not None:
                read_parts.append((read, span))
                if column["type"] != "yes_no" or read[0] == "Yes":
                    break
        answered = _yes_no(read_parts, len(parts)) if column["type"] == "yes_no" else read_parts
        if answered:
            cells[column["key"]] = cell(
                *answered[-1][0], [span for _, span in answered], MODEL_CONFIDENCE, floor
            )
    return cells


def _yes_no(read_parts: list[tuple[tuple, dict]], parts: int) -> list[tuple[tuple, dict]]:
    """A yes/no column's answer from the parts read: the first grounded "Yes" of any part; a "No" only when
    every part grounds one, citing them all; else none, and the analyzers answer."""
    if read_parts and read_parts[-1][0][0] == "Yes":
        return read_parts[-1:]
    return read_parts if len(read_parts) == parts else []


def model_answer(
    run: RunContext, question: str, passages: list[tuple[Document, Passage]], most: int
) -> list[dict] | None:
    """A written answer of at most `most` sentences, each citing a quote found in one of `passages'`
    documents; None when the model gave nothing usable. The call is recorded for every document a passage of
    which it shows."""
    shown = numbered([document.text[p.start : p.end] for document, p in passages])
    prompt = (
        f"Question: {question}\n\nPassages:\n{shown}\n\nAnswer in at most {most} sentences. Reply with JSON "
        '{"sentences": [{"text": "...", "passage": <number>, "quote": "<verbatim words of that passage>"}]}.'
    )
    reply = ask_across(run, "ask", prompt, [(document, p.end - p.start) for document, p in passages])
    if not isinstance(reply, dict) or not isinstance(reply.get("sentences"), list):
        return None
    answer = []
    for sentence in reply["sentences"]:
        if not isinstance(sentence, dict) or not isinstance(sentence.get("text"), str):
            continue
        index = sentence.get("passage")
        if not isinstance(index, int) or not 0 <= index < len(passages):
            continue
        document, passage = passages[index]
        span = grounded_span(
            run,
            "ask",
            document.document_id,
            document.text,
            sentence.get("quote"),
            ((passage.start, passage.end),),
        )
        if span is not None:
            answer.append({"text": sentence["text"], "spans": [span]})
        if len(answer) == most:
            break
    return answer or None
