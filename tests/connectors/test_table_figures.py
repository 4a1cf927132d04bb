"""Figures in table cells, read by the earnings and review connectors: a DOCX table built here and parsed as
the platform parses it, column headings read as periods, and cells cited by their own spans."""

from __future__ import annotations

import io

import pytest

from connectors import Document, run_connector
from connectors.earnings.periods import period_of_heading
from connectors.grids import find_grids
from quire.documents.parsing import parse_document
from quire.documents.sniffing import DOCX

RESULTS = [
    ["", "Three months ended June 30, 2024", "Three months ended June 30, 2023"],
    ["Revenue", "$131.2", "$120.5"],
    ["Diluted earnings per share", "$0.41", "(0.12)"],
    ["Gross margin", "41.5%", "39.0%"],
    ["Stores open", "1,204", "1,150"],
]


def docx_with_table(before: str, rows: list[list[str]], after: str) -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph(before)
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph(after)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def results_document() -> Document:
    parsed = parse_document(
        docx_with_table(
            "Acme Corp second quarter results (in millions, except per share amounts)",
            RESULTS,
            "Revenue grew on strong demand in every region.",
        ),
        DOCX,
    )
    return Document("acme_results", parsed.text, metadata={"tables": parsed.tables})


def cell_range(document: Document, row: int, column: int) -> tuple[int, int]:
    start, end = document.metadata["tables"][0]["rows"][row][column]
    return start, end


@pytest.mark.parametrize(
    ("heading", "period"),
    [
        ("Q1 2024", "Q1 2024"),
        ("Q2", "Q2 2024"),
        ("FY2023", "FY2023"),
        ("Fiscal 2025", "FY2025"),
        ("H1 2025", "H1 2025"),
        ("2023", "FY2023"),
        ("Three months ended June 30, 2024", "Q2 2024"),
        ("Three Months Ended September 30, 2023", "Q3 2023"),
        ("Six months ended June 30, 2024", "H1 2024"),
        ("Year ended December 31, 2023", "FY2023"),
        ("Metric", None),
    ],
)
def test_column_headings_are_read_as_periods(heading, period):
    assert period_of_heading(heading, "2024") == period


def test_the_markdown_rows_of_the_text_give_the_same_cells_as_the_parsed_ranges(results_document):
    from_ranges = find_grids(results_document.text, results_document.metadata["tables"])
    from_text = find_grids(results_document.text)
    assert [grid.rows for grid in from_ranges] == [grid.rows for grid in from_text]


def test_markdown_rows_split_at_every_pipe_with_empty_cells_where_they_stand():
    text = (
        "Results (in millions)\n\n| | Q3 2021 | Q3 2020 |\n| --- | --- | --- |\n"
        "| Revenue | $1,200 | $1,000 |\n| Backlog | | $310 |\n| Orders |$95| |\n| A \\| B | 1 | 2 |"
    )
    [grid] = find_grids(text)
    assert [[text[s:e] for s, e in row] for row in grid.rows] == [
        ["", "Q3 2021", "Q3 2020"],
        ["Revenue", "$1,200", "$1,000"],
        ["Backlog", "", "$310"],
        ["Orders", "$95", ""],
        ["A \\| B", "1", "2"],
    ]
    assert text[grid.start : grid.end] == text[text.index("| |") :]
    for row in range(len(grid.rows)):
        start, end = grid.row_span(row)
        assert text[start] == "|" and text[end - 1] == "|" and "\n" not in text[start:end]


def test_a_markdown_table_with_an_empty_first_heading_gives_each_column_its_period():
    text = "Results (in millions)\n\n| | Q3 2021 | Q3 2020 |\n| Revenue | $1,200 | $1,000 |\n"
    output = run_connector("earnings", [Document("acme_q3_2021", text)], options={})
    assert [(m["metric"], m["value"], m["period"]) for m in output["metrics"]] == [
        ("revenue", 1200.0, "Q3 2021"),
        ("revenue", 1000.0, "Q3 2020"),
    ]
    columns = [{"key": "revenue", "question": "What was revenue in Q3 2021?", "type": "money"}]
    cell = run_connector("review", [Document("acme_q3_2021", text)], options={"columns": columns})["rows"][0]
    assert cell["cells"]["revenue"]["normalised"]["value"] == 1200.0
    assert cell["cells"]["revenue"]["normalised"]["period"] == "Q3 2021"


def test_earnings_figures_come_from_cells_with_the_period_of_their_column(results_document):
    output = run_connector("earnings", [results_document], options={})
    figures = {(m["metric"], m["period"]): m for m in output["metrics"]}
    revenue = figures["revenue", "Q2 2024"]
    assert (revenue["value"], revenue["unit"], revenue["scale"]) == (131.2, "USD", 1e6)
    assert (revenue["span"]["start"], revenue["span"]["end"]) == cell_range(results_document, 1, 1)
    assert revenue["table"] == {"label": "Revenue", "heading": "Three months ended June 30, 2024"}
    assert figures["revenue", "Q2 2023"]["value"] == 120.5
    loss = figures["eps", "Q2 2023"]
    assert (loss["value"], loss["scale"]) == (-0.12, 1.0)
    assert figures["gross_margin", "Q2 2024"]["value"] == 41.5


def test_review_cells_answer_from_table_cells_with_the_cells_span(results_document):
    columns = [
        {"key": "revenue", "question": "What was total revenue for the quarter?", "type": "money"},
        {
            "key": "prior_revenue",
            "question": "Revenue in the three months ended June 30, 2023",
            "type": "money",
        },
        {"key": "stores", "question": "How many stores were open in 2024?", "type": "number"},
        {"key": "margin", "question": "What was the gross margin in 2023?", "type": "percent"},
        {"key": "operating_margin", "question": "What was the operating margin?", "type": "percent"},
    ]
    output = run_connector("review", [results_document], options={"columns": columns})
    cells = output["rows"][0]["cells"]
    expected = {"revenue": (1, 1), "prior_revenue": (1, 2), "stores": (4, 1), "margin": (3, 2)}
    for key, (row, column) in expected.items():
        cell = cells[key]
        assert cell["status"] == "answered", (key, cell)
        (span,) = cell["spans"]
        assert (span["start"], span["end"]) == cell_range(results_document, row, column), key
        assert span["quote"] == RESULTS[row][column]
    assert cells["prior_revenue"]["normalised"]["period"] == "Q2 2023"
    assert cells["prior_revenue"]["normalised"]["row"] == "Revenue"
    assert (cells["stores"]["normalised"]["value"], cells["stores"]["normalised"]["scale"]) == (1204, 1.0)
    assert cells["operating_margin"]["status"] == "not_found"


def test_bracketed_cells_of_a_markdown_table_are_negative():
    text = (
        "Acme Corp Q3 2021 Earnings Release\n\nCondensed results (in millions, except per share amounts)\n\n"
        "| Metric | Q3 2021 | Q3 2020 |\n| --- | --- | --- |\n"
        "| Operating income (loss) | $(15) | $20 |\n"
        "| Diluted EPS | $(0.12) | ($0.10) |\n"
        "| Operating margin | (1.3)% | (2.0%) |\n"
    )
    output = run_connector("earnings", [Document("acme_q3_2021", text)], options={})
    figures = {(m["metric"], m["period"]): (m["value"], m["span"]["quote"]) for m in output["metrics"]}
    assert figures["operating_income", "Q3 2021"] == (-15.0, "$(15)")
    assert figures["operating_income", "Q3 2020"] == (20.0, "$20")
    assert figures["eps", "Q3 2021"] == (-0.12, "$(0.12)")
    assert figures["eps", "Q3 2020"] == (-0.10, "($0.10)")
    assert figures["operating_margin", "Q3 2021"] == (-1.3, "(1.3)%")
    assert figures["operating_margin", "Q3 2020"] == (-2.0, "(2.0%)")
