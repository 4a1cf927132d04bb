"""Redacting what a deleted document left in results, webhook payloads and stored responses: each span of
it keeps its offsets and loses its quote (a clause type's passage, `{"document", "start", "end", "text"}`, its
text), and the finding that owns the span stays, marked `redacted`,
with every string of it that repeats the document's words emptied; the document object itself (as in
`document.ready`) keeps its id and loses its filename and metadata, and so does a reference to it with its
filename (an e-mail's `attachments`). A reviewer's correction of its cell (a `cell_correction` response) loses its
value, a warning that names it (a model quote the checker could not place) is replaced by a note, and a legal
result's answers for it (title, parties, dates, governing law: what the contract says of itself) are emptied, each
value None and each list empty."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connectors.spans import is_span_shaped

# A string of a finding is the document's words when it holds a quote at least this long, or is a
# substring of the text at least this long (shorter ones, such as "Delaware", are answers, not passages).
MIN_QUOTE_CHARS = 20
MIN_PASSAGE_CHARS = 40


@dataclass
class Redactor:
    """Redacts one document (`document_id`, its `text`) out of JSON values; `count` the spans redacted."""

    document_id: str
    text: str
    quotes: set[str] = field(default_factory=set)
    count: int = 0

    def __call__(self, value: Any) -> Any:
        redacted, _ = self._walk(value)
        return redacted

    def _walk(self, value: Any) -> tuple[Any, bool]:
        """The redacted value, and whether it is or directly holds a span of the document."""
        if isinstance(value, list):
            items = [self._walk(item) for item in value]
            return [item for item, _ in items], any(own for _, own in items)
        if not isinstance(value, dict):
            return value, False
        if value.get("object") == "document" and value.get("id") == self.document_id:
            return {**value, "filename": "", "metadata": {}, "redacted": True}, False
        if value.get("document_id") == self.document_id and "filename" in value and not is_span_shaped(value):
            return {**value, "filename": "", "redacted": True}, False
        if value.get("object") == "cell_correction" and value.get("document") == self.document_id:
            return {**value, "corrected_value": None, "redacted": True}, False
        if is_span_shaped(value) and value.get("document_id") == self.document_id:
            if value["quote"]:
                self.quotes.add(value["quote"])
            self.count += 1
            return {**value, "quote": "", "redacted": True}, True
        if _is_legal_result(value):
            value = self._answers(value)
        if _is_passage_shaped(value) and value["document"] == self.document_id:
            if value["text"]:
                self.quotes.add(value["text"])
            self.count += 1
            return {**value, "text": "", "redacted": True}, True
        walked = {
            key: self._walk(self._warnings(item) if key == "warnings" else item)
            for key, item in value.items()
        }
        result = {key: item for key, (item, _) in walked.items()}
        if any(own for _, own in walked.values()):
            result = self._scrub(result)
            result["redacted"] = True
        return result, False

    def _answers(self, result: dict) -> dict:
        """`result` with the document's answers emptied: its entry of `answers_by_document` and `answers` where
        they are that entry's, or, with no `answers_by_document` (a one-contract job), `answers`."""
        by_document = result.get("answers_by_document")
        if not isinstance(by_document, dict):
            return {**result, "answers": _emptied(result["answers"])}
        own = by_document.get(self.document_id)
        if not isinstance(own, dict):
            return result
        emptied = {**result, "answers_by_document": {**by_document, self.document_id: _emptied(own)}}
        if result["answers"] == own:
            emptied["answers"] = _emptied(own)
        return emptied

    def _warnings(self, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        note = f"{self.document_id!r} was deleted: a warning about it is redacted"
        return [note if isinstance(item, str) and self.document_id in item else item for item in value]

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            return "" if self._repeats_document(value) else value
        if isinstance(value, list):
            return [self._scrub(item) for item in value]
        if isinstance(value, dict) and not is_span_shaped(value):
            return {key: self._scrub(item) for key, item in value.items()}
        return value

    def _repeats_document(self, value: str) -> bool:
        if any(len(quote) >= MIN_QUOTE_CHARS and quote in value for quote in self.quotes):
            return True
        return len(value) >= MIN_PASSAGE_CHARS and value in self.text


def _is_legal_result(value: dict) -> bool:
    return {"clauses", "answers", "risks"} <= value.keys() and isinstance(value["answers"], dict)


def _emptied(answers: dict) -> dict:
    return {key: [] if isinstance(answer, list) else None for key, answer in answers.items()}


def _is_passage_shaped(value: dict) -> bool:
    """A clause type's near miss or example passage: `{"document", "start", "end", "text", ...}`."""
    return isinstance(value.get("text"), str) and {"document", "start", "end"} <= value.keys()
