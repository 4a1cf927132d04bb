"""The inference server's metrics (name, kind, help) and their Prometheus text exposition."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Metric:
    name: str
    kind: Literal["counter", "gauge"]
    help_text: str


SERVER_METRICS = (
    Metric("quire_http_requests_total", "counter", "HTTP requests by route and status."),
    Metric("quire_prompt_tokens_total", "counter", "Prompt tokens admitted."),
    Metric("quire_generation_tokens_total", "counter", "Tokens generated."),
    Metric(
        "quire_requests_rejected_total", "counter", "Requests refused with 429 because the queue was full."
    ),
    Metric("quire_requests_finished_total", "counter", "Finished requests by finish reason."),
    Metric(
        "quire_time_to_first_token_seconds_sum", "counter", "Sum of times from submission to first token."
    ),
    Metric("quire_time_to_first_token_seconds_count", "counter", "Requests that produced a first token."),
    Metric("quire_engine_steps_total", "counter", "Engine forward steps."),
    Metric("quire_preemptions_total", "counter", "Sequences preempted for want of cache blocks."),
    Metric("quire_prefix_cache_hit_tokens_total", "counter", "Prompt tokens found in the prefix cache."),
    Metric("quire_block_sparse_prefills_total", "counter", "Prompts prefilled with block-sparse attention."),
    Metric("quire_requests_pending", "gauge", "Requests accepted and not finished."),
    Metric("quire_requests_running", "gauge", "Sequences holding cache blocks."),
    Metric("quire_requests_waiting", "gauge", "Sequences waiting for prefill."),
    Metric("quire_kv_cache_free_blocks", "gauge", "Free KV cache blocks."),
    Metric("quire_kv_cache_total_blocks", "gauge", "KV cache blocks in all."),
)


def _value(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{key}="{_escaped(value)}"' for key, value in sorted(labels.items()))
    return "{" + inner + "}"


class MetricsRegistry:
    """Values with labels for the declared `metrics`, rendered in the Prometheus text format 0.0.4."""

    def __init__(self, metrics: Iterable[Metric]) -> None:
        self._lock = threading.Lock()
        self._metrics: dict[str, Metric] = {}
        for metric in metrics:
            if metric.kind not in ("counter", "gauge"):
                raise ValueError(f"metric kind must be counter or gauge, got {metric.kind!r}")
            self._metrics[metric.name] = metric
        self._values: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = self._key(name, labels)
        with self._lock:
            self._values[name][key] = self._values[name].get(key, 0.0) + amount

    def set(self, name: str, value: float, **labels: str) -> None:
        key = self._key(name, labels)
        with self._lock:
            self._values[name][key] = float(value)

    def render(self) -> str:
        lines = []
        with self._lock:
            for name, metric in sorted(self._metrics.items()):
                lines.append(f"# HELP {name} {metric.help_text}")
                lines.append(f"# TYPE {name} {metric.kind}")
                for key, value in sorted(self._values.get(name, {}).items()):
                    lines.append(f"{name}{_labels(dict(key))} {_value(value)}")
        return "\n".join(lines) + "\n"

    def _key(self, name: str, labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
        if name not in self._metrics:
            raise KeyError(f"metric {name!r} is not declared")
        return tuple(sorted(labels.items()))
