"""Documents through the public API and a real worker: sniffing, parsing, chunks, vectors, search."""

import hashlib
import io
import itertools
import re
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy
import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection
from django.test import override_settings
from django_tenants.utils import tenant_context

from quire.documents.chunking import chunk_text, embedding_text, embedding_texts
from quire.documents.models import Chunk, Document
from quire.documents.parsing import parse_document
from quire.documents.sniffing import (
    DOCX,
    HTML,
    PDF,
    TEXT,
    TRANSCRIPT,
    UnsupportedDocument,
    sniff_content_type,
)
from tests.support import Api, wait_for
from tests.support.documents import CONTRACT, make_docx, make_pdf, make_transcript


def upload(api: Api, name: str, content: bytes, content_type: str = "application/octet-stream"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return api.client.post(
        "/v1/documents",
        {"file": SimpleUploadedFile(name, content, content_type=content_type)},
        **api._headers(None),
    )


def wait_ready(api: Api, doc_id: str) -> dict:
    def done():
        body = api.get(f"/v1/documents/{doc_id}").json()
        return body if body["status"] in ("ready", "failed") else None

    return wait_for(done, timeout=120, interval=0.2)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (make_pdf(["Hello"]), PDF),
        (make_docx(["Hello"]), DOCX),
        (b"<!DOCTYPE html><html><body><p>Hi</p></body></html>", HTML),
        (make_transcript(), TRANSCRIPT),
        (
            b'{"prepared_remarks": [], "q_and_a": [{"speaker": "Operator", "speech": "Hi."}], "participants": []}',
            TRANSCRIPT,
        ),
        ("Plain text, caf\u00e9.".encode(), TEXT),
    ],
)
def test_sniffing_reads_the_bytes(content, expected):
    assert sniff_content_type(content) == expected


@pytest.mark.parametrize(
    "content", [b"\x89PNG\r\n\x1a\n\x00\x00binary", b'{"not": "a transcript"}', b"PK\x03\x04zip"]
)
def test_sniffing_refuses_what_it_cannot_read(content):
    with pytest.raises(UnsupportedDocument):
        sniff_content_type(content)


def test_pdf_page_map_gives_the_page_of_any_offset():
    parsed = parse_document(make_pdf(["First page words", "Second page words", "Third"]), PDF)
    assert parsed.page_count == 3
    assert parsed.page_at(parsed.text.index("First")) == 1
    assert parsed.page_at(parsed.text.index("Second page")) == 2
    assert parsed.page_at(len(parsed.text) - 1) == 3


def test_chunks_cover_the_text_on_sentence_boundaries_with_overlap():
    topics = ["law", "money", "cells", "stars", "ships", "music", "trees"]
    text = " ".join(f"Sentence number {i} talks about {topics[i % 7]}." for i in range(200))
    chunks = chunk_text(text, target_chars=300)
    assert len(chunks) > 5
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    for before, after in itertools.pairwise(chunks):
        assert after.start < before.end, "consecutive chunks overlap by a sentence"
        assert text[after.start - 2 : after.start].endswith(". ") or after.start == 0
        assert text[before.end - 1] == "."


CJK_CLAUSES = [
    "甲方应当在收到乙方书面通知后三十日内支付全部款项",
    "乙方保证所提供的货物符合国家标准及双方约定的质量要求",
    "任何一方未经对方书面同意不得将本合同项下的权利义务转让给第三方",
    "因本合同引起的或与本合同有关的任何争议由双方协商解决",
    "协商不成的任何一方均可向甲方所在地有管辖权的人民法院提起诉讼",
    "本合同自双方签字盖章之日起生效有效期为五年",
]


def _word_pieces() -> Callable[[str], int]:
    from tokenizers import Tokenizer

    from inference.embeddings import model_dir

    tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return lambda text: len(tokenizer.encode(text).ids)


def test_a_cjk_chunk_stays_within_what_the_encoder_reads_and_ends_at_a_sentence():
    articles = [
        f"第{n}条 "
        + "".join(f"{CJK_CLAUSES[(n + i) % 6]}\uff0c并遵守第{n + i}款。" for i in range(2 + n % 4))
        for n in range(1, 40)
    ]
    text = "合同\n\n" + "\n\n".join(articles)
    pieces = _word_pieces()
    chunks = chunk_text(text)
    assert len(chunks) > 10 and chunks[-1].end == len(text)
    for chunk in chunks:
        assert pieces(text[chunk.start : chunk.end]) <= 256, text[chunk.start : chunk.end]
        assert text[chunk.end - 1] == "。"
    unbroken = "甲方" * 900
    assert all(pieces(unbroken[c.start : c.end]) <= 256 for c in chunk_text(unbroken))


NON_LATIN_SENTENCES = {
    "ru": "Настоящий договор заключен между сторонами и вступает в силу с даты подписания. ",  # noqa: RUF001
    "el": "Η παρούσα σύμβαση συνάπτεται μεταξύ των μερών και τίθεται σε ισχύ. ",  # noqa: RUF001
    "he": "הסכם זה נחתם בין הצדדים ונכנס לתוקף במועד החתימה. ",
    "ar": "هذا العقد مبرم بين الطرفين ويدخل حيز التنفيذ من تاريخ التوقيع. ",
    "hi": "यह अनुबंध दोनों पक्षों के बीच किया गया है और हस्ताक्षर की तारीख से प्रभावी है। ",
}


@pytest.mark.parametrize("language", sorted(NON_LATIN_SENTENCES))
def test_a_chunk_in_a_script_the_vocabulary_splits_finely_stays_within_what_the_encoder_reads(language):
    text = NON_LATIN_SENTENCES[language] * 60
    pieces = _word_pieces()
    chunks = chunk_text(text)
    assert chunks[0].start == 0 and chunks[-1].end == len(text.rstrip())
    for chunk in chunks:
        assert pieces(text[chunk.start : chunk.end]) <= 256, (language, chunk)
    for read in embedding_texts(text, chunks):
        assert pieces(read) <= 256


def test_a_run_on_sentence_of_figures_is_cut_within_what_the_encoder_reads():
    clause = (
        "pursuant to Section 12.3(b)(iv) the amount of $1,234,567.89 plus 4.75% p.a. accrued from 2021-03-31 "
    )
    text = "The Borrower shall repay " + clause * 40 + "in full"
    pieces = _word_pieces()
    chunks = chunk_text(text)
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    assert all(pieces(text[c.start : c.end]) <= 256 for c in chunks)


def test_a_document_of_one_long_line_is_tokenized_in_parts_at_its_spaces(monkeypatch):
    from inference import embeddings
    from quire.documents import chunking

    read: list[str] = []

    def word_piece_starts(texts: list[str]) -> list[list[int]]:
        read.extend(texts)
        return original(texts)

    original = embeddings.word_piece_starts
    monkeypatch.setattr(chunking, "TOKENIZE_SEGMENT_CHARS", 1000)
    monkeypatch.setattr(embeddings, "word_piece_starts", word_piece_starts)
    text = (
        "Преамбула\n" + "The Borrower shall repay Настоящий договор 12.3(b)(iv) in full. " * 400 + "x" * 2500
    )
    whole = original(["Преамбула", text[10:]])
    expected = whole[0] + [10 + start for start in whole[1]]

    starts = list(chunking._word_piece_starts(text))

    assert max(len(part) for part in read) <= 1000
    assert starts[: len(expected) - 1] == expected[:-1]
    assert len(starts) == len(expected) + 2


def test_the_encoder_reads_each_sentence_once_without_the_repeated_one():
    text = " ".join(f"Clause {i} binds the parties_______ here." for i in range(60))
    chunks = chunk_text(text, target_chars=300)
    read = embedding_texts(text, chunks)
    assert len(read) == len(chunks) > 3
    assert read[0] == embedding_text(text[chunks[0].start : chunks[0].end])
    for before, after, words in zip(chunks[:-1], chunks[1:], read[1:], strict=True):
        assert after.start < before.end
        assert words == embedding_text(text[before.end : after.end].strip())
    assert " ".join(read).count("Clause 7 binds") == 1
    assert "____" not in " ".join(read)
    whole = chunk_text("One short sentence.")
    assert embedding_texts("One short sentence.", whole) == ["One short sentence."]


def test_filler_runs_do_not_push_a_chunks_words_past_the_encoders_window():
    from inference.embeddings import embed_texts

    titles = ["Term", "Payment", "Notices", "Arbitration In Singapore", "Assignment", "Counterparts"]
    chunk = " ".join(f"{i}. {title}{'.' * 120} {i + 3}" for i, title in enumerate(titles, 1))
    signature = "By: ______________________ Name: . . . . . . . . Title: -------- Date: ... *****"
    assert embedding_text(signature) == "By: ___ Name: ... Title: --- Date: ... ***"
    assert embedding_text("Revenue grew... slightly. Section 1.2.3 applies.") == (
        "Revenue grew... slightly. Section 1.2.3 applies."
    )
    read = embedding_text(chunk)
    assert read.startswith("1. Term... 4 2. Payment... 5") and "...." not in read
    raw, cleaned, query = embed_texts([chunk, read, "arbitration in Singapore"])
    assert cleaned @ query > raw @ query + 0.05, (cleaned @ query, raw @ query)


@pytest.mark.parametrize("distilled", [True, False])
def test_ingest_stores_the_chunk_encoders_vectors_unless_told_otherwise(tenant_a, distilled):
    import hashlib

    from django.core.files.base import ContentFile

    from inference.embeddings import embed_chunks, embed_texts, int8_is_faster
    from quire.documents.services import document_ingest

    text = f"Supplier ships within {30 + distilled} days. " * 40 + "Governing law is Delaware."
    digest = hashlib.sha256(text.encode()).hexdigest()
    with tenant_context(tenant_a.tenant), override_settings(QUIRE_INGEST_DISTILLED_CHUNKS=distilled):
        document = Document(filename="v.txt", content_type="text/plain", sha256=digest, size_bytes=len(text))
        document.file.save(digest, ContentFile(text.encode()), save=False)
        document.save()
        document_ingest(tenant=tenant_a.tenant, document_id=document.pk)
        chunks = list(Chunk.objects.filter(document=document).order_by("index"))
        read = embedding_texts(text, chunk_text(text))
    stored = numpy.array([chunk.embedding for chunk in chunks])
    embed = embed_chunks if distilled else embed_texts
    assert len(chunks) == len(read) > 1
    assert numpy.allclose(stored, embed(read, quantized=int8_is_faster()), atol=1e-5)
    other = embed_texts(read) if distilled else embed_chunks(read)
    assert not numpy.allclose(stored, other, atol=1e-2)


def test_upload_types_ingest_to_ready_with_vectors(celery_worker, api_a: Api, tenant_a):
    cases = {
        "contract.pdf": (make_pdf(["Governing law is Delaware.", "Term is five years."]), "application/pdf"),
        "memo.docx": (make_docx(["Board memo.", "Revenue grew."]), DOCX),
        "page.html": (
            b"<html><head><style>p{}</style></head><body><h1>Title</h1><p>Body text.</p></body></html>",
            "text/html",
        ),
        "call.json": (make_transcript(), "application/json"),
        "notes.txt": (b"Plain notes about a meeting.", "text/plain"),
    }
    ids = {}
    for name, (content, content_type) in cases.items():
        response = upload(api_a, name, content, content_type)
        assert response.status_code == 201, (name, response.content)
        ids[name] = response.json()["id"]
    for name, doc_id in ids.items():
        body = wait_ready(api_a, doc_id)
        assert body["status"] == "ready", (name, body)
        assert body["chunk_count"] >= 1
    pdf = api_a.get(f"/v1/documents/{ids['contract.pdf']}").json()
    assert pdf["page_count"] == 2
    html_text = api_a.get(f"/v1/documents/{ids['page.html']}/text").json()["text"]
    assert "Title" in html_text and "Body text." in html_text and "p{}" not in html_text
    call_text = api_a.get(f"/v1/documents/{ids['call.json']}/text").json()["text"]
    assert "Jane Doe: Revenue rose 12% to $1.2 billion." in call_text
    with tenant_context(tenant_a.tenant):
        chunk = Chunk.objects.filter(document_id=ids["notes.txt"]).first()
        assert len(chunk.embedding) == 384
        assert Document.objects.get(pk=ids["notes.txt"]).text[chunk.start : chunk.end] == chunk.text
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND indexname = 'chunk_embedding_hnsw'",
            [tenant_a.tenant.schema_name],
        )
        assert "hnsw" in cursor.fetchone()[0]


def test_text_range_and_page(celery_worker, api_a: Api):
    doc_id = upload(api_a, "two.pdf", make_pdf(["Alpha page", "Beta page"]), "application/pdf").json()["id"]
    wait_ready(api_a, doc_id)
    full = api_a.get(f"/v1/documents/{doc_id}/text").json()
    start = full["text"].index("Beta")
    part = api_a.get(f"/v1/documents/{doc_id}/text", start=start, end=start + 4).json()
    assert part["text"] == "Beta" and part["page_start"] == 2
    bad = api_a.get(f"/v1/documents/{doc_id}/text", start=5, end=10**6)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "range_out_of_bounds"
    assert api_a.get(f"/v1/documents/{doc_id}/text", start="x").json()["error"]["param"] == "start"


def test_a_text_range_out_of_bounds_names_the_bound_at_fault(api_a: Api):
    created = api_a.post("/v1/documents", {"text": "A short text for its range.", "filename": "r.txt"})
    path = f"/v1/documents/{created.json()['id']}/text"
    past_32_bits = (
        ({"start": 2**31 - 1}, "start"),
        ({"start": 3 * 10**9}, "start"),
        ({"start": 0, "end": 3 * 10**9}, "end"),
        ({"end": 10**20}, "end"),
    )
    for params, param in (({"start": 10**6}, "start"), ({"start": 0, "end": 10**6}, "end"), *past_32_bits):
        error = api_a.get(path, **params).json()["error"]
        assert (error["code"], error["param"]) == ("range_out_of_bounds", param), params


def test_a_text_window_is_cut_by_postgresql_in_code_points_of_the_stored_text(celery_worker, api_a: Api):
    from django.test.utils import CaptureQueriesContext

    text = "Caf\u00e9 \U0001f600 na\u00efve\r\n\u4e2d\u6587 end. " * 50
    created = api_a.post("/v1/documents", {"text": text, "filename": "w.txt"})
    wait_ready(api_a, created.json()["id"])
    path = f"/v1/documents/{created.json()['id']}/text"
    stored = api_a.get(path).json()
    assert stored["length"] == len(stored["text"]) > 0
    for start, end in ((0, 0), (5, 6), (6, 20), (len(stored["text"]) - 7, len(stored["text"]))):
        with CaptureQueriesContext(connection) as queries:
            window = api_a.get(path, start=start, end=end).json()
        assert (window.get("start"), window.get("end"), window.get("length")) == (
            start,
            end,
            stored["length"],
        ), window
        assert window["text"] == stored["text"][start:end], (start, end)
        reads = [q["sql"] for q in queries.captured_queries if '"documents_document"."text"' in q["sql"]]
        # Only inside LENGTH( or SUBSTRING(: the column itself is never read.
        assert reads and not any(re.search(r'(?<!\()"documents_document"\."text"', sql) for sql in reads), (
            reads
        )


def test_declared_type_mismatch_is_415(api_a: Api):
    response = upload(api_a, "fake.pdf", b"just some text, not a pdf", "application/pdf")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "content_type_mismatch"


def test_binary_is_415(api_a: Api):
    response = upload(api_a, "image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00binary")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_document"


@override_settings(QUIRE_MAX_DOCUMENT_BYTES=100)
def test_document_over_size_cap_is_413(api_a: Api):
    response = upload(api_a, "big.txt", b"x" * 101, "text/plain")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "document_too_large"


def test_broken_pdf_fails_with_reason_and_does_not_block_the_queue(celery_worker, api_a: Api):
    broken = upload(api_a, "broken.pdf", b"%PDF-1.4\nthis is not really a pdf", "application/pdf").json()[
        "id"
    ]
    after = api_a.post("/v1/documents", {"text": "A healthy document queued after a broken one."}).json()[
        "id"
    ]
    failed = wait_ready(api_a, broken)
    assert failed["status"] == "failed" and failed["failure_reason"]
    assert wait_ready(api_a, after)["status"] == "ready"


def test_delete_removes_chunks_and_vectors(celery_worker, api_a: Api, tenant_a):
    doc_id = api_a.post("/v1/documents", {"text": "Temporary document to delete. " * 20}).json()["id"]
    wait_ready(api_a, doc_id)
    response = api_a.delete(f"/v1/documents/{doc_id}")
    assert response.status_code == 200 and response.json()["deleted"] is True
    assert api_a.get(f"/v1/documents/{doc_id}").status_code == 404
    with tenant_context(tenant_a.tenant):
        assert not Chunk.objects.filter(document_id=doc_id).exists()


def test_search_ranks_chunks_with_spans(celery_worker, api_a: Api, api_b: Api):
    texts = {
        "law": CONTRACT,
        "bio": "Mitochondria are the powerhouse of the cell. They produce ATP through oxidative phosphorylation.",
        "sport": "The football match ended two to one after extra time in a packed stadium.",
    }
    ids = {
        k: api_a.post("/v1/documents", {"text": v, "filename": f"{k}.txt"}).json()["id"]
        for k, v in texts.items()
    }
    for doc_id in ids.values():
        wait_ready(api_a, doc_id)
    response = api_a.post(
        "/v1/search",
        {"query": "Which state's law governs the agreement?", "k": 3, "documents": list(ids.values())},
    )
    assert response.status_code == 200, response.content
    hits = response.json()["data"]
    assert hits[0]["document_id"] == ids["law"]
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    full = api_a.get(f"/v1/documents/{ids['law']}/text").json()["text"]
    assert full[hits[0]["start"] : hits[0]["end"]] == hits[0]["quote"]
    unfiltered = api_a.post("/v1/search", {"query": "ATP production in cells", "k": 2}).json()["data"]
    assert unfiltered[0]["document_id"] == ids["bio"]
    other = api_b.post("/v1/search", {"query": "ATP production in cells", "k": 5}).json()["data"]
    assert ids["bio"] not in {h["document_id"] for h in other}
    missing = api_b.post("/v1/search", {"query": "x", "documents": [ids["bio"]]})
    assert missing.status_code == 404


def test_a_search_limited_to_no_documents_is_refused_not_widened_to_every_document(api_a: Api):
    api_a.post(
        "/v1/documents", {"text": "Search scope: an empty list names no document.", "filename": "s.txt"}
    )
    response = api_a.post("/v1/search", {"query": "which documents", "documents": []})
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["param"] == "documents" and "leave" in error["message"]


def test_a_search_names_the_listed_documents_it_could_not_read(tenant_a, api_a: Api):
    """Documents listed but not ready (still ingesting, or failed) hold no searchable chunks: the answer names
    them with their status, in the order listed, once each, rather than leaving the client to guess why they
    never match."""
    with tenant_context(tenant_a.tenant):
        rows = {
            status: Document.objects.create(
                filename=f"{status}.txt",
                content_type=TEXT,
                sha256=hashlib.sha256(f"{status} {uuid.uuid4()}".encode()).hexdigest(),
                size_bytes=10,
                status=status,
            ).pk
            for status in ("failed", "ready", "embedding")
        }
    listed = [rows["embedding"], rows["ready"], rows["failed"], rows["embedding"]]
    response = api_a.post("/v1/search", {"query": "any clause", "documents": listed})
    assert response.status_code == 200, response.content
    assert response.json()["skipped_documents"] == [
        {"id": rows["embedding"], "status": "embedding"},
        {"id": rows["failed"], "status": "failed"},
    ]
    assert api_a.post("/v1/search", {"query": "any clause"}).json()["skipped_documents"] == []


def test_the_list_and_the_detail_count_without_reading_the_text(tenant_a, api_a: Api):
    import hashlib
    import re

    from django.test.utils import CaptureQueriesContext

    text = "Überall gilt: the Supplier shall deliver. " * 50

    def stored(filename: str, text: str, **fields) -> Document:
        return Document.objects.create(
            filename=filename,
            content_type="application/octet-stream",
            sha256=hashlib.sha256(f"listed {filename}".encode()).hexdigest(),
            size_bytes=1,
            file=filename,
            status="ready",
            text=text,
            metadata={"listed": "counted"},
            **fields,
        )

    with tenant_context(tenant_a.tenant):
        layout = {"lines": [[0, 10, 0, 1.0, 1.0, 2.0, 2.0]], "page_sizes": [[612, 792]]}
        document = stored("counted.pdf", text, page_starts=[0, 700, 1400], layout=layout)
        unpaged = stored("unpaged.txt", "short")
    try:
        with CaptureQueriesContext(connection) as queries:
            listed = api_a.get("/v1/documents", limit=10, **{"metadata[listed]": "counted"}).json()["data"]
        read = " ".join(q["sql"] for q in queries.captured_queries if "documents_document" in q["sql"])
        assert not re.search(r'(?<!LENGTH\()"documents_document"\."(text|layout|tables)"', read)
        counts = ("char_count", "page_count", "token_estimate")
        for row in listed:
            with CaptureQueriesContext(connection) as queries:
                detail = api_a.get(f"/v1/documents/{row['id']}").json()
            read = " ".join(q["sql"] for q in queries.captured_queries if "documents_document" in q["sql"])
            assert not re.search(r'(?<!LENGTH\()"documents_document"\."(text|layout|tables)"', read)
            assert {k: row[k] for k in counts} == {k: detail[k] for k in counts}
        by_id = {row["id"]: row for row in listed}
        assert by_id[document.pk]["char_count"] == len(text) and by_id[document.pk]["page_count"] == 3
        assert by_id[unpaged.pk]["page_count"] == 0 and by_id[unpaged.pk]["token_estimate"] == 2
    finally:
        with tenant_context(tenant_a.tenant):
            Document.objects.filter(pk__in=[document.pk, unpaged.pk]).delete()


def test_each_document_has_its_own_stored_file_whoever_uploaded_the_same_bytes(tenant_a, tenant_b):
    """S3 writes over a name that exists, so a name two documents shared would let one tenant's delete take
    another's bytes: names hold the tenant's schema and the document's id."""
    from quire.documents.services import document_create, document_delete

    content = f"The same memo, sent by two workspaces ({uuid.uuid4().hex}).".encode()
    stored = {}
    for provisioned in (tenant_a, tenant_b):
        with tenant_context(provisioned.tenant):
            document = document_create(
                tenant=provisioned.tenant,
                content=content,
                filename="same.txt",
                declared_type=None,
                max_bytes=10**6,
            ).document
            assert document.file.name == f"documents/{provisioned.tenant.schema_name}/{document.pk}"
            stored[provisioned] = document
    with tenant_context(tenant_b.tenant):
        document_delete(document=stored[tenant_b])
    with (
        tenant_context(tenant_a.tenant),
        Document.objects.get(pk=stored[tenant_a].pk).file.open("rb") as kept,
    ):
        assert kept.read() == content


def test_an_upload_that_fails_after_its_bytes_are_stored_leaves_no_file(tenant_a, monkeypatch):
    from quire.documents import services

    def refuse(**kwargs):
        raise RuntimeError("the audit log is unavailable")

    monkeypatch.setattr(services, "audit_record", refuse)
    stored = Path(settings.MEDIA_ROOT)
    before = set(stored.rglob("*"))
    with tenant_context(tenant_a.tenant), pytest.raises(RuntimeError):
        services.document_create(
            tenant=tenant_a.tenant,
            content=f"A memo the audit log refused ({uuid.uuid4().hex}).".encode(),
            filename="m.txt",
            declared_type=None,
            max_bytes=10**6,
        )
    assert set(stored.rglob("*")) == before


def test_documents_stored_under_a_shared_old_name_get_their_own(tenant_a, tenant_b):
    from django.core.files.storage import default_storage
    from django.core.management import call_command

    content = f"A memo stored before names were per document ({uuid.uuid4().hex}).".encode()
    digest = hashlib.sha256(content).hexdigest()
    old = default_storage.save(f"documents/2026/01/{digest}", ContentFile(content))
    ids = {}
    for provisioned in (tenant_a, tenant_b):
        with tenant_context(provisioned.tenant):
            ids[provisioned] = Document.objects.create(
                filename="old.txt", content_type=TEXT, sha256=digest, size_bytes=len(content), file=old
            ).pk
    with tenant_context(tenant_a.tenant):
        lost = Document.objects.create(
            filename="lost.txt",
            content_type=TEXT,
            sha256=uuid.uuid4().hex * 2,
            size_bytes=1,
            file="documents/lost",
        )
    out = io.StringIO()
    call_command("quire_storage_names", stdout=out)
    with tenant_context(tenant_a.tenant):
        assert Document.objects.get(pk=lost.pk).file.name == "documents/lost"
        lost.delete()
    assert not default_storage.exists(old)
    for provisioned, document_id in ids.items():
        with tenant_context(provisioned.tenant):
            document = Document.objects.get(pk=document_id)
            assert document.file.name == f"documents/{provisioned.tenant.schema_name}/{document_id}"
            with document.file.open("rb") as handle:
                assert handle.read() == content
    assert "old names deleted" in out.getvalue()


def test_bytes_whose_upload_rolled_back_are_deleted_by_the_orphan_sweep(tenant_a):
    import os
    import time

    from django.core.files.storage import default_storage
    from django.db import transaction

    from quire.documents.services import document_create, documents_orphans_delete

    def upload(text: str) -> Document:
        return document_create(
            tenant=tenant_a.tenant,
            content=f"{text} ({uuid.uuid4().hex}).".encode(),
            filename="m.txt",
            declared_type=None,
            max_bytes=10**6,
        ).document

    with tenant_context(tenant_a.tenant):
        kept = upload("A memo that stays")
        with pytest.raises(RuntimeError), transaction.atomic():
            rolled_back = upload("A memo whose request failed after the upload").file.name
            raise RuntimeError("the request failed later")
        with pytest.raises(RuntimeError), transaction.atomic():
            recent = upload("A memo rolled back a moment ago").file.name
            raise RuntimeError("the request failed later")
        assert default_storage.exists(rolled_back) and default_storage.exists(recent)
        two_days_ago = time.time() - 2 * 86400
        for name in (rolled_back, kept.file.name):
            os.utime(default_storage.path(name), (two_days_ago, two_days_ago))
        assert documents_orphans_delete() >= 1
        assert not default_storage.exists(rolled_back)
        assert default_storage.exists(recent) and default_storage.exists(kept.file.name)


def test_ingest_counts_the_texts_characters_and_lists_read_that_count_not_the_text(tenant_a):
    from django.db.models.functions import Length

    from quire.documents.services import document_ingest

    text = f"Le fournisseur livre sous {uuid.uuid4().hex[:6]} jours. 供应商在三十天内交货。 " * 30
    digest = hashlib.sha256(text.encode()).hexdigest()
    with tenant_context(tenant_a.tenant):
        document = Document(filename="c.txt", content_type="text/plain", sha256=digest, size_bytes=len(text))
        document.file.save(digest, ContentFile(text.encode()), save=False)
        document.save()
        assert Document.objects.without_text().get(pk=document.pk).counted_char_count == 0
        document_ingest(tenant=tenant_a.tenant, document_id=document.pk)
        stored = Document.objects.annotate(length=Length("text")).get(pk=document.pk)
        assert stored.text_chars == stored.length == len(stored.text) > 1000
        Document.objects.filter(pk=document.pk).update(text_chars=7)
        assert Document.objects.without_text().get(pk=document.pk).counted_char_count == 7
        Document.objects.filter(pk=document.pk).update(text_chars=None)
        assert Document.objects.without_text().get(pk=document.pk).counted_char_count == stored.length


def test_the_migration_after_the_count_fills_it_for_documents_ingested_before(tenant_a, monkeypatch):
    import importlib

    from django.core.management import call_command
    from django.db.models.functions import Length

    filling = importlib.import_module("quire.documents.migrations.0015_document_text_chars_filled")
    monkeypatch.setattr(filling, "BATCH", 2)
    with tenant_context(tenant_a.tenant):
        for n in range(5):
            text = f"Clause {n} of {uuid.uuid4().hex}. " * (n + 1)
            Document.objects.create(
                filename=f"{n}.txt",
                content_type="text/plain",
                sha256=hashlib.sha256(text.encode()).hexdigest(),
                size_bytes=len(text),
                text=text,
            )
        Document.objects.update(text_chars=None)
    schema = tenant_a.tenant.schema_name
    call_command("migrate_schemas", "documents", "0014", schema_name=schema, interactive=False, verbosity=0)
    call_command("migrate_schemas", "documents", schema_name=schema, interactive=False, verbosity=0)
    with tenant_context(tenant_a.tenant):
        rows = Document.objects.annotate(length=Length("text")).values_list("text_chars", "length")
        assert len(rows) >= 5 and all(chars == length for chars, length in rows)


def test_a_failed_documents_bytes_uploaded_again_ingest_it_again(celery_worker, make_tenant):
    """A document whose ingest failed for a reason that may pass (here its worker ended on every attempt) is
    ingested again when its bytes are uploaded again, where any other duplicate comes back unchanged."""
    from tenants.models import AuditEvent

    provisioned = make_tenant("retry-failed")
    api = Api(provisioned.issued_key.secret)
    text = f"Clause 1. The supplier delivers the goods within 30 days. {uuid.uuid4().hex}"
    doc_id = api.post("/v1/documents", {"text": text}).json()["id"]
    assert wait_ready(api, doc_id)["status"] == "ready"
    reason = "ingestion did not finish in 5 attempts: the worker process ended during each"
    with tenant_context(provisioned.tenant):
        Chunk.objects.filter(document_id=doc_id).delete()
        Document.objects.filter(pk=doc_id).update(
            status="failed", failure_reason=reason, chunk_count=0, ingest_attempts=5
        )

    again = api.post("/v1/documents", {"text": text})
    assert again.status_code == 200 and again.json()["id"] == doc_id
    assert again.json()["status"] == "pending" and not again.json().get("failure_reason"), again.json()
    ready = wait_ready(api, doc_id)
    assert ready["status"] == "ready", ready
    with tenant_context(provisioned.tenant):
        document = Document.objects.get(pk=doc_id)
        assert (
            document.chunk_count > 0
            and Chunk.objects.filter(document=document).count() == document.chunk_count
        )
        assert document.ingest_attempts == 1
    retries = AuditEvent.objects.filter(
        tenant_id=provisioned.tenant.pk, action="document.retry", object_id=doc_id
    )
    assert [event.details["failure_reason"] for event in retries] == [reason[:200]]

    unchanged = api.post("/v1/documents", {"text": text})
    assert unchanged.status_code == 200 and unchanged.json()["status"] == "ready"
    assert retries.count() == 1


def test_a_query_parameter_given_twice_is_refused_naming_it_from_2026_12_08(api_a: Api):
    created = api_a.post("/v1/documents", {"text": f"Twice asked {uuid.uuid4().hex}.", "filename": "q.txt"})
    path = f"/v1/documents/{created.json()['id']}/text?start=0&start=0"
    refused = api_a.client.get(path, **api_a._headers(None))
    error = refused.json()["error"]
    assert refused.status_code == 400 and (error["code"], error["param"]) == ("invalid_parameter", "start")
    older = api_a.client.get(path, **api_a._headers({"Quire-Version": "2026-12-07"}))
    assert older.status_code == 200, older.content
    usage = api_a.client.get("/v1/usage?group_by=day&group_by=kind", **api_a._headers(None))
    assert usage.status_code == 400 and usage.json()["error"]["param"] == "group_by"
    assert api_a.client.get("/v1/usage?group_by=kind", **api_a._headers(None)).status_code == 200
