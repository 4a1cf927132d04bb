"""One request's state in the engine (`Sequence`), its sampling settings, and what it reports back."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import torch

from inference.sampling import TokenLogprobs

# OpenAI's bounds: a penalty lies in [-PENALTY_LIMIT, PENALTY_LIMIT], a logit bias in [-LOGIT_BIAS_LIMIT, ...],
# and `logit_bias` holds at most LOGIT_BIAS_MAX_TOKENS entries (each step applies them again, per request).
PENALTY_LIMIT = 2.0
LOGIT_BIAS_LIMIT = 100.0
LOGIT_BIAS_MAX_TOKENS = 300
# The most likeliest tokens a request may ask to see at each step (OpenAI's `top_logprobs` bound).
MAX_TOP_LOGPROBS = 20


class InvalidSamplingParam(ValueError):
    """A sampling setting out of its range; `param` names it as the API spells it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class SamplingParams:
    """How a request's tokens are chosen. `top_p` 0, like a temperature of 0, means greedy. The penalties
    are OpenAI's: each token already generated has `presence_penalty` taken off its logit once and
    `frequency_penalty` once per time it was generated; `logit_bias` adds `(token id, bias)` pairs."""

    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    ignore_eos: bool = False
    seed: int | None = None
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    logit_bias: tuple[tuple[int, float], ...] = ()
    # The text continues the prompt (a completion): it is decoded after the prompt's last tokens, so it keeps
    # the space a SentencePiece-style decoder drops at the start of a text (" Paris", not "Paris").
    continues_prompt: bool = False
    # Report each generated token's log-probability and this many of the likeliest tokens at its step (None:
    # report none).
    logprobs: int | None = None

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise InvalidSamplingParam("max_tokens", f"max_tokens must be at least 1, got {self.max_tokens}")
        if self.temperature < 0:
            raise InvalidSamplingParam(
                "temperature", f"temperature must be non-negative, got {self.temperature}"
            )
        if not 0 <= self.top_p <= 1:
            raise InvalidSamplingParam("top_p", f"top_p must be in [0, 1], got {self.top_p}")
        if any(not isinstance(text, str) or not text for text in self.stop):
            raise InvalidSamplingParam("stop", "stop strings must be non-empty strings")
        for name in ("frequency_penalty", "presence_penalty"):
            if not -PENALTY_LIMIT <= getattr(self, name) <= PENALTY_LIMIT:
                raise InvalidSamplingParam(
                    name, f"{name} must be in [{-PENALTY_LIMIT}, {PENALTY_LIMIT}], got {getattr(self, name)}"
                )
        if self.logprobs is not None and not 0 <= self.logprobs <= MAX_TOP_LOGPROBS:
            raise InvalidSamplingParam(
                "top_logprobs", f"top_logprobs must be in [0, {MAX_TOP_LOGPROBS}], got {self.logprobs}"
            )
        if len(self.logit_bias) > LOGIT_BIAS_MAX_TOKENS:
            raise InvalidSamplingParam(
                "logit_bias",
                f"logit_bias holds at most {LOGIT_BIAS_MAX_TOKENS} token ids, got {len(self.logit_bias)}",
            )
        token_ids = [token for token, _ in self.logit_bias]
        if len(set(token_ids)) != len(token_ids) or any(token < 0 for token in token_ids):
            raise InvalidSamplingParam("logit_bias", "logit_bias token ids must be distinct and non-negative")
        if any(not -LOGIT_BIAS_LIMIT <= bias <= LOGIT_BIAS_LIMIT for _, bias in self.logit_bias):
            raise InvalidSamplingParam(
                "logit_bias", f"a logit_bias value must be in [{-LOGIT_BIAS_LIMIT}, {LOGIT_BIAS_LIMIT}]"
            )

    @property
    def adjusts_logits(self) -> bool:
        return bool(self.frequency_penalty or self.presence_penalty or self.logit_bias)


@dataclass
class StepOutput:
    """What one step produced for one request: new tokens, the text they add, and whether it ended."""

    request_id: str
    new_token_ids: list[int]
    text_delta: str
    finished: bool
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    attention: str = "dense"
    # Per new token, its log-probabilities, where the request asked for them (`SamplingParams.logprobs`).
    logprobs: list[TokenLogprobs] = field(default_factory=list)


@dataclass
class GenerationResult:
    request_id: str
    prompt_ids: list[int]
    output_ids: list[int]
    text: str
    finish_reason: str | None


class SequenceStatus(Enum):
    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"


@dataclass
class Sequence:
    """A request's tokens, cache blocks and progress: `num_computed` tokens are in the cache so far."""

    request_id: str
    prompt_ids: list[int]
    params: SamplingParams
    arrival: int
    generator: torch.Generator | None
    output_ids: list[int] = field(default_factory=list)
    blocks: list[int] = field(default_factory=list)
    status: SequenceStatus = SequenceStatus.WAITING
    finish_reason: str | None = None
    text: str = ""
    emitted_chars: int = 0
    # The first `decoded_tokens` output tokens decode to `text[:decoded_chars]` for good: text that ends in no
    # incomplete character (`Engine._decode` decodes only from there on).
    decoded_tokens: int = 0
    decoded_chars: int = 0
    num_computed: int = 0
    block_hashes: list[int] = field(default_factory=list)
    sparse_prefill: bool = False
    # The prompt tokens whose keys were first computed block-sparse from position 0: the whole prompt of a
    # block-sparse prefill, or the cached prefix a long prompt found (a block-sparse prefill computed it).
    sparse_tokens: int = 0
    cached_tokens: int = 0
    preempted: bool = False

    @property
    def num_tokens(self) -> int:
        return len(self.prompt_ids) + len(self.output_ids)

    @property
    def all_ids(self) -> list[int]:
        return self.prompt_ids + self.output_ids

    @property
    def finished(self) -> bool:
        return self.status is SequenceStatus.FINISHED

    def output(
        self, new_token_ids: list[int], text_delta: str, logprobs: list[TokenLogprobs] | None = None
    ) -> StepOutput:
        return StepOutput(
            request_id=self.request_id,
            new_token_ids=new_token_ids,
            text_delta=text_delta,
            logprobs=logprobs or [],
            finished=self.finished,
            finish_reason=self.finish_reason if self.finished else None,
            prompt_tokens=len(self.prompt_ids),
            completion_tokens=len(self.output_ids),
            cached_tokens=self.cached_tokens,
            attention="block_sparse" if self.sparse_prefill else "dense",
        )

    def result(self) -> GenerationResult:
        return GenerationResult(
            self.request_id, self.prompt_ids, self.output_ids, self.text, self.finish_reason
        )
