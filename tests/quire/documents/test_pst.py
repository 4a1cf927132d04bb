"""Outlook data files (PST): the file's index as its text, each message an e-mail of its own, read as an
uploaded e-mail is. The samples are Apache Tika's test files (tests/data/README.md): one message in plain text
only, one in HTML, one in RTF, each with the plain body Outlook keeps beside it, and a French mailbox whose
messages have HTML bodies and one attaches an Outlook item."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from quire.documents.limits import IngestLimits
from quire.documents.parsing import ParseError, parse_document
from quire.documents.sniffing import EML, PST, sniff_content_type
from tests.quire.documents.test_dataroom import ready
from tests.support import Api, wait_for

OFFICE = Path(__file__).resolve().parents[2] / "data" / "office"
VARIOUS = (OFFICE / "testPST_variousBodyTypes.pst").read_bytes()
FRENCH = (OFFICE / "testPST.pst").read_bytes()
FOLDER = "Top of Outlook data file/Inbox/tmp"


def test_an_outlook_data_file_is_sniffed_by_its_header_and_an_offline_cache_too():
    assert sniff_content_type(VARIOUS) == PST and sniff_content_type(FRENCH) == PST
    offline = VARIOUS[:8] + b"SO" + VARIOUS[10:]
    assert sniff_content_type(offline) == PST
    assert sniff_content_type(b"!BDN and then some plain words about it") != PST


def test_its_text_is_its_index_and_each_message_is_an_email_named_by_folder_place_and_subject():
    parsed = parse_document(VARIOUS, PST)
    assert parsed.text.split("\n\n") == [
        "Outlook data file: 4 messages",
        f"Folder: {FOLDER}\n"
        "2017-08-30 19:26  Allison, Timothy B.  original email\n"
        "2017-08-30 19:26  Allison, Timothy B.  FW: original email\n"
        "2017-08-30 19:27  Allison, Timothy B.  FW: original email\n"
        "2017-08-30 19:27  Allison, Timothy B.  FW: original email",
    ]
    assert [a.filename for a in parsed.attachments] == [
        f"{FOLDER}/1 original email.eml",
        f"{FOLDER}/2 FW: original email.eml",
        f"{FOLDER}/3 FW: original email.eml",
        f"{FOLDER}/4 FW: original email.eml",
    ]
    mails = [parse_document(a.content, sniff_content_type(a.content)).text for a in parsed.attachments]
    assert all(sniff_content_type(a.content) == EML for a in parsed.attachments)
    assert mails[0].startswith(
        'From: "Allison, Timothy B." <tallison@mitre.org>\nTo: "Allison, Timothy B." <tallison@mitre.org>\n'
        "Date: Wed, 30 Aug 2017 19:26:03 +0000\nSubject: original email\n\nThis is the original email (html)"
    )
    assert [mail.rsplit("\n\n", 1)[-1] for mail in mails[1:]] == [
        "Forwarded (html)",
        "Forwarded RTF",
        "Forwarded plain text",
    ]


def test_html_bodies_are_read_as_html_and_an_attached_outlook_item_as_an_email_of_its_own():
    parsed = parse_document(FRENCH, PST)
    assert parsed.text.startswith(
        "Outlook data file: 7 messages\n\n"
        "Folder: Début du fichier de données Outlook\n2014-02-26 07:50  Jörn Kottmann  Re: Feature Generators"
    )
    names = [a.filename.rsplit("/", 1)[1] for a in parsed.attachments]
    assert names[1] == '2 Re: init tokenizer fails: "Bad type in putfield-putstatic".eml'
    forwarded = parse_document(parsed.attachments[6].content, EML)
    assert forwarded.text.endswith("Attachments: First email.eml\n\nForwarding mail\u2026")
    assert "font-family" not in forwarded.text
    [item] = forwarded.attachments
    assert (item.filename, parse_document(item.content, EML).text) == (
        "First email.eml",
        "From: \"Luis Filipe da Cruz Nassif\"\nTo: 'lfcnassif@gmail.com'\nDate: Thu, 26 Nov 2020 22:18:00 +0000\n"
        "Subject: First email\n\nDocx file attached.",
    )
    webinar = parse_document(parsed.attachments[5].content, EML).text
    assert "If you no longer wish to receive these emails" in webinar and "<td" not in webinar


@pytest.mark.parametrize(("cut", "reason"), [(5000, "cannot be read"), (100_000, "is damaged")])
def test_a_damaged_data_file_fails_with_its_reason(cut: int, reason: str):
    with pytest.raises(ParseError, match=f"the Outlook data file {reason}: unable to"):
        parse_document(VARIOUS[:cut], PST)


def test_a_data_file_of_more_messages_than_an_upload_may_hold_fails_saying_so():
    with pytest.raises(ParseError, match=r"the document holds more than 3 files \(QUIRE_UPLOAD_MAX_FILES\)"):
        parse_document(VARIOUS, PST, IngestLimits(max_batch_files=3))


def test_an_uploaded_data_file_is_read_and_each_message_becomes_a_document(celery_worker, api_a: Api):
    upload = SimpleUploadedFile("mailbox.pst", VARIOUS, content_type="application/vnd.ms-outlook")
    created = api_a.client.post("/v1/documents", {"file": [upload]}, **api_a._headers(None))
    assert created.status_code in (200, 201), created.content
    pst = ready(api_a, created.json()["id"])
    assert pst["content_type"] == PST
    text = api_a.get(f"/v1/documents/{pst['id']}/text").json()["text"]
    assert text.startswith("Outlook data file: 4 messages")

    def attached():
        listed = api_a.get("/v1/documents", limit=100).json()["data"]
        mails = [d for d in listed if pst["id"] in (d.get("attached_to") or [])]
        return mails if len(mails) == 4 else None

    mails = wait_for(attached, timeout=120, interval=0.2)
    assert sorted(m["filename"] for m in mails) == sorted(
        a.filename for a in parse_document(VARIOUS, PST).attachments
    )
    last = next(m for m in mails if m["filename"].endswith("4 FW: original email.eml"))
    ready(api_a, last["id"])
    assert api_a.get(f"/v1/documents/{last['id']}/text").json()["text"].endswith("Forwarded plain text")


@override_settings(QUIRE_MAX_DOCUMENT_BYTES=10_000_000)
def test_a_data_file_declared_as_outlooks_own_type_or_octet_stream_is_accepted(api_a: Api):
    for declared in ("application/vnd.ms-outlook-pst", "application/octet-stream"):
        upload = SimpleUploadedFile("box.pst", VARIOUS, content_type=declared)
        answered = api_a.client.post("/v1/documents", {"file": [upload]}, **api_a._headers(None))
        assert answered.status_code in (200, 201), (declared, answered.content)


def test_an_attached_item_that_is_not_one_property_context_is_none():
    from quire.documents.pst import _attached_item

    assert _attached_item(b"") is None and _attached_item(b"not a heap at all, just words") is None
    assert _attached_item(b"\x0c\x00\xec\xbc\x20\x00\x00\x00" + b"\x00" * 4) is None
