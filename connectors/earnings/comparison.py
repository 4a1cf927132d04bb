"""Several calls of one company lined up by period: each KPI call over call, last quarter's guidance against
the result reported now, Q&A topics that appeared or disappeared, and the change in tone."""

from __future__ import annotations

import itertools
import re

from connectors.earnings.periods import period_mention
from connectors.earnings.tables import is_per_share

KPI_ORDER = (
    "revenue",
    "adjusted_eps",
    "eps",
    "adjusted_ebitda",
    "ebitda",
    "net_income",
    "operating_income",
    "gross_margin",
    "operating_margin",
    "free_cash_flow",
    "same_store_sales",
)
POINT_TOLERANCE = 0.005
MAX_GAP = 1.5
_COMPONENT = re.compile(r"\b(?:includ\w*|comprised|consist\w*)\b", re.IGNORECASE)


def period_key(period: str | None) -> tuple[int, int]:
    """Sort key of `Q3 2021` / `FY2021` / `H1 2021`: (year, position in the year); unknown periods last."""
    if not period:
        return (9999, 9)
    year = re.search(r"(?:19|20)\d\d", period)
    part = re.match(r"([QH])([1-4])", period)
    position = (
        9
        if period.startswith("FY")
        else (int(part.group(2)) * (2 if part.group(1) == "H" else 1) if part else 9)
    )
    return (int(year.group(0)) if year else 9999, position)


def _amount(metric: dict, key: str = "value") -> float | None:
    value = metric.get(key)
    return None if value is None else value * (metric.get("scale") or 1.0)


def _headline(call: dict, metric: str) -> dict | None:
    """The call's reported figure of `metric` for its own period: a stated level, not a range nor a component
    ("operating income includes $55 million of ..."), the first by `headline_rank`."""
    period = call["period_label"]
    candidates = [
        entry
        for entry in call["metrics"]
        if entry["metric"] == metric
        and entry["kind"] == "actual"
        and entry["period"] == period
        and entry["low"] is None
        and entry["value"] is not None
        and not _COMPONENT.search(
            entry["sentence"]["quote"][: entry["span"]["start"] - entry["sentence"]["start"]]
        )
    ]

    return min(candidates, key=lambda entry: headline_rank(entry, call["qa_start"]), default=None)


def headline_rank(entry: dict, qa_start: int) -> tuple[bool, bool, float, int]:
    """Sort key of a call's figures of one metric and period, the headline first: in the prepared remarks, not
    a per-share figure of a sentence pairing GAAP and adjusted values "respectively", the most salient (the
    learned model's probability that a summary states it, where the model ran), the first."""
    return (
        entry["span"]["start"] >= qa_start,
        is_per_share(entry["unit"]) and "respectively" in entry["sentence"]["quote"],
        -entry.get("salience", 0.0),
        entry["span"]["start"],
    )


def _value(entry: dict) -> dict:
    return {key: entry[key] for key in ("value", "unit", "scale", "low", "high", "period", "speaker", "span")}


def _change(previous: dict, current: dict) -> dict | None:
    if previous["unit"] != current["unit"]:
        return None
    if current["unit"] == "percent":
        return {
            "value": round(current["value"] - previous["value"], 4),
            "unit": "points",
            "versus": "prior_call",
        }
    before, now = _amount(previous), _amount(current)
    if not before:
        return None
    return {
        "value": round(100.0 * (now - before) / abs(before), 2),
        "unit": "percent",
        "versus": "prior_call",
    }


def guidance_outcome(guided: dict, reported: dict) -> str | None:
    """met / beat / missed of a reported figure against a guided range or point (same unit)."""
    if guided["unit"] != reported["unit"]:
        return None
    actual = _amount(reported)
    low, high = _amount(guided, "low"), _amount(guided, "high")
    if low is None or high is None:
        point = _amount(guided)
        if point is None:
            return None
        low, high = point * (1 - POINT_TOLERANCE), point * (1 + POINT_TOLERANCE)
        low, high = min(low, high), max(low, high)
    if actual > high:
        return "beat"
    if actual < low:
        return "missed"
    return "met"


def _comparable(guided: dict, reported: dict) -> bool:
    """Whether a reported figure is within a factor of MAX_GAP of its guide (else it is most likely a segment's
    or another period's figure)."""
    low, high = _amount(guided, "low"), _amount(guided, "high")
    middle = (low + high) / 2 if low is not None and high is not None else _amount(guided)
    actual = _amount(reported)
    if not middle or not actual or (middle > 0) != (actual > 0):
        return False
    return 1 / MAX_GAP <= actual / middle <= MAX_GAP


def _guided(call: dict, metric: str, period: str) -> dict | None:
    """The guidance for `metric` and `period`, from a sentence that names the period it guides."""
    for entry in call["metrics"]:
        if (
            entry["metric"] == metric
            and entry["kind"] == "guidance"
            and entry["period"] == period
            and (entry["value"] is not None or entry["low"] is not None)
            and period_mention(entry["sentence"]["quote"], True)
        ):
            return entry
    return None


def _qa_topics(call: dict) -> list[str]:
    return list(
        dict.fromkeys(topic for pair in call["qa"] for topic in pair.get("topics") or [pair["topic"]])
    )


def compare_calls(calls: list[dict]) -> tuple[dict, list[str]]:
    """The comparison of calls (each: document_id, period_label, metrics, qa, tone, qa_start: where its Q&A
    begins) and warnings."""
    warnings: list[str] = []
    ordered = sorted(calls, key=lambda call: period_key(call["period_label"]))
    labels = [call["period_label"] for call in ordered]
    if len(set(labels)) < len(labels):
        warnings.append(f"calls share a period ({labels}); compared in the order given by their periods")
    metrics = []
    names = [m for m in KPI_ORDER if any(_headline(call, m) for call in ordered)]
    for name in names:
        values = []
        previous = None
        for call in ordered:
            entry = _headline(call, name)
            if entry is None:
                values.append(
                    {"period": call["period_label"], "document_id": call["document_id"], "value": None}
                )
                previous = None
                continue
            value = {"document_id": call["document_id"], **_value(entry)}
            value["change"] = _change(previous, entry) if previous else None
            values.append(value)
            previous = entry
        metrics.append({"metric": name, "values": values})
    outcomes = []
    topics = []
    tone = []
    for before, after in itertools.pairwise(ordered):
        for name in KPI_ORDER:
            guided = _guided(before, name, after["period_label"])
            reported = _headline(after, name) if guided else None
            outcome = guidance_outcome(guided, reported) if reported else None
            if outcome is None:
                continue
            if not _comparable(guided, reported):
                warnings.append(
                    f"{name} {after['period_label']}: reported {reported['span']['quote']!r} is too far from the guided "
                    f"{guided['span']['quote']!r} to be the same measure; no outcome given"
                )
                continue
            outcomes.append(
                {
                    "metric": name,
                    "period": after["period_label"],
                    "outcome": outcome,
                    "guided": {"document_id": before["document_id"], **_value(guided)},
                    "reported": {"document_id": after["document_id"], **_value(reported)},
                }
            )
        earlier, later = _qa_topics(before), _qa_topics(after)
        topics.append(
            {
                "period": after["period_label"],
                "versus": before["period_label"],
                "appeared": [t for t in later if t not in earlier],
                "disappeared": [t for t in earlier if t not in later],
                "kept": [t for t in later if t in earlier],
            }
        )
        scores = {item["section"]: item["score"] for item in before["tone"]}
        for item in after["tone"]:
            if item["section"] in scores:
                tone.append(
                    {
                        "period": after["period_label"],
                        "versus": before["period_label"],
                        "section": item["section"],
                        "score": item["score"],
                        "change": round(item["score"] - scores[item["section"]], 3),
                    }
                )
    return {
        "periods": labels,
        "calls": [{"document_id": call["document_id"], "period": call["period_label"]} for call in ordered],
        "metrics": metrics,
        "guidance_outcomes": outcomes,
        "topics": topics,
        "tone": tone,
    }, warnings
