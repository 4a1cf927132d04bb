"""Hostile and odd bytes at the door: what sniffing and unpacking make of them is a type or a refusal
(415/413, or a batch's `refused` entry), never an exception that answers 500, and never slower than
linear in the bytes; and what sniffing takes, parsing reads."""

from __future__ import annotations

import hashlib
import io
import struct
import uuid
import zipfile

import pytest
from django.db import transaction
from django_tenants.utils import tenant_context

from common.jsontext import json_depth
from quire.documents.limits import IngestLimits
from quire.documents.models import Attachment, Document
from quire.documents.parsing import parse_document
from quire.documents.sniffing import (
    EML,
    HTML,
    MAX_HEADER_BYTES,
    PDF,
    TEXT,
    TRANSCRIPT,
    ZIP,
    UnsupportedDocument,
    declared_matches,
    sniff_content_type,
)
from quire.documents.uploads import Upload, is_zip, unpacked
from tests.quire.documents.test_dataroom import post_files, refused
from tests.support import Api, wait_for
from tests.support.documents import make_eml, make_pdf, make_zip, stored_upload

# --- archives built here ----------------------------------------------------------------------------------


def _patched(archive: bytes, patch) -> bytes:
    """`archive` with `patch(data, local_header_at, central_header_at)` applied to its first member."""
    data = bytearray(archive)
    patch(data, data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02"))
    return bytes(data)


def encrypted_member(archive: bytes) -> bytes:
    """The first member flagged as encrypted with a password (general purpose bit 0)."""

    def patch(data, local, central):
        data[local + 6] |= 0x01
        data[central + 8] |= 0x01

    return _patched(archive, patch)


def compressed_with(archive: bytes, method: int) -> bytes:
    """The first member declared compressed with `method` (9 is Deflate64, which zipfile does not read)."""

    def patch(data, local, central):
        struct.pack_into("<H", data, local + 8, method)
        struct.pack_into("<H", data, central + 10, method)

    return _patched(archive, patch)


def needing_version(archive: bytes, version: int) -> bytes:
    """The first member declaring the ZIP version needed to extract it (64 is 6.4, past zipfile's 6.3)."""
    return _patched(archive, lambda data, local, central: struct.pack_into("<H", data, central + 6, version))


def utf8_flag_on_latin1_name(archive: bytes) -> bytes:
    """The first member's name flagged as UTF-8 (bit 11) while its first byte is Latin-1 é."""

    def patch(data, local, central):
        data[central + 9] |= 0x08
        data[central + 46] = 0xE9

    return _patched(archive, patch)


def not_inflating(archive: bytes) -> bytes:
    """The first member's Deflate stream replaced by a reserved block type, which zlib refuses."""

    def patch(data, local, central):
        name_length, extra_length = struct.unpack_from("<HH", data, local + 26)
        start = local + 30 + name_length + extra_length
        size = struct.unpack_from("<I", data, central + 20)[0]
        data[start : start + size] = b"\xff" * size

    return _patched(archive, patch)


HELLO = make_zip({"a.txt": b"hello world " * 10})


# --- JSON depth -------------------------------------------------------------------------------------------


def test_json_depth_is_linear_on_an_unterminated_string_of_escaped_quotes():
    content = b'{"' + b'\\"' * 500_000
    assert json_depth(content.decode()) == 1
    assert sniff_content_type(content) == TEXT


def test_json_depth_skips_escapes_and_an_unterminated_string():
    assert json_depth('["a\\\\", [1]]') == 2
    assert json_depth('["a", "[[[') == 1


# --- JSON transcripts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"q_and_a": [], "prepared_remarks": "x"}', '"prepared_remarks" must be a list of turns'),
        (b'{"q_and_a": [], "prepared_remarks": {"a": 1}}', '"prepared_remarks" must be a list of turns'),
        (b'{"turns": [{"text": "Revenue grew 5%."}]}', 'turn 0 needs string "speaker"'),
        (b'{"q_and_a": [{"speech": "x"}], "prepared_remarks": [{"speech": "y"}]}', "needs string"),
        (b"[]", "no turns"),
        (b'{"turns": []}', "no turns"),
    ],
)
def test_json_parsing_would_fail_is_refused_when_sniffed(content, reason):
    with pytest.raises(UnsupportedDocument, match="JSON that is not a transcript") as refused:
        sniff_content_type(content)
    assert reason in refused.value.message


@pytest.mark.parametrize(
    "content",
    [
        b'\xef\xbb\xbf{"turns": [{"speaker": "A", "text": "Hi."}]}',
        b'{"turns": [{"speaker": "A", "text": "The <body> of the release and its <html> copy."}]}',
        b'[{"speaker": "A", "speech": "Hi."}]',
    ],
    ids=["byte order mark", "tags in the speech", "speech for text"],
)
def test_a_transcript_parsing_reads_is_sniffed_as_one(content):
    assert sniff_content_type(content) == TRANSCRIPT
    assert parse_document(content, TRANSCRIPT, IngestLimits()).text.startswith("A: ")


def test_text_that_only_starts_like_json_is_still_html_or_text():
    assert sniff_content_type(b"[draft] <html><body><p>Hi</p></body></html>") == HTML
    assert sniff_content_type(b"[draft] Minutes of the board meeting.") == TEXT


# --- e-mail headers --------------------------------------------------------------------------------------

MAIL = b"From: Alice <a@example.com>\r\nTo: b@example.com\r\nSubject: Deal\r\n"


def relays(count: int) -> bytes:
    return b"".join(
        b"Received: from relay%d.example.com (relay%d.example.com [10.0.0.1]) by mx.example.com with ESMTPS "
        b"id abcdefghijkl; Tue, 1 Jan 2026 00:00:00 +0000\r\n" % (i, i)
        for i in range(count)
    )


@pytest.mark.parametrize(
    "content",
    [
        b"Received: from mx.example.com\r\nX-Spam_score: 0.1\r\nX-Spam_bar: /\r\n"
        + MAIL
        + b"\r\nHello Bob.\r\n",
        relays(130) + MAIL + b"\r\nHello Bob, the contract is attached.\r\n",
    ],
    ids=["exim's X-Spam_score", "17 KB of Received lines"],
)
def test_an_email_is_known_by_any_rfc_5322_field_names_and_a_long_header_block(content):
    assert sniff_content_type(content) == EML


def test_an_email_with_a_long_header_block_and_a_latin_1_body_is_read():
    content = (
        relays(130)
        + MAIL
        + b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n"
        + b"\r\nGr\xfc\xdfe Bob, the contract is attached.\r\n"
    )
    assert sniff_content_type(content) == EML
    assert "Gr\u00fc\u00dfe Bob" in parse_document(content, EML, IngestLimits()).text


@pytest.mark.parametrize(
    "content",
    [
        b"Title: Board minutes\nAuthor: J. Doe\n\nThe board met on Monday.\n",
        b"From: the desk of Jane Doe\n\nDear all, the board met on Monday.\n",
        b"From: Jane\nSubject: minutes\nThe board met on Monday.\n",
        relays(MAX_HEADER_BYTES // 100) + MAIL + b"\r\nHello.\r\n",
    ],
    ids=["no sender", "a sender alone", "no blank line", "headers past the bound"],
)
def test_text_that_only_looks_like_headers_stays_text(content):
    assert sniff_content_type(content) == TEXT


@pytest.mark.parametrize(
    ("content_type", "body", "text"),
    [
        (b"text/plain; charset=unknown-8bit", b"Hello \xe9 body", "Hello \u00e9 body"),
        (b"text/plain; charset=x-unknown-foo", "Caf\u00e9 body".encode(), "Caf\u00e9 body"),
        (b'text/html; charset="bogus"', b"<p>Hi</p>", "Hi"),
    ],
    ids=["unknown-8bit", "utf-8 under an unknown name", "html in a bogus charset"],
)
def test_an_email_body_in_a_charset_python_does_not_know_is_still_read(content_type, body, text):
    content = MAIL + b"Content-Type: " + content_type + b"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body
    assert sniff_content_type(content) == EML
    assert parse_document(content, EML, IngestLimits()).text.endswith("Subject: Deal\n\n" + text)


@pytest.mark.parametrize(
    ("headers", "body", "text"),
    [
        (b"", "Kündigung zum 30. Juni.".encode(), "Kündigung zum 30. Juni."),
        (b"", "Kündigung zum 30. Juni.".encode("cp1252"), "Kündigung zum 30. Juni."),
        (b"Content-Type: text/plain; charset=us-ascii\r\n", "Kündigung €5".encode(), "Kündigung €5"),
        (b"Content-Type: text/plain; charset=utf-8\r\n", "Kündigung €5".encode("cp1252"), "Kündigung €5"),
        (b"Content-Type: text/html\r\n", "<p>Kündigung</p>".encode(), "Kündigung"),
        (
            b"Content-Type: text/html\r\n",
            '<meta charset="windows-1251"><p>Договор</p>'.encode("cp1251"),
            "Договор",
        ),
    ],
    ids=[
        "no charset, utf-8",
        "no charset, windows-1252",
        "ascii declared, utf-8",
        "utf-8 declared, windows-1252",
        "html without a charset",
        "html declaring its charset",
    ],
)
def test_an_email_body_whose_bytes_its_charset_does_not_name_is_still_read(headers, body, text):
    content = MAIL + b"MIME-Version: 1.0\r\n" + headers + b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body
    assert sniff_content_type(content) == EML
    assert parse_document(content, EML, IngestLimits()).text.endswith("Subject: Deal\n\n" + text)


# --- ZIPs zipfile cannot read -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "archive",
    [needing_version(HELLO, 64), utf8_flag_on_latin1_name(HELLO)],
    ids=["version 6.4", "utf-8 flag on a latin-1 name"],
)
def test_a_zip_zipfile_cannot_open_is_no_batch_and_an_unsupported_document(archive):
    assert not is_zip(archive)
    with pytest.raises(UnsupportedDocument, match="ZIP archive"):
        sniff_content_type(archive)


@pytest.mark.parametrize(
    ("archive", "reason"),
    [
        (encrypted_member(HELLO), "encrypted with a password"),
        (compressed_with(HELLO, 9), "cannot be unzipped"),
        (compressed_with(HELLO, 99), "cannot be unzipped"),
    ],
    ids=["encrypted", "deflate64", "method 99"],
)
def test_a_zip_member_that_cannot_be_unzipped_is_unpacked_as_unreadable(archive, reason):
    wrapped = make_zip({"inner.zip": archive, "ok.txt": b"Fine."})
    files = unpacked([Upload("upload.zip", wrapped)], IngestLimits())
    assert [(f.filename, f.content, bool(f.unreadable)) for f in files] == [
        ("inner.zip/a.txt", b"", True),
        ("ok.txt", b"Fine.", False),
    ]
    assert reason in files[0].unreadable


def test_files_of_a_zip_inside_the_upload_are_named_after_its_path():
    inner = [make_zip({"nda.txt": f"NDA of {year}.".encode()}) for year in (2023, 2024)]
    outer = make_zip(
        {
            "2023/contracts.zip": inner[0],
            "2024/contracts.zip": inner[1],
            "a.txt": b"A.",
            "../../escape.txt": b"Out.",
            "./x/../..": b"Dots.",
            "C:\\deal\\..\\b.txt": b"B.",
        }
    )
    files = unpacked([Upload("deal.zip", outer)], IngestLimits())
    assert [f.filename for f in files] == [
        "2023/contracts.zip/nda.txt",
        "2024/contracts.zip/nda.txt",
        "a.txt",
        "escape.txt",
        "x",
        "C:/deal/b.txt",
    ]


def test_a_batch_refuses_the_member_it_cannot_unzip_and_creates_the_others(api_a: Api):
    archive = encrypted_member(make_zip({"sealed.txt": b"secret " * 20, "open.txt": b"Plain words."}))
    response = post_files(api_a, {"deal.zip": archive})
    assert response.status_code == 201, response.content
    batch = response.json()
    assert [d["filename"] for d in batch["data"]] == ["open.txt"]
    assert [(r["filename"], r["code"]) for r in batch["refused"]] == [("sealed.txt", "unsupported_document")]
    assert "encrypted with a password" in batch["refused"][0]["message"]


def test_zips_zipfile_cannot_read_are_refused_not_failed(api_a: Api):
    refused(post_files(api_a, {"new.zip": needing_version(HELLO, 64)}), 415, "unsupported_document")
    refused(post_files(api_a, {"bad.zip": utf8_flag_on_latin1_name(HELLO)}), 415, "unsupported_document")
    message = refused(post_files(api_a, {"broken.zip": not_inflating(HELLO)}), 415, "unsupported_document")
    assert "ZIP archive" in message
    both = post_files(api_a, {"new.zip": needing_version(HELLO, 64), "ok.txt": b"Fine and readable."})
    assert both.status_code == 201, both.content
    assert [(r["filename"], r["code"]) for r in both.json()["refused"]] == [
        ("new.zip", "unsupported_document")
    ]


def test_an_attachment_sniffing_cannot_read_is_left_out_and_the_email_ingests(tenant_a):
    from quire.documents.services import document_ingest

    mail = make_eml(
        "Data room",
        "Three files attached.",
        [
            ("new.zip", needing_version(HELLO, 64), "application/zip"),
            ("call.json", b'{"q_and_a": [], "prepared_remarks": "none"}', "application/json"),
            ("notes.txt", b"The notes of the call.", "text/plain"),
        ],
    )
    with tenant_context(tenant_a.tenant):
        document = stored_upload(mail, "room.eml", "message/rfc822")
        document_ingest(tenant=tenant_a.tenant, document_id=document.pk)
        document.refresh_from_db()
        assert document.status == "ready", document.failure_reason
        assert "Attachments: new.zip, call.json, notes.txt" in document.text
        assert [a.filename for a in Attachment.objects.filter(email=document)] == ["notes.txt"]


def test_a_zip_attached_to_an_email_gives_its_files_as_the_emails_attachments(tenant_a):
    from quire.documents.services import document_ingest

    tag = uuid.uuid4().hex
    bundle = make_zip(
        {"deal/nda.txt": f"The NDA of {tag}.".encode(), "deal/": b"", "terms.txt": f"Terms {tag}.".encode()}
    )
    mail = make_eml(
        "Data room",
        "The bundle is attached.",
        [("bundle.zip", bundle, "application/zip"), ("note.txt", f"A note {tag}.".encode(), "text/plain")],
    )
    with tenant_context(tenant_a.tenant):
        document = stored_upload(mail, "room.eml", "message/rfc822")
        document_ingest(tenant=tenant_a.tenant, document_id=document.pk)
        document.refresh_from_db()
        assert document.status == "ready", document.failure_reason
        listed = [(a.filename, a.document.filename) for a in Attachment.objects.filter(email=document)]
        assert listed == [
            ("bundle.zip/deal/nda.txt", "bundle.zip/deal/nda.txt"),
            ("bundle.zip/terms.txt", "bundle.zip/terms.txt"),
            ("note.txt", "note.txt"),
        ]


def test_an_attachments_filename_loses_its_control_characters():
    mail = (
        b"From: a@b.example\r\nSubject: hi\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="X"\r\n\r\n--X\r\nContent-Type: text/plain\r\n\r\nbody\r\n'
        b"--X\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''contract%00%0A.txt\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\naGVsbG8gd29ybGQ=\r\n--X--\r\n"
    )
    parsed = parse_document(mail, "message/rfc822", IngestLimits())
    assert [a.filename for a in parsed.attachments] == ["contract.txt"]


def test_an_unknown_marked_section_is_skipped_not_a_failed_document():
    html = b"<html><body><![foo[x]]><p>kept</p></body></html>"
    assert parse_document(html, "text/html", IngestLimits()).text == "kept"


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"\xef\xbb\xbf", "text/plain"),
        (b"\xc2\xa0", "text/plain"),
        (b"<html><body><script>x</script></body></html>", "text/html"),
    ],
)
def test_a_document_with_no_text_fails_as_a_pdf_without_text_does(content, kind):
    from quire.documents.parsing import ParseError

    with pytest.raises(ParseError, match="no text"):
        parse_document(content, kind, IngestLimits())


def test_an_email_deleted_while_its_attachments_are_stored_takes_them_with_it(tenant_a, monkeypatch):
    import uuid

    from quire.documents import services

    unique = uuid.uuid4().hex
    mail = make_eml(
        "Data room",
        f"Two files attached ({unique}).",
        [
            ("first.txt", f"The first note {unique}.".encode(), "text/plain"),
            ("second.txt", f"The second note {unique}.".encode(), "text/plain"),
        ],
    )
    digest = hashlib.sha256(mail).hexdigest()
    created = services.document_create

    def deleted_after_the_first(**kwargs):
        # A delete waits for the e-mail's row lock, held while an attachment is stored: it lands as the
        # transaction storing the first one commits.
        made = created(**kwargs)
        email = Document.objects.filter(sha256=digest).first()
        if email is not None:
            transaction.on_commit(lambda: services.document_delete(document=email))
        return made

    monkeypatch.setattr(services, "document_create", deleted_after_the_first)
    with tenant_context(tenant_a.tenant):
        document = stored_upload(mail, "room.eml", "message/rfc822")
        services.document_ingest(tenant=tenant_a.tenant, document_id=document.pk)
        assert not Document.objects.filter(pk=document.pk).exists()
        attachments = [
            hashlib.sha256(f"The {n} note {unique}.".encode()).hexdigest() for n in ("first", "second")
        ]
        assert not Document.objects.filter(sha256__in=attachments).exists()


def test_a_file_uploaded_on_its_own_after_arriving_as_an_attachment_outlives_the_email(
    api_a: Api, tenant_a, monkeypatch
):
    import uuid

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test.client import MULTIPART_CONTENT

    from quire.documents import services

    unique = uuid.uuid4().hex
    terms = f"Terms of the deal {unique}. The buyer pays the seller in thirty days.".encode()
    mail = make_eml(f"Deal {unique}", "Please find the terms attached.", [("terms.txt", terms, "text/plain")])
    email = api_a.post(
        "/v1/documents",
        {"file": SimpleUploadedFile("deal.eml", mail, "message/rfc822")},
        content_type=MULTIPART_CONTENT,
    ).json()
    monkeypatch.setattr(
        services, "chunk_embedder", lambda: (lambda texts: [[0.1] * 384 for _ in texts], "fake-encoder")
    )
    with tenant_context(tenant_a.tenant):
        services.document_ingest(tenant=tenant_a.tenant, document_id=email["id"])
    # A worker of the session may have taken the upload's own task first: its run is then the one that lists.
    attached = wait_for(lambda: api_a.get(f"/v1/documents/{email['id']}").json()["attachments"], timeout=120)
    attachment_id = attached[0]["document_id"]
    own = api_a.post(
        "/v1/documents",
        {"file": SimpleUploadedFile("terms.txt", terms, "text/plain")},
        content_type=MULTIPART_CONTENT,
    )
    assert own.json()["id"] == attachment_id
    assert api_a.delete(f"/v1/documents/{email['id']}").status_code == 200
    assert api_a.get(f"/v1/documents/{attachment_id}").status_code == 200


@pytest.mark.parametrize("interrupted", ["deadline", "soft time limit"])
def test_an_email_interrupted_while_its_attachments_are_stored_lists_each_one_stored(
    tenant_a, monkeypatch, interrupted
):
    import uuid

    from celery.exceptions import SoftTimeLimitExceeded

    from quire.documents import services
    from quire.documents.limits import DeadlinePassed

    unique = uuid.uuid4().hex
    notes = [f"Note {n} of {unique}.".encode() for n in range(4)]
    mail = make_eml(
        "Notes", "Four notes.", [(f"n{n}.txt", note, "text/plain") for n, note in enumerate(notes)]
    )
    created, create = [], services.document_create

    def counted(**kwargs):
        if interrupted == "soft time limit" and len(created) == 2:
            raise SoftTimeLimitExceeded()
        created.append(create(**kwargs))
        return created[-1]

    def check_time(self) -> None:
        if interrupted == "deadline" and len(created) == 2:
            raise DeadlinePassed()

    monkeypatch.setattr(services, "document_create", counted)
    monkeypatch.setattr(IngestLimits, "check_time", check_time)
    with tenant_context(tenant_a.tenant):
        email = stored_upload(mail, "notes.eml", "message/rfc822")
        with pytest.raises((DeadlinePassed, SoftTimeLimitExceeded)):
            services.document_ingest(tenant=tenant_a.tenant, document_id=email.pk)
        stored = Document.objects.filter(sha256__in=[hashlib.sha256(note).hexdigest() for note in notes])
        assert stored.count() == 2
        assert set(email.attachments.values_list("pk", flat=True)) == set(stored.values_list("pk", flat=True))
        services.document_delete(document=email)
        assert not stored.exists()


# --- packaged documents that are ZIPs ---------------------------------------------------------------------

ODG = make_zip(
    {
        "mimetype": b"application/vnd.oasis.opendocument.graphics",
        "content.xml": b"<office:document-content/>",
        "META-INF/manifest.xml": b"<manifest:manifest/>",
    }
)
EPUB_WITHOUT_MIMETYPE = make_zip(
    {"META-INF/container.xml": b"<container/>", "OEBPS/chapter1.xhtml": b"<html><body>One</body></html>"}
)


@pytest.mark.parametrize(
    ("package", "named"),
    [(ODG, "application/vnd.oasis.opendocument.graphics"), (EPUB_WITHOUT_MIMETYPE, "a packaged document")],
    ids=["odg", "epub without its mimetype"],
)
def test_an_opendocument_drawing_or_epub_file_is_one_unsupported_document_not_a_batch(
    api_a: Api, package, named
):
    assert not is_zip(package)
    assert [f.filename for f in unpacked([Upload("book.odg", package)], IngestLimits())] == ["book.odg"]
    with pytest.raises(UnsupportedDocument, match=named):
        sniff_content_type(package)
    message = refused(post_files(api_a, {"plan.odg": package}), 415, "unsupported_document")
    assert "OpenDocument" in message
    batch = post_files(api_a, {"plan.odg": package, "notes.txt": b"Notes beside the contract."})
    assert batch.status_code == 201, batch.content
    assert [(r["filename"], r["code"]) for r in batch.json()["refused"]] == [
        ("plan.odg", "unsupported_document")
    ]


@pytest.mark.parametrize(
    "declared",
    ["text/csv", "text/tab-separated-values", "application/vnd.ms-excel", "text/csv; charset=utf-8"],
)
def test_a_csv_declared_as_browsers_declare_it_is_text(api_a: Api, declared):
    import uuid

    from django.core.files.uploadedfile import SimpleUploadedFile

    body = f"region,revenue\nEMEA,100\nAPAC,{uuid.uuid4().int % 10**12}\n".encode()
    assert declared_matches(declared, sniff_content_type(body))
    response = api_a.client.post(
        "/v1/documents",
        {"file": SimpleUploadedFile("sales.csv", body, content_type=declared)},
        **api_a._headers(None),
    )
    assert response.status_code == 201, response.content
    assert response.json()["content_type"] == TEXT
    assert not declared_matches(declared, sniff_content_type(b"<html><body>a,b</body></html>"))


def test_a_lone_surrogate_in_a_transcript_is_read_as_a_replacement_character(tenant_a):
    import json
    import uuid

    from quire.documents.services import document_ingest

    speech = f"Revenue grew \ud83d strongly ({uuid.uuid4().hex})."
    raw = json.dumps({"turns": [{"speaker": "CEO", "text": speech}]}).encode()
    assert sniff_content_type(raw) == TRANSCRIPT
    with tenant_context(tenant_a.tenant):
        document = stored_upload(raw, "call.json", TRANSCRIPT)
        document_ingest(tenant=tenant_a.tenant, document_id=document.pk)
        document.refresh_from_db()
        assert document.status == "ready", document.failure_reason
        assert document.text == "CEO: " + speech.replace("\ud83d", "\ufffd")


SHORT_MAIL = b"From: alice@example.com\r\nTo: bob@example.com\r\nSubject: Hi\r\n\r\nBody text here.\r\n"


@pytest.mark.parametrize(
    "content",
    [b"\xef\xbb\xbf" + SHORT_MAIL, b"From alice@example.com Mon Jan  1 00:00:00 2024\r\n" + SHORT_MAIL],
    ids=["byte order mark", "mbox From line"],
)
def test_an_email_after_a_byte_order_mark_or_an_mbox_from_line_is_an_email(content):
    assert sniff_content_type(content) == EML
    assert parse_document(content, EML, IngestLimits()).text == (
        "From: alice@example.com\nTo: bob@example.com\nSubject: Hi\n\nBody text here."
    )


@pytest.mark.parametrize(
    ("content", "kind", "expected"),
    [
        (
            "Café terms: the Licensee\u2019s fee is €500 — payable “on signing”.".encode("cp1252"),
            TEXT,
            "€500 — payable",
        ),
        (
            "\ufeffCafé terms: Licensee\u2019s fee is €500.".encode("utf-16-le"),
            TEXT,
            "Licensee\u2019s fee is €500.",
        ),
        (
            "\ufeff<html><body><p>Résumé of the deal</p></body></html>".encode("utf-16-be"),
            HTML,
            "Résumé of the deal",
        ),
        ("<html><body><p>Résumé — final</p></body></html>".encode("cp1252"), HTML, "Résumé — final"),
    ],
)
def test_text_saved_as_utf_16_or_windows_1252_is_read_as_text(content, kind, expected):
    assert sniff_content_type(content) == kind
    assert expected in parse_document(content, kind).text


@pytest.mark.parametrize(
    ("charset", "words"),
    [
        ("windows-1251", "Договор поставки № 17"),
        ("shift_jis", "秘密保持契約書、第１条"),
        ("iso-8859-2", "Umowa o zachowaniu poufności"),
        ("ISO-8859-1", "Résumé — final"),
    ],
)
@pytest.mark.parametrize(
    "tag", ['<meta charset="{}">', '<meta http-equiv="Content-Type" content="text/html; charset={}">']
)
def test_an_html_page_is_read_in_the_charset_it_declares(charset, words, tag):
    codec = "cp1252" if charset == "ISO-8859-1" else charset
    page = f"<html><head>{tag.format(charset)}</head><body><p>{words}</p></body></html>".encode(codec)
    assert sniff_content_type(page) == HTML
    assert parse_document(page, HTML).text == words


def test_an_html_page_in_utf_8_is_read_as_utf_8_whatever_charset_it_declares():
    page = '<html><head><meta charset="iso-8859-1"></head><body><p>Résumé — final</p></body></html>'.encode()
    assert parse_document(page, HTML).text == "Résumé — final"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_text_in_utf_16_without_a_byte_order_mark_is_read_as_text(codec):
    content = "Licensee\u2019s fee is €500.\r\nPayable on signing.\r\n".encode(codec)
    assert sniff_content_type(content) == TEXT
    assert parse_document(content, TEXT).text == "Licensee\u2019s fee is €500.\nPayable on signing.\n"
    page = "<html><body><p>Résumé: €500</p></body></html>".encode(codec)
    assert sniff_content_type(page) == HTML
    assert parse_document(page, HTML).text == "Résumé: €500"


@pytest.mark.parametrize(
    "content",
    [
        b"\x7fELF\x02\x01\x01\x00binary",
        bytes(range(256)),
        b"\xff\xfe\x00\xd8",
        # Every other byte NUL, as UTF-16 text, but what it reads as holds control characters.
        b"\x01\x00\x02\x00AB\x00\x00\x03\x00",
    ],
)
def test_binary_bytes_are_still_refused_as_binary(content):
    with pytest.raises(UnsupportedDocument):
        sniff_content_type(content)


def test_a_page_that_opens_with_a_long_comment_is_html():
    licence = "<!-- " + "Copyright and licence notice of the exporting tool. " * 30 + "-->\n"
    page = f"{licence}<!-- generator -->\n<html><body><p>Master services agreement</p></body></html>".encode()
    assert sniff_content_type(page) == HTML
    assert "Master services agreement" in parse_document(page, HTML).text
    assert sniff_content_type(b"<!-- a note --> and then plain text that names no markup") == TEXT


@pytest.mark.parametrize(
    "before", [b"\n", b"\xef\xbb\xbf", b"\r\n\r\n", b"X-Gateway: scanned\r\n", b"\x00\x00\x00\x00garbage"]
)
def test_a_pdf_whose_header_comes_after_a_few_bytes_is_a_pdf(before):
    content = before + make_pdf(["Master services agreement", "Governing law"])
    assert sniff_content_type(content) == PDF
    parsed = parse_document(content, PDF)
    assert parsed.text == "Master services agreement\n\nGoverning law"
    assert parsed.page_count == 2


def test_text_that_only_names_the_pdf_header_stays_text():
    content = b"Notes on the format: every file starts with %PDF-1.7 and a binary comment.\n"
    assert sniff_content_type(content) == TEXT


def test_an_html_fragment_declared_as_html_is_read_as_html(celery_worker, api_a: Api):
    import uuid

    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.quire.documents.test_dataroom import ready

    fragment = (
        f"<p>Clause {uuid.uuid4().int % 10**12}: the fee is <b>net&nbsp;30</b>.</p><p>Second.</p>".encode()
    )
    assert sniff_content_type(fragment) == TEXT
    response = api_a.client.post(
        "/v1/documents",
        {"file": SimpleUploadedFile("clause.html", fragment, content_type="text/html")},
        **api_a._headers(None),
    )
    assert response.status_code == 201, response.content
    assert response.json()["content_type"] == HTML
    document = ready(api_a, response.json()["id"])
    text = api_a.get(f"/v1/documents/{document['id']}/text").json()["text"]
    assert text.startswith("Clause ") and text.endswith(": the fee is net 30.\n\nSecond.")
    plain = b"<p> is how a paragraph starts in HTML; this note is plain text."
    response = api_a.client.post(
        "/v1/documents",
        {"file": SimpleUploadedFile("note.txt", plain, content_type="text/plain")},
        **api_a._headers(None),
    )
    assert response.status_code == 201, response.content
    assert response.json()["content_type"] == TEXT


def test_a_zip_of_pdfs_stored_uncompressed_is_a_zip_not_its_first_pdf():
    stored = io.BytesIO()
    with zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("first.pdf", make_pdf(["First agreement"]))
        archive.writestr("second.pdf", make_pdf(["Second agreement"]))
    assert sniff_content_type(stored.getvalue()) == ZIP


@pytest.mark.parametrize(
    "declared", ["application/rtf", "text/rtf", "application/msword", "application/octet-stream"]
)
def test_an_rtf_declared_as_browsers_declare_it_is_read_as_rtf_not_as_its_source(api_a: Api, declared):
    import uuid

    from django.core.files.uploadedfile import SimpleUploadedFile

    from quire.documents.sniffing import RTF

    body = rb"{\rtf1\ansi{\fonttbl{\f0 Arial;}}\f0 Governing law: Delaware. Ref %d.\par}" % uuid.uuid4().int
    assert sniff_content_type(body) == RTF and declared_matches(declared, RTF)
    response = api_a.client.post(
        "/v1/documents",
        {"file": SimpleUploadedFile("terms.rtf", body, content_type=declared)},
        **api_a._headers(None),
    )
    assert response.status_code == 201, response.content
    assert response.json()["content_type"] == RTF
    assert parse_document(body, RTF).text.startswith("Governing law: Delaware. Ref ")


@pytest.mark.parametrize("declared", ["application/msword", "application/octet-stream"])
def test_a_word_97_document_is_taken_and_an_ole_file_of_another_kind_refused(api_a: Api, declared):
    import uuid

    from django.core.files.uploadedfile import SimpleUploadedFile

    from quire.documents.sniffing import DOC
    from tests.support.documents import make_doc, make_ole

    content = make_doc(f"Governing law: Delaware. Ref {uuid.uuid4().int}.\r")
    response = api_a.client.post(
        "/v1/documents",
        {"file": SimpleUploadedFile("terms.doc", content, content_type=declared)},
        **api_a._headers(None),
    )
    assert response.status_code == 201, response.content
    assert response.json()["content_type"] == DOC
    with pytest.raises(UnsupportedDocument, match=r"neither a Word document \(\.doc\), an Excel workbook"):
        sniff_content_type(make_ole([("VisioDocument", bytes(32))]))


def test_a_docx_whose_main_part_is_not_word_document_xml_is_found_by_its_relationships():
    """Some writers name the body `word/document2.xml`; the package's relationships and content types say so."""
    import zipfile

    from quire.documents.sniffing import DOCX
    from quire.documents.uploads import is_zip
    from tests.support.documents import make_docx

    moved = {
        "word/document.xml": "word/document2.xml",
        "word/_rels/document.xml.rels": "word/_rels/document2.xml.rels",
    }
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(make_docx(["Governing law: Delaware."]))) as source,
        zipfile.ZipFile(out, "w") as copy,
    ):
        for info in source.infolist():
            data = source.read(info).replace(b"/word/document.xml", b"/word/document2.xml")
            copy.writestr(
                moved.get(info.filename, info.filename),
                data.replace(b"word/document.xml", b"word/document2.xml"),
            )
    package = out.getvalue()
    assert "word/document.xml" not in zipfile.ZipFile(io.BytesIO(package)).namelist()
    assert not is_zip(package) and sniff_content_type(package) == DOCX
    assert parse_document(package, DOCX).text == "Governing law: Delaware."


def test_an_opendocument_text_zipped_again_with_its_mimetype_not_first_is_still_one():
    """A tool that unzips and zips a package again puts `mimetype` where its order falls; LibreOffice reads it
    by its manifest. A plain ZIP holding a file named `mimetype` beside others stays a ZIP of files."""
    import zipfile

    from quire.documents.sniffing import ODT, ZIP
    from quire.documents.uploads import is_zip
    from tests.support.documents import make_odt, make_zip

    package = make_odt("<text:p>Governing law: Delaware.</text:p>")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as source, zipfile.ZipFile(out, "w") as copy:
        for info in sorted(source.infolist(), key=lambda info: info.filename, reverse=True):
            copy.writestr(info, source.read(info))
    rezipped = out.getvalue()
    assert zipfile.ZipFile(io.BytesIO(rezipped)).namelist()[0] != "mimetype"
    assert not is_zip(rezipped) and sniff_content_type(rezipped) == ODT
    assert parse_document(rezipped, ODT).text == "Governing law: Delaware."
    files = make_zip({"notes.txt": b"Notes.", "mimetype": b"text/plain"})
    assert is_zip(files) and sniff_content_type(files) == ZIP


@pytest.mark.parametrize("kind", ["odt", "ods", "odp"])
def test_an_opendocument_text_sheet_or_deck_is_one_document_not_a_batch_nor_refused(api_a: Api, kind):
    import uuid

    from quire.documents import sniffing
    from tests.support import documents

    line = f"<text:p>Governing law: Delaware. Ref {uuid.uuid4().int}.</text:p>"
    package, content_type = {
        "odt": (documents.make_odt(line), sniffing.ODT),
        "ods": (
            documents.make_ods(
                f"<table:table><table:table-row><table:table-cell>{line}</table:table-cell></table:table-row>"
                "</table:table>"
            ),
            sniffing.ODS,
        ),
        "odp": (
            documents.make_odp(
                f"<draw:page><draw:frame><draw:text-box>{line}</draw:text-box></draw:frame></draw:page>"
            ),
            sniffing.ODP,
        ),
    }[kind]
    assert not is_zip(package)
    assert sniff_content_type(package) == content_type
    created = post_files(api_a, {f"contract.{kind}": package})
    assert created.status_code == 201, created.content
    assert created.json()["content_type"] == content_type


def test_an_ole_file_is_known_by_its_root_streams_not_by_an_embedded_objects():
    """A Word document holding an Excel chart (a `Workbook` stream inside `ObjectPool`), or an Outlook message
    dragged into it (`__substg1.0_` streams inside `ObjectPool`), is a Word document; an OLE file whose only
    workbook is embedded is neither."""

    import olefile

    from quire.documents.sniffing import DOC
    from tests.support.documents import make_doc, make_ole

    with olefile.OleFileIO(io.BytesIO(make_doc("Terms.\r"))) as document:
        streams = [(name, document.openstream(name).read()) for name in ("WordDocument", "1Table")]
    embedded = [("ObjectPool", None), ("ObjectPool/_1", None), ("ObjectPool/_1/Workbook", bytes(64))]
    assert sniff_content_type(make_ole([*embedded, *streams])) == DOC
    message = [
        ("ObjectPool", None),
        ("ObjectPool/_2", None),
        ("ObjectPool/_2/__substg1.0_0037001F", b"H\0i\0"),
    ]
    assert sniff_content_type(make_ole([*message, *streams])) == DOC
    with pytest.raises(UnsupportedDocument, match="neither a Word document"):
        sniff_content_type(make_ole(embedded))
