"""Tables in a document's normalised text: rows of cells with their offsets, from the ranges the platform
recorded at parse time or, without them, from the Markdown rows (`| a | b |`) the text renders tables as."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ROW = re.compile(r"^\| (?P<inner>.*) \|$", re.MULTILINE)
# The line under a Markdown table's heading row ("|---|---|", "| :--- | ---: |"): part of the table, not a row.
_DELIMITER = re.compile(r"\|(?:[ \t]*:?-+:?[ \t]*\|)+")
_PIPE = re.compile(r"(?<!\\)\|")


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
        under_heading = len(rows) == 1 and match.start() == previous_end + 1
        if under_heading and _DELIMITER.fullmatch(match.group(0)):
            previous_end = match.end()
            continue
        if rows and not _continues(text, rows, previous_end, match.start()):
            grids.append(Grid(len(grids), rows))
            rows = []
        rows.append(_cells(text, match.start(), match.end() - 1))
        previous_end = match.end()
    if rows:
        grids.append(Grid(len(grids), rows))
    return grids


def _continues(text: str, rows: list, previous_end: int, start: int) -> bool:
    """Whether a row starting at `start` belongs to the table whose last row ended at `previous_end`: on the
    next line, or, under the table's heading row, on the line after its delimiter line."""
    if start == previous_end + 1:
        return True
    return len(rows) == 1 and _DELIMITER.fullmatch(text, previous_end + 1, start - 1) is not None


def _cells(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The cells of a row whose outer pipes stand at `start` and `end`: split at every pipe a backslash does not
    escape, each stripped of the spaces around it. An empty cell sits where the platform records one, a
    character into its piece, and the row's last one a character before its end, so that a row's cells stay two
    characters inside its pipes (`Grid.row_span`)."""
    bounds = [
        start + 1,
        *(p for pipe in _PIPE.finditer(text, start + 1, end) for p in (pipe.start(), pipe.end())),
        end,
    ]
    pieces = list(zip(bounds[::2], bounds[1::2], strict=True))
    cells = []
    for index, (piece_start, piece_end) in enumerate(pieces):
        piece = text[piece_start:piece_end]
        stripped = piece.strip()
        if stripped:
            cell_start = piece_start + len(piece) - len(piece.lstrip())
            cells.append((cell_start, cell_start + len(stripped)))
        elif index == len(pieces) - 1:
            cells.append((piece_end - 1,) * 2)
        else:
            cells.append((min(piece_start + 1, piece_end),) * 2)
    return cells


def grid_at(grids: list[Grid], offset: int) -> Grid | None:
    return next((grid for grid in grids if grid.start <= offset < grid.end), None)
