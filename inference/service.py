"""Drives an `Engine` from one background thread and hands each request its stream of outputs."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from inference.engine import Engine, SamplingParams, StepOutput


class QueueFullError(RuntimeError):
    """The service already holds `max_pending` unfinished requests."""


class ServiceStopped(RuntimeError):
    """The service is draining or was shut down: it takes no more requests, and those in flight when it shut
    down end with this error."""


class EngineFailure(RuntimeError):
    """The engine raised while stepping; every request in flight ends with this error."""


@dataclass
class ServiceStats:
    requests_rejected: int = 0
    prompt_tokens_total: int = 0
    completion_tokens_total: int = 0
    finished_by_reason: dict[str, int] = field(default_factory=dict)
    time_to_first_token_seconds_sum: float = 0.0
    time_to_first_token_count: int = 0


class RequestHandle:
    """Iterate to receive `StepOutput`s until one is `finished`; `cancel()` stops the request."""

    def __init__(self, service: EngineService, request_id: str) -> None:
        self.service = service
        self.request_id = request_id
        self.outputs: queue.Queue[StepOutput | BaseException] = queue.Queue()
        self.finished = False

    def __iter__(self) -> Iterator[StepOutput]:
        while not self.finished:
            output = self.wait()
            if output is not None:
                yield output

    def wait(self, timeout: float | None = None) -> StepOutput | None:
        """The next output, or None when none came within `timeout` seconds; raises `EngineFailure` when the
        engine failed and `ServiceStopped` when the service shut down before the request finished."""
        try:
            item = self.outputs.get(timeout=timeout)
        except queue.Empty:
            return None
        if isinstance(item, BaseException):
            self.finished = True
            raise item
        self.finished = item.finished
        return item

    def cancel(self) -> None:
        if not self.finished:
            self.service.cancel(self.request_id)


class EngineService:
    """Thread-safe front of an `Engine`: a bounded set of pending requests and one stepping thread."""

    def __init__(self, engine: Engine, *, max_pending: int = 256) -> None:
        if max_pending < 1:
            raise ValueError(f"max_pending must be positive, got {max_pending}")
        self.engine = engine
        self.max_pending = max_pending
        self.stats = ServiceStats()
        self._handles: dict[str, RequestHandle] = {}
        self._submitted_at: dict[str, float] = {}
        self._lock = threading.Condition()
        self._stopping = False
        self._draining = False
        self._counter = 0
        self._thread = threading.Thread(target=self._run, name="quire-engine", daemon=True)
        self._thread.start()

    def submit(self, prompt_ids: Sequence[int], params: SamplingParams) -> RequestHandle:
        """Queue a request; `ValueError` for a bad prompt or parameters, `QueueFullError` when full."""
        with self._lock:
            if not self.accepting:
                raise ServiceStopped("the inference service is shutting down")
            if len(self._handles) >= self.max_pending:
                self.stats.requests_rejected += 1
                raise QueueFullError(
                    f"{len(self._handles)} requests are pending; the limit is {self.max_pending}"
                )
            self._counter += 1
            request_id = self.engine.add_request(prompt_ids, params, request_id=f"svc-{self._counter}")
            handle = RequestHandle(self, request_id)
            self._handles[request_id] = handle
            self._submitted_at[request_id] = time.perf_counter()
            self.stats.prompt_tokens_total += len(prompt_ids)
            self._lock.notify_all()
            return handle

    def cancel(self, request_id: str) -> None:
        with self._lock:
            self.engine.cancel(request_id)
            self._lock.notify_all()

    @property
    def accepting(self) -> bool:
        """Whether `submit` takes requests: False once `drain` or `shutdown` began."""
        return not (self._stopping or self._draining)

    def drain(self, timeout: float) -> bool:
        """Take no more requests (`submit` raises `ServiceStopped`) and wait up to `timeout` seconds for the
        requests in flight to finish; True when none is left. `shutdown` ends the wait early."""
        with self._lock:
            self._draining = True
            self._lock.notify_all()
            self._lock.wait_for(lambda: not self._handles or self._stopping, max(0.0, timeout))
            return not self._handles

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the engine thread; the requests still in flight end with `ServiceStopped`."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        self._thread.join(timeout)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {
                "pending": len(self._handles),
                "running": len(self.engine.scheduler.running),
                "waiting": len(self.engine.scheduler.waiting),
                "free_blocks": self.engine.num_free_blocks,
                "total_blocks": self.engine.cache.num_blocks,
                "preemptions": self.engine.stats["preemptions"],
                "prefix_cache_hit_tokens": self.engine.stats["cached_tokens"],
                "sparse_prefills": self.engine.stats["sparse_prefills"],
                "steps": self.engine.stats["steps"],
            }

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._stopping and not self.engine.has_work():
                    self._lock.wait()
                if self._stopping:
                    self._fail_all(
                        ServiceStopped("the inference service shut down before the request finished")
                    )
                    return
                try:
                    outputs = self.engine.step()
                except Exception as exc:
                    self._fail_all(EngineFailure(f"engine step failed: {exc}"))
                    continue
                for output in outputs:
                    self._deliver(output)

    def _deliver(self, output: StepOutput) -> None:
        handle = self._handles.get(output.request_id)
        if handle is None:
            return
        submitted = self._submitted_at.get(output.request_id)
        if submitted is not None and output.new_token_ids:
            self.stats.time_to_first_token_seconds_sum += time.perf_counter() - submitted
            self.stats.time_to_first_token_count += 1
            del self._submitted_at[output.request_id]
        handle.outputs.put(output)
        if output.finished:
            reason = output.finish_reason or "unknown"
            self.stats.finished_by_reason[reason] = self.stats.finished_by_reason.get(reason, 0) + 1
            self.stats.completion_tokens_total += output.completion_tokens
            self._handles.pop(output.request_id, None)
            self._submitted_at.pop(output.request_id, None)
            self.engine.release(output.request_id)
            self._lock.notify_all()

    def _fail_all(self, error: RuntimeError) -> None:
        for request_id, handle in list(self._handles.items()):
            self.engine.cancel(request_id)
            self.engine.release(request_id)
            handle.outputs.put(error)
        self._handles.clear()
        self._submitted_at.clear()
        self._lock.notify_all()
