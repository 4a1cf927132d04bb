"""The connector contract: documents in, the JSON of CONNECTORS.md out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from connectors.text import normalise_text

if TYPE_CHECKING:
    import numpy

    from common.licences import ShippedModel
    from inference.client import InferenceClient

OUTPUT_VERSION = "1"
MODES = ("analyzers", "model")
MAX_DOCUMENT_CHARS = 2_000_000
Progress = Callable[[float, str], None]
Embed = Callable[[list[str]], "numpy.ndarray"]
Retrieve = Callable[[str, str, int], list[dict]]
STRATEGIES = ("whole", "rag", "map_reduce")


@dataclass(frozen=True)
class Document:
    document_id: str
    text: str
    kind: str = "text"
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.document_id, str) or not self.document_id:
            raise ValueError("Document.document_id must be a non-empty string")
        if not isinstance(self.text, str):
            raise ValueError(f"Document {self.document_id!r}: text must be a string")
        if self.kind not in ("text", "transcript"):
            raise ValueError(
                f"Document {self.document_id!r}: kind must be 'text' or 'transcript', got {self.kind!r}"
            )


@dataclass
class RunContext:
    """What a connector run carries besides its documents: mode, client, progress, the context plan of each
    document, the embedder (texts to L2-normalised vectors), the retriever (`(document_id, question,
    token_budget)` to chunks `{"chunk_id", "start", "end"}` in document order), what the model calls took per
    document, the warnings, the result of an earlier run this one extends, the tenant's custom clause types the
    options name (`connectors.legal.custom.ClauseHead` by key), `on_row`, handed each row of a grid (its
    index and `{"document_id", "cells"}`) as soon as it is done, the learned weights the run asked for
    (`use_model`), and `cancel_check`, which raises when the run is to stop (its job canceled or out of time;
    `stop_if_canceled`)."""

    mode: str
    client: InferenceClient | None
    progress: Progress
    plan: dict
    embed: Embed
    warnings: list[str] = field(default_factory=list)
    retrieve: Retrieve | None = None
    usage: dict[str, dict] = field(default_factory=dict)
    quotes_dropped: int = 0
    prior: dict | None = None
    clause_heads: dict = field(default_factory=dict)
    on_row: Callable[[int, dict], None] | None = None
    models: dict[str, dict] = field(default_factory=dict)
    cancel_check: Callable[[], None] | None = None
    model_calls: int = 0
    _reported: tuple[float, str] = (0.0, "")

    def __post_init__(self) -> None:
        given = self.progress

        def progress(fraction: float, stage: str) -> None:
            self._reported = (fraction, stage)
            given(fraction, stage)

        self.progress = progress
        self._given = given

    def model_called(self, calls: int = 1) -> None:
        """Count `calls` model calls made, and report them in the stage the connector last reported (`clauses
        doc_1: 37 model calls`), its fraction unchanged: a reading of many calls shows that it moves. Called
        from the run's own thread, never a pool's."""
        self.model_calls += calls
        fraction, stage = self._reported
        counted = f"{self.model_calls} model call{'' if self.model_calls == 1 else 's'}"
        self._given(fraction, f"{stage}: {counted}" if stage else counted)

    def stop_if_canceled(self) -> None:
        """Raise what `cancel_check` raises once the run is to stop: asked before each model call, so a canceled
        run makes none after it."""
        if self.cancel_check is not None:
            self.cancel_check()

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def use_model(self, model: ShippedModel) -> bool:
        """Whether the learned weights `model` describes may run here; either way the result's `context.models`
        records that the run asked for them, with their version and status."""
        self.models[model.key] = {"id": model.key, **model.state()}
        return model.loaded


class OptionError(ValueError):
    """A bad option, with `param` naming it (dotted: `options.columns.3.type`)."""

    def __init__(self, message: str, param: str = "options"):
        super().__init__(message)
        self.param = param


class Connector(ABC):
    name: str = ""
    description: str = ""
    reads_all_text: bool = False
    """Whether its questions need all of a document (a full review, a summary): past the window it is read
    section by section and reduced rather than by retrieval."""
    sections: tuple[str, ...] = ()
    """Its result's top-level keys in the order a reader takes them (the job page lists findings so); keys not
    named follow, as the result gives them."""

    @abstractmethod
    def validate_options(self, options: dict) -> dict:
        """Checked and defaulted options; ValueError with a clear message for bad ones."""

    def reject_unknown_options(self, options: dict, known: set[str]) -> None:
        """ValueError naming every option of `options` this connector does not know."""
        unknown = set(options) - known
        if unknown:
            raise ValueError(f"unknown {self.name} option(s): {', '.join(sorted(unknown))}")

    @abstractmethod
    def run(self, documents: list[Document], options: dict, run: RunContext) -> dict:
        """The connector-specific fields of the result (the envelope is added by `run_connector`)."""

    def clause_types(self, options: dict) -> list[tuple[str, str]]:
        """The custom clause types its checked `options` name, as (key, param) pairs."""
        return []

    def settle(self, output: dict) -> dict:
        """The result once its spans were verified (and unverifiable ones dropped); by default unchanged."""
        return output


def _no_progress(fraction: float, stage: str) -> None:
    return None


def prepare_documents(documents: list[Document]) -> list[Document]:
    if not isinstance(documents, list | tuple):
        raise ValueError("documents must be a list of Document")
    prepared: list[Document] = []
    seen: set[str] = set()
    for document in documents:
        if not isinstance(document, Document):
            raise ValueError(f"documents must hold Document objects, got {type(document).__name__}")
        if document.document_id in seen:
            raise ValueError(f"document_id {document.document_id!r} appears twice")
        seen.add(document.document_id)
        text = normalise_text(document.text)
        if len(text) > MAX_DOCUMENT_CHARS:
            raise ValueError(
                f"document {document.document_id!r} has {len(text):,} characters once normalised; "
                f"the limit is {MAX_DOCUMENT_CHARS:,}"
            )
        prepared.append(Document(document.document_id, text, document.kind, dict(document.metadata)))
    return prepared


def plan_context(documents: list[Document], context: dict | None) -> dict:
    """The context plan: `{"policy", "documents": {document_id: {"strategy", "reason", "token_budget",
    "sections"}}}`, the platform's when given, else every document read whole."""
    if context is None:
        return {
            "policy": "auto",
            "documents": {
                d.document_id: {"strategy": "whole", "reason": "read whole: no context plan was given"}
                for d in documents
            },
        }
    if not isinstance(context, dict) or not isinstance(context.get("documents", {}), dict):
        raise ValueError("context must be a dict with a dict of documents")
    for document_id, plan in context.get("documents", {}).items():
        if not isinstance(plan, dict) or plan.get("strategy") not in STRATEGIES:
            raise ValueError(
                f"context of {document_id!r}: strategy must be one of {', '.join(STRATEGIES)}, got {plan!r}"
            )
    return context
