"""`quire`: the command line (typer + rich; `pip install 'quire-sdk[cli]'`).

Exit codes: 0 done, 1 the API refused or failed (or a job or document ended failed), 2 a usage error
(including no API key). `--json` prints machine-readable output on stdout.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import re
import shlex
import signal
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, is_dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any, NoReturn

try:
    import typer
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
    from rich.table import Table
    from rich.text import Text
except ImportError as exc:  # pragma: no cover - the SDK without its cli extra
    raise SystemExit("the quire command needs its extra: pip install 'quire-sdk[cli]'") from exc

from quire_sdk.client import DEFAULT_BASE_URL, Quire
from quire_sdk.config import config_path, load_config, save_config
from quire_sdk.errors import APIStatusError, QuireError, WaitTimeout
from quire_sdk.export import FORMATS, export_result
from quire_sdk.resources import KEEP, content_type_checked
from quire_sdk.types import ApiKey, ApiObject, ClauseType, Document, DocumentBatch, Job, JobResult, Workspace
from quire_sdk.webhooks import WebhookVerificationError, secret_key, verify

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Quire's API from the command line.")
documents_app = typer.Typer(no_args_is_help=True, help="Upload, list and read documents.")
jobs_app = typer.Typer(no_args_is_help=True, help="Run connectors over documents.")
webhooks_app = typer.Typer(no_args_is_help=True, help="Receive and test webhooks.")
clause_types_app = typer.Typer(no_args_is_help=True, help="Teach custom clause types from example passages.")
api_keys_app = typer.Typer(no_args_is_help=True, help="Manage the workspace's API keys (an admin key).")
workspace_app = typer.Typer(
    no_args_is_help=True, help="The workspace's settings (an admin key changes them)."
)
app.add_typer(documents_app, name="documents")
app.add_typer(jobs_app, name="jobs")
app.add_typer(clause_types_app, name="clause-types")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(api_keys_app, name="api-keys")
app.add_typer(workspace_app, name="workspace")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout, for scripts.")]
MetadataOpt = Annotated[
    list[str] | None,
    typer.Option("--metadata", "-m", help="KEY=VALUE, repeatable (servers that support it)."),
]
TimeoutOpt = Annotated[
    int,
    typer.Option(
        "--timeout", min=0, help="Seconds --wait waits; past them it exits with 1, the work goes on."
    ),
]


@dataclass
class Settings:
    api_key: str | None
    base_url: str | None


def _out() -> Console:
    """Standard output. Text is printed as it is: filenames, quotes and messages are never read as markup."""
    return Console(highlight=False, soft_wrap=True, markup=False, emoji=False)


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True, markup=False, emoji=False)


def _red(label: str, rest: Any) -> Text:
    return Text.assemble((label, "red"), f" {rest}")


def _plain(value: Any) -> Any:
    if isinstance(value, ApiObject):
        return value.raw
    if is_dataclass(value):
        return asdict(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(_plain(value), indent=2, default=str) + "\n")
    sys.stdout.flush()


def _metadata(pairs: list[str] | None) -> dict | None:
    if not pairs:
        return None
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--metadata")
        result[key] = value
    return result


def _content_type_option(value: str | None) -> str | None:
    try:
        return content_type_checked(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _fail(json_output: bool, error_type: str, message: str, **fields: Any) -> NoReturn:
    """Print an error, with `--json` as `{"error": {type, code, message, param, status, request_id, ...}}`
    (None where it has no such thing), and exit with 1."""
    if json_output:
        shape = dict.fromkeys(("type", "code", "message", "param", "status", "request_id"))
        _print_json({"error": {**shape, "type": error_type, "message": message, **fields}})
    else:
        _err().print(_red("Error:", message))
    raise typer.Exit(1) from None


def api_command(group: typer.Typer, name: str | None = None, **kwargs: Any):
    """A command whose API errors, unreachable server and `--wait` past its `--timeout` print (as JSON with
    `--json`) and exit with 1."""

    def register(func):
        @functools.wraps(func)
        def wrapper(*args: Any, **params: Any):
            json_output = bool(params.get("json_output"))
            try:
                return func(*args, **params)
            except APIStatusError as exc:
                message = exc.message if json_output else str(exc)
                error = {
                    "code": exc.code,
                    "param": exc.param,
                    "status": exc.status,
                    "request_id": exc.request_id,
                }
                _fail(json_output, exc.type, message, **error)
            except WaitTimeout as exc:
                last = {"id": getattr(exc.last, "id", None), "last_status": getattr(exc.last, "status", None)}
                _fail(
                    json_output,
                    "wait_timeout",
                    f"{exc}; it goes on on the server (--timeout waits longer)",
                    **last,
                )
            except QuireError as exc:
                _fail(json_output, "connection_error", str(exc))

        return group.command(name, **kwargs)(wrapper)

    return register


def client(ctx: typer.Context) -> Quire:
    """The client for `--api-key`/`QUIRE_API_KEY` (else the stored login) and the same for the base URL."""
    settings: Settings = ctx.find_root().obj or Settings(None, None)
    stored = load_config()
    api_key = settings.api_key or stored.get("api_key")
    if not api_key:
        raise typer.BadParameter(
            "no API key: run `quire login`, pass --api-key or set QUIRE_API_KEY", param_hint="--api-key"
        )
    try:
        return Quire(
            api_key=api_key, base_url=settings.base_url or stored.get("base_url") or DEFAULT_BASE_URL
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--base-url") from None


@app.callback()
def root(
    ctx: typer.Context,
    api_key: Annotated[str | None, typer.Option(envvar="QUIRE_API_KEY", help="API key (qk_...).")] = None,
    base_url: Annotated[
        str | None, typer.Option(envvar="QUIRE_BASE_URL", help="Server, e.g. https://quire.example.com.")
    ] = None,
) -> None:
    ctx.obj = Settings(api_key, base_url)


@api_command(app)
def login(
    ctx: typer.Context,
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="The key; asked for when not given.")
    ] = None,
    base_url: Annotated[str | None, typer.Option("--base-url")] = None,
    verify_key: Annotated[
        bool, typer.Option("--verify/--no-verify", help="Check the key with /v1/health.")
    ] = True,
    json_output: JsonOpt = False,
) -> None:
    """Store an API key and base URL in the config dir (file mode 0600)."""
    settings: Settings = ctx.find_root().obj
    api_key = api_key or settings.api_key or typer.prompt("API key", hide_input=True)
    base_url = base_url or settings.base_url or load_config().get("base_url") or DEFAULT_BASE_URL
    if verify_key:
        with Quire(api_key=api_key, base_url=base_url, max_retries=1) as quire:
            quire.health()
    try:
        path = save_config({"api_key": api_key, "base_url": base_url})
    except OSError as exc:
        _fail(
            json_output,
            "config_error",
            f"cannot store the login in {config_path()}: {exc.strerror or exc}; set XDG_CONFIG_HOME to a "
            "folder you can write, or give --api-key (or QUIRE_API_KEY) to each command",
        )
    if json_output:
        _print_json({"config": str(path), "base_url": base_url})
    else:
        _out().print(f"Logged in to {base_url}; key stored in {path}")


def _status_table(docs: list[Document]) -> Table:
    table = Table()
    table.add_column("id", no_wrap=True)
    for name in ("filename", "status", "pages", "chunks"):
        table.add_column(name, overflow="fold")
    for doc in docs:
        table.add_row(doc.id, doc.filename, doc.status, str(doc.page_count or ""), str(doc.chunk_count or ""))
    return table


def _upload_name(path: Path) -> str:
    """The name a file is uploaded under: its path from the current directory (`deal/2023/nda.txt`), so that
    same-named files of different folders stay apart; only its name for a file outside it."""
    try:
        return Path(os.path.abspath(path)).relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.name


def _batch_counts(batch: DocumentBatch) -> str:
    made = len(batch.documents)
    return f"{made} document{'' if made == 1 else 's'}, {len(batch.refused)} refused"


@api_command(documents_app, "upload")
def documents_upload(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
    wait: Annotated[bool, typer.Option("--wait", help="Wait until each is ready (or failed).")] = False,
    timeout: TimeoutOpt = 600,
    content_type: Annotated[
        str | None, typer.Option(help="Declared type for every file.", callback=_content_type_option)
    ] = None,
    metadata: MetadataOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Upload files, a progress bar per file and one overall. A ZIP, or an mbox of several messages, is a batch: each of its files
    (messages) becomes a document, and the files refused are listed."""
    quire = client(ctx)
    meta = _metadata(metadata)
    uploaded: list[tuple[Document, int, str]] = []
    batches: list[tuple[Path, DocumentBatch]] = []
    with Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[state]}", markup=False),
        console=_err(),
        disable=json_output,
    ) as progress:
        overall = progress.add_task("all files", total=len(paths) * (2 if wait else 1), state="")
        tasks = [progress.add_task(_upload_name(path), total=None, state="waiting") for path in paths]
        for path, task in zip(paths, tasks, strict=True):

            def sent(done: int, total: int, task: int = task) -> None:
                progress.update(task, completed=done, total=total, state="uploading")

            answer = quire.documents.create(
                file=path,
                filename=_upload_name(path),
                content_type=content_type,
                metadata=meta,
                on_upload_progress=sent,
            )
            if isinstance(answer, DocumentBatch):
                batches.append((path, answer))
                uploaded += [(doc, task, f"{doc.filename}: ") for doc in answer.documents]
                state = _batch_counts(answer)
            else:
                uploaded.append((answer, task, ""))
                state = answer.status
            progress.update(task, state=state)
            progress.advance(overall)
        if wait:
            progress.update(overall, total=len(paths) + len(uploaded))
            for index, (doc, task, name) in enumerate(uploaded):

                def moved(current: Document, task: int = task, name: str = name) -> None:
                    progress.update(task, state=name + current.status)

                uploaded[index] = (quire.documents.wait(doc.id, on_change=moved, timeout=timeout), task, name)
                progress.advance(overall)
    docs = [doc for doc, _, _ in uploaded]
    refused = [(path, batch, file) for path, batch in batches for file in batch.refused]
    failed = [doc for doc in docs if doc.status == "failed"]
    if json_output:
        _print_json(docs)
        if refused:
            files = [{**file.raw, "upload": str(path), "batch_id": batch.id} for path, batch, file in refused]
            sys.stderr.write(json.dumps({"refused": files}, indent=2) + "\n")
    else:
        _out().print(_status_table(docs))
        for path, batch in batches:
            _out().print(f"{_upload_name(path)}: batch {batch.id}, {_batch_counts(batch)}")
        for doc in failed:
            _err().print(_red(f"{doc.filename} failed:", doc.failure_reason))
        for path, _, file in refused:
            _err().print(
                _red(f"{file.filename} ({_upload_name(path)}) refused:", f"{file.message} ({file.code})")
            )
    if failed or refused:
        raise typer.Exit(1)


@api_command(documents_app, "list")
def documents_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 20,
    status: Annotated[str | None, typer.Option(help="Only this status (servers that filter).")] = None,
    json_output: JsonOpt = False,
) -> None:
    """Documents, newest first."""
    page = client(ctx).documents.list(limit=min(limit, 100), status=status)
    docs = list(itertools.islice(page, limit))
    _print_json(docs) if json_output else _out().print(_status_table(docs))


@api_command(documents_app, "get")
def documents_get(ctx: typer.Context, document_id: str, json_output: JsonOpt = False) -> None:
    """One document."""
    doc = client(ctx).documents.get(document_id)
    _print_json(doc) if json_output else _out().print(_status_table([doc]))


@api_command(documents_app, "delete")
def documents_delete(ctx: typer.Context, document_id: str, json_output: JsonOpt = False) -> None:
    """Delete a document."""
    deleted = client(ctx).documents.delete(document_id)
    _print_json(deleted) if json_output else _out().print(f"Deleted {deleted.id}")


@api_command(documents_app, "text")
def documents_text(
    ctx: typer.Context,
    document_id: str,
    start: Annotated[int | None, typer.Option()] = None,
    end: Annotated[int | None, typer.Option()] = None,
    json_output: JsonOpt = False,
) -> None:
    """A document's text, or a range of it."""
    text = client(ctx).documents.text(document_id, start=start, end=end)
    _print_json(text) if json_output else sys.stdout.write(text.text + "\n")


@api_command(documents_app, "download")
def documents_download(
    ctx: typer.Context,
    document_id: str,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Where to write it (default: its filename here; - for stdout)."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace a file already there.")] = False,
    json_output: JsonOpt = False,
) -> None:
    """The file a document was uploaded as, byte for byte."""
    api = client(ctx)
    if output is None:
        name = "".join(
            c
            for c in api.documents.get(document_id).filename.replace("\\", "/").rsplit("/", 1)[-1]
            if c.isprintable()
        )
        output = Path(name.strip(" .") or document_id)
    _refuse_overwrite(output, force, json_output)
    _write_download(document_id, api.documents.content(document_id), output, json_output)


def _refuse_overwrite(output: Path, force: bool, json_output: bool) -> None:
    """Stop (`file_exists`) where `output` is a file already there and `--force` was not given."""
    if str(output) != "-" and output.exists() and not force:
        _fail(
            json_output, "file_exists", f"{output} is already there (--force replaces it)", path=str(output)
        )


def _write_download(object_id: str, content: bytes, output: Path, json_output: bool) -> None:
    """`content` written to `output` (`-`: stdout, as it is), and what was written said."""
    if str(output) == "-":
        sys.stdout.buffer.write(content)
        sys.stdout.flush()
        return
    output.write_bytes(content)
    if json_output:
        _print_json({"id": object_id, "path": str(output), "bytes": len(content)})
    else:
        _out().print(f"{len(content)} bytes written to {output}")


def _job_summary(job: Job) -> str:
    line = f"{job.id} {job.connector} {job.status}"
    if job.result is not None:
        line += f": {len(job.result.findings())} findings, {job.result.spans_checked} spans checked"
    if job.error:
        line += f": {job.error}"
    return line


def _check_export(export: Path | None) -> None:
    if export is not None and export.suffix.lower() not in FORMATS:
        raise typer.BadParameter(f"the file must end in {', '.join(FORMATS)}", param_hint="--export")


QUOTE_SHOWN = 160


def _findings_table(result: JobResult, limit: int) -> Table | None:
    findings = result.findings()
    if not findings or limit <= 0:
        return None
    shown = findings[:limit]
    columns = {
        "section": lambda f: f.section,
        "label": lambda f: f.label,
        "document": lambda f: f.document_id,
        "quote": lambda f: _shortened(f.quote),
        "confidence": lambda f: "" if f.confidence is None else f"{f.confidence:.2f}",
        "severity": lambda f: f.severity or "",
    }
    if len({f.document_id for f in findings}) == 1:
        del columns["document"]
    for name in ("confidence", "severity"):
        if not any(columns[name](f) for f in shown):
            del columns[name]
    more = len(findings) - len(shown)
    table = Table(*columns, caption=f"{more} more: --limit N, --export FILE or --json" if more else None)
    for finding in shown:
        table.add_row(*(read(finding) for read in columns.values()))
    return table


def _shortened(quote: str) -> str:
    quote = " ".join(quote.split())
    return quote if len(quote) <= QUOTE_SHOWN else quote[: QUOTE_SHOWN - 1] + "…"


def _finish_job(job: Job, export: Path | None, json_output: bool, limit: int) -> None:
    rows = export_result(job.result, export) if export is not None and job.result is not None else None
    if json_output:
        _print_json({"job": job.raw, "result": job.result.raw if job.result else None, "exported": rows})
    else:
        table = _findings_table(job.result, limit) if job.result is not None else None
        if table is not None:
            _out().print(table)
        _out().print(_job_summary(job))
        if rows is not None:
            _out().print(f"{rows} findings written to {export}")
    if job.status in ("failed", "canceled"):
        raise typer.Exit(1)


LimitOpt = Annotated[int, typer.Option("--limit", help="How many findings to print (0: none).")]


@api_command(jobs_app, "run")
def jobs_run(
    ctx: typer.Context,
    connector: Annotated[str, typer.Argument(help="legal, earnings, literature, review or ask.")],
    documents: Annotated[list[str], typer.Argument(help="Document ids.")],
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Follow the job to its end.")] = False,
    timeout: TimeoutOpt = 1800,
    options: Annotated[str | None, typer.Option(help="Connector options as JSON.")] = None,
    mode: Annotated[str | None, typer.Option(help="analyzers or model.")] = None,
    export: Annotated[Path | None, typer.Option(help="Write the findings to .xlsx, .csv or .json.")] = None,
    metadata: MetadataOpt = None,
    limit: LimitOpt = 50,
    json_output: JsonOpt = False,
) -> None:
    """Start a job; with --wait, a progress bar until it ends, then the findings (and --export)."""
    _check_export(export)
    if export is not None and not wait:
        raise typer.BadParameter("--export needs --wait", param_hint="--export")
    try:
        parsed_options = json.loads(options) if options else None
    except ValueError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="--options") from None
    quire = client(ctx)
    job = quire.jobs.create(
        connector, documents, options=parsed_options, mode=mode, metadata=_metadata(metadata)
    )
    if wait:
        with Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            TaskProgressColumn(),
            console=_err(),
            disable=json_output,
        ) as progress:
            task = progress.add_task(f"{job.id} queued", total=1.0)

            def moved(current: Job) -> None:
                progress.update(
                    task,
                    completed=current.progress or 0.0,
                    description=f"{current.id} {current.stage or current.status}",
                )

            job = quire.jobs.wait(job.id, on_progress=moved, timeout=timeout)
    _finish_job(job, export, json_output, limit)


@api_command(jobs_app, "list")
def jobs_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 20,
    status: Annotated[
        str | None, typer.Option(help="Only this status: queued, running, succeeded, ...")
    ] = None,
    connector: Annotated[str | None, typer.Option(help="Only this connector.")] = None,
    json_output: JsonOpt = False,
) -> None:
    """Jobs, newest first."""
    filters = {name: value for name, value in (("status", status), ("connector", connector)) if value}
    page = client(ctx).jobs.list(limit=min(limit, 100), **filters)
    jobs = list(itertools.islice(page, limit))
    if json_output:
        _print_json(jobs)
        return
    table = Table("id", "connector", "status", "documents", "created")
    for job in jobs:
        table.add_row(job.id, job.connector, job.status, str(len(job.documents)), job.created_at or "")
    _out().print(table)


@api_command(jobs_app, "get")
def jobs_get(ctx: typer.Context, job_id: str, json_output: JsonOpt = False) -> None:
    """A job's status, stage and progress."""
    job = client(ctx).jobs.get(job_id)
    _print_json(job) if json_output else _out().print(
        f"{_job_summary(job)} ({job.stage or '-'}, {job.progress:.0%})"
    )


@api_command(jobs_app, "result")
def jobs_result(
    ctx: typer.Context,
    job_id: str,
    export: Annotated[Path | None, typer.Option(help="Write the findings to .xlsx, .csv or .json.")] = None,
    limit: LimitOpt = 50,
    json_output: JsonOpt = False,
) -> None:
    """A finished job's verified findings, one row a span (and --export)."""
    _check_export(export)
    quire = client(ctx)
    job = quire.jobs.get(job_id)
    job.result = quire.jobs.result(job_id)
    _finish_job(job, export, json_output, limit)


@api_command(jobs_app, "grid")
def jobs_grid(
    ctx: typer.Context,
    job_id: str,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The .csv or .xlsx file to write (- for stdout: CSV).")
    ],
    force: Annotated[bool, typer.Option(help="Replace a file already there.")] = False,
    json_output: JsonOpt = False,
) -> None:
    """A finished review's grid, as the portal downloads it: a row a document, each cell's value (a
    reviewer's correction in its place), status and citations."""
    to_stdout = str(output) == "-"
    if not to_stdout and output.suffix.lower() not in (".csv", ".xlsx"):
        raise typer.BadParameter("the file must end in .csv or .xlsx", param_hint="--output")
    _refuse_overwrite(output, force, json_output)
    content = client(ctx).jobs.grid(job_id, format="csv" if to_stdout else output.suffix.lower()[1:])
    _write_download(job_id, content, output, json_output)


@api_command(jobs_app, "cancel")
def jobs_cancel(ctx: typer.Context, job_id: str, json_output: JsonOpt = False) -> None:
    """Cancel a queued or running job."""
    job = client(ctx).jobs.cancel(job_id)
    _print_json(job) if json_output else _out().print(_job_summary(job))


PassagesOpt = Annotated[
    Path | None,
    typer.Option(
        exists=True,
        dir_okay=False,
        help="A file of passages: separated by blank lines, or a .json list of strings.",
    ),
]


def _passages(path: Path | None, hint: str) -> list[str] | None:
    """The passages of a UTF-8 file (a BOM, as Windows editors write, is dropped): a JSON list of strings
    (`.json`), else blocks of text between blank lines."""
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise typer.BadParameter(
            f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8", param_hint=hint
        ) from None
    if path.suffix.lower() != ".json":
        return [block.strip() for block in re.split(r"\n\s*\n", text) if block.strip()]
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{path} is not JSON: {exc}", param_hint=hint) from None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise typer.BadParameter(f"{path} must hold a JSON list of strings", param_hint=hint)
    return value


def _clause_type_summary(clause_type: ClauseType) -> str:
    line = f"{clause_type.id} {clause_type.key} {clause_type.status} (version {clause_type.version})"
    if clause_type.precision is not None and clause_type.recall is not None:
        line += f": precision {clause_type.precision:.2f}, recall {clause_type.recall:.2f}"
    line += f", {clause_type.example_count} examples, {clause_type.counter_example_count} counter-examples"
    if clause_type.failure_reason:
        line += f": {clause_type.failure_reason}"
    return line + (f"\n{clause_type.advice}" if clause_type.advice else "")


def _finish_clause_type(
    quire: Quire, clause_type: ClauseType, wait: bool, json_output: bool, timeout: int
) -> None:
    if wait:
        with (
            _err().status(Text(f"training {clause_type.key}"), spinner="dots")
            if not json_output
            else contextlib.nullcontext()
        ):
            clause_type = quire.clause_types.wait(clause_type.id, timeout=timeout)
    _print_json(clause_type) if json_output else _out().print(_clause_type_summary(clause_type))
    if clause_type.status == "failed":
        raise typer.Exit(1)


@api_command(clause_types_app, "create")
def clause_types_create(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Lower-case letters, digits and _, starting with a letter.")],
    name: Annotated[str, typer.Argument(help="The name findings carry.")],
    examples: Annotated[
        Path,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="A file of at least 10 passages: separated by blank lines, or a .json list.",
        ),
    ],
    counter_examples: PassagesOpt = None,
    description: Annotated[str | None, typer.Option()] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the training to end.")] = False,
    timeout: TimeoutOpt = 600,
    json_output: JsonOpt = False,
) -> None:
    """Create a clause type from example passages (a file of them: separated by blank lines, or a .json list);
    it trains on the server, and with --wait its cross-validated precision and recall are printed."""
    quire = client(ctx)
    clause_type = quire.clause_types.create(
        key,
        name,
        _passages(examples, "--examples") or [],
        counter_examples=_passages(counter_examples, "--counter-examples"),
        description=description,
    )
    _finish_clause_type(quire, clause_type, wait, json_output, timeout)


@api_command(clause_types_app, "add-examples")
def clause_types_add_examples(
    ctx: typer.Context,
    clause_type_id: str,
    examples: PassagesOpt = None,
    counter_examples: PassagesOpt = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the training to end.")] = False,
    timeout: TimeoutOpt = 600,
    json_output: JsonOpt = False,
) -> None:
    """Add examples or counter-examples (the near misses `get` lists, answered) and train again."""
    if examples is None and counter_examples is None:
        raise typer.BadParameter("give --examples or --counter-examples", param_hint="--examples")
    quire = client(ctx)
    clause_type = quire.clause_types.add_examples(
        clause_type_id,
        examples=_passages(examples, "--examples"),
        counter_examples=_passages(counter_examples, "--counter-examples"),
    )
    _finish_clause_type(quire, clause_type, wait, json_output, timeout)


@api_command(clause_types_app, "list")
def clause_types_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1)] = 20,
    json_output: JsonOpt = False,
) -> None:
    """The workspace's clause types, newest first."""
    page = client(ctx).clause_types.list(limit=min(limit, 100))
    found = list(itertools.islice(page, limit))
    if json_output:
        _print_json(found)
        return
    for clause_type in found:
        _out().print(_clause_type_summary(clause_type))


@api_command(clause_types_app, "get")
def clause_types_get(ctx: typer.Context, clause_type_id: str, json_output: JsonOpt = False) -> None:
    """One clause type, and the near misses worth an answer (answer them with `answer`, or add-examples)."""
    clause_type = client(ctx).clause_types.get(clause_type_id)
    if json_output:
        _print_json(clause_type)
        return
    _out().print(_clause_type_summary(clause_type))
    if clause_type.near_misses:
        table = Table("score", "document", "passage")
        for near in clause_type.near_misses:
            table.add_row(f"{near['score']:.2f}", near["document"], near["text"][:200])
        _out().print("Passages to check:", table)


@api_command(clause_types_app, "answer")
def clause_types_answer(
    ctx: typer.Context,
    clause_type_id: str,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the training to end.")] = False,
    timeout: TimeoutOpt = 600,
) -> None:
    """Answer the passages to check one by one (its findings in legal jobs and reviews, then its near misses;
    y: is this clause, n: is not, s: skip, q: stop asking), then train again on the answers, as the portal's
    clause type page does."""
    quire = client(ctx)
    clause_type = quire.clause_types.get(clause_type_id)
    asked = quire.clause_types.passages_to_check(clause_type.id)
    if not asked:
        _out().print(f"{clause_type.key} has no passages to check ({clause_type.status}).")
        return
    answers: dict[str, list[str]] = {"y": [], "n": []}
    for number, passage in enumerate(asked, 1):
        found_by = "review" if passage.get("connector") == "review" else "job"
        where = f"found by {found_by} {passage['job']}" if passage["source"] == "finding" else "near miss"
        _out().print(
            f"\n[{number}/{len(asked)}] {where}, {passage['document']}, score {passage['score']:.2f}"
        )
        _out().print(passage["text"])
        correction, default = passage.get("correction"), SUGGESTED_KEYS.get(passage.get("suggested"), "s")
        if correction:
            said = "verified it" if default == "y" else f"corrected it to {correction['corrected_value']!r}"
            _out().print(f"In the review, {correction['by']} {said} (Enter keeps {default}).")
        answer = typer.prompt(
            f"Is this {clause_type.name}? [y/n/s/q]",
            default=default,
            show_default=False,
            value_proc=_one_of("ynsq"),
        )
        if answer == "q":
            break
        answers.get(answer, []).append(passage["text"])
    if not answers["y"] and not answers["n"]:
        _out().print("No answers; nothing trains.")
        return
    clause_type = quire.clause_types.add_examples(
        clause_type.id, examples=answers["y"], counter_examples=answers["n"]
    )
    _finish_clause_type(quire, clause_type, wait, False, timeout)


SUGGESTED_KEYS = {"clause": "y", "not": "n"}


def _one_of(choices: str):
    def check(value: str) -> str:
        value = value.strip().lower()[:1]
        if value not in choices:
            raise typer.BadParameter(f"answer one of {'/'.join(choices)}")
        return value

    return check


@api_command(clause_types_app, "export")
def clause_types_export(
    ctx: typer.Context,
    clause_type_id: str,
    out: Annotated[Path, typer.Option(file_okay=False, help="The folder to write the passages into.")] = Path(
        "."
    ),
) -> None:
    """Write a clause type's examples (and counter-examples) as .json lists into --out, and print the `create`
    command that makes it again, in another workspace for instance."""
    clause_type = client(ctx).clause_types.get(clause_type_id, expand=["examples"])
    out.mkdir(parents=True, exist_ok=True)
    command = ["quire", "clause-types", "create", clause_type.key, clause_type.name]
    for option, passages in (
        ("--examples", clause_type.examples),
        ("--counter-examples", clause_type.counter_examples),
    ):
        if passages:
            path = out / f"{clause_type.key}.{option.strip('-')}.json"
            path.write_text(json.dumps(passages, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
            command += [option, str(path)]
    if clause_type.description:
        command += ["--description", clause_type.description]
    _out().print(shlex.join(command))


@api_command(clause_types_app, "delete")
def clause_types_delete(ctx: typer.Context, clause_type_id: str, json_output: JsonOpt = False) -> None:
    """Delete a clause type; finished jobs keep their findings."""
    deleted = client(ctx).clause_types.delete(clause_type_id)
    _print_json(deleted) if json_output else _out().print(f"Deleted {deleted.id}")


@api_command(app)
def search(
    ctx: typer.Context,
    query: str,
    k: Annotated[int, typer.Option("-k", help="How many passages.")] = 5,
    document: Annotated[
        list[str] | None, typer.Option("--document", "-d", help="Only these documents.")
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Semantic search over your documents' passages."""
    hits = client(ctx).search(query, k=k, documents=document or None)
    if json_output:
        _print_json(hits)
        return
    table = Table("score", "document", "span", "quote")
    for hit in hits:
        table.add_row(f"{hit.score:.3f}", hit.document_id, f"{hit.start}-{hit.end}", hit.quote)
    _out().print(table)


@api_command(app)
def usage(
    ctx: typer.Context,
    start: Annotated[
        str | None, typer.Option("--from", help="ISO date or time (default 30 days ago).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="ISO date or time (default now).")] = None,
    group_by: Annotated[str, typer.Option(help="day or kind.")] = "day",
    json_output: JsonOpt = False,
) -> None:
    """Metered usage over a period."""
    result = client(ctx).usage(start=start, end=end, group_by=group_by)
    if json_output:
        _print_json(result)
        return
    columns = list(result.data[0]) if result.data else [group_by, "quantity"]
    table = Table(*columns, title=f"Usage {result.start} to {result.end}")
    for row in result.data:
        table.add_row(*(str(row.get(column, "")) for column in columns))
    _out().print(table)


@api_command(app)
def models(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """The deployment's models: training data, licence, version and whether each is loaded."""
    found = list(client(ctx).models.list())
    if json_output:
        _print_json(found)
        return
    table = Table("id", "status", "version", "data licences", "training data", title="Models")
    for model in found:
        status = model.status if model.status_reason is None else f"{model.status}: {model.status_reason}"
        table.add_row(model.id, status, model.version or "", ", ".join(model.licences), model.training_data)
    _out().print(table)


def _key_line(key: ApiKey) -> str:
    state = f"revoked {key.revoked_at[:10]}" if key.revoked_at else "active"
    return f"{key.id} {key.display_prefix}… {key.name!r} {key.role}, API version {key.version}, {state}"


@api_command(api_keys_app, "list")
def api_keys_list(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """The workspace's API keys, newest first, each with its role and API version."""
    keys = list(client(ctx).api_keys.list(limit=100))
    if json_output:
        _print_json(keys)
        return
    for key in keys:
        _out().print(_key_line(key))


@api_command(api_keys_app, "create")
def api_keys_create(
    ctx: typer.Context,
    name: str,
    role: Annotated[str, typer.Option(help="admin, developer or viewer.")] = "developer",
    json_output: JsonOpt = False,
) -> None:
    """A new key; its secret is printed this once."""
    key = client(ctx).api_keys.create(name, role=role)
    if json_output:
        _print_json(key)
        return
    _out().print(_key_line(key))
    _out().print(f"Secret (shown once): {key.secret}")


@api_command(api_keys_app, "update")
def api_keys_update(
    ctx: typer.Context,
    key_id: str,
    role: Annotated[str | None, typer.Option(help="admin, developer or viewer.")] = None,
    version: Annotated[
        str | None, typer.Option(help="The API version its requests get from now on (docs/versioning.md).")
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Change a key's role, or move it to another API version."""
    if role is None and version is None:
        raise typer.BadParameter("give --role or --version", param_hint="--version")
    key = client(ctx).api_keys.update(key_id, role=role, version=version)
    _print_json(key) if json_output else _out().print(_key_line(key))


@api_command(api_keys_app, "revoke")
def api_keys_revoke(ctx: typer.Context, key_id: str, json_output: JsonOpt = False) -> None:
    """Revoke a key: its requests fail from now on."""
    key = client(ctx).api_keys.revoke(key_id)
    _print_json(key) if json_output else _out().print(_key_line(key))


def _workspace_print(workspace: Workspace, json_output: bool) -> None:
    if json_output:
        _print_json(workspace)
        return
    kept = f"{workspace.retention_days} days" if workspace.retention_days else "until deleted"
    languages = workspace.ocr_languages or f"the deployment's ({'+'.join(workspace.ocr_languages_available)})"
    pictures = workspace.ocr_pictures or "as the deployment does"
    lines = (
        f"{workspace.id} {workspace.name!r}",
        f"Data kept: {kept}",
        f"Scans read in: {languages}",
        f"Pictures in Office documents read: {pictures}",
    )
    for line in lines:
        _out().print(line)


@api_command(workspace_app, "show")
def workspace_show(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """The key's workspace: how long its data is kept, the languages its scans are read in and when the pictures
    in its Office documents are read."""
    _workspace_print(client(ctx).workspace.get(), json_output)


@api_command(workspace_app, "set")
def workspace_set(
    ctx: typer.Context,
    retention_days: Annotated[
        str | None,
        typer.Option(help="Days documents, finished jobs and events are kept, or 'none' for good."),
    ] = None,
    ocr_languages: Annotated[
        str | None, typer.Option(help="Tesseract's codes joined by '+' (eng+deu); '' for the deployment's.")
    ] = None,
    ocr_pictures: Annotated[
        str | None,
        typer.Option(
            help="When Office documents' pictures are read: textless, always, never; '' for the deployment's."
        ),
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Change the workspace's settings; one left out stays as it is."""
    if retention_days is None and ocr_languages is None and ocr_pictures is None:
        raise typer.BadParameter(
            "give --retention-days, --ocr-languages or --ocr-pictures", param_hint="--retention-days"
        )
    days: object = KEEP
    if retention_days is not None:
        if retention_days.lower() == "none":
            days = None
        elif retention_days.isdigit():
            days = int(retention_days)
        else:
            raise typer.BadParameter(
                f"a number of days or 'none', not {retention_days!r}", param_hint="--retention-days"
            )
    changed = client(ctx).workspace.update(
        retention_days=days,
        ocr_languages=KEEP if ocr_languages is None else ocr_languages,
        ocr_pictures=KEEP if ocr_pictures is None else ocr_pictures,
    )
    _workspace_print(changed, json_output)


@api_command(webhooks_app, "test")
def webhooks_test(ctx: typer.Context, endpoint_id: str, json_output: JsonOpt = False) -> None:
    """Send a webhook.test event to an endpoint."""
    delivery = client(ctx).webhook_endpoints.test(endpoint_id)
    _print_json(delivery) if json_output else _out().print(f"Queued {delivery.event} as {delivery.id}")


class _Receiver(ThreadingHTTPServer):
    daemon_threads = True
    secrets: list[str]
    forward_to: str | None
    report: Any
    remaining: int | None
    done: threading.Event


class _Handler(BaseHTTPRequestHandler):
    server: _Receiver

    def log_message(self, *args: Any) -> None:  # the listener prints its own lines
        pass

    def _answer(self, status: int, body: bytes = b"") -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = list(self.headers.items())
        try:
            event = verify(body, headers, self.server.secrets)
        except WebhookVerificationError as exc:
            self.server.report({"verified": False, "error": str(exc)})
            self._answer(400, json.dumps({"error": str(exc)}).encode())
            return
        status, forwarded = 200, None
        if self.server.forward_to:
            status = forwarded = self._forward(body, headers)
        self.server.report(
            {
                "verified": True,
                "id": self.headers.get("webhook-id"),
                "type": event.get("type"),
                "forwarded": forwarded,
                "event": event,
            }
        )
        self._answer(status, b'{"ok": true}' if status < 300 else b'{"ok": false}')
        if self.server.remaining is not None:
            self.server.remaining -= 1
            if self.server.remaining <= 0:
                self.server.done.set()

    def _forward(self, body: bytes, headers: list[tuple[str, str]]) -> int:
        """POST the same body and headers on; its status (502 when it cannot be reached) is our answer, so
        Quire retries what the local app did not take."""
        keep = {k: v for k, v in headers if k.lower() not in ("host", "content-length", "connection")}
        request = urllib.request.Request(self.server.forward_to, data=body, headers=keep, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return 502


@api_command(webhooks_app, "listen")
def webhooks_listen(
    ctx: typer.Context,
    forward_to: Annotated[str | None, typer.Option(help="Pass each verified event on to this URL.")] = None,
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port of the local receiver (0: any free port).")
    ] = 0,
    host: Annotated[str, typer.Option(help="Address the receiver listens on.")] = "127.0.0.1",
    public_url: Annotated[
        str | None,
        typer.Option(help="URL the server reaches the receiver at (a tunnel); default http://HOST:PORT/."),
    ] = None,
    events: Annotated[
        list[str] | None, typer.Option("--event", "-e", help="Event types (default all).")
    ] = None,
    secret: Annotated[
        str | None,
        typer.Option(envvar="QUIRE_WEBHOOK_SECRET", help="Verify with this secret and create no endpoint."),
    ] = None,
    max_events: Annotated[int | None, typer.Option(help="Exit after this many verified events.")] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Leave the endpoint in place on exit.")] = False,
    json_output: JsonOpt = False,
) -> None:
    """Receive webhooks on a local port, verify each signature and print it (and --forward-to it).

    Without --secret it registers a webhook endpoint for the receiver's URL and deletes it on exit. The
    server must be able to reach that URL: a loopback or private address is accepted only where the server
    sets QUIRE_WEBHOOKS_ALLOW_PRIVATE (the default in development); elsewhere give --public-url.
    """
    if secret:
        try:
            secret_key(secret)
        except WebhookVerificationError as exc:
            raise typer.BadParameter(str(exc), param_hint="--secret") from None
    try:
        server = _Receiver((host, port), _Handler)
    except OSError as exc:
        raise typer.BadParameter(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}", param_hint="--port"
        ) from None
    url = (
        public_url or f"http://{'127.0.0.1' if host in ('', '0.0.0.0') else host}:{server.server_address[1]}/"
    )
    lock = threading.Lock()

    def report(line: dict) -> None:
        with lock:
            if json_output:
                sys.stdout.write(json.dumps(line, default=str) + "\n")
                sys.stdout.flush()
            elif line.get("verified"):
                forwarded = f" -> {line['forwarded']}" if line["forwarded"] is not None else ""
                _out().print(Text.assemble(("verified", "green"), f" {line['id']} {line['type']}{forwarded}"))
            else:
                _err().print(_red("rejected", line["error"]))

    server.report, server.forward_to, server.remaining, server.done = (
        report,
        forward_to,
        max_events,
        threading.Event(),
    )
    quire = None
    endpoint = None
    if secret:
        server.secrets = [secret]
    else:
        quire = client(ctx)
        try:
            endpoint = quire.webhook_endpoints.create(
                url, events or ["*"], description="quire webhooks listen"
            )
        except APIStatusError as exc:
            server.server_close()
            if exc.code == "url_not_allowed":
                exc.message += (
                    " The server refuses private and loopback addresses unless QUIRE_WEBHOOKS_ALLOW_PRIVATE is"
                    " set; give --public-url (a tunnel) instead."
                )
            raise
        server.secrets = [endpoint.secret or ""]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    previous = signal.signal(signal.SIGTERM, lambda *_: server.done.set())
    report_start = {"listening": url, "endpoint": endpoint.id if endpoint else None, "forward_to": forward_to}
    if json_output:
        sys.stdout.write(json.dumps(report_start) + "\n")
        sys.stdout.flush()
    else:
        _out().print(
            f"Listening on {url}" + (f" (endpoint {endpoint.id})" if endpoint else "") + "; Ctrl-C stops."
        )
    try:
        while not server.done.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.shutdown()
        server.server_close()
        if endpoint is not None and quire is not None and not keep:
            quire.webhook_endpoints.delete(endpoint.id)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
