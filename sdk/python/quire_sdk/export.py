"""A job result's findings written to `.xlsx` (openpyxl, from the `cli` extra), `.csv` or `.json`.

Quotes and labels are document text, written by whoever wrote the document: in `.xlsx` and `.csv` a cell
that a spreadsheet would run as a formula is quoted as the server's review exports quote it
(`quire/jobs/review.py`), and `.xlsx` cells are always strings, without the control characters the format
cannot hold.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

from quire_sdk.types import JobResult

COLUMNS = ["section", "label", "document_id", "start", "end", "quote", "confidence", "severity", "path"]
FORMATS = (".xlsx", ".csv", ".json")


# Excel refuses a workbook holding a longer cell ("We found a problem with some content"). Excel counts UTF-16
# code units: a character past the Basic Multilingual Plane (an emoji, a rare CJK character) is two.
XLSX_CELL_CHARS = 32_767
XLSX_CUT = "… [cut at Excel's cell limit; the whole value is in the CSV export]"


def export_result(result: JobResult, path: str | Path) -> int:
    """Write the findings (one row per span: quote, `start`/`end` in the document's text) to `path`, in the
    format its suffix names; `.json` holds the whole result with the findings. `.json` is UTF-8 and `.csv`
    UTF-8 with a BOM (as the server's review CSV, so that Excel reads it as UTF-8). Returns how many rows."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"export to {', '.join(FORMATS)}, not {suffix or 'a file without a suffix'}")
    rows = [finding.as_row() for finding in result.findings()]
    if suffix == ".json":
        payload = {"job_id": result.job_id, "findings": rows, "result": result.raw}
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    elif suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8-sig") as out:
            writer = csv.DictWriter(out, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows({name: _guarded(value) for name, value in row.items()} for row in rows)
    else:
        _write_xlsx(path, rows, result.job_id)
    return len(rows)


_FORMULA_STARTS = frozenset("=+-@\t\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d[\d,]*(\.\d+)?%?\Z")


def guarded(value: str) -> str:
    """A cell a spreadsheet will not run as a formula: one starting with =, +, -, @, a tab or a carriage return
    is quoted with ', unless it is a plain number ("-12.5", "+3%"): "-2+3+cmd|..." starts with a digit too."""
    if value[:1] in _FORMULA_STARTS and not _PLAIN_NUMBER.match(value):
        return f"'{value}"
    return value


def _guarded(value: Any) -> Any:
    return guarded(value) if isinstance(value, str) else value


def _xlsx_value(value: Any) -> Any:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if not isinstance(value, str):
        return value
    value = guarded(ILLEGAL_CHARACTERS_RE.sub("", value))
    units = value.encode("utf-16-le", "surrogatepass")
    if len(units) // 2 > XLSX_CELL_CHARS:
        return units[: 2 * (XLSX_CELL_CHARS - len(XLSX_CUT))].decode("utf-16-le", "ignore") + XLSX_CUT
    return value


def _write_xlsx(path: Path, rows: list[dict], job_id: str) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    sheet.title = "Findings"
    sheet.append(COLUMNS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([_xlsx_value(row[name]) for name in COLUMNS])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    widths = {"section": 12, "label": 28, "document_id": 20, "quote": 80, "path": 20}
    for index, name in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[sheet.cell(1, index).column_letter].width = widths.get(name, 11)
    for (cell,) in sheet.iter_rows(
        min_row=2, min_col=COLUMNS.index("quote") + 1, max_col=COLUMNS.index("quote") + 1
    ):
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"
    book.properties.title = f"Quire findings {job_id}"
    book.save(path)
