"""Context budgeting: read a document whole (dense or block-sparse attention) or fall back to retrieval."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Strategy = Literal["whole", "rag"]
Attention = Literal["dense", "block_sparse"]


@dataclass(frozen=True)
class ContextDecision:
    strategy: Strategy
    attention: Attention | None
    token_budget: int
    reason: str

    def as_result(self) -> dict[str, str]:
        """The `{"strategy", "reason"}` pair stored on job results."""
        return {"strategy": self.strategy, "reason": self.reason}


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
) -> ContextDecision:
    """Whole document when it fits `min(model_window, plan_context_cap)` less the prompt and the output.

    A whole document is read with block-sparse attention once the input reaches `sparse_from` tokens,
    dense below. Otherwise `rag`: retrieved chunks fill `token_budget`.
    """
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
    if document_tokens > budget:
        return ContextDecision(
            strategy="rag",
            attention=None,
            token_budget=budget,
            reason=(
                f"document has {document_tokens} tokens, more than the {budget}-token budget ({overhead}); "
                f"retrieved chunks fill the budget"
            ),
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
        reason=f"document has {document_tokens} tokens, within the {budget}-token budget ({overhead}); "
        f"{attention_reason}",
    )


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
