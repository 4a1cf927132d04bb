"""Context planning: read a document whole (dense or block-sparse attention), by retrieval past the window, or
section by section (map-reduce) when a task needs all of a text that does not fit; what each would cost."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from common.scripts import CHARS_PER_TOKEN, CJK_SENTENCE_ENDS, estimated_tokens

# Input length from which a whole document is read with block-sparse attention: the engine's prefill
# and the platform's plan both use it (`QUIRE_SPARSE_FROM` overrides it for both).
SPARSE_FROM = 32_768

Strategy = Literal["whole", "rag", "map_reduce"]
Attention = Literal["dense", "block_sparse"]
POLICIES = ("auto", "whole", "rag", "map_reduce")
_BREAKS = (
    re.compile(r"\n\s*\n"),
    re.compile(rf"(?<=[.!?])\s+|(?<=[{CJK_SENTENCE_ENDS}])\s*"),
    re.compile(r"\s+"),
)


class ContextRefused(ValueError):
    """The context policy a job asked for cannot hold for this document."""


@dataclass(frozen=True)
class ContextDecision:
    strategy: Strategy
    attention: Attention | None
    token_budget: int
    reason: str
    policy: str = "auto"
    fits: bool = True
    window_budget: int = 0

    def as_result(self) -> dict[str, str]:
        """The `{"strategy", "reason"}` pair of the plan."""
        return {"strategy": self.strategy, "reason": self.reason}


def check_policy(policy: object) -> str:
    """`policy` when it is one of POLICIES; ValueError naming them otherwise."""
    if policy not in POLICIES:
        raise ValueError(f"context_policy must be one of {', '.join(POLICIES)}, got {policy!r}")
    return str(policy)


@dataclass(frozen=True)
class ChunkCandidate:
    chunk_id: str
    score: float
    tokens: int
    position: int


def _require_non_negative(**values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")


def decide_context(
    *,
    document_tokens: int,
    model_window: int,
    plan_context_cap: int | None,
    reserved_output_tokens: int,
    sparse_from: int,
    prompt_tokens: int = 0,
    policy: str = "auto",
    reads_all_text: bool = False,
    rag_tokens: int | None = None,
) -> ContextDecision:
    """Whole document when it fits `min(model_window, plan_context_cap)` less the prompt and the output.

    A whole document is read with block-sparse attention once the input reaches `sparse_from` tokens,
    dense below. A document that does not fit is read by `map_reduce` (sections of at most `token_budget`
    tokens, then a reduce step) when the task `reads_all_text`, else by `rag` (each question's retrieved
    chunks fill `token_budget`, at most `rag_tokens`). `policy` may ask for one strategy; `whole` over the
    budget raises ContextRefused.
    """
    check_policy(policy)
    _require_non_negative(
        document_tokens=document_tokens,
        reserved_output_tokens=reserved_output_tokens,
        prompt_tokens=prompt_tokens,
        sparse_from=sparse_from,
    )
    if isinstance(model_window, bool) or not isinstance(model_window, int) or model_window < 1:
        raise ValueError(f"model_window must be a positive integer, got {model_window!r}")
    if plan_context_cap is not None and (
        isinstance(plan_context_cap, bool) or not isinstance(plan_context_cap, int) or plan_context_cap < 1
    ):
        raise ValueError(f"plan_context_cap must be a positive integer or None, got {plan_context_cap!r}")
    capped_by_plan = plan_context_cap is not None and plan_context_cap < model_window
    window = plan_context_cap if capped_by_plan else model_window
    budget = window - reserved_output_tokens - prompt_tokens
    limit = f"the plan's context cap of {window}" if capped_by_plan else f"the model window of {window}"
    if budget <= 0:
        raise ValueError(
            f"{limit} tokens leaves no room for the document after {prompt_tokens} prompt and "
            f"{reserved_output_tokens} output tokens"
        )
    overhead = f"{limit} tokens less {prompt_tokens} prompt and {reserved_output_tokens} output tokens"
    fits = document_tokens <= budget
    size = (
        f"document has {document_tokens} tokens, {'within' if fits else 'more than'} the {budget}-token "
        f"budget ({overhead})"
    )
    if policy == "whole" and not fits:
        raise ContextRefused(f"context_policy 'whole' cannot hold: the {size}")
    strategy = (
        policy if policy != "auto" else ("whole" if fits else "map_reduce" if reads_all_text else "rag")
    )
    asked = "as the job asked" if policy != "auto" else ""
    if strategy == "rag":
        retrieval = min(budget, rag_tokens) if rag_tokens else budget
        return ContextDecision(
            strategy="rag",
            attention=None,
            token_budget=retrieval,
            reason=f"{size}; each question's retrieved chunks fill {retrieval} tokens {asked}".rstrip(),
            policy=policy,
            fits=fits,
            window_budget=budget,
        )
    if strategy == "map_reduce":
        return ContextDecision(
            strategy="map_reduce",
            attention=None,
            token_budget=budget,
            reason=f"{size}; read in sections of at most {budget} tokens, then reduced {asked}".rstrip(),
            policy=policy,
            fits=fits,
            window_budget=budget,
        )
    input_tokens = document_tokens + prompt_tokens
    attention: Attention = "block_sparse" if input_tokens >= sparse_from else "dense"
    attention_reason = (
        f"{input_tokens} input tokens reach the block-sparse threshold of {sparse_from}"
        if attention == "block_sparse"
        else f"{input_tokens} input tokens are under the block-sparse threshold of {sparse_from}"
    )
    return ContextDecision(
        strategy="whole",
        attention=attention,
        token_budget=budget,
        reason=f"{size}; {attention_reason}",
        policy=policy,
        window_budget=budget,
    )


def sections(
    text: str,
    *,
    token_budget: int,
    chars_per_token: int = CHARS_PER_TOKEN,
    size: Callable[[int, int], int] | None = None,
) -> list[tuple[int, int]]:
    """`[start, end)` offsets that cover `text` exactly once, in order, each at most `token_budget` tokens,
    cut at a paragraph break where one fits, else at a sentence end, else at a space, else anywhere. A
    section is first cut at `chars_per_token` characters a token; one that `size` (the tokens a section
    `[start, end)` sends, as its prompt holds it: paragraph markers, a header; by default its text's
    `estimated_tokens`, a CJK character one at least) finds over the budget is cut again, shorter in
    proportion, until it fits or is one character long."""
    _require_non_negative(token_budget=token_budget)
    measure = size or (lambda start, end: estimated_tokens(text[start:end]))
    cuts: list[tuple[int, int]] = []
    start = 0
    while start < len(text) or not cuts:
        limit = max(1, token_budget * chars_per_token)
        while True:
            end = _section_end(text, start, limit)
            if end - start <= 1:
                break
            tokens = measure(start, end)
            if tokens <= token_budget:
                break
            limit = max(1, min(end - start - 1, (end - start) * token_budget // tokens))
        cuts.append((start, end))
        start = end
    return cuts


def _section_end(text: str, start: int, limit: int) -> int:
    """Where a section from `start` of at most `limit` characters ends: the text's end where it is that near,
    else the last paragraph break before `start + limit`, else sentence end, else space, else there."""
    if len(text) - start <= limit:
        return len(text)
    end = start + limit
    for pattern in _BREAKS:
        found = [m.end() for m in pattern.finditer(text, start + 1, end) if m.end() < end]
        if found:
            return found[-1]
    return end


@dataclass(frozen=True)
class TokenPrices:
    """Prices per million input, cached input and output tokens, in `currency`'s major unit."""

    input: float
    cached_input: float
    output: float
    currency: str = "usd"

    def cost(self, *, tokens_in: int, cached_tokens: int, tokens_out: int) -> dict:
        """`{"amount", "currency"}` of a usage: uncached input, cached input and output at their prices."""
        cached = min(cached_tokens, tokens_in)
        amount = (
            (tokens_in - cached) * self.input + cached * self.cached_input + tokens_out * self.output
        ) / 1_000_000
        return {"amount": round(amount, 6), "currency": self.currency}


def predicted_usage(
    strategy: str,
    *,
    document_tokens: int,
    questions: int,
    token_budget: int,
    question_tokens: int = 200,
    output_tokens: int = 300,
    block_size: int = 16,
) -> dict[str, int]:
    """What reading a document by `strategy` would take for `questions` questions, each of `question_tokens`
    tokens answered in `output_tokens`: whole reads the document once and serves it from the prefix cache
    after (whole blocks only), rag sends each question its own `token_budget` of chunks, map_reduce reads
    every section once per question (each section cached after its first question) and adds a reduce call."""
    questions = max(1, questions)
    cached_document = document_tokens // block_size * block_size
    if strategy == "whole":
        tokens_in = questions * (document_tokens + question_tokens)
        cached = (questions - 1) * cached_document
        calls = questions
    elif strategy == "rag":
        tokens_in = questions * (min(document_tokens, token_budget) + question_tokens)
        cached, calls = 0, questions
    elif strategy == "map_reduce":
        parts = max(1, math.ceil(document_tokens / max(1, token_budget)))
        tokens_in = questions * (document_tokens + parts * question_tokens) + parts * output_tokens
        cached = (questions - 1) * cached_document
        calls = questions * parts + 1
    else:
        raise ValueError(f"unknown strategy {strategy!r}")
    return {
        "tokens_in": tokens_in,
        "cached_tokens": cached,
        "tokens_out": calls * output_tokens,
        "calls": calls,
    }


def pack_chunks(
    candidates: Iterable[ChunkCandidate], *, token_budget: int, top_k: int | None = None
) -> list[ChunkCandidate]:
    """Best-scoring chunks that fit `token_budget` together (at most `top_k`), returned in document order.

    A chunk too large for what is left is skipped and smaller, lower-scoring ones may still fit.
    """
    _require_non_negative(token_budget=token_budget)
    if top_k is not None:
        _require_non_negative(top_k=top_k)
    chosen: list[ChunkCandidate] = []
    remaining = token_budget
    for candidate in sorted(candidates, key=lambda chunk: (-chunk.score, chunk.position)):
        if top_k is not None and len(chosen) >= top_k:
            break
        if candidate.tokens < 0:
            raise ValueError(f"chunk {candidate.chunk_id} has a negative token count")
        if candidate.tokens <= remaining:
            chosen.append(candidate)
            remaining -= candidate.tokens
    return sorted(chosen, key=lambda chunk: chunk.position)
