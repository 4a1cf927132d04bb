"""Outlook data files (PST, and the OST caches Outlook keeps of a mailbox), read by libpff (`libpff-python`,
LGPL-3.0-or-later). A data file is an archive of e-mails: its text is its index (each folder, then a line per
message: when, from whom, the subject), and each message is an attachment of its own, written as the e-mail
(RFC 5322) it was, which is then read as an uploaded e-mail is, its files its own documents in turn.

The message's headers come from its MAPI properties ([MS-OXOMSG], [MS-OXPROPS]): the sender's name and address,
the recipients by type (To, Cc; Bcc left out), the time it was sent (else delivered, else created), the subject
and the Internet message id. Its body is the HTML one where it has one (decoded in its Internet code page), else
the plain one, else the HTML its RTF body carries. Its files are attached by value; a picture the body shows
(hidden, or named by a content id) is left out as an e-mail's is. An attached Outlook item (a message forwarded
as an item), which libpff's bindings do not open, is read from its own property context as far as its heap holds
it (`_attached_item`: sender, recipients as shown, date, subject, its body), its own files not; one that is not
in one heap block is counted in the index, not read."""

from __future__ import annotations

import codecs
import io
import struct
from datetime import UTC, datetime, timedelta
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
            subject, sent = _clean(message.subject), _sent(message)
            eml, skipped = _email(message, subject, sent, limits)
            left_out += skipped
            attach(attachments, limits, f"{path}/{mail_file_name(index + 1, width, subject)}", eml, part="")
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


def _email(message, subject: str, sent: datetime | None, limits: IngestLimits) -> tuple[bytes, int]:
    """The message (its `subject` and `sent` time read already) as an RFC 5322 e-mail, and how many attached
    Outlook items it leaves out."""
    properties = _properties(message)
    mail = _headed(
        sender=_text(properties.get(_SENDER_NAME)) or _clean(message.sender_name),
        address=_text(properties.get(_SENDER_SMTP)) or _text(properties.get(_SENDER_ADDRESS)),
        to=", ".join(_recipients(message, _TO)),
        cc=", ".join(_recipients(message, _CC)),
        sent=sent,
        subject=subject,
        message_id=_clean(_text(properties.get(_MESSAGE_ID))),
    )
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
            item = _attached_item(attachment.read_buffer(attachment.size)) if attachment.size else None
            if item is None:
                left_out += 1
            else:
                shown = _clean(attachment.long_filename) or _text(details.get(_DISPLAY_NAME))
                name = (shown or str(item["Subject"] or "") or f"message-{index + 1}").replace("/", "-")
                mail.add_attachment(item, filename=f"{name}.eml")
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


# An attached Outlook item's own properties, read from the heap libpff hands over for it ([MS-PST] 2.3.1 heap on
# node, 2.3.3 property context): the values kept in the heap itself; those kept in sub-nodes (a long HTML body,
# the item's own attachments and recipients table) are out of reach.
_HEAP_SIGNATURE, _PROPERTY_CONTEXT, _BTREE_ON_HEAP = 0xEC, 0xBC, 0xB5
_UNICODE, _STRING8, _BINARY, _TIME = 0x1F, 0x1E, 0x102, 0x40
_SUBJECT, _DISPLAY_TO, _DISPLAY_CC, _BODY, _HTML = 0x0037, 0x0E04, 0x0E03, 0x1000, 0x1013
_SUBMIT_TIME, _DELIVERY_TIME = 0x0039, 0x0E06


def _attached_item(buffer: bytes) -> EmailMessage | None:
    """An attached Outlook item (a message forwarded as an item, attach method 5) as an e-mail: sender, To and
    Cc as Outlook shows them, date, subject, message id and its plain body (else its HTML one) where the item's
    heap holds them; None where the buffer is not one property context in one heap block (a large item)."""
    values = _heap_properties(buffer)
    if values is None:
        return None
    text = {
        tag: _heap_text(kind, value) for tag, (kind, value) in values.items() if kind in (_UNICODE, _STRING8)
    }
    sent = None
    for tag in (_SUBMIT_TIME, _DELIVERY_TIME):
        kind, value = values.get(tag, (None, None))
        if kind == _TIME and isinstance(value, bytes) and len(value) == 8:
            sent = _filetime(int.from_bytes(value, "little"))
            if sent is not None:
                break
    subject = text.get(_SUBJECT) or ""
    mail = _headed(
        sender=_clean(text.get(_SENDER_NAME)),
        address=_clean(text.get(_SENDER_SMTP) or text.get(_SENDER_ADDRESS)),
        to=_clean(text.get(_DISPLAY_TO)),
        cc=_clean(text.get(_DISPLAY_CC)),
        sent=sent,
        # A subject may open with \x01 and a character counting its prefix ("RE: ") ([MS-OXCMSG] 2.2.1.46).
        subject=_clean(subject[2:] if subject.startswith("\x01") else subject),
        message_id=_clean(text.get(_MESSAGE_ID)),
    )
    kind, html = values.get(_HTML, (None, None))
    if text.get(_BODY):
        mail.set_content(text[_BODY])
    elif kind == _BINARY and isinstance(html, bytes):
        mail.set_content(_decoded(html, None), subtype="html")
    else:
        mail.set_content("")
    return mail


def _heap_properties(buffer: bytes) -> dict[int, tuple[int, object]] | None:
    """{tag: (type, value)} of a property context in one heap block: an integer for a value kept in its record,
    bytes for one kept in the heap, None for one kept in a sub-node; None for anything else."""
    try:
        map_at, signature, client, root = struct.unpack_from("<HBBI", buffer, 0)
        if signature != _HEAP_SIGNATURE or client != _PROPERTY_CONTEXT:
            return None
        allocations = struct.unpack_from("<H", buffer, map_at)[0]
        offsets = struct.unpack_from(f"<{allocations + 1}H", buffer, map_at + 4)

        def heap(hid: int) -> bytes | None:
            index = (hid >> 5) & 0x7FF
            if hid & 0x1F or hid >> 16 or not 1 <= index <= allocations:
                return None
            return buffer[offsets[index - 1] : offsets[index]]

        header = heap(root)
        if header is None:
            return None
        kind, key_size, entry_size, levels, records_at = struct.unpack_from("<BBBBI", header, 0)
        if kind != _BTREE_ON_HEAP or (key_size, entry_size, levels) != (2, 6, 0):
            return None
        records = heap(records_at) or b""
        values: dict[int, tuple[int, object]] = {}
        for at in range(0, len(records) - 7, 8):
            tag, value_type, value = struct.unpack_from("<HHI", records, at)
            kept_in_record = value_type in (0x02, 0x03, 0x0A, 0x0B)
            values[tag] = (value_type, value if kept_in_record else heap(value))
        return values
    except struct.error:
        return None


def _heap_text(kind: int, value: object) -> str:
    if not isinstance(value, bytes):
        return ""
    return value.decode("utf-16-le" if kind == _UNICODE else "cp1252", errors="replace").rstrip("\x00")


def _filetime(ticks: int) -> datetime | None:
    """A FILETIME (100 ns since 1601) as a moment in UTC; None for 0 or past what a date holds."""
    try:
        moment = datetime(1601, 1, 1, tzinfo=UTC) + timedelta(microseconds=ticks // 10)
    except OverflowError:
        return None
    return moment if ticks and moment.year > 1601 else None


def _headed(
    *, sender: str, address: str, to: str, cc: str, sent: datetime | None, subject: str, message_id: str
) -> EmailMessage:
    """An e-mail of these headers, each left out where it is empty: From as `Name <address>` where the address
    is an Internet one (not an Exchange X.500 name), else the name, else the address."""
    mail = EmailMessage()
    if sender or address:
        mail["From"] = formataddr((sender, address)) if "@" in address else sender or address
    for header, value in (("To", to), ("Cc", cc)):
        if value:
            mail[header] = value
    if sent is not None:
        mail["Date"] = format_datetime(sent)
    for header, value in (("Subject", subject), ("Message-ID", message_id)):
        if value:
            mail[header] = value
    return mail


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
