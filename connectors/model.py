"""Model mode: read a document the way its context plan says (whole, retrieved chunks, or section by section),
ask it many questions over one shared prefix, and check every quote against the text."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from common.jsontext import NUMBER_HOOKS
from connectors.base import Document, RunContext
from connectors.spans import find_span

SYSTEM_PROMPT = (
    "You are a careful analyst. Answer with one JSON object only, no prose. Every quote you give must be copied "
    "verbatim from the text you were shown, without the paragraph markers."
)
CONCURRENT_QUESTIONS = 4
PASSAGES_REASON = (
    "the model read passages of this document beside other documents' in one question, not the document "
    "by its plan; that call's tokens are shared among the documents it showed"
)
_OPENER = re.compile(r"[{\[]")
_MARKER = re.compile(r"\[(?:P\d+|chars \d+-\d+)\]\s*")
_LEADING_MARKER = re.compile(r"\s*\[P(\d+)\]")
_PARAGRAPH = re.compile(r"\n\s*\n")


_DECODER = json.JSONDecoder(**NUMBER_HOOKS)


def parse_json_reply(text: str) -> Any | None:
    """The first JSON object in a model reply (bare, fenced, or among prose), else its first JSON array; None
    when it has neither. An object or array that does not decode (cut short, nested too deep, holding NaN,
    Infinity or a number too large for a float) counts as none, and no part of it is taken instead."""
    found = None
    position = 0
    while (match := _OPENER.search(text, position)) is not None:
        start = match.start()
        try:
            value, position = _DECODER.raw_decode(text, start)
        except json.JSONDecodeError as error:
            prose = not text[start + 1 : error.pos].strip()
            position = start + 1 if prose else _value_end(text, start)
            continue
        except (RecursionError, ValueError):
            position = _value_end(text, start)
            continue
        if isinstance(value, dict):
            return value
        if found is None:
            found = value
    return found


def _value_end(text: str, start: int) -> int:
    """Where the brackets opened at `start` close (strings aside), or the end of `text`."""
    depth, in_string, escaped = 0, False, False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return index + 1
    return len(text)


def marked_text(text: str, first: int = 1) -> str:
    """`text` with a stable marker `[P<n>]` before each paragraph, numbered from `first`."""
    paragraphs = [p.strip() for p in _PARAGRAPH.split(text) if p.strip()]
    return "\n\n".join(f"[P{first + i}] {paragraph}" for i, paragraph in enumerate(paragraphs))


def whole_reading(document_id: str, text: str) -> str:
    """The prompt prefix a whole reading sends: the system prompt, a header and the document's marked text (what
    a plan must fit in the window, markers included)."""
    return f"{SYSTEM_PROMPT}\n\nDocument {document_id} (paragraphs marked [P<n>]):\n\n{marked_text(text)}"


def section_reading(document_id: str, text: str, start: int, end: int, *, part: int, parts: int) -> str:
    """The prompt prefix part `part` of `parts` of a map-reduce reading sends: the system prompt, a header and
    `text[start:end]` marked, its paragraphs numbered on from those before `start`."""
    return _section_prefix(document_id, text[start:end], _paragraphs_before(text, start) + 1, part, parts)


def section_readings(document_id: str, text: str) -> Callable[[int, int], str]:
    """`(start, end) ->` the longest prefix a map-reduce part over `text[start:end]` may send, whatever its
    number (as if part n of n, n the text's length): what a plan measures its sections by."""
    parts = max(1, len(text))
    before: dict[int, int] = {}

    def reading(start: int, end: int) -> str:
        if start not in before:
            before[start] = _paragraphs_before(text, start)
        return _section_prefix(document_id, text[start:end], before[start] + 1, parts, parts)

    return reading


def _section_prefix(document_id: str, section: str, first: int, part: int, parts: int) -> str:
    return (
        f"{SYSTEM_PROMPT}\n\nPart {part} of {parts} of document {document_id} (paragraphs marked [P<n>]):\n\n"
        f"{marked_text(section, first)}"
    )


def _paragraphs_before(text: str, offset: int) -> int:
    return sum(1 for p in _PARAGRAPH.split(text[:offset]) if p.strip())


def document_plan(run: RunContext, document_id: str) -> dict:
    return run.plan.get("documents", {}).get(document_id) or {"strategy": "whole"}


Ranges = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Part:
    """What one prompt shows of the document: a shared prefix (system + text) or per-question passages, and
    the ranges of the text the prefix holds (none for passages, which each question retrieves)."""

    label: str
    prefix: str | None
    shown: Ranges = ()


@dataclass(frozen=True)
class Reply:
    """The JSON value the model answered one question with over one part (None where it gave none), and the
    ranges of the document text that part showed it: where its quotes are looked for first."""

    value: Any
    shown: Ranges


class DocumentReading:
    """One document read by its plan. `ask_many` sends every question with the same system prefix per part, the
    first alone and the rest together once the engine has cached that prefix."""

    def __init__(self, run: RunContext, document: Document) -> None:
        self.run = run
        self.document = document
        self.plan = document_plan(run, document.document_id)
        self.strategy = self.plan.get("strategy", "whole")
        self._lock = threading.Lock()
        self.usage = run.usage.setdefault(
            document.document_id,
            {
                "calls": 0,
                "shared_calls": 0,
                "questions": 0,
                "tokens_in": 0,
                "cached_tokens": 0,
                "tokens_out": 0,
                "attention": [],
                "chunks": [],
            },
        )

    def parts(self) -> list[Part]:
        text = self.document.text
        if self.strategy == "rag":
            return [Part("passages", None)]
        if self.strategy == "map_reduce":
            sections = self.plan.get("sections") or [[0, len(text)]]
            return [
                Part(
                    f"part {i + 1} of {len(sections)}",
                    section_reading(
                        self.document.document_id, text, start, end, part=i + 1, parts=len(sections)
                    ),
                    ((start, end),),
                )
                for i, (start, end) in enumerate(sections)
            ]
        return [Part("document", whole_reading(self.document.document_id, text), ((0, len(text)),))]

    def ask_many(self, task: str, questions: list[str], *, max_tokens: int = 600) -> list[list[Reply]]:
        """Each question's replies, one per part of the document, each with the ranges that part showed (its
        value None where the server failed or did not answer JSON, with a warning). Retrieval runs in the
        calling thread; the calls after each part's first go together."""
        replies: list[list[Reply]] = [[] for _ in questions]
        max_tokens = min(max_tokens, int(self.plan.get("output_tokens") or max_tokens))
        with self._lock:
            self.usage["questions"] += len(questions)
        for part in self.parts():
            if not questions:
                break
            asked = [self._messages(part, question) for question in questions]
            send = partial(self._send, task, max_tokens=max_tokens)
            first = send(asked[0][0])
            rest: list[Any] = []
            if len(asked) > 1:
                with ThreadPoolExecutor(CONCURRENT_QUESTIONS) as pool:
                    rest = list(pool.map(send, [messages for messages, _ in asked[1:]]))
            for index, value in enumerate([first, *rest]):
                replies[index].append(Reply(value, asked[index][1]))
            self.run.model_called(len(asked))
        return replies

    def ask_bare(self, task: str, question: str, *, max_tokens: int = 600) -> Any | None:
        """A question that carries its own material from this document (the reduce step of a map-reduce
        reading), without the document's text; its usage counts for this document."""
        messages, _ = self._messages(Part("bare", SYSTEM_PROMPT), question)
        value = self._send(task, messages, max_tokens=self._output_tokens(max_tokens))
        self.run.model_called()
        return value

    def _output_tokens(self, max_tokens: int) -> int:
        return min(max_tokens, int(self.plan.get("output_tokens") or max_tokens))

    def _messages(self, part: Part, question: str) -> tuple[list[dict], Ranges]:
        """The messages that ask `question` over `part`, and the ranges of the text they show."""
        shown = part.shown
        if part.prefix is None:
            passages, shown = self._passages(question)
            system, user = SYSTEM_PROMPT, f"{passages}\n\n{question}"
        else:
            system, user = part.prefix, question
        return [{"role": "system", "content": system}, {"role": "user", "content": user}], shown

    def _send(self, task: str, messages: list[dict], *, max_tokens: int) -> Any | None:
        completion = _complete(self.run, task, messages, max_tokens)
        if completion is None:
            return None
        cached = min(completion.cached_tokens, completion.tokens_in)
        self._book(completion, completion.tokens_in - cached, cached, completion.tokens_out)
        return _reply_value(self.run, task, completion)

    def _book(
        self, completion: Any, uncached: int, cached: int, tokens_out: int, *, shared: bool = False
    ) -> None:
        with self._lock:
            usage = self.usage
            usage["calls"] += 1
            usage["shared_calls"] += int(shared)
            usage["tokens_in"] += uncached + cached
            usage["cached_tokens"] += cached
            usage["tokens_out"] += tokens_out
            usage["attention"].append(completion.attention)
            usage["model"] = completion.model

    def _passages(self, question: str) -> tuple[str, Ranges]:
        """The chunks retrieved for `question`, in document order with their offsets, and their ranges."""
        if self.run.retrieve is None:
            raise ValueError("a retrieval plan needs a retriever in the run context")
        chunks = self.run.retrieve(self.document.document_id, question, int(self.plan["token_budget"]))
        text = self.document.text
        seen = {c["chunk_id"] for c in self.usage["chunks"]}
        self.usage["chunks"].extend(
            {"chunk_id": c["chunk_id"], "start": c["start"], "end": c["end"]}
            for c in chunks
            if c["chunk_id"] not in seen
        )
        lines = [f"[chars {c['start']}-{c['end']}] {text[c['start'] : c['end']]}" for c in chunks]
        shown = tuple((int(c["start"]), int(c["end"])) for c in chunks)
        return (
            f"Passages of document {self.document.document_id}, in document order:\n\n" + "\n\n".join(lines),
            shown,
        )


def ask_across(
    run: RunContext, task: str, question: str, shown: list[tuple[Document, int]], *, max_tokens: int = 600
) -> Any | None:
    """One call over material from several documents (`ask`'s ranked passages, a synthesis over papers),
    `shown` naming each document with the characters of it the question carries. The call is recorded for
    every document shown, a question and a shared call each, its tokens divided among them in proportion to
    those characters; a document no plan read otherwise is recorded as read by retrieval (`rag`), its
    `shared_calls` equal to its `calls`."""
    weights: dict[str, int] = {}
    documents: dict[str, Document] = {}
    for document, characters in shown:
        documents.setdefault(document.document_id, document)
        weights[document.document_id] = weights.get(document.document_id, 0) + max(0, characters)
    readings = [DocumentReading(run, document) for document in documents.values()]
    if not readings:
        return None
    for reading in readings:
        with reading._lock:
            reading.usage["questions"] += 1
    messages, _ = readings[0]._messages(Part("bare", SYSTEM_PROMPT), question)
    completion = _complete(run, task, messages, readings[0]._output_tokens(max_tokens))
    run.model_called()
    if completion is None:
        return None
    cached = min(completion.cached_tokens, completion.tokens_in)
    shares = list(weights.values())
    for reading, uncached_share, cached_share, out_share in zip(
        readings,
        _apportion(completion.tokens_in - cached, shares),
        _apportion(cached, shares),
        _apportion(completion.tokens_out, shares),
        strict=True,
    ):
        reading._book(completion, uncached_share, cached_share, out_share, shared=True)
    return _reply_value(run, task, completion)


def _apportion(total: int, weights: list[int]) -> list[int]:
    """`total` split in proportion to `weights` (equally where they are all 0), the shares summing to it."""
    weights = weights if any(weights) else [1] * len(weights)
    whole = sum(weights)
    shares = [total * weight // whole for weight in weights]
    by_remainder = sorted(range(len(weights)), key=lambda i: -(total * weights[i] % whole))
    for index in by_remainder[: total - sum(shares)]:
        shares[index] += 1
    return shares


def _complete(run: RunContext, task: str, messages: list[dict], max_tokens: int) -> Any | None:
    """The server's completion of `messages`; None without a client or, with a warning, when the call failed.
    A run that is to stop raises here instead (`RunContext.stop_if_canceled`), before the call."""
    from inference.client import InferenceError

    if run.client is None:
        return None
    run.stop_if_canceled()
    try:
        return run.client.chat(messages, max_tokens=max_tokens)
    except InferenceError as error:
        run.warn(f"{task}: inference server failed ({error}); analyzers' result kept")
        return None


def _reply_value(run: RunContext, task: str, completion: Any) -> Any | None:
    value = parse_json_reply(completion.text)
    if value is None:
        run.warn(f"{task}: the model's reply was not JSON; analyzers' result kept")
    return value


def grounded_span(
    run: RunContext, task: str, document_id: str, text: str, quote: Any, shown: Ranges = ()
) -> dict | None:
    """The span of a model quote in `text` (paragraph markers removed), inside the ranges `shown` to the model
    where it is there, else nearest them; None, counted and with a warning, when the quote is not in the
    document."""
    return _grounded(run, task, [(document_id, text, shown)], quote)


def grounded_span_in_any(run: RunContext, task: str, documents: list[Document], quote: Any) -> dict | None:
    """The span of a model quote in the first of `documents` that holds it (a sentence quoting one of the
    papers it cites); None, counted once and with a warning, when none does."""
    return _grounded(run, task, [(d.document_id, d.text, ()) for d in documents], quote)


def _grounded(run: RunContext, task: str, places: list[tuple[str, str, Ranges]], quote: Any) -> dict | None:
    if not isinstance(quote, str) or not _MARKER.sub("", quote).strip():
        run.quotes_dropped += 1
        run.warn(f"{task}: the model gave an empty quote; dropped")
        return None
    named = _LEADING_MARKER.match(quote)
    for document_id, text, shown in places:
        paragraph = paragraph_range(text, shown, int(named.group(1))) if named else None
        within = (paragraph,) if paragraph is not None else shown
        span = find_span(document_id, text, _MARKER.sub("", quote).strip(), within=within)
        if span is not None:
            return span
    run.quotes_dropped += 1
    names = ", ".join(repr(document_id) for document_id, _, _ in places)
    run.warn(f"{task}: quote not found in {names}, dropped: {quote[:80]!r}")
    return None


def paragraph_range(text: str, shown: Ranges, number: int) -> tuple[int, int] | None:
    """Where paragraph `number` of the marked reading of the ranges `shown` lies in `text` (numbered as
    `marked_text` and `section_reading` number them), None when that reading has no such paragraph."""
    for start, end in shown:
        count = _paragraphs_before(text, start)
        cursor = start
        for separator in [*_PARAGRAPH.finditer(text, start, end), None]:
            stop = separator.start() if separator is not None else end
            if text[cursor:stop].strip():
                count += 1
                if count == number:
                    return cursor, stop
            if separator is not None:
                cursor = separator.end()
    return None


def listed(value: object) -> list:
    """What a reply lists under one key (quotes, citations): a list as given, one string as a list of it, else
    nothing."""
    if isinstance(value, str):
        return [value]
    return value if isinstance(value, list) else []


def numbered(items: list[str], limit: int = 400) -> str:
    return "\n".join(f"[{i}] {' '.join(item.split())[:limit]}" for i, item in enumerate(items))


def context_record(run: RunContext, documents: list[Document]) -> dict:
    """The `context` of a result: per document, what was really read and what it took."""
    records = []
    policy = run.plan.get("policy", "auto")
    for document in documents:
        plan = document_plan(run, document.document_id)
        usage = run.usage.get(document.document_id)
        if not usage or not usage["calls"]:
            records.append(
                {
                    "document_id": document.document_id,
                    "strategy": "analyzers",
                    "attention": None,
                    "policy": policy,
                    "reason": "no model read this document; the analyzers read it in full",
                    "tokens_in": 0,
                    "cached_tokens": 0,
                    "tokens_out": 0,
                    "calls": 0,
                }
            )
            continue
        reported = [a for a in usage["attention"] if a]
        shared = usage.get("shared_calls", 0)
        by_passages = shared == usage["calls"]
        record = {
            "document_id": document.document_id,
            "strategy": "rag" if by_passages else plan.get("strategy", "whole"),
            "attention": "block_sparse"
            if "block_sparse" in reported
            else (reported[0] if reported else None),
            "policy": policy,
            "reason": PASSAGES_REASON
            if by_passages
            else plan.get("reason", "read whole: no context plan was given"),
            "tokens_in": usage["tokens_in"],
            "cached_tokens": usage["cached_tokens"],
            "tokens_out": usage["tokens_out"],
            "calls": usage["calls"],
            "questions": usage["questions"],
            "model": usage.get("model", ""),
        }
        if shared:
            record["shared_calls"] = shared
        if record["strategy"] == "rag":
            record["chunks"] = sorted(usage.get("chunks", []), key=lambda c: c["start"])
        if record["strategy"] == "map_reduce":
            record["sections"] = plan.get("sections")
        records.append(record)
    strategies = sorted({r["strategy"] for r in records})
    return {
        "strategy": strategies[0] if len(strategies) == 1 else "mixed",
        "reason": records[0]["reason"] if len(records) == 1 else "each document's reading is below",
        "policy": policy,
        "documents": records,
        "quotes_dropped": run.quotes_dropped,
        "models": list(run.models.values()),
    }
