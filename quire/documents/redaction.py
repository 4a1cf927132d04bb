"""Redacting what a deleted document left in results, webhook payloads and stored responses: each span of
it keeps its offsets and loses its quote (a clause type's passage, `{"document", "start", "end", "text"}`, its
text), and the finding that owns the span stays, marked `redacted`,
with every string of it that repeats the document's words emptied; the document object itself (as in
`document.ready`) keeps its id and loses its filename and metadata, and so does a reference to it with its
filename (an e-mail's `attachments`). A reviewer's correction of its cell (a `cell_correction` response) loses its
value, a warning that names it (a model quote the checker could not place) is replaced by a note, and a legal
result's answers for it (title, parties, dates, governing law: what the contract says of itself), and the
values of its review row's cells, are emptied, each value None and each list empty."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from connectors.spans import is_span_shaped

# A string of a finding is the document's words when it holds a quote at least this long, or is a
# substring of the text at least this long (shorter ones, such as "Delaware", are answers, not passages).
MIN_QUOTE_CHARS = 20
MIN_PASSAGE_CHARS = 40


class Redactor:
    """Redacts deleted documents out of JSON values: `texts`, each one's text by id (or one `document_id` and
    its `text`). One walk over a value redacts every document of them as redacting each in turn would, so a
    result that quotes many of them is read and written once. `counts` the spans redacted of each document,
    `count` of all."""

    def __init__(
        self, document_id: str | None = None, text: str = "", *, texts: Mapping[str, str] | None = None
    ) -> None:
        self.texts = dict(texts or {})
        if document_id is not None:
            self.texts[document_id] = text
        self.quotes: dict[str, set[str]] = {document_id: set() for document_id in self.texts}
        self.counts: dict[str, int] = dict.fromkeys(self.texts, 0)

    @property
    def count(self) -> int:
        return sum(self.counts.values())

    def __call__(self, value: Any, *, among: Iterable[str] | None = None) -> Any:
        """`value` with the documents redacted, or only those `among` the ids given: the documents a job read
        or a payload names (a one-contract result's answers are the contract's without naming it)."""
        gone = frozenset(self.texts) if among is None else frozenset(self.texts).intersection(among)
        redacted, _ = self._walk(value, gone)
        return redacted

    def _walk(self, value: Any, gone: frozenset[str]) -> tuple[Any, set[str]]:
        """The redacted value, and the documents among `gone` it is or directly holds a span of."""
        if isinstance(value, list):
            items = [self._walk(item, gone) for item in value]
            return [item for item, _ in items], set().union(*(own for _, own in items))
        if not isinstance(value, dict) or not gone:
            return value, set()
        if value.get("object") == "document" and _names(value, "id", gone):
            value = {**value, "filename": "", "metadata": {}, "redacted": True}
            gone = gone - {value["id"]}
        if _names(value, "document_id", gone) and "filename" in value and not is_span_shaped(value):
            value = {**value, "filename": "", "redacted": True}
            gone = gone - {value["document_id"]}
        if value.get("object") == "cell_correction" and _names(value, "document", gone):
            value = {**value, "corrected_value": None, "redacted": True}
            gone = gone - {value["document"]}
        if not gone:
            return value, set()
        if is_span_shaped(value) and _names(value, "document_id", gone):
            document_id = value["document_id"]
            if value["quote"]:
                self.quotes[document_id].add(value["quote"])
            self.counts[document_id] += 1
            return {**value, "quote": "", "redacted": True}, {document_id}
        if _is_review_row(value) and _names(value, "document_id", gone):
            value = {**value, "cells": {key: _cell_emptied(cell) for key, cell in value["cells"].items()}}
        if _is_legal_result(value):
            for document_id in self.texts:
                if document_id in gone:
                    value = _answers_emptied(value, document_id)
        if _is_passage_shaped(value) and _names(value, "document", gone):
            document_id = value["document"]
            if value["text"]:
                self.quotes[document_id].add(value["text"])
            self.counts[document_id] += 1
            return {**value, "text": "", "redacted": True}, {document_id}
        walked = {
            key: self._walk(self._warnings(item, gone) if key == "warnings" else item, gone)
            for key, item in value.items()
        }
        result = {key: item for key, (item, _) in walked.items()}
        owners = set().union(*(own for _, own in walked.values()))
        if owners:
            result = self._scrub(result, owners)
            result["redacted"] = True
        return result, set()

    def _warnings(self, value: Any, gone: frozenset[str]) -> Any:
        """A warning naming one of `gone` replaced by a note naming the first of them (in `texts`' order)."""
        if not isinstance(value, list):
            return value
        return [self._warning(item, gone) if isinstance(item, str) else item for item in value]

    def _warning(self, warning: str, gone: frozenset[str]) -> str:
        for document_id in self.texts:
            if document_id in gone and document_id in warning:
                return f"{document_id!r} was deleted: a warning about it is redacted"
        return warning

    def _scrub(self, value: Any, owners: set[str]) -> Any:
        if isinstance(value, str):
            return "" if any(self._repeats_document(value, d) for d in owners) else value
        if isinstance(value, list):
            return [self._scrub(item, owners) for item in value]
        if isinstance(value, dict) and not is_span_shaped(value):
            return {key: self._scrub(item, owners) for key, item in value.items()}
        return value

    def _repeats_document(self, value: str, document_id: str) -> bool:
        if any(len(quote) >= MIN_QUOTE_CHARS and quote in value for quote in self.quotes[document_id]):
            return True
        return len(value) >= MIN_PASSAGE_CHARS and value in self.texts[document_id]


def _names(value: dict, key: str, gone: frozenset[str]) -> bool:
    return isinstance(value.get(key), str) and value[key] in gone


def _answers_emptied(result: dict, document_id: str) -> dict:
    """`result` with `document_id`'s answers emptied: its entry of `answers_by_document` and `answers` where
    they are that entry's, or, with no `answers_by_document` (a one-contract job), `answers`."""
    by_document = result.get("answers_by_document")
    if not isinstance(by_document, dict):
        return {**result, "answers": _emptied(result["answers"])}
    own = by_document.get(document_id)
    if not isinstance(own, dict):
        return result
    emptied = {**result, "answers_by_document": {**by_document, document_id: _emptied(own)}}
    if result["answers"] == own:
        emptied["answers"] = _emptied(own)
    return emptied


def _is_review_row(value: dict) -> bool:
    """A review's row of one document: `{"document_id", "cells": {key: cell}}`."""
    return isinstance(value.get("cells"), dict) and "document_id" in value


def _cell_emptied(cell: Any) -> Any:
    """A review cell with its value emptied (an empty list for a list) and marked `redacted`: what a column
    answers of a document is what the document says."""
    if not isinstance(cell, dict):
        return cell
    return {**cell, "value": [] if isinstance(cell.get("value"), list) else None, "redacted": True}


def _is_legal_result(value: dict) -> bool:
    return {"clauses", "answers", "risks"} <= value.keys() and isinstance(value["answers"], dict)


def _emptied(answers: dict) -> dict:
    return {key: [] if isinstance(answer, list) else None for key, answer in answers.items()}


def _is_passage_shaped(value: dict) -> bool:
    """A clause type's near miss or example passage: `{"document", "start", "end", "text", ...}`."""
    return isinstance(value.get("text"), str) and {"document", "start", "end"} <= value.keys()
