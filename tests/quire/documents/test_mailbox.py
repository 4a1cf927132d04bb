"""An mbox (a mail client's export, Gmail's Takeout) is many e-mails: split into its messages, one document each,
grouped in a batch as a ZIP's files are, never read as its first message alone."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from quire.documents.limits import IngestLimits
from quire.documents.sniffing import mailbox_messages
from quire.documents.uploads import Upload, holds_files, unpacked
from tests.quire.documents.test_dataroom import ready
from tests.support import Api
from tests.support.documents import make_eml, make_mbox, make_zip

THUNDERBIRD = (
    b"From - Sat Jan  3 01:05:34 2026\r\n"
    b"From: Dana <dana@seller.example>\r\nTo: deals@buyer.example\r\nSubject: Draft SPA\r\n\r\n"
    b"The draft is attached.\r\nFrom the seller's side: nothing further.\r\n\r\n"
    b"From - Sun Jan  4 09:00:00 2026\r\n"
    b"From: Lee <lee@buyer.example>\r\nTo: dana@seller.example\r\nSubject: Re: Draft SPA\r\n\r\n"
    b"Comments by Friday.\r\n"
)
GMAIL = (
    b"From 1786123456789012345@xxx Wed Oct 05 13:55:25 +0000 2026\n"
    b"X-GM-THRID: 1786123456789012345\nFrom: a@example.com\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe/Termine?=\n\n"
    b">From the board: approved.\n>>From here on, quoted twice.\n\n"
    b"From 1786123456789012346@xxx Thu Oct 06 08:00:00 +0000 2026\n"
    b"From: b@example.com\nSubject: Minutes\n\nMinutes follow.\n"
)


def _post(api: Api, name: str, content: bytes, content_type: str = "application/octet-stream"):
    upload = SimpleUploadedFile(name, content, content_type=content_type)
    return api.client.post("/v1/documents", {"file": [upload]}, **api._headers(None))


def test_an_mbox_python_writes_splits_into_its_messages_with_quoted_from_lines_read_back():
    first = make_eml("One", "From here on we agree.\nSigned.", [])
    second = make_eml("Two", "Second body.", [("terms.txt", b"Attached terms.", "text/plain")])
    messages = mailbox_messages(make_mbox([first, second]))
    assert messages is not None and len(messages) == 2
    assert b"\nFrom here on we agree.\nSigned.\n" in messages[0] and b">From" not in messages[0]
    assert messages[1].rstrip(b"\n") == second.rstrip(b"\n")


def test_thunderbird_and_gmail_envelopes_split_and_a_body_line_starting_from_does_not():
    thunderbird = mailbox_messages(THUNDERBIRD)
    assert [m.split(b"\r\n\r\n")[1] for m in thunderbird] == [
        b"The draft is attached.\r\nFrom the seller's side: nothing further.\r\n",
        b"Comments by Friday.\r\n",
    ]
    gmail = mailbox_messages(GMAIL)
    assert len(gmail) == 2
    assert b"\n\nFrom the board: approved.\n>From here on, quoted twice.\n" in gmail[0]


def test_one_message_in_mbox_form_and_plain_mail_or_text_are_no_mailbox():
    one = b"From - Sat Jan  3 01:05:34 2026\n" + make_eml("Alone", "Only one.", [])
    assert mailbox_messages(one) is None and not holds_files(one)
    assert mailbox_messages(make_eml("Plain", "No envelope.", [])) is None
    assert mailbox_messages(b"From Monday on, the office is closed.\n\nFrom Tue Jan  3 on, open.\n") is None
    assert holds_files(GMAIL) and holds_files(make_zip({"a.txt": b"a"}))


def test_messages_without_headers_still_split_at_their_envelopes():
    archived = (
        b"From envelope-sender-mailbox-name Mon Jun 01 10:00:00 2009\n\nTest content 1\n\n"
        b"From envelope-sender-mailbox-name Mon Jun 01 11:00:00 2010\n\nTest content 2"
    )
    assert mailbox_messages(archived) == [b"\nTest content 1\n", b"\nTest content 2"]


def test_each_message_is_named_after_the_mailbox_its_place_and_its_decoded_subject():
    files = unpacked(
        [
            Upload("Takeout/All mail.mbox", GMAIL),
            Upload("room.zip", make_zip({"mail/Inbox.mbox": THUNDERBIRD})),
        ],
        IngestLimits.from_settings(),
    )
    assert [f.filename for f in files] == [
        "Takeout/All mail.mbox/1 Grüße-Termine.eml",
        "Takeout/All mail.mbox/2 Minutes.eml",
        "mail/Inbox.mbox/1 Draft SPA.eml",
        "mail/Inbox.mbox/2 Re: Draft SPA.eml",
    ]
    ten = make_mbox([make_eml("", f"Body {n}.", []) for n in range(10)])
    assert [f.filename for f in unpacked([Upload("x.mbox", ten)], IngestLimits.from_settings())][:2] == [
        "x.mbox/01.eml",
        "x.mbox/02.eml",
    ]


def test_an_mbox_upload_is_a_batch_of_its_messages_each_read_with_its_attachments(celery_worker, api_a: Api):
    tag = uuid.uuid4().hex[:8]
    box = make_mbox(
        [
            make_eml(
                f"Offer {tag}",
                "We offer 10 million.",
                [("terms.txt", f"Terms {tag}.".encode(), "text/plain")],
            ),
            make_eml(f"Counter {tag}", "From our side: 12 million.", []),
            make_eml(f"Close {tag}", "Agreed at 11 million.", []),
        ]
    )
    response = _post(api_a, "Deal.mbox", box, "application/mbox")
    assert response.status_code == 201, response.content
    batch = response.json()
    assert [d["filename"] for d in batch["data"]] == [
        f"Deal.mbox/1 Offer {tag}.eml",
        f"Deal.mbox/2 Counter {tag}.eml",
        f"Deal.mbox/3 Close {tag}.eml",
    ]
    texts = {}
    for document in batch["data"]:
        ready(api_a, document["id"])
        texts[document["filename"]] = api_a.get(f"/v1/documents/{document['id']}/text").json()["text"]
    assert "We offer 10 million." in texts[f"Deal.mbox/1 Offer {tag}.eml"]
    assert "From our side: 12 million." in texts[f"Deal.mbox/2 Counter {tag}.eml"]
    assert "Agreed at 11 million." in texts[f"Deal.mbox/3 Close {tag}.eml"]
    assert "10 million" not in texts[f"Deal.mbox/3 Close {tag}.eml"]
    listed = api_a.get("/v1/documents", batch_id=batch["id"]).json()["data"]
    attachment = next(d for d in listed if d["filename"] == "terms.txt")
    assert attachment["attached_to"] == [batch["data"][0]["id"]]


def test_a_mailbox_of_more_messages_than_an_upload_may_hold_is_refused_whole(api_a: Api):
    box = make_mbox([make_eml(f"Note {n}", f"Body {uuid.uuid4().hex}.", []) for n in range(3)])
    with override_settings(QUIRE_UPLOAD_MAX_FILES=2):
        response = _post(api_a, "big.mbox", box)
    assert response.status_code == 413, response.content
    assert response.json()["error"]["param"] == "file"


@pytest.mark.parametrize("content_type", ["application/mbox", "message/rfc822"])
def test_one_message_in_mbox_form_is_one_document_as_before(api_a: Api, content_type: str):
    one = b"From - Sat Jan  3 01:05:34 2026\n" + make_eml(f"Alone {uuid.uuid4().hex}", "Only one.", [])
    response = _post(api_a, "one.mbox", one, content_type)
    assert response.status_code == 201, response.content
    assert response.json()["object"] == "document"
