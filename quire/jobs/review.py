"""Reads of a review's grid: the output with the reviewers' corrections beside the cells, and the grid as CSV
or XLSX rows (one row per document, per column its value, a citation with quote and page, and the status)."""

from __future__ import annotations

import bisect
import csv
import json
import tempfile
from collections.abc import Iterator

from quire.documents.models import Document
from quire.jobs.models import TERMINAL, CellCorrection, Job, JobResult, ReviewRow
from quire.jobs.services import CONTEXT_POLICY

QUOTE_CHARS = 500
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def output_with_corrections(result: JobResult) -> dict:
    """The result's output; in a review, each cell a reviewer verified or corrected carries `correction`
    (`corrected_value`, `verified`, `by`, `at`) beside what the connector found."""
    output = result.output
    if not isinstance(output, dict) or output.get("connector") != "review":
        return output
    corrections = {
        (c.document_id, c.key): c.as_dict() for c in CellCorrection.objects.filter(job_id=result.job_id)
    }
    if not corrections:
        return output
    rows = []
    for row in output.get("rows") or []:
        cells = {
            key: {**cell, "correction": corrections[(row["document_id"], key)]}
            if (row["document_id"], key) in corrections
            else cell
            for key, cell in row["cells"].items()
        }
        rows.append({**row, "cells": cells})
    return {**output, "rows": rows}


def review_cells(job: Job) -> dict:
    """A review's columns and its rows so far, each `{"index", "document_id", "cells"}`: the result's (with
    corrections beside the cells) once it exists (`complete`), else the rows stored while it runs (none once
    it ended without a result)."""
    from connectors import get_connector

    result = JobResult.objects.filter(job=job).first()
    if result is not None:
        output = output_with_corrections(result)
        rows = [{"index": index, **row} for index, row in enumerate(output.get("rows") or [])]
        return {"columns": output.get("columns") or [], "rows": rows, "complete": True}
    options = {key: value for key, value in job.options.items() if key != CONTEXT_POLICY}
    columns = get_connector("review").validate_options(options)["columns"]
    stored = [] if job.status in TERMINAL else ReviewRow.objects.filter(job=job).order_by("index")
    rows = [{"index": row.index, "document_id": row.document_id, "cells": row.cells} for row in stored]
    return {"columns": columns, "rows": rows, "complete": False}


def _shown(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(_shown(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def grid_rows(result: JobResult) -> Iterator[list[str]]:
    """The header, then one row per document: file name, then for each column its value (the corrected one
    when a reviewer corrected it), its citation (`p. N: "quote"`) and its status. The database is read
    here, while the request's schema is active; the rows are built as the response streams them."""
    output = output_with_corrections(result)
    rows = output.get("rows") or []
    documents = {
        d.id: (d.filename, d.page_starts or [])
        for d in Document.objects.filter(pk__in=[r["document_id"] for r in rows]).only(
            "id", "filename", "page_starts"
        )
    }
    return _grid_lines([column["key"] for column in output.get("columns") or []], rows, documents)


def _grid_lines(
    columns: list[str], rows: list[dict], documents: dict[str, tuple[str, list[int]]]
) -> Iterator[list[str]]:
    yield ["document_id", "filename"] + [
        name for key in columns for name in (key, f"{key} citation", f"{key} status")
    ]
    for row in rows:
        filename, starts = documents.get(row["document_id"], ("", []))
        line = [row["document_id"], filename]
        for key in columns:
            cell = row["cells"].get(key) or {}
            correction = cell.get("correction")
            value = cell.get("value")
            status = cell.get("status", "")
            if correction:
                if correction["corrected_value"] is not None:
                    value = correction["corrected_value"]
                    status = f"corrected by {correction['by']} at {correction['at']}"
                else:
                    status = f"{status}, verified by {correction['by']} at {correction['at']}"
            line.extend([_shown(value), _citation(cell.get("spans") or [], starts), status])
        yield line


def _citation(spans: list[dict], page_starts: list[int]) -> str:
    parts = []
    for span in spans:
        page = bisect.bisect_right(page_starts, span["start"]) if page_starts else None
        quote = " ".join(span["quote"].split())[:QUOTE_CHARS]
        parts.append(f'p. {page}: "{quote}"' if page else f'"{quote}"')
    return " | ".join(parts)


class _Line:
    def write(self, value: str) -> str:
        return value


def guarded(value: str) -> str:
    """A cell a spreadsheet will not run as a formula: one starting with =, +, @ or - (not a number) is quoted."""
    if value[:1] in ("=", "+", "@") or (value[:1] == "-" and not value[1:2].isdigit()):
        return f"'{value}"
    return value


def csv_lines(rows: Iterator[list[str]]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield "\ufeff"
    for row in rows:
        yield writer.writerow([guarded(value) for value in row])


def xlsx_file(rows: Iterator[list[str]]) -> tempfile.SpooledTemporaryFile:
    """The grid as an XLSX workbook written row by row (openpyxl's write-only mode), rewound for reading."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("review")
    for row in rows:
        sheet.append([_safe(value) for value in row])
    handle = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (the response closes it)
    workbook.save(handle)
    handle.seek(0)
    return handle


def _safe(value: str) -> str:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return guarded(ILLEGAL_CHARACTERS_RE.sub("", value))
