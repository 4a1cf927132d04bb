"""The `review` connector (a grid: one row per document, one cell per column, every answered cell cited) and
the `ask` connector (one question over the job's documents, answered in cited sentences)."""

from __future__ import annotations

from connectors.base import Connector, Document, OptionError, RunContext
from connectors.legal.custom import heads_named
from connectors.review.cells import DocumentReader, analyzer_cell, under_floor
from connectors.review.columns import (
    MAX_DOCUMENTS,
    column_param,
    same_column,
    validate_columns,
    validate_floor,
)
from connectors.review.model import model_answer, model_cells
from connectors.review.retrieval import Passage, query_terms
from connectors.spans import is_valid_span, make_span

MAX_QUESTION_CHARS = 1000
ASK_PASSAGES = 8


def _question_vectors(questions: list[str], documents: list[Document], run: RunContext) -> list:
    """The questions' vectors when some document came with embedded chunks, else None for each."""
    if not any(document.metadata.get("vectors") is not None for document in documents):
        return [None] * len(questions)
    return list(run.embed(questions))


def _check_documents(documents: list[Document], name: str) -> None:
    if not documents:
        raise ValueError(f"the {name} connector needs at least one document")
    if len(documents) > MAX_DOCUMENTS:
        raise OptionError(f"a {name} job reads at most {MAX_DOCUMENTS} documents", "documents")


class ReviewConnector(Connector):
    name = "review"
    description = "Your own questions (or a template) as columns over many documents, every cell cited"

    def validate_options(self, options: dict) -> dict:
        self.reject_unknown_options(options, {"template", "columns", "confidence_floor", "extends"})
        extends = options.get("extends")
        if extends is not None and (not isinstance(extends, str) or not extends.strip()):
            raise OptionError("extends must be the id of an earlier review job", "options.extends")
        return {
            "template": options.get("template"),
            "columns": validate_columns(options),
            "confidence_floor": validate_floor(options),
            "extends": extends,
        }

    def run(self, documents: list[Document], options: dict, run: RunContext) -> dict:
        _check_documents(documents, self.name)
        heads_named(run.clause_heads, [key for key, _ in self.clause_types(options)])
        columns = [with_head_version(column, run.clause_heads) for column in options["columns"]]
        floor = options["confidence_floor"]
        vectors = dict(
            zip(
                [c["key"] for c in columns],
                _question_vectors([c["question"] for c in columns], documents, run),
                strict=True,
            )
        )
        earlier = reusable_cells(run.prior, columns)
        stale = stale_models(run.prior) if earlier else []
        if stale:
            run.warn(
                f"the weights behind the extended review's cells changed ({'; '.join(stale)}); "
                "every cell is computed again"
            )
            earlier = {}
        rows, reused = [], 0
        for index, document in enumerate(documents):
            reader = DocumentReader(document, run)
            cells = {}
            for column in columns:
                kept = earlier.get((document.document_id, column["key"]))
                if kept is not None and all(is_valid_span(s, document.text) for s in kept["spans"]):
                    cells[column["key"]] = under_floor(kept, floor)
                    reused += 1
            wanted = [column for column in columns if column["key"] not in cells]
            asked = [column for column in wanted if not column.get("clause_type")]
            if asked and run.mode == "model" and run.client is not None:
                cells.update(model_cells(run, document, asked, floor))
            for column in wanted:
                if column["key"] not in cells:
                    cells[column["key"]] = analyzer_cell(column, reader, vectors[column["key"]], floor)
            row = {"document_id": document.document_id, "cells": {c["key"]: cells[c["key"]] for c in columns}}
            rows.append(row)
            if run.on_row is not None:
                run.on_row(index, row)
            run.progress((index + 1) / len(documents), f"review {index + 1}/{len(documents)}")
        if reused:
            for entry in run.prior.get("context", {}).get("models") or []:
                run.models.setdefault(entry["id"], entry)
        total = len(rows) * len(columns)
        return {
            "columns": columns,
            "rows": rows,
            "template": options["template"],
            "extends": options["extends"],
            "cells": {"total": total, "computed": total - reused, "reused": reused},
        }

    def clause_types(self, options: dict) -> list[tuple[str, str]]:
        return [
            (column["clause_type"], column_param(options.get("template"), index, "clause_type"))
            for index, column in enumerate(options["columns"])
            if column.get("clause_type")
        ]

    def settle(self, output: dict) -> dict:
        """An answered cell whose spans did not survive verification needs review."""
        for row in output.get("rows") or []:
            for value in row["cells"].values():
                if value["status"] == "answered" and not value["spans"]:
                    value["status"] = "needs_review"
        return output


def with_head_version(column: dict, heads: dict) -> dict:
    """A custom clause column records the clause type and version of the head that answers it, so a review
    that extends this one computes its cells again once the clause type was retrained, or deleted and created
    again under its key; one whose head is not in `heads` is left without, and so reuses nothing."""
    head = heads.get(column.get("clause_type") or "")
    if head is None:
        return column
    return {**column, "clause_type_id": head.clause_type_id, "clause_type_version": head.version}


def stale_models(prior: dict | None) -> list[str]:
    """The learned weights an earlier result recorded (`context.models`) whose version or status is another
    here now, as "id old -> new"."""
    from connectors import shipped_models

    now = {model.key: model.state() for model in shipped_models()}
    stale = []
    for entry in ((prior or {}).get("context") or {}).get("models") or []:
        state = now.get(entry["id"])
        if state is not None and {"version": entry["version"], "status": entry["status"]} != state:
            stale.append(f"{entry['id']} {entry['version']} -> {state['version']}")
    return stale


def reusable_cells(prior: dict | None, columns: list[dict]) -> dict[tuple[str, str], dict]:
    """Cells of an earlier review whose column is unchanged, by (document, key)."""
    if not prior:
        return {}
    earlier = {column["key"]: column for column in prior.get("columns") or []}
    keys = {
        column["key"]
        for column in columns
        if column["key"] in earlier and same_column(column, earlier[column["key"]])
    }
    return {
        (row["document_id"], key): value
        for row in prior.get("rows") or []
        for key, value in row["cells"].items()
        if key in keys
    }


class AskConnector(Connector):
    name = "ask"
    description = "One question over the documents, answered in cited sentences"
    sections = ("answer", "passages")

    def validate_options(self, options: dict) -> dict:
        self.reject_unknown_options(options, {"question", "max_sentences"})
        question = options.get("question")
        if not isinstance(question, str) or not question.strip():
            raise OptionError("question must be a non-empty string", "options.question")
        if len(question) > MAX_QUESTION_CHARS:
            raise OptionError(f"question is longer than {MAX_QUESTION_CHARS} characters", "options.question")
        most = options.get("max_sentences", 3)
        if isinstance(most, bool) or not isinstance(most, int) or not 1 <= most <= 10:
            raise OptionError("max_sentences must be an integer from 1 to 10", "options.max_sentences")
        return {"question": question.strip(), "max_sentences": most}

    def run(self, documents: list[Document], options: dict, run: RunContext) -> dict:
        _check_documents(documents, self.name)
        question = options["question"]
        [vector] = _question_vectors([question], documents, run)
        terms = query_terms(question)
        ranked: list[tuple[Document, Passage]] = []
        for index, document in enumerate(documents):
            reader = DocumentReader(document, run)
            ranked.extend((document, p) for p in reader.index.rank(terms, vector, limit=ASK_PASSAGES))
            run.progress((index + 1) / len(documents), f"ask {index + 1}/{len(documents)}")
        ranked.sort(key=lambda pair: -pair[1].score)
        ranked = ranked[:ASK_PASSAGES]
        answer = None
        if run.mode == "model" and run.client is not None and ranked:
            answer = model_answer(run, question, ranked, options["max_sentences"])
        if answer is None:
            best = ranked[0][1].score if ranked else 0.0
            answer = _distinct_sentences(
                [(document, p) for document, p in ranked if p.score >= best / 2], options["max_sentences"]
            )
        return {
            "question": question,
            "answer": answer,
            "passages": [{"score": p.score, "span": _span(document, p)} for document, p in ranked],
        }


def _distinct_sentences(ranked: list[tuple[Document, Passage]], most: int) -> list[dict]:
    """Up to `most` answer sentences, best first, one per text (whitespace and case aside): a sentence that
    recurs (contracts on one template, a clause repeated in an exhibit) is one entry citing every place."""
    answer: list[dict] = []
    by_text: dict[str, dict] = {}
    for document, passage in ranked:
        text = " ".join(document.text[passage.start : passage.end].split())
        entry = by_text.get(text.casefold())
        if entry is not None:
            entry["spans"].append(_span(document, passage))
        elif len(answer) < most:
            by_text[text.casefold()] = {"text": text, "spans": [_span(document, passage)]}
            answer.append(by_text[text.casefold()])
    return answer


def _span(document: Document, passage: Passage) -> dict:
    return make_span(document.document_id, document.text, passage.start, passage.end)
