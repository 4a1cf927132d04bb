"""`Engine`: requests in, one scheduled mixed prefill/decode forward per `step()`, outputs and stop checks out."""

from __future__ import annotations

import itertools
from collections.abc import Sequence as SequenceOf

import torch

from inference.engine.config import EngineConfig
from inference.engine.model_runner import ModelRunner
from inference.engine.scheduler import Scheduler
from inference.engine.sequence import (
    GenerationResult,
    InvalidSamplingParam,
    SamplingParams,
    Sequence,
    StepOutput,
)
from inference.model import LENGTH_DEPENDENT_ROPE, LlamaModel
from inference.sampling import TokenLogprobs
from inference.tokenizer import ChatTokenizer

# Tokens before the last final one that `Engine._decode` decodes again as context: a SentencePiece-style decoder
# drops the space that starts a text, so a suffix of the ids alone may decode to no suffix of the whole.
DECODE_CONTEXT_TOKENS = 4


def _longest_stop_prefix_suffix(text: str, stops: SequenceOf[str]) -> int:
    """Length of the longest end of `text` that could still grow into one of `stops`."""
    longest = 0
    for stop in stops:
        for length in range(min(len(stop) - 1, len(text)), longest, -1):
            if stop.startswith(text[-length:]):
                longest = length
                break
    return longest


class Engine:
    """Continuous batching over a paged KV cache: a `Scheduler` picks each step's work, a `ModelRunner` runs it.

    Not thread-safe: `inference.service.EngineService` drives it from one thread for the server.
    """

    def __init__(
        self, model: LlamaModel, tokenizer: ChatTokenizer | None = None, config: EngineConfig | None = None
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.config = config or EngineConfig()
        context = model.rope.context_length
        if self.config.max_model_len is not None and self.config.max_model_len > context:
            raise ValueError(
                f"max_model_len {self.config.max_model_len} is past this model's context of {context} tokens "
                f"(max_position_embeddings {model.config.max_position_embeddings}, rope_type "
                f"{model.rope.rope_type!r}); its RoPE was not made for positions past it"
            )
        self.max_model_len = self.config.max_model_len or context
        self.runner = ModelRunner(model, self.config)
        self.cache = self.runner.cache
        self.scheduler = Scheduler(
            self.config,
            self.cache,
            prefix_caching=self.config.enable_prefix_cache
            and model.rope.rope_type not in LENGTH_DEPENDENT_ROPE,
        )
        eos = set(model.config.eos_token_ids)
        if tokenizer is not None and tokenizer.eos_token_id is not None:
            eos.add(tokenizer.eos_token_id)
        self.eos_token_ids = frozenset(eos)
        self.requests: dict[str, Sequence] = {}
        self._pending_outputs: list[StepOutput] = []
        self._arrivals = itertools.count()
        self._steps = 0
        self._prefill_tokens = 0

    @property
    def context_window(self) -> int:
        """The most tokens, prompt and completion together, that one request can reach: the model's context
        (`max_model_len`) or what the whole KV cache holds, whichever is less. A sequence that reaches it ends
        with "length"; the server refuses a request asking for more (`context_length_exceeded`)."""
        return min(self.max_model_len, self.cache.num_blocks * self.cache.block_size)

    @property
    def num_free_blocks(self) -> int:
        return self.cache.allocator.num_free

    @property
    def stats(self) -> dict[str, int]:
        return {
            "steps": self._steps,
            "prefill_tokens": self._prefill_tokens,
            "preemptions": self.scheduler.num_preemptions,
            "cached_tokens": self.scheduler.num_cached_tokens,
            "sparse_prefills": self.scheduler.num_sparse_prefills,
        }

    def has_work(self) -> bool:
        return self.scheduler.has_unfinished() or bool(self._pending_outputs)

    def add_request(
        self, prompt_ids: SequenceOf[int], params: SamplingParams, request_id: str | None = None
    ) -> str:
        prompt = [int(token) for token in prompt_ids]
        if not prompt:
            raise ValueError("the prompt is empty")
        vocab = self.model.config.vocab_size
        if min(prompt) < 0 or max(prompt) >= vocab:
            raise ValueError(f"prompt token ids must lie in [0, {vocab})")
        if any(token >= vocab for token, _ in params.logit_bias):
            raise InvalidSamplingParam("logit_bias", f"logit_bias token ids must lie in [0, {vocab})")
        if len(prompt) >= self.max_model_len:
            raise ValueError(
                f"the prompt has {len(prompt)} tokens; this model's context is {self.max_model_len} tokens"
            )
        if self.cache.blocks_needed(len(prompt) + 1) > self.cache.num_blocks:
            raise ValueError(
                f"the prompt has {len(prompt)} tokens; the KV cache holds "
                f"{self.cache.num_blocks * self.cache.block_size} tokens"
            )
        if params.stop and self.tokenizer is None:
            raise ValueError("stop strings need an engine with a tokenizer")
        arrival = next(self._arrivals)
        request_id = request_id or f"req-{arrival}"
        if request_id in self.requests:
            raise ValueError(f"request id {request_id!r} is already in use")
        generator = None
        if params.temperature > 0:
            generator = torch.Generator()
            if params.seed is None:
                generator.seed()
            else:
                generator.manual_seed(params.seed)
        sequence = Sequence(request_id, prompt, params, arrival, generator)
        self.requests[request_id] = sequence
        self.scheduler.add(sequence)
        return request_id

    def cancel(self, request_id: str) -> bool:
        """Stop a request; its blocks go back to the pool and a final output says `cancelled`."""
        sequence = self.requests.get(request_id)
        if sequence is None or sequence.finished:
            return False
        self.scheduler.finish(sequence, "cancelled")
        self._pending_outputs.append(sequence.output([], ""))
        return True

    def step(self) -> list[StepOutput]:
        outputs, self._pending_outputs = self._pending_outputs, []
        batch = self.scheduler.schedule()
        outputs.extend(self._flush_text(sequence) for sequence in batch.ended)
        if batch.is_empty:
            return outputs
        sampled = batch.sampled
        next_tokens = self.runner.run(batch)
        logprobs = self.runner.last_logprobs
        self.scheduler.computed(batch)
        self._steps += 1
        self._prefill_tokens += sum(chunk.length for chunk in batch.chunks)
        for row, (sequence, token) in enumerate(zip(sampled, next_tokens, strict=True)):
            outputs.append(self._append_token(sequence, token, logprobs.get(row)))
        return outputs

    def generate(
        self, prompts: SequenceOf[SequenceOf[int]], params: SamplingParams
    ) -> list[GenerationResult]:
        """Run `prompts` to completion together; results in prompt order."""
        ids = [self.add_request(prompt, params) for prompt in prompts]
        while self.has_work():
            self.step()
        return [self.requests.pop(request_id).result() for request_id in ids]

    def warm_up(self) -> list[int]:
        """Prefill one prompt per power-of-two length up to a step's token budget, so that the Triton flash
        kernel tunes its tiles for each length bucket now rather than during a user's first request of that
        length (several seconds each on a GPU; off CUDA the PyTorch references run and nothing is tuned), and
        one prompt of `sparse_from` tokens where the cache holds it, which compiles the block-sparse kernels.
        Returns the prompt lengths run."""
        room = self.context_window - 2
        longest = min(self.config.max_num_batched_tokens, room)
        lengths = [2**i for i in range(4, longest.bit_length()) if 2**i <= longest]
        if longest < self.config.sparse_from <= room:
            lengths.append(self.config.sparse_from)
        vocab = self.model.config.vocab_size
        params = SamplingParams(max_tokens=2, ignore_eos=True)
        for length in lengths:
            self.generate([[(length + i) % vocab for i in range(length)]], params)
        return lengths

    def release(self, request_id: str) -> None:
        """Forget a finished request."""
        sequence = self.requests.get(request_id)
        if sequence is not None and sequence.finished:
            del self.requests[request_id]

    def _append_token(
        self, sequence: Sequence, token: int, logprobs: TokenLogprobs | None = None
    ) -> StepOutput:
        sequence.output_ids.append(token)
        params = sequence.params
        reason = None
        if (not params.ignore_eos and token in self.eos_token_ids) or token in params.stop_token_ids:
            reason = "stop"
        elif len(sequence.output_ids) >= params.max_tokens or sequence.num_tokens >= self.max_model_len:
            reason = "length"
        delta = ""
        if self.tokenizer is not None:
            sequence.text = self._decode(sequence, len(sequence.output_ids) - (reason == "stop"))
            if params.stop:
                cut = min(
                    (i for i in (sequence.text.find(stop) for stop in params.stop) if i >= 0), default=-1
                )
                if cut >= 0:
                    sequence.text = sequence.text[:cut]
                    reason = "stop"
            end = len(sequence.text)
            if reason is None:
                while end > sequence.emitted_chars and sequence.text[end - 1] == "\ufffd":
                    end -= 1
                # A stop string's start is never in the text already streamed, which held back every end
                # that could still grow into one: looking there only keeps a step's cost off the text's length.
                end -= _longest_stop_prefix_suffix(sequence.text[sequence.emitted_chars : end], params.stop)
            delta = sequence.text[sequence.emitted_chars : end]
            sequence.emitted_chars = max(sequence.emitted_chars, end)
        if reason is not None:
            self.scheduler.finish(sequence, reason)
        return sequence.output([token], delta, [logprobs] if logprobs is not None else None)

    def _decode(self, sequence: Sequence, count: int) -> str:
        """The text of the first `count` output tokens, as decoding them all at once gives it, from the few
        tokens past the last final text (`Sequence.decoded_tokens`): decoding the whole answer each step cost a
        step the answer's length, for every running sequence. The new tokens are decoded after a few final ones
        and what those decode to alone is taken off; where that is no prefix of the result, or `count` is
        below what is final (text cut back), the whole is decoded. A text that continues its prompt
        (`continues_prompt`) is decoded after the prompt's last few tokens the same way."""
        assert self.tokenizer is not None
        decode = self.tokenizer.decode
        ids, final = sequence.output_ids, sequence.decoded_tokens
        lead = sequence.prompt_ids[-DECODE_CONTEXT_TOKENS:] if sequence.params.continues_prompt else []
        start = max(0, final - DECODE_CONTEXT_TOKENS)
        head = lead if start == 0 else []
        window = decode([*head, *ids[start:count]]) if count >= final else ""
        context = decode([*head, *ids[start:final]]) if head or start < final else ""
        if count >= final and window.startswith(context):
            text = sequence.text[: sequence.decoded_chars] + window[len(context) :]
        else:
            whole, led = decode([*lead, *ids[:count]]), decode(lead)
            text = whole[len(led) :] if whole.startswith(led) else decode(ids[:count])
            final = 0
        if not text.endswith("\ufffd"):
            sequence.decoded_tokens, sequence.decoded_chars = count, len(text)
        elif final == 0:
            sequence.decoded_tokens = sequence.decoded_chars = 0
        return text

    def _flush_text(self, sequence: Sequence) -> StepOutput:
        delta = sequence.text[sequence.emitted_chars :]
        sequence.emitted_chars = len(sequence.text)
        return sequence.output([], delta)
