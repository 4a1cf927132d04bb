"""Model mode helpers: prompt an OpenAI-compatible server for JSON and check its quotes against the text."""

from __future__ import annotations

import json
import re
from typing import Any

from connectors.base import RunContext
from connectors.spans import find_span

SYSTEM_PROMPT = (
    "You are a careful analyst. Answer with one JSON object only, no prose. Every quote you give must be copied "
    "verbatim from the text you were shown."
)
_JSON_BLOCK = re.compile(r"\{.*\}|\[.*\]", re.DOTALL)


def parse_json_reply(text: str) -> Any | None:
    """The JSON value in a model reply (bare, fenced, or the outermost braces); None when there is none."""
    cleaned = re.sub(r"^```(?:json)?\s*|\s*```$", "", text.strip())
    for candidate in (cleaned, *(m.group(0) for m in _JSON_BLOCK.finditer(cleaned))):
        try:
            return json.loads(candidate)
        except (json.JSONDecodeError, TypeError):
            continue
    return None


def ask_json(run: RunContext, task: str, prompt: str, *, max_tokens: int = 800) -> Any | None:
    """Send one prompt; the parsed JSON reply, or None with a warning when the server fails or replies badly."""
    from inference.client import InferenceError

    if run.client is None:
        return None
    try:
        completion = run.client.chat(
            [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}],
            max_tokens=max_tokens,
        )
    except InferenceError as error:
        run.warn(f"{task}: inference server failed ({error}); analyzers' result kept")
        return None
    usage = run.plan.setdefault("usage", {"calls": 0, "tokens_in": 0, "tokens_out": 0})
    usage["calls"] += 1
    usage["tokens_in"] += completion.tokens_in
    usage["tokens_out"] += completion.tokens_out
    value = parse_json_reply(completion.text)
    if value is None:
        run.warn(f"{task}: the model's reply was not JSON; analyzers' result kept")
    return value


def grounded_span(run: RunContext, task: str, document_id: str, text: str, quote: Any) -> dict | None:
    """The span of a model quote in `text`; None with a warning when the quote is not in the document."""
    if not isinstance(quote, str) or not quote.strip():
        run.warn(f"{task}: the model gave an empty quote; dropped")
        return None
    span = find_span(document_id, text, quote.strip())
    if span is None:
        run.warn(f"{task}: quote not found in {document_id!r}, dropped: {quote[:80]!r}")
    return span


def numbered(items: list[str], limit: int = 400) -> str:
    return "\n".join(f"[{i}] {' '.join(item.split())[:limit]}" for i, item in enumerate(items))
