"""Reads of a review's grid: the output with the reviewers' corrections beside the cells, and the grid as CSV
or XLSX rows (one row per document, per column its value, a citation with quote and page, and the status),
handed out as a recorded download (`grid_export`)."""

from __future__ import annotations

import bisect
import csv
import json
import re
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING

from django.db.models import F, Func, IntegerField, Value
from django.http import FileResponse, StreamingHttpResponse

from quire.documents.models import Document
from quire.jobs.models import TERMINAL, CellCorrection, Job, JobResult, JsonPathArray, ReviewRow
from quire.jobs.services import CONTEXT_POLICY
from tenants.audit import export_record
from tenants.models import Tenant

if TYPE_CHECKING:
    from openpyxl.cell.cell import Cell
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

QUOTE_CHARS = 500
# Excel refuses a workbook holding a longer cell ("We found a problem with some content"). Excel counts UTF-16
# code units: a character past the Basic Multilingual Plane (an emoji, a rare CJK character) is two.
XLSX_CELL_CHARS = 32_767
XLSX_CUT = "… [cut at Excel's cell limit; the whole value is in the CSV and JSON exports]"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def output_with_corrections(result: JobResult) -> dict:
    """The result's output; in a review, each cell a reviewer verified or corrected carries `correction`
    (`corrected`, `corrected_value`, `verified`, `by`, `at`) beside what the connector found."""
    output = result.output
    if not isinstance(output, dict) or output.get("connector") != "review":
        return output
    return {**output, "rows": rows_with_corrections(result.job_id, output.get("rows") or [])}


def rows_with_corrections(job_id: str, rows: list[dict], documents: list[str] | None = None) -> list[dict]:
    """`rows` with each corrected or verified cell carrying its `correction` (those of `documents` only when
    given)."""
    found = CellCorrection.objects.filter(job_id=job_id)
    if documents is not None:
        found = found.filter(document_id__in=documents)
    corrections = {(c.document_id, c.key): c.as_dict() for c in found}
    if not corrections:
        return rows
    return [
        {
            **row,
            "cells": {
                key: {**cell, "correction": corrections[(row["document_id"], key)]}
                if (row["document_id"], key) in corrections
                else cell
                for key, cell in row["cells"].items()
            },
        }
        for row in rows
    ]


def review_cells(job: Job, *, first: int = 0, count: int | None = None) -> dict:
    """A review's columns and its rows so far, each `{"index", "document_id", "cells"}`: the result's (with
    corrections beside the cells) once it exists (`complete`), else the rows stored while it runs (none once
    it ended without a result). Given `first` or `count`, only the rows whose index is from `first` on (at most
    `count` of them), read as such from PostgreSQL; `done` counts the rows there are in all, and `next` is the
    index after the window where rows lie past it (else None)."""
    from connectors import get_connector

    windowed = bool(first) or count is not None
    last = "last" if count is None else first + count - 1
    shown = JsonPathArray(F("output"), Value(f"$.rows[{first} to {last}]")) if windowed else F("output__rows")
    result = (
        JobResult.objects.filter(job=job)
        .annotate(
            done=Func(F("output__rows"), function="jsonb_array_length", output_field=IntegerField()),
            shown=shown,
        )
        .values("output__columns", "done", "shown")
        .first()
    )
    if result is not None:
        shown = result["shown"] or []
        documents = [row["document_id"] for row in shown] if windowed else None
        rows = [
            {"index": first + i, **row}
            for i, row in enumerate(rows_with_corrections(job.pk, shown, documents))
        ]
        columns = result["output__columns"] or []
        done = result["done"] or 0
        following = None if count is None or done <= first + count else first + count
        return {"columns": columns, "rows": rows, "complete": True, "done": done, "next": following}
    options = {key: value for key, value in job.options.items() if key != CONTEXT_POLICY}
    try:
        columns = get_connector("review").validate_options(options)["columns"]
    except ValueError:
        # Options a later release checks more strictly (an enum's repeated choice): the job fails when it runs
        # and shows its columns as it was given them, rather than the request failing.
        given = options.get("columns")
        columns = [c for c in given if isinstance(c, dict)] if isinstance(given, list) else []
    stored = ReviewRow.objects.none() if job.status in TERMINAL else ReviewRow.objects.filter(job=job)
    done = stored.count() if windowed else None
    following = None
    if count is not None and stored.filter(index__gte=first + count).exists():
        following = first + count
    stored = stored.filter(index__gte=first)
    if count is not None:
        stored = stored.filter(index__lt=first + count)
    rows = [
        {"index": row.index, "document_id": row.document_id, "cells": row.cells}
        for row in stored.order_by("index")
    ]
    done = len(rows) if done is None else done
    return {"columns": columns, "rows": rows, "complete": False, "done": done, "next": following}


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
                if correction["corrected"]:
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
        quote = (
            "(redacted)"
            if span.get("redacted")
            else '"' + " ".join(span["quote"].split())[:QUOTE_CHARS] + '"'
        )
        parts.append(f"p. {page}: {quote}" if page else quote)
    return " | ".join(parts)


class _Line:
    def write(self, value: str) -> str:
        return value


_FORMULA_STARTS = frozenset("=+-@\t\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d[\d,]*(\.\d+)?%?\Z")


def guarded(value: str) -> str:
    """A cell a spreadsheet will not run as a formula: one starting with =, +, -, @, a tab or a carriage return
    is quoted with ', unless it is a plain number ("-12.5", "+3%"): "-2+3+cmd|..." starts with a digit too."""
    if value[:1] in _FORMULA_STARTS and not _PLAIN_NUMBER.match(value):
        return f"'{value}"
    return value


def csv_lines(rows: Iterator[list[str]]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield "\ufeff"
    for row in rows:
        yield writer.writerow([guarded(value) for value in row])


def grid_export(
    *, tenant: Tenant, result: JobResult, export_format: str
) -> StreamingHttpResponse | FileResponse:
    """The review's grid as a `csv` (streamed) or `xlsx` download, recorded as one `export.create` event:
    the API's `result.csv` / `result.xlsx` and the portal's downloads all hand it out here."""
    rows = grid_rows(result)
    export_record(tenant=tenant, what="job_result", object_id=result.job_id, export_format=export_format)
    if export_format == "csv":
        response = StreamingHttpResponse(csv_lines(rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{result.job_id}.csv"'
        return response
    return FileResponse(
        xlsx_file(rows), as_attachment=True, filename=f"{result.job_id}.xlsx", content_type=XLSX_CONTENT_TYPE
    )


def xlsx_file(rows: Iterator[list[str]]) -> tempfile.SpooledTemporaryFile:
    """The grid as an XLSX workbook written row by row (openpyxl's write-only mode), rewound for reading."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("review")
    for row in rows:
        sheet.append([_text_cell(sheet, value) for value in row])
    handle = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (the response closes it)
    workbook.save(handle)
    handle.seek(0)
    return handle


def _text_cell(sheet: WriteOnlyWorksheet, value: str) -> Cell:
    """A string cell, even for text openpyxl would store as an error ("#N/A", "#DIV/0!")."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, _safe(value))
    cell.data_type = "s"
    return cell


def _safe(value: str) -> str:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    value = guarded(ILLEGAL_CHARACTERS_RE.sub("", value))
    units = value.encode("utf-16-le", "surrogatepass")
    if len(units) // 2 > XLSX_CELL_CHARS:
        kept = units[: 2 * (XLSX_CELL_CHARS - len(XLSX_CUT))].decode("utf-16-le", "ignore")
        return kept + XLSX_CUT
    return value
