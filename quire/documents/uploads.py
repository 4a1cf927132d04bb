"""Many files in one upload: several multipart files, ZIPs among them unpacked (ZIPs inside ZIPs too) and
mailboxes split into their messages, each archive held to the unzip limits, the ZIP nesting depth, the file
count and, all files together, the unzipped byte limit."""

from __future__ import annotations

import io
import posixpath
import zipfile
from dataclasses import dataclass

from common.refusals import ErrorCode
from quire.api.parsers import UNNAMED, client_path
from quire.documents import sniffing
from quire.documents.layout import mail_file_name
from quire.documents.limits import (
    MEMBER_UNREADABLE,
    ZIP_ERRORS,
    IngestLimits,
    LimitExceeded,
    check_archive_read,
    check_batch_files,
    check_zip_depth,
)

SKIPPED_PREFIXES = ("__MACOSX/",)
SKIPPED_NAMES = (".DS_Store", "Thumbs.db", "desktop.ini")


NO_FILES = "a ZIP archive that holds no files (only folders, or nothing at all)"


@dataclass(frozen=True)
class Upload:
    filename: str
    content: bytes
    declared_type: str | None = None
    # Why a file of a ZIP could not be unzipped (encrypted, an unknown compression): it is refused.
    unreadable: str = ""


def is_zip(content: bytes) -> bool:
    """A ZIP of files (not a DOCX, XLSX or PPTX, nor an OpenDocument or EPUB file, which are ZIPs too)."""
    # A ZIP's first local file header, or, for one of no files, its end of central directory.
    if not content.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            office = sniffing.ooxml_kind(archive)
            packaged = sniffing.packaged_type(archive)
    except ZIP_ERRORS:
        return False
    return office is None and packaged is None


def holds_files(content: bytes) -> bool:
    """Whether `content` is many files, never one document: a ZIP of files (`is_zip`), or an mbox of more than
    one message."""
    return is_zip(content) or sniffing.is_mailbox(content)


def unpacked(uploads: list[Upload], limits: IngestLimits, *, within: bool = False) -> list[Upload]:
    """The files of `uploads`, each ZIP replaced by its files (named by their path in it, after the path of
    a ZIP inside the upload that held them: `2023/contracts.zip/nda.txt`; with `within`, the uploads being
    files of a document, such as an e-mail's attachments, after the ZIP's own name too: `bundle.zip/nda.txt`),
    each mbox by its messages (`_messages`), a file that cannot be unzipped with the reason in `unreadable`;
    raises LimitExceeded for a ZIP that unzips past the limits, nests too deep, or too many files in all, and
    one of `ZIP_ERRORS` for a damaged ZIP."""
    files: list[Upload] = []
    for upload in uploads:
        _unpack(upload, 0, limits, files, named=within)
    return files


def _unpack(
    upload: Upload, depth: int, limits: IngestLimits, files: list[Upload], *, named: bool = False
) -> None:
    limits.check_time()
    if not is_zip(upload.content):
        messages = sniffing.mailbox_messages(upload.content)
        kept = [upload] if messages is None else _messages(upload.filename, messages)
        files += kept
        check_batch_files(len(files), limits)
        if sum(len(f.content) for f in files) > limits.max_unzipped_bytes:
            raise LimitExceeded(
                ErrorCode.DOCUMENT_EXPANDS_TOO_LARGE,
                f"the upload unzips to more than {limits.max_unzipped_bytes} bytes in all "
                f"(QUIRE_INGEST_MAX_UNZIPPED_BYTES)",
            )
        return
    check_zip_depth(depth + 1, limits)
    check_archive_read(upload.content, limits)
    with zipfile.ZipFile(io.BytesIO(upload.content)) as archive:
        members = [
            info
            for info in archive.infolist()
            if not info.is_dir()
            and not info.filename.startswith(SKIPPED_PREFIXES)
            and posixpath.basename(info.filename) not in SKIPPED_NAMES
        ]
        check_batch_files(len(files) + len(members), limits)
        if not members:
            # Folders alone, or a Mac's `__MACOSX` and `.DS_Store`: refused, saying so, not a silent nothing.
            files.append(Upload(upload.filename or "upload.zip", b"", unreadable=NO_FILES))
            return
        prefix = f"{upload.filename}/" if depth or named else ""
        for info in members:
            name = prefix + (client_path(info.filename) or UNNAMED)
            try:
                content = archive.read(info)
            except MEMBER_UNREADABLE as exc:
                files.append(Upload(name, b"", unreadable=_unreadable(info, exc)))
                continue
            _unpack(Upload(name, content), depth + 1, limits, files)


def _unreadable(info: zipfile.ZipInfo, exc: Exception) -> str:
    if info.flag_bits & 0x1:
        return "a file encrypted with a password in the ZIP; zip it again without the password"
    return f"a file the ZIP holds in a form that cannot be unzipped ({exc}); zip it again with Deflate"


def _messages(mailbox: str, messages: list[bytes]) -> list[Upload]:
    """An mbox's messages as e-mails, named by their place in it and their subject after the mailbox's name
    (`Inbox.mbox/007 Re: draft SPA.eml`), the numbers as wide as the last one's so the names sort in order."""
    width = len(str(len(messages)))
    return [
        Upload(f"{mailbox}/{mail_file_name(number, width, _subject(message))}", message)
        for number, message in enumerate(messages, 1)
    ]


def _subject(message: bytes) -> str:
    """The message's subject as its reader sees it (encoded words decoded), without characters that are not
    printable; empty where it has none or its header cannot be read."""
    import email.errors
    import email.parser
    import email.policy

    try:
        headers = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(message)
        subject = str(headers["Subject"] or "")
    except (email.errors.MessageError, ValueError, TypeError, IndexError):
        return ""
    return "".join(character if character.isprintable() else " " for character in subject)
