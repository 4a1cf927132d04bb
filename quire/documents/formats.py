"""Office and e-mail formats to text: DOCX (paragraphs and tables in document order, read as a stream), XLSX (each sheet a
page holding one table), PPTX (each slide a page: its text, tables and notes), EML and MSG (headers and
body, an HTML body with its tables; attachments come back to be ingested as documents of their own)."""

from __future__ import annotations

import datetime
import decimal
import io
import re
import struct
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from quire.documents import sniffing
from quire.documents.docx_numbering import XML_SAFE, Numbering, int_value, is_on, parse_xml
from quire.documents.layout import (
    LINE,
    Attachment,
    OnceEach,
    ParsedDocument,
    TextBuilder,
    UnreadableDocument,
    add_blocks,
    attach,
    forwarded_file_name,
)
from quire.documents.limits import IngestLimits, check_archive_read, check_batch_files, check_text
from quire.documents.odt import ods_sheets
from quire.documents.officeart import OPTIONS, atoms, blip_store, fbse_bitmap, picture_index
from quire.documents.rtf import rtf_read

MAIL_HEADERS = ("From", "To", "Cc", "Date", "Subject")
# An Outlook message's HTML body (PR_HTML, binary).
MSG_HTML_BODY = "__substg1.0_10130102"
# Its subject and plain body (PR_SUBJECT, PR_BODY, read as Unicode or 8-bit strings), for a message whose class
# extract_msg does not know and so reads as a bare MSG file.
MSG_SUBJECT, MSG_BODY = "__substg1.0_0037", "__substg1.0_1000"
# An e-mail's body part types, the one read first of a multipart/alternative first.
MAIL_BODIES = ("text/html", "text/plain")
# Outlook's rich-text wrapper (winmail.dat): its MIME types and the signature its bytes start with.
MAIL_TNEF = {"application/ms-tnef", "application/vnd.ms-tnef"}
TNEF_SIGNATURE = b"\x78\x9f\x3e\x22"
# Charsets a body declares that name no byte past 0x7F: one that has any is read by the rule for text.
MAIL_ASCII = {"us-ascii", "ascii", "ansi_x3.4-1968"}
MAIL_SIGNATURES = {
    "application/pkcs7-signature",
    "application/x-pkcs7-signature",
    "application/pgp-signature",
}
DOCX_BODY = "word/document.xml"
# Footnotes and endnotes, read after the body, each note's paragraphs as paragraphs (the separators are empty).
DOCX_NOTES = ("word/footnotes.xml", "word/endnotes.xml")
# The parts of the body's relationships that reading it needs.
DOCX_RELATED = (
    "header",
    "footer",
    "settings",
    "numbering",
    "styles",
    "aFChunk",
    "chart",
    "package",
    "oleObject",
    "image",
)
# The extensions of an imported part (`w:altChunk`) that is HTML.
DOCX_CHUNK_HTML = ("htm", "html", "xhtml")
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
W_ALT_CHUNK = _W + "altChunk"
# A chart a drawing shows (`c:chart`, its part named by `r:id`), read where it stands.
C_CHART = "{http://schemas.openxmlformats.org/drawingml/2006/chart}chart"
# An object embedded in the document (`o:OLEObject`, its part named by `r:id`): shown as its content (a
# worksheet, a document) it is read where it stands; shown as an icon it is a file attached to the document.
O_OLE_OBJECT = "{urn:schemas-microsoft-com:office:office}OLEObject"
# The streams of an OLE object that hold the file it embeds: an Office Open XML file (an XLSX, DOCX or PPTX
# embedded by an older container), a packager object's file (an OLE 1 object's native data is a packager's where
# its class, in `\x01CompObj`, is `Package`; a Paintbrush or MS Draw picture's is not a file), an Acrobat object's
# PDF.
OLE_PACKAGE_STREAM, OLE_NATIVE_STREAM, OLE_CONTENTS_STREAM = "Package", "\x01Ole10Native", "CONTENTS"
OLE_CLASS_STREAM, OLE_PACKAGER = "\x01CompObj", b"Package\0"
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
# A picture the body shows: DrawingML's `a:blip` (its part named by `r:embed`) and VML's `v:imagedata` (by
# `r:id`); read by OCR only where the document is read through its pictures (`image.PictureReader`).
A_BLIP = "{http://schemas.openxmlformats.org/drawingml/2006/main}blip"
V_IMAGEDATA = "{urn:schemas-microsoft-com:vml}imagedata"
W_OBJECT = _W + "object"
_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_REL_TYPES = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
W_P, W_R, W_T, W_TBL, W_TR, W_TC = (_W + name for name in ("p", "r", "t", "tbl", "tr", "tc"))
W_GRID_SPAN, W_VMERGE, W_VAL, W_TYPE = _W + "gridSpan", _W + "vMerge", _W + "val", _W + "type"
W_SECT_PR, W_SECT_PR_CHANGE = _W + "sectPr", _W + "sectPrChange"
W_TITLE_PG, W_EVEN_AND_ODD = _W + "titlePg", _W + "evenAndOddHeaders"
W_PPR, W_P_STYLE, W_NUM_PR = _W + "pPr", _W + "pStyle", _W + "numPr"
W_NUM_ID, W_ILVL = _W + "numId", _W + "ilvl"
DOCX_NUMBERING = {W_P_STYLE, W_NUM_ID, W_ILVL}
# A section's header and footer references, by kind: the part shown on its first page (only where the section
# has a title page, `w:titlePg`), on odd pages or all of them (`default`), and on even pages (only where the
# settings ask for even and odd headers, `w:evenAndOddHeaders`), read in that order.
DOCX_PAGE_PARTS = {_W + "headerReference": "header", _W + "footerReference": "footer"}
DOCX_PAGE_TYPES = ("first", "default", "even")
# Run children that stand for a character.
DOCX_RUN_CHARACTERS = {
    _W + "tab": "\t",
    _W + "ptab": "\t",
    _W + "br": "\n",
    _W + "cr": "\n",
    _W + "noBreakHyphen": "-",
}
# A legacy form checkbox (`w:ffData/w:checkBox`): its state, `w:checked` where given, else `w:default`.
W_CHECK_BOX, W_CHECKED, W_DEFAULT = _W + "checkBox", _W + "checked", _W + "default"
DOCX_CHECK_BOX = {True: "\u2612", False: "\u2610"}
# A symbol (`w:sym`): a character of a symbol font, at U+F000 plus its code there; Unicode's for the ones that
# mean something in a contract (boxes, ticks, bullets). A character of any other font is itself.
W_SYM, W_FONT, W_CHAR = _W + "sym", _W + "font", _W + "char"
# A run's properties that hide it (`w:specVanish` hides a style separator's mark), and its character style.
W_RPR, W_R_STYLE = _W + "rPr", _W + "rStyle"
DOCX_HIDING = {_W + "vanish", _W + "specVanish"}
DOCX_SYMBOLS = {
    "wingdings": {
        0x6F: "\u25a1",
        0x71: "\u2751",
        0xA8: "\u2610",
        0x6C: "\u25cf",
        0xFB: "\u2717",
        0xFC: "\u2713",
        0xFD: "\u2612",
        0xFE: "\u2611",
    },
    "wingdings 2": {0x50: "\u2713", 0x4F: "\u2717", 0x52: "\u2611", 0x54: "\u2612", 0xA3: "\u2610"},
    "symbol": {0xB7: "\u2022", 0xA7: "\u2663", 0xD3: "\u00a9", 0xD2: "\u00ae", 0xB4: "\u00d7"},
}
# A content control (`w:sdt`) whose content is its placeholder (`w:showingPlcHdr`: "Click or tap here to enter
# text."), not text anyone wrote: its content is left out.
W_SDT, W_SDT_PR, W_SDT_CONTENT, W_SHOWING_PLACEHOLDER = (
    _W + name for name in ("sdt", "sdtPr", "sdtContent", "showingPlcHdr")
)
# What is not the document's text: tracked deletions and moves away, and the fallback copy of a drawing
# (its text box is read from the drawing itself).
DOCX_SKIPPED = {
    _W + "del",
    _W + "moveFrom",
    "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback",
}


# An ISO/IEC 29500 Strict package's namespaces and relationship types, and the Transitional ones Word writes by
# default and every reader here knows: `http://purl.oclc.org/ooxml/wordprocessingml/main` is
# `http://schemas.openxmlformats.org/wordprocessingml/2006/main`, and so on.
OOXML_STRICT = re.compile(
    rb"http://purl\.oclc\.org/ooxml/(wordprocessingml|spreadsheetml|presentationml|drawingml|officeDocument)/"
)
OOXML_TRANSITIONAL = rb"http://schemas.openxmlformats.org/\1/2006/"
OOXML_RELS_MAX_BYTES = 1 << 20


def mended(content: bytes, limits: IngestLimits) -> bytes:
    """An Office Open XML package with its parts named as Office finds them: a part named with Windows' `\\`
    (`xl\\workbook.xml`) renamed with `/`, and one named in another case than the package's or its main part's
    relationships name it (`xl/SharedStrings.xml` for `sharedStrings.xml`; part names are case-insensitive)
    renamed as they name it, as are `[Content_Types].xml` and `_rels/.rels` in another case; any other package
    as it is."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        originals = {name.replace("\\", "/"): name for name in archive.namelist()}
        by_case = {name.lower(): name for name in originals}
        for part in (sniffing.OOXML_CONTENT_TYPES, sniffing.OOXML_RELS):
            if part not in originals and (found := by_case.get(part.lower())) is not None:
                originals[part] = originals.pop(found)
        renames = {original: name for name, original in originals.items() if name != original}

        def targets(rels: str) -> list[str]:
            if rels not in originals or archive.getinfo(originals[rels]).file_size > OOXML_RELS_MAX_BYTES:
                return []
            return [part for _, _, part in _internal(parse_xml(archive.read(originals[rels])), rels)]

        package = targets(sniffing.OOXML_RELS)
        for target in [*package, *(name for main in package for name in targets(_rels_of(main)))]:
            if target not in originals and (found := by_case.get(target.lower())) in originals:
                renames[originals[found]] = target
    if not renames:
        return content
    check_archive_read(content, limits)
    return _rewritten(content, lambda name, data: data, renames)


def _resolved(rels: str, target: str) -> str:
    """The part a relationship of the relationships part `rels` names by `target`."""
    import posixpath

    if target.startswith("/"):
        return target.lstrip("/")
    base = posixpath.dirname(posixpath.dirname(rels))
    return posixpath.normpath(f"{base}/{target}") if base else posixpath.normpath(target)


def transitional(content: bytes, limits: IngestLimits) -> bytes:
    """A Strict Office Open XML package (Word's, Excel's and PowerPoint's "Strict Open XML" save) with its XML
    parts in the Transitional namespaces; any other package as it is. Strict is told by the package's own
    relationships."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        try:
            with archive.open(sniffing.OOXML_RELS) as rels:
                strict = OOXML_STRICT.search(rels.read(1 << 16)) is not None
        except KeyError:
            return content
    if not strict:
        return content
    check_archive_read(content, limits)
    return _rewritten(
        content,
        lambda name, data: (
            OOXML_STRICT.sub(OOXML_TRANSITIONAL, data) if name.endswith((".xml", ".rels")) else data
        ),
    )


def parse_docx(
    content: bytes,
    limits: IngestLimits,
    html_blocks: Callable[[str], list[tuple[str, object]]] | None = None,
    embedded_blocks: Callable[[bytes], list[tuple[str, object]]] | None = None,
    pictures: Callable[[bytes], list[tuple[str, object]]] | None = None,
) -> ParsedDocument:
    """The body, then the footnotes and endnotes, then the headers and footers the document shows, each read
    once however many pages or sections repeat it (a paragraph or table one of them already gave is not read
    again); a numbered paragraph starts with its list number as Word shows it (`docx_numbering`); a part the
    body imports whole (`w:altChunk`: HTML, MHT, RTF, text or another DOCX), a chart's title and data, an
    object embedded and shown as its content (with `embedded_blocks`) and, with `pictures`, the body's
    pictures (not an object's preview) are read where they stand; an object shown as an icon is an
    attachment."""
    check_archive_read(content, limits)
    builder = TextBuilder(limits)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = set(archive.namelist())
        main = _docx_main(archive, names)
        targets, numbering = _docx_package(archive, names, main)
        related = _RelatedBlocks(
            archive, names, targets, limits, html_blocks, embedded_blocks, pictures=pictures
        )
        body = _DocxBody(builder, limits, numbering, related)
        with archive.open(main) as xml:
            body.read(xml)
        for part in DOCX_NOTES:
            if part in names:
                with archive.open(part) as xml:
                    _DocxBody(builder, limits, numbering.restarted()).read(xml)
        once = OnceEach(builder)
        for part in _docx_page_parts(archive, names, targets, body.sections):
            blocks = _DocxBlocks(builder, limits)
            with archive.open(part) as xml:
                _DocxBody(blocks, limits, numbering.restarted()).read(xml)
            for block in blocks.blocks:
                once.block(block)
    parsed = builder.build()
    parsed.attachments = related.attachments
    return parsed


class _RelatedBlocks:
    """The parts a DOCX body reads where it names them, each as ("text", str) and ("table", rows) blocks: a
    chart (`chart_blocks`), an embedded object shown as its content (with `embedded_blocks`), or a part
    imported whole (`w:altChunk`): HTML (with `html_blocks`), MHT (its HTML part), RTF, plain text, or another
    DOCX's body (its own imported parts not read); an imported XML part, or a part that is missing, gives none.
    An embedded object shown as an icon is kept in `attachments` (`attach`)."""

    def __init__(
        self,
        archive: zipfile.ZipFile,
        names: set[str],
        targets: dict[str, tuple[str, str]],
        limits: IngestLimits,
        html_blocks: Callable[[str], list[tuple[str, object]]] | None,
        embedded_blocks: Callable[[bytes], list[tuple[str, object]]] | None = None,
        attachments: list[Attachment] | None = None,
        *,
        pictures: Callable[[bytes], list[tuple[str, object]]] | None = None,
    ) -> None:
        self.archive, self.names, self.targets = archive, names, targets
        self.limits, self.html_blocks, self.embedded_blocks = limits, html_blocks, embedded_blocks
        self.attachments: list[Attachment] = [] if attachments is None else attachments
        self.pictures = pictures

    def __call__(self, rid: str | None) -> list[tuple[str, object]]:
        kind, part = self.targets.get(rid or "", ("", ""))
        if kind not in ("aFChunk", "chart") or part not in self.names:
            return []
        self.limits.check_time()
        data = self.archive.read(part)
        if kind == "chart":
            return chart_blocks(parse_xml(data))
        extension = part.rsplit(".", 1)[-1].lower()
        if data.startswith(sniffing.ZIP_MAGIC):
            return self._docx(data)
        if extension in ("mht", "mhtml") or (extension not in DOCX_CHUNK_HTML and _is_mime(data)):
            return self._mht(data)
        if extension in DOCX_CHUNK_HTML or data.lstrip()[:1] == b"<":
            html = sniffing.decoded_html(data)
            return self.html_blocks(html) if html is not None and self.html_blocks else []
        if data.startswith(sniffing.RTF_SIGNATURE):
            collected = _DocxBlocks(TextBuilder(self.limits), self.limits)
            rtf_read(data, self.limits, collected)
            return collected.blocks
        text = sniffing.decoded_text(data)
        return [("text", text)] if text is not None else []

    def embedded(self, rid: str | None, *, icon: bool) -> list[tuple[str, object]]:
        """The object `rid` names: shown as an icon, or a file an object wraps (a packager's, an Acrobat
        object's PDF), a file attached to the document (named as the object names it, else by its part);
        else read where it stands (with `embedded_blocks`)."""
        kind, part = self.targets.get(rid or "", ("", ""))
        if kind not in ("package", "oleObject") or part not in self.names:
            return []
        if self.embedded_blocks is None:
            return []
        self.limits.check_time()
        return _object_blocks(
            self.archive.read(part), icon, part, self.attachments, self.limits, self.embedded_blocks
        )

    def picture(self, rid: str | None) -> list[tuple[str, object]]:
        """The text of the picture `rid` names (with `pictures`)."""
        kind, part = self.targets.get(rid or "", ("", ""))
        if self.pictures is None or kind != "image" or part not in self.names:
            return []
        self.limits.check_time()
        return self.pictures(self.archive.read(part))

    def _docx(self, data: bytes) -> list[tuple[str, object]]:
        check_archive_read(data, self.limits)
        collected = _DocxBlocks(TextBuilder(self.limits), self.limits)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            try:
                main = _docx_main(archive, names)
            except KeyError:
                return []
            numbering = _docx_package(archive, names, main)[1]
            with archive.open(main) as xml:
                _DocxBody(collected, self.limits, numbering).read(xml)
        return collected.blocks

    def _mht(self, data: bytes) -> list[tuple[str, object]]:
        import email
        import email.policy

        message = email.message_from_bytes(data, policy=email.policy.default)
        for part in message.walk():
            if part.get_content_type() == "text/html" and self.html_blocks:
                return self.html_blocks(_body_text(part))
            if part.get_content_type() == "text/plain":
                return [("text", _body_text(part))]
        return []


def _object_blocks(
    raw: bytes,
    icon: bool,
    part: str,
    attachments: list[Attachment],
    limits: IngestLimits,
    embedded_blocks: Callable[[bytes], list[tuple[str, object]]],
) -> list[tuple[str, object]]:
    """An embedded object (`raw`, the bytes of its `part`): shown as an icon, or a file an object wraps (a
    packager's, an Acrobat object's PDF), a file attached to the document (`attach`) and no blocks; else its
    file read where it stands (`embedded_blocks`)."""
    name, data, wrapped = embedded_file(raw)
    if icon or wrapped:
        attach(attachments, limits, name, data, part=part)
        return []
    return embedded_blocks(data)


def embedded_file(data: bytes) -> tuple[str | None, bytes, bool]:
    """An embedded object's file, its name where the object keeps one, and whether it is a file an object
    wraps to show as its icon: the Office Open XML file an OLE object's `Package` stream holds, the file a
    packager object wraps (`\x01Ole10Native` under the `Package` class: its label, then the file), the PDF an
    Acrobat object holds (`CONTENTS`); else the bytes themselves (an OLE file that is a Word document or
    workbook, or the file itself)."""
    import olefile

    if not data.startswith(sniffing.OLE_MAGIC):
        return None, data, False
    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            if ole.exists(OLE_NATIVE_STREAM) and ole.exists(OLE_CLASS_STREAM):
                if OLE_PACKAGER in ole.openstream(OLE_CLASS_STREAM).read():
                    return (*native_file(ole.openstream(OLE_NATIVE_STREAM).read()), True)
            elif ole.exists(OLE_PACKAGE_STREAM):
                return None, ole.openstream(OLE_PACKAGE_STREAM).read(), False
            elif ole.exists(OLE_CONTENTS_STREAM):
                contents = ole.openstream(OLE_CONTENTS_STREAM).read()
                if sniffing.is_pdf(contents):
                    return None, contents, True
    except (OSError, struct.error, ValueError):  # a damaged object: the bytes as they are
        pass
    return None, data, False


def storage_file(ole, storage: list[str]) -> bytes:
    """A storage of the OLE file as an OLE file of its own (its streams under its root)."""
    from extract_msg.ole_writer import OleWriter

    writer = OleWriter()
    for path in sorted(ole.listdir()):
        if path[: len(storage)] == storage and len(path) > len(storage):
            writer.addEntry("/".join(path[len(storage) :]), ole.openstream(path).read())
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def native_file(native: bytes) -> tuple[str | None, bytes]:
    """The file of a packager object's native data: its size, a 2, the label and the source path (each ended
    by a NUL), two words, the temporary path (its length first), then the file's size and bytes."""
    position = 6
    label_end = native.index(b"\0", position)
    label = native[position:label_end].decode("cp1252", errors="replace")
    position = native.index(b"\0", label_end + 1) + 1 + 4
    (command,) = struct.unpack_from("<I", native, position)
    position += 4 + command
    (size,) = struct.unpack_from("<I", native, position)
    data = native[position + 4 : position + 4 + size]
    if len(data) != size:
        raise ValueError("the packaged file is cut off")
    return label or None, data


def _is_mime(data: bytes) -> bool:
    head = data[:4096].lower()
    return b"mime-version:" in head and b"content-type:" in head


def _docx_main(archive: zipfile.ZipFile, names: set[str]) -> str:
    """The body's part: `word/document.xml`, else the one the package's relationships name (KeyError for
    none)."""
    if DOCX_BODY in names:
        return DOCX_BODY
    main = sniffing.ooxml_main_part(archive)
    if main is None or main[0] != sniffing.DOCX:
        raise KeyError(DOCX_BODY)
    return main[1]


def _docx_package(
    archive: zipfile.ZipFile, names: set[str], main: str = DOCX_BODY
) -> tuple[dict[str, tuple[str, str]], Numbering]:
    """The body's relationships (`_relationships`) and the lists its numbering and styles parts define."""
    rels = _rels_of(main)
    targets = _relationships(archive, rels) if rels in names else {}
    numbering = Numbering(
        _docx_part(archive, names, targets, "numbering"), _docx_part(archive, names, targets, "styles")
    )
    return targets, numbering


def _rels_of(part: str) -> str:
    """The name of the part that holds `part`'s relationships."""
    folder, _, name = part.rpartition("/")
    return f"{folder}/_rels/{name}.rels" if folder else f"_rels/{name}.rels"


def _docx_part(
    archive: zipfile.ZipFile, names: set[str], targets: dict[str, tuple[str, str]], kind: str
) -> bytes | None:
    """The bytes of the document's part of a kind it holds one of (numbering, styles), if it has it."""
    part = next((part for found, part in targets.values() if found == kind and part in names), None)
    return archive.read(part) if part is not None else None


class _DocxBlocks:
    """What a header or footer holds, as ("text", str) and ("table", rows) blocks, collected to be compared
    with the ones read before it; its text counted against the limits with the document's."""

    def __init__(self, builder: TextBuilder, limits: IngestLimits) -> None:
        self.builder = builder
        self.limits = limits
        self.blocks: list[tuple[str, object]] = []
        self.chars = 0

    def add(self, text: str) -> None:
        self._count(len(text))
        self.blocks.append(("text", text))

    def table(self, rows: list[list[str]]) -> None:
        self._count(sum(len(cell) + 3 for row in rows for cell in row))
        self.blocks.append(("table", rows))

    def _count(self, chars: int) -> None:
        self.chars += chars
        check_text(self.builder.length + self.chars, self.limits)


def _docx_page_parts(
    archive: zipfile.ZipFile,
    names: set[str],
    targets: dict[str, tuple[str, str]],
    sections: list[_DocxSection],
) -> list[str]:
    """The header parts, then the footer parts, that the document's sections show, each once, in the order
    of the sections (a section without a reference of a kind shows the one before it); none where the
    relationships that name them are missing."""
    settings = [part for kind, part in targets.values() if kind == "settings" and part in names]
    even = bool(settings) and _docx_even_and_odd(archive, settings[0])
    shown: dict[str, list[str]] = {"header": [], "footer": []}
    current: dict[tuple[str, str], str] = {}
    for section in sections:
        current.update(section.references)
        for kind, parts in shown.items():
            for page in DOCX_PAGE_TYPES:
                if (page == "first" and not section.title_page) or (page == "even" and not even):
                    continue
                target = targets.get(current.get((kind, page), ""))
                if target is not None and target[0] == kind and target[1] in names and target[1] not in parts:
                    parts.append(target[1])
    return shown["header"] + shown["footer"]


def _relationships(
    archive: zipfile.ZipFile, rels: str, kinds: tuple[str, ...] = DOCX_RELATED
) -> dict[str, tuple[str, str]]:
    """A part's internal relationships of `kinds`, read from its relationships part `rels`: id to (kind, the
    part named)."""
    return {
        rid: (kind, part)
        for rid, kind, part in _internal(parse_xml(archive.read(rels)), rels)
        if rid and kind in kinds
    }


def _internal(root, rels: str) -> Iterator[tuple[str | None, str, str]]:
    """The relationships of the relationships part `rels` (its root) that name a part of the package: each its
    id, its kind (`oleObject`, `worksheet`, ...) and the part it names."""
    for relationship in root.iter(_REL):
        target = relationship.get("Target") or ""
        if relationship.get("TargetMode") != "External" and target:
            kind = (relationship.get("Type") or "").removeprefix(_REL_TYPES)
            yield relationship.get("Id"), kind, _resolved(rels, target)


def _docx_even_and_odd(archive: zipfile.ZipFile, settings: str) -> bool:
    """Whether the settings part asks for even and odd pages' own headers and footers."""
    from lxml import etree

    with archive.open(settings) as xml:
        for _, element in etree.iterparse(xml, events=("end",), tag=W_EVEN_AND_ODD, **XML_SAFE):
            return is_on(element.get(W_VAL))
    return False


@dataclass
class _DocxSection:
    """A section's header and footer references ((kind, page type) to relationship id) and whether it has a
    title page of its own (`w:titlePg`), where the first-page header and footer show."""

    references: dict[tuple[str, str], str] = field(default_factory=dict)
    title_page: bool = False


class _DocxBody:
    """A DOCX body read as a stream of XML events, each element let go once read: paragraphs (every run's
    text, in content controls, tracked insertions, fields, links and smart tags too; deletions and hidden text
    left out) and the outermost tables in document order, a table nested in a cell read as text of that cell, a
    cell merged across columns once and one merged down repeated in each row it spans."""

    def __init__(
        self,
        builder: TextBuilder | _DocxBlocks,
        limits: IngestLimits,
        numbering: Numbering | None = None,
        related: _RelatedBlocks | None = None,
    ) -> None:
        self.builder = builder
        self.limits = limits
        self.numbering = numbering
        self.related = related
        self.paragraphs: list[list[str]] = []
        # Each open content control: whether it shows its placeholder (its content then left out).
        self.placeholders: list[bool] = []
        # The checkbox being read: its `w:checked` (True) and `w:default` (False) states.
        self.check_box: dict[bool, bool] = {}
        # Each open paragraph's numbering properties: [numId, ilvl, style id], from its own `w:pPr`.
        self.numbered: list[list] = []
        # Each open run's own properties: [whether its `w:vanish` hides it (None: not set), its character style].
        self.runs: list[list] = []
        self.skipping = 0
        self.table_depth = 0
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None
        self.column = 0
        self.span = 1
        self.continued = False
        self.above: dict[int, str] = {}
        self.row_columns: dict[int, str] = {}
        # The body's sections in order (the last one's properties end the body), and the one being read.
        self.sections: list[_DocxSection] = []
        self.section = _DocxSection()

    def read(self, xml) -> None:
        from lxml import etree

        for event, element in etree.iterparse(xml, events=("start", "end"), **XML_SAFE):
            if event == "start":
                self._start(element.tag)
                continue
            self._end(element)
            element.clear()
            parent = element.getparent()
            while parent is not None and element.getprevious() is not None:
                del parent[0]

    def _start(self, tag: str) -> None:
        if tag == W_SDT:
            self.placeholders.append(False)
        elif tag == W_SDT_CONTENT and self.placeholders and self.placeholders[-1]:
            self.skipping += 1
        if tag in DOCX_SKIPPED:
            self.skipping += 1
        elif tag == W_P:
            self.paragraphs.append([])
            self.numbered.append([None, None, None])
        elif tag == W_TBL:
            self.table_depth += 1
            if self.table_depth == 1:
                self.rows, self.above = [], {}
        elif self.table_depth == 1 and tag == W_TR:
            self.rows.append([])
            self.column, self.row_columns = 0, {}
        elif self.table_depth == 1 and tag == W_TC:
            self.cell, self.span, self.continued = [], 1, False
        if tag == W_R:
            self.runs.append([None, None])

    def _end(self, element) -> None:
        tag = element.tag
        if tag == W_SDT and self.placeholders:
            self.placeholders.pop()
        elif tag == W_SDT_CONTENT and self.placeholders and self.placeholders[-1]:
            self.skipping -= 1
        elif tag == W_SHOWING_PLACEHOLDER and _is_tag(element.getparent(), W_SDT_PR) and self.placeholders:
            self.placeholders[-1] = is_on(element.get(W_VAL))
        if tag in DOCX_SKIPPED:
            self.skipping -= 1
        elif tag == W_P:
            self._paragraph_end()
        elif self.skipping or not self.paragraphs or self._hidden():
            pass
        elif tag == W_T:
            self.paragraphs[-1].append(element.text or "")
        elif tag in DOCX_RUN_CHARACTERS and element.getparent().tag == W_R:
            self.paragraphs[-1].append(DOCX_RUN_CHARACTERS[tag])
        elif tag == W_SYM and element.getparent().tag == W_R:
            self.paragraphs[-1].append(_symbol(element.get(W_FONT), element.get(W_CHAR)))
        elif tag in (W_CHECKED, W_DEFAULT) and _is_tag(element.getparent(), W_CHECK_BOX):
            self.check_box[tag == W_CHECKED] = is_on(element.get(W_VAL))
        elif tag == W_CHECK_BOX:
            state = self.check_box.pop(True, None)
            state = self.check_box.pop(False, False) if state is None else state
            self.check_box.clear()
            self.paragraphs[-1].append(DOCX_CHECK_BOX[state])
        if tag in (W_ALT_CHUNK, C_CHART) and self.related is not None and not self.skipping:
            self._related(self.related(element.get(_R + "id")))
        elif tag == O_OLE_OBJECT and self.related is not None and not self.skipping:
            self._embedded(element)
        elif tag in (A_BLIP, V_IMAGEDATA) and self.related is not None and not self.skipping:
            self._picture(element)
        if self.table_depth == 1:
            self._end_in_table(element)
        if tag in DOCX_PAGE_PARTS or tag in (W_TITLE_PG, W_SECT_PR):
            self._end_in_section(element)
        if tag in DOCX_NUMBERING and self.numbered:
            self._end_in_properties(element)
        if (tag in DOCX_HIDING or tag == W_R_STYLE) and self.runs:
            self._end_in_run_properties(element)
        if tag == W_R and self.runs:
            self.runs.pop()
        if tag == W_TBL:
            self.table_depth -= 1
            if self.table_depth == 0 and not self.skipping:
                self.builder.table(self.rows)

    def _paragraph_end(self) -> None:
        self.limits.check_time()
        text = "".join(self.paragraphs.pop())
        num_id, level, style = self.numbered.pop()
        if self.skipping:
            return
        label = self.numbering.label(num_id, level, style) if self.numbering else None
        if label is not None and text.strip():
            text = label[0] + label[1] + text.lstrip()
        if self.cell is not None:
            self.cell.append(text)
        elif text:
            self.builder.add(text)

    def _related(self, blocks: list[tuple[str, object]]) -> None:
        """A related part's blocks (an imported part's, a chart's) where it stands: in a cell, their text (a
        table's cells) joins the cell."""
        if self.cell is None:
            add_blocks(self.builder, blocks)  # type: ignore[arg-type]
            return
        for kind, block in blocks:
            rows = block if kind == "table" else [[block]]
            self.cell.extend(" ".join(str(cell) for cell in row) for row in rows)  # type: ignore[union-attr]

    def _embedded(self, element) -> None:
        """An embedded object (a link to a file outside is not read): shown as an icon, an attachment; else
        read where it stands."""
        if element.get("Type", "Embed") != "Embed":
            return
        icon = element.get("DrawAspect") == "Icon"
        self._related(self.related.embedded(element.get(_R + "id"), icon=icon))  # type: ignore[union-attr]

    def _picture(self, element) -> None:
        """A picture the body shows, read where it stands; an embedded object's preview picture is not."""
        if not any(ancestor.tag == W_OBJECT for ancestor in element.iterancestors()):
            rid = element.get(_R + "embed") or element.get(_R + "id")
            self._related(self.related.picture(rid))  # type: ignore[union-attr]

    def _end_in_properties(self, element) -> None:
        """The paragraph style, list and list level of the paragraph being read, from its own properties (not
        those a tracked change replaced, nor a paragraph mark's run properties)."""
        parent = element.getparent()
        if element.tag != W_P_STYLE:
            parent = parent.getparent() if _is_tag(parent, W_NUM_PR) else None
        if not _is_tag(parent, W_PPR) or not _is_tag(parent.getparent(), W_P):
            return
        if element.tag == W_P_STYLE:
            self.numbered[-1][2] = element.get(W_VAL)
        elif element.tag == W_NUM_ID:
            self.numbered[-1][0] = element.get(W_VAL)
        else:
            self.numbered[-1][1] = int_value(element.get(W_VAL))

    def _end_in_run_properties(self, element) -> None:
        """The run's own `w:vanish` or character style (not those of a tracked formatting change, nor of a
        paragraph mark)."""
        parent = element.getparent()
        if not _is_tag(parent, W_RPR) or not _is_tag(parent.getparent(), W_R):
            return
        if element.tag == W_R_STYLE:
            self.runs[-1][1] = element.get(W_VAL)
        else:
            self.runs[-1][0] = is_on(element.get(W_VAL)) or bool(self.runs[-1][0])

    def _hidden(self) -> bool:
        """Whether the run being read is hidden text: by its own `w:vanish`, else by its paragraph's style and
        its character style (each a toggle over the other)."""
        if not self.runs:
            return False
        vanish, character_style = self.runs[-1]
        if vanish is not None:
            return vanish
        if not self.numbering or not self.numbering.hiding:
            return False
        paragraph_style = (self.numbered[-1][2] if self.numbered else None) or self.numbering.default_style
        return (paragraph_style in self.numbering.hiding) != (character_style in self.numbering.hiding)

    def _end_in_section(self, element) -> None:
        """A section's header or footer reference, its title page, or its end (a section's properties changed
        by a tracked change are its old ones, not read)."""
        parent = element.getparent()
        if element.tag == W_SECT_PR:
            if not _is_tag(parent, W_SECT_PR_CHANGE):
                self.sections.append(self.section)
                self.section = _DocxSection()
        elif not _is_tag(parent, W_SECT_PR) or _is_tag(parent.getparent(), W_SECT_PR_CHANGE):
            return
        elif element.tag == W_TITLE_PG:
            self.section.title_page = is_on(element.get(W_VAL))
        else:
            page = element.get(W_TYPE) or "default"
            self.section.references[(DOCX_PAGE_PARTS[element.tag], page)] = element.get(_R + "id") or ""

    def _end_in_table(self, element) -> None:
        tag = element.tag
        if tag == W_GRID_SPAN and self.cell is not None:
            self.span = max(1, int_value(element.get(W_VAL)))
        elif tag == W_VMERGE and self.cell is not None:
            self.continued = element.get(W_VAL, "continue") == "continue"
        elif tag == W_TC and self.cell is not None:
            text = self.above.get(self.column, "") if self.continued else "\n".join(self.cell)
            self.rows[-1].append(text)
            self.row_columns[self.column] = text
            self.column += self.span
            self.cell = None
        elif tag == W_TR:
            self.above = self.row_columns


def _symbol(font: str | None, char: str | None) -> str:
    """A `w:sym`'s character: Unicode's for a symbol font's that `DOCX_SYMBOLS` knows, itself for another
    font's, nothing for the rest."""
    try:
        code = int(char or "", 16)
    except ValueError:
        return ""
    if 0xF000 <= code <= 0xF0FF or (font or "").lower() in DOCX_SYMBOLS:
        return DOCX_SYMBOLS.get((font or "").lower(), {}).get(code & 0xFF, "")
    return chr(code) if 0x20 <= code < 0xD800 or 0xE000 <= code <= 0x10FFFF else ""


def _is_tag(element, tag: str) -> bool:
    return element is not None and element.tag == tag


def _open_xlsx(content: bytes, *, computed: bool):
    """The workbook as openpyxl streams it, its cells' results (`computed`) or formulas; its links to other
    workbooks and DDE feeds are not read (Excel writes a DDE link without the relationships openpyxl
    expects)."""
    import openpyxl

    return openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=computed, keep_links=False)


def parse_xlsx(
    content: bytes,
    limits: IngestLimits,
    embedded_blocks: Callable[[bytes], list[tuple[str, object]]] | None = None,
    pictures: Callable[[bytes, int], list[tuple[str, object]]] | None = None,
) -> ParsedDocument:
    """Each sheet a page: `Sheet: name`, then its rows as a table, each cell as the sheet shows it
    (`_cell_text`), a formula whose result the file does not hold as the formula (`=SUM(B2:B4)`), then what
    it draws over its cells (`_SheetDrawings`: text boxes, charts, with `pictures` a picture's text, embedded
    objects; an object shown as an icon an attachment). A workbook none of whose cells or drawings holds
    anything has no text. A styles part openpyxl refuses (a style its writer got wrong) is left out: the cells
    are read without their formats."""
    check_archive_read(content, limits)
    try:
        workbook = _open_xlsx(content, computed=True)
    except (TypeError, ValueError):
        if _styles_readable(content):
            raise
        content = _rewritten(content, lambda name, data: None if name == XLSX_STYLES else data)
        workbook = _open_xlsx(content, computed=True)
    # The decimals of each cell style's percentage format (None: the style is no percentage).
    percents: dict[object, int | None] = {}
    # Where a formula's result is not in the file (a program wrote the formula without computing it), the
    # formula is what the cell holds: read from the workbook as written.
    written = _open_xlsx(content, computed=False) if _uncomputed_formulas(content) else None

    def cells(row, formulas) -> list[str]:
        texts = [_cell_text(cell.value, _percent_of(cell, percents)) for cell in row]
        for index, cell in enumerate(formulas or ()):
            value = getattr(cell, "value", None)
            if index < len(texts) and not texts[index] and isinstance(value, str) and value.startswith("="):
                texts[index] = value
        return texts

    def sheets() -> Iterator[tuple[str, Iterator[list[str]]]]:
        for name in names:
            sheet = workbook[name]
            title = sheet_title(name, hidden=sheet.sheet_state != "visible")
            if not hasattr(sheet, "iter_rows"):  # a chart sheet: its chart is what it draws
                yield title, iter(())
                continue
            sheet.reset_dimensions()
            formulas: Iterator = iter(())
            if written is not None:
                written[name].reset_dimensions()
                formulas = written[name].iter_rows()
            yield title, (cells(row, next(formulas, None)) for row in sheet.iter_rows())

    names = workbook.sheetnames
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        drawings = _SheetDrawings(archive, limits, embedded_blocks, pictures)
        parts = _sheet_parts(archive, drawings.names)
        try:
            parsed = _workbook(
                sheets(), limits, lambda index: drawings.blocks(parts.get(names[index], ""), index + 1)
            )
        finally:
            workbook.close()
            if written is not None:
                written.close()
    parsed.attachments = drawings.attachments
    return parsed


# What a worksheet draws over its cells: its drawing (text boxes, charts) and the objects it embeds.
XLSX_RELATED = ("drawing", "chart", "package", "oleObject")
DGM_REL_IDS = "{http://schemas.openxmlformats.org/drawingml/2006/diagram}relIds"
_XDR = "{http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing}"
XDR_ANCHORS = tuple(_XDR + name for name in ("twoCellAnchor", "oneCellAnchor", "absoluteAnchor"))
X_OLE_OBJECT = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}oleObject"
X_SHEET = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}sheet"
MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"


def _sheet_parts(archive: zipfile.ZipFile, names: set[str]) -> dict[str, str]:
    """Each sheet's part (a worksheet's or a chart sheet's), by its name, as the workbook's relationships name
    it."""
    rels = _rels_of(sniffing.XLSX_WORKBOOK)
    if sniffing.XLSX_WORKBOOK not in names or rels not in names:
        return {}
    targets = _relationships(archive, rels, ("worksheet", "chartsheet"))
    return {
        sheet.get("name") or "": targets.get(sheet.get(_R + "id") or "", ("", ""))[1]
        for sheet in parse_xml(archive.read(sniffing.XLSX_WORKBOOK)).iter(X_SHEET)
    }


class _SheetDrawings:
    """What each worksheet of an XLSX draws over its cells, as blocks: its drawing's text boxes and shapes'
    text (`xdr:txBody`), charts (`chart_blocks`), SmartArt (`diagram_text`) and, with `pictures`, its pictures'
    text (given the sheet's page), anchor by anchor from the top left, then the objects the sheet embeds, in
    order: one shown as its content read where it stands (with `embedded_blocks`), one
    shown as an icon, or a file an object wraps, kept in `attachments` (`_RelatedBlocks.embedded`)."""

    def __init__(
        self,
        archive: zipfile.ZipFile,
        limits: IngestLimits,
        embedded_blocks: Callable[[bytes], list[tuple[str, object]]] | None,
        pictures: Callable[[bytes, int], list[tuple[str, object]]] | None = None,
    ) -> None:
        self.archive, self.limits, self.embedded_blocks = archive, limits, embedded_blocks
        self.pictures = pictures
        self.names = set(archive.namelist())
        self.attachments: list[Attachment] = []

    def blocks(self, sheet: str, page: int) -> list[tuple[str, object]]:
        rels = _rels_of(sheet)
        if not sheet or rels not in self.names:
            return []
        targets = _relationships(self.archive, rels, XLSX_RELATED)
        blocks = []
        for kind, part in targets.values():
            if kind == "drawing" and part in self.names:
                blocks.extend(self._drawing(part, page))
        if any(kind in ("package", "oleObject") for kind, _ in targets.values()):
            related = self._related(targets)
            for rid, icon in _sheet_objects(self.archive, sheet):
                blocks.extend(related.embedded(rid, icon=icon))
        return blocks

    def _related(self, targets: dict[str, tuple[str, str]]) -> _RelatedBlocks:
        return _RelatedBlocks(
            self.archive, self.names, targets, self.limits, None, self.embedded_blocks, self.attachments
        )

    def _drawing(self, part: str, page: int) -> list[tuple[str, object]]:
        self.limits.check_time()
        root = parse_xml(self.archive.read(part))
        rels = _rels_of(part)
        kinds = ("chart", "diagramData", "image")
        targets = _relationships(self.archive, rels, kinds) if rels in self.names else {}
        related = self._related(targets)
        blocks: list[tuple[str, object]] = []
        for anchor in sorted(root.iterchildren(*XDR_ANCHORS), key=_anchor_position):
            for element in anchor.iter(_XDR + "txBody", C_CHART, DGM_REL_IDS, A_BLIP):
                if any(ancestor.tag == MC_FALLBACK for ancestor in element.iterancestors()):
                    continue
                if element.tag == A_BLIP:
                    kind, image = targets.get(element.get(_R + "embed") or "", ("", ""))
                    if self.pictures is not None and kind == "image" and image in self.names:
                        blocks.extend(self.pictures(self.archive.read(image), page))
                    continue
                if element.tag == C_CHART:
                    blocks.extend(related(element.get(_R + "id")))
                    continue
                if element.tag == DGM_REL_IDS:
                    kind, data = targets.get(element.get(_R + "dm") or "", ("", ""))
                    if kind == "diagramData" and data in self.names:
                        text = diagram_text(parse_xml(self.archive.read(data)))
                        blocks.extend([("text", text)] if text.strip() else [])
                    continue
                text = "\n".join("".join(_chart_runs(paragraph)) for paragraph in element.iter(_A + "p"))
                if text.strip():
                    blocks.append(("text", text))
        return blocks


def _anchor_position(anchor) -> tuple[int, int]:
    """Where an anchor's drawing starts: its top-left cell's row and column (an absolute anchor first)."""
    start = anchor.find(_XDR + "from")
    if start is None:
        return (0, 0)
    return int_value(start.findtext(_XDR + "row")), int_value(start.findtext(_XDR + "col"))


def _sheet_objects(archive: zipfile.ZipFile, sheet: str) -> list[tuple[str, bool]]:
    """The objects a worksheet embeds (`oleObject`, each once: Excel writes one twice, for newer and older
    readers), in order: its relationship id and whether it is shown as an icon."""
    from lxml import etree

    found: dict[str, bool] = {}
    with archive.open(sheet) as xml:
        for _, element in etree.iterparse(xml, events=("end",), tag=X_OLE_OBJECT, **XML_SAFE):
            rid = element.get(_R + "id")
            if rid:
                found.setdefault(rid, element.get("dvAspect") == "DVASPECT_ICON")
    return list(found.items())


# A cell holding a formula and no value (`<c><f>SUM(A1:A2)</f><v></v></c>`), as openpyxl and other programs that
# do not compute write one.
XLSX_UNCOMPUTED = re.compile(
    rb"<(?:\w+:)?c\b[^>]*>\s*<(?:\w+:)?f\b[^>]*(?:/>|>[^<]*</(?:\w+:)?f>)\s*"
    rb"(?:<(?:\w+:)?v\s*/>|<(?:\w+:)?v>\s*</(?:\w+:)?v>)?\s*</(?:\w+:)?c>"
)


# The blocks a sheet is scanned in, and what of each block is scanned again with the next: more than any one cell
# (a formula holds at most 8,192 characters).
XLSX_SCAN_BLOCK, XLSX_SCAN_OVERLAP = 1 << 20, 1 << 16


def _uncomputed_formulas(content: bytes) -> bool:
    """Whether a sheet of the workbook holds a formula without its result, each sheet scanned in blocks as it
    inflates, never whole."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for name in archive.namelist():
            if not (name.startswith("xl/worksheets/") and name.endswith(".xml")):
                continue
            with archive.open(name) as part:
                tail = b""
                while block := part.read(XLSX_SCAN_BLOCK):
                    if XLSX_UNCOMPUTED.search(tail + block):
                        return True
                    tail = block[-XLSX_SCAN_OVERLAP:]
    return False


XLSX_STYLES = "xl/styles.xml"


def _styles_readable(content: bytes) -> bool:
    """Whether openpyxl reads the workbook's styles part (or it has none)."""
    from openpyxl.styles.stylesheet import Stylesheet

    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        if XLSX_STYLES not in archive.namelist():
            return True
        styles = parse_xml(archive.read(XLSX_STYLES))
    try:
        Stylesheet.from_tree(styles)
    except (TypeError, ValueError):
        return False
    return True


def _rewritten(
    content: bytes, rewrite: Callable[[str, bytes], bytes | None], renames: dict[str, str] | None = None
) -> bytes:
    """The archive with each member's bytes as `rewrite(name, bytes)` gives them, one it gives None for left
    out, and the members `renames` names under their new names."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(content)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as copy,
    ):
        for info in source.infolist():
            data = rewrite(info.filename, source.read(info))
            if data is not None:
                if renames and info.filename in renames:
                    info.filename = renames[info.filename]
                copy.writestr(info, data)
    return out.getvalue()


def parse_ods(
    content: bytes,
    limits: IngestLimits,
    pictures: Callable[[bytes, int], list[tuple[str, object]]] | None = None,
) -> ParsedDocument:
    """An OpenDocument spreadsheet (.ods) as an XLSX is read: each sheet a page, `Sheet: name`, then its rows
    as a table, each cell as the text it shows, then what it draws (`odt.ods_sheets`; with `pictures` a
    picture's text); a hidden sheet marked so (`sheet_title`). A spreadsheet none of whose cells or drawings
    holds anything has no text."""
    drawn: list[list[tuple[str, object]]] = []

    def sheets() -> Iterator[tuple[str, Iterator[list[str]]]]:
        for sheet in ods_sheets(content, limits, pictures):
            drawn.append(sheet.drawn)
            yield sheet_title(sheet.name, hidden=sheet.hidden), sheet.rows

    return _workbook(sheets(), limits, lambda index: drawn[index])


def parse_xls(
    content: bytes,
    limits: IngestLimits,
    *,
    objects: bool = True,
    pictures: Callable[[bytes, int], list[tuple[str, object]]] | None = None,
) -> ParsedDocument:
    """An Excel 97-2003 workbook (`.xls`, BIFF, read by xlrd) as `parse_xlsx` reads a workbook: each sheet a
    page, each cell as the sheet shows it, a date in ISO 8601 and a percentage with its `%` by its format, then
    its text boxes' and shapes' text and, with `pictures`, its pictures' (`_xls_drawings`). A row's blank cells past its last value are never
    read: a few bytes of BIFF (MULBLANK) format a whole sheet's 16 million cells. With `objects`, the files
    the workbook embeds (its `MBD...` storages) are attachments: whether one is shown as its icon is not
    read."""
    import olefile
    import xlrd

    try:
        book = xlrd.open_workbook(
            file_contents=content,
            formatting_info=True,
            on_demand=True,
            ragged_rows=True,
            logfile=io.StringIO(),
        )
    except _xls_damage() as exc:
        raise UnreadableDocument(_xls_reason(exc)) from None
    percents: dict[int, int | None] = {}

    def value(cell) -> str:
        if cell.ctype == xlrd.XL_CELL_DATE:
            try:
                return _cell_text(xlrd.xldate.xldate_as_datetime(cell.value, book.datemode))
            except (ValueError, OverflowError, xlrd.xldate.XLDateError):
                return _cell_text(cell.value)
        if cell.ctype == xlrd.XL_CELL_ERROR:
            return xlrd.error_text_from_code.get(cell.value, "#ERROR")
        if cell.ctype == xlrd.XL_CELL_BOOLEAN:
            return _cell_text(bool(cell.value))
        if cell.ctype == xlrd.XL_CELL_NUMBER:
            if cell.xf_index not in percents:
                key = book.xf_list[cell.xf_index].format_key if cell.xf_index < len(book.xf_list) else None
                found = book.format_map.get(key)
                percents[cell.xf_index] = _percent_decimals(found.format_str if found else None)
            return _cell_text(cell.value, percents[cell.xf_index])
        return _cell_text(cell.value or None)

    def cells(sheet, row: int) -> list[str]:
        types = sheet.row_types(row)
        end = len(types.tobytes().rstrip(XLS_BLANK_TYPES))
        return [value(sheet.cell(row, column)) for column in range(end)]

    def sheets() -> Iterator[tuple[str, Iterator[list[str]]]]:
        for index in range(book.nsheets):
            try:
                sheet = book.sheet_by_index(index)
            except _xls_damage() as exc:
                raise UnreadableDocument(_xls_reason(exc)) from None
            yield (
                sheet_title(sheet.name, hidden=sheet.visibility != 0),
                (cells(sheet, row) for row in range(sheet.nrows)),
            )
            book.unload_sheet(index)

    with olefile.OleFileIO(io.BytesIO(content)) as ole:
        drawn, group = (
            _xls_drawings(ole.openstream(XLS_STREAM).read()) if ole.exists(XLS_STREAM) else ({}, b"")
        )
        attachments: list[Attachment] = []
        storages = ole.listdir(streams=False, storages=True) if objects else []
        for storage in sorted(path[0] for path in storages if len(path) == 1):
            if storage.startswith(XLS_OBJECT_PREFIX):
                name, data, _ = embedded_file(storage_file(ole, [storage]))
                attach(attachments, limits, name, data, part=storage)
    names = book.sheet_names()
    store = blip_store(group) if pictures else []

    def blocks(index: int) -> list[tuple[str, object]]:
        found: list[tuple[str, object]] = []
        for kind, value in drawn.get(names[index], []):
            if kind == "text":
                found.append((kind, value))
            elif pictures is not None and isinstance(value, int) and 0 < value <= len(store):
                bitmap = fbse_bitmap(group, *store[value - 1])
                found.extend(pictures(bitmap, index + 1) if bitmap is not None else [])
        return found

    try:
        parsed = _workbook(sheets(), limits, blocks)
    finally:
        book.release_resources()
    parsed.attachments = attachments
    return parsed


# The BIFF8 stream of an .xls, the records its text boxes are read from, and the storages of its objects.
XLS_STREAM = "Workbook"
BIFF_BOF, BIFF_BOUNDSHEET, BIFF_OBJ, BIFF_TXO, BIFF_CONTINUE = 0x0809, 0x0085, 0x005D, 0x01B6, 0x003C
BIFF_DRAWING_GROUP, BIFF_DRAWING = 0x00EB, 0x00EC
BIFF8 = 0x0600
OBJ_NOTE = 0x19
XLS_OBJECT_PREFIX = "MBD"


def _xls_drawings(stream: bytes) -> tuple[dict[str, list[tuple[str, object]]], bytes]:
    """What each sheet draws, in order, by the sheet whose substream holds it (the BOUNDSHEET record naming the
    substream's offset): ("text", a text box's or shape's text: a TXO record's characters, its count at offset
    10, in the CONTINUE records after it, each opening with whether its characters are two bytes; a cell's note,
    an OBJ of type 0x19 before it, left out) and ("picture", the index of its blip in the blip store from 1,
    named by a shape's properties in the sheet's MSODRAWING records); and the workbook's drawing group
    (MSODRAWINGGROUP and the CONTINUE records after it), which holds the blip store. None for a workbook older
    than BIFF8."""
    names: dict[int, str] = {}
    found: dict[str, list[tuple[str, object]]] = {}
    group = bytearray()
    sheet, shape, wanted, parts, grouping = None, None, 0, [], False
    position = 0
    while position + 4 <= len(stream):
        kind, length = struct.unpack_from("<HH", stream, position)
        start, position = position + 4, position + 4 + length
        if grouping and kind == BIFF_CONTINUE:
            group += stream[start:position]
            continue
        grouping = False
        if wanted and kind == BIFF_CONTINUE and length:
            double = stream[start] & 1
            chunk = stream[start + 1 : position].decode(
                "utf-16-le" if double else "latin-1", errors="replace"
            )
            parts.append(chunk[:wanted])
            wanted -= len(parts[-1])
            if wanted <= 0 and sheet is not None:
                text = "".join(parts).replace("\r\n", "\n").replace("\r", "\n")
                found.setdefault(sheet, []).append(("text", text))
            continue
        wanted = 0
        if kind == BIFF_DRAWING_GROUP:
            group += stream[start:position]
            grouping = True
        elif kind == BIFF_DRAWING and sheet is not None:
            drawing = stream[start:position]
            for atom, instance, body, end in atoms(drawing):
                blip = picture_index(drawing, body, end, instance) if atom == OPTIONS else 0
                if blip:
                    found.setdefault(sheet, []).append(("picture", blip))
        elif kind == BIFF_BOF:
            if start == 4 and struct.unpack_from("<H", stream, start)[0] != BIFF8:
                return {}, b""
            sheet = names.get(start - 4)
        elif kind == BIFF_BOUNDSHEET and length >= 8:
            (offset,) = struct.unpack_from("<I", stream, start)
            count, double = stream[start + 6], stream[start + 7] & 1
            raw = stream[start + 8 : start + 8 + count * (2 if double else 1)]
            names[offset] = raw.decode("utf-16-le" if double else "latin-1", errors="replace")
        elif kind == BIFF_OBJ and length >= 6:
            (shape,) = struct.unpack_from("<H", stream, start + 4)
        elif kind == BIFF_TXO and length >= 12 and shape != OBJ_NOTE:
            (wanted,) = struct.unpack_from("<H", stream, start + 10)
            parts = []
    return found, bytes(group)


def _xls_damage() -> tuple[type[BaseException], ...]:
    """What xlrd raises on a workbook it cannot read: its own errors, and those of the checks and reads it
    makes."""
    import xlrd
    from xlrd.compdoc import CompDocError
    from xlrd.formula import FormulaError

    return (
        xlrd.XLRDError,
        CompDocError,
        FormulaError,
        AssertionError,
        IndexError,
        struct.error,
        UnicodeDecodeError,
    )


# xlrd's cell types that hold nothing: empty (0) and blank, formatted only (6).
XLS_BLANK_TYPES = bytes([0, 6])


def _xls_reason(exc: BaseException) -> str:
    if "encrypted" in str(exc):
        return "the workbook is encrypted with a password; send it without the password"
    return f"the workbook is damaged: {str(exc) or type(exc).__name__}"


def sheet_title(name: str, *, hidden: bool) -> str:
    """The title a sheet's page opens with (`Sheet: title`): its name, and whether the workbook hides it (where
    sensitive figures are often kept: it is read like any other sheet)."""
    return f"{name} (hidden)" if hidden else name


def _workbook(
    sheets: Iterator[tuple[str, Iterator[list[str]]]],
    limits: IngestLimits,
    drawn: Callable[[int], list[tuple[str, object]]] | None = None,
) -> ParsedDocument:
    """Each sheet a page: `Sheet: name`, then its rows (cells as text) as a table, a row's trailing empty cells
    left out, then what `drawn(index)` gives of what the sheet draws over its cells. A workbook none of whose
    cells or drawings holds anything has no text."""
    builder = TextBuilder(limits)
    filled = False
    for index, (title, sheet_rows) in enumerate(sheets):
        builder.new_page()
        builder.add(f"Sheet: {title}")
        rows, chars = [], 0
        for cells in sheet_rows:
            limits.check_time()
            while cells and not cells[-1]:
                cells.pop()
            chars += sum(len(cell) + 3 for cell in cells)
            check_text(builder.length + chars, limits)
            rows.append(cells)
            filled = filled or any(cell.strip() for cell in cells)
        builder.table(rows)
        blocks = drawn(index) if drawn is not None else []
        add_blocks(builder, blocks)
        filled = filled or bool(blocks)
    return builder.build() if filled else ParsedDocument("")


# Excel shows a number to 15 significant digits: 2/3 as 0.666666666666667, 0.1 + 0.2 as 0.3.
EXCEL_DIGITS = 15
_QUOTED_OR_ESCAPED = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]')
_DECIMALS = re.compile(r"\.([0#?]+)")


def _percent_of(cell, percents: dict[object, int | None]) -> int | None:
    """The decimals a number cell's percentage format shows, looked up once per cell style; None for any other
    cell, and for one whose style the workbook does not hold or that names none (`s=""`)."""
    if not isinstance(cell.value, int | float) or isinstance(cell.value, bool):
        return None
    style = getattr(cell, "_style_id", None)
    if style not in percents:
        try:
            number_format = getattr(cell, "number_format", None)
        except (IndexError, TypeError):
            number_format = None
        percents[style] = _percent_decimals(number_format)
    return percents[style]


def _cell_text(value: object, percent: int | None = None) -> str:
    """A cell's value as the sheet shows it: a number to Excel's 15 significant digits, one formatted as a
    percentage (`0.0%`, `percent` its decimals) with its `%` and decimals, a date (its time only where it has
    one) in ISO 8601."""
    if value is None:
        return ""
    if percent is not None and isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value * 100:.{percent}f}%"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**1023:
        return str(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer():
        if abs(value) < 10**EXCEL_DIGITS:
            return str(int(value))
        # Past 15 digits a sheet holds a double, and shows no digit beyond the 15th.
        return format(decimal.Decimal(format(float(value), f".{EXCEL_DIGITS}g")), "f")
    if isinstance(value, float):
        return format(value, f".{EXCEL_DIGITS}g")
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        return value.date().isoformat()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def _percent_decimals(number_format: str | None) -> int | None:
    """The decimals a percentage format shows (`0.00%`: 2), of its first section; None for another format."""
    if not number_format or "%" not in number_format:
        return None
    section = _QUOTED_OR_ESCAPED.sub("", number_format.split(";")[0])
    if "%" not in section:
        return None
    decimals = _DECIMALS.search(section)
    return len(decimals.group(1)) if decimals else 0


def parse_pptx(
    content: bytes,
    limits: IngestLimits,
    embedded_blocks: Callable[[bytes], list[tuple[str, object]]] | None = None,
    pictures: Callable[[bytes, int], list[tuple[str, object]]] | None = None,
) -> ParsedDocument:
    """Each slide a page: its shapes top to bottom (tables, charts, SmartArt, an object embedded and shown as
    its content read with `embedded_blocks`, with `pictures` a picture's text), then the text its layout and
    master add to it (`_behind`), then its notes; an object shown as an icon is an attachment."""
    check_archive_read(content, limits)
    presentation = _presentation(content)
    builder = TextBuilder(limits)
    embedded = _SlideObjects(limits, embedded_blocks, pictures)
    read_behind: set[str] = set()
    for slide in presentation.slides:
        limits.check_time()
        builder.new_page()
        _add_shapes(builder, slide.shapes, embedded)
        for behind in _behind(slide):
            if behind.part.partname not in read_behind:
                read_behind.add(behind.part.partname)
                _add_shapes(builder, [s for s in behind.shapes if not s.is_placeholder], embedded)
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            if notes is not None and notes.text.strip():
                builder.add(f"Notes: {notes.text}")
    parsed = builder.build()
    parsed.attachments = embedded.attachments
    return parsed


def _behind(slide) -> list:
    """The layout and master whose own shapes (a "Confidential" text box, a logo) show behind the slide: both,
    unless the slide hides its master's shapes (`showMasterSp="0"`), and the master only where its layout does
    not hide them either. Their text is read once, on the first slide that shows it."""
    if not is_on(slide.element.get("showMasterSp")):
        return []
    layout = slide.slide_layout
    return [layout, layout.slide_master] if is_on(layout.element.get("showMasterSp")) else [layout]


class _SlideObjects:
    """The objects a deck embeds: one shown as its content read as blocks (`embedded_blocks`), one shown as
    an icon, or a file an object wraps, kept as an attachment (named as the object names it, else by its
    part); and its pictures' text (`pictures`, given the slide's page)."""

    def __init__(
        self,
        limits: IngestLimits,
        embedded_blocks: Callable[[bytes], list[tuple[str, object]]] | None,
        pictures: Callable[[bytes, int], list[tuple[str, object]]] | None = None,
    ) -> None:
        self.limits, self.embedded_blocks, self.pictures = limits, embedded_blocks, pictures
        self.attachments: list[Attachment] = []

    def picture(self, builder: TextBuilder, shape) -> None:
        """A picture's text (with `pictures`); a linked picture, or one whose fill names no picture or is left
        out, has none."""
        from pptx.exc import InvalidXmlError

        if self.pictures is None:
            return
        self.limits.check_time()
        try:
            blob = shape.image.blob
        except (ValueError, KeyError, InvalidXmlError):
            return
        add_blocks(builder, self.pictures(blob, builder.page))

    def add(self, builder: TextBuilder, shape) -> None:
        blob = shape.ole_format.blob if self.embedded_blocks is not None else None
        if not blob:
            return
        part = shape.part.related_part(shape._graphicFrame.graphicData.blob_rId).partname
        blocks = _object_blocks(
            blob, shape.ole_format.show_as_icon, part, self.attachments, self.limits, self.embedded_blocks
        )
        add_blocks(builder, blocks)


# The main parts of a macro-enabled slide show and template, which python-pptx leaves unmapped (it maps a plain
# and a macro-enabled presentation's, a slide show's and a template's).
PPTX_MACRO_MAIN = (
    "application/vnd.ms-powerpoint.slideshow.macroEnabled.main+xml",
    "application/vnd.ms-powerpoint.template.macroEnabled.main+xml",
)


def _presentation(content: bytes):
    """The deck of a presentation, slide show (`.ppsx`, `.ppsm`) or template (`.potx`, `.potm`), whatever its
    name says: python-pptx's `Presentation()` takes only the first two kinds."""
    from pptx.opc.package import PartFactory
    from pptx.package import Package
    from pptx.parts.presentation import PresentationPart

    for content_type in PPTX_MACRO_MAIN:
        PartFactory.part_type_for.setdefault(content_type, PresentationPart)
    part = Package.open(io.BytesIO(content)).main_document_part
    if not isinstance(part, PresentationPart):
        raise UnreadableDocument(f"the package's main part is not a presentation but {part.content_type}")
    return part.presentation


def _add_shapes(builder: TextBuilder, shapes, embedded: _SlideObjects) -> None:
    from pptx.enum.shapes import MSO_SHAPE_TYPE
    from pptx.shapes.graphfrm import GraphicFrame
    from pptx.shapes.group import GroupShape
    from pptx.shapes.picture import Picture

    for shape in sorted(shapes, key=lambda s: ((s.top or 0), (s.left or 0))):
        if isinstance(shape, GroupShape):
            _add_shapes(builder, shape.shapes, embedded)
        elif isinstance(shape, Picture):
            embedded.picture(builder, shape)
        elif isinstance(shape, GraphicFrame) and shape.shape_type == MSO_SHAPE_TYPE.EMBEDDED_OLE_OBJECT:
            embedded.add(builder, shape)
        elif getattr(shape, "has_table", False) and shape.has_table:
            builder.table([[cell.text for cell in row.cells] for row in shape.table.rows])
        elif getattr(shape, "has_chart", False) and shape.has_chart:
            _add_chart(builder, shape.chart)
        elif shape.has_text_frame:
            builder.add("\n".join(paragraph.text for paragraph in shape.text_frame.paragraphs))
        elif (diagram := _diagram_text(shape)) is not None:
            builder.add(diagram)


def _add_chart(builder: TextBuilder, chart) -> None:
    add_blocks(builder, chart_blocks(chart._chartSpace))


def chart_blocks(chart_space) -> list[tuple[str, object]]:
    """A chart part's title (where it has one of its own), then its data as a table: a column per series under
    its name and a row per category (a chart of categories), else a row per series of its values (a scatter
    or bubble chart)."""
    blocks: list[tuple[str, object]] = []
    title = chart_space.find(f"{_C}chart/{_C}title/{_C}tx")
    if title is not None:
        paragraphs = ["".join(_chart_runs(paragraph)) for paragraph in title.iter(_A + "p")]
        text = "\n".join(paragraphs) or "".join(value.text or "" for value in title.iter(_C + "v"))
        if text.strip():
            blocks.append(("text", text))
    categories, series = chart_data(chart_space)
    if categories:
        rows = [["", *(name for name, _ in series)]]
        for index, category in enumerate(categories):
            values = [values[index] if index < len(values) else None for _, values in series]
            rows.append([category or "", *(_cell_text(value) for value in values)])
    else:
        rows = [[name, *(_cell_text(value) for value in values)] for name, values in series]
    if rows:
        blocks.append(("table", rows))
    return blocks


def _chart_runs(paragraph) -> Iterator[str]:
    for element in paragraph.iter(_A + "t", _A + "br"):
        yield (element.text or "") if element.tag == _A + "t" else "\n"


_C = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"


def chart_data(chart_space) -> tuple[list[str | None], list[tuple[str, list[float | str | None]]]]:
    """A chart part's categories (the first series' that has any; a multi-level axis's innermost level) and
    its series in order, each its name and its cached values (a scatter or bubble series its y values), read
    from the part's own caches, so every plot type reads alike: bar, line, pie, area, radar, surface, stock,
    their 3-D forms and any other."""
    categories: list[str | None] = []
    series = []
    for plot in chart_space.iterfind(f"{_C}chart/{_C}plotArea/*"):
        for ser in plot.iterfind(_C + "ser"):
            name = "".join(value.text or "" for value in ser.iterfind(f"{_C}tx//{_C}v"))
            values = _chart_points(ser.find(_C + "val"))
            if not values:
                values = _chart_points(ser.find(_C + "yVal"))
            series.append((name, [_chart_number(value) for value in values]))
            if not categories:
                categories = _chart_points(ser.find(_C + "cat"))
    return categories, series


def _chart_points(element) -> list[str | None]:
    """The cached points of a series' categories or values by their index (None where a point is missing)."""
    if element is None:
        return []
    cache = next(
        element.iter(_C + "lvl", _C + "strCache", _C + "numCache", _C + "strLit", _C + "numLit"), None
    )
    if cache is None:
        return []
    points = {}
    for point in cache.iterfind(_C + "pt"):
        index = int_value(point.get("idx"))
        if 0 <= index < MAX_CHART_POINTS:
            points[index] = point.findtext(_C + "v")
    return [points.get(index) for index in range(max(points, default=-1) + 1)]


# A point index past this is damage, not data: Excel's charts hold at most 1,048,576 points a series.
MAX_CHART_POINTS = 1 << 20


def _chart_number(value: str | None) -> float | str | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return value


PPTX_DIAGRAM = "http://schemas.openxmlformats.org/drawingml/2006/diagram"
_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
# A SmartArt diagram's points that are not its text: the diagram itself, its presentation and connectors.
PPTX_DIAGRAM_SKIPPED = {"doc", "pres", "parTrans", "sibTrans"}


def _diagram_text(shape) -> str | None:
    """A SmartArt diagram's text (its data part's nodes in order, a line a paragraph), or None for any other
    shape or a diagram whose data part is missing."""
    relations = shape._element.xpath(
        f".//a:graphicData[@uri='{PPTX_DIAGRAM}']/*[local-name()='relIds']/@*[local-name()='dm']"
    )
    if not relations:
        return None
    try:
        blob = shape.part.related_part(relations[0]).blob
    except KeyError:
        return None
    return diagram_text(parse_xml(blob))


def diagram_text(data) -> str:
    """A SmartArt diagram's data part's text: its nodes in order, a line a paragraph."""
    lines = []
    for point in data.iter(f"{{{PPTX_DIAGRAM}}}pt"):
        if point.get("type") in PPTX_DIAGRAM_SKIPPED:
            continue
        for paragraph in point.iter(_A + "p"):
            lines.append("".join(text.text or "" for text in paragraph.iter(_A + "t")))
    return "\n".join(lines)


def parse_eml(
    content: bytes, limits: IngestLimits, html_blocks: Callable[[str], list[tuple[str, object]]]
) -> ParsedDocument:
    import email
    import email.policy

    message = email.message_from_bytes(sniffing.mail_start(content), policy=email.policy.default)
    bodies: list[tuple[str, str]] = []
    wrapped: list[tuple[str, str]] = []
    attachments: list[Attachment] = []
    _mail_parts(message, limits, bodies, attachments, wrapped)
    if not any(text.strip() for _, text in bodies):
        bodies += wrapped
    blocks: list[tuple[str, object]] = []
    for content_type, text in bodies:
        blocks += html_blocks(text) if content_type == "text/html" else [("text", text)]
    headers = {name: str(message[name]) for name in MAIL_HEADERS if message[name]}
    return _mail(limits, headers, blocks, attachments)


def _mail_parts(
    part,
    limits: IngestLimits,
    bodies: list[tuple[str, str]],
    attachments: list[Attachment],
    wrapped: list[tuple[str, str]],
) -> None:
    """Every leaf of the MIME tree under `part` in order: a plain or HTML part with no filename and not
    marked as an attachment joins `bodies` as (content type, text) (of a multipart/alternative, only its
    richest part is read); a signature is left out, and so is a picture the body shows (`sent_file`); Outlook's wrapper (`winmail.dat`) gives its files as
    attachments and its body to `wrapped`; any other leaf with bytes (a forwarded message whole) is an
    attachment."""
    limits.check_time()
    content_type = part.get_content_type()
    if content_type in MAIL_SIGNATURES:
        return
    if part.get_content_maintype() == "multipart":
        parts = list(part.iter_parts())
        if part.get_content_subtype() == "alternative" and parts:
            parts = [min(parts, key=_body_rank)]
        for inner in parts:
            _mail_parts(inner, limits, bodies, attachments, wrapped)
    elif content_type in MAIL_BODIES and not part.is_attachment() and not part.get_filename():
        bodies.append((content_type, _body_text(part)))
    else:
        name = part.get_filename()
        if content_type == "message/rfc822":
            inner = part.get_content()
            data = inner.as_bytes() if hasattr(inner, "as_bytes") else bytes(inner)
            if not name:
                name = forwarded_file_name(str(inner.get("Subject") or "") if hasattr(inner, "get") else "")
        else:
            data = part.get_payload(decode=True) or b""
        tnef = content_type in MAIL_TNEF or (part.get_filename() or "").lower() == "winmail.dat"
        if tnef and _tnef_parts(data, limits, attachments, wrapped):
            return
        inline = part.get_content_disposition() != "attachment" and part["Content-ID"] is not None
        if sent_file(data, inline=inline):
            attachments.append(Attachment(name or "attachment", data))


def sent_file(data: bytes, *, inline: bool) -> bool:
    """Whether a part's bytes are a file sent with the message: not where it is a picture the body shows
    (`inline`: referenced by its Content-ID, or hidden from the attachments, as Outlook marks a signature's
    logo)."""
    return bool(data) and not (inline and sniffing.image_type(data) is not None)


def _tnef_parts(
    data: bytes, limits: IngestLimits, attachments: list[Attachment], wrapped: list[tuple[str, str]]
) -> bool:
    """The files in a TNEF wrapper (Outlook's rich-text mail, sent as `winmail.dat`) as attachments, a
    message embedded in it read the same way, and its body as (content type, text) in `wrapped`: the HTML one
    where it has one, else the plain one, else the HTML its RTF body carries. False, with nothing added, for
    bytes that are not TNEF it can read (a checksum that fails: the wrapper was cut short or damaged) or that
    hold neither files nor a body, which stay the attachment they are."""
    from tnefparse import TNEF

    try:
        tnef = TNEF(data, do_checksum=True)
        files = [(_tnef_text(a.long_filename()) or "attachment", a.data) for a in tnef.attachments]
        body = _tnef_body(tnef)
    except Exception:  # the decoder raises any error on a damaged wrapper
        return False
    if not all(part.good_checksum for part in tnef.objects) or not (files or body):
        return False
    for name, content in files:
        limits.check_time()
        if not (isinstance(content, bytes) and content):
            continue
        if not content.startswith(TNEF_SIGNATURE) or not _tnef_parts(content, limits, attachments, wrapped):
            attachments.append(Attachment(name, content))
    if body is not None:
        wrapped.append(body)
    return True


def _tnef_text(value: object) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    if isinstance(value, bytes):
        value = sniffing.decoded_text(value) or value.decode("latin-1")
    return str(value or "").strip("\x00").strip()


def _tnef_body(tnef) -> tuple[str, str] | None:
    if html := _tnef_text(tnef.htmlbody):
        return "text/html", html
    if text := _tnef_text(tnef.body):
        return "text/plain", text
    if tnef.rtfbody and (html := rtf_html(tnef.rtfbody)):
        return "text/html", _html_text(html)
    return None


def _body_rank(part) -> int:
    """How well an alternative part gives the body: HTML (or a multipart holding it) before plain text."""
    if part.get_content_maintype() == "multipart":
        return min((_body_rank(inner) for inner in part.iter_parts()), default=len(MAIL_BODIES))
    content_type = part.get_content_type()
    return MAIL_BODIES.index(content_type) if content_type in MAIL_BODIES else len(MAIL_BODIES)


def _body_text(body) -> str:
    """The body part's text: in its declared charset where its bytes are text in it; else (no charset,
    US-ASCII, one Python does not know such as `unknown-8bit`, or bytes the charset does not name, as mailers
    send) by the rule text uploads are read by (`sniffing.decoded_text`: UTF-8, else Windows-1252), an HTML
    part first in the charset its `<meta>` declares (`sniffing.decoded_html`); else Latin-1, which takes any
    byte."""
    payload = body.get_payload(decode=True) or b""
    charset = body.get_content_charset()
    if charset and charset not in MAIL_ASCII:
        try:
            return payload.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    if body.get_content_type() == "text/html":
        text = sniffing.decoded_html(payload)
    else:
        text = sniffing.decoded_text(payload)
    return text if text is not None else payload.decode("latin-1")


def parse_msg(
    content: bytes, limits: IngestLimits, html_blocks: Callable[[str], list[tuple[str, object]]]
) -> ParsedDocument:
    """An Outlook message as an e-mail: its headers, then its body: the HTML one (`PR_HTML`) where it has one,
    paragraphs and tables as rows of cells, as of an e-mail's alternative parts; else the plain one; else the
    HTML its RTF body carries (what Outlook keeps of a message written in HTML)."""
    import extract_msg
    from extract_msg.enums import ErrorBehavior

    # An RTF body that is malformed gives no body rather than failing the message.
    message = extract_msg.openMsg(content, strict=False, errorBehavior=ErrorBehavior.RTFDE_MALFORMED)
    try:
        headers = {
            "From": getattr(message, "sender", None),
            "To": getattr(message, "to", None),
            "Cc": getattr(message, "cc", None),
            "Date": getattr(message, "date", None),
            "Subject": getattr(message, "subject", None) or message.getStringStream(MSG_SUBJECT),
        }
        attachments = []
        for attachment in getattr(message, "attachments", []):
            limits.check_time()
            data = attachment.data
            name = getattr(attachment, "longFilename", None) or getattr(attachment, "shortFilename", None)
            if hasattr(data, "exportBytes"):
                data = data.exportBytes()
            inline = getattr(attachment, "hidden", False) or getattr(attachment, "cid", None)
            if isinstance(data, bytes) and sent_file(data, inline=bool(inline)):
                attachments.append(Attachment(name or "attachment", data))
        limits.check_time()
        html = message.getStream(MSG_HTML_BODY)
        body = None if html else (getattr(message, "body", None) or message.getStringStream(MSG_BODY) or "")
        rtf = getattr(message, "rtfBody", None)
        if not html and not body.strip() and rtf:
            html = rtf_html(rtf)
    finally:
        message.close()
    blocks = html_blocks(_html_text(html)) if html else [("text", body or "")]
    return _mail(limits, {k: str(v) for k, v in headers.items() if v}, blocks, attachments)


def rtf_html(rtf: bytes) -> bytes | None:
    """The HTML an Outlook RTF body encapsulates (what Outlook keeps of a message written in HTML), if any; an
    RTF body that is malformed, or plain rich text, gives none."""
    import RTFDE
    from extract_msg.utils import stripRtf

    end = rtf.rfind(b"}")
    if end == -1:
        return None
    try:
        found = RTFDE.DeEncapsulator(stripRtf(rtf[: end + 1]))
        found.deencapsulate()
    except Exception:  # RTFDE raises its own and its parser's errors on damaged RTF
        return None
    html = found.html if found.content_type == "html" else None
    if isinstance(html, str):
        html = html.encode("utf-8")
    return html if html and html.strip() else None


def _html_text(html: bytes) -> str:
    """An HTML body's text in the charset it declares (`sniffing.decoded_html`), else UTF-8, a byte that is
    not read as U+FFFD."""
    return sniffing.decoded_html(html) or html.decode("utf-8", errors="replace")


def _mail(
    limits: IngestLimits,
    headers: dict[str, str],
    body: list[tuple[str, object]],
    attachments: list[Attachment],
) -> ParsedDocument:
    check_batch_files(len(attachments), limits, "the e-mail")
    builder = TextBuilder(limits)
    for name, value in headers.items():
        builder.add(f"{name}: {' '.join(value.split())}", gap=LINE)
    if attachments:
        builder.add("Attachments: " + ", ".join(a.filename for a in attachments), gap=LINE)
    add_blocks(builder, body)
    parsed = builder.build()
    parsed.attachments = attachments
    return parsed
