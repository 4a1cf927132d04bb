"""Learned earnings analyzers: a salience model (which figures a Reuters-style bullet summary keeps) and a
metric/period classifier for figures, linear models over hashed sparse features of a figure and its sentence.

Weights are `weights/earnings_figures.npz` (see `weights/MODEL_CARD.md`), trained by
`python -m connectors train earnings` (`connectors.earnings.training`) on ECTSum's train split.
"""

from __future__ import annotations

import re
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from common.licences import ShippedModel

WEIGHTS = Path(__file__).parent / "weights" / "earnings_figures.npz"
DIMENSIONS = 1 << 16
METRIC_CLASSES = (
    "revenue",
    "eps",
    "adjusted_eps",
    "net_income",
    "ebitda",
    "adjusted_ebitda",
    "gross_margin",
    "operating_margin",
    "operating_income",
    "free_cash_flow",
    "same_store_sales",
    "other",
)
PERIOD_CLASSES = (
    "call_quarter",
    "year_ago",
    "prior_quarter",
    "call_year",
    "next_year",
    "next_quarter",
    "other",
)
_WORD = re.compile(r"[a-z]+|\d+")


def period_relation(period: str | None, quarter: str | None, year: str | None) -> str:
    """A period relative to the call's own ("Q3 2020" on a Q3 2021 call is `year_ago`)."""
    if not period or not quarter or not year:
        return "other"
    number, call_year = int(quarter[1]), int(year)
    previous = (number - 1, call_year) if number > 1 else (4, call_year - 1)
    following = (number + 1, call_year) if number < 4 else (1, call_year + 1)
    quarterly = re.fullmatch(r"Q([1-4]) (\d{4})", period)
    if quarterly:
        named = (int(quarterly.group(1)), int(quarterly.group(2)))
        relations = {
            (number, call_year): "call_quarter",
            (number, call_year - 1): "year_ago",
            previous: "prior_quarter",
            following: "next_quarter",
        }
        return relations.get(named, "other")
    annual = re.fullmatch(r"FY(\d{4})", period)
    if annual:
        return {call_year: "call_year", call_year + 1: "next_year"}.get(int(annual.group(1)), "other")
    return "other"


def period_from_relation(relation: str, quarter: str | None, year: str | None) -> str | None:
    if not quarter or not year:
        return None
    number, call_year = int(quarter[1]), int(year)
    if relation == "call_quarter":
        return f"Q{number} {call_year}"
    if relation == "year_ago":
        return f"Q{number} {call_year - 1}"
    if relation == "prior_quarter":
        return f"Q{number - 1} {call_year}" if number > 1 else f"Q4 {call_year - 1}"
    if relation == "next_quarter":
        return f"Q{number + 1} {call_year}" if number < 4 else f"Q1 {call_year + 1}"
    if relation == "call_year":
        return f"FY{call_year}"
    if relation == "next_year":
        return f"FY{call_year + 1}"
    return None


def figure_features(
    sentence: str,
    start: int,
    end: int,
    metric: str,
    unit: str,
    relation: str,
    kind: str,
    position: float,
    first_of_metric: bool,
) -> list[str]:
    """Sparse features of a figure at `start:end` of its sentence, with what the rules made of it."""
    lowered = sentence.lower()
    before = _WORD.findall(lowered[max(0, start - 80) : start])[-6:]
    after = _WORD.findall(lowered[end : end + 50])[:4]
    features = [f"w:{word}" for word in set(_WORD.findall(lowered)) if not word.isdigit()]
    features += [f"b:{word}" for word in before if not word.isdigit()]
    features += [f"a:{word}" for word in after if not word.isdigit()]
    if len(before) >= 2:
        features.append(f"bb:{before[-2]}_{before[-1]}")
    features += [
        f"m:{metric}",
        f"u:{unit}",
        f"p:{relation}",
        f"k:{kind}",
        f"mp:{metric}_{relation}",
        f"mk:{metric}_{kind}",
        f"pos:{min(9, int(position * 10))}",
        f"first:{first_of_metric}",
        f"len:{min(6, len(sentence) // 50)}",
        "bias",
    ]
    return features


def metric_features(
    metric: dict, text: str, quarter: str | None, year: str | None, first_of_metric: bool
) -> list[str]:
    """`figure_features` of one of the rules' figures (a `metrics` entry of the earnings result): the one way
    training and the connector see a figure."""
    sentence = metric["sentence"]
    offset = metric["span"]["start"] - sentence["start"]
    return figure_features(
        sentence["quote"],
        offset,
        offset + len(metric["span"]["quote"]),
        metric["metric"],
        metric["unit"],
        period_relation(metric["period"], quarter, year),
        metric["kind"],
        sentence["start"] / max(1, len(text)),
        first_of_metric,
    )


def hashed(features: list[str]) -> np.ndarray:
    return np.fromiter((zlib.crc32(f.encode()) % DIMENSIONS for f in features), dtype=np.int64)


@lru_cache(maxsize=4)
def _load(path: Path) -> dict[str, np.ndarray] | None:
    if not path.exists():
        return None
    with np.load(path) as data:
        return {key: data[key].astype(np.float32) for key in data.files}


def _weights() -> dict[str, np.ndarray] | None:
    return _load(WEIGHTS) if provenance().loaded else None


def provenance() -> ShippedModel:
    return ShippedModel(
        key="earnings-figures",
        purpose="which figures of a call a Reuters-style bullet summary keeps, and each figure's metric and period",
        connectors=("earnings",),
        data="ECTSum (Mukherjee et al., EMNLP 2022), train split",
        licences=("GPL-3.0",),
        weights=WEIGHTS,
        non_commercial=False,
        fallback="the rules",
    )


def available() -> bool:
    return _weights() is not None


def score_figures(feature_lists: list[list[str]]) -> list[dict]:
    """Per figure: `salience` (probability a reference bullet states it), and the metric and period relation the
    classifier gives with their probabilities."""
    weights = _weights()
    if weights is None or not feature_lists:
        return []
    results = []
    for features in feature_lists:
        ids = hashed(features)
        salience = 1 / (1 + np.exp(-(weights["salience"][ids].sum() + weights["salience_bias"][0])))
        metric = _softmax(weights["metric"][ids].sum(axis=0) + weights["metric_bias"])
        period = _softmax(weights["period"][ids].sum(axis=0) + weights["period_bias"])
        results.append(
            {
                "salience": float(salience),
                "metric": METRIC_CLASSES[int(metric.argmax())],
                "metric_p": float(metric.max()),
                "period": PERIOD_CLASSES[int(period.argmax())],
                "period_p": float(period.max()),
            }
        )
    return results


def _softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max())
    return exp / exp.sum()
