"""The portal's upload form keeps the folders of a dropped or chosen folder in the documents' names, as the API
keeps a multipart file's path, and ignores paths that do not name the file they come with."""

from __future__ import annotations

import html
import re
import uuid

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django_tenants.utils import tenant_context

from quire.documents.models import Document
from tests.support.documents import make_eml, make_mbox, stored_upload
from tests.support.portal import signed_in


def _file(name: str, text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), "text/plain")


def _messages(response) -> list[str]:
    shown = re.findall(r'<li class="message [a-z ]+">(.*?)</li>', response.content.decode(), re.S)
    return [html.unescape(message) for message in shown]


def test_a_folders_files_are_named_by_their_paths_in_it(workspace):
    owner = signed_in(workspace, "owner")
    files = [
        _file("room-index.txt", "Data room index."),
        _file("room-letter.txt", "A side letter, Ohio law."),
    ]
    paths = ["room/room-index.txt", "room/./legal/room-letter.txt"]
    assert owner.post("/documents", {"file": files, "path": paths}).status_code == 302
    mismatched = [_file("room-other.txt", "Another index."), _file("room-memo.txt", "A memo of the room.")]
    owner.post("/documents", {"file": mismatched, "path": ["room/elsewhere.txt", "room/room-memo.txt"]})
    alone = [_file("room-alone.txt", "A file without its path."), _file("room-alone-2.txt", "Another one.")]
    owner.post("/documents", {"file": alone, "path": ["room/room-alone.txt"]})
    with tenant_context(workspace.tenant):
        names = set(Document.objects.filter(filename__contains="room-").values_list("filename", flat=True))
    assert names == {
        "room/room-index.txt",
        "room/legal/room-letter.txt",
        "room-other.txt",
        "room/room-memo.txt",
        "room-alone.txt",
        "room-alone-2.txt",
    }


def test_a_file_over_the_size_limit_in_a_folder_is_refused_alone_as_the_api_refuses_it(workspace):
    owner = signed_in(workspace, "owner")
    files = [
        _file("limits-small.txt", "A short note on the data room."),
        _file("limits-large.txt", "A long schedule of assets. " * 100),
    ]
    with override_settings(QUIRE_MAX_DOCUMENT_BYTES=2000):
        response = owner.post("/documents", {"file": files}, follow=True)
        alone = owner.post("/documents", {"file": _file("limits-alone.txt", "A long appendix. " * 200)})
    assert alone.status_code == 400 and b"the limit is 2000 bytes" in alone.content
    assert response.status_code == 200
    assert b"limits-large.txt: the document is 2700 bytes; the limit is 2000 bytes" in response.content
    with tenant_context(workspace.tenant):
        names = set(Document.objects.filter(filename__contains="limits-").values_list("filename", flat=True))
    assert names == {"limits-small.txt"}


def test_an_mbox_dropped_alone_is_a_batch_of_its_messages_as_the_api_makes_it(workspace):
    owner = signed_in(workspace, "owner")
    tag = uuid.uuid4().hex[:8]
    box = make_mbox(
        [make_eml(f"Offer {tag}", "We offer ten.", []), make_eml(f"Reply {tag}", "We accept.", [])]
    )
    upload = SimpleUploadedFile("Deal.mbox", box, "application/mbox")
    [shown] = _messages(owner.post("/documents", {"file": [upload]}, follow=True))
    assert shown.startswith("Uploaded 2 documents (batch bat_"), shown
    with tenant_context(workspace.tenant):
        names = set(Document.objects.filter(filename__contains=tag).values_list("filename", flat=True))
    assert names == {f"Deal.mbox/1 Offer {tag}.eml", f"Deal.mbox/2 Reply {tag}.eml"}


def test_a_folder_uploaded_again_says_its_files_were_already_there_not_that_they_were_uploaded(workspace):
    owner = signed_in(workspace, "owner")
    tag = uuid.uuid4().hex[:8]

    def upload(*names: str) -> list[str]:
        files = [_file(f"again-{tag}-{name}.txt", f"The {name} of room {tag}.") for name in names]
        return _messages(owner.post("/documents", {"file": files}, follow=True))

    [first] = upload("index", "memo")
    assert first.startswith("Uploaded 2 documents (batch bat_")
    uploaded, already = upload("index", "memo", "new")
    assert uploaded.startswith("Uploaded 1 document (batch bat_")
    assert already == f"Already uploaded: again-{tag}-index.txt, again-{tag}-memo.txt."
    assert upload("index", "memo") == [already]


def _failed(workspace, name: str, text: str) -> None:
    """A document that failed, stored without queueing its ingest (which a session worker could finish)."""
    with tenant_context(workspace.tenant):
        stored_upload(text.encode(), name, "text/plain", status="failed", failure_reason="the worker died")


def test_a_failed_document_uploaded_again_says_it_is_read_again_not_that_it_was_already_there(workspace):
    owner = signed_in(workspace, "owner")
    tag = uuid.uuid4().hex[:8]
    _failed(workspace, f"failed-{tag}.txt", f"A note of {tag}.")
    again = _file(f"failed-{tag}.txt", f"A note of {tag}.")
    assert _messages(owner.post("/documents", {"file": again}, follow=True)) == [
        f"Reading again: failed-{tag}.txt, which had failed."
    ]
    _failed(workspace, f"other-{tag}.txt", f"Another note of {tag}.")
    both = [_file(f"other-{tag}.txt", f"Another note of {tag}."), _file(f"new-{tag}.txt", f"New {tag}.")]
    assert _messages(owner.post("/documents", {"file": both}, follow=True))[1] == (
        f"Reading again, as they had failed: other-{tag}.txt."
    )


def test_a_folder_whose_files_are_all_refused_says_nothing_was_uploaded(workspace):
    owner = signed_in(workspace, "owner")
    files = [_file("refused-one.txt", "A long schedule. " * 200), _file("refused-two.txt", "Another. " * 300)]
    with override_settings(QUIRE_MAX_DOCUMENT_BYTES=2000):
        shown = _messages(owner.post("/documents", {"file": files}, follow=True))
    assert [message.split(":")[0] for message in shown] == ["refused-one.txt", "refused-two.txt"]


def test_an_upload_past_the_request_limits_says_so_in_words_not_in_api_json(workspace):
    owner = signed_in(workspace, "owner")
    tag = uuid.uuid4().hex[:8]
    many = [_file(f"many-{tag}-{n}.txt", f"Note {n} of {tag}.") for n in range(101)]
    refused = owner.post("/documents", {"file": many}, HTTP_ACCEPT="text/html")
    assert refused.status_code == 400 and refused["Content-Type"].startswith("text/plain")
    assert "more than 100 files" in refused.content.decode() and "ZIP" in refused.content.decode()
    with override_settings(QUIRE_MAX_REQUEST_BYTES=2000):
        large = owner.post("/documents", {"file": _file(f"large-{tag}.txt", "A long annex. " * 300)})
    assert large.status_code == 413 and large["Content-Type"].startswith("text/plain")
    assert "the limit is 2000 bytes" in large.content.decode()
    with tenant_context(workspace.tenant):
        assert not Document.objects.filter(filename__contains=tag).exists()


def test_a_member_downloads_the_original_and_another_workspace_cannot(workspace, other_workspace):
    from tenants.models import AuditEvent

    owner = signed_in(workspace, "owner")
    owner.post(
        "/documents",
        {"file": [_file("original-terms.txt", "Net 45 days.")], "path": ["deal/original-terms.txt"]},
    )
    with tenant_context(workspace.tenant):
        document = Document.objects.get(filename="deal/original-terms.txt")
    page = signed_in(workspace, "viewer").get(f"/documents/{document.pk}")
    assert f'href="/documents/{document.pk}/original"' in page.content.decode()

    downloaded = signed_in(workspace, "viewer").get(f"/documents/{document.pk}/original")
    assert downloaded.status_code == 200
    assert b"".join(downloaded.streaming_content) == b"Net 45 days."
    assert downloaded["Content-Disposition"] == 'attachment; filename="original-terms.txt"'
    assert AuditEvent.objects.filter(
        tenant=workspace.tenant, action="export.create", object_type="document", object_id=document.pk
    ).exists()
    assert signed_in(other_workspace, "owner").get(f"/documents/{document.pk}/original").status_code == 404


def test_the_upload_form_names_the_office_formats_read_old_and_new(workspace):
    page = signed_in(workspace, "owner").get("/documents").content.decode()
    assert "(DOCX, DOC, XLSX, XLS, PPTX, PPT)" in page and "WebP, HEIC" in page
    assert "an mbox or an Outlook data file, PST, of many" in page
