"""The `quire` command line on an httpx mock transport: what it prints of the server's answers and how it
waits, no server needed."""

from __future__ import annotations

import json
import re

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


class _Clock:
    """`time` for `quire_sdk.resources`: every sleep moves it 10 minutes on at once."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += 600


def _never_done(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path.startswith("/v1/jobs"):
        job = {"id": "job_1", "connector": "review", "status": "running", "stage": "columns", "progress": 0.4}
        return httpx.Response(202 if request.method == "POST" else 200, json={**job})
    if path.startswith("/v1/clause_types"):
        clause_type = {
            "id": "cla_1",
            "key": "fm",
            "name": "Force Majeure",
            "status": "training",
            "version": 1,
        }
        return httpx.Response(202 if request.method == "POST" else 200, json=clause_type)
    return httpx.Response(
        201 if request.method == "POST" else 200, json={"id": "doc_1", "status": "processing"}
    )


ERROR_KEYS = {"type", "code", "message", "param", "status", "request_id"}


def test_every_wait_gives_up_after_its_timeout_as_a_wait_timeout(mock_cli, monkeypatch, tmp_path):
    import quire_sdk.resources

    clock = _Clock()
    monkeypatch.setattr(quire_sdk.resources, "time", clock)
    examples = tmp_path / "examples.json"
    examples.write_text(json.dumps([f"passage {i}" for i in range(10)]))
    upload = tmp_path / "a.txt"
    upload.write_text("The term is two years.")
    commands = {
        ("jobs", "run", "review", "doc_1", "--wait"): ("job_1", "running", 1800),
        ("clause-types", "create", "fm", "Force Majeure", "--examples", str(examples), "--wait"): (
            "cla_1",
            "training",
            600,
        ),
        ("clause-types", "add-examples", "cla_1", "--examples", str(examples), "--wait"): (
            "cla_1",
            "training",
            600,
        ),
        ("documents", "upload", str(upload), "--wait"): ("doc_1", "processing", 600),
    }
    for args, (object_id, status, default) in commands.items():
        for timeout in (None, 1200):
            clock.now = 0.0
            given = () if timeout is None else ("--timeout", str(timeout))
            shown = mock_cli(_never_done, *args, *given, "--json")
            assert shown.exit_code == 1, (args, shown.output)
            error = json.loads(shown.stdout)["error"]
            assert set(error) >= ERROR_KEYS, error
            assert (error["type"], error["id"], error["last_status"]) == ("wait_timeout", object_id, status)
            assert clock.now == (default if timeout is None else timeout), args

        shown = mock_cli(_never_done, *args, "--timeout", "0")
        assert shown.exit_code == 1 and f"{object_id} is still {status}" in shown.stderr, shown.output


def test_a_connection_error_in_json_has_every_key_of_the_error_shape(mock_cli):
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    shown = mock_cli(unreachable, "documents", "get", "doc_1", "--json")
    assert shown.exit_code == 1
    error = json.loads(shown.stdout)["error"]
    assert set(error) >= ERROR_KEYS and error["type"] == "connection_error"


def test_a_list_asks_for_no_page_past_its_limit(mock_cli):
    seen: list[str] = []

    def endless(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.query.decode())
        size, start = int(request.url.params["limit"]), int(request.url.params.get("cursor") or 0)
        rows = [
            {"id": f"x_{start + i}", "filename": "a.txt", "key": "fm", "status": "ready", "version": 1}
            for i in range(size)
        ]
        return httpx.Response(200, json={"data": rows, "has_more": True, "next_cursor": str(start + size)})

    for command, limit, pages in (
        ("documents", "20", 1),
        ("jobs", "20", 1),
        ("clause-types", "20", 1),
        ("documents", "150", 2),
    ):
        seen.clear()
        shown = mock_cli(endless, command, "list", "--limit", limit, "--json")
        assert shown.exit_code == 0, shown.output
        assert len(json.loads(shown.stdout)) == int(limit) and len(seen) == pages, (command, seen)


def test_upload_names_each_file_by_its_path_from_the_current_directory(mock_cli, monkeypatch, tmp_path):
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        name = re.search(rb'filename="([^"]*)"', request.content).group(1).decode()
        sent.append(name)
        return httpx.Response(201, json={"id": f"doc_{len(sent)}", "filename": name, "status": "pending"})

    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    for folder in (work / "a", work / "b" / "2023", elsewhere):
        folder.mkdir(parents=True)
        (folder / "contract.txt").write_text(f"The term of {folder.name} is two years.")
    monkeypatch.chdir(work)
    shown = mock_cli(
        answer,
        "documents",
        "upload",
        "a/contract.txt",
        str(work / "b" / "2023" / "contract.txt"),
        "./a/../b/2023/contract.txt",
        str(elsewhere / "contract.txt"),
    )
    assert shown.exit_code == 0, shown.output
    assert sent == ["a/contract.txt", "b/2023/contract.txt", "b/2023/contract.txt", "contract.txt"]


def test_a_base_url_without_a_host_is_a_one_line_error(mock_cli):
    answered = mock_cli(lambda request: _page([]), "--base-url", "http://", "documents", "list")
    assert answered.exit_code == 2 and "Traceback" not in answered.output
    assert "--base-url" in answered.output and "with a host" in answered.output


def test_a_stored_login_that_is_no_object_reads_as_none(tmp_path, monkeypatch):
    from quire_sdk.config import load_config

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    stored = tmp_path / "quire" / "config.json"
    stored.parent.mkdir(parents=True)
    stored.write_text("[1, 2]")
    assert load_config() == {}


def test_a_list_limit_below_one_is_a_usage_error_sent_nowhere(mock_cli):
    asked: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return _page([])

    for command in ("documents", "jobs", "clause-types"):
        for limit in ("0", "-3"):
            shown = mock_cli(answer, command, "list", "--limit", limit)
            assert shown.exit_code == 2, (command, limit, shown.output, shown.exception)
            assert "--limit" in shown.output and "Traceback" not in shown.output
    assert asked == []


def test_webhooks_listen_refuses_a_malformed_secret_before_it_listens(mock_cli):
    shown = mock_cli(lambda request: _page([]), "webhooks", "listen", "--secret", "whsec_not base64!")
    assert shown.exit_code == 2, (shown.output, shown.exception)
    assert "--secret" in shown.output and "base64" in shown.output and "Listening" not in shown.output


def test_webhooks_listen_on_a_port_it_cannot_take_is_a_usage_error(mock_cli):
    import socket

    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        for bad in (port, "70000", "-1"):
            shown = mock_cli(
                lambda request: _page([]), "webhooks", "listen", "--secret", secret, "--port", bad
            )
            assert shown.exit_code == 2, (bad, shown.output, shown.exception)
            assert "--port" in shown.output and "Traceback" not in shown.output


def test_passage_files_with_a_bom_are_read_and_other_encodings_are_a_usage_error(mock_cli, tmp_path):
    sent: list[dict] = []

    def created(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return _never_done(request)

    with_bom = tmp_path / "examples.txt"
    with_bom.write_bytes("\ufeffThe insurer shall maintain cover.\n\nSecond passage.\n".encode())
    listed = tmp_path / "examples.json"
    listed.write_bytes('\ufeff["The insurer shall maintain cover."]'.encode())
    shown = mock_cli(created, "clause-types", "create", "ins", "Insurance", "--examples", str(with_bom))
    assert shown.exit_code == 0, (shown.output, shown.exception)
    shown = mock_cli(created, "clause-types", "add-examples", "cla_1", "--examples", str(listed))
    assert shown.exit_code == 0, (shown.output, shown.exception)
    assert sent[0]["examples"] == ["The insurer shall maintain cover.", "Second passage."]
    assert sent[1]["examples"] == ["The insurer shall maintain cover."]

    windows = tmp_path / "not-utf8.txt"
    windows.write_bytes(b"The \x93insurer\x94 shall maintain cover.\n")
    sent.clear()
    for option in ("--examples", "--counter-examples"):
        args = ["clause-types", "add-examples", "cla_1", option, str(windows)]
        shown = mock_cli(created, *args)
        assert shown.exit_code == 2, (shown.output, shown.exception)
        assert option in shown.output and "UTF-8" in shown.output
    assert sent == []
