"""A job result's findings written to `.xlsx` (openpyxl, from the `cli` extra), `.csv` or `.json`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from quire_sdk.types import JobResult

COLUMNS = ["section", "label", "document_id", "start", "end", "quote", "confidence", "severity", "path"]
FORMATS = (".xlsx", ".csv", ".json")


def export_result(result: JobResult, path: str | Path) -> int:
    """Write the findings (one row per span: quote, `start`/`end` in the document's text) to `path`, in the
    format its suffix names; `.json` holds the whole result with the findings. Returns how many rows."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"export to {', '.join(FORMATS)}, not {suffix or 'a file without a suffix'}")
    rows = [finding.as_row() for finding in result.findings()]
    if suffix == ".json":
        payload = {"job_id": result.job_id, "findings": rows, "result": result.raw}
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False))
    elif suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    else:
        _write_xlsx(path, rows, result.job_id)
    return len(rows)


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
        sheet.append([row[name] for name in COLUMNS])
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
