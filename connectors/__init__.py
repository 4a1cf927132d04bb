"""Vertical connectors (legal, earnings, literature) and the user-defined review and ask: the registry and
`run_connector`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from common.licences import ShippedModel
from connectors.base import (
    MODES,
    OUTPUT_VERSION,
    Connector,
    Document,
    Embed,
    Progress,
    Retrieve,
    RunContext,
    _no_progress,
    plan_context,
    prepare_documents,
)
from connectors.earnings import learned as earnings_learned
from connectors.earnings.connector import EarningsConnector
from connectors.legal import learned as legal_learned
from connectors.legal.connector import LegalConnector
from connectors.literature import learned as literature_learned
from connectors.literature.connector import LiteratureConnector
from connectors.model import context_record
from connectors.review.connector import AskConnector, ReviewConnector
from connectors.spans import Verification, verify

if TYPE_CHECKING:
    from inference.client import InferenceClient

CONNECTORS: dict[str, Connector] = {
    connector.name: connector
    for connector in (
        LegalConnector(),
        EarningsConnector(),
        LiteratureConnector(),
        ReviewConnector(),
        AskConnector(),
    )
}


def shipped_models() -> list[ShippedModel]:
    """The verticals' learned weights: what each was trained on, its licence, whether this deployment loads it."""
    return [module.provenance() for module in (legal_learned, earnings_learned, literature_learned)]


def get_connector(name: str) -> Connector:
    try:
        return CONNECTORS[name]
    except KeyError:
        raise ValueError(f"unknown connector {name!r}; known: {', '.join(sorted(CONNECTORS))}") from None


def in_reading_order(output: dict) -> dict:
    """`output` with its top-level keys in its connector's reading order (`Connector.sections`), the others after
    them as given: stored as jsonb, a result comes back with its keys sorted by length."""
    try:
        order = get_connector(str(output.get("connector"))).sections
    except ValueError:
        order = ()
    keys = sorted(output, key=lambda key: order.index(key) if key in order else len(order))
    return {key: output[key] for key in keys}


def run_connector(
    name: str,
    documents: list[Document],
    *,
    options: dict | None = None,
    mode: str = "analyzers",
    client: InferenceClient | None = None,
    progress: Progress | None = None,
    context: dict | None = None,
    embed: Embed | None = None,
    retrieve: Retrieve | None = None,
    prior: dict | None = None,
    clause_heads: dict | None = None,
    on_row: Callable[[int, dict], None] | None = None,
    cancel_check: Callable[[], None] | None = None,
    on_verified: Callable[[Verification], None] | None = None,
) -> dict:
    """Run connector `name` over `documents` and return the JSON object of CONNECTORS.md.

    `context` is the plan of each document (`connectors.base.plan_context`); `embed` turns texts into
    L2-normalised vectors (custom clause heads, literature, review questions), by default
    `inference.client.embed_local`; `retrieve` finds a question's chunks for documents planned `rag`. The
    result's `context` records what was really read.
    `prior` is the result of an earlier run this one extends (a review reuses its unchanged cells);
    `clause_heads` holds the custom clause types the options name, by key (`connectors.legal.custom`);
    `on_row` is handed each row of a review as soon as its document is done; `cancel_check` raises once the
    run is to stop (asked before each model call); `on_verified` is handed what verifying the run's spans did
    (spans checked, moved onto their quotes, left unverified).
    """
    connector = get_connector(name)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if options is not None and not isinstance(options, dict):
        raise ValueError("options must be a dict")
    checked = connector.validate_options(dict(options or {}))
    prepared = prepare_documents(documents)
    report = progress or _no_progress
    warnings: list[str] = []
    if mode == "model" and client is None:
        warnings.append("model mode was asked for but no inference server is configured; analyzers only")
        mode = "analyzers"
    run = RunContext(
        mode=mode,
        client=client,
        progress=report,
        plan=plan_context(prepared, context),
        embed=embed or _local_embedder(),
        warnings=warnings,
        retrieve=retrieve,
        prior=prior,
        clause_heads=dict(clause_heads or {}),
        on_row=on_row,
        cancel_check=cancel_check,
    )
    report(0.0, "start")
    verified = verify(
        connector.run(prepared, checked, run),
        {document.document_id: document.text for document in prepared},
        policy="repair",
    )
    if on_verified is not None:
        on_verified(verified)
    for problem in verified.problems:
        run.warn(f"unverified span: {problem}")
    settled = connector.settle(verified.output)
    report(1.0, "done")
    return {
        "connector": connector.name,
        "version": OUTPUT_VERSION,
        "mode": run.mode,
        "context": context_record(run, prepared),
        "warnings": [*run.warnings, *(settled.pop("warnings", None) or [])],
        **settled,
    }


def _local_embedder() -> Embed:
    from inference.client import embed_local

    return embed_local


__all__ = ["CONNECTORS", "Connector", "Document", "get_connector", "run_connector"]
