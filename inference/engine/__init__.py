"""Continuous-batching engine over a paged KV cache, laid out as nano-vllm's `engine/`.

`sequence` (a request's state, `SamplingParams`, `StepOutput`), `scheduler` (waiting and running sequences,
each step's prefill chunks and decodes, preemption, prefix-cache lookups), `model_runner` (the model and its
KV cache: batch layout, forward, sampling), `llm_engine` (`Engine`, the loop over them), `config`
(`EngineConfig`).
"""

from inference.engine.config import EngineConfig
from inference.engine.llm_engine import Engine
from inference.engine.sequence import GenerationResult, InvalidSamplingParam, SamplingParams, StepOutput

__all__ = [
    "Engine",
    "EngineConfig",
    "GenerationResult",
    "InvalidSamplingParam",
    "SamplingParams",
    "StepOutput",
]
