"""A connector result verified and settled the way the platform does before it stores a job's result, with
some of its spans first made unverifiable."""

from __future__ import annotations

from connectors import get_connector
from connectors.spans import Verification, verify

LOST_QUOTE = "a quote that is in no document"


def lose(spans: list[dict]) -> None:
    """Make each of `spans` unverifiable: its quote is nowhere in its document."""
    for span in spans:
        span["quote"] = LOST_QUOTE


def stored(connector: str, result: dict, texts: dict[str, str]) -> Verification:
    """`result` verified with `drop` and settled by its connector, as the platform stores it."""
    report = verify(result, texts, policy="drop")
    get_connector(connector).settle(report.output)
    return report
