"""The `quire` command line on an httpx mock transport: what it prints of the server's answers and how it
waits, no server needed."""

from __future__ import annotations

import httpx

BRACKETED = ["lease[draft].pdf", "memo [signed] v3.docx", "notes[/v2].txt", "[bold]x[/bold] :smile:.txt"]


def _page(rows: list[dict]) -> httpx.Response:
    return httpx.Response(200, json={"data": rows, "has_more": False, "next_cursor": None})


def test_server_text_is_printed_as_it_is_never_as_markup(mock_cli, tmp_path):
    def missing(request: httpx.Request) -> httpx.Response:
        error = {
            "type": "not_found_error",
            "code": "resource_missing",
            "message": "No such document: 'doc_[x]'.",
        }
        return httpx.Response(404, headers={"X-Request-Id": "req_abc123"}, json={"error": error})

    shown = mock_cli(missing, "documents", "get", "doc_x")
    assert shown.exit_code == 1
    assert "No such document: 'doc_[x]'." in shown.stderr and "[request req_abc123]" in shown.stderr

    docs = [{"id": f"doc_{i}", "filename": name, "status": "ready"} for i, name in enumerate(BRACKETED)]
    shown = mock_cli(lambda request: _page(docs), "documents", "list")
    assert shown.exit_code == 0, shown.output
    assert all(name in shown.stdout for name in BRACKETED)

    quote = "liability shall not exceed [insert amount] or [/b] in aggregate"
    result = {
        "job_id": "job_1",
        "output": {
            "clauses": [
                {
                    "category": "Cap [On] Liability",
                    "span": {"document_id": "doc_1", "start": 10, "end": 60, "quote": quote},
                }
            ]
        },
    }

    def job(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/jobs/job_1":
            return httpx.Response(200, json={"id": "job_1", "connector": "legal", "status": "succeeded"})
        return httpx.Response(200, json=result)

    shown = mock_cli(job, "jobs", "result", "job_1")
    assert shown.exit_code == 0, shown.output
    assert quote in shown.stdout and "Cap [On] Liability" in shown.stdout

    hits = [{"document_id": "doc_1", "start": 0, "end": 9, "score": 0.5, "quote": "see [Annex /A]"}]
    shown = mock_cli(lambda request: _page(hits), "search", "annex")
    assert shown.exit_code == 0, shown.output
    assert "see [Annex /A]" in shown.stdout

    clause_type = {
        "id": "cla_1",
        "key": "fm",
        "name": "Force [Majeure]",
        "status": "ready",
        "version": 1,
        "failure_reason": "passage [/i] unreadable",
        "near_misses": [{"score": 0.4, "document": "doc_1", "text": "acts of [God]"}],
    }
    shown = mock_cli(lambda request: httpx.Response(200, json=clause_type), "clause-types", "get", "cla_1")
    assert shown.exit_code == 0, shown.output
    assert "passage [/i] unreadable" in shown.stdout and "acts of [God]" in shown.stdout
    shown = mock_cli(lambda request: _page([clause_type]), "clause-types", "list")
    assert shown.exit_code == 0 and "passage [/i] unreadable" in shown.stdout

    path = tmp_path / "draft [b] v2.txt"
    path.write_text("The term is two years.")
    stored = {
        "id": "doc_1",
        "filename": "notes[/v2].txt",
        "status": "failed",
        "failure_reason": "bad [/x] file",
    }
    shown = mock_cli(lambda request: httpx.Response(201, json=stored), "documents", "upload", str(path))
    assert shown.exit_code == 1 and isinstance(shown.exception, SystemExit), shown.output
    assert "notes[/v2].txt" in shown.stdout and "bad [/x] file" in shown.stderr and path.name in shown.stderr
