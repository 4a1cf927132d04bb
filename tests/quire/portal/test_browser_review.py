"""The review page in a real browser against `runserver` and a real worker: pick documents, write columns,
watch the grid fill in, open a cell to see its passage highlighted, correct it, download the XLSX."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django_tenants.utils import tenant_context
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from tests.support.browser import shot
from tests.support.paths import DATA
from tests.support.polling import wait_for

CONTRACTS = ("cuad_24", "cuad_23", "cuad_25")
COLUMNS = (
    "governing_law | Which law governs the contract? | text\n"
    "term | How long is the initial term? | duration\n"
    "fees | What fees or payments are due? | money"
)


@pytest.fixture
def contracts(celery_worker, workspace) -> dict[str, str]:
    from quire.documents.models import Document
    from quire.documents.services import document_create

    with tenant_context(workspace.tenant):
        ids = {}
        for name in CONTRACTS:
            created = document_create(
                tenant=workspace.tenant,
                content=(DATA / "cuad" / "contracts" / f"{name}.txt").read_bytes(),
                filename=f"review-{name}.txt",
                declared_type="text/plain",
                max_bytes=10_000_000,
            )
            ids[created.document.id] = f"review-{name}.txt"
        wait_for(
            lambda: set(Document.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"ready"},
            timeout=120,
        )
    return ids


@pytest.mark.timeout(300)
def test_review_grid_cell_passage_correction_and_xlsx(contracts, portal_page, artifacts: Path):
    page: Page = portal_page("owner", "Reviews")
    for filename in contracts.values():
        page.get_by_label(filename).check()
    page.get_by_label("Own columns").fill(COLUMNS)
    page.get_by_role("button", name="Run review").click()
    expect(page.get_by_role("heading", name="Review")).to_be_visible()
    expect(page.locator("table.review-grid tbody tr")).to_have_count(3)
    expect(page.get_by_role("link", name="Download XLSX")).to_be_visible(timeout=120_000)
    shot(page, artifacts, "15-review-grid")

    document_id = next(iter(contracts))
    page.locator(f'[data-cell="{document_id}:governing_law"]').click()
    marks = page.locator("#cell-panel pre.passage mark")
    expect(marks.first).to_be_visible()
    assert "govern" in " ".join(marks.all_inner_texts()).lower()
    shot(page, artifacts, "16-review-cell")

    page.get_by_label("Corrected value").fill("Ontario")
    page.get_by_role("button", name="Save correction").click()
    expect(page.locator("#cell-panel [data-cell-status]")).to_have_text("corrected")
    expect(page.locator("#cell-panel [data-correction]")).to_contain_text("by owner@")
    expect(page.locator(f"#v-{document_id}-governing_law")).to_have_text("Ontario")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download XLSX").click()
    sheet = load_workbook(io.BytesIO(Path(download_info.value.path()).read_bytes()), read_only=True).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    header = rows[0]
    row = next(r for r in rows[1:] if r[0] == document_id)
    assert row[header.index("governing_law")] == "Ontario"
    assert row[header.index("governing_law status")].startswith("corrected by owner@")
    assert row[header.index("governing_law citation")]
