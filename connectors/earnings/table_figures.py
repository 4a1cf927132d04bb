"""Figures read from table cells: the row's label names the metric, the column's heading the period, and the
words around the table ("in millions", "$", "except per share") the scale and the currency. A table's scale
applies to its amounts of money (a per-share amount excepted when the caption says so), never to counts or
percentages."""

from __future__ import annotations

import re
from dataclasses import dataclass

from connectors.earnings.periods import period_of_heading
from connectors.earnings.tables import CURRENCY_UNITS, METRICS, NUMBER, SCALES, fits_unit, parse_number
from connectors.grids import Grid

CAPTION_CHARS = 200
_SCALE_WORDS = re.compile(
    r"\bin\s+(thousands|millions|billions)\b|\((?:\$|€|£)?\s*(k|m|mm|bn)\)", re.IGNORECASE
)
_DOLLARS = re.compile(r"\$|\bdollars\b|\bUSD\b", re.IGNORECASE)
_PER_SHARE_EXCEPTED = re.compile(r"\bexcept\s+(?:for\s+)?per[- ]share\b", re.IGNORECASE)
_PER_SHARE_LABEL = re.compile(r"\bper[- ](?:diluted\s+|basic\s+)?share\b|\bEPS\b", re.IGNORECASE)
_YEAR = re.compile(r"(?:19|20)\d\d")


@dataclass(frozen=True)
class CellValue:
    """A figure in a table cell: `value` in `unit` times `scale`, the cell's offsets, its row's offsets, the
    row's label, the column's heading and the words just before the table."""

    value: float
    unit: str
    scale: float
    start: int
    end: int
    row: tuple[int, int]
    label: str
    heading: str
    caption: str


@dataclass(frozen=True)
class CellFigure:
    metric: str
    period: str | None
    cell: CellValue


def cell_values(text: str, grids: list[Grid]) -> list[CellValue]:
    """Every cell past a row's label that holds a figure, its currency and scale read from the table's
    caption, headings and cells when the cell itself names none."""
    values = []
    previous_end = 0
    for grid in grids:
        caption_start, previous_end = max(previous_end, grid.start - CAPTION_CHARS), grid.end
        cells = [[text[s:e] for s, e in row] for row in grid.rows]
        body = _first_body_row(cells)
        if body is None:
            continue
        headings = _headings(cells[:body], max(len(row) for row in cells))
        caption = text[caption_start : grid.start].strip()
        context = f"{caption} {' '.join(headings)}"
        scale_word = _SCALE_WORDS.search(context)
        table_scale = _scale(scale_word) if scale_word else 1.0
        dollars = bool(_DOLLARS.search(context))
        per_share_excepted = bool(_PER_SHARE_EXCEPTED.search(context))
        for index in range(body, len(cells)):
            label = cells[index][0]
            per_share = bool(_PER_SHARE_LABEL.search(label))
            row_dollars = dollars or any(_DOLLARS.search(cell) for cell in cells[index][1:])
            for column in range(1, len(cells[index])):
                found = _cell_number(cells[index][column])
                if found is None:
                    continue
                value, unit, scale = found
                if unit == "count" and row_dollars:
                    unit = "USD_per_share" if per_share else "USD"
                if scale == 1.0 and unit in CURRENCY_UNITS and not (per_share and per_share_excepted):
                    scale = table_scale
                start, end = grid.rows[index][column]
                heading = headings[column] if column < len(headings) else ""
                values.append(
                    CellValue(value, unit, scale, start, end, grid.row_span(index), label, heading, caption)
                )
    return values


def table_figures(text: str, grids: list[Grid], default_year: str | None) -> list[CellFigure]:
    """The cells that hold a figure of a metric the earnings analyzers know, with the period of its column."""
    figures = []
    for cell in cell_values(text, grids):
        metric = _metric_of(cell.label, cell.unit)
        if metric is not None:
            figures.append(CellFigure(metric, period_of_heading(cell.heading, default_year), cell))
    return figures


def _first_body_row(cells: list[list[str]]) -> int | None:
    """The first row (after at least one heading row) holding a figure past its label."""
    for index, row in enumerate(cells[1:], start=1):
        if any(_cell_number(cell) is not None for cell in row[1:]):
            return index
    return None


def _headings(rows: list[list[str]], width: int) -> list[str]:
    """Each column's heading: its cells in the heading rows, a row of fewer cells (a heading spanning the
    columns, "Three months ended June 30") read for every column."""
    headings = [""] * width
    for row in rows:
        for column in range(1, width):
            piece = row[column] if len(row) == width else " ".join(cell for cell in row[1:] if cell)
            headings[column] = f"{headings[column]} {piece}".strip()
    return headings


def _cell_number(cell: str) -> tuple[float, str, float] | None:
    """The figure a cell holds, when the cell is a figure ("$120.5 million", "(1.2)", "$(0.12)", "(1.3)%", "14%");
    a year is not. A cell wholly in brackets is negative, whatever they hold ("(5%)", "($12 million)")."""
    cell = cell.strip()
    whole = cell.startswith("(") and cell.endswith(")") and not NUMBER.fullmatch(cell)
    inner = cell[1:-1].strip() if whole else cell
    match = NUMBER.match(inner)
    if match is None or inner[match.end() :].strip():
        return None
    if _YEAR.fullmatch(match.group("value")) and not match.group("currency"):
        return None
    value, unit, scale = parse_number(match)
    return (-value if whole else value), unit, scale


def _metric_of(label: str, unit: str) -> str | None:
    for name, pattern in METRICS:
        if pattern.search(label) and fits_unit(name, unit):
            return name
    return None


def _scale(match: re.Match[str]) -> float:
    word = (match.group(1) or match.group(2)).lower()
    return SCALES.get(word.rstrip("s"), 1.0)
