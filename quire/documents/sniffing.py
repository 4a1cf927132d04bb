"""What a document is, judged from its bytes, never from its name."""

from __future__ import annotations

import codecs
import io
import json
import re
import zipfile

from common.refusals import ErrorCode, Refusal
from connectors.earnings.transcript import transcript_to_text
from quire.documents.docx_numbering import XML_SAFE
from quire.documents.image import open_image, page_total
from quire.documents.layout import UnreadableDocument
from quire.documents.limits import (
    ZIP_ERRORS,
    IngestLimits,
    LimitExceeded,
    check_archive_declared,
    check_image_pixels,
    check_json_depth,
    check_pages,
)

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
HTML = "text/html"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
EML = "message/rfc822"
MSG = "application/vnd.ms-outlook"
TRANSCRIPT = "application/json"
TEXT = "text/plain"
RTF = "application/rtf"
DOC = "application/msword"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
ODP = "application/vnd.oasis.opendocument.presentation"
# The OpenDocument types read, each a package whose body is its `content.xml`.
OPENDOCUMENT = (ODT, ODS, ODP)
XLS = "application/vnd.ms-excel"
PPT = "application/vnd.ms-powerpoint"
PST = "application/vnd.ms-outlook-pst"
PNG = "image/png"
JPEG = "image/jpeg"
TIFF = "image/tiff"
GIF = "image/gif"
BMP = "image/bmp"
WEBP = "image/webp"
HEIC = "image/heic"
# Scans and photographs of pages, read by OCR: each frame of a TIFF a page, of the others the first frame (a
# HEIF file's primary image).
IMAGES = (PNG, JPEG, TIFF, GIF, BMP, WEBP, HEIC)
# The types whose pages are images: they have page images, and billing counts their pages.
PAGED = (PDF, *IMAGES)
# The file extension a file of each type is named with where nothing else names it.
EXTENSIONS = {
    PDF: "pdf",
    DOCX: "docx",
    HTML: "html",
    XLSX: "xlsx",
    PPTX: "pptx",
    EML: "eml",
    MSG: "msg",
    TRANSCRIPT: "json",
    TEXT: "txt",
    RTF: "rtf",
    DOC: "doc",
    ODT: "odt",
    ODS: "ods",
    ODP: "odp",
    XLS: "xls",
    PPT: "ppt",
    PST: "pst",
    PNG: "png",
    JPEG: "jpg",
    TIFF: "tif",
    GIF: "gif",
    BMP: "bmp",
    WEBP: "webp",
    HEIC: "heic",
}
ODT_BODY = "content.xml"
# A ZIP of files: unpacked into one document per file by a batch upload, never a document itself.
ZIP = "application/zip"
SUPPORTED = (
    PDF,
    DOCX,
    XLSX,
    PPTX,
    ODT,
    ODS,
    ODP,
    EML,
    MSG,
    DOC,
    XLS,
    PPT,
    PST,
    RTF,
    HTML,
    TRANSCRIPT,
    TEXT,
    *IMAGES,
)
RTF_SIGNATURE = b"{\\rtf"
# The part that tells which Office Open XML format a ZIP is.
XLSX_WORKBOOK = "xl/workbook.xml"
OOXML_PARTS = {"word/document.xml": DOCX, XLSX_WORKBOOK: XLSX, "ppt/presentation.xml": PPTX}
# Where a package names its main part elsewhere (`_rels/.rels`' officeDocument relationship, Transitional or
# Strict), its type by that part's content type, as `[Content_Types].xml` declares it.
OOXML_MAIN_TYPES = {"wordprocessingml": DOCX, "ms-word": DOCX, "spreadsheetml": XLSX, "ms-excel": XLSX}
OOXML_MAIN_TYPES |= {"presentationml": PPTX, "ms-powerpoint": PPTX}
OOXML_RELS, OOXML_CONTENT_TYPES = "_rels/.rels", "[Content_Types].xml"
# What makes a ZIP one document of a packaged format rather than a ZIP of files: a stored `mimetype` first
# member naming its media type (OpenDocument, EPUB), or the manifest they keep under META-INF.
PACKAGE_MANIFESTS = {"META-INF/manifest.xml", "META-INF/container.xml"}
MIMETYPE_MAX_BYTES = 256
_MEDIA_TYPE = re.compile(r"[a-z0-9][\w.+-]{0,63}/[a-z0-9][\w.+-]{0,127}", re.I | re.A)
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
UTF8_BOM = b"\xef\xbb\xbf"
_LAYOUTS = (
    '{"turns": [{"speaker", "text"}]} or '
    '{"prepared_remarks": [{"speaker", "speech"}], "q_and_a": [...], "participants": [...]}'
)
# A header field (RFC 5322): a name of printable US-ASCII but the colon (`X-Spam_score` too), and the lines
# starting with a space or a tab that fold onto it.
_HEADER_LINE = re.compile(rb"[\x21-\x39\x3b-\x7e]+:[^\r\n]*\r?\n(?:[ \t][^\r\n]*\r?\n)*")
# Where the blank line ending an e-mail's header block must come by: relays' Received lines and DKIM and ARC
# signatures take real mail well past 16 KiB.
MAX_HEADER_BYTES = 256 * 1024
MBOX_FROM = b"From "
_MAIL_HEADERS = (b"from:", b"subject:", b"date:", b"message-id:", b"mime-version:", b"to:")

# Declared types that name the same thing as a sniffed one.
ALIASES = {
    "application/x-pdf": PDF,
    "application/xhtml+xml": HTML,
    "text/json": TRANSCRIPT,
    "application/x-zip-compressed": ZIP,
    "application/x-zip": ZIP,
    "application/x-outlook-msg": MSG,
    "application/mspowerpoint": PPT,
    "application/powerpoint": PPT,
    "application/x-mspowerpoint": PPT,
    "text/markdown": TEXT,
    "text/x-markdown": TEXT,
    # Comma- and tab-separated values are read as text; browsers on Windows declare a .csv as Excel's type.
    "text/csv": TEXT,
    "text/x-csv": TEXT,
    "application/csv": TEXT,
    "text/tab-separated-values": TEXT,
    "text/rtf": RTF,
    "application/x-rtf": RTF,
    "text/richtext": RTF,
    "image/jpg": JPEG,
    "image/pjpeg": JPEG,
    "image/x-png": PNG,
    "image/tif": TIFF,
    "image/x-tiff": TIFF,
    "image/x-bmp": BMP,
    "image/x-ms-bmp": BMP,
    "image/heif": HEIC,
    "image/heic-sequence": HEIC,
    "image/heif-sequence": HEIC,
    # An mbox of one message (one of several is a batch of e-mails, `mailbox_messages`).
    "application/mbox": EML,
}
# Declared types that agree with bytes of another type: browsers on Windows declare a .csv as Excel's type,
# a .rtf that Word opens as Word's, and a .pst as Outlook's.
ALSO_DECLARED_AS = {TEXT: {XLS}, RTF: {DOC}, PST: {MSG}}
GENERIC = {"", "application/octet-stream", "binary/octet-stream"}


class UnsupportedDocument(Refusal):
    def __init__(self, reason: str, param: str | None = None):
        super().__init__(ErrorCode.UNSUPPORTED_DOCUMENT, f"Unsupported document: {reason}.", param)


class DocumentOverLimit(Refusal):
    """A document that would cost more to ingest than a limit allows (413), or cannot be read (415)."""


ENCRYPTED_REASON = "the PDF is encrypted with a password; send it without the password"
OFFICE_ENCRYPTED_REASON = (
    "the Office document (DOCX, XLSX or PPTX) is encrypted with a password; send it without the password"
)
NOT_TEXT = (
    "binary content of no supported type, or text in an encoding other than UTF-8, UTF-16 with a byte order mark "
    "or Windows-1252 (or, for an HTML page, the charset it declares)"
)


def sniff_content_type(
    content: bytes, *, param: str | None = None, limits: IngestLimits | None = None
) -> str:
    """The document's type from its bytes; raises UnsupportedDocument (about `param`) for anything else,
    and DocumentOverLimit for what its bytes already show to be past `limits`: a ZIP that declares too much
    unzipped, a PDF encrypted with a password or declaring too many pages, JSON nested too deep."""
    try:
        return _sniff(content, param, limits or IngestLimits())
    except LimitExceeded as exc:
        raise DocumentOverLimit(exc.code, f"Document refused: {exc}.", param) from None


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# Bytes below 0x20 that text holds: tab, line feed, form feed, carriage return, and MS-DOS's end of file.
_TEXT_CONTROLS = frozenset(b"\t\n\x0c\r\x1a")


# A character below 0x20 that text does not hold (`_TEXT_CONTROLS` are the ones it does).
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x19\x1b-\x1f]")
# How much of a file tells UTF-16 without a byte order mark from other bytes.
UTF16_HEAD = 4096


def _utf16_without_bom(content: bytes) -> str | None:
    """Bytes that are UTF-16 without a byte order mark (what SQL Server's and some Windows tools' exports
    write): an even length, the high byte of at least half the first `UTF16_HEAD` bytes' code units NUL (Latin
    letters, figures and punctuation) and no low byte NUL, the whole decoding in that byte order to text
    without control characters; None for anything else (UTF-8 text holds no NUL)."""
    if len(content) < 2 or len(content) % 2:
        return None
    head = content[:UTF16_HEAD]
    units, even, odd = len(head) // 2, head[0::2].count(0), head[1::2].count(0)
    if odd * 2 >= units and not even:
        codec = "utf-16-le"
    elif even * 2 >= units and not odd:
        codec = "utf-16-be"
    else:
        return None
    try:
        text = content.decode(codec)
    except UnicodeDecodeError:
        return None
    return None if _CONTROL.search(text) else text


# A page may open with comments (a licence, a generator's note) before its markup: sniffing reads past them,
# within this many characters.
HTML_HEAD_CHARS = 64 * 1024
_LEADING_COMMENTS = re.compile(r"\A(?:\s*<!--.*?-->)*\s*", re.S)


def decoded_text(content: bytes) -> str | None:
    """The text of bytes that are text: UTF-8 (after a byte order mark, if any), UTF-16 after its byte order
    mark or without one (`_utf16_without_bom`), else Windows-1252 (Latin-1's superset, what older Windows tools save) when no byte is a control
    character text does not hold; None for anything else. Sniffing and parsing read text by this one rule."""
    text = _unicode_text(content)
    if text is not None or content.startswith(_UTF16_BOMS):
        return text
    return _windows_text(content)


def _unicode_text(content: bytes) -> str | None:
    """`decoded_text`'s Unicode readings: UTF-16 after its byte order mark (None where it does not decode),
    UTF-16 without one, UTF-8; None for other bytes."""
    if content.startswith(_UTF16_BOMS):
        try:
            return content.decode("utf-16")
        except UnicodeDecodeError:
            return None
    if (utf16 := _utf16_without_bom(content)) is not None:
        return utf16
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def _windows_text(content: bytes) -> str | None:
    """`decoded_text`'s last reading: Windows-1252, when no byte is a control character text does not hold."""
    if any(byte < 0x20 and byte not in _TEXT_CONTROLS for byte in content):
        return None
    try:
        return content.decode("cp1252")
    except UnicodeDecodeError:
        return None


# Where an HTML page declares its charset (`<meta charset=...>`, or `<meta http-equiv="Content-Type"
# content="text/html; charset=...">`): within its first bytes, as browsers look for it.
HTML_CHARSET_WITHIN = 4096
_HTML_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9._:-]{1,40})", re.I)
# Labels a browser reads as another encoding: Latin-1 and ASCII pages are read as Windows-1252, its superset.
_HTML_CHARSET_ALIASES = {"iso-8859-1": "cp1252", "latin1": "cp1252", "ascii": "cp1252", "us-ascii": "cp1252"}


def html_charset(content: bytes) -> str | None:
    """The Python codec of the charset an HTML page declares in a `<meta>` tag, where Python knows it; None
    where it declares none, or UTF-16 (which the bytes' byte order mark tells, never a tag)."""
    match = _HTML_CHARSET.search(content, 0, HTML_CHARSET_WITHIN)
    if match is None:
        return None
    label = match.group(1).decode("ascii").lower()
    try:
        name = codecs.lookup(_HTML_CHARSET_ALIASES.get(label, label)).name
    except LookupError:
        return None
    return None if name.startswith("utf-16") or name.startswith("utf-32") else name


def decoded_html(content: bytes) -> str | None:
    """An HTML page's text: by `decoded_text`'s rule where the bytes are UTF-8 or UTF-16, else
    in the charset the page declares (`html_charset`; a byte it does not map read as U+FFFD), else by
    `decoded_text`'s rule (Windows-1252)."""
    text = _unicode_text(content)
    if text is not None or content.startswith(_UTF16_BOMS):
        return text
    declared = html_charset(content)
    if declared is not None and declared != "utf-8":
        return content.decode(declared, errors="replace")
    return _windows_text(content)


# Where a PDF's header may come (what PDF readers accept: a gateway's line, a byte order mark or blank lines
# before it), and where its end-of-file marker is looked for when other bytes than those come first.
PDF_HEADER_WITHIN = 1024
_PDF_HEADER = re.compile(rb"%PDF-\d\.\d")
_BEFORE_PDF_HEADER = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*\Z")


def is_pdf(content: bytes) -> bool:
    """A PDF: `%PDF-` at the start, or its `%PDF-n.n` header within the first `PDF_HEADER_WITHIN` bytes after
    only blank space and a byte order mark or, after anything else, with `%%EOF` in the last
    `PDF_HEADER_WITHIN` bytes (text that only names the header is no PDF). A ZIP, an OLE file or an email
    that holds PDFs unencoded (a ZIP of stored members) is what it is, not its first PDF."""
    if content.startswith(b"%PDF-"):
        return True
    header = _PDF_HEADER.search(content, 0, PDF_HEADER_WITHIN)
    if header is None or content.startswith((ZIP_MAGIC, OLE_MAGIC)) or is_email(content):
        return False
    return (
        bool(_BEFORE_PDF_HEADER.match(content, 0, header.start())) or b"%%EOF" in content[-PDF_HEADER_WITHIN:]
    )


_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"II*\x00", TIFF),
    (b"MM\x00*", TIFF),
    (b"II+\x00", TIFF),
    (b"MM\x00+", TIFF),
    (b"GIF87a", GIF),
    (b"GIF89a", GIF),
)
# The sizes of a BMP's DIB header (BITMAPCOREHEADER to BITMAPV5HEADER) that follow its 14-byte file header.
_BMP_HEADERS = {12, 40, 52, 56, 64, 108, 124}
# An ISO base media file's `ftyp` box with a brand of HEIF's HEVC images: an iPhone's photo (an AVIF's `avif` brand
# is not one; there is no AV1 decoder).
HEIF_BRANDS = {
    b"ftyp" + brand for brand in (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")
}


def image_type(content: bytes) -> str | None:
    """The image type of bytes by their signature (a BMP's `BM` and a DIB header of a known size after it, so
    that text starting "BM" stays text); None for anything else."""
    kind = next((kind for magic, kind in _IMAGE_MAGIC if content.startswith(magic)), None)
    if kind is not None:
        return kind
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return WEBP
    if content[4:12] in HEIF_BRANDS:
        return HEIC
    if (
        content[:2] == b"BM"
        and len(content) >= 18
        and int.from_bytes(content[14:18], "little") in _BMP_HEADERS
    ):
        return BMP
    return None


def _check_image(content: bytes, param: str | None, limits: IngestLimits) -> None:
    """An image whose header Pillow cannot read is refused, and one whose header already shows more pages or
    pixels than may be read (`check_image_pixels`; the pixels are not decoded)."""
    try:
        image = open_image(content, limits)
    except UnreadableDocument as exc:
        raise UnsupportedDocument(str(exc), param) from None
    with image:
        check_pages(page_total(image), limits, "image")
        check_image_pixels(1, image.width * image.height, limits)


def _sniff(content: bytes, param: str | None, limits: IngestLimits) -> str:
    if is_pdf(content):
        _check_pdf(content, limits)
        return PDF
    image = image_type(content)
    if image is not None:
        _check_image(content, param, limits)
        return image
    if content.startswith(ZIP_MAGIC):
        try:
            archive = zipfile.ZipFile(io.BytesIO(content))
        except ZIP_ERRORS as exc:
            raise UnsupportedDocument(f"a damaged or unreadable ZIP archive ({exc})", param) from None
        with archive:
            check_archive_declared(archive, len(content), limits)
            names = set(archive.namelist())
            kind = ooxml_kind(archive)
            packaged = None if kind else packaged_type(archive)
            if packaged in OPENDOCUMENT and _odt_encrypted(archive):
                raise LimitExceeded(ErrorCode.DOCUMENT_ENCRYPTED, ODT_ENCRYPTED_REASON)
        if packaged in OPENDOCUMENT and ODT_BODY in names:
            return packaged
        if packaged:
            raise UnsupportedDocument(
                f"{packaged}, a document packaged as a ZIP (OpenDocument drawing or formula, EPUB) that Quire "
                "does not read; save it as PDF",
                param,
            )
        return kind or ZIP
    if is_pst(content):
        return PST
    if content.startswith(OLE_MAGIC):
        roots = _ole_roots(content)
        if roots >= OOXML_ENCRYPTED:
            raise LimitExceeded(ErrorCode.DOCUMENT_ENCRYPTED, OFFICE_ENCRYPTED_REASON)
        if any(root.startswith(MSG_STREAM_PREFIX) for root in roots):
            return MSG
        kind = next((kind for name, kind in OLE_ROOT_STREAMS.items() if name in roots), None)
        if kind is not None:
            return kind
        if MSG_STREAM_PREFIX.encode("utf-16-le") in content:
            return MSG
        raise UnsupportedDocument(
            "an OLE file that is neither a Word document (.doc), an Excel workbook (.xls), a PowerPoint "
            "presentation (.ppt) nor an Outlook message (.msg)",
            param,
        )
    if is_email(content):
        return EML
    if is_rtf(content):
        return RTF
    text = decoded_text(content)
    # A page in a charset Windows-1252 does not map (Shift_JIS, GBK) is HTML when it declares that charset.
    declared_only = text is None and html_charset(content) is not None
    if declared_only:
        text = decoded_html(content)
    if text is None:
        raise UnsupportedDocument(NOT_TEXT, param)
    if "\x00" in text[:4096]:
        raise UnsupportedDocument("binary content of no supported type", param)
    head = text.removeprefix("\ufeff")[:1024].lstrip()
    if head.startswith(("{", "[")) and _is_transcript(text, param, limits):
        return TRANSCRIPT
    lowered = _LEADING_COMMENTS.sub("", text.removeprefix("\ufeff")[:HTML_HEAD_CHARS])[:512].lower()
    if lowered.startswith(("<!doctype html", "<html")) or "<html" in lowered or "<body" in lowered:
        return HTML
    if declared_only:
        raise UnsupportedDocument(NOT_TEXT, param)
    return TEXT


# An OLE file's type by a stream at its root (one inside a storage is an embedded object's: a workbook's chart in
# a Word document, a document inside a workbook, a message dragged into either).
OLE_ROOT_STREAMS = {"worddocument": DOC, "workbook": XLS, "book": XLS, "powerpoint document": PPT}
# An Outlook message's property streams. Its name anywhere in the file makes one whose root says nothing (a
# message whose directory is damaged) an Outlook message, so that it fails as one with the reason.
MSG_STREAM_PREFIX = "__substg1.0_"


# The streams at the root of an OLE file that wraps a DOCX, XLSX or PPTX encrypted with a password (MS-OFFCRYPTO's
# standard and agile encryption).
OOXML_ENCRYPTED = {"encryptioninfo", "encryptedpackage"}
ODT_ENCRYPTED_REASON = "the OpenDocument file is encrypted with a password; send it without the password"
ODT_MANIFEST = "META-INF/manifest.xml"
ODT_MANIFEST_MAX_BYTES = 1 << 20


def _ole_roots(content: bytes) -> set[str]:
    """The names (in lower case) of the streams at an OLE file's root; none where its directory is damaged."""
    import olefile

    try:
        with olefile.OleFileIO(io.BytesIO(content)) as ole:
            return {path[0].lower() for path in ole.listdir(streams=True, storages=False) if len(path) == 1}
    except Exception:  # olefile raises its own and struct errors on a damaged directory
        return set()


def is_rtf(content: bytes) -> bool:
    """Whether the bytes open with RTF's `{\\rtf` (after a UTF-8 byte order mark and whitespace, if any)."""
    return content.removeprefix(codecs.BOM_UTF8).lstrip()[: len(RTF_SIGNATURE)] == RTF_SIGNATURE


def _is_transcript(text: str, param: str | None, limits: IngestLimits) -> bool:
    """Whether JSON `text` is a transcript that parsing reads to turns (False for text that is not JSON);
    raises UnsupportedDocument for any other JSON, with the reason parsing would fail it for."""
    check_json_depth(text, limits)
    try:
        data = json.loads(text)
    except ValueError:
        return False
    try:
        turns = transcript_to_text(data)
    except ValueError as exc:
        reason = str(exc)
    else:
        if turns.strip():
            return True
        reason = "it has no turns"
    raise UnsupportedDocument(f"JSON that is not a transcript ({reason}); a transcript is {_LAYOUTS}", param)


def ooxml_kind(archive: zipfile.ZipFile) -> str | None:
    """DOCX, XLSX or PPTX for an Office Open XML package, by its main part (named with `/`, or with Windows'
    `\\` as some writers name parts and Office reads them); None for any other ZIP."""
    names = {name.replace("\\", "/") for name in archive.namelist()}
    kind = next((kind for part, kind in OOXML_PARTS.items() if part in names), None)
    if kind is None and (main := ooxml_main_part(archive)) is not None:
        kind = main[0]
    return kind


def ooxml_main_part(archive: zipfile.ZipFile) -> tuple[str, str] | None:
    """The type and name of the main part a package's relationships name (`word/document2.xml`), where
    `[Content_Types].xml` declares it a document, workbook or presentation; None where it names none."""
    from lxml import etree

    def root(name: str):
        try:
            with archive.open(name) as part:
                return etree.fromstring(part.read(1 << 20), etree.XMLParser(**XML_SAFE, recover=True))
        except (KeyError, etree.XMLSyntaxError, *ZIP_ERRORS):
            return None

    relationships, types = root(OOXML_RELS), root(OOXML_CONTENT_TYPES)
    if relationships is None or types is None:
        return None
    main = next(
        (
            (element.get("Target") or "").lstrip("/")
            for element in relationships.iter("{*}Relationship")
            if (element.get("Type") or "").endswith("/officeDocument")
        ),
        None,
    )
    declared = next(
        (
            e.get("ContentType") or ""
            for e in types.iter("{*}Override")
            if main and (e.get("PartName") or "").lstrip("/") == main
        ),
        "",
    )
    kind = next((kind for marker, kind in OOXML_MAIN_TYPES.items() if marker in declared), None)
    return (kind, main) if kind and main in archive.namelist() else None


def _odt_encrypted(archive: zipfile.ZipFile) -> bool:
    """Whether the OpenDocument's manifest says its parts are encrypted (`manifest:encryption-data`, as a
    password sets it)."""
    try:
        info = archive.getinfo(ODT_MANIFEST)
        return info.file_size <= ODT_MANIFEST_MAX_BYTES and b"encryption-data" in archive.read(info)
    except (KeyError, *ZIP_ERRORS):
        return False


def packaged_type(archive: zipfile.ZipFile) -> str | None:
    """For a ZIP that is one document of a packaged format (OpenDocument, EPUB: a `mimetype` first member, or
    the `META-INF` manifest they keep), its media type as its `mimetype` member declares it (first, or
    anywhere beside the manifest), else "a packaged document"; None for any other ZIP."""
    infos = archive.infolist()
    manifest = bool(PACKAGE_MANIFESTS & set(archive.namelist()))
    mimetype = next((info for info in infos if info.filename == "mimetype"), None)
    # A tool that zips a package again may put its `mimetype` anywhere; its manifest still tells it apart.
    if (
        mimetype is not None
        and (mimetype is infos[0] or manifest)
        and mimetype.file_size <= MIMETYPE_MAX_BYTES
    ):
        try:
            declared = archive.read(mimetype).decode("ascii").strip()
        except ZIP_ERRORS:
            declared = ""
        return declared if _MEDIA_TYPE.fullmatch(declared) else "a packaged document"
    return "a packaged document" if manifest else None


# An Outlook data file: "!BDN" at offset 0, and at offset 8 "SM" (a PST) or "SO" (an OST, the offline cache
# Outlook keeps of a mailbox) ([MS-PST] 2.2.2.6).
PST_MAGIC = b"!BDN"
PST_CLIENTS = (b"SM", b"SO")


def is_pst(content: bytes) -> bool:
    return content.startswith(PST_MAGIC) and content[8:10] in PST_CLIENTS


def is_email(content: bytes) -> bool:
    """An RFC 822 message: it opens (after a byte order mark or an mbox `From ` line, if any) with a block of
    header lines, ended by a blank line within the first MAX_HEADER_BYTES, naming a sender and one more mail
    header."""
    head, position, names = mail_start(content)[:MAX_HEADER_BYTES], 0, set()
    while match := _HEADER_LINE.match(head, position):
        names.add(match.group().split(b":", 1)[0].lower() + b":")
        position = match.end()
    ends_block = head[position : position + 1] == b"\n" or head[position : position + 2] == b"\r\n"
    return ends_block and b"from:" in names and len(names & set(_MAIL_HEADERS)) >= 2


# An mbox's envelope line opening each message (RFC 4155): `From `, the sender, and the date as `asctime` writes
# it ("From MAILER-DAEMON Thu Sep 17 10:00:00 2026", Thunderbird's "From - Sat Jan  3 01:05:34 1996", Gmail's
# "From 1786...@xxx Wed Oct 05 13:55:25 +0000 2022"), so a body line that merely starts with "From " is not one.
_MBOX_ENVELOPE = re.compile(
    rb"^From \S+ +(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) +(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d{1,2} "
    rb"[^\r\n]*\r?\n",
    re.MULTILINE,
)
_MBOX_QUOTED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)


def is_mailbox(content: bytes) -> bool:
    """An mbox of more than one message: an envelope line at its start and another after it (the scan stops at
    the second, so a large mailbox is not read through to tell)."""
    content = content.removeprefix(UTF8_BOM)
    if not content.startswith(MBOX_FROM):
        return False
    envelopes = _MBOX_ENVELOPE.finditer(content)
    first = next(envelopes, None)
    return first is not None and first.start() == 0 and next(envelopes, None) is not None


def mailbox_messages(content: bytes) -> list[bytes] | None:
    """The messages of an mbox holding more than one (`is_mailbox`: a mail client's or Gmail's export), each
    without its envelope line and the blank line after it, a body's quoted `>From ` lines read back as `From `
    (a message without headers, as some archivers keep, is read as text); None for anything else, a single
    message in mbox form included (an e-mail)."""
    if not is_mailbox(content):
        return None
    content = content.removeprefix(UTF8_BOM)
    envelopes = list(_MBOX_ENVELOPE.finditer(content))
    ends = [envelope.start() for envelope in envelopes[1:]] + [len(content)]
    messages = []
    for envelope, end in zip(envelopes, ends, strict=True):
        message = content[envelope.end() : end]
        for separator in (b"\r\n", b"\n"):
            if message.endswith(separator * 2):
                message = message[: -len(separator)]
                break
        messages.append(_MBOX_QUOTED_FROM.sub(rb"\1", message))
    return messages


def mail_start(content: bytes) -> bytes:
    """`content` without a UTF-8 byte order mark and an mbox `From sender date` line before the headers."""
    content = content.removeprefix(UTF8_BOM)
    if content.startswith(MBOX_FROM):
        content = content[content.find(b"\n") + 1 :] if b"\n" in content else b""
    return content


def _check_pdf(content: bytes, limits: IngestLimits) -> None:
    """What the PDF's trailer tells cheaply: encrypted with a password (an empty user password is read),
    or more pages declared than the limit. A PDF pypdf cannot open is left to fail when it is parsed."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(content))
        locked = reader.is_encrypted and not reader.decrypt("")
        declared = 0 if locked else int(reader.trailer["/Root"]["/Pages"]["/Count"])
    except Exception:
        return
    if locked:
        raise LimitExceeded(ErrorCode.DOCUMENT_ENCRYPTED, ENCRYPTED_REASON)
    check_pages(declared, limits)


def _declared(declared: str | None) -> str:
    declared = (declared or "").split(";")[0].strip().lower()
    return ALIASES.get(declared, declared)


def declared_matches(declared: str | None, sniffed: str) -> bool:
    declared = _declared(declared) if declared is not None else None
    return (
        declared is None
        or declared in GENERIC
        or declared == sniffed
        or declared in ALSO_DECLARED_AS.get(sniffed, ())
    )


def read_as(declared: str | None, sniffed: str) -> str:
    """The type to read the bytes by: HTML for text declared as HTML (a fragment, `<p>...</p>`, that names no
    `<html>` or `<body>` for sniffing to know it by), else the sniffed type."""
    return HTML if sniffed == TEXT and _declared(declared) == HTML else sniffed
