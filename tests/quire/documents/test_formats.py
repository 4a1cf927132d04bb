"""What the parsers read of each format beyond the plain case: a DOCX's content controls, tracked changes,
fields and nested tables; an e-mail's parts wherever its MIME tree holds them; HTML of unfinished tags in
linear time."""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import pytest

from quire.documents.limits import DeadlinePassed, IngestLimits
from quire.documents.parsing import ParseError, parse_document
from quire.documents.sniffing import (
    DOC,
    DOCX,
    EML,
    HTML,
    MSG,
    ODS,
    ODT,
    PPTX,
    RTF,
    XLS,
    XLSX,
    sniff_content_type,
)
from tests.support.documents import (
    make_doc,
    make_docx,
    make_eml,
    make_msg,
    make_odp,
    make_ods,
    make_odt,
    make_pdf,
    make_pptx,
    make_tnef,
    make_xlsx,
)

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def docx_of(*body: str) -> bytes:
    """A DOCX whose body holds the given WordprocessingML elements (each declaring the w: namespace)."""
    import docx
    from docx.oxml import parse_xml

    document = docx.Document()
    for position, element in enumerate(body):
        document.element.body.insert(position, parse_xml(element))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def run(text: str) -> str:
    return f'<w:r><w:t xml:space="preserve">{text}</w:t></w:r>'


def table(*rows: list[str], within: str = "") -> str:
    """A table whose cells hold one paragraph each (`within` adds an element to the last cell)."""
    cells = [
        "".join(f"<w:tc><w:p>{run(cell)}</w:p></w:tc>" for cell in row).removesuffix("</w:tc>")
        for row in rows
    ]
    return (
        "<w:tbl>"
        + "".join(f"<w:tr>{row}{within if last else ''}</w:tc></w:tr>" for last, row in _last(cells))
        + "</w:tbl>"
    )


def _last(items: list[str]):
    return [(index == len(items) - 1, item) for index, item in enumerate(items)]


def docx_text(*body: str) -> str:
    return parse_document(docx_of(*body), DOCX, IngestLimits()).text


def test_docx_text_in_content_controls_is_read():
    text = docx_text(
        f"<w:p {W}>{run('Before the control.')}</w:p>",
        f"<w:sdt {W}><w:sdtPr/><w:sdtContent><w:p>{run('Governed by Delaware law.')}</w:p></w:sdtContent></w:sdt>",
        f"<w:p {W}>{run('This Agreement is between ')}<w:sdt><w:sdtPr/><w:sdtContent>{run('Acme Corp')}"
        f"</w:sdtContent></w:sdt>{run(' and Beta LLC.')}</w:p>",
    )
    assert (
        text
        == "Before the control.\n\nGoverned by Delaware law.\n\nThis Agreement is between Acme Corp and Beta LLC."
    )


def test_docx_tracked_insertions_fields_and_links_are_read_and_deletions_left_out():
    ins = '<w:ins w:id="1" w:author="a" w:date="2024-01-01T00:00:00Z">'
    deleted = '<w:del w:id="2" w:author="a" w:date="2024-01-01T00:00:00Z">'
    text = docx_text(
        f"<w:p {W}>{run('The fee is ')}{ins}{run('five hundred')}</w:ins>{deleted}"
        f"<w:r><w:delText>one hundred</w:delText></w:r></w:del>{run(' dollars.')}</w:p>",
        f'<w:p {W}>{run("Page ")}<w:fldSimple w:instr="PAGE">{run("7")}</w:fldSimple>{run(" dated ")}'
        f'<w:smartTag w:uri="x" w:element="date">{run("March 1, 2020")}</w:smartTag>{run(", see ")}'
        f'<w:hyperlink w:anchor="s2">{run("Section 2")}</w:hyperlink><w:r><w:tab/><w:t>end</w:t></w:r></w:p>',
    )
    assert text == "The fee is five hundred dollars.\n\nPage 7 dated March 1, 2020, see Section 2\tend"


def test_docx_tables_in_content_controls_and_nested_tables_are_read():
    in_control = f"<w:sdt {W}><w:sdtPr/><w:sdtContent>{table(['Fee', '$5,000'])}</w:sdtContent></w:sdt>"
    nested = table(["Outer A", "Outer B"], within=table(["Inner X 42", "Inner Y 43"]))
    parsed = parse_document(docx_of(in_control, nested.replace("<w:tbl>", f"<w:tbl {W}>", 1)), DOCX)
    assert parsed.text == "| Fee | $5,000 |\n\n| Outer A | Outer B Inner X 42 Inner Y 43 |"
    assert [[parsed.text[s:e] for s, e in row] for t in parsed.tables for row in t["rows"]] == [
        ["Fee", "$5,000"],
        ["Outer A", "Outer B Inner X 42 Inner Y 43"],
    ]


def test_docx_merged_cells_are_read_once_across_and_repeated_down():
    import docx

    document = docx.Document()
    grid = document.add_table(rows=3, cols=3)
    grid.cell(0, 0).merge(grid.cell(0, 1)).text = "Region"
    grid.cell(0, 2).text = "Revenue"
    grid.cell(1, 0).merge(grid.cell(2, 0)).text = "EMEA"
    for row, values in ((1, ("UK", "100")), (2, ("France", "200"))):
        grid.cell(row, 1).text, grid.cell(row, 2).text = values
    out = io.BytesIO()
    document.save(out)
    assert parse_document(out.getvalue(), DOCX).text == (
        "| Region | Revenue |\n| EMEA | UK | 100 |\n| EMEA | France | 200 |"
    )


def _with_part(content: bytes, name: str, xml: str) -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            target.writestr(item, source.read(item))
        target.writestr(name, xml)
    return out.getvalue()


def test_docx_footnotes_and_endnotes_are_read_after_the_body():
    body = docx_of(
        f'<w:p {W}>{run("The fee is payable in advance.")}<w:r><w:footnoteReference w:id="1"/></w:r></w:p>'
    )
    separator = '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
    notes = (
        f'<w:footnotes {W}>{separator}<w:footnote w:id="1"><w:p><w:r><w:footnoteRef/></w:r>'
        f"{run(' Except where the Customer is a public body.')}</w:p></w:footnote></w:footnotes>"
    )
    endnotes = (
        f'<w:endnotes {W}><w:endnote w:id="1"><w:p>{run("Fees exclude VAT.")}</w:p></w:endnote></w:endnotes>'
    )
    content = _with_part(_with_part(body, "word/footnotes.xml", notes), "word/endnotes.xml", endnotes)
    assert parse_document(content, DOCX).text == (
        "The fee is payable in advance.\n\nExcept where the Customer is a public body.\n\nFees exclude VAT."
    )


def _saved(document) -> bytes:
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_docx_headers_and_footers_are_read_once_after_the_notes():
    import docx

    document = docx.Document()
    document.add_paragraph("This Agreement is made between Acme Corp and Beta LLC.")
    first = document.sections[0]
    first.header.paragraphs[0].text = "ACME CONFIDENTIAL"
    first.header.add_table(1, 2, first.header_distance).rows[0].cells[0].text = "Doc No."
    first.header.tables[0].rows[0].cells[1].text = "MSA-2024-017"
    first.footer.paragraphs[0].text = "Master Services Agreement"
    second = document.add_section()
    document.add_paragraph("Schedule A: Fees.")
    # The second section's own header repeats the first's line and adds one; its footer is the first's.
    second.header.is_linked_to_previous = False
    second.header.paragraphs[0].text = "ACME CONFIDENTIAL"
    second.header.add_paragraph("Schedule A")
    content = _saved(document)
    notes = f'<w:footnotes {W}><w:footnote w:id="1"><w:p>{run("Fees exclude VAT.")}</w:p></w:footnote></w:footnotes>'
    parsed = parse_document(_with_part(content, "word/footnotes.xml", notes), DOCX)
    assert parsed.text == (
        "This Agreement is made between Acme Corp and Beta LLC.\n\nSchedule A: Fees.\n\nFees exclude VAT."
        "\n\nACME CONFIDENTIAL\n\n| Doc No. | MSA-2024-017 |\n\nSchedule A\n\nMaster Services Agreement"
    )
    assert [[parsed.text[s:e] for s, e in row] for row in parsed.tables[0]["rows"]] == [
        ["Doc No.", "MSA-2024-017"]
    ]


@pytest.mark.parametrize("shown", [False, True])
def test_docx_first_page_and_even_page_headers_are_read_where_the_document_shows_them(shown):
    import docx

    document = docx.Document()
    document.add_paragraph("Body.")
    section = document.sections[0]
    section.header.paragraphs[0].text = "Odd pages"
    section.first_page_header.paragraphs[0].text = "Cover page"
    section.even_page_header.paragraphs[0].text = "Even pages"
    section.different_first_page_header_footer = shown
    document.settings.odd_and_even_pages_header_footer = shown
    expected = "Body.\n\nCover page\n\nOdd pages\n\nEven pages" if shown else "Body.\n\nOdd pages"
    assert parse_document(_saved(document), DOCX).text == expected


def test_a_docx_header_no_page_shows_is_not_read():
    import docx

    document = docx.Document()
    document.add_paragraph("Body.")
    document.sections[0].first_page_header.paragraphs[0].text = "Stale cover page"
    assert parse_document(_saved(document), DOCX).text == "Body."


def test_docx_text_boxes_are_read_in_the_body_and_in_headers():
    import docx

    wps = 'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"'
    mc = 'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
    vml = 'xmlns:v="urn:schemas-microsoft-com:vml"'

    def boxed(text: str) -> str:
        box = f"<w:txbxContent><w:p>{run(text)}</w:p></w:txbxContent>"
        return (
            f'<w:p {W} {wps} {mc} {vml}><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing>'
            f"<wps:wsp><wps:txbx>{box}</wps:txbx></wps:wsp></w:drawing></mc:Choice><mc:Fallback><w:pict>"
            f"<v:shape><v:textbox>{box}</v:textbox></v:shape></w:pict></mc:Fallback></mc:AlternateContent>"
            f"</w:r>{run('Anchored here.')}</w:p>"
        )

    from docx.oxml import parse_xml

    document = docx.Document()
    document.element.body.insert(0, parse_xml(boxed("Boxed in the body.")))
    header = document.sections[0].header
    header._element.append(parse_xml(boxed("Boxed in the header.")))
    assert parse_document(_saved(document), DOCX).text == (
        "Boxed in the body.\n\nAnchored here.\n\nBoxed in the header.\n\nAnchored here."
    )


def test_a_docx_of_many_empty_paragraphs_is_read_as_a_stream():
    content = _with_empty_paragraphs(docx_of(f"<w:p {W}>{run('Only line.')}</w:p>"), 500_000)
    growth, parsed = peak_rss_growth(lambda: parse_document(content, DOCX))
    assert parsed.text == "Only line."
    assert growth < 25 * (1 << 20), growth


def peak_rss_growth(work):
    """How far this process's resident memory rose above where it started while `work()` ran, and its
    result."""
    import threading

    import psutil

    process = psutil.Process()
    start = process.memory_info().rss
    peak, done = [start], threading.Event()

    def sample() -> None:
        while not done.wait(0.01):
            peak[0] = max(peak[0], process.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = work()
    finally:
        done.set()
        sampler.join()
    return max(peak[0], process.memory_info().rss) - start, result


def _with_empty_paragraphs(content: bytes, count: int) -> bytes:
    """`content` with `count` empty paragraphs before its section properties, and random bytes enough to keep
    the archive within the compression ratio limit."""
    import os
    import zipfile

    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(content)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as copy,
    ):
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "word/document.xml":
                data = data.replace(b"<w:sectPr", b"<w:p/>" * count + b"<w:sectPr", 1)
            copy.writestr(info.filename, data)
        copy.writestr("word/media/padding.bin", os.urandom(count * 6 // 90))
    return out.getvalue()


def mail(root, subject: str = "Contract") -> bytes:
    root["From"], root["To"], root["Subject"] = "alice@example.com", "bob@example.com", subject
    return root.as_bytes()


def attached(name: str, content: bytes):
    from email.mime.application import MIMEApplication

    part = MIMEApplication(content)
    part.add_header("Content-Disposition", "attachment", filename=name)
    return part


def multipart(subtype: str, *parts, **params):
    from email.mime.multipart import MIMEMultipart

    root = MIMEMultipart(subtype, **params)
    for part in parts:
        root.attach(part)
    return root


def test_an_attachment_inside_a_signed_email_is_found_and_the_signature_left_out():
    from email.mime.application import MIMEApplication
    from email.mime.text import MIMEText

    signature = MIMEApplication(b"0\x82\x01\x00signature", "pkcs7-signature", name="smime.p7s")
    signature.add_header("Content-Disposition", "attachment", filename="smime.p7s")
    signed = multipart(
        "signed",
        multipart(
            "mixed", MIMEText("Please find the contract attached.", "plain"), attached("contract.docx", b"PK")
        ),
        signature,
        protocol="application/pkcs7-signature",
        micalg="sha-256",
    )
    parsed = parse_document(mail(signed), EML)
    assert [(a.filename, a.content) for a in parsed.attachments] == [("contract.docx", b"PK")]
    assert parsed.text.endswith("Attachments: contract.docx\n\nPlease find the contract attached.")


def test_text_after_an_attachment_is_the_bodys_and_no_attachment():
    from email.mime.text import MIMEText

    apple = multipart(
        "mixed",
        MIMEText("Hi Bob, here is the signed contract:", "plain"),
        attached("signed.docx", b"PK"),
        MIMEText("Please countersign by Friday.", "plain"),
    )
    parsed = parse_document(mail(apple), EML)
    assert [a.filename for a in parsed.attachments] == ["signed.docx"]
    assert parsed.text.endswith(
        "Attachments: signed.docx\n\nHi Bob, here is the signed contract:\n\nPlease countersign by Friday."
    )


def test_an_emails_nested_parts_give_one_body_and_every_attachment():
    from email.mime.text import MIMEText

    forwarded = multipart(
        "mixed",
        multipart(
            "mixed",
            multipart(
                "alternative",
                MIMEText("Plain version.", "plain"),
                multipart(
                    "related", MIMEText("<p>HTML version.</p>", "html"), attached("logo.png", b"\x89PNG")
                ),
            ),
            attached("nested.txt", b"The nested note."),
        ),
        attached("outer.txt", b"The outer note."),
    )
    parsed = parse_document(mail(forwarded), EML)
    assert [a.filename for a in parsed.attachments] == ["logo.png", "nested.txt", "outer.txt"]
    assert parsed.text.endswith("Attachments: logo.png, nested.txt, outer.txt\n\nHTML version.")


def test_a_forwarded_message_without_a_file_name_is_named_by_its_subject():
    from email.mime.message import MIMEMessage
    from email.mime.text import MIMEText

    inner = MIMEText("The figures as agreed.", "plain")
    inner["Subject"] = "Re: Draft SPA / schedule 2"
    untitled = MIMEText("No subject here.", "plain")
    forward = multipart(
        "mixed",
        MIMEText("See below.", "plain"),
        MIMEMessage(inner),
        MIMEMessage(untitled),
        attached("a.txt", b"A"),
    )
    parsed = parse_document(mail(forward), EML)
    assert [a.filename for a in parsed.attachments] == [
        "Re: Draft SPA - schedule 2.eml",
        "forwarded message.eml",
        "a.txt",
    ]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("content_type", [HTML, EML])
def test_html_of_unfinished_tags_is_read_in_time_linear_in_its_length(content_type):
    html = "<html><body><p>Quarterly report</p>" + "<a " * 40_000
    if content_type == EML:
        content = b"From: a@example.com\r\nSubject: s\r\nContent-Type: text/html\r\n\r\n" + html.encode()
    else:
        content = html.encode()
    limits = IngestLimits(deadline=time.monotonic() + 5)
    started = time.monotonic()
    assert parse_document(content, content_type, limits).text.endswith("Quarterly report")
    assert time.monotonic() - started < 5


def test_html_parsing_stops_at_the_deadline():
    with pytest.raises(DeadlinePassed):
        parse_document(
            b"<html><body><p>late</p></body></html>", HTML, IngestLimits(deadline=time.monotonic() - 1)
        )


def test_an_email_with_more_attachments_than_an_upload_may_hold_files_fails():
    from email.mime.text import MIMEText

    many = multipart(
        "mixed", MIMEText("Three notes.", "plain"), *[attached(f"n{i}.txt", b"note") for i in range(3)]
    )
    with pytest.raises(ParseError, match=r"the e-mail holds more than 2 files \(QUIRE_UPLOAD_MAX_FILES\)"):
        parse_document(mail(many), EML, IngestLimits(max_batch_files=2))
    assert len(parse_document(mail(many), EML, IngestLimits(max_batch_files=3)).attachments) == 3


def _replaced(archive: bytes, name: str, data: bytes | None) -> bytes:
    """`archive` with member `name` holding `data` instead, or left out for None."""
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as source, zipfile.ZipFile(out, "w") as copy:
        for info in source.infolist():
            if info.filename == name and data is None:
                continue
            copy.writestr(info.filename, data if info.filename == name else source.read(info))
    return out.getvalue()


@pytest.mark.parametrize(
    ("damaged", "content_type", "reason"),
    [
        (lambda: _replaced(make_docx(["x"]), "word/document.xml", b"<w:document"), DOCX, "prefix w"),
        (
            lambda: _replaced(make_xlsx({"S": [["a", 1]]}), "xl/worksheets/sheet1.xml", b"<worksheet><row>"),
            XLSX,
            "no element found",
        ),
        (lambda: _replaced(make_pptx([("t", "b", "n")]), "[Content_Types].xml", None), PPTX, "no member"),
    ],
    ids=["docx", "xlsx", "pptx"],
)
def test_a_damaged_office_file_fails_saying_so(damaged, content_type, reason):
    with pytest.raises(ParseError, match=rf"^the file is damaged: .*{reason}"):
        parse_document(damaged(), content_type)


def html_text(body: str) -> str:
    return parse_document(f"<html><body>{body}</body></html>".encode(), HTML).text


def test_an_html_line_break_breaks_a_line_not_a_paragraph():
    assert html_text("<p>Acme Corp<br>1 Main St<br/>Springfield</p><p>Next.</p>") == (
        "Acme Corp\n1 Main St\nSpringfield\n\nNext."
    )
    assert html_text("<p>One<br><br>Two</p>") == "One\n\nTwo"


def test_html_preformatted_text_keeps_its_lines_and_indentation():
    pre = "<pre>\nclause 1   fee      $5,000\n    net 30 days\n\n<b>clause 2</b>  term\tthree years\n</pre>"
    assert html_text(f"<p>Schedule:</p>{pre}<p>After.</p>") == (
        "Schedule:\n\nclause 1   fee      $5,000\n    net 30 days\n\nclause 2  term\tthree years\n\nAfter."
    )


def test_html_whitespace_collapses_across_tags_and_entities():
    assert html_text("<p>Acme <b> Corp</b>&nbsp;&nbsp;&nbsp;Ltd &amp; <i>Beta</i>\n  LLC </p>") == (
        "Acme Corp Ltd & Beta LLC"
    )


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ("<ul><li>one</li><li>two</li></ul><ol><li>a<li>b</ol>", "one\n\ntwo\n\na\n\nb"),
        ("<dl><dt>Term</dt><dd>Two years</dd></dl>", "Term\n\nTwo years"),
        ("<h1>Title</h1>text<hr>more", "Title\n\ntext\n\nmore"),
        (
            "<address>1 Main St</address><figure><img src=x><figcaption>Figure 1</figcaption></figure>end",
            "1 Main St\n\nFigure 1\n\nend",
        ),
        ("<tr><td>Fee</td><td>$5</td></tr>", "Fee $5"),
        (
            "<p>Pick</p><select><option>Monthly</option><option>Yearly</option></select>",
            "Pick\n\nMonthly\nYearly",
        ),
    ],
    ids=["lists", "definitions", "rule", "address-figure", "cells-outside-a-table", "options"],
)
def test_html_blocks_do_not_run_together(body, text):
    assert html_text(body) == text


def test_html_table_cells_stay_apart_and_paragraphs_in_a_cell_join_it():
    parsed = parse_document(
        b"<table><tr><th>Party</th><th>Role</th></tr><tr><td><p>Acme</p><p>Corp</p></td><td>Seller<br>"
        b"(Licensor)</td></tr></table>",
        HTML,
    )
    assert parsed.text == "| Party | Role |\n| Acme Corp | Seller (Licensor) |"


def test_html_scripts_styles_and_templates_are_never_text():
    assert (
        html_text(
            "<style>p{color:red}</style><script>var fee = 5;</script><p>Body.</p><noscript>Enable JS</noscript>"
            "<template><p>hidden</p></template><script type='application/ld+json'>{\"a\": 1}</script>"
        )
        == "Body."
    )


MSG_HTML = (
    b'<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252"><style>p{}</style>'
    b"</head><body><p>Fees below.<br>Net 30.</p><table><tr><td>Hosting</td><td>\x80 1,200</td></tr></table>"
    b"<p class=MsoNormal><o:p>&nbsp;</o:p></p></body></html>"
)


@pytest.mark.parametrize("plain", [None, "Fees below. Net 30. Hosting EUR 1,200"], ids=["html-only", "both"])
def test_an_outlook_messages_html_body_is_read_with_its_tables(plain):
    parsed = parse_document(make_msg("Fees", plain, [], html=MSG_HTML), MSG)
    assert parsed.text.endswith("Subject: Fees\n\nFees below.\nNet 30.\n\n| Hosting | \u20ac 1,200 |")
    assert len(parsed.tables) == 1


def test_an_outlook_message_whose_only_body_is_html_in_its_rtf_is_read():
    rtf = (
        rb"{\rtf1\ansi\ansicpg1252\fromhtml1 \deff0{\fonttbl{\f0\fswiss Arial;}}"
        rb"{\*\htmltag64 <p>}\htmlrtf {\htmlrtf0 Countersigned copy attached.{\*\htmltag72 </p>}\htmlrtf }\htmlrtf0 }"
    )
    parsed = parse_document(make_msg("Signed", None, [], rtf=rtf), MSG)
    assert parsed.text.endswith("Subject: Signed\n\nCountersigned copy attached.")


@pytest.mark.parametrize(
    "message_class", ["IPM.Document.Word.Document.12", "IPM.Sharing", "IPM.Custom.Quote"]
)
def test_an_outlook_item_of_a_class_without_a_reader_of_its_own_keeps_its_subject_body_and_attachments(
    message_class: str,
):
    """A posted document, a sharing invitation or a custom form's item is read as a bare MSG file."""
    content = make_msg(
        "Renewal", "The fee rises 3% on renewal.", [("quote.txt", b"Quote.")], message_class=message_class
    )
    parsed = parse_document(content, MSG)
    assert parsed.text == "Subject: Renewal\nAttachments: quote.txt\n\nThe fee rises 3% on renewal."
    assert [a.filename for a in parsed.attachments] == ["quote.txt"]


def test_an_outlook_message_whose_ole_directory_is_damaged_fails_as_damaged():
    import struct

    content = bytearray(make_msg("Fees", "Net 30.", []))
    directory = (struct.unpack_from("<I", content, 0x30)[0] + 1) * 512
    content[directory + 128 + 66] = 7  # the second entry's type: none OLE knows
    assert sniff_content_type(bytes(content)) == MSG
    with pytest.raises(ParseError, match=r"^the file is damaged: unhandled OLE storage type"):
        parse_document(bytes(content), MSG)


def test_an_outlook_message_with_a_malformed_rtf_body_keeps_its_headers_and_attachments():
    rtf = rb"{\rtf1\ansi\fromhtml1 {\*\htmltag64 <p>}Broken"
    parsed = parse_document(make_msg("Broken", None, [("terms.txt", b"Terms.")], rtf=rtf), MSG)
    assert parsed.text.endswith("Subject: Broken\nAttachments: terms.txt")
    assert [a.filename for a in parsed.attachments] == ["terms.txt"]


def test_an_outlook_wrappers_files_are_the_e_mails_attachments_and_its_body_stands_in_for_an_empty_one():
    terms, schedule = ("terms.txt", b"Payment is due within 30 days."), ("schedule.csv", b"fee,1200\n")
    wrapper = make_tnef([terms, schedule], body="Rich copy of the body.")
    parsed = parse_document(
        make_eml("Deal", "See the attached terms.", [("winmail.dat", wrapper, "application/ms-tnef")]), EML
    )
    assert [(a.filename, a.content) for a in parsed.attachments] == [terms, schedule]
    assert parsed.text.endswith("Attachments: terms.txt, schedule.csv\n\nSee the attached terms.")

    rtf = (
        rb"{\rtf1\ansi\ansicpg1252\fromhtml1 \deff0{\fonttbl{\f0\fswiss Arial;}}"
        rb"{\*\htmltag64 <p>}\htmlrtf {\htmlrtf0 Countersigned copy attached.{\*\htmltag72 </p>}\htmlrtf }\htmlrtf0 }"
    )
    only_rtf = make_eml(
        "Signed", "", [("winmail.dat", make_tnef([terms], rtf=rtf), "application/octet-stream")]
    )
    parsed = parse_document(only_rtf, EML)
    assert parsed.text.endswith("Attachments: terms.txt\n\nCountersigned copy attached.")
    assert [a.filename for a in parsed.attachments] == ["terms.txt"]


def test_a_damaged_outlook_wrapper_stays_the_attachment_it_is():
    whole = make_tnef([("terms.txt", b"Payment is due within 30 days.")])
    for damaged in (whole[:-5], whole[:40], b"\x78\x9f\x3e\x22" + bytes(30)):
        parsed = parse_document(
            make_eml("Deal", "Body.", [("winmail.dat", damaged, "application/ms-tnef")]), EML
        )
        assert [(a.filename, a.content) for a in parsed.attachments] == [("winmail.dat", damaged)]
        assert parsed.text.endswith("Attachments: winmail.dat\n\nBody.")


def test_xlsx_cells_read_as_the_sheet_shows_them():
    import datetime

    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "P&L"
    sheet.append(["Metric", "FY2024", "Margin", "Growth", "Closed", "Sum"])
    sheet.append(["Revenue", 1234.5, 0.125, 0.0734, datetime.date(2024, 3, 31), 0.1 + 0.2])
    sheet["C2"].number_format = "0.0%"
    sheet["D2"].number_format = "0.00%"
    sheet.append(["Units", 1e20, 1, None, datetime.datetime(2024, 3, 31, 14, 5), 2 / 3])
    sheet["C3"].number_format = "0%"
    sheet.append(["Ids", 12345678901234567890, 1234567890123456, 123456789012345])
    out = io.BytesIO()
    workbook.save(out)
    assert parse_document(out.getvalue(), XLSX).text == (
        "Sheet: P&L\n\n| Metric | FY2024 | Margin | Growth | Closed | Sum |\n"
        "| Revenue | 1234.5 | 12.5% | 7.34% | 2024-03-31 | 0.3 |\n"
        "| Units | 100000000000000000000 | 100% |  | 2024-03-31T14:05:00 | 0.666666666666667 |\n"
        "| Ids | 12345678901234600000 | 1234567890123460 | 123456789012345 |"
    )


def test_a_workbook_whose_styles_openpyxl_refuses_is_read_without_its_formats():
    """A writer's mistake in the styles part (a named style without its name, as one of POI's test files has)
    costs the cells their formats, not the workbook its text."""
    import zipfile

    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Q3"
    sheet.append(["Margin", 0.125])
    sheet["B1"].number_format = "0.0%"
    out = io.BytesIO()
    workbook.save(out)
    styles = zipfile.ZipFile(io.BytesIO(out.getvalue())).read("xl/styles.xml").decode()
    assert '<cellStyle name="Normal"' in styles
    broken = _replaced(
        out.getvalue(), "xl/styles.xml", styles.replace('<cellStyle name="Normal"', "<cellStyle").encode()
    )
    assert parse_document(out.getvalue(), XLSX).text == "Sheet: Q3\n\n| Margin | 12.5% |"
    assert parse_document(broken, XLSX).text == "Sheet: Q3\n\n| Margin | 0.125 |"


def _strict(package: bytes) -> bytes:
    """`package` saved as Strict Office Open XML: its Transitional namespaces and relationship types in
    ISO/IEC 29500 Strict's."""
    import re
    import zipfile

    transitional = re.compile(
        rb"http://schemas\.openxmlformats\.org/(wordprocessingml|spreadsheetml|presentationml|drawingml|officeDocument)/2006/"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as source, zipfile.ZipFile(out, "w") as copy:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith((".xml", ".rels")):
                data = transitional.sub(rb"http://purl.oclc.org/ooxml/\1/", data)
            copy.writestr(info, data)
    return out.getvalue()


@pytest.mark.parametrize("kind", ["docx", "xlsx", "pptx"])
def test_a_strict_office_open_xml_file_reads_as_its_transitional_twin(kind: str):
    package, content_type = {
        "docx": (make_docx(["Governing law: Delaware.", "Term: three years."]), DOCX),
        "xlsx": (make_xlsx({"Fees": [["Hosting", 1250.5]]}), XLSX),
        "pptx": (make_pptx([("Pricing", "Fees are fixed for 2026.", "Mention the cap")]), PPTX),
    }[kind]
    import zipfile

    strict = _strict(package)
    assert b"http://purl.oclc.org/ooxml/officeDocument/" in zipfile.ZipFile(io.BytesIO(strict)).read(
        "_rels/.rels"
    )
    assert sniff_content_type(strict) == content_type
    text = parse_document(package, content_type).text
    assert text.strip() and parse_document(strict, content_type).text == text


def test_a_formula_whose_result_the_workbook_does_not_hold_reads_as_the_formula():
    """openpyxl writes a formula without computing it (`<v></v>`); a workbook Excel saved holds the result."""
    import zipfile

    written = make_xlsx({"Q3": [["Revenue", 2], ["Costs", 3], ["Total", "=SUM(B1:B2)"]]})
    assert parse_document(written, XLSX).text == (
        "Sheet: Q3\n\n| Revenue | 2 |\n| Costs | 3 |\n| Total | =SUM(B1:B2) |"
    )
    sheet = zipfile.ZipFile(io.BytesIO(written)).read("xl/worksheets/sheet1.xml")
    assert b"<f>SUM(B1:B2)</f><v></v>" in sheet
    computed = _replaced(written, "xl/worksheets/sheet1.xml", sheet.replace(b"<v></v>", b"<v>5</v>"))
    assert parse_document(computed, XLSX).text == "Sheet: Q3\n\n| Revenue | 2 |\n| Costs | 3 |\n| Total | 5 |"


def test_a_formula_without_its_result_in_a_workbook_whose_styles_openpyxl_refuses_reads_as_the_formula():
    import zipfile

    written = make_xlsx({"Q3": [["Revenue", 2], ["Total", "=B1*2"]]})
    styles = zipfile.ZipFile(io.BytesIO(written)).read("xl/styles.xml").decode()
    broken = _replaced(
        written, "xl/styles.xml", styles.replace('<cellStyle name="Normal"', "<cellStyle").encode()
    )
    assert parse_document(broken, XLSX).text == "Sheet: Q3\n\n| Revenue | 2 |\n| Total | =B1*2 |"


def test_a_workbook_of_empty_sheets_has_no_text():
    with pytest.raises(ParseError, match="no text"):
        parse_document(make_xlsx({"Draft": [], "Notes": [[None, ""]]}), XLSX)


def _level(ilvl: int, fmt: str, text: str, *, style: str = "", restart: str = "") -> str:
    return (
        f'<w:lvl w:ilvl="{ilvl}"><w:start w:val="1"/><w:numFmt w:val="{fmt}"/><w:lvlText w:val="{text}"/>'
        + (f'<w:pStyle w:val="{style}"/>' if style else "")
        + (f'<w:lvlRestart w:val="{restart}"/>' if restart else "")
        + "</w:lvl>"
    )


NUMBERING = (
    f"<w:numbering {W}>"
    '<w:abstractNum w:abstractNumId="1">'
    + _level(0, "decimal", "%1.", style="Clause")
    + _level(1, "decimal", "%1.%2")
    + _level(2, "lowerLetter", "(%3)")
    + _level(3, "lowerRoman", "(%4)")
    + "</w:abstractNum>"
    '<w:abstractNum w:abstractNumId="2">' + _level(0, "bullet", "\uf0b7") + "</w:abstractNum>"
    '<w:abstractNum w:abstractNumId="3">' + _level(0, "upperLetter", "Schedule %1") + "</w:abstractNum>"
    '<w:num w:numId="1"><w:abstractNumId w:val="1"/></w:num>'
    '<w:num w:numId="2"><w:abstractNumId w:val="2"/></w:num>'
    '<w:num w:numId="3"><w:abstractNumId w:val="3"/></w:num>'
    '<w:num w:numId="4"><w:abstractNumId w:val="3"/>'
    '<w:lvlOverride w:ilvl="0"><w:startOverride w:val="1"/></w:lvlOverride></w:num>'
    "</w:numbering>"
)


def numbered(text: str, num: int | None = None, level: int | None = None, style: str = "") -> str:
    properties = (f'<w:pStyle w:val="{style}"/>' if style else "") + (
        "<w:numPr>"
        + (f'<w:ilvl w:val="{level}"/>' if level is not None else "")
        + (f'<w:numId w:val="{num}"/>' if num is not None else "")
        + "</w:numPr>"
        if num is not None or level is not None
        else ""
    )
    return f"<w:p {W}><w:pPr>{properties}</w:pPr>{run(text) if text else ''}</w:p>"


def numbered_docx(*paragraphs: str) -> bytes:
    """A DOCX of the given paragraphs, with `NUMBERING`'s lists and a paragraph style `Clause` numbered by its
    first list's first level."""
    import docx
    from docx.enum.style import WD_STYLE_TYPE
    from docx.oxml import parse_xml

    document = docx.Document()
    clause = document.styles.add_style("Clause", WD_STYLE_TYPE.PARAGRAPH)
    clause.element.get_or_add_pPr().append(parse_xml(f'<w:numPr {W}><w:numId w:val="1"/></w:numPr>'))
    for position, paragraph in enumerate(paragraphs):
        document.element.body.insert(position, parse_xml(paragraph))
    return _replaced(_saved(document), "word/numbering.xml", NUMBERING.encode())


def test_docx_hidden_text_is_left_out_by_the_run_or_its_styles():
    """Hidden text (`w:vanish`) as Word shows it: a run's own setting holds whatever its styles say; otherwise a
    paragraph style or a character style that hides (or is based on one that does) hides, and two that hide
    cancel out (`w:vanish` is a toggle); a tracked formatting change's old properties do not count."""
    import docx
    from docx.enum.style import WD_STYLE_TYPE
    from docx.oxml import parse_xml

    document = docx.Document()
    note = document.styles.add_style("DraftingNote", WD_STYLE_TYPE.PARAGRAPH)
    note.font.hidden = True
    document.styles.add_style("DraftingNoteMore", WD_STYLE_TYPE.PARAGRAPH).base_style = note
    document.styles.add_style("Secret", WD_STYLE_TYPE.CHARACTER).font.hidden = True

    def styled(text: str, character_style: str = "", properties: str = "") -> str:
        style = f'<w:rStyle w:val="{character_style}"/>' if character_style else ""
        return f'<w:r><w:rPr>{style}{properties}</w:rPr><w:t xml:space="preserve">{text}</w:t></w:r>'

    def paragraph(*runs: str, style: str = "") -> str:
        properties = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
        return f"<w:p {W}>{properties}{''.join(runs)}</w:p>"

    paragraphs = [
        paragraph(run("Fees are "), styled("not ", properties="<w:vanish/>"), run("payable.")),
        paragraph(run("Replace with the client's name."), style="DraftingNote"),
        paragraph(run("Delete before sending."), style="DraftingNoteMore"),
        paragraph(
            run("Hidden by its style. "),
            styled("Shown by its own.", properties='<w:vanish w:val="0"/>'),
            style="DraftingNote",
        ),
        paragraph(run("Term: "), styled("[internal] ", "Secret"), run("three years.")),
        paragraph(styled("Both hide, so shown.", "Secret"), style="DraftingNote"),
        paragraph(
            run("Old "),
            styled(
                "formatting.",
                properties='<w:rPrChange w:id="1" w:author="A"><w:rPr><w:vanish/></w:rPr></w:rPrChange>',
            ),
        ),
    ]
    for position, element in enumerate(paragraphs):
        document.element.body.insert(position, parse_xml(element))
    assert parse_document(_saved(document), DOCX).text.split("\n\n") == [
        "Fees are payable.",
        "Shown by its own.",
        "Term: three years.",
        "Both hide, so shown.",
        "Old formatting.",
    ]


def test_docx_list_numbers_are_read_as_word_shows_them():
    content = numbered_docx(
        numbered("Definitions", style="Clause"),
        numbered("Affiliate means...", 1, 1),
        numbered("", 1, 1),
        numbered("Business Day means...", 1, 1),
        numbered("a Saturday;", 1, 2),
        numbered("a Sunday; or", 1, 2),
        numbered("a holiday in", 1, 3),
        numbered("Term", style="Clause"),
        numbered("Initial term.", 1, 1),
        numbered("Fees exclude VAT.", 2, 0),
        numbered("Not numbered, though its style is.", 0, style="Clause"),
        numbered("Pricing", 3, 0),
        numbered("Service levels", 3, 0),
        numbered("Pricing again", 4, 0),
    )
    assert parse_document(content, DOCX).text.split("\n\n") == [
        "1. Definitions",
        "1.1 Affiliate means...",
        "1.3 Business Day means...",
        "(a) a Saturday;",
        "(b) a Sunday; or",
        "(i) a holiday in",
        "2. Term",
        "2.1 Initial term.",
        "Fees exclude VAT.",
        "Not numbered, though its style is.",
        "Schedule A Pricing",
        "Schedule B Service levels",
        "Schedule A Pricing again",
    ]


def test_docx_paragraphs_in_a_list_style_of_python_docx_are_numbered():
    import docx

    document = docx.Document()
    document.add_paragraph("Scope", style="List Number")
    document.add_paragraph("Fees", style="List Number")
    document.add_paragraph("A bullet", style="List Bullet")
    assert parse_document(_saved(document), DOCX).text == "1. Scope\n\n2. Fees\n\nA bullet"


def _deck_with(build) -> bytes:
    """A one-slide deck (title only) whose slide `build(slide)` fills."""
    import pptx

    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[5])
    slide.shapes.title.text = "Revenue"
    build(slide)
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


def test_a_pptx_charts_data_is_read_as_a_table_under_its_title():
    from pptx.chart.data import CategoryChartData, XyChartData
    from pptx.enum.chart import XL_CHART_TYPE
    from pptx.util import Inches

    def build(slide) -> None:
        data = CategoryChartData()
        data.categories = ["Q1 2025", "Q2 2025"]
        data.add_series("Americas", (120.5, 131.2))
        data.add_series("EMEA", (40, None))
        frame = slide.shapes.add_chart(
            XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(1), Inches(2), Inches(6), Inches(3), data
        )
        frame.chart.has_title = True
        frame.chart.chart_title.text_frame.text = "Revenue ($m)"
        points = XyChartData()
        points.add_series("Churn").add_data_point(3, 0.5)
        slide.shapes.add_chart(XL_CHART_TYPE.XY_SCATTER, Inches(1), Inches(5.5), Inches(3), Inches(1), points)

    parsed = parse_document(_deck_with(build), PPTX)
    assert parsed.text == (
        "Revenue\n\nRevenue ($m)\n\n|  | Americas | EMEA |\n| Q1 2025 | 120.5 | 40 |\n| Q2 2025 | 131.2 |  |"
        "\n\n| Churn | 0.5 |"
    )
    assert [[parsed.text[s:e] for s, e in row] for row in parsed.tables[0]["rows"]][1] == [
        "Q1 2025",
        "120.5",
        "40",
    ]


def _rezipped(archive: bytes, edits: dict[str, Callable[[bytes], bytes]], added: dict | None = None) -> bytes:
    """`archive` with each member `edits` names passed through its function, and the members `added` added."""
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            target.writestr(item.filename, edits[item.filename](data) if item.filename in edits else data)
        for name, data in (added or {}).items():
            target.writestr(name, data)
    return out.getvalue()


def _with_chart_plot(deck: bytes, plot: str) -> bytes:
    """`deck` with its first chart's bar plot made a `plot` (its series and their caches kept)."""
    return _rezipped(
        deck, {"ppt/charts/chart1.xml": lambda data: data.replace(b"c:barChart>", f"c:{plot}>".encode())}
    )


@pytest.mark.parametrize("plot", ["bar3DChart", "line3DChart", "surfaceChart"])
def test_a_pptx_chart_of_a_plot_type_without_a_reader_of_its_own_is_read_from_its_caches(plot: str):
    from pptx.chart.data import CategoryChartData
    from pptx.enum.chart import XL_CHART_TYPE
    from pptx.util import Inches

    def build(slide) -> None:
        data = CategoryChartData()
        east = data.add_category("East")
        east.add_sub_category("Q1")
        east.add_sub_category("Q2")
        data.add_series("Units", (7, 9.25))
        slide.shapes.add_chart(
            XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(1), Inches(2), Inches(6), Inches(3), data
        )

    parsed = parse_document(_with_chart_plot(_deck_with(build), plot), PPTX)
    assert parsed.text == "Revenue\n\n|  | Units |\n| Q1 | 7 |\n| Q2 | 9.25 |"


@pytest.mark.parametrize(
    "main",
    [
        "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml",
        "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml",
        "application/vnd.ms-powerpoint.slideshow.macroEnabled.main+xml",
        "application/vnd.ms-powerpoint.template.macroEnabled.main+xml",
    ],
    ids=["ppsx", "potx", "ppsm", "potm"],
)
def test_a_slide_show_or_template_is_read_as_a_deck_whatever_its_name(main: str):
    import zipfile

    deck = make_pptx([("Pricing", "Fees are fixed for 2026.", "")])
    types = zipfile.ZipFile(io.BytesIO(deck)).read("[Content_Types].xml").decode()
    plain = "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"
    assert plain in types
    show = _replaced(deck, "[Content_Types].xml", types.replace(plain, main).encode())
    assert sniff_content_type(show) == PPTX
    assert parse_document(show, PPTX).text == "Pricing\n\nFees are fixed for 2026."


def test_pptx_objects_embedded_as_content_are_read_in_place_and_as_icons_are_attachments():
    from pptx.enum.shapes import PROG_ID
    from pptx.util import Inches

    sheet = make_xlsx({"Fees": [["Hosting", 5]]})
    contract = make_docx(["Schedule 2: service levels."])

    def build(slide) -> None:
        shown = slide.shapes.add_ole_object(
            io.BytesIO(sheet), PROG_ID.XLSX, Inches(1), Inches(2), Inches(4), Inches(1)
        )
        for element in shown._element.iter("{*}oleObj"):
            element.attrib.pop("showAsIcon", None)
        slide.shapes.add_ole_object(
            io.BytesIO(contract), PROG_ID.DOCX, Inches(1), Inches(4), Inches(1), Inches(1)
        )

    parsed = parse_document(_deck_with(build), PPTX)
    assert parsed.text == "Revenue\n\nSheet: Fees\n\n| Hosting | 5 |"
    assert [(a.filename.rsplit(".", 1)[-1], a.content) for a in parsed.attachments] == [("docx", contract)]


def test_a_pptx_smartart_text_is_read():
    from lxml import etree
    from pptx.opc.constants import RELATIONSHIP_TYPE
    from pptx.opc.package import Part
    from pptx.opc.packuri import PackURI

    dgm = "http://schemas.openxmlformats.org/drawingml/2006/diagram"
    a = "http://schemas.openxmlformats.org/drawingml/2006/main"

    def point(model_id: str, text: str, kind: str = "") -> str:
        body = f"<dgm:t><a:bodyPr/><a:p><a:r><a:t>{text}</a:t></a:r></a:p></dgm:t>" if text else ""
        return f'<dgm:pt modelId="{model_id}"' + (f' type="{kind}"' if kind else "") + f">{body}</dgm:pt>"

    data = (
        f'<dgm:dataModel xmlns:dgm="{dgm}" xmlns:a="{a}"><dgm:ptLst>'
        + point("0", "", "doc")
        + point("1", "Sign the NDA")
        + point("2", "x", "parTrans")
        + point("3", "Share the data room")
        + point("4", "Close")
        + point("5", "", "pres")
        + "</dgm:ptLst></dgm:dataModel>"
    )

    def build(slide) -> None:
        part = Part(
            PackURI("/ppt/diagrams/data1.xml"),
            "application/vnd.openxmlformats-officedocument.drawingml.diagramData+xml",
            slide.part.package,
            data.encode(),
        )
        rid = slide.part.relate_to(part, RELATIONSHIP_TYPE.DIAGRAM_DATA)
        frame = etree.fromstring(
            '<p:graphicFrame xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" '
            f'xmlns:a="{a}" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<p:nvGraphicFramePr><p:cNvPr id="9" name="Diagram 1"/><p:cNvGraphicFramePr/><p:nvPr/>'
            '</p:nvGraphicFramePr><p:xfrm><a:off x="914400" y="2743200"/><a:ext cx="5486400" cy="2743200"/>'
            f'</p:xfrm><a:graphic><a:graphicData uri="{dgm}"><dgm:relIds xmlns:dgm="{dgm}" r:dm="{rid}" '
            'r:lo="" r:qs="" r:cs=""/></a:graphicData></a:graphic></p:graphicFrame>'
        )
        slide.shapes._spTree.append(frame)

    assert parse_document(_deck_with(build), PPTX).text == (
        "Revenue\n\nSign the NDA\nShare the data room\nClose"
    )


def checkbox(*state: str) -> str:
    """A legacy form checkbox field: its `w:checkBox` children (`<w:default w:val="1"/>`, `<w:checked/>`)."""
    return (
        f'<w:r><w:fldChar w:fldCharType="begin"><w:ffData><w:name w:val="Check1"/><w:checkBox><w:sizeAuto/>'
        f'{"".join(state)}</w:checkBox></w:ffData></w:fldChar></w:r><w:r><w:instrText xml:space="preserve"> '
        'FORMCHECKBOX </w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r>'
        '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
    )


def test_docx_checkboxes_and_symbols_are_read_with_their_state():
    def sym(font: str, char: str) -> str:
        return f'<w:r><w:sym w:font="{font}" w:char="{char}"/></w:r>'

    unticked, ticked = '<w:default w:val="0"/>', '<w:default w:val="1"/>'
    checked, cleared = "<w:checked/>", '<w:checked w:val="0"/>'
    text = docx_text(
        f"<w:p {W}>{checkbox(unticked, checked)}{run(' Net 30 ')}{checkbox(unticked)}{run(' Net 60 ')}"
        f"{checkbox(ticked)}{run(' Net 90 ')}{checkbox(ticked, cleared)}{run(' Net 120')}</w:p>",
        f"<w:p {W}>{sym('Wingdings', 'F0FE')}{run(' Insured ')}{sym('Wingdings', 'F0A8')}{run(' Bonded ')}"
        f"{sym('Symbol', 'F0B7')}{run(' Fee ')}{sym('Arial', '00A7')}{run(' 2 ')}{sym('Wingdings', 'F04A')}</w:p>",
    )
    assert text == (
        "\u2612 Net 30 \u2610 Net 60 \u2612 Net 90 \u2610 Net 120\n\n"
        "\u2611 Insured \u2610 Bonded \u2022 Fee \u00a7 2"
    )


def _with_alt_chunks(content: bytes, chunks: dict[str, tuple[str, bytes]], kind: str = "aFChunk") -> bytes:
    """`content` with parts the body names (by default imported whole, `w:altChunk`): relationship id to (part
    name under word/, bytes)."""
    import zipfile

    rels = zipfile.ZipFile(io.BytesIO(content)).read("word/_rels/document.xml.rels").decode()
    kind = f"http://schemas.openxmlformats.org/officeDocument/2006/relationships/{kind}"
    for rid, (name, _) in chunks.items():
        rels = rels.replace(
            "</Relationships>", f'<Relationship Id="{rid}" Type="{kind}" Target="{name}"/></Relationships>'
        )
    content = _replaced(content, "word/_rels/document.xml.rels", rels.encode())
    for name, data in chunks.values():
        content = _with_part(content, f"word/{name}", data)
    return content


def _rates_xls() -> bytes:
    """An Excel 97 workbook (xlwt) whose sheet "Rates" holds "Support"."""
    import xlwt

    book = xlwt.Workbook()
    book.add_sheet("Rates").write(0, 0, "Support")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _revenue_chart() -> bytes:
    """A chart part as PowerPoint writes one (python-pptx), with its data cached: "Revenue ($m)" by fiscal
    year."""
    import zipfile

    from pptx.chart.data import CategoryChartData
    from pptx.enum.chart import XL_CHART_TYPE
    from pptx.util import Inches

    def build(slide) -> None:
        data = CategoryChartData()
        data.categories = ["FY2024", "FY2025"]
        data.add_series("Revenue", (410, 455.5))
        frame = slide.shapes.add_chart(
            XL_CHART_TYPE.LINE_MARKERS, Inches(1), Inches(2), Inches(6), Inches(3), data
        )
        frame.chart.has_title = True
        frame.chart.chart_title.text_frame.text = "Revenue ($m)"

    return zipfile.ZipFile(io.BytesIO(_deck_with(build))).read("ppt/charts/chart1.xml")


def test_docx_charts_are_read_where_they_stand_once_with_their_title_and_data():
    chart = _revenue_chart()
    namespaces = (
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
        'xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart" '
        'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
        'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
        'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
    )
    graphic = (
        '<w:drawing><wp:inline><a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/'
        'chart"><c:chart r:id="rIdChart"/></a:graphicData></a:graphic></wp:inline></w:drawing>'
    )
    body = docx_of(
        f"<w:p {W}>{run('Results.')}</w:p>",
        f'<w:p {W} {namespaces}><w:r><mc:AlternateContent><mc:Choice Requires="c14">{graphic}</mc:Choice>'
        f"<mc:Fallback>{graphic}</mc:Fallback></mc:AlternateContent></w:r></w:p>",
        f"<w:p {W}>{run('Outlook.')}</w:p>",
    )
    parsed = parse_document(_with_alt_chunks(body, {"rIdChart": ("charts/chart1.xml", chart)}, "chart"), DOCX)
    assert parsed.text == (
        "Results.\n\nRevenue ($m)\n\n|  | Revenue |\n| FY2024 | 410 |\n| FY2025 | 455.5 |\n\nOutlook."
    )
    assert [[parsed.text[s:e] for s, e in row] for row in parsed.tables[0]["rows"]][2] == ["FY2025", "455.5"]


def icon_run(rid: str) -> str:
    """A run holding a packager object that `rid` names, shown as its icon."""
    return (
        '<w:r><w:object><o:OLEObject xmlns:o="urn:schemas-microsoft-com:office:office" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" Type="Embed" '
        f'ProgID="Package" DrawAspect="Icon" r:id="{rid}"/></w:object></w:r>'
    )


def _package_native(label: str, data: bytes) -> bytes:
    """A packager object's native data: a 2, the file's label and source path, its temporary path, then the
    file."""
    import struct

    path = f"C:\\Users\\dana\\{label}\0".encode()
    body = b"\x02\x00" + label.encode() + b"\0" + path + b"\x00\x00\x03\x00"
    return body + struct.pack("<I", len(path)) + path + struct.pack("<I", len(data)) + data


def _packaged(label: str, data: bytes) -> bytes:
    """An OLE packager object (class `Package`, `\x01Ole10Native`) wrapping a file, as Word embeds one dragged
    into it."""
    import struct

    from tests.support.documents import make_ole

    body = _package_native(label, data)
    package = b"\x08\x00\x00\x00Package\x00"
    compobj = b"\x01\x00\xfe\xff\x03\x0a\x00\x00\xff\xff\xff\xff" + bytes(16) + package * 3
    return make_ole([("\x01CompObj", compobj), ("\x01Ole10Native", struct.pack("<I", len(body)) + body)])


def test_docx_objects_embedded_as_content_are_read_where_they_stand_and_as_icons_are_attachments():
    """A worksheet (an XLSX package, its empty sheet showing nothing) and an Excel 97 sheet (an OLE object) shown
    as their content are read in place, in a cell too; a PDF dragged in and shown as an icon is an attachment; a
    linked file is not read. An icon's file the object does not name is named by its part, with its type's
    extension. A PDF an Acrobat object wraps is an attachment however it is shown (as its first page here).
    """
    from tests.support.documents import make_ole

    out = io.BytesIO(_rates_xls())
    pdf = make_pdf(["Standard terms."])
    office = 'xmlns:o="urn:schemas-microsoft-com:office:office"'
    relation = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'

    def embedded(rid: str, aspect: str = "Content", kind: str = "Embed") -> str:
        return (
            f'<w:r><w:object><o:OLEObject {office} {relation} Type="{kind}" ProgID="Excel.Sheet.12" '
            f'DrawAspect="{aspect}" r:id="{rid}"/></w:object></w:r>'
        )

    body = docx_of(
        f"<w:p {W}>{run('Pricing:')}</w:p>",
        f"<w:p {W}>{embedded('rIdSheet')}</w:p>",
        f"<w:tbl {W}><w:tr><w:tc><w:p>{run('Extras')}</w:p></w:tc><w:tc><w:p>{embedded('rIdOld')}</w:p></w:tc>"
        "</w:tr></w:tbl>",
        f"<w:p {W}>{run('Signed.')}{embedded('rIdTerms', 'Icon')}{embedded('rIdLinked', kind='Link')}"
        f"{embedded('rIdBook', 'Icon')}{embedded('rIdSigned')}</w:p>",
    )
    content = _with_alt_chunks(
        body,
        {
            "rIdSheet": (
                "embeddings/Microsoft_Excel_Worksheet1.xlsx",
                make_xlsx({"Fees": [["Hosting", 5]], "Notes": []}),
            )
        },
        "package",
    )
    content = _with_alt_chunks(
        content,
        {
            "rIdOld": ("embeddings/Microsoft_Excel_97-2003_Worksheet2.xls", out.getvalue()),
            "rIdTerms": ("embeddings/oleObject3.bin", _packaged("terms.pdf", pdf)),
            "rIdLinked": ("embeddings/oleObject4.bin", _packaged("linked.pdf", pdf)),
            "rIdBook": ("embeddings/oleObject5.bin", out.getvalue()),
            "rIdSigned": ("embeddings/oleObject6.bin", make_ole([("CONTENTS", pdf)])),
        },
        "oleObject",
    )
    parsed = parse_document(content, DOCX)
    assert parsed.text == (
        "Pricing:\n\nSheet: Fees\n\n| Hosting | 5 |\n\n| Extras | Sheet: Rates Support |\n\nSigned."
    )
    assert [(a.filename, a.content) for a in parsed.attachments] == [
        ("terms.pdf", pdf),
        ("oleObject5.xls", out.getvalue()),
        ("oleObject6.pdf", pdf),
    ]
    with pytest.raises(ParseError, match=r"the document holds more than 0 files \(QUIRE_UPLOAD_MAX_FILES\)"):
        parse_document(content, DOCX, IngestLimits(max_batch_files=0))


def test_docx_parts_imported_whole_are_read_where_they_stand():
    """HTML, plain text (in a cell), MHT, another DOCX and RTF (its hidden text left out, its table a table)."""
    mht = (
        b'MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary="B"\r\n\r\n--B\r\n'
        b'Content-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
        b"<html><body><p>Fees are due in =E2=82=AC.</p></body></html>\r\n--B--\r\n"
    )
    inner = make_docx(["Schedule B: Service levels."])
    relation = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
    body = docx_of(
        f"<w:p {W}>{run('Master agreement.')}</w:p>",
        f'<w:altChunk {W} {relation} r:id="rIdHtml"/>',
        f'<w:tbl {W}><w:tr><w:tc><w:p>{run("Rate")}</w:p></w:tc><w:tc><w:altChunk {relation} r:id="rIdText"/>'
        "</w:tc></w:tr></w:tbl>",
        f'<w:altChunk {W} {relation} r:id="rIdMht"/>',
        f'<w:altChunk {W} {relation} r:id="rIdDocx"/>',
        f'<w:altChunk {W} {relation} r:id="rIdRtf"/>',
        f'<w:altChunk {W} {relation} r:id="rIdMissing"/>',
    )
    content = _with_alt_chunks(
        body,
        {
            "rIdHtml": (
                "chunk1.htm",
                b"<html><body><h2>Schedule A</h2><table><tr><td>Fee</td><td>$5</td></tr></table></body></html>",
            ),
            "rIdText": ("chunk2.txt", "5 % p.a. (€)".encode()),
            "rIdMht": ("chunk3.mht", mht),
            "rIdDocx": ("chunk4.docx", inner),
            "rIdRtf": (
                "chunk5.rtf",
                rb"{\rtf1\ansi Schedule C{\v  (draft)}.\par\trowd\cellx2000\cellx4000\pard\intbl Term\cell 3 years\cell\row}",
            ),
        },
    )
    parsed = parse_document(content, DOCX)
    assert parsed.text == (
        "Master agreement.\n\nSchedule A\n\n| Fee | $5 |\n\n| Rate | 5 % p.a. (€) |\n\nFees are due in \u20ac."
        "\n\nSchedule B: Service levels.\n\nSchedule C.\n\n| Term | 3 years |"
    )


def test_pptx_slides_are_read_in_the_decks_order_not_their_part_names():
    import pptx

    deck = pptx.Presentation(io.BytesIO(make_pptx([(f"Slide {n}", f"Body {n}.", "") for n in range(1, 12)])))
    slides = deck.slides._sldIdLst
    slides.append(slides[0])  # the first slide (ppt/slides/slide1.xml) moved to the end
    out = io.BytesIO()
    deck.save(out)
    parsed = parse_document(out.getvalue(), PPTX)
    titles = [line for line in parsed.text.split("\n\n") if line.startswith("Slide ")]
    assert titles == [f"Slide {n}" for n in (*range(2, 12), 1)]
    assert parsed.page_count == 11


def test_docx_content_controls_showing_their_placeholder_are_read_empty():
    placeholder = "<w:sdtPr><w:showingPlcHdr/></w:sdtPr>"
    text = docx_text(
        f"<w:p {W}>{run('Supplier: ')}<w:sdt>{placeholder}<w:sdtContent>{run('Click or tap here to enter text.')}"
        f"</w:sdtContent></w:sdt></w:p>",
        f'<w:p {W}>{run("Customer: ")}<w:sdt><w:sdtPr><w:showingPlcHdr w:val="0"/></w:sdtPr><w:sdtContent>'
        f"{run('Beta LLC')}</w:sdtContent></w:sdt></w:p>",
        f"<w:sdt {W}>{placeholder}<w:sdtContent><w:p>{run('Enter the governing law.')}</w:p></w:sdtContent></w:sdt>",
    )
    assert text == "Supplier:\n\nCustomer: Beta LLC"


RTF_CONTRACT = rb"""{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0\froman Times New Roman;}}{\colortbl;\red0\green0\blue0;}
{\*\generator Riched20 10.0.19041}{\info{\title Master Services Agreement}{\author Legal}}
{\header\pard\plain Confidential header\par}
\pard\plain\f0\fs24 {\b MASTER SERVICES AGREEMENT}\par
{\listtext 1.\tab}This Agreement is governed by the laws of New York\u8217?s courts, caf\'e9 \ldblquote Provider\rdblquote .\par
Section 2\emdash Term.{\v hidden note}{\deleted removed words }The term is five (5) years.\line Second line.\par
{\field{\*\fldinst HYPERLINK "https://example.com"}{\fldrslt example.com}}\par
\trowd\cellx2000\cellx4000\pard\intbl Party\cell Role\cell\row
\trowd\cellx2000\cellx4000\pard\intbl Acme\par Corp.\cell Provider\cell\row
\pard After the table{\footnote\pard\plain A footnote's text.}.\par
{\pict\pngblip 89504e470d0a}{\*\bkmkstart term}\u55357\'3f\u56832\'3f emoji\par
}"""


def test_rtf_paragraphs_tables_and_footnotes_are_read_as_a_reader_shows_them():
    """Word's and WordPad's RTF: the body's paragraphs and tables in order, list labels as shown, a field's
    result, footnotes after the body, then the header; no font table, document info, picture, field
    instruction, hidden text or tracked deletion; `\\'hh` in the code page, `\\uN` with its fallback skipped."""
    parsed = parse_document(RTF_CONTRACT, RTF)
    assert parsed.text == (
        "MASTER SERVICES AGREEMENT\n\n"
        "1.\tThis Agreement is governed by the laws of New York\u2019s courts, caf\u00e9 \u201cProvider\u201d.\n\n"
        "Section 2\u2014Term.The term is five (5) years.\nSecond line.\n\n"
        "example.com\n\n"
        "| Party | Role |\n| Acme Corp. | Provider |\n\n"
        "After the table.\n\n"
        "\U0001f600 emoji\n\n"
        "A footnote's text.\n\n"
        "Confidential header"
    )
    rows = parsed.tables[0]["rows"]
    assert [[parsed.text[start:end] for start, end in row] for row in rows] == [
        ["Party", "Role"],
        ["Acme Corp.", "Provider"],
    ]


@pytest.mark.parametrize(
    ("properties", "shown"),
    [
        (b"", "Odd.\n\nPage 2\tDraft"),
        (b"\\facingp", "Odd.\n\nEven.\n\nPage 2\tDraft"),
        (b"\\facingp\\titlepg", "Cover.\n\nOdd.\n\nEven.\n\nPage 2\tDraft"),
    ],
)
def test_rtf_headers_then_footers_are_read_after_the_notes_each_paragraph_once(properties, shown):
    """The first page's header and footer only under a title page; then those of all or right pages, then the
    left pages' where the document has facing pages; a paragraph read already is not read again; a header's
    table cells as tabs."""
    content = (
        rb"{\rtf1\ansi\sectd" + properties + rb"{\headerr\pard Odd.\par}{\headerl\pard Even.\par Odd.\par}"
        rb"{\headerf\pard Cover.\par}{\footer\trowd\cellx2000\cellx4000\pard\intbl Page 2\cell Draft\cell\row}"
        rb"{\footerf\pard Odd.\par}\pard Terms.{\footnote\pard A note.}\par}"
    )
    assert parse_document(content, RTF).text == "Terms.\n\nA note.\n\n" + shown


def test_rtf_rows_whose_paragraphs_are_not_marked_in_table_are_still_a_table():
    rtf = (
        rb"{\rtf1\ansi\pard Before the table.\par"
        rb"\trowd\cellx2000\cellx4000 Cell A1\cell Cell B1\cell\row"
        rb"\trowd\cellx2000\cellx4000 Cell A2\cell Cell B2\cell\row"
        rb"\pard After the table.\par}"
    )
    parsed = parse_document(rtf, RTF)
    assert (
        parsed.text == "Before the table.\n\n| Cell A1 | Cell B1 |\n| Cell A2 | Cell B2 |\n\nAfter the table."
    )
    assert len(parsed.tables) == 1 and len(parsed.tables[0]["rows"]) == 2


def test_an_rtf_text_box_is_read_after_the_paragraph_or_table_its_shape_stands_in():
    """A shape's text box (`\\shptxt`) after its paragraph (or its table), once: not its properties, nor the
    copy Word writes for older readers (`\\shprslt`); one in a header stays in the header."""

    def shape(text: bytes) -> bytes:
        return (
            rb"{\shp{\*\shpinst\shpleft0{\sp{\sn shapeType}{\sv 202}}{\shptxt\pard " + text + rb"\par}}"
            rb"{\shprslt{\*\do\dobxcolumn{\dptxbx{\dptxbxtext\pard " + text + rb"\par}}}}}"
        )

    content = (
        rb"{\rtf1\ansi{\header\pard Acme" + shape(rb"Logo") + rb"\par}\pard Intro" + shape(rb"Boxed note.")
        + rb" continues.\par\trowd\cellx2000\cellx4000\pard\intbl Fee" + shape(rb"In a cell.")
        + rb"\cell $5\cell\row\pard Last.\par}"
    )  # fmt: skip
    assert parse_document(content, RTF).text == (
        "Intro continues.\n\nBoxed note.\n\n| Fee | $5 |\n\nIn a cell.\n\nLast.\n\nAcme\n\nLogo"
    )


def test_an_rtf_footnotes_table_stays_in_the_footnote():
    content = (
        rb"{\rtf1\ansi\pard Terms.{\footnote\trowd\cellx1000\pard\intbl A\cell B\cell\row}\par After.\par}"
    )
    parsed = parse_document(content, RTF)
    assert (parsed.text, parsed.tables) == ("Terms.\n\nAfter.\n\nA\tB", [])


def test_an_rtf_note_in_a_table_cell_leaves_the_cell_as_it_was():
    content = (
        rb"{\rtf1\ansi\trowd\cellx1000\cellx2000\pard\intbl Fee{\footnote\pard\plain\intbl A note.\par}"
        rb" due\cell $5\cell\row\pard After.\par}"
    )
    assert parse_document(content, RTF).text == "| Fee due | $5 |\n\nAfter.\n\nA note."


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (rb"{\rtf1\ansi\ansicpg1251 \'cf\'f0\'e8\'ec\'e5\'f0}", "\u041f\u0440\u0438\u043c\u0435\u0440"),
        (rb"{\rtf1\ansi\ansicpg932 \'93\'fa\'96\'7b}", "\u65e5\u672c"),
        (rb"{\rtf1\ansi\uc2 \u8364 EU 5\par}", "\u20ac 5"),
        (rb"{\rtf1\ansi{\uc0 \u8364}\'80 5}", "\u20ac\u20ac 5"),
        (rb"{\rtf1\ansi {\pict\bin6 {}\}{\par}Paid\~in full\-y\_now}", "Paid\u00a0in fully\u2011now"),
        (b"\xef\xbb\xbf\r\n  {\\rtf1 Plain\\\r\nNext}", "Plain\n\nNext"),
    ],
)
def test_rtf_code_pages_unicode_fallbacks_binary_data_and_symbols(body, expected):
    assert parse_document(body, RTF).text == expected


def test_rtf_with_nothing_shown_has_no_text():
    with pytest.raises(ParseError, match="the document has no text"):
        parse_document(rb"{\rtf1\ansi{\fonttbl{\f0 Arial;}}{\*\generator x;}{\info{\title T}}}", RTF)


def test_rtf_nesting_past_the_limit_is_refused_and_every_paragraph_of_a_long_one_is_read():
    with pytest.raises(ParseError, match="the RTF nests deeper than 512 levels"):
        parse_document(b"{\\rtf1 " + b"{" * 600 + b"deep" + b"}" * 600 + b"}", RTF)
    paragraph = rb"Each party shall keep the other's Confidential Information secret.\par "
    parsed = parse_document(b"{\\rtf1\\ansi " + paragraph * 20_000 + b"}", RTF)
    assert parsed.text.count("Confidential Information") == 20_000


def test_a_word_97_document_saved_by_word_reads_as_word_shows_it():
    from tests.support.paths import ROOT

    folder = ROOT / "tests" / "data" / "office"
    content = (folder / "hipster.doc").read_bytes()
    assert sniff_content_type(content) == DOC
    parsed = parse_document(content, DOC)
    assert " ".join(parsed.text.split()) == " ".join((folder / "hipster.txt").read_text().split())


def test_a_word_97_document_shows_field_results_tables_notes_and_both_kinds_of_piece():
    """A field's result without its instruction (nested ones too), cells by tabs and rows by their end marks,
    line and page breaks, anchors left out, then the footnotes, the endnotes and the text boxes; the text in an
    8-bit piece, then a UTF-16 one."""
    body = (
        "MASTER AGREEMENT\r"
        '\x13 HYPERLINK "https://example.com" \x14example.com\x15 and caf\u00e9\x02.\r'
        "\x13 IF \x13 DATE \x14x\x15 \x14Signed \x13 PAGE \x141\x15\x15 today.\r"
        "Party\x07Role\x07\x07Acme\x07Provider\x07\x07After\x0bline\x0cPrice \u20ac 5 \u65e5\u672c\x01\x1f\x1e2\r"
    )
    content = make_doc(
        body, footnotes="\x02 A footnote.\r", endnotes="\x02 An endnote.\r", text_boxes="\rA boxed note.\r\r",
        unicode_from=body.index("Price"),
    )  # fmt: skip
    assert parse_document(content, DOC).text == (
        "MASTER AGREEMENT\n\nexample.com and caf\u00e9.\n\nSigned 1 today.\n\n"
        "Party\tRole\nAcme\tProvider\nAfter\nline\n\nPrice \u20ac 5 \u65e5\u672c\u20112\n\n"
        "A footnote.\n\nAn endnote.\n\nA boxed note."
    )


@pytest.mark.parametrize(
    ("name", "pages"),
    [
        (
            "DiffFirstPageHeadFoot.doc",
            "I am the header on the first page, and I\u2019m nice and simple\n\n"
            "First header column!\tMid header Right header!\n\n"
            "The footer of the first page\n\nFooter Left\tFooter Middle Footer Right",
        ),
        (
            "PageSpecificHeadFoot.doc",
            "August 20, 2008\t[ODD Page Header text]\n\n[This is an Even Page, with a Header]\tAugust 20, 2008\n\n"
            "Footer Left\tFooter Middle Footer Right\n\nPage 2\n\nThis is a simple footer on the second page",
        ),
        (
            "HeaderFooterUnicode.doc",
            "This is a simple header, with a \u20ac euro symbol in it.\n\nThe footer, with Moli\u00e8re, has Unicode in it.",
        ),
    ],
)
def test_a_word_97_documents_headers_and_footers_are_read_after_its_text(name, pages):
    from tests.support.paths import ROOT

    parsed = parse_document((ROOT / "tests" / "data" / "office" / name).read_bytes(), DOC)
    assert parsed.text.endswith("\n\n" + pages) and parsed.text.count(pages.split("\n\n")[0]) == 1


def _stories(section: dict[str, str]) -> list[str]:
    order = ("even header", "odd header", "even footer", "odd footer", "first header", "first footer")
    return [section.get(story, "") for story in order]


@pytest.mark.parametrize(
    ("title_pages", "facing_pages", "shown"),
    [
        ((False, False), False, "Odd one.\n\nOdd two.\n\nFoot."),
        ((True, False), False, "First.\n\nOdd one.\n\nOdd two.\n\nFoot."),
        ((False, True), True, "Odd one.\n\nEven.\n\nFirst.\n\nOdd two.\n\nFoot."),
    ],
)
def test_a_word_97_document_shows_the_headers_and_footers_its_sections_and_pages_show(
    title_pages, facing_pages, shown
):
    """A section's first-page story shows where it has a title page, an even-page one where the document has
    facing pages; a section without a story of a kind shows the one before it; a paragraph shown already is not
    read again."""
    separators = ["\x03\r", "\x04\r", "", "\x03\r", "\x04\r", ""]
    first = {
        "even header": "Even.\r",
        "odd header": "Odd one.\r",
        "first header": "First.\r",
        "odd footer": "Foot.\r",
    }
    second = {"odd header": "Odd two.\rOdd one.\r"}
    content = make_doc(
        "Terms.\r",
        page_stories=separators + _stories(first) + _stories(second),
        title_pages=title_pages,
        facing_pages=facing_pages,
    )
    assert parse_document(content, DOC).text == "Terms.\n\n" + shown


def test_a_word_97_documents_tracked_deletions_and_hidden_text_are_left_out():
    """Characters whose formatting marks them deleted (a tracked change not yet accepted) or hidden are not what
    Word shows: they are left out, in either kind of piece, a deleted paragraph with its mark."""
    body = "The term is five (5) three (3) years.\rRemoved clause.\rGoverned by Delaware Ontario law.\r"
    deleted, hidden = 0x0800, 0x083C

    def at(words: str, length: int | None = None) -> tuple[int, int]:
        start = body.index(words)
        return start, start + (length or len(words))

    formatted = (
        (*at("five (5) "), deleted),
        (*at("Removed clause.\r"), deleted),
        (*at("Delaware "), deleted),
        (*at("Ontario law", 8), hidden),
    )
    content = make_doc(body, formatted=formatted, unicode_from=body.index("Delaware"))
    assert parse_document(content, DOC).text == "The term is three (3) years.\n\nGoverned by law."
    assert "Removed" in parse_document(make_doc(body), DOC).text


def test_a_word_97_documents_text_hidden_by_its_styles_is_left_out():
    """Hidden text as the style sheet gives it: a paragraph style that hides (or is based on one that does), a
    character style that does; the characters' own formatting read over the styles (0x81 the opposite of the
    styles', 0 shown); with no style hiding, 0x81 hides."""
    from tests.support.paths import ROOT

    body = "Shown.\rDrafting note.\rBased note.\rNot shown.\rA (hidden) word.\rLoud (shown) too.\rFlip.\r"
    hidden, character_style = 0x083C, 0x4A30

    def at(words: str) -> tuple[int, int]:
        start = body.index(words)
        return start, start + len(words)

    styles = (
        ("Normal", 1, 0x0FFF, None),
        ("Hidden Text", 1, 0, 0x81),
        ("Note Based", 1, 1, None),
        ("Secret", 2, 0x0FFF, 1),
    )
    paragraph_styles = (
        (0, at("Drafting")[0], 0),
        (*at("Drafting note.\r"), 1),
        (*at("Based note.\r"), 2),
        (at("Not shown")[0], at("Flip.\r")[0], 0),
        (*at("Flip.\r"), 1),
    )
    formatted = (
        (*at("Not shown."), hidden, 0x81),
        (*at("(hidden) "), character_style, 3),
        (*at("(shown) "), character_style, 3),
        (*at("(shown) "), hidden, 0),
        (*at("Flip"), hidden, 0x81),
    )
    content = make_doc(body, formatted=formatted, styles=styles, paragraph_styles=paragraph_styles)
    assert parse_document(content, DOC).text == "Shown.\n\nA word.\n\nLoud (shown) too.\n\nFlip"

    real = parse_document((ROOT / "tests" / "data" / "office" / "53379.doc").read_bytes(), DOC).text
    assert "The chemical name would be provided" in real
    assert "A simple flow diagram or a brief, general description" not in real


def test_a_word_97_documents_text_boxes_are_read_after_the_paragraph_that_anchors_them():
    """A text box whose shape the body anchors is read after the anchoring paragraph, or, anchored in a table,
    after the first paragraph past the table; one no shape in the body anchors is read after the notes."""
    body = "Intro \x08paragraph.\rCell \x08A\x07Cell B\x07\x07After table.\rLast.\r"
    boxes = ("Box one.\r", "Box two.\r", "Loose box.\r")
    table_from, table_to = body.index("Cell"), body.index("After")
    content = make_doc(
        body,
        footnotes="\x02 A note.\r",
        text_boxes="".join(boxes) + "\r",
        box_stories=(
            (len(boxes[0]), body.index("\x08paragraph")),
            (len(boxes[1]), body.index("\x08A")),
            (len(boxes[2]), None),
        ),
        paragraph_styles=((0, table_from, 0), (table_from, table_to, 0, True), (table_to, len(body), 0)),
    )
    assert parse_document(content, DOC).text == (
        "Intro paragraph.\n\nBox one.\n\nCell A\tCell B\nAfter table.\n\nBox two.\n\nLast.\n\nA note.\n\n"
        "Loose box."
    )


def test_a_word_97_table_rows_end_where_the_paragraph_formatting_says():
    """A row's end mark is the paragraph the formatting marks as the row's end (`sprmPFTtp`), so a row whose
    last cell is empty ends at its own mark, not at the empty cell's, which left the next row starting with a
    tab (the second reading, without the formatting)."""
    body = "Name\x07\x07\x07Fee\x07$5\x07\x07After.\r"
    marks = [index for index, char in enumerate(body) if char in "\x07\r"]
    starts = [0, *(mark + 1 for mark in marks[:-1])]
    row_ends = {body.index("\x07\x07\x07") + 2, body.index("$5\x07\x07") + 3}
    paragraph_styles = tuple(
        (start, mark + 1, 0, body[mark] == "\x07", start in row_ends)
        for start, mark in zip(starts, marks, strict=True)
    )
    content = make_doc(body, paragraph_styles=paragraph_styles)
    assert parse_document(content, DOC).text == "Name\nFee\t$5\nAfter."
    assert parse_document(make_doc(body), DOC).text == "Name\n\tFee\t$5\nAfter."


def test_a_word_97_documents_embedded_objects_are_read_in_place_or_kept_as_attachments():
    """An Excel 97 sheet embedded in a .doc (its storage under ObjectPool, named by its character's
    sprmCPicLocation) is read after the paragraph holding it; a file a packager object wraps is an attachment;
    a picture object (Paintbrush's native data) is left out."""
    import olefile
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("Rates")
    sheet.write(0, 0, "Support")
    sheet.write(0, 1, 120)
    out = io.BytesIO()
    book.save(out)
    with olefile.OleFileIO(io.BytesIO(out.getvalue())) as workbook:
        sheet_streams = [("/".join(path), workbook.openstream(path).read()) for path in workbook.listdir()]
    packaged = olefile.OleFileIO(io.BytesIO(_packaged("terms.txt", b"Standard terms apply.")))
    package_streams = [("/".join(path), packaged.openstream(path).read()) for path in packaged.listdir()]
    picture = [("\x01CompObj", bytes(28) + b"\x07\x00\x00\x00PBrush\x00"), ("\x01Ole10Native", bytes(64))]
    body = (
        "Pricing:\r\x13 EMBED Excel.Sheet.8 \x14\x01\x15\rSigned.\x13 EMBED Package \x14\x01\x15\r"
        "Logo\x13 EMBED PBrush \x14\x01\x15\r"
    )
    marks = [index for index, char in enumerate(body) if char == "\x01"]
    formatted = tuple(
        item
        for mark, number in zip(marks, (101, 102, 103), strict=True)
        for item in ((mark, mark + 1, 0x080A), (mark, mark + 1, 0x6A03, number))
    )
    content = make_doc(
        body, formatted=formatted, objects={101: sheet_streams, 102: package_streams, 103: picture}
    )
    parsed = parse_document(content, DOC)
    assert parsed.text == "Pricing:\n\nSheet: Rates\n\n| Support | 120 |\n\nSigned.\n\nLogo"
    assert [(a.filename, a.content) for a in parsed.attachments] == [("terms.txt", b"Standard terms apply.")]
    assert len(parsed.tables) == 1


def test_a_word_97_file_of_either_fib_version_word_97_wrote_is_read():
    for nfib in (0x00C0, 0x00C1, 0x0101):
        assert parse_document(make_doc("Terms.\r", nfib=nfib), DOC).text == "Terms."


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"nfib": 0x0065}, "a Word 6.0/95 document, which Quire does not read; save it as DOCX"),
        (
            {"ident": 0xA5DC, "nfib": 0x0065},
            "a Word 6.0/95 document, which Quire does not read; save it as DOCX",
        ),
        (
            {"ident": 0xA5DC, "nfib": 0x0068},
            "a Word 6.0/95 document, which Quire does not read; save it as DOCX",
        ),
        ({"ident": 0x1234}, "the Word document's header is damaged"),
        ({"flags": 0x0300}, "the Word document is encrypted with a password"),
        ({"table_stream": "0Table"}, "the Word document has no 1Table stream"),
    ],
)
def test_a_word_document_that_cannot_be_read_fails_with_the_reason(options, reason):
    with pytest.raises(ParseError, match=reason):
        parse_document(make_doc("Terms.\r", **options), DOC)


ODT_CONTRACT = (
    '<text:h text:outline-level="1">MASTER <text:span>SERVICES</text:span> AGREEMENT</text:h>'
    "<text:tracked-changes><text:changed-region><text:deletion><text:p>Removed clause.</text:p></text:deletion>"
    "</text:changed-region></text:tracked-changes>"
    '<text:p>Governed by<text:s text:c="3"/>New York law'
    '<text:note text:note-class="footnote"><text:note-citation>1</text:note-citation>'
    "<text:note-body><text:p>As amended.</text:p></text:note-body></text:note>.<text:tab/>See "
    '<text:a xlink:href="https://example.com">example.com</text:a>.'
    "<office:annotation><dc:creator>Legal</dc:creator><text:p>Check this.</text:p></office:annotation>"
    '<draw:frame draw:name="logo"><draw:image xlink:href="Pictures/logo.png"><text:p>Logo</text:p></draw:image>'
    "</draw:frame>"
    "<text:line-break/>Second line.</text:p>"
    "<text:list><text:list-item><text:p>First term.</text:p></text:list-item>"
    "<text:list-item><text:p>Second term.</text:p></text:list-item></text:list>"
    "<table:table><table:table-header-rows><table:table-row>"
    "<table:table-cell><text:p>Party</text:p></table:table-cell><table:table-cell><text:p>Role</text:p>"
    "</table:table-cell></table:table-row></table:table-header-rows>"
    "<table:table-row><table:table-cell><text:p>Acme</text:p><text:p>Corp.</text:p></table:table-cell>"
    "<table:table-cell><text:p>Provider</text:p></table:table-cell>"
    '<table:table-cell table:number-columns-repeated="1000"/></table:table-row></table:table>'
    "<text:section><text:p>After the table.</text:p></text:section>"
)


def test_odt_paragraphs_lists_tables_and_notes_are_read_as_a_reader_shows_them():
    """LibreOffice's and Word's OpenDocument text: headings, paragraphs and list items in order with their
    spaces, tabs, line breaks and links; a table's cells (a cell's paragraphs joined, a repeated empty cell
    read once); the footnote after the body without its citation mark; no tracked deletion, comment or image."""
    content = make_odt(ODT_CONTRACT)
    assert sniff_content_type(content) == ODT
    parsed = parse_document(content, ODT)
    assert parsed.text == (
        "MASTER SERVICES AGREEMENT\n\n"
        "Governed by   New York law.\tSee example.com.\nSecond line.\n\n"
        "First term.\n\nSecond term.\n\n"
        "| Party | Role |\n| Acme Corp. | Provider |  |\n\n"
        "After the table.\n\n"
        "As amended."
    )
    rows = parsed.tables[0]["rows"]
    assert [[parsed.text[start:end] for start, end in row][:2] for row in rows] == [
        ["Party", "Role"],
        ["Acme Corp.", "Provider"],
    ]


def test_odt_fields_that_hide_a_paragraph_or_text_are_read_as_they_were_saved():
    """A hidden-paragraph field hides its paragraph while its condition held when saved (`text:is-hidden`); a
    hidden-text field shows its text only while it is not hidden."""
    body = (
        '<text:p>Kept.<text:hidden-paragraph text:condition="ooow:1" text:is-hidden="false"/></text:p>'
        '<text:p>Dropped.<text:span><text:hidden-paragraph text:condition="ooow:1" text:is-hidden="true"/>'
        "</text:span></text:p>"
        '<text:p>Fee: <text:hidden-text text:condition="ooow:0" text:string-value="$5" text:is-hidden="false">$5'
        '</text:hidden-text><text:hidden-text text:condition="ooow:1" text:string-value=" (draft)" '
        'text:is-hidden="true"> (draft)</text:hidden-text>.</text:p>'
    )
    assert parse_document(make_odt(body), ODT).text == "Kept.\n\nFee: $5."


def test_odt_text_boxes_and_shapes_are_read_after_the_paragraph_they_are_anchored_in():
    """A text box's paragraphs and tables after its paragraph, one anchored to the page where it stands, a shape's
    text in a cell within the cell; an image's own text is not read."""
    box = (
        '<draw:frame text:anchor-type="as-char"><draw:text-box><text:p>Boxed note.</text:p><table:table>'
        "<table:table-row><table:table-cell><text:p>Fee</text:p></table:table-cell><table:table-cell>"
        "<text:p>$5</text:p></table:table-cell></table:table-row></table:table></draw:text-box></draw:frame>"
    )
    body = (
        f"<text:p>Intro.{box} Continues.</text:p>"
        '<draw:frame text:anchor-type="page"><draw:text-box><text:p>Page box.</text:p></draw:text-box></draw:frame>'
        "<table:table><table:table-row><table:table-cell><text:p>Rate<draw:custom-shape><text:p>5 %</text:p>"
        "</draw:custom-shape></text:p></table:table-cell></table:table-row></table:table>"
        '<text:p>Last.<draw:frame><draw:image xlink:href="Pictures/a.png"><text:p>Image text</text:p></draw:image>'
        "</draw:frame></text:p>"
    )
    parsed = parse_document(make_odt(body), ODT)
    assert (
        parsed.text
        == "Intro. Continues.\n\nBoxed note.\n\n| Fee | $5 |\n\nPage box.\n\n| Rate 5 % |\n\nLast."
    )


def test_odt_headers_and_footers_of_the_page_styles_it_uses_are_read_once_after_the_notes():
    """The default page style's and those a paragraph style names, first page's, default and left pages' parts,
    all headers before all footers, each paragraph or table once; one not shown, or of a page style nothing
    uses, is not read."""
    page = "<style:header><text:p>Hidden.</text:p></style:header>"
    master_pages = (
        '<style:master-page style:name="Standard">'
        "<style:header><text:p>Acme Corp. \u2014 Confidential</text:p></style:header>"
        "<style:header-left><text:p>Even <text:span>pages</text:span>.</text:p></style:header-left>"
        '<style:header-first style:display="false"><text:p>Not shown.</text:p></style:header-first>'
        "<style:footer><text:p>Page <text:page-number>1</text:page-number></text:p>"
        "<table:table><table:table-row><table:table-cell><text:p>Draft</text:p></table:table-cell>"
        "</table:table-row></table:table></style:footer>"
        "</style:master-page>"
        f'<style:master-page style:name="Envelope">{page.replace("Hidden", "Unused")}</style:master-page>'
        '<style:master-page style:name="Landscape"><style:header-first><text:list><text:list-item>'
        "<text:p>Schedule A</text:p></text:list-item></text:list></style:header-first>"
        "<style:header><text:p>Acme Corp. \u2014 Confidential</text:p></style:header>"
        "<style:footer><text:p>Page <text:page-number>4</text:page-number></text:p></style:footer>"
        "</style:master-page>"
    )
    content = make_odt(
        '<text:p>Terms.<text:note text:note-class="footnote"><text:note-body><text:p>A note.</text:p>'
        '</text:note-body></text:note></text:p><text:p text:style-name="P1">Schedule.</text:p>',
        automatic_styles='<style:style style:name="P1" style:family="paragraph" style:master-page-name="Landscape"/>',
        master_pages=master_pages,
    )
    assert parse_document(content, ODT).text == (
        "Terms.\n\nSchedule.\n\nA note.\n\nAcme Corp. \u2014 Confidential\n\nEven pages.\n\nSchedule A\n\n"
        "Page 1\n\n| Draft |\n\nPage 4"
    )


def _odt_attributes(attributes: dict[str, str]) -> str:
    """`text_start_value="4"` as ` text:start-value="4"`."""
    return "".join(
        f' {name.replace("_", ":", 1).replace("_", "-")}="{value}"' for name, value in attributes.items()
    )


def _odt_level(level: int, fmt: str = "1", suffix: str = ".", **attributes: str) -> str:
    return (
        f'<text:list-level-style-number text:level="{level}" style:num-format="{fmt}" style:num-suffix="{suffix}"'
        f"{_odt_attributes(attributes)}/>"
    )


def _odt_items(*items: str, **attributes: str) -> str:
    """A list of these items: a text as an item of one paragraph, markup as it is."""
    markup = "".join(
        item if item.startswith("<") else f"<text:list-item><text:p>{item}</text:p></text:list-item>"
        for item in items
    )
    return f"<text:list{_odt_attributes(attributes)}>{markup}</text:list>"


def test_odt_list_items_carry_the_labels_their_list_styles_count():
    """Nested levels counting on under their item, a level showing the one above (`display-levels`), prefixes
    and suffixes, roman numerals and letters, a start value; an item's second paragraph, a list header and a
    bulleted list unlabelled; a list starting again, continuing the one before, or continuing a named one; a
    list with no style of its own numbered by its paragraphs' style."""
    legal = (
        '<text:list-style style:name="Legal">'
        f"{_odt_level(1)}{_odt_level(2, text_display_levels='2')}"
        f"{_odt_level(3, 'a', ')', style_num_prefix='(')}{_odt_level(4, 'i')}"
        "</text:list-style>"
    )
    automatic = (
        f'{legal}<text:list-style style:name="Roman">{_odt_level(1, "I", text_start_value="4")}</text:list-style>'
        '<text:list-style style:name="Dots"><text:list-level-style-bullet text:level="1" text:bullet-char="•"/>'
        "</text:list-style>"
        '<style:style style:name="P9" style:family="paragraph" style:parent-style-name="Numbered"/>'
    )
    styles = '<style:style style:name="Numbered" style:family="paragraph" style:list-style-name="Roman"/>'
    nested = (
        "<text:list-item><text:p>Services.</text:p>"
        + _odt_items(
            "Scope.",
            "<text:list-item><text:p>Fees.</text:p><text:p>Paid monthly.</text:p>"
            + _odt_items(
                "Late fees.",
                "<text:list-item><text:p>Interest.</text:p>"
                + _odt_items("Daily.", "Capped.")
                + "</text:list-item>",
            )
            + "</text:list-item>",
        )
        + "</text:list-item>"
    )
    body = (
        _odt_items("Definitions.", nested, "Term.", text_style_name="Legal", xml_id="main")
        + "<text:p>Between.</text:p>"
        + _odt_items(
            "<text:list-header><text:p>Headed.</text:p></text:list-header>", "Again.", text_style_name="Legal"
        )
        + _odt_items("Continued.", text_style_name="Legal", text_continue_numbering="true")
        + _odt_items("Named.", text_style_name="Legal", text_continue_list="main")
        + _odt_items("Bullet.", text_style_name="Dots")
        + '<text:list><text:list-item><text:p text:style-name="P9">By its style.</text:p></text:list-item>'
        '<text:list-item><text:p text:style-name="P9">And on.</text:p></text:list-item></text:list>'
        + _odt_items(
            "Fourth.",
            '<text:list-item text:start-value="9"><text:p>Ninth.</text:p></text:list-item>',
            text_style_name="Roman",
        )
    )
    text = parse_document(make_odt(body, automatic_styles=automatic, styles=styles), ODT).text
    assert text.split("\n\n") == [
        "1. Definitions.",
        "2. Services.",
        "2.1. Scope.",
        "2.2. Fees.",
        "Paid monthly.",
        "(a) Late fees.",
        "(b) Interest.",
        "i. Daily.",
        "ii. Capped.",
        "3. Term.",
        "Between.",
        "Headed.",
        "1. Again.",
        "2. Continued.",
        "4. Named.",
        "Bullet.",
        "IV. By its style.",
        "V. And on.",
        "IV. Fourth.",
        "IX. Ninth.",
    ]


def test_odt_headings_are_numbered_by_the_outline_style_and_their_cached_numbers_are_not_read_twice():
    outline = (
        '<text:outline-style style:name="Outline">'
        '<text:outline-level-style text:level="1" style:num-format="1" style:num-prefix="Article "/>'
        '<text:outline-level-style text:level="2" style:num-format="1" text:display-levels="2"/>'
        '<text:outline-level-style text:level="3" style:num-format=""/>'
        "</text:outline-style>"
    )
    body = (
        '<text:h text:outline-level="1"><text:number>Article 1</text:number>Definitions</text:h>'
        '<text:h text:outline-level="2"><text:number>1.1</text:number>Terms</text:h>'
        '<text:h text:outline-level="3">Unnumbered level</text:h>'
        "<text:p>Body.</text:p>"
        '<text:h text:outline-level="2">More terms</text:h>'
        '<text:h text:outline-level="1">Payment</text:h>'
        '<text:h text:outline-level="2">Fees</text:h>'
        '<text:h text:outline-level="1" text:is-list-header="true">Schedules</text:h>'
        '<text:list text:style-name="Outline"><text:list-item><text:h text:outline-level="1">Listed</text:h>'
        "</text:list-item></text:list>"
    )
    text = parse_document(make_odt(body, styles=outline), ODT).text
    assert text.split("\n\n") == [
        "Article 1 Definitions",
        "1.1 Terms",
        "Unnumbered level",
        "Body.",
        "1.2 More terms",
        "Article 2 Payment",
        "2.1 Fees",
        "Schedules",
        "Article 3 Listed",
    ]


def test_odt_text_hidden_by_its_style_or_in_a_hidden_section_is_left_out():
    """LibreOffice's hidden character attribute (`text:display="none"` on an automatic text style), a paragraph
    style based on a hidden one, a table whose style hides it and a section marked hidden are not read, in the
    body and in a header; a section shown is."""
    hidden = '<style:text-properties text:display="none"/>'
    automatic = (
        f'<style:style style:name="T1" style:family="text">{hidden}</style:style>'
        '<style:style style:name="P2" style:family="paragraph" style:parent-style-name="Secret"/>'
        '<style:style style:name="Tab1" style:family="table"><style:table-properties table:display="false"/>'
        "</style:style>"
    )
    styles = f'<style:style style:name="Secret" style:family="paragraph">{hidden}</style:style>'
    master_pages = (
        '<style:master-page style:name="Standard"><style:header><text:p>Acme<text:span text:style-name="T1">'
        " internal</text:span> Corp.</text:p></style:header></style:master-page>"
    )
    body = (
        '<text:p>Fees are <text:span text:style-name="T1">not </text:span>payable.</text:p>'
        '<text:p text:style-name="P2">Drafting note.</text:p>'
        '<table:table table:style-name="Tab1"><table:table-row><table:table-cell><text:p>Old</text:p>'
        "</table:table-cell></table:table-row></table:table>"
        '<text:section text:name="Alt" text:display="none"><text:p>Alternative clause.</text:p></text:section>'
        '<text:section text:name="Main"><text:p>Main clause.</text:p></text:section>'
    )
    parsed = parse_document(
        make_odt(body, automatic_styles=automatic, styles=styles, master_pages=master_pages), ODT
    )
    assert parsed.text == "Fees are payable.\n\nMain clause.\n\nAcme Corp."
    assert parsed.tables == []


def test_an_odt_objects_embedded_in_frames_are_read_where_they_stand():
    """A Calc sheet and a chart (its data table) embedded in frames, each its own `content.xml` in the package;
    a formula (MathML) gives nothing, and an object the package lacks is left out."""
    office = (
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
        'xmlns:chart="urn:oasis:names:tc:opendocument:xmlns:chart:1.0"'
    )

    def content(document: str) -> bytes:
        return f"<office:document-content {office}><office:body>{document}</office:body></office:document-content>".encode()

    def cells(*values: str) -> str:
        return (
            "<table:table-row>"
            + "".join(f"<table:table-cell><text:p>{value}</text:p></table:table-cell>" for value in values)
            + "</table:table-row>"
        )

    def frame(href: str) -> str:
        return f'<draw:frame draw:name="{href}"><draw:object xlink:href="./{href}"/></draw:frame>'

    package = make_odt(
        f"<text:p>Pricing:{frame('Object 1')}</text:p><text:p>Volumes:{frame('Object 2')}</text:p>"
        f"<text:p>Formula:{frame('Object 3')}{frame('Object 9')}</text:p><text:p>Signed.</text:p>"
    )
    package = _with_part(
        package,
        "Object 1/content.xml",
        content(
            f'<office:spreadsheet><table:table table:name="Rates">{cells("Support", "120")}</table:table></office:spreadsheet>'
        ),
    )
    package = _with_part(
        package,
        "Object 2/content.xml",
        content(
            '<office:chart><chart:chart><chart:plot-area/><table:table table:name="local-table">'
            f"<table:table-header-rows>{cells('', 'Units')}</table:table-header-rows>"
            f"<table:table-rows>{cells('Q1', '7')}</table:table-rows></table:table></chart:chart></office:chart>"
        ),
    )
    package = _with_part(
        package, "Object 3/content.xml", b'<math xmlns="http://www.w3.org/1998/Math/MathML"><mi>x</mi></math>'
    )
    assert parse_document(package, ODT).text == (
        "Pricing:\n\n| Support | 120 |\n\nVolumes:\n\n|  | Units |\n| Q1 | 7 |\n\nFormula:\n\nSigned."
    )


def test_an_odt_without_text_or_with_broken_xml_fails_with_the_reason():
    with pytest.raises(ParseError, match="the document has no text"):
        parse_document(make_odt("<text:p/>"), ODT)
    with pytest.raises(ParseError, match="the file is damaged"):
        parse_document(make_odt("<text:p>Unclosed"), ODT)


@pytest.mark.parametrize("kind", ["rtf", "doc", "odt", "xls"])
def test_a_damaged_rtf_doc_odt_or_xls_is_read_or_fails_with_a_reason_never_an_exception(kind):
    """Truncated and byte-flipped copies of a valid file: each is refused at the door (415/413), read, or
    fails as ParseError (a failed document with its reason), never with another exception (a 500, a worker
    error)."""
    import contextlib
    import random

    from common.refusals import Refusal
    from tests.support.paths import ROOT

    valid = {
        "rtf": RTF_CONTRACT,
        "doc": make_doc(
            "Governed by \x13 HYPERLINK x \x14New York\x15 law.\rA\x07B\x07\x07",
            footnotes="Note.\r",
            page_stories=[""] * 7 + ["Head.\r", "", "Foot.\r", "First.\r", ""],
            title_pages=(True,),
            formatted=((0, 8, 0x0800), (12, 20, 0x083C)),
        ),
        "odt": make_odt(
            ODT_CONTRACT,
            master_pages='<style:master-page style:name="Standard"><style:header><text:p>Head.</text:p>'
            "</style:header></style:master-page>",
        ),
        "xls": (ROOT / "tests" / "data" / "office" / "fox.xls").read_bytes(),
    }[kind]
    rng = random.Random(11)
    for trial in range(150):
        damaged = bytearray(valid)
        if trial % 2:
            del damaged[rng.randrange(1, len(damaged)) :]
        for _ in range(rng.randrange(1, 8)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        try:
            content_type = sniff_content_type(bytes(damaged))
        except Refusal:
            continue
        with contextlib.suppress(ParseError):
            parse_document(bytes(damaged), content_type)


def test_an_excel_97_workbook_saved_by_excel_reads_sheet_by_sheet():
    from tests.support.paths import ROOT

    content = (ROOT / "tests" / "data" / "office" / "fox.xls").read_bytes()
    assert sniff_content_type(content) == XLS
    parsed = parse_document(content, XLS)
    assert (
        parsed.text
        == "Sheet: Sheet1\n\n| the | quick | brown | fox |\n| jumps | over the |\n| lazy |\n|  | dog |"
    )
    assert len(parsed.tables) == 1


def test_an_excel_97_workbook_shows_numbers_percentages_dates_and_booleans_as_the_sheet_does():
    """As an XLSX is read: a page per sheet, a whole number without `.0`, a number to 15 significant digits, a
    percentage by its format's decimals, a date in ISO 8601, an empty trailing cell left out."""
    import datetime

    import xlwt

    book = xlwt.Workbook()
    figures = book.add_sheet("Q3")
    rows = [
        ("Revenue", 1250.0, None),
        ("Growth", 0.256, "0.0%"),
        ("Ratio", 2 / 3, None),
        ("Closed", datetime.datetime(2024, 3, 31), "YYYY-MM-DD"),
        ("Audited", True, None),
    ]
    for row, (label, value, number_format) in enumerate(rows):
        figures.write(row, 0, label)
        style = xlwt.easyxf(num_format_str=number_format) if number_format else xlwt.Style.default_style
        figures.write(row, 1, value, style)
    book.add_sheet("Notes").write(0, 0, "Unaudited.")
    out = io.BytesIO()
    book.save(out)
    content = out.getvalue()
    assert sniff_content_type(content) == XLS
    parsed = parse_document(content, XLS)
    assert parsed.text == (
        "Sheet: Q3\n\n| Revenue | 1250 |\n| Growth | 25.6% |\n| Ratio | 0.666666666666667 |\n"
        "| Closed | 2024-03-31 |\n| Audited | True |\n\n"
        "Sheet: Notes\n\n| Unaudited. |"
    )
    assert parsed.page_count == 2 and parsed.text[parsed.page_starts[1] :].startswith("Sheet: Notes")


def test_a_damaged_excel_97_workbook_fails_with_the_reason():
    import xlwt

    book = xlwt.Workbook()
    book.add_sheet("Q3").write(0, 0, "Revenue")
    out = io.BytesIO()
    book.save(out)
    damaged = bytearray(out.getvalue())
    damaged[512:1024] = bytes(512)
    assert sniff_content_type(bytes(damaged)) == XLS
    with pytest.raises(ParseError, match="the workbook is damaged: Unsupported format, or corrupt file"):
        parse_document(bytes(damaged), XLS)


def _xls(build) -> bytes:
    import xlwt

    book = xlwt.Workbook()
    build(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_excel_97_workbook_encrypted_with_a_password_fails_saying_so():
    """A FILEPASS record after the workbook's BOF is how Excel marks an encrypted workbook."""
    import olefile

    from tests.support.documents import make_ole

    plain = _xls(lambda book: book.add_sheet("Q3").write(0, 0, "Revenue"))
    with olefile.OleFileIO(io.BytesIO(plain)) as ole:
        stream = ole.openstream("Workbook").read()
    bof_end = 4 + int.from_bytes(stream[2:4], "little")
    filepass = (0x2F).to_bytes(2, "little") + (6).to_bytes(2, "little") + bytes(6)
    encrypted = make_ole([("Workbook", stream[:bof_end] + filepass + stream[bof_end:])])
    assert sniff_content_type(encrypted) == XLS
    with pytest.raises(
        ParseError, match="the workbook is encrypted with a password; send it without the password"
    ):
        parse_document(encrypted, XLS)


def test_an_excel_97_sheets_formatted_blank_cells_past_a_rows_last_value_are_never_read(monkeypatch):
    """A few bytes of BIFF format a whole sheet's cells; only the cells up to each row's last value are read."""
    import xlrd
    import xlwt

    def build(book) -> None:
        sheet = book.add_sheet("Q3")
        shaded = xlwt.easyxf("pattern: pattern solid;")
        sheet.write(0, 0, "Revenue")
        sheet.write(0, 2, 1250)
        for row in range(300):
            for column in range(3 if row == 0 else 0, 200):
                sheet.write(row, column, None, shaded)

    content = _xls(build)
    reads = []
    cell = xlrd.sheet.Sheet.cell
    monkeypatch.setattr(
        xlrd.sheet.Sheet, "cell", lambda sheet, row, column: reads.append(1) or cell(sheet, row, column)
    )
    assert parse_document(content, XLS).text == "Sheet: Q3\n\n| Revenue |  | 1250 |"
    assert len(reads) == 3


def test_a_document_holding_only_files_is_read_where_one_is_of_a_type_quire_reads():
    """A cover document whose only content is files shown as icons has no text of its own and is read for
    them; one whose files are all of types Quire does not read fails, saying so."""

    def cover(label: str, data: bytes) -> bytes:
        return _with_alt_chunks(
            docx_of(f"<w:p {W}>{icon_run('rIdFile')}</w:p>"),
            {"rIdFile": ("embeddings/oleObject1.bin", _packaged(label, data))},
            "oleObject",
        )

    parsed = parse_document(cover("terms.txt", b"Net 30 days."), DOCX)
    assert parsed.text == "" and [a.filename for a in parsed.attachments] == ["terms.txt"]
    with pytest.raises(ParseError, match=r"^the document has no text, nor a file of a type Quire reads$"):
        parse_document(cover("chime.wav", b"RIFF\x24\x00\x00\x00WAVEfmt "), DOCX)
    with pytest.raises(ParseError, match=r"^the document has no text$"):
        parse_document(docx_of(f"<w:p {W}>{run(' ')}</w:p>"), DOCX)


def test_an_xlsx_with_a_dde_link_is_read():
    """Excel writes a DDE link (a market-data feed, `=BLP|...`) as an external link part without relationships
    of its own; the cells still hold the values last fetched."""
    source = make_xlsx({"Prices": [["Ticker", "Last"], ["ACME", 41.5]]})
    link = (
        '<externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<ddeLink ddeService="BLP" ddeTopic="ACME Equity"><ddeItems><ddeItem name="PX_LAST"/></ddeItems>'
        "</ddeLink></externalLink>"
    )
    relation = (
        '<Relationship Id="rIdDde" Target="externalLinks/externalLink1.xml" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/externalLink"/>'
    )
    reference = (
        b'</sheets><externalReferences><externalReference xmlns:r="http://schemas.openxmlformats.org/'
        b'officeDocument/2006/relationships" r:id="rIdDde"/></externalReferences>'
    )
    workbook = _rezipped(
        source,
        {
            "xl/workbook.xml": lambda data: data.replace(b"</sheets>", reference),
            "xl/_rels/workbook.xml.rels": lambda data: data.replace(
                b"</Relationships>", relation.encode() + b"</Relationships>"
            ),
        },
        {"xl/externalLinks/externalLink1.xml": link},
    )
    parsed = parse_document(workbook, XLSX)
    assert parsed.text == "Sheet: Prices\n\n| Ticker | Last |\n| ACME | 41.5 |"


def test_xlsx_text_boxes_charts_smartart_and_objects_are_read_after_their_sheets_cells():
    """What a worksheet draws over its cells follows its table, anchor by anchor from the top (a text box at
    row 3 before a chart at row 10, the copy Excel writes for older readers read once), then its objects: a
    workbook shown as its content read there, a PDF shown as an icon an attachment named by its part."""
    from tests.support.documents import make_ole

    pdf = make_pdf(["Auditor's letter."])
    xdr = 'xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"'
    a = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
    r = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
    mc = 'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'

    def anchor(row: int, body: str) -> str:
        return (
            f"<xdr:twoCellAnchor><xdr:from><xdr:col>4</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>{row}</xdr:row>"
            f"<xdr:rowOff>0</xdr:rowOff></xdr:from>{body}<xdr:clientData/></xdr:twoCellAnchor>"
        )

    def text_box(*paragraphs: str) -> str:
        runs = "".join(f"<a:p><a:r><a:t>{text}</a:t></a:r></a:p>" for text in paragraphs)
        return f"<xdr:sp><xdr:txBody><a:bodyPr/>{runs}</xdr:txBody></xdr:sp>"

    def frame(data: str) -> str:
        return f"<xdr:graphicFrame><a:graphic><a:graphicData>{data}</a:graphicData></a:graphic></xdr:graphicFrame>"

    drawing = (
        f"<xdr:wsDr {xdr} {a} {r} {mc}>"
        + anchor(
            10, frame('<c:chart xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart" r:id="rC"/>')
        )
        + anchor(
            2,
            f'<mc:AlternateContent><mc:Choice Requires="a14">{text_box("Key assumptions:", "5% growth")}'
            f"</mc:Choice><mc:Fallback>{text_box('Key assumptions:', '5% growth')}</mc:Fallback>"
            "</mc:AlternateContent>",
        )
        + anchor(
            20,
            frame(
                '<dgm:relIds xmlns:dgm="http://schemas.openxmlformats.org/drawingml/2006/diagram" r:dm="rD"/>'
            ),
        )
        + "</xdr:wsDr>"
    )
    smartart = (
        '<dgm:dataModel xmlns:dgm="http://schemas.openxmlformats.org/drawingml/2006/diagram" '
        f'{a}><dgm:ptLst><dgm:pt modelId="0" type="doc"/><dgm:pt modelId="1"><dgm:t><a:p><a:r><a:t>Close'
        "</a:t></a:r></a:p></dgm:t></dgm:pt></dgm:ptLst></dgm:dataModel>"
    )
    kinds = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

    def rels(*entries: tuple[str, str, str]) -> str:
        return (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            + "".join(f'<Relationship Id="{i}" Type="{kinds}/{k}" Target="{t}"/>' for i, k, t in entries)
            + "</Relationships>"
        )

    def ole_object(rid: str, aspect: str = "") -> str:
        return f'<oleObject {r} progId="Package" shapeId="1025" r:id="{rid}"{aspect}/>'

    objects = (
        f'<oleObjects><mc:AlternateContent {mc}><mc:Choice Requires="x14">'
        + ole_object("rP", ' dvAspect="DVASPECT_ICON"')
        + "</mc:Choice><mc:Fallback>"
        + ole_object("rP", ' dvAspect="DVASPECT_ICON"')
        + "</mc:Fallback></mc:AlternateContent>"
        + ole_object("rW")
        + "</oleObjects>"
    )
    workbook = _rezipped(
        make_xlsx({"Model": [["Metric", "FY2025"], ["Revenue", 455.5]]}),
        {
            "xl/worksheets/sheet1.xml": lambda data: data.replace(
                b"</worksheet>", f'<drawing {r} r:id="rDr"/>{objects}</worksheet>'.encode()
            )
        },
        {
            "xl/worksheets/_rels/sheet1.xml.rels": rels(
                ("rDr", "drawing", "../drawings/drawing1.xml"),
                ("rP", "oleObject", "../embeddings/oleObject2.bin"),
                ("rW", "oleObject", "../embeddings/oleObject3.bin"),
            ),
            "xl/drawings/drawing1.xml": drawing,
            "xl/drawings/_rels/drawing1.xml.rels": rels(
                ("rC", "chart", "../charts/chart1.xml"), ("rD", "diagramData", "../diagrams/data1.xml")
            ),
            "xl/charts/chart1.xml": _revenue_chart(),
            "xl/diagrams/data1.xml": smartart,
            "xl/embeddings/oleObject2.bin": make_ole([("CONTENTS", pdf)]),
            "xl/embeddings/oleObject3.bin": _rates_xls(),
        },
    )
    parsed = parse_document(workbook, XLSX)
    assert parsed.text == (
        "Sheet: Model\n\n| Metric | FY2025 |\n| Revenue | 455.5 |\n\nKey assumptions:\n5% growth\n\n"
        "Revenue ($m)\n\n|  | Revenue |\n| FY2024 | 410 |\n| FY2025 | 455.5 |\n\nClose\n\n"
        "Sheet: Rates\n\n| Support |"
    )
    assert [(a.filename, a.content) for a in parsed.attachments] == [("oleObject2.pdf", pdf)]


def test_text_a_slide_master_or_layout_adds_to_its_slides_is_read_once_on_the_first_slide_showing_it():
    """A text box on the master ("Confidential") or a layout shows on every slide that uses them, and is read
    once, after the first such slide's own shapes; their placeholders (the prompts "Click to edit Master
    title style", dates, slide numbers) are not text anyone wrote. A slide that hides the master's shapes
    (`showMasterSp="0"`) does not show them."""
    import pptx
    from pptx.util import Inches

    presentation = pptx.Presentation()
    title_only, blank = presentation.slide_layouts[5], presentation.slide_layouts[6]
    hidden = presentation.slides.add_slide(blank)
    for behind, left, text in ((presentation.slide_master, 0, "Confidential"), (title_only, 6, "Draft")):
        box = hidden.shapes.add_textbox(Inches(left), Inches(7), Inches(3), Inches(0.4))
        box.text = text
        behind.shapes._spTree.append(box._element)
    hidden.shapes.add_textbox(Inches(1), Inches(1), Inches(4), Inches(1)).text = "Cover"
    hidden._element.set("showMasterSp", "0")
    for title in ("Revenue", "Costs"):
        slide = presentation.slides.add_slide(title_only)
        slide.shapes.title.text = title
    out = io.BytesIO()
    presentation.save(out)
    parsed = parse_document(out.getvalue(), PPTX)
    assert parsed.text == "Cover\n\nRevenue\n\nDraft\n\nConfidential\n\nCosts"
    assert parsed.page_starts == [0, parsed.text.index("Revenue"), parsed.text.index("Costs")]


def _rtf_object(class_name: str, native: bytes, result: str = "") -> str:
    """An object an RTF embeds (`\\object\\objemb`): its OLE 1 data (MS-OLEDS: version, embedded, the class,
    empty topic and item names, the native data), as hex in lines, then its `\\result`."""
    import struct

    def string(value: str) -> bytes:
        return struct.pack("<I", len(value) + 1) + value.encode() + b"\0"

    data = struct.pack("<II", 0x0501, 2) + string(class_name) + string("") + string("")
    data += struct.pack("<I", len(native)) + native
    lines = "\n".join(data.hex()[i : i + 128] for i in range(0, len(data.hex()), 128))
    return (
        f"{{\\object\\objemb{{\\*\\objclass {class_name}}}{{\\*\\objdata\n{lines}\n}}{{\\result {result}}}}}"
    )


def test_rtf_objects_are_read_where_they_stand_or_kept_as_attachments():
    """A workbook an RTF embeds (shown as its content) is read after the paragraph it stands in; a file a
    packager object wraps is an attachment; an object in hidden text is neither, and one whose data is not hex is
    left out."""
    rtf = (
        "{\\rtf1\\ansi Fees: "
        + _rtf_object("Excel.Sheet.8", _rates_xls())
        + "\\par Signed copy: "
        + _rtf_object("Package", _package_native("signed.txt", b"Signed by both parties."))
        + "\\par {\\v Draft: "
        + _rtf_object("Package", _package_native("draft.txt", b"Draft."))
        + "}\\par End.}"
    )
    parsed = parse_document(rtf.encode(), RTF)
    assert parsed.text == "Fees:\n\nSheet: Rates\n\n| Support |\n\nSigned copy:\n\nEnd."
    damaged = "{\\rtf1\\ansi Fees: {\\object\\objemb{\\*\\objdata 0105zz}}\\par End.}"
    assert parse_document(damaged.encode(), RTF).text == "Fees:\n\nEnd."
    assert [(a.filename, a.content) for a in parsed.attachments] == [
        ("signed.txt", b"Signed by both parties.")
    ]


def test_an_opendocument_spreadsheet_is_read_as_a_workbook():
    """Each sheet a page and a table of the texts its cells show; a repeated cell or row counts as often (an
    empty cell once), and the empty rows a sheet's formatting runs on to (a million of them) are left out."""

    def row(*cells: str, repeated: int = 1) -> str:
        body = "".join(
            f"<table:table-cell><text:p>{cell}</text:p></table:table-cell>" if cell else "<table:table-cell/>"
            for cell in cells
        )
        return f'<table:table-row table:number-rows-repeated="{repeated}">{body}</table:table-row>'

    sheets = (
        '<table:table table:name="P&amp;L">'
        + row("Metric", "FY2025")
        + row("", "")
        + row("Revenue", "455.5")
        + '<table:table-row><table:table-cell table:number-columns-repeated="2"><text:p>n/a</text:p>'
        '</table:table-cell><table:table-cell table:number-columns-repeated="1021"/></table:table-row>'
        + row("", repeated=1048572)
        + "</table:table>"
        + '<table:table table:name="Empty">'
        + row("", repeated=1048576)
        + "</table:table>"
        + '<table:table table:name="Notes">'
        + row("Audited")
        + "</table:table>"
    )
    parsed = parse_document(make_ods(sheets), sniff_content_type(make_ods(sheets)))
    assert parsed.text == (
        "Sheet: P&L\n\n| Metric | FY2025 |\n| Revenue | 455.5 |\n| n/a | n/a |\n\nSheet: Empty\n\n"
        "Sheet: Notes\n\n| Audited |"
    )
    assert parsed.page_count == 3 and len(parsed.tables) == 2
    with pytest.raises(ParseError, match=r"^the document has no text$"):
        parse_document(make_ods('<table:table table:name="S">' + row("") + "</table:table>"), ODS)


def test_an_opendocument_presentation_is_read_slide_by_slide():
    """Each slide a page: its frames top to bottom, then left to right (whatever their units), a table in a
    frame as a table, then its notes; an empty placeholder reads nothing."""

    def frame(x: str, y: str, body: str, placeholder: bool = False) -> str:
        flag = ' presentation:placeholder="true"' if placeholder else ""
        return f'<draw:frame svg:x="{x}" svg:y="{y}"{flag}>{body}</draw:frame>'

    def box(*paragraphs: str) -> str:
        return "<draw:text-box>" + "".join(f"<text:p>{p}</text:p>" for p in paragraphs) + "</draw:text-box>"

    table = (
        "<table:table><table:table-row><table:table-cell><text:p>Revenue</text:p></table:table-cell>"
        "<table:table-cell><text:p>455.5</text:p></table:table-cell></table:table-row></table:table>"
    )
    slides = (
        '<draw:page draw:name="1">'
        + frame("1cm", "5cm", box("Grew 11%", "Margins held"))
        + frame("10cm", "1in", box("Results"))
        + frame("1cm", "10cm", table)
        + frame("1cm", "15cm", "<draw:text-box/>", placeholder=True)
        + "<presentation:notes>"
        + frame("2cm", "13cm", box("Mention the backlog."))
        + "</presentation:notes></draw:page>"
        + '<draw:page draw:name="2">'
        + frame("1cm", "1cm", box("Outlook"))
        + "</draw:page>"
    )
    parsed = parse_document(make_odp(slides), sniff_content_type(make_odp(slides)))
    assert parsed.text == (
        "Results\n\nGrew 11%\n\nMargins held\n\n| Revenue | 455.5 |\n\nNotes: Mention the backlog.\n\nOutlook"
    )
    assert parsed.page_starts == [0, parsed.text.index("Outlook")]


def _xls_with_drawings(texts: list[tuple[int, str]], storages: dict[str, bytes]) -> bytes:
    """An Excel 97 workbook (xlwt) with two sheets, the last one drawing objects of each (type, text) in
    `texts` (BIFF8 OBJ, then TXO with its text in a CONTINUE record: 6 a text box, 0x19 a cell's note), and
    the OLE files `storages` embedded as the objects' storages (`MBD...`)."""
    import struct

    import olefile
    import xlwt

    from tests.support.documents import make_ole

    book = xlwt.Workbook()
    book.add_sheet("Model").write(0, 0, "Revenue")
    book.add_sheet("Notes").write(0, 0, "Audited")
    out = io.BytesIO()
    book.save(out)
    with olefile.OleFileIO(io.BytesIO(out.getvalue())) as ole:
        stream = ole.openstream("Workbook").read()

    def record(kind: int, data: bytes) -> bytes:
        return struct.pack("<HH", kind, len(data)) + data

    drawn = b""
    for number, (kind, text) in enumerate(texts, 1):
        cmo = struct.pack("<HHHHH", 0x15, 0x12, kind, number, 0x6011) + bytes(12)
        drawn += record(0x5D, cmo + bytes(4))
        drawn += record(
            0x1B6, struct.pack("<HH", 0x212, 0) + bytes(6) + struct.pack("<HHH", len(text), 16, 0)
        )
        drawn += record(0x3C, b"\x00" + text.encode("latin-1"))
        drawn += record(0x3C, bytes(16))
    end = stream.rindex(struct.pack("<HH", 0x0A, 0))
    entries: list[tuple[str, bytes | None]] = [("Workbook", stream[:end] + drawn + stream[end:])]
    for storage, data in storages.items():
        with olefile.OleFileIO(io.BytesIO(data)) as embedded:
            entries.append((storage, None))
            entries.extend(
                ("/".join([storage, *path]), embedded.openstream(path).read()) for path in embedded.listdir()
            )
    return make_ole(entries)


def test_xls_text_boxes_are_read_after_their_sheets_cells_and_embedded_files_are_attachments():
    """A cell's note is not read (as an XLSX's comments are not)."""
    workbook = _xls_with_drawings(
        [(6, "Figures are unaudited."), (0x19, "Check with finance"), (2, "Draft")],
        {"MBD00000001": _packaged("letter.txt", b"Auditor's letter.")},
    )
    parsed = parse_document(workbook, sniff_content_type(workbook))
    assert parsed.text == (
        "Sheet: Model\n\n| Revenue |\n\nSheet: Notes\n\n| Audited |\n\nFigures are unaudited.\n\nDraft"
    )
    assert [(a.filename, a.content) for a in parsed.attachments] == [("letter.txt", b"Auditor's letter.")]


def test_an_xlsx_cell_with_an_empty_style_attribute_reads_without_a_format():
    """`s=""`, as some writers leave it, is no style."""
    workbook = _rezipped(
        make_xlsx({"Fees": [["Hosting", 5]]}),
        {"xl/worksheets/sheet1.xml": lambda data: data.replace(b'<c r="B1"', b'<c r="B1" s=""')},
    )
    assert parse_document(workbook, XLSX).text == "Sheet: Fees\n\n| Hosting | 5 |"


def _renamed(archive: bytes, rename: Callable[[str], str]) -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            target.writestr(rename(item.filename), source.read(item))
    return out.getvalue()


def test_an_office_package_named_with_backslashes_or_in_another_case_is_read():
    """Office reads a package whose part names some writers put in Windows form (`xl\\workbook.xml`), or in
    another case than its relationships name them (`xl/SharedStrings.xml`: part names are case-insensitive)."""
    workbook = make_xlsx({"Fees": [["Hosting", "monthly"]]})
    backslashed = _renamed(workbook, lambda name: name.replace("/", "\\"))
    assert sniff_content_type(backslashed) == XLSX
    assert parse_document(backslashed, XLSX).text == "Sheet: Fees\n\n| Hosting | monthly |"
    cased = _renamed(
        workbook,
        lambda name: {
            "xl/sharedStrings.xml": "xl/SharedStrings.xml",
            "[Content_Types].xml": "[content_types].xml",
        }.get(name, name).replace("/", "\\"),
    )
    assert parse_document(cased, XLSX).text == "Sheet: Fees\n\n| Hosting | monthly |"
    document = _renamed(make_docx(["Terms."]), lambda name: name.replace("/", "\\"))
    assert sniff_content_type(document) == DOCX and parse_document(document, DOCX).text == "Terms."


def test_an_xlsx_chart_sheet_is_a_page_of_its_chart_in_the_workbooks_order():
    import openpyxl
    from openpyxl.chart import BarChart, Reference

    book = openpyxl.Workbook()
    data = book.active
    data.title = "Data"
    data.append(["Year", "Revenue"])
    data.append(["FY2024", 410])
    chart = BarChart()
    chart.add_data(Reference(data, min_col=2, min_row=1, max_row=2), titles_from_data=True)
    book.create_chartsheet("Revenue chart", 0).add_chart(chart)
    out = io.BytesIO()
    book.save(out)
    import re

    chart = re.sub(rb"<c:externalData\b.*?</c:externalData>", b"", _revenue_chart())
    workbook = _rezipped(out.getvalue(), {"xl/charts/chart1.xml": lambda _: chart})
    parsed = parse_document(workbook, XLSX)
    assert parsed.text == (
        "Sheet: Revenue chart\n\nRevenue ($m)\n\n|  | Revenue |\n| FY2024 | 410 |\n| FY2025 | 455.5 |\n\n"
        "Sheet: Data\n\n| Year | Revenue |\n| FY2024 | 410 |"
    )
    assert parsed.page_count == 2


def test_a_hidden_sheet_is_read_and_marked_hidden():
    """A workbook's hidden sheet (often where the sensitive figures are) is read like any other, its name line
    saying it is hidden: XLSX (`hidden`, `veryHidden`), XLS and ODS (a table style with `table:display="false"`)."""
    import openpyxl
    import xlwt

    book = openpyxl.Workbook()
    book.active.title = "Summary"
    book.active["A1"] = "Total"
    for name, state in (("Payroll", "hidden"), ("Keys", "veryHidden")):
        sheet = book.create_sheet(name)
        sheet["A1"] = name.lower()
        sheet.sheet_state = state
    out = io.BytesIO()
    book.save(out)
    assert parse_document(out.getvalue(), XLSX).text == (
        "Sheet: Summary\n\n| Total |\n\nSheet: Payroll (hidden)\n\n| payroll |\n\nSheet: Keys (hidden)\n\n| keys |"
    )
    old = xlwt.Workbook()
    old.add_sheet("Summary").write(0, 0, "Total")
    hidden = old.add_sheet("Payroll")
    hidden.write(0, 0, "payroll")
    hidden.visibility = 1
    out = io.BytesIO()
    old.save(out)
    assert parse_document(out.getvalue(), XLS).text == (
        "Sheet: Summary\n\n| Total |\n\nSheet: Payroll (hidden)\n\n| payroll |"
    )
    cell = "<table:table-row><table:table-cell><text:p>{}</text:p></table:table-cell></table:table-row>"
    sheets = (
        f'<table:table table:name="Summary">{cell.format("Total")}</table:table>'
        f'<table:table table:name="Payroll" table:style-name="ta2">{cell.format("payroll")}</table:table>'
    )
    styles = (
        '<style:style style:name="ta2" style:family="table">'
        '<style:table-properties table:display="false"/></style:style>'
    )
    assert parse_document(make_ods(sheets, automatic_styles=styles), ODS).text == (
        "Sheet: Summary\n\n| Total |\n\nSheet: Payroll (hidden)\n\n| payroll |"
    )


def test_an_opendocument_spreadsheets_text_boxes_and_charts_are_read_after_its_cells():
    """A sheet's drawings, on the sheet (`table:shapes`) or anchored in a cell, follow its table: a text box's
    text, and a chart (an embedded object) as its data table."""
    chart = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
        'xmlns:chart="urn:oasis:names:tc:opendocument:xmlns:chart:1.0"><office:body><office:chart><chart:chart>'
        "<table:table><table:table-rows><table:table-row><table:table-cell><text:p>FY2025</text:p>"
        "</table:table-cell><table:table-cell><text:p>455.5</text:p></table:table-cell></table:table-row>"
        "</table:table-rows></table:table></chart:chart></office:chart></office:body></office:document-content>"
    )
    box = "<draw:frame><draw:text-box><text:p>{}</text:p></draw:text-box></draw:frame>"
    sheets = (
        '<table:table table:name="Model"><table:shapes>'
        '<draw:frame><draw:object xlink:href="./Object 1"/></draw:frame></table:shapes>'
        "<table:table-row><table:table-cell><text:p>Revenue</text:p>"
        + box.format("Unaudited")
        + "</table:table-cell></table:table-row></table:table>"
    )
    workbook = _rezipped(make_ods(sheets), {}, {"Object 1/content.xml": chart})
    assert parse_document(workbook, ODS).text == (
        "Sheet: Model\n\n| Revenue |\n\n| FY2025 | 455.5 |\n\nUnaudited"
    )


def test_text_an_opendocument_presentations_master_page_and_footer_add_is_read_once():
    """As a PPTX master's: a master page's own text box and its footer frame, and the footer text slides use
    (`presentation:footer-decl`), are read once, after the first slide showing them; its placeholders (a
    title's prompt, a page number) are not, nor a footer where the slide's style hides footers."""
    box = (
        '<draw:frame svg:x="1cm" svg:y="{y}"{kind}><draw:text-box><text:p>{text}</text:p></draw:text-box>'
        "</draw:frame>"
    )
    masters = (
        '<style:master-page style:name="Default">'
        + box.format(
            y="1cm", kind=' presentation:class="title" presentation:placeholder="true"', text="Title"
        )
        + box.format(y="18cm", kind="", text="Strictly confidential")
        + box.format(y="19cm", kind=' presentation:class="footer"', text="Acme Corp")
        + box.format(y="19cm", kind=' presentation:class="page-number"', text="&lt;number&gt;")
        + "</style:master-page>"
    )
    styles = (
        '<style:style style:name="dp2" style:family="drawing-page">'
        '<style:drawing-page-properties presentation:display-footer="false"/></style:style>'
    )
    slides = (
        '<presentation:footer-decl presentation:name="ftr1">Board pack, Q3</presentation:footer-decl>'
        + "".join(
            f'<draw:page draw:style-name="{style}" draw:master-page-name="Default" presentation:use-footer-name="ftr1">'
            + box.format(y="2cm", kind="", text=title)
            + "</draw:page>"
            for style, title in (("dp2", "Cover"), ("dp1", "Results"), ("dp1", "Outlook"))
        )
    )
    deck = make_odp(slides, master_pages=masters, automatic_styles=styles)
    assert parse_document(deck, sniff_content_type(deck)).text == (
        "Cover\n\nStrictly confidential\n\nResults\n\nAcme Corp\n\nBoard pack, Q3\n\nOutlook"
    )
