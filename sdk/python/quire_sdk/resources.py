"""The API's resources as methods: `client.documents`, `client.jobs`, `client.search`, ..."""

from __future__ import annotations

import contextlib
import io
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, overload
from urllib.parse import quote

from quire_sdk._http import Transport
from quire_sdk.errors import NotFoundError, WaitTimeout
from quire_sdk.pagination import Page, list_page
from quire_sdk.types import (
    ApiKey,
    ClauseType,
    Deleted,
    Delivery,
    Document,
    DocumentBatch,
    DocumentText,
    Event,
    Job,
    JobResult,
    Model,
    SearchHit,
    Usage,
    WebhookEndpoint,
    Workspace,
    document_or_batch,
)

UPLOAD_CHUNK = 64 * 1024
_UNSET: Any = object()


def _segment(object_id: str) -> str:
    """`object_id` as one segment of a request's path: `?`, `#`, `%` and the rest escaped, and `.` or `..` too,
    so that no id reaches another path. An id holding `/` is a NotFoundError before any request: no object's
    id holds one, and web servers decode an escaped `/` before routing (`job_1%2Fcancel` would cancel)."""
    if "/" in str(object_id):
        raise NotFoundError(
            f"No object has the id {str(object_id)[:80]!r}: ids never hold '/'.",
            status=404,
            code="resource_missing",
        )
    quoted = quote(str(object_id), safe="")
    return quoted.replace(".", "%2E") if quoted in (".", "..") else quoted


# A setting an update leaves as it is, where None is a value to send (`retention_days=None`: keep for good).
KEEP: Any = object()


def _body(**fields: Any) -> dict:
    """A request body without the fields left as None (so an option the server lacks is never sent)."""
    return {name: value for name, value in fields.items() if value is not None}


def _wait(fetch: Callable[[], Any], done: Callable[[Any], bool], on_change, interval: float, timeout):
    """Poll `fetch()` every `interval` seconds until `done`; `on_change` sees each new state."""
    deadline = None if timeout is None else time.monotonic() + timeout
    seen = None
    while True:
        current = fetch()
        state = (current.status, getattr(current, "stage", None), getattr(current, "progress", None))
        if on_change is not None and state != seen:
            on_change(current)
        seen = state
        if done(current):
            return current
        if deadline is not None and time.monotonic() >= deadline:
            raise WaitTimeout(f"{current.id} is still {current.status} after {timeout}s", current)
        time.sleep(interval)


# Opens the file's content at its start, for one attempt; the size it has.
Content = tuple[Callable[[], contextlib.AbstractContextManager[IO[bytes]]], int]


def _content(file: str | os.PathLike | bytes | IO[bytes]) -> Content:
    """The upload's content, read from where it is on each attempt: a path is opened again, a seekable file
    sought back to where it stood (and left open), bytes (or an unseekable stream, read once) wrapped."""
    if isinstance(file, (str, os.PathLike)):
        path = Path(file)
        return (lambda: path.open("rb")), path.stat().st_size
    if not isinstance(file, bytes) and getattr(file, "seekable", lambda: False)():
        start = file.tell()
        size = file.seek(0, os.SEEK_END) - start

        def rewound() -> contextlib.AbstractContextManager[IO[bytes]]:
            file.seek(start)
            return contextlib.nullcontext(file)

        return rewound, size
    content = file if isinstance(file, bytes) else file.read()
    return (lambda: io.BytesIO(content)), len(content)


def content_type_checked(content_type: str | None) -> str | None:
    """`content_type`, refused (ValueError) when it holds a line break, which would end its header line."""
    if content_type is not None and ("\r" in content_type or "\n" in content_type):
        raise ValueError(f"a content type is one line, not {content_type!r}")
    return content_type


def _quoted(value: str) -> str:
    """`value` inside a header's quoted string: `\\` and `"` escaped with a backslash (as the server's parser
    reads them back), line breaks dropped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "")


def _multipart(
    content: Content, filename: str, content_type: str | None, fields: dict[str, str], on_progress
) -> tuple[str, Callable[[], Iterator[bytes]], int]:
    """A multipart/form-data body as a generator (rebuilt for each attempt) that reads the content
    `UPLOAD_CHUNK` bytes at a time, reporting bytes sent."""
    open_content, size = content
    boundary = "quire-" + uuid.uuid4().hex
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{_quoted(filename)}"\r\n'
        f"Content-Type: {content_type or 'application/octet-stream'}\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    total = len(head) + size + len(tail)

    def pieces() -> Iterator[bytes]:
        yield head
        with open_content() as stream:
            left = size
            while left > 0 and (piece := stream.read(min(UPLOAD_CHUNK, left))):
                left -= len(piece)
                yield piece
        yield tail

    def chunks() -> Iterator[bytes]:
        sent = 0
        for piece in pieces():
            yield piece
            sent += len(piece)
            if on_progress is not None:
                on_progress(sent, total)

    return f"multipart/form-data; boundary={boundary}", chunks, total


class Resource:
    def __init__(self, transport: Transport):
        self._t = transport


class Documents(Resource):
    @overload
    def create(
        self,
        *,
        text: str,
        file: None = None,
        filename: str | None = None,
        content_type: str | None = None,
        metadata: dict | None = None,
        idempotency_key: str | None = None,
        on_upload_progress: Callable[[int, int], None] | None = None,
    ) -> Document: ...

    @overload
    def create(
        self,
        *,
        text: None = None,
        file: str | os.PathLike | bytes | IO[bytes],
        filename: str | None = None,
        content_type: str | None = None,
        metadata: dict | None = None,
        idempotency_key: str | None = None,
        on_upload_progress: Callable[[int, int], None] | None = None,
    ) -> Document | DocumentBatch: ...

    def create(
        self,
        *,
        text: str | None = None,
        file: str | os.PathLike | bytes | IO[bytes] | None = None,
        filename: str | None = None,
        content_type: str | None = None,
        metadata: dict | None = None,
        idempotency_key: str | None = None,
        on_upload_progress: Callable[[int, int], None] | None = None,
    ) -> Document | DocumentBatch:
        """A document from `text` (JSON) or a `file` (a path, bytes or a binary file object, sent as
        multipart). 201 for a new one; the same bytes again give the stored document back. A ZIP (not a
        DOCX, XLSX or PPTX) or an mbox of several messages is a batch of files: the answer is then a `DocumentBatch`, its `documents` and
        the files it `refused`."""
        if (text is None) == (file is None):
            raise ValueError("give exactly one of text= or file=")
        content_type_checked(content_type)
        if text is not None:
            body = _body(text=text, filename=filename, content_type=content_type, metadata=metadata)
            response = self._t.request("POST", "documents", json_body=body, idempotency_key=idempotency_key)
            return Document.from_dict(response.data)
        if isinstance(file, (str, os.PathLike)):
            filename = filename or Path(file).name
        elif not isinstance(file, bytes):
            filename = filename or os.path.basename(getattr(file, "name", "") or "") or None
        fields = _body(content_type=content_type)
        fields.update({f"metadata[{key}]": value for key, value in (metadata or {}).items()})
        mime, chunks, total = _multipart(
            _content(file), filename or "upload", content_type, fields, on_upload_progress
        )
        response = self._t.request(
            "POST",
            "documents",
            content=chunks,
            headers={"Content-Type": mime, "Content-Length": str(total)},
            idempotency_key=idempotency_key,
        )
        return document_or_batch(response.data)

    def get(self, document_id: str) -> Document:
        return Document.from_dict(self._t.request("GET", f"documents/{_segment(document_id)}").data)

    def list(self, *, limit: int | None = None, **filters: Any) -> Page[Document]:
        """Newest first. `filters` go to the query as they are: `status="ready"`,
        `created={"gte": datetime}`, `metadata={"team": "legal"}`."""
        return list_page(self._t, "documents", Document.from_dict, {"limit": limit, **filters})

    def update(self, document_id: str, *, metadata: dict, idempotency_key: str | None = None) -> Document:
        """Merge `metadata` into the document's (a key set to "" is deleted)."""
        data = self._t.request(
            "POST",
            f"documents/{_segment(document_id)}",
            json_body={"metadata": metadata},
            idempotency_key=idempotency_key,
        ).data
        return Document.from_dict(data)

    def delete(self, document_id: str, *, idempotency_key: str | None = None) -> Deleted:
        data = self._t.request(
            "DELETE", f"documents/{_segment(document_id)}", idempotency_key=idempotency_key
        ).data
        return Deleted.from_dict(data)

    def text(self, document_id: str, *, start: int | None = None, end: int | None = None) -> DocumentText:
        data = self._t.request(
            "GET", f"documents/{_segment(document_id)}/text", params={"start": start, "end": end}
        ).data
        return DocumentText.from_dict(data)

    def tables(self, document_id: str) -> list[dict]:
        """The document's tables: `{"index", "page", "rows": [[{"text", "span"}, ...], ...]}` each."""
        return self._t.request("GET", f"documents/{_segment(document_id)}/tables").data["data"]

    def content(self, document_id: str) -> bytes:
        """The file as uploaded, byte for byte (each download is recorded in the workspace's audit log)."""
        return self._t.request("GET", f"documents/{_segment(document_id)}/content", raw=True).data

    def page_image(self, document_id: str, page: int) -> bytes:
        """Page `page` (from 1) of a PDF document as a PNG at 100 dpi: a span's `boxes`, in PDF points,
        lie over it scaled by 100/72."""
        return self._t.request("GET", f"documents/{_segment(document_id)}/pages/{int(page)}", raw=True).data

    def wait(
        self,
        document_id: str,
        *,
        interval: float = 0.5,
        timeout: float | None = 600,
        on_change: Callable[[Document], None] | None = None,
    ) -> Document:
        """Poll until the document is `ready` or `failed`."""
        return _wait(lambda: self.get(document_id), lambda d: d.done, on_change, interval, timeout)


class Jobs(Resource):
    def create(
        self,
        connector: str,
        documents: list[str],
        *,
        options: dict | None = None,
        mode: str | None = None,
        metadata: dict | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        body = _body(
            connector=connector, documents=list(documents), options=options, mode=mode, metadata=metadata
        )
        return Job.from_dict(
            self._t.request("POST", "jobs", json_body=body, idempotency_key=idempotency_key).data
        )

    def get(self, job_id: str, *, expand: list[str] | None = None) -> Job:
        """`expand=["result"]` asks the server to inline the result, `expand=["usage"]` what it metered."""
        return Job.from_dict(
            self._t.request("GET", f"jobs/{_segment(job_id)}", params={"expand": expand}).data
        )

    def list(self, *, limit: int | None = None, **filters: Any) -> Page[Job]:
        """Newest first; `filters` go to the query as they are (`status=`, `connector=`, `created=`, ...)."""
        return list_page(self._t, "jobs", Job.from_dict, {"limit": limit, **filters})

    def update(self, job_id: str, *, metadata: dict, idempotency_key: str | None = None) -> Job:
        """Merge `metadata` into the job's (a key set to "" is deleted)."""
        data = self._t.request(
            "POST",
            f"jobs/{_segment(job_id)}",
            json_body={"metadata": metadata},
            idempotency_key=idempotency_key,
        ).data
        return Job.from_dict(data)

    def cancel(self, job_id: str, *, idempotency_key: str | None = None) -> Job:
        return Job.from_dict(
            self._t.request("POST", f"jobs/{_segment(job_id)}/cancel", idempotency_key=idempotency_key).data
        )

    def result(self, job_id: str) -> JobResult:
        return JobResult.from_dict(self._t.request("GET", f"jobs/{_segment(job_id)}/result").data)

    def cells(
        self, job_id: str, *, from_index: int | None = None, limit: int | None = None
    ) -> dict[str, Any]:
        """A review's rows so far (`{"complete", "rows_done", "columns", "data": [{"index", "document_id",
        "cells"}]}`); `from_index` and `limit` ask for a window of rows by document index. Without `limit`,
        100 rows from API version 2026-12-06 on, every row before it; `next_from_index` is where the next
        window starts."""
        params = {"from_index": from_index, "limit": limit}
        return self._t.request("GET", f"jobs/{_segment(job_id)}/cells", params=params).data

    def grid(self, job_id: str, *, format: str = "csv") -> bytes:
        """A finished review's grid as the portal downloads it, `csv` or `xlsx`: a row a document, each cell's
        value (a reviewer's correction in its place), status and cited passages (each download is recorded in
        the workspace's audit log)."""
        if format not in ("csv", "xlsx"):
            raise ValueError(f"format must be 'csv' or 'xlsx', not {format!r}")
        return self._t.request("GET", f"jobs/{_segment(job_id)}/result.{format}", raw=True).data

    def rows(self, job_id: str, *, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Every row of a review so far (`{"index", "document_id", "cells"}`), read `page_size` rows a request
        and yielded as they come."""
        start = 0
        while True:
            page = self.cells(job_id, from_index=start, limit=page_size)
            yield from page["data"]
            if page.get("next_from_index") is None:
                return
            start = page["next_from_index"]

    def correct_cell(
        self,
        job_id: str,
        *,
        document: str,
        key: str,
        corrected_value: Any = _UNSET,
        verified: bool = False,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """A reviewer's word on one cell of a finished review: `corrected_value` (`None`: the document has no
        answer), or `verified=True` as it stands."""
        body: dict[str, Any] = {"document": document, "key": key}
        if corrected_value is not _UNSET:
            body["corrected_value"] = corrected_value
        if verified:
            body["verified"] = True
        return self._t.request(
            "POST", f"jobs/{_segment(job_id)}/cells", json_body=body, idempotency_key=idempotency_key
        ).data

    def wait(
        self,
        job_id: str,
        *,
        on_progress: Callable[[Job], None] | None = None,
        interval: float = 0.5,
        timeout: float | None = 1800,
    ) -> Job:
        """Poll until the job succeeded, failed or was canceled; `on_progress(job)` sees every change of
        status, stage or progress. A succeeded job comes back with its `result`."""
        job = _wait(lambda: self.get(job_id), lambda j: j.done, on_progress, interval, timeout)
        if job.status == "succeeded" and job.result is None:
            job.result = self.result(job_id)
        return job

    def run(
        self,
        connector: str,
        documents: list[str],
        *,
        wait: bool = True,
        on_progress: Callable[[Job], None] | None = None,
        interval: float = 0.5,
        timeout: float | None = 1800,
        **create: Any,
    ) -> Job:
        """`create` a job (`options=`, `mode=`, `metadata=`, `idempotency_key=` go to it) and, with `wait`,
        follow it to the end (see `wait`)."""
        job = self.create(connector, documents, **create)
        if not wait:
            return job
        return self.wait(job.id, on_progress=on_progress, interval=interval, timeout=timeout)


class ClauseTypes(Resource):
    def create(
        self,
        key: str,
        name: str,
        examples: list[str],
        *,
        counter_examples: list[str] | None = None,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> ClauseType:
        """A custom clause type from at least 10 example passages; it trains on the server (see `wait`)."""
        body = _body(
            key=key,
            name=name,
            description=description,
            examples=list(examples),
            counter_examples=None if counter_examples is None else list(counter_examples),
        )
        data = self._t.request("POST", "clause_types", json_body=body, idempotency_key=idempotency_key).data
        return ClauseType.from_dict(data)

    def get(self, clause_type_id: str, *, expand: list[str] | None = None) -> ClauseType:
        """`expand=["examples"]` adds the passages it trains on (`examples`, `counter_examples`)."""
        path = f"clause_types/{_segment(clause_type_id)}"
        return ClauseType.from_dict(self._t.request("GET", path, params={"expand": expand}).data)

    def list(self, *, limit: int | None = None, **filters: Any) -> Page[ClauseType]:
        return list_page(self._t, "clause_types", ClauseType.from_dict, {"limit": limit, **filters})

    def passages_to_check(self, clause_type_id: str) -> list[dict[str, Any]]:
        """What to answer next (as the portal's clause type page asks): its unanswered findings in legal jobs and
        reviews, then its near misses, each `{"source", "job", "connector", "document", "start", "end", "text", "score",
        "correction", "suggested"}` (`suggested`: the answer a reviewer's word on a review's cell gives, `clause`, `not` or None)."""
        return self._t.request("GET", f"clause_types/{_segment(clause_type_id)}/passages_to_check").data[
            "data"
        ]

    def delete(self, clause_type_id: str, *, idempotency_key: str | None = None) -> Deleted:
        path = f"clause_types/{_segment(clause_type_id)}"
        return Deleted.from_dict(self._t.request("DELETE", path, idempotency_key=idempotency_key).data)

    def add_examples(
        self,
        clause_type_id: str,
        *,
        examples: list[str] | None = None,
        counter_examples: list[str] | None = None,
        idempotency_key: str | None = None,
    ) -> ClauseType:
        """Add passages and train again; jobs use the previous head until the new one is ready. The last answer
        on a passage wins; when every passage is already stored as given, nothing trains (`version` unchanged),
        unless the last training failed: then it trains again."""
        body = _body(examples=examples, counter_examples=counter_examples)
        data = self._t.request(
            "POST",
            f"clause_types/{_segment(clause_type_id)}/examples",
            json_body=body,
            idempotency_key=idempotency_key,
        ).data
        return ClauseType.from_dict(data)

    def wait(
        self,
        clause_type_id: str,
        *,
        on_progress: Callable[[ClauseType], None] | None = None,
        interval: float = 0.5,
        timeout: float | None = 600,
    ) -> ClauseType:
        """Poll until the clause type is `ready` (with its cross-validated precision and recall) or `failed`."""
        return _wait(lambda: self.get(clause_type_id), lambda c: c.done, on_progress, interval, timeout)


class Search(Resource):
    def __call__(
        self, query: str, *, k: int | None = None, documents: list[str] | None = None
    ) -> list[SearchHit]:
        """Semantic search over the tenant's chunks (or those of `documents`), best first."""
        body = _body(query=query, k=k, documents=documents)
        return [
            SearchHit.from_dict(hit) for hit in self._t.request("POST", "search", json_body=body).data["data"]
        ]

    query = __call__


class WebhookEndpoints(Resource):
    def create(
        self,
        url: str,
        event_types: list[str],
        *,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> WebhookEndpoint:
        """An endpoint; its `secret` (`whsec_...`) is in this answer only."""
        body = _body(url=url, event_types=list(event_types), description=description)
        data = self._t.request(
            "POST", "webhook_endpoints", json_body=body, idempotency_key=idempotency_key
        ).data
        return WebhookEndpoint.from_dict(data)

    def get(self, endpoint_id: str) -> WebhookEndpoint:
        return WebhookEndpoint.from_dict(
            self._t.request("GET", f"webhook_endpoints/{_segment(endpoint_id)}").data
        )

    def list(self, *, limit: int | None = None, **filters: Any) -> Page[WebhookEndpoint]:
        return list_page(self._t, "webhook_endpoints", WebhookEndpoint.from_dict, {"limit": limit, **filters})

    def update(
        self, endpoint_id: str, *, idempotency_key: str | None = None, **changes: Any
    ) -> WebhookEndpoint:
        """`url=`, `event_types=`, `description=`, `enabled=`."""
        data = self._t.request(
            "PATCH",
            f"webhook_endpoints/{_segment(endpoint_id)}",
            json_body=_body(**changes),
            idempotency_key=idempotency_key,
        ).data
        return WebhookEndpoint.from_dict(data)

    def delete(self, endpoint_id: str, *, idempotency_key: str | None = None) -> Deleted:
        path = f"webhook_endpoints/{_segment(endpoint_id)}"
        return Deleted.from_dict(self._t.request("DELETE", path, idempotency_key=idempotency_key).data)

    def rotate_secret(
        self, endpoint_id: str, *, grace_period_seconds: int | None = None, idempotency_key: str | None = None
    ) -> WebhookEndpoint:
        body = _body(grace_period_seconds=grace_period_seconds)
        data = self._t.request(
            "POST",
            f"webhook_endpoints/{_segment(endpoint_id)}/rotate_secret",
            json_body=body,
            idempotency_key=idempotency_key,
        ).data
        return WebhookEndpoint.from_dict(data)

    def test(self, endpoint_id: str, *, idempotency_key: str | None = None) -> Delivery:
        """Send a `webhook.test` event to this endpoint."""
        path = f"webhook_endpoints/{_segment(endpoint_id)}/test"
        return Delivery.from_dict(self._t.request("POST", path, idempotency_key=idempotency_key).data)

    def deliveries(self, endpoint_id: str, *, limit: int | None = None) -> Page[Delivery]:
        return list_page(
            self._t,
            f"webhook_endpoints/{_segment(endpoint_id)}/deliveries",
            Delivery.from_dict,
            {"limit": limit},
        )


class ApiKeys(Resource):
    """The workspace's API keys; an admin key manages them."""

    def create(self, name: str, *, role: str | None = None, idempotency_key: str | None = None) -> ApiKey:
        """A new key; its `secret` is in this answer only."""
        body = _body(name=name, role=role)
        data = self._t.request("POST", "api_keys", json_body=body, idempotency_key=idempotency_key).data
        return ApiKey.from_dict(data)

    def get(self, key_id: str) -> ApiKey:
        return ApiKey.from_dict(self._t.request("GET", f"api_keys/{_segment(key_id)}").data)

    def list(self, *, limit: int | None = None) -> Page[ApiKey]:
        return list_page(self._t, "api_keys", ApiKey.from_dict, {"limit": limit})

    def update(
        self,
        key_id: str,
        *,
        role: str | None = None,
        version: str | None = None,
        idempotency_key: str | None = None,
    ) -> ApiKey:
        """Another role, or the API version the key's requests get from now on (docs/versioning.md)."""
        body = _body(role=role, version=version)
        data = self._t.request(
            "POST", f"api_keys/{_segment(key_id)}", json_body=body, idempotency_key=idempotency_key
        ).data
        return ApiKey.from_dict(data)

    def revoke(self, key_id: str, *, idempotency_key: str | None = None) -> ApiKey:
        return ApiKey.from_dict(
            self._t.request("DELETE", f"api_keys/{_segment(key_id)}", idempotency_key=idempotency_key).data
        )


class WorkspaceResource(Resource):
    """The key's workspace and its settings: any key reads them, an admin key changes them."""

    def get(self) -> Workspace:
        return Workspace.from_dict(self._t.request("GET", "workspace").data)

    def update(
        self,
        *,
        retention_days: int | object | None = KEEP,
        ocr_languages: str | object = KEEP,
        ocr_pictures: str | object = KEEP,
        idempotency_key: str | None = None,
    ) -> Workspace:
        """Keep data `retention_days` days (None: until deleted), read scans in `ocr_languages`, read the
        pictures of Office documents `ocr_pictures` ("textless", "always" or "never"; "" for the deployment's
        either way); a setting left out stays as it is."""
        settings = {
            "retention_days": retention_days,
            "ocr_languages": ocr_languages,
            "ocr_pictures": ocr_pictures,
        }
        body = {name: value for name, value in settings.items() if value is not KEEP}
        data = self._t.request("POST", "workspace", json_body=body, idempotency_key=idempotency_key).data
        return Workspace.from_dict(data)


class Events(Resource):
    def list(self, *, type: str | None = None, limit: int | None = None, **filters: Any) -> Page[Event]:
        return list_page(self._t, "events", Event.from_dict, {"type": type, "limit": limit, **filters})

    def get(self, event_id: str) -> Event:
        return Event.from_dict(self._t.request("GET", f"events/{_segment(event_id)}").data)

    def deliveries(self, event_id: str, *, limit: int | None = None) -> Page[Delivery]:
        return list_page(
            self._t, f"events/{_segment(event_id)}/deliveries", Delivery.from_dict, {"limit": limit}
        )

    def replay(
        self, event_id: str, *, endpoint: str | None = None, idempotency_key: str | None = None
    ) -> list[Delivery]:
        data = self._t.request(
            "POST",
            f"events/{_segment(event_id)}/replay",
            json_body=_body(endpoint=endpoint),
            idempotency_key=idempotency_key,
        ).data
        return [Delivery.from_dict(row) for row in data["data"]]


class Models(Resource):
    def list(self) -> Page[Model]:
        """Every model file of the deployment, with its provenance and whether it is loaded."""
        return list_page(self._t, "models", Model.from_dict, {})

    def get(self, model_id: str) -> Model:
        """One model, with its model card and every training document or claim."""
        return Model.from_dict(self._t.request("GET", f"models/{_segment(model_id)}").data)


class UsageResource(Resource):
    def get(self, *, start: Any = None, end: Any = None, group_by: str | None = None) -> Usage:
        """Usage between `start` and `end` (datetimes or ISO strings; default the last 30 days), by `day`
        or `kind`."""
        params = {"from": start, "to": end, "group_by": group_by}
        return Usage.from_dict(self._t.request("GET", "usage", params=params).data)

    __call__ = get
