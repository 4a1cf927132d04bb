"""Outlook data files (PST, and the OST caches Outlook keeps of a mailbox), read by libpff (`libpff-python`,
LGPL-3.0-or-later). A data file is an archive of e-mails: its text is its index (each folder, then a line per
message: when, from whom, the subject), and each message is an attachment of its own, written as the e-mail
(RFC 5322) it was, which is then read as an uploaded e-mail is, its files its own documents in turn.

The message's headers come from its MAPI properties ([MS-OXOMSG], [MS-OXPROPS]): the sender's name and address,
the recipients by type (To, Cc; Bcc left out), the time it was sent (else delivered, else created), the subject
and the Internet message id. Its body is the HTML one where it has one (decoded in its Internet code page), else
the plain one, else the HTML its RTF body carries. Its files are attached by value; a picture the body shows
(hidden, or named by a content id) is left out as an e-mail's is, and an attached Outlook item (a forwarded
message kept as such) is one libpff cannot open: counted in the index, not read."""

from __future__ import annotations

import codecs
import io
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from quire.documents.formats import rtf_html, sent_file
from quire.documents.layout import (
    LINE,
    PARAGRAPH,
    Attachment,
    ParsedDocument,
    TextBuilder,
    UnreadableDocument,
    attach,
    mail_file_name,
)
from quire.documents.limits import IngestLimits

# MAPI property tags ([MS-OXPROPS]).
_SENDER_NAME, _SENDER_ADDRESS, _SENDER_SMTP = 0x0C1A, 0x0C1F, 0x5D01
_MESSAGE_ID = 0x1035
_CODE_PAGE = 0x3FDE
_RECIPIENT_TYPE, _DISPLAY_NAME, _EMAIL_ADDRESS, _SMTP_ADDRESS = 0x0C15, 0x3001, 0x3003, 0x39FE
_ATTACH_METHOD, _ATTACH_SHORT_NAME, _ATTACH_MIME, _ATTACH_CONTENT_ID, _ATTACH_HIDDEN = (
    0x3705,
    0x3704,
    0x370E,
    0x3712,
    0x7FFE,
)
_BY_VALUE, _EMBEDDED_MESSAGE = 1, 5
_TO, _CC = 1, 2


def parse_pst(content: bytes, limits: IngestLimits) -> ParsedDocument:
    """The data file's index as its text and its messages, as e-mails, as its attachments (held to the files an
    upload may hold, QUIRE_UPLOAD_MAX_FILES); UnreadableDocument for a file libpff cannot open (damaged, or
    encrypted past its simple encodings)."""
    import pypff

    data = pypff.file()
    try:
        data.open_file_object(io.BytesIO(content))
    except OSError as exc:
        raise UnreadableDocument(f"the Outlook data file cannot be read: {_reason(exc)}") from None
    try:
        builder = TextBuilder(limits)
        attachments: list[Attachment] = []
        folders: list[tuple[str, list[str]]] = []
        left_out = _folder(data.get_root_folder(), "", limits, attachments, folders)
    except OSError as exc:
        raise UnreadableDocument(f"the Outlook data file is damaged: {_reason(exc)}") from None
    finally:
        data.close()
    count = sum(len(lines) for _, lines in folders)
    summary = f"Outlook data file: {count} message{'' if count == 1 else 's'}"
    if left_out:
        summary += f" ({left_out} attached Outlook item{'' if left_out == 1 else 's'} not read)"
    builder.add(summary, gap=PARAGRAPH)
    for path, lines in folders:
        builder.add(f"Folder: {path}", gap=PARAGRAPH)
        for line in lines:
            builder.add(line, gap=LINE)
    parsed = builder.build()
    parsed.attachments = attachments
    return parsed


def _folder(
    folder, path: str, limits: IngestLimits, attachments: list, folders: list[tuple[str, list[str]]]
) -> int:
    """Each message of `folder` and its subfolders, depth first, as an attachment named by its folder's path,
    its place in the folder and its subject; returns the attached Outlook items left out."""
    left_out = 0
    count = folder.number_of_sub_messages
    if count:
        lines: list[str] = []
        width = len(str(count))
        for index in range(count):
            limits.check_time()
            message = folder.get_sub_message(index)
            eml, skipped = _email(message, limits)
            left_out += skipped
            subject = _clean(message.subject)
            attach(attachments, limits, f"{path}/{mail_file_name(index + 1, width, subject)}", eml, part="")
            sent = _sent(message)
            when = sent.strftime("%Y-%m-%d %H:%M") if sent else "undated"
            lines.append(
                f"{when}  {_clean(message.sender_name) or '(no sender)'}  {subject or '(no subject)'}"
            )
        folders.append((path, lines))
    for index in range(folder.number_of_sub_folders):
        sub = folder.get_sub_folder(index)
        name = _clean(sub.name).replace("/", "-") or "(unnamed folder)"
        left_out += _folder(sub, f"{path}/{name}" if path else name, limits, attachments, folders)
    return left_out


def _email(message, limits: IngestLimits) -> tuple[bytes, int]:
    """The message as an RFC 5322 e-mail, and how many attached Outlook items it leaves out."""
    properties = _properties(message)
    mail = EmailMessage()
    sender = _text(properties.get(_SENDER_NAME)) or _clean(message.sender_name)
    address = _text(properties.get(_SENDER_SMTP)) or _text(properties.get(_SENDER_ADDRESS))
    if sender or address:
        mail["From"] = formataddr((sender, address)) if "@" in address else sender or address
    for kind, header in ((_TO, "To"), (_CC, "Cc")):
        people = _recipients(message, kind)
        if people:
            mail[header] = ", ".join(people)
    sent = _sent(message)
    if sent is not None:
        mail["Date"] = format_datetime(sent)
    if subject := _clean(message.subject):
        mail["Subject"] = subject
    if message_id := _clean(_text(properties.get(_MESSAGE_ID))):
        mail["Message-ID"] = message_id
    html = message.html_body
    if html:
        mail.set_content(_decoded(html, properties.get(_CODE_PAGE)), subtype="html")
    else:
        plain = message.plain_text_body
        carried = None if plain or not message.rtf_body else rtf_html(message.rtf_body)
        if carried:
            mail.set_content(carried.decode("utf-8", errors="replace"), subtype="html")
        else:
            mail.set_content(_decoded(plain or b"", None))
    left_out = 0
    for index in range(message.number_of_attachments):
        limits.check_time()
        attachment = message.get_attachment(index)
        details = _properties(attachment)
        method = _integer(details.get(_ATTACH_METHOD))
        if method == _EMBEDDED_MESSAGE:
            left_out += 1
            continue
        if method not in (None, _BY_VALUE) or not attachment.size:
            continue
        content = attachment.read_buffer(attachment.size)
        inline = bool(_integer(details.get(_ATTACH_HIDDEN))) or bool(_text(details.get(_ATTACH_CONTENT_ID)))
        if not sent_file(content, inline=inline):
            continue
        name = (
            _clean(attachment.long_filename)
            or _text(details.get(_ATTACH_SHORT_NAME))
            or f"attachment-{index + 1}"
        )
        maintype, _, subtype = (_text(details.get(_ATTACH_MIME)) or "application/octet-stream").partition("/")
        if not subtype or " " in maintype + subtype:
            maintype, subtype = "application", "octet-stream"
        mail.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    return mail.as_bytes(), left_out


def _recipients(message, kind: int) -> list[str]:
    recipients = message.recipients
    if recipients is None:
        return []
    found = []
    for record in recipients.record_sets:
        values = {entry.entry_type: entry for entry in record.entries}
        if _integer(values.get(_RECIPIENT_TYPE)) != kind:
            continue
        name = _text(values.get(_DISPLAY_NAME))
        address = _text(values.get(_SMTP_ADDRESS)) or _text(values.get(_EMAIL_ADDRESS))
        if "@" in address:
            found.append(formataddr((name if name != address else "", address)))
        elif name or address:
            found.append(name or address)
    return found


def _properties(item) -> dict:
    try:
        if not item.number_of_record_sets:
            return {}
        return {entry.entry_type: entry for entry in item.get_record_set(0).entries}
    except OSError:
        return {}


def _text(entry) -> str:
    if entry is None:
        return ""
    try:
        return _clean(entry.data_as_string)
    except OSError:
        return ""


def _integer(entry) -> int | None:
    if entry is None:
        return None
    try:
        return int(entry.data_as_integer)
    except (OSError, TypeError, ValueError):
        return None


def _sent(message) -> datetime | None:
    for name in ("client_submit_time", "delivery_time", "creation_time"):
        try:
            value = getattr(message, name)
        except OSError:
            continue
        if isinstance(value, datetime) and value.year > 1601:
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return None


def _decoded(body: bytes, code_page) -> str:
    """A body in its Internet code page (PidTagInternetCodepage) where Python knows it, else UTF-8 (libpff's
    plain bodies), else Windows-1252."""
    page = _integer(code_page)
    names = [f"cp{page}"] if page and page not in (65001, 1200) else []
    for name in [*names, "utf-8"]:
        try:
            codecs.lookup(name)
            return body.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode("cp1252", errors="replace")


def _clean(value) -> str:
    if not isinstance(value, str):
        return ""
    return " ".join("".join(c if c.isprintable() else " " for c in value).split())


def _reason(exc: OSError) -> str:
    """libpff's first reason, without the name of the function that gave it."""
    first = str(exc).split(". ")[0]
    return first.split(": ", 1)[-1][:200]
