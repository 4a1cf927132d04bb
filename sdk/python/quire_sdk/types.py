"""Typed results: light dataclasses over the API's JSON.

Each keeps the whole answer in `raw` (fields the SDK does not know yet, such as new ones on the server, are
there) and reads `obj["field"]` from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Self


@dataclass
class ApiObject:
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict) -> Self:
        known = {f.name for f in fields(cls)} - {"raw"}
        return cls(**{name: data[name] for name in known if name in data}, raw=dict(data))

    def __getitem__(self, name: str) -> Any:
        return self.raw[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.raw.get(name, default)


@dataclass
class Document(ApiObject):
    id: str = ""
    filename: str = ""
    content_type: str | None = None
    sha256: str | None = None
    size_bytes: int | None = None
    status: str = ""
    failure_reason: str | None = None
    char_count: int | None = None
    page_count: int | None = None
    chunk_count: int | None = None
    token_estimate: int | None = None
    pages_parsed: int | None = None
    pages_total: int | None = None
    ocr_pages: list = field(default_factory=list)
    ocr_confidence: float | None = None
    batch_id: str | None = None
    parent: str | None = None
    attachments: list = field(default_factory=list)
    attached_to: list = field(default_factory=list)
    metadata: dict = field(default_factory=dict)
    created_at: str | None = None
    updated_at: str | None = None

    TERMINAL = ("ready", "failed")

    @property
    def done(self) -> bool:
        return self.status in self.TERMINAL


@dataclass
class RefusedFile(ApiObject):
    """A file of an upload that was not made a document: its name (its path in the ZIP) and why."""

    filename: str = ""
    code: str = ""
    message: str = ""


@dataclass
class DocumentBatch(ApiObject):
    """The answer to an upload of a ZIP: the documents it created (`data` in the JSON) and the files refused.
    `documents.list(batch_id=batch.id)` lists the documents again."""

    id: str = ""
    documents: list[Document] = field(default_factory=list)
    refused: list[RefusedFile] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict) -> Self:
        return cls(
            id=data.get("id", ""),
            documents=[Document.from_dict(doc) for doc in data.get("data") or []],
            refused=[RefusedFile.from_dict(file) for file in data.get("refused") or []],
            raw=dict(data),
        )


def document_or_batch(data: dict) -> Document | DocumentBatch:
    """An upload's answer: a `DocumentBatch` when the server made one (a ZIP), else the `Document`."""
    if data.get("object") == "document_batch":
        return DocumentBatch.from_dict(data)
    return Document.from_dict(data)


@dataclass
class DocumentText(ApiObject):
    document_id: str = ""
    status: str = ""
    start: int = 0
    end: int = 0
    length: int = 0
    text: str = ""
    page_start: int | None = None
    page_end: int | None = None


@dataclass
class Finding:
    """One span of a job result, flattened: where it sits in the output and what it quotes."""

    section: str  # the output's top-level field: clauses, risks, ...
    label: str  # the finding's category, risk, speaker, claim, ... when it names one
    document_id: str
    start: int
    end: int
    quote: str
    confidence: float | None = None
    severity: str | None = None
    path: str = ""  # e.g. clauses.3.span

    def as_row(self) -> dict:
        return {
            "section": self.section,
            "label": self.label,
            "document_id": self.document_id,
            "start": self.start,
            "end": self.end,
            "quote": self.quote,
            "confidence": self.confidence,
            "severity": self.severity,
            "path": self.path,
        }


_SPAN_KEYS = frozenset({"document_id", "start", "end", "quote"})
_LABEL_KEYS = (
    "category",
    "risk",
    "code",
    "type",
    "label",
    "claim_id",
    "question_id",
    "speaker",
    "metric",
    "id",
    "name",
    "text",
)


def _walk(value: Any, path: tuple, owner: dict | None) -> list[tuple[dict, tuple, dict | None]]:
    if isinstance(value, dict) and value.keys() >= _SPAN_KEYS:
        return [(value, path, owner)]
    found: list[tuple[dict, tuple, dict | None]] = []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _walk(child, (*path, key), value if path else owner)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _walk(child, (*path, index), owner)
    return found


_CONTAINER_KEYS = frozenset({"span", "spans", "evidence", "cells", "quote"})


def _named_in(path: tuple) -> str:
    """The innermost key of `path` that names something (a review's column), not a container."""
    names = [p for p in path if isinstance(p, str) and p not in _CONTAINER_KEYS]
    return names[-1] if names else ""


def _label(owner: dict | None) -> str:
    for key in _LABEL_KEYS:
        if owner and isinstance(owner.get(key), (str, int)):
            return str(owner[key])
    return ""


@dataclass
class JobResult(ApiObject):
    job_id: str = ""
    output: dict = field(default_factory=dict)
    context: dict = field(default_factory=dict)
    spans_checked: int = 0
    spans_repaired: int = 0
    findings_dropped: int = 0
    created_at: str | None = None

    def findings(self) -> list[Finding]:
        """Every span in the output, in order, with the finding around it (each satisfies
        `text[start:end] == quote` against the document's stored text)."""
        rows = []
        for span, path, owner in _walk(self.output, (), None):
            holder = owner if owner is not None and owner is not span else {}
            rows.append(
                Finding(
                    section=str(path[0]) if path else "",
                    label=_label(holder) or _label(span) or _named_in(path[1:]),
                    document_id=str(span["document_id"]),
                    start=int(span["start"]),
                    end=int(span["end"]),
                    quote=str(span["quote"]),
                    confidence=holder.get("confidence"),
                    severity=holder.get("severity"),
                    path=".".join(str(p) for p in path),
                )
            )
        return rows


@dataclass
class Job(ApiObject):
    id: str = ""
    connector: str = ""
    mode: str = ""
    documents: list = field(default_factory=list)
    options: dict = field(default_factory=dict)
    status: str = ""
    stage: str | None = None
    progress: float = 0.0
    attempt: int = 0
    error: Any = None
    metadata: dict = field(default_factory=dict)
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    queue_wait_seconds: float | None = None
    result: JobResult | None = None  # with `expand=["result"]`, or after `run(..., wait=True)` succeeds
    usage: dict | None = None  # with `expand=["usage"]`: units metered, by kind ({"pages": 12, "job": 1})

    TERMINAL = ("succeeded", "failed", "canceled")

    @classmethod
    def from_dict(cls, data: dict) -> Job:
        job = super().from_dict(data)
        if isinstance(job.result, dict):
            job.result = JobResult.from_dict(job.result)
        return job

    @property
    def done(self) -> bool:
        return self.status in self.TERMINAL


@dataclass
class SearchHit(ApiObject):
    document_id: str = ""
    chunk_index: int = 0
    start: int = 0
    end: int = 0
    quote: str = ""
    score: float = 0.0


@dataclass
class ClauseType(ApiObject):
    id: str = ""
    key: str = ""
    name: str = ""
    description: str = ""
    status: str = ""
    failure_reason: str = ""
    version: int = 0
    precision: float | None = None
    recall: float | None = None
    advice: str = ""
    near_misses: list = field(default_factory=list)
    examples: list[str] | None = None  # with `expand=["examples"]`
    counter_examples: list[str] | None = None
    example_count: int = 0
    counter_example_count: int = 0
    negative_count: int = 0
    trained_at: str | None = None
    created_at: str | None = None

    TERMINAL = ("ready", "failed")

    @property
    def done(self) -> bool:
        return self.status in self.TERMINAL


@dataclass
class WebhookEndpoint(ApiObject):
    id: str = ""
    url: str = ""
    description: str = ""
    event_types: list = field(default_factory=list)
    status: str = ""
    disabled_reason: str | None = None
    disabled_at: str | None = None
    failing_since: str | None = None
    previous_secret_expires_at: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    secret: str | None = None  # only in the answers to create and rotate_secret


@dataclass
class ApiKey(ApiObject):
    id: str = ""
    name: str = ""
    role: str = ""
    version: str = ""  # the API version its requests get (`Quire-Version`) unless they send another
    display_prefix: str = ""
    created_at: str | None = None
    last_used_at: str | None = None
    revoked_at: str | None = None
    secret: str | None = None  # only in the answer to create


@dataclass
class Workspace(ApiObject):
    id: str = ""
    name: str = ""
    retention_days: int | None = None  # None: kept until deleted
    ocr_languages: str = ""  # empty: the deployment's
    ocr_languages_available: list = field(default_factory=list)
    ocr_pictures: str = ""  # textless, always or never; empty: the deployment's
    created_at: str | None = None


@dataclass
class Delivery(ApiObject):
    id: str = ""
    event: str = ""
    event_type: str = ""
    endpoint: str = ""
    status: str = ""
    attempts: int = 0
    next_attempt_at: str | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    is_replay: bool = False
    created_at: str | None = None
    delivered_at: str | None = None
    attempt_log: list = field(default_factory=list)


@dataclass
class Event(ApiObject):
    id: str = ""
    type: str = ""
    data: dict = field(default_factory=dict)
    created_at: str | None = None


@dataclass
class Model(ApiObject):
    """A model file of the deployment: what it was trained on, its licence, and whether it is loaded here
    (`status`: loaded, absent or withheld, with `status_reason`). `model_card` and `trained_on` come with
    `client.models.get`."""

    id: str = ""
    purpose: str = ""
    connectors: list = field(default_factory=list)
    training_data: str = ""
    trained_here: bool = True
    licences: list = field(default_factory=list)
    commercial_use: bool = True
    status: str = ""
    status_reason: str | None = None
    version: str | None = None
    training_documents: int | None = None
    model_card: str | None = None
    trained_on: list | None = None


@dataclass
class Usage(ApiObject):
    start: str | None = None
    end: str | None = None
    group_by: str = ""
    data: list = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict) -> Usage:
        return cls(
            start=data.get("from"),
            end=data.get("to"),
            group_by=data.get("group_by", ""),
            data=list(data.get("data") or []),
            raw=dict(data),
        )


@dataclass
class Deleted(ApiObject):
    id: str = ""
    object: str = ""
    deleted: bool = False
