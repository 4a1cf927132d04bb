"""Tables in a document's normalised text: rows of cells with their offsets, from the ranges the platform
recorded at parse time or, without them, from the Markdown rows (`| a | b |`) the text renders tables as."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ROW = re.compile(r"^\| (?P<inner>.*) \|$", re.MULTILINE)
_SEPARATOR = " | "


@dataclass(frozen=True)
class Grid:
    """One table: `rows` of cells as (start, end) offsets into the text; `start`/`end` cover all its rows."""

    index: int
    rows: list[list[tuple[int, int]]]

    @property
    def start(self) -> int:
        return self.rows[0][0][0] - 2

    @property
    def end(self) -> int:
        return self.rows[-1][-1][1] + 2

    def row_span(self, row: int) -> tuple[int, int]:
        cells = self.rows[row]
        return cells[0][0] - 2, cells[-1][1] + 2


def find_grids(text: str, tables: list[dict] | None = None) -> list[Grid]:
    """The document's tables: from `tables` (`[{"rows": [[[start, end], ...], ...]}]`) when given and
    consistent with `text`, else read back from the text's Markdown rows."""
    if tables:
        grids = [
            Grid(index, [[(int(s), int(e)) for s, e in row] for row in table.get("rows", []) if row])
            for index, table in enumerate(tables)
        ]
        grids = [grid for grid in grids if grid.rows]
        if all(0 <= cell[0] <= cell[1] <= len(text) for grid in grids for row in grid.rows for cell in row):
            return grids
    return _markdown_grids(text)


def _markdown_grids(text: str) -> list[Grid]:
    grids: list[Grid] = []
    rows: list[list[tuple[int, int]]] = []
    previous_end = None
    for match in _ROW.finditer(text):
        if rows and match.start() != previous_end + 1:
            grids.append(Grid(len(grids), rows))
            rows = []
        start = match.start("inner")
        cells = []
        for piece in match.group("inner").split(_SEPARATOR):
            cells.append((start, start + len(piece)))
            start += len(piece) + len(_SEPARATOR)
        rows.append(cells)
        previous_end = match.end()
    if rows:
        grids.append(Grid(len(grids), rows))
    return grids


def grid_at(grids: list[Grid], offset: int) -> Grid | None:
    return next((grid for grid in grids if grid.start <= offset < grid.end), None)
