"""Documents as they arrive in a data room, through the API and a real worker: a scanned contract read by
OCR, a PDF table, spreadsheets, slides, e-mail (EML, and Outlook MSG built here as an OLE file) with
attachments, many files in one request or a ZIP, pages
and line boxes on spans, and hostile archives refused with their reasons."""

from __future__ import annotations

import hashlib
import io
import itertools
import uuid
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from quire.documents.limits import IngestLimits
from quire.documents.parsing import ParseError, parse_document
from quire.documents.sniffing import DOCX, EML, HTML, PDF
from tests.quire.documents.test_bounded_ingest import docx_bomb
from tests.support import Api, wait_for
from tests.support.documents import (
    CONTRACT,
    make_docx,
    make_eml,
    make_msg,
    make_odp,
    make_ods,
    make_pptx,
    make_scanned_pdf,
    make_table_pdf,
    make_xlsx,
    make_zip,
)
from tests.support.jobs import wait_job

SCANNED = [
    "MUTUAL NON-DISCLOSURE AGREEMENT",
    "This Agreement is made between Acme Corp and Beta LLC.",
    "2. Governing Law. This Agreement shall be governed by the laws",
    "of the State of Delaware, without regard to its conflict of laws rules.",
]
# make_scanned_pdf draws line i at 30 + 40 i pixels from the top, at 150 dpi.
POINTS_PER_PIXEL = 72 / 150
QUARTERS = [
    ["Metric", "Q1 2026", "Q2 2026"],
    ["Revenue", "$120.5 million", "$131.2 million"],
    ["Net income", "$20.1 million", "$22.4 million"],
]


def post_files(api: Api, files: dict[str, bytes]):
    uploads = [
        SimpleUploadedFile(name, data, content_type="application/octet-stream")
        for name, data in files.items()
    ]
    return api.client.post("/v1/documents", {"file": uploads}, **api._headers(None))


def ready(api: Api, doc_id: str) -> dict:
    def done():
        body = api.get(f"/v1/documents/{doc_id}").json()
        return body if body["status"] in ("ready", "failed") else None

    body = wait_for(done, timeout=120, interval=0.2)
    assert body["status"] == "ready", body
    return body


def run_job(api: Api, connector: str, doc_id: str) -> dict:
    job = api.post("/v1/jobs", {"connector": connector, "documents": [doc_id]}).json()
    assert wait_job(api, job["id"])["status"] == "succeeded"
    return api.get(f"/v1/jobs/{job['id']}/result").json()["output"]


def refused(response, status: int, code: str) -> str:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code, error
    return error["message"]


def test_a_scanned_contract_is_read_by_ocr_and_its_governing_law_lands_on_the_page(celery_worker, api_a: Api):
    created = post_files(api_a, {"scan.pdf": make_scanned_pdf(SCANNED)})
    assert created.status_code == 201, created.content
    document = ready(api_a, created.json()["id"])
    assert document["ocr_pages"] == [1] and document["ocr_confidence"] > 60
    assert document["pages_parsed"] == document["pages_total"] == 1
    output = run_job(api_a, "legal", document["id"])
    assert output["answers"]["Governing Law"] == "Delaware"
    text = api_a.get(f"/v1/documents/{document['id']}/text").json()["text"]
    spans = [
        span
        for clause in output["clauses"]
        if clause["category"] == "Governing Law"
        for span in [clause["span"]]
    ]
    assert spans, output["clauses"]
    span = spans[0]
    assert text[span["start"] : span["end"]] == span["quote"] and "Delaware" in span["quote"]
    assert span["page"] == 1
    tops = sorted(box["top"] for box in span["boxes"])
    drawn = [(30 + 40 * line) * POINTS_PER_PIXEL for line in (2, 3)]
    assert any(abs(top - drawn[1]) < 8 for top in tops), (tops, drawn)
    assert all(0 <= box["x0"] < box["x1"] <= 1100 * POINTS_PER_PIXEL for box in span["boxes"])


def test_a_pdf_table_keeps_its_cells_and_gives_an_earnings_figure(celery_worker, api_a: Api):
    created = post_files(api_a, {"results.pdf": make_table_pdf("Acme Corp quarterly results", QUARTERS)})
    document = ready(api_a, created.json()["id"])
    assert document["ocr_pages"] == []
    tables = api_a.get(f"/v1/documents/{document['id']}/tables").json()["data"]
    assert len(tables) == 1 and tables[0]["page"] == 1
    rows = tables[0]["rows"]
    assert [[cell["text"] for cell in row] for row in rows] == QUARTERS
    cell = rows[1][1]["span"]
    assert cell["quote"] == "$120.5 million" and cell["page"] == 1 and len(cell["boxes"]) == 1
    boxes = [c["span"]["boxes"][0] for c in rows[1]]
    assert all(left["x1"] <= right["x0"] + 0.5 for left, right in itertools.pairwise(boxes)), boxes
    assert len({(box["top"], box["bottom"]) for box in boxes}) == 1
    text = api_a.get(f"/v1/documents/{document['id']}/text").json()["text"]
    assert "\n| Revenue | $120.5 million | $131.2 million |\n" in text
    output = run_job(api_a, "earnings", document["id"])
    figures = {(m["metric"], m["value"]): m["span"] for m in output["metrics"]}
    assert {("revenue", 120.5), ("revenue", 131.2), ("net_income", 20.1), ("net_income", 22.4)} <= set(
        figures
    )
    span = figures["revenue", 120.5]
    assert (span["start"], span["end"]) == (cell["start"], cell["end"])
    assert span["page"] == 1 and span["boxes"] == cell["boxes"]
    periods = {(m["metric"], m["value"]): m["period"] for m in output["metrics"]}
    assert periods["revenue", 120.5] == "Q1 2026" and periods["net_income", 22.4] == "Q2 2026"
    columns = [
        {"key": "profit", "question": "What was net income in Q2 2026?", "type": "money"},
        {"key": "net_income", "question": "What was net income in Q2 2026?", "type": "money"},
    ]
    job = api_a.post(
        "/v1/jobs", {"connector": "review", "documents": [document["id"]], "options": {"columns": columns}}
    ).json()
    assert wait_job(api_a, job["id"])["status"] == "succeeded"
    cells = api_a.get(f"/v1/jobs/{job['id']}/result").json()["output"]["rows"][0]["cells"]
    answer = rows[2][2]["span"]
    for key in ("profit", "net_income"):
        assert cells[key]["status"] == "answered" and cells[key]["value"] == "$22.4 million", cells[key]
        (cited,) = cells[key]["spans"]
        assert (cited["start"], cited["end"], cited["page"]) == (answer["start"], answer["end"], 1)


def test_a_file_a_word_document_embeds_as_an_icon_is_ingested_as_its_attachment(celery_worker, api_a: Api):
    import uuid

    from tests.quire.documents.test_formats import W, _packaged, _with_alt_chunks, docx_of, icon_run, run

    terms = f"Schedule 2: service levels, reference {uuid.uuid4().hex}.".encode()
    body = docx_of(f"<w:p {W}>{run('Master agreement; Schedule 2 attached.')}{icon_run('rIdTerms')}</w:p>")
    content = _with_alt_chunks(
        body, {"rIdTerms": ("embeddings/oleObject1.bin", _packaged("schedule 2.txt", terms))}, "oleObject"
    )
    response = post_files(api_a, {"master.docx": content})
    assert response.status_code == 201, response.content
    master = ready(api_a, response.json()["id"])
    (attached,) = master["attachments"]
    assert attached["filename"] == "schedule 2.txt"
    child = ready(api_a, attached["document_id"])
    assert child["sha256"] == hashlib.sha256(terms).hexdigest() and child["parent"] == master["id"]
    assert api_a.get(f"/v1/documents/{child['id']}/text").json()["text"] == terms.decode()


def test_spreadsheets_slides_and_mail_with_an_attachment_ingest_from_one_request(celery_worker, api_a: Api):
    attachment = make_docx(CONTRACT.split("\n\n"))
    signed = make_docx([*CONTRACT.split("\n\n"), "Signed by both parties on 1 December 2026."])
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    files = {
        "model.xlsx": make_xlsx({"P&L": [["Metric", "FY2025"], ["Revenue", 410.5]], "Notes": [["Audited"]]}),
        "deck.pptx": make_pptx([("Project Falcon", "Revenue grew 12% in 2025", "Mention the backlog")]),
        "model.ods": make_ods(
            '<table:table table:name="P&amp;L"><table:table-row><table:table-cell><text:p>Revenue</text:p>'
            "</table:table-cell><table:table-cell><text:p>410.5</text:p></table:table-cell></table:table-row>"
            "</table:table>"
        ),
        "deck.odp": make_odp(
            "<draw:page><draw:frame><draw:text-box><text:p>Project Falcon</text:p></draw:text-box></draw:frame>"
            "</draw:page>"
        ),
        "nda.eml": make_eml(
            "Signed NDA",
            "Please find the signed NDA attached.",
            [
                (
                    "nda.docx",
                    attachment,
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                )
            ],
        ),
        "nda.msg": make_msg("Signed NDA (Outlook)", "The signed NDA is attached.", [("signed.docx", signed)]),
        "signed copy.docx": signed,
        "forward.eml": make_eml(
            "Fwd: Signed NDA", "Forwarding the NDA.", [("NDA final.docx", attachment, docx)]
        ),
    }
    response = post_files(api_a, files)
    assert response.status_code == 201, response.content
    batch = response.json()
    assert batch["object"] == "document_batch" and batch["refused"] == []
    by_name = {d["filename"]: d for d in batch["data"]}
    assert set(by_name) == set(files) and {d["batch_id"] for d in batch["data"]} == {batch["id"]}
    sheet = ready(api_a, by_name["model.xlsx"]["id"])
    assert sheet["page_count"] == 2
    cells = api_a.get(f"/v1/documents/{sheet['id']}/tables").json()["data"][0]["rows"][1]
    assert [c["text"] for c in cells] == ["Revenue", "410.5"]
    deck = ready(api_a, by_name["deck.pptx"]["id"])
    deck_text = api_a.get(f"/v1/documents/{deck['id']}/text").json()["text"]
    assert "Project Falcon" in deck_text and "Notes: Mention the backlog" in deck_text
    calc = ready(api_a, by_name["model.ods"]["id"])
    assert calc["page_count"] == 1
    cells = api_a.get(f"/v1/documents/{calc['id']}/tables").json()["data"][0]["rows"][0]
    assert [c["text"] for c in cells] == ["Revenue", "410.5"]
    impress = ready(api_a, by_name["deck.odp"]["id"])
    assert api_a.get(f"/v1/documents/{impress['id']}/text").json()["text"] == "Project Falcon"
    mail = ready(api_a, by_name["nda.eml"]["id"])
    mail_text = api_a.get(f"/v1/documents/{mail['id']}/text").json()["text"]
    assert "Subject: Signed NDA" in mail_text and "Attachments: nda.docx" in mail_text
    children = api_a.get("/v1/documents", parent=mail["id"]).json()["data"]
    assert len(children) == 1 and children[0]["sha256"] == hashlib.sha256(attachment).hexdigest()
    child = ready(api_a, children[0]["id"])
    assert "laws of the State of Delaware" in api_a.get(f"/v1/documents/{child['id']}/text").json()["text"]
    forward = ready(api_a, by_name["forward.eml"]["id"])
    assert [c["id"] for c in api_a.get("/v1/documents", parent=forward["id"]).json()["data"]] == [child["id"]]
    assert mail["attachments"] == [{"document_id": child["id"], "filename": "nda.docx"}]
    assert forward["attachments"] == [{"document_id": child["id"], "filename": "NDA final.docx"}]
    emails = sorted([mail, forward], key=lambda d: (d["created_at"], d["id"]))
    assert child["attached_to"] == [e["id"] for e in emails] and child["parent"] == emails[0]["id"]
    in_batch = api_a.get("/v1/documents", batch_id=batch["id"], limit=100).json()["data"]
    assert [d["sha256"] for d in in_batch].count(child["sha256"]) == 1
    outlook = ready(api_a, by_name["nda.msg"]["id"])
    assert outlook["content_type"] == "application/vnd.ms-outlook"
    outlook_text = api_a.get(f"/v1/documents/{outlook['id']}/text").json()["text"]
    assert outlook_text == (
        "From: Dana Seller\nTo: Deals Desk <deals@buyer.example>\nSubject: Signed NDA (Outlook)\n"
        "Attachments: signed.docx\n\nThe signed NDA is attached."
    )
    children = api_a.get("/v1/documents", parent=outlook["id"]).json()["data"]
    assert [c["filename"] for c in children] == ["signed copy.docx"]
    assert [a["filename"] for a in outlook["attachments"]] == ["signed.docx"]
    signed_child = ready(api_a, children[0]["id"])
    assert "Signed by both parties" in api_a.get(f"/v1/documents/{signed_child['id']}/text").json()["text"]
    assert signed_child["id"] == by_name["signed copy.docx"]["id"]
    assert api_a.delete(f"/v1/documents/{outlook['id']}").status_code == 200
    assert api_a.get(f"/v1/documents/{signed_child['id']}").json()["attached_to"] == []
    assert api_a.delete(f"/v1/documents/{mail['id']}").status_code == 200
    assert api_a.get(f"/v1/documents/{child['id']}").json()["attached_to"] == [forward["id"]]
    assert api_a.delete(f"/v1/documents/{forward['id']}").status_code == 200
    assert api_a.get(f"/v1/documents/{child['id']}").status_code == 404


def test_a_zip_of_mixed_files_is_one_document_per_file(celery_worker, api_a: Api):
    archive = make_zip(
        {
            "deal/readme.txt": b"Data room index: the NDA and the results.",
            "deal/legal/nda.docx": make_docx(["Acme and Beta agree to keep secrets."]),
            "deal/results.pdf": make_table_pdf("Results", QUARTERS[:2]),
            "__MACOSX/deal/._readme.txt": b"\x00\x05\x16\x07",
            "deal/bad.bin": b"\x89PNG\r\n\x1a\n\x00\x00",
        }
    )
    response = post_files(api_a, {"room.zip": archive})
    assert response.status_code == 201, response.content
    batch = response.json()
    assert sorted(d["filename"] for d in batch["data"]) == [
        "deal/legal/nda.docx",
        "deal/readme.txt",
        "deal/results.pdf",
    ]
    assert [(r["filename"], r["code"]) for r in batch["refused"]] == [
        ("deal/bad.bin", "unsupported_document")
    ]
    listed = api_a.get("/v1/documents", batch_id=batch["id"]).json()["data"]
    assert len(listed) == 3
    for document in listed:
        ready(api_a, document["id"])


def _zip_of(entries: dict[str, bytes | None]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries.items():
            if data is None:
                archive.writestr(zipfile.ZipInfo(name), b"")
            else:
                archive.writestr(name, data)
    return out.getvalue()


def test_a_zip_that_holds_no_files_is_refused_saying_so(api_a: Api):
    for name, archive in (
        ("empty.zip", _zip_of({})),
        ("folders.zip", _zip_of({"deal/": None, "deal/legal/": None})),
        ("mac.zip", _zip_of({"__MACOSX/._a": b"\x00\x05", ".DS_Store": b"\x00"})),
    ):
        response = post_files(api_a, {name: archive})
        assert response.status_code == 201, response.content
        batch = response.json()
        assert batch["data"] == [], name
        assert [(r["filename"], r["code"]) for r in batch["refused"]] == [(name, "unsupported_document")], (
            name
        )
        assert "holds no files" in batch["refused"][0]["message"], name
    beside = post_files(
        api_a, {"folders.zip": _zip_of({"deal/": None}), "memo.txt": uuid.uuid4().hex.encode()}
    )
    assert [r["filename"] for r in beside.json()["refused"]] == ["folders.zip"]
    assert len(beside.json()["data"]) == 1


def xlsx_bomb(unzipped_mb: int) -> bytes:
    """A real XLSX whose first sheet is `unzipped_mb` MB of repeated rows, streamed into the archive."""
    with zipfile.ZipFile(io.BytesIO(make_xlsx({"S": [["x"]]}))) as source:
        members = [(info, source.read(info)) for info in source.infolist()]
    row = b'<row><c t="inlineStr"><is><t>' + b"dull figures " * 40 + b"</t></is></c></row>"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in members:
            if info.filename != "xl/worksheets/sheet1.xml":
                archive.writestr(info, data)
        with archive.open("xl/worksheets/sheet1.xml", "w") as member:
            member.write(
                b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            )
            block = row * ((1 << 20) // len(row))
            for _ in range(unzipped_mb):
                member.write(block)
            member.write(b"</sheetData></worksheet>")
    return out.getvalue()


def pdf_of_pages(count: int) -> bytes:
    """A PDF of `count` pages that share one page object: small to send, huge to parse."""
    kids = b" ".join(b"3 0 R" for _ in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % count,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
    ]
    out, offsets = io.BytesIO(), []
    out.write(b"%PDF-1.4\n")
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 4\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets))
    out.write(b"trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def nested_zip(depth: int) -> bytes:
    content = make_zip({"deepest.txt": b"at the bottom"})
    for level in range(depth - 1):
        content = make_zip({f"level-{level}.zip": content})
    return content


def test_hostile_uploads_are_refused_with_their_reasons(api_a: Api):
    docx = refused(post_files(api_a, {"bomb.docx": docx_bomb(30)}), 413, "document_expands_too_large")
    assert "times its own size" in docx
    xlsx = refused(post_files(api_a, {"bomb.xlsx": xlsx_bomb(30)}), 413, "document_expands_too_large")
    assert "times its own size" in xlsx
    pages = refused(post_files(api_a, {"huge.pdf": pdf_of_pages(100_000)}), 413, "too_many_pages")
    assert "2000 pages" in pages
    deep = refused(post_files(api_a, {"deep.zip": nested_zip(50)}), 413, "nesting_too_deep")
    assert "ZIPs deeper than 3 levels" in deep
    wrapped = post_files(api_a, {"wrapped.zip": make_zip({"b.xlsx": xlsx_bomb(30), "ok.txt": b"Fine."})})
    assert wrapped.status_code == 201, wrapped.content
    assert [(r["filename"], r["code"]) for r in wrapped.json()["refused"]] == [
        ("b.xlsx", "document_expands_too_large")
    ]


@pytest.mark.parametrize(
    ("limits", "reason"),
    [
        (IngestLimits(max_ocr_pages=0), "more than 0 pages need OCR"),
        (IngestLimits(max_ocr_pixels=10_000), "pixels for OCR"),
    ],
)
def test_ocr_is_held_to_the_plan_page_cap_and_the_pixel_limit(limits, reason):
    with pytest.raises(ParseError, match=reason):
        parse_document(make_scanned_pdf(["A page nobody typed"]), PDF, limits)


def test_docx_tables_stay_in_place_as_rows_of_cells():
    import docx

    document = docx.Document()
    document.add_paragraph("Schedule A. Fees.")
    table = document.add_table(rows=2, cols=2)
    for r, row in enumerate([["Service", "Fee"], ["Hosting", "$1,200 per month"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("Fees are due monthly.")
    out = io.BytesIO()
    document.save(out)
    parsed = parse_document(out.getvalue(), DOCX)
    assert parsed.text == (
        "Schedule A. Fees.\n\n| Service | Fee |\n| Hosting | $1,200 per month |\n\nFees are due monthly."
    )
    (start, end) = parsed.tables[0]["rows"][1][1]
    assert parsed.text[start:end] == "$1,200 per month"


def test_an_emails_html_body_keeps_its_tables():
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "cfo@seller.example"
    message["Subject"] = "Q2 figures"
    message.set_content("Q2: revenue $131.2 million.")
    message.add_alternative(
        "<p>Q2 figures below.</p><table><tr><th>Metric</th><th>Q2 2026</th></tr>"
        "<tr><td>Revenue</td><td>$131.2</td></tr></table><p>Regards</p>",
        subtype="html",
    )
    parsed = parse_document(message.as_bytes(), EML)
    assert "Q2 figures below.\n\n| Metric | Q2 2026 |\n| Revenue | $131.2 |\n\nRegards" in parsed.text
    (table,) = parsed.tables
    assert [[parsed.text[start:end] for start, end in row] for row in table["rows"]] == [
        ["Metric", "Q2 2026"],
        ["Revenue", "$131.2"],
    ]


def test_html_tables_keep_their_rows_and_cells():
    html = (
        b"<html><body><h1>Results</h1><p>Acme grew.</p><table><caption>In millions</caption>"
        b"<thead><tr><th>Metric<th>Q1 2026<th>Q2 2026</thead><tbody>"
        b"<tr><td>Revenue</td><td>$120.5</td><td>$131.2</td></tr>"
        b"<tr><td>Notes<td><table><tr><td>audited</td><td>restated</td></tr></table></td></tr>"
        b"</tbody></table><p>After the table.</p></body></html>"
    )
    parsed = parse_document(html, HTML)
    assert parsed.text == (
        "Results\n\nAcme grew.\n\nIn millions\n\n| Metric | Q1 2026 | Q2 2026 |\n| Revenue | $120.5 | $131.2 |\n"
        "| Notes | audited restated |\n\nAfter the table."
    )
    (table,) = parsed.tables
    cells = [[parsed.text[start:end] for start, end in row] for row in table["rows"]]
    assert cells == [
        ["Metric", "Q1 2026", "Q2 2026"],
        ["Revenue", "$120.5", "$131.2"],
        ["Notes", "audited restated"],
    ]


def test_an_oversize_file_in_a_batch_is_refused_alone_and_a_zip_is_held_to_its_files_sizes(api_a: Api):
    import uuid

    from django.test import override_settings

    unique = uuid.uuid4().hex
    with override_settings(QUIRE_MAX_DOCUMENT_BYTES=1000):
        batch = post_files(
            api_a, {"small.txt": f"Small {unique}.".encode(), "big.txt": b"x" * 1500 + unique.encode()}
        )
        assert batch.status_code == 201, batch.content
        assert [d["filename"] for d in batch.json()["data"]] == ["small.txt"]
        assert [(r["filename"], r["code"]) for r in batch.json()["refused"]] == [
            ("big.txt", "document_too_large")
        ]
        parts = {
            f"part{i}.txt": f"Part {i} {unique} ".encode() * 10 + bytes([65 + i]) * 350 for i in range(4)
        }
        assert all(len(part) < 1000 for part in parts.values())
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as stored:
            for name, data in parts.items():
                stored.writestr(name, data)
        archive = buffer.getvalue()
        assert len(archive) > 3000
        zipped = post_files(api_a, {"deal.zip": archive})
        assert zipped.status_code == 201, zipped.content
        assert sorted(d["filename"] for d in zipped.json()["data"]) == sorted(parts)
        alone = post_files(api_a, {"big.txt": b"y" * 1500 + unique.encode()})
        refused(alone, 413, "document_too_large")


def test_a_multipart_file_keeps_the_folders_of_its_filename(api_a: Api):
    import uuid

    unique = uuid.uuid4().hex
    parts = [
        ("deal/2023/nda.txt", f"First NDA {unique}.".encode()),
        ("deal/2024/nda.txt", f"Second NDA {unique}.".encode()),
        ("../../deal/2025/./nda.txt", b"\x89PNG\r\n\x1a\n\x00\x00"),
        ("deal/..", f"Third NDA {unique}.".encode()),
        ("..", f"Fourth NDA {unique}.".encode()),
    ]
    boundary = "quire-boundary"
    body = (
        b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n".encode()
            + content
            + b"\r\n"
            for name, content in parts
        )
        + f"--{boundary}--\r\n".encode()
    )
    response = api_a.client.post(
        "/v1/documents",
        body,
        content_type=f"multipart/form-data; boundary={boundary}",
        **api_a._headers(None),
    )
    assert response.status_code == 201, response.content
    assert [d["filename"] for d in response.json()["data"]] == [
        "deal/2023/nda.txt",
        "deal/2024/nda.txt",
        "deal",
        "upload",
    ]
    assert [r["filename"] for r in response.json()["refused"]] == ["deal/2025/nda.txt"]


def test_a_batch_marks_the_files_it_found_already_stored_and_batch_id_lists_what_it_created(api_a: Api):
    import uuid

    unique = uuid.uuid4().hex
    old = api_a.post("/v1/documents", {"text": f"Stored before {unique}."}).json()
    batch = post_files(
        api_a,
        {
            "again.txt": f"Stored before {unique}.".encode(),
            "new.txt": f"New one {unique}.".encode(),
            "new-copy.txt": f"New one {unique}.".encode(),
        },
    ).json()
    assert [(d["id"] == old["id"], d["created"]) for d in batch["data"]] == [
        (True, False),
        (False, True),
        (False, False),
    ]
    assert batch["data"][1]["id"] == batch["data"][2]["id"]
    assert [(d["uploaded_as"], d["filename"]) for d in batch["data"]] == [
        ("again.txt", old["filename"]),
        ("new.txt", "new.txt"),
        ("new-copy.txt", "new.txt"),
    ]
    listed = api_a.get("/v1/documents", batch_id=batch["id"]).json()["data"]
    assert [d["id"] for d in listed] == [batch["data"][1]["id"]]


def test_an_empty_file_in_a_batch_is_refused_alone_and_an_empty_file_alone_is_a_400(api_a: Api):
    import uuid

    unique = uuid.uuid4().hex
    batch = post_files(api_a, {"empty.txt": b"", "kept.txt": f"Kept beside an empty file {unique}.".encode()})
    assert batch.status_code == 201, batch.content
    assert [d["filename"] for d in batch.json()["data"]] == ["kept.txt"]
    assert [(r["filename"], r["code"]) for r in batch.json()["refused"]] == [
        ("empty.txt", "unsupported_document")
    ]
    alone = post_files(api_a, {"empty.txt": b""})
    assert alone.status_code == 400, alone.content
    error = alone.json()["error"]
    assert (error["code"], error["param"]) == ("empty", "file.0")


def test_a_document_holding_only_files_shown_as_icons_is_read_and_its_files_ingested(
    celery_worker, api_a: Api
):
    import uuid

    from tests.quire.documents.test_formats import W, _packaged, _with_alt_chunks, docx_of, icon_run

    terms = f"Exhibit A: the price list, reference {uuid.uuid4().hex}.".encode()
    content = _with_alt_chunks(
        docx_of(f"<w:p {W}>{icon_run('rIdExhibit')}</w:p>"),
        {"rIdExhibit": ("embeddings/oleObject1.bin", _packaged("exhibit a.txt", terms))},
        "oleObject",
    )
    response = post_files(api_a, {"exhibits.docx": content})
    assert response.status_code == 201, response.content
    cover = ready(api_a, response.json()["id"])
    assert cover["char_count"] == 0 and cover["chunk_count"] == 0
    (attached,) = cover["attachments"]
    child = ready(api_a, attached["document_id"])
    assert api_a.get(f"/v1/documents/{child['id']}/text").json()["text"] == terms.decode()
    for connector in ("legal", "earnings"):
        output = run_job(api_a, connector, cover["id"])
        assert any("is empty; nothing to" in warning for warning in output["warnings"]), output["warnings"]
