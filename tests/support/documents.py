"""Small documents of every supported type, built in the test run."""

from __future__ import annotations

import io
import json


def make_pdf(pages: list[str]) -> bytes:
    """A minimal PDF with one text line per page (Helvetica), enough for pypdf's text extraction."""
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    font_ref = 3 + 2 * len(pages)
    for i, text in enumerate(pages):
        content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font_ref} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def make_docx(paragraphs: list[str]) -> bytes:
    import docx

    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_transcript() -> bytes:
    turns = [
        {"section": "prepared_remarks", "speaker": "Operator", "text": "Welcome to the third quarter call."},
        {"section": "prepared_remarks", "speaker": "Jane Doe", "text": "Revenue rose 12% to $1.2 billion."},
        {"section": "qa", "speaker": "Sam Lee", "text": "How do you see margins next year?"},
        {"section": "qa", "speaker": "Jane Doe", "text": "We expect gross margin of about 40%."},
    ]
    return json.dumps({"turns": turns}).encode()


CONTRACT = """MUTUAL NON-DISCLOSURE AGREEMENT

This Mutual Non-Disclosure Agreement (the "Agreement") is entered into as of March 12, 2019 (the "Effective Date") by and between Acme Corp, a Delaware corporation ("Acme"), and Beta LLC, a New York limited liability company ("Beta").

1. Term. This Agreement shall remain in effect for a period of five (5) years from the Effective Date and shall automatically renew for successive one (1) year terms unless either party gives written notice of non-renewal at least ninety (90) days before the end of the then-current term.

2. Governing Law. This Agreement shall be governed by and construed in accordance with the laws of the State of Delaware, without regard to its conflict of laws principles.

3. Non-Solicitation. During the term of this Agreement and for one year thereafter, neither party shall solicit for employment any employee of the other party.

4. Limitation of Liability. In no event shall either party's aggregate liability under this Agreement exceed one hundred thousand dollars ($100,000).

5. Assignment. Neither party may assign this Agreement without the prior written consent of the other party.
"""
