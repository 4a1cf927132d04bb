"""PowerPoint 97-2003 presentations (.ppt): sniffed, read slide by slide through the last save's persist
directory, shapes in drawing order with the placeholder texts they name, notes, and refusals with the reason."""

from __future__ import annotations

import uuid

import pytest

from quire.documents.parsing import ParseError, parse_document
from quire.documents.sniffing import PPT, sniff_content_type
from tests.support import Api
from tests.support.documents import make_ppt

DECK = [
    {
        "placeholders": ["Quarterly results\x0bFiscal 2026", "Revenue rose 12%\rMargins held at 31%"],
        "shapes": [("ref", 0), ("chars", "Outlook: raised"), ("ref", 1), ("bytes", "Café financing closed")],
        "notes": "Mention the one-off gain.\r*",
    },
    {"placeholders": ["Risks", "Supply costs", "*"], "shapes": [("ref", 0)]},
]


def test_a_presentation_is_read_slide_by_slide_in_drawing_order_with_its_notes():
    content = make_ppt(DECK)
    assert sniff_content_type(content) == PPT
    parsed = parse_document(content, PPT)
    assert parsed.page_count == 2
    cut = parsed.page_starts[1]
    first, second = parsed.text[:cut].strip(), parsed.text[cut:].strip()
    assert first.split("\n\n") == [
        "Quarterly results\nFiscal 2026",
        "Outlook: raised",
        "Revenue rose 12%\nMargins held at 31%",
        "Café financing closed",
        "Notes: Mention the one-off gain.",
    ]
    # Placeholder text no shape names is read after the shapes; a field's mark is no text.
    assert second.split("\n\n") == ["Risks", "Supply costs"]


def test_a_slide_an_incremental_save_replaced_is_read_as_it_is_now():
    revised = {0: {"shapes": [("chars", "Quarterly results, restated")]}}
    parsed = parse_document(make_ppt(DECK, revised=revised), PPT)
    assert "Quarterly results, restated" in parsed.text
    assert "Outlook: raised" not in parsed.text and "Risks" in parsed.text


def test_an_encrypted_or_damaged_presentation_fails_with_the_reason():
    with pytest.raises(ParseError, match="encrypted with a password"):
        parse_document(make_ppt(DECK, encrypted=True), PPT)
    from tests.support.documents import make_ole

    cut = make_ole([("Current User", make_ole_user(10_000)), ("PowerPoint Document", bytes(64))])
    with pytest.raises(ParseError, match="presentation is damaged"):
        parse_document(cut, PPT)
    with pytest.raises(ParseError, match="a PowerPoint 95 presentation or older"):
        parse_document(
            make_ole([("Current User", b"\x0b\0\0\0Dana"), ("PowerPoint Document", bytes(64))]), PPT
        )


def test_a_powerpoint_95_file_is_read_as_its_text_content_stream_keeps_its_text():
    from tests.support.documents import make_ole

    text = "Quarterly results\r\rRevenue rose 12%\rMargins held\r\rCaf\xe9 financing closed\r".encode(
        "cp1252"
    )
    content = make_ole(
        [("Current User", b"\x0b\0\0\0Dana"), ("PowerPoint Document", bytes(64)), ("Text_Content", text)]
    )
    assert sniff_content_type(content) == PPT
    parsed = parse_document(content, PPT)
    assert parsed.text == "Quarterly results\n\nRevenue rose 12%\nMargins held\n\nCafé financing closed"
    assert parsed.page_count == 1


def test_a_powerpoint_95_file_saved_with_its_powerpoint_97_copy_is_read_through_the_copy():
    import olefile

    from tests.support.documents import make_ole

    with olefile.OleFileIO(make_ppt(DECK)) as ole:
        streams = {name: ole.openstream(name).read() for name in ("Current User", "PowerPoint Document")}
    dual = make_ole(
        [
            ("Current User", b"\x0b\0\0\0Dana"),
            ("PowerPoint Document", bytes(64)),
            ("PP97_DUALSTORAGE", None),
            *((f"PP97_DUALSTORAGE/{name}", data) for name, data in streams.items()),
        ]
    )
    assert sniff_content_type(dual) == PPT
    assert "Revenue rose 12%" in parse_document(dual, PPT).text


def make_ole_user(offset: int) -> bytes:
    import struct

    return struct.pack("<HHIIIIHHBBH", 0, 0x0FF6, 20, 0x14, 0xE391C05F, offset, 0, 0x03F4, 3, 0, 0)


@pytest.mark.parametrize("declared", [PPT, "application/mspowerpoint", "application/octet-stream"])
def test_a_presentation_uploads_and_is_read_by_a_worker(celery_worker, api_a: Api, declared):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.quire.documents.test_dataroom import ready

    deck = [{**DECK[0], "placeholders": [f"Deck {uuid.uuid4().hex}", *DECK[0]["placeholders"][1:]]}, DECK[1]]
    upload = SimpleUploadedFile("results.ppt", make_ppt(deck), content_type=declared)
    created = api_a.client.post("/v1/documents", {"file": upload}, **api_a._headers(None))
    assert created.status_code == 201, created.content
    assert created.json()["content_type"] == PPT
    document = ready(api_a, created.json()["id"])
    assert document["pages_total"] == 2, document
    text = api_a.get(f"/v1/documents/{document['id']}/text").json()["text"]
    assert "Revenue rose 12%" in text and "Notes: Mention the one-off gain." in text


def test_a_deck_of_scans_is_read_through_its_pictures_slide_by_slide():
    from quire.documents.limits import IngestLimits
    from tests.quire.documents.test_images import SCANNED, page, saved

    exhibit = saved(page(["Exhibit E: Site Plan"]), "PNG")
    scan = saved(page(SCANNED), "PNG")
    deck = [
        {"placeholders": ["Signed"], "shapes": [("ref", 0), ("picture", exhibit)]},
        {"shapes": [("kept picture", scan), ("chars", "End of scans")]},
    ]
    content = make_ppt(deck)
    parsed = parse_document(content, PPT)
    assert parsed.ocr_pages == [1, 2]
    text = parsed.text
    assert (
        text.index("Signed")
        < text.index("Exhibit E")
        < text.index("State of Delaware")
        < text.index("End of")
    )
    assert parsed.page_at(text.index("Exhibit E")) == 1 and parsed.page_at(text.index("Delaware")) == 2
    unread = parse_document(content, PPT, IngestLimits(ocr_pictures="never"))
    assert "Exhibit" not in unread.text and unread.ocr_pages == []


def test_a_slides_table_reads_as_a_table_its_cells_placed_by_their_anchors():
    deck = [
        {
            "placeholders": ["Results"],
            "shapes": [
                ("ref", 0),
                ("table", [["Metric", "Q3", "Q4"], ["Revenue", "455.5", "470.1"], ["Margin", "31%", ""]]),
                ("chars", "Figures unaudited"),
            ],
        }
    ]
    parsed = parse_document(make_ppt(deck), PPT)
    assert parsed.text == (
        "Results\n\n| Metric | Q3 | Q4 |\n| Revenue | 455.5 | 470.1 |\n| Margin | 31% |  |\n\nFigures unaudited"
    )
    [table] = parsed.tables
    cells = [[parsed.text[start:end] for start, end in row] for row in table["rows"]]
    assert cells == [["Metric", "Q3", "Q4"], ["Revenue", "455.5", "470.1"], ["Margin", "31%", ""]]


def test_a_slides_embedded_workbook_is_read_where_it_stands_and_a_file_shown_as_an_icon_is_an_attachment():
    from tests.quire.documents.test_formats import _packaged, _rates_xls

    deck = [
        {
            "placeholders": ["Pricing"],
            "shapes": [
                ("ref", 0),
                ("object", (_rates_xls(), False)),
                ("object", (_packaged("terms.txt", b"Standard terms apply."), True)),
                ("chars", "See the attached terms"),
            ],
        }
    ]
    parsed = parse_document(make_ppt(deck), PPT)
    assert parsed.text == "Pricing\n\nSheet: Rates\n\n| Support |\n\nSee the attached terms"
    assert [(a.filename, a.content) for a in parsed.attachments] == [("terms.txt", b"Standard terms apply.")]


def test_an_embedded_object_that_would_inflate_past_the_limit_is_left_out_saying_so(caplog):
    import logging

    from quire.documents.limits import IngestLimits
    from tests.quire.documents.test_formats import _rates_xls

    deck = [{"placeholders": ["Pricing"], "shapes": [("ref", 0), ("object", (_rates_xls(), False))]}]
    with caplog.at_level(logging.INFO, logger="quire.documents.ppt"):
        parsed = parse_document(make_ppt(deck), PPT, IngestLimits(max_unzipped_bytes=1024))
    assert parsed.text == "Pricing"
    assert "inflates past QUIRE_INGEST_MAX_UNZIPPED_BYTES" in caplog.text
