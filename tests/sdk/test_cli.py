"""The `quire` command line: through typer's CliRunner, and `webhooks listen` as a real process."""

from __future__ import annotations

import csv
import json
import queue
import shlex
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler

import pytest
from typer.testing import CliRunner

from tests.support import ROOT, LocalServer, stop_process
from tests.support.documents import CONTRACT
from tests.support.polling import wait_for


@pytest.fixture
def cli(live_server, api_key, tmp_path):
    """`cli(*args, key=True, input=None)`: run `quire` with the key and server in the environment (or neither),
    a config dir of its own and `input` on stdin."""
    from quire_sdk.cli import app

    def run(*args: str, key: bool = True, input: str | None = None):
        env = {
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "QUIRE_API_KEY": api_key if key else None,
            "QUIRE_BASE_URL": live_server.url if key else None,
            "COLUMNS": "200",
        }
        return CliRunner().invoke(app, list(args), env=env, input=input)

    return run


def test_login_stores_the_key_readable_by_the_user_only(cli, api_key, live_server, tmp_path):
    assert cli("usage", key=False).exit_code == 2

    refused = cli("login", "--api-key", "qk_live_wrong", "--base-url", live_server.url, key=False)
    assert refused.exit_code == 1 and "invalid" in refused.stderr.lower()
    path = tmp_path / "config" / "quire" / "config.json"
    assert not path.exists()

    done = cli("login", "--api-key", api_key, "--base-url", live_server.url, "--json", key=False)
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["config"] == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text()) == {"api_key": api_key, "base_url": live_server.url}

    usage = cli("usage", "--json", key=False)
    assert usage.exit_code == 0, usage.output
    assert json.loads(usage.stdout)["object"] == "usage"


def test_login_into_a_config_folder_it_cannot_write_says_so(cli, api_key, live_server, tmp_path):
    (tmp_path / "config").write_text("a file where the config folder would be")
    for extra in ((), ("--json",)):
        result = cli("login", "--api-key", api_key, "--base-url", live_server.url, *extra, key=False)
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
        said = json.loads(result.stdout)["error"]["message"] if extra else result.stderr
        assert "cannot store the login in" in said and "XDG_CONFIG_HOME" in said, result.output


def test_a_content_type_with_a_line_break_is_refused_before_anything_is_sent(cli, tmp_path):
    from quire_sdk import Quire

    path = tmp_path / "a.txt"
    path.write_text("The term is two years.")
    result = cli("documents", "upload", str(path), "--content-type", "text/plain\r\nX-Injected: 1")
    assert result.exit_code == 2 and "a content type is one line" in result.stderr
    with (
        Quire(api_key="qk_unused", base_url="http://127.0.0.1:9") as quire,
        pytest.raises(ValueError, match="a content type is one line"),
    ):
        quire.documents.create(file=path, content_type="text/plain\nX-Injected: 1")


def test_upload_with_wait_then_download(cli, tmp_path, monkeypatch):
    files = []
    for name in ("a.txt", "b.txt"):
        files.append(tmp_path / name)
        files[-1].write_text(f"Upload {name} {uuid.uuid4().hex}. The term is two years.")
    result = cli("documents", "upload", *map(str, files), "--wait", "--json")
    assert result.exit_code == 0, result.output
    docs = json.loads(result.stdout)
    assert [d["filename"] for d in docs] == ["a.txt", "b.txt"]
    assert {d["status"] for d in docs} == {"ready"}

    shown = cli("documents", "upload", str(files[0]))
    assert shown.exit_code == 0, shown.output
    assert docs[0]["id"] in shown.stdout and "all files" in shown.stderr

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    monkeypatch.chdir(downloads)
    saved = cli("documents", "download", docs[0]["id"])
    assert saved.exit_code == 0, saved.output
    assert (downloads / "a.txt").read_bytes() == files[0].read_bytes()
    kept = cli("documents", "download", docs[0]["id"])
    assert kept.exit_code == 1 and "--force" in kept.stderr
    assert cli("documents", "download", docs[0]["id"], "--force").exit_code == 0
    printed = cli("documents", "download", docs[1]["id"], "-o", "-")
    assert printed.exit_code == 0 and printed.stdout == files[1].read_text()


def test_run_legal_with_wait_and_exports(cli, contract_doc, tmp_path):
    from openpyxl import load_workbook

    xlsx = tmp_path / "results.xlsx"
    result = cli("jobs", "run", "legal", contract_doc.id, "--wait", "--export", str(xlsx))
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.stdout and "findings written" in result.stdout
    sheet = load_workbook(xlsx).active
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    assert sheet.title == "Findings" and header[:6] == [
        "section",
        "label",
        "document_id",
        "start",
        "end",
        "quote",
    ]
    found = [dict(zip(header, row, strict=True)) for row in rows[1:]]
    law = next(row for row in found if row["label"] == "Governing Law")
    assert "State of Delaware" in law["quote"] and law["document_id"] == contract_doc.id
    assert CONTRACT[law["start"] : law["end"]] == law["quote"]

    as_csv = tmp_path / "results.csv"
    again = cli("jobs", "run", "legal", contract_doc.id, "--wait", "--export", str(as_csv), "--json")
    assert again.exit_code == 0, again.output
    payload = json.loads(again.stdout)
    assert payload["job"]["status"] == "succeeded" and payload["exported"] == len(found)
    with as_csv.open(newline="", encoding="utf-8-sig") as handle:
        assert [row["quote"] for row in csv.DictReader(handle)] == [row["quote"] for row in found]

    shown = cli("jobs", "result", payload["job"]["id"], "--limit", "100")
    assert shown.exit_code == 0, shown.output
    assert (
        "Governing Law" in shown.stdout
        and "State of Delaware" in shown.stdout
        and "more:" not in shown.stdout
    )
    first = cli("jobs", "result", payload["job"]["id"], "--limit", "1")
    assert f"{len(found) - 1} more: --limit N" in first.stdout and "Governing Law" not in first.stdout
    quiet = cli("jobs", "result", payload["job"]["id"], "--limit", "0")
    assert quiet.stdout.splitlines() == [
        f"{payload['job']['id']} legal succeeded: {len(found)} findings, {len(found)} spans checked"
    ]

    listed = cli("jobs", "list", "--connector", "legal", "--status", "succeeded", "--json")
    assert listed.exit_code == 0, listed.output
    assert payload["job"]["id"] in [job["id"] for job in json.loads(listed.stdout)]
    assert payload["job"]["id"] in cli("jobs", "list", "--limit", "100").stdout
    refused = cli("jobs", "list", "--status", "done")
    assert refused.exit_code == 1 and "param=status" in refused.stderr

    as_json = tmp_path / "results.json"
    assert cli("jobs", "result", payload["job"]["id"], "--export", str(as_json)).exit_code == 0
    assert len(json.loads(as_json.read_text())["findings"]) == len(found)
    assert cli("jobs", "run", "legal", contract_doc.id, "--export", "out.pdf").exit_code == 2


def test_clause_types_from_passage_files(cli, tmp_path):
    from tests.support.paths import DATA

    fixture = json.loads((DATA / "custom_clauses" / "force_majeure.json").read_text(encoding="utf-8"))
    examples = tmp_path / "examples.txt"
    examples.write_text("\n\n".join(fixture["examples"]) + "\n", encoding="utf-8")
    counter = tmp_path / "counter.json"
    counter.write_text(json.dumps(fixture["counter_examples"]), encoding="utf-8")
    not_a_list = tmp_path / "bad.json"
    not_a_list.write_text('{"examples": []}', encoding="utf-8")

    bad = cli("clause-types", "create", "cli_bad", "Bad", "--examples", str(not_a_list))
    assert bad.exit_code == 2 and "must hold a JSON list of strings" in " ".join(
        bad.output.replace("│", " ").split()
    )
    created = cli(
        "clause-types",
        "create",
        "cli_force_majeure",
        "Force Majeure",
        "--examples",
        str(examples),
        "--counter-examples",
        str(counter),
        "--wait",
        "--json",
    )
    assert created.exit_code == 0, created.output
    body = json.loads(created.stdout)
    assert body["status"] == "ready" and body["example_count"] == len(fixture["examples"])
    assert body["counter_example_count"] == len(fixture["counter_examples"]) and body["precision"] is not None
    try:
        shown = cli("clause-types", "get", body["id"])
        assert (
            shown.exit_code == 0
            and f"{body['id']} cli_force_majeure ready (version 1): precision" in shown.stdout
        )
        assert "cli_force_majeure ready" in cli("clause-types", "list").stdout
        refused = cli(
            "clause-types", "create", "cli_force_majeure", "Again", "--examples", str(examples), "--json"
        )
        assert refused.exit_code == 1 and json.loads(refused.stdout)["error"]["param"] == "key"
        assert cli("clause-types", "add-examples", body["id"]).exit_code == 2
        more = tmp_path / "more.txt"
        more.write_text(
            "Neither party is liable for delays caused by a pandemic or an embargo.", encoding="utf-8"
        )
        added = cli("clause-types", "add-examples", body["id"], "--examples", str(more), "--json")
        assert added.exit_code == 0 and json.loads(added.stdout)["version"] == 2
        exported = cli("clause-types", "export", body["id"], "--out", str(tmp_path / "exported"))
        assert exported.exit_code == 0, exported.output
        command = shlex.split(exported.stdout)
        assert command[:5] == ["quire", "clause-types", "create", "cli_force_majeure", "Force Majeure"]
        saved = json.loads((tmp_path / "exported" / "cli_force_majeure.examples.json").read_text())
        assert len(saved) == len(fixture["examples"]) + 1 and set(fixture["examples"]) <= set(saved)
    finally:
        assert cli("clause-types", "delete", body["id"]).exit_code == 0
    again = cli(*command[1:], "--json")
    assert again.exit_code == 0, again.output
    recreated = json.loads(again.stdout)
    assert recreated["example_count"] == len(saved)
    assert recreated["counter_example_count"] == len(fixture["counter_examples"])
    assert cli("clause-types", "delete", recreated["id"]).exit_code == 0


def test_search_usage_and_errors(cli, contract_doc):
    found = cli("search", "governing law", "-k", "2", "--document", contract_doc.id, "--json")
    assert found.exit_code == 0, found.output
    assert json.loads(found.stdout)[0]["document_id"] == contract_doc.id
    assert cli("search", "governing law").exit_code == 0
    assert cli("usage").exit_code == 0
    listed = cli("models", "--json")
    assert listed.exit_code == 0, listed.output
    assert "legal-clauses" in [model["id"] for model in json.loads(listed.stdout)]
    assert "CC BY 4.0" in cli("models").stdout

    missing = cli("documents", "get", "doc_missing", "--json")
    assert missing.exit_code == 1
    error = json.loads(missing.stdout)["error"]
    assert (error["type"], error["code"], error["status"]) == ("not_found_error", "resource_missing", 404)
    assert error["request_id"].startswith("req_")
    bad = cli("jobs", "run", "legal", contract_doc.id, "--options", '{"playbook": 3}')
    assert bad.exit_code == 1 and "options" in bad.stderr
    assert cli("jobs", "run", "legal", contract_doc.id, "--options", "{not json").exit_code == 2


class _Lines:
    """The lines a process prints, read in a thread so that a test can wait for the next one."""

    def __init__(self, proc: subprocess.Popen):
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(line) for line in proc.stdout], daemon=True).start()

    def next(self, timeout: float = 60) -> dict:
        return json.loads(self.lines.get(timeout=timeout))


def _listen(*args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "quire_sdk.cli", "webhooks", "listen", "--json", *args],
        cwd=ROOT,
        env={**env, "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


@pytest.fixture
def forward_target():
    """A local app that takes forwarded webhooks; `received` holds (headers, body)."""
    received: list[tuple[dict, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            headers = {name.lower(): value for name, value in self.headers.items()}
            received.append((headers, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

    server = LocalServer(Handler)
    server.received = received
    yield server
    server.close()


@pytest.mark.timeout(180)
def test_webhooks_listen_receives_and_verifies_a_test_event(quire, live_server, api_key, forward_target):
    from quire_sdk import NotFoundError

    env = {"QUIRE_API_KEY": api_key, "QUIRE_BASE_URL": live_server.url, "PYTHONPATH": str(ROOT)}
    proc = _listen("--forward-to", forward_target.url + "/hook", "--max-events", "1", env=env)
    try:
        lines = _Lines(proc)
        started = lines.next()
        endpoint_id = started["endpoint"]
        assert started["listening"].startswith("http://127.0.0.1:")
        assert quire.webhook_endpoints.get(endpoint_id).url == started["listening"]
        delivery = quire.webhook_endpoints.test(endpoint_id)
        event = lines.next(timeout=120)
        assert event["verified"] is True and event["type"] == "webhook.test"
        assert event["id"] == delivery.event and event["forwarded"] == 204
        assert proc.wait(timeout=30) == 0
    finally:
        stop_process(proc)
    headers, body = forward_target.received[0]
    assert headers["webhook-id"] == delivery.event and json.loads(body)["type"] == "webhook.test"
    with pytest.raises(NotFoundError):
        quire.webhook_endpoints.get(endpoint_id)


def test_webhooks_listen_with_a_secret_refuses_bad_signatures():
    from quire.webhooks.signing import new_secret, signature_headers

    secret = new_secret()
    proc = _listen("--secret", secret, "--max-events", "1", env={"PYTHONPATH": str(ROOT)})
    try:
        lines = _Lines(proc)
        url = lines.next()["listening"]
        body = b'{"type": "job.succeeded", "data": {}}'
        forged = signature_headers([new_secret()], "evt_x", int(time.time()), body)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(url, body, forged), timeout=10)
        assert refused.value.code == 400 and lines.next()["verified"] is False
        signed = signature_headers([secret], "evt_y", int(time.time()), body)
        with urllib.request.urlopen(urllib.request.Request(url, body, signed), timeout=10) as answer:
            assert answer.status == 200
        assert lines.next() == {
            "verified": True,
            "id": "evt_y",
            "type": "job.succeeded",
            "forwarded": None,
            "event": json.loads(body),
        }
        assert proc.wait(timeout=30) == 0
    finally:
        stop_process(proc)


def test_clause_type_passages_to_check_are_answered_one_by_one(cli, tenant_a):
    from django_tenants.utils import tenant_context

    from quire.jobs.models import Job
    from quire.jobs.services import cell_correct
    from tests.support.clauses import clause_type_row, review_that_ran
    from tests.support.paths import DATA

    fixture = json.loads((DATA / "custom_clauses" / "force_majeure.json").read_text(encoding="utf-8"))
    texts = [
        "Neither party is liable for acts of God.",
        "Invoices are payable in thirty days.",
        "Notices go by post.",
    ]
    near = [{"document": "doc_x", "start": 0, "end": 9, "text": t, "score": 0.7} for t in texts]
    with clause_type_row(
        tenant_a.tenant, "cli_answered", examples=fixture["examples"], near_misses=near
    ) as row:
        answered = cli("clause-types", "answer", row.pk, input="maybe\ny\nn\nq\n")
        assert answered.exit_code == 0, answered.output
        assert "answer one of y/n/s/q" in answered.output and "version 2" in answered.output
        with tenant_context(tenant_a.tenant):
            row.refresh_from_db()
            assert row.examples[-1] == texts[0] and row.counter_examples == [texts[1]]

            def trained() -> bool:
                row.refresh_from_db()
                return row.status in ("ready", "failed")

            # The worker's training writes the near misses it finds in the workspace's documents: clear them
            # once it has, not before.
            wait_for(trained, timeout=120)
            type(row).objects.filter(pk=row.pk).update(status="ready", near_misses=[])
        assert "no passages to check (ready)" in cli("clause-types", "answer", row.pk).output

        column = {"key": "fm", "question": "Excused?", "type": "clause", "clause_type": "cli_answered"}
        job_id, document_id = review_that_ran(
            tenant_a, "cli-review.txt", texts[2], [column], {"fm": (texts[2], 0.8)}
        )
        with tenant_context(tenant_a.tenant):
            job = Job.objects.get(pk=job_id)
            cell_correct(job=job, document_id=document_id, key="fm", by="ana@example.com", verified=True)
        kept = cli("clause-types", "answer", row.pk, input="\n")
        assert kept.exit_code == 0, kept.output
        assert f"found by review {job_id}" in kept.output
        assert "In the review, ana@example.com verified it (Enter keeps y)." in kept.output
        with tenant_context(tenant_a.tenant):
            row.refresh_from_db()
            assert row.examples[-1] == texts[2]


def test_api_keys_are_listed_created_moved_and_revoked(cli):
    created = cli("api-keys", "create", "cli integration", "--role", "viewer", "--json")
    assert created.exit_code == 0, created.output
    key = json.loads(created.stdout)
    assert key["secret"].startswith("qk_live_") and key["role"] == "viewer"
    assert f"{key['id']} {key['display_prefix']}… 'cli integration' viewer" in cli("api-keys", "list").stdout
    assert cli("api-keys", "update", key["id"]).exit_code == 2
    moved = cli("api-keys", "update", key["id"], "--version", "2026-12-01", "--role", "developer")
    assert moved.exit_code == 0 and "developer, API version 2026-12-01, active" in moved.stdout
    unknown = cli("api-keys", "update", key["id"], "--version", "1999-01-01", "--json")
    assert unknown.exit_code == 1 and json.loads(unknown.stdout)["error"]["param"] == "version"
    revoked = cli("api-keys", "revoke", key["id"])
    assert revoked.exit_code == 0 and "revoked" in revoked.stdout


def test_the_workspace_settings_are_shown_and_set(cli, tenant_a):
    shown = cli("workspace", "show")
    assert shown.exit_code == 0, shown.output
    assert tenant_a.tenant.public_id in shown.stdout and "Data kept: until deleted" in shown.stdout
    assert cli("workspace", "set").exit_code == 2
    assert cli("workspace", "set", "--retention-days", "a month").exit_code == 2
    try:
        kept = cli("workspace", "set", "--retention-days", "45", "--ocr-pictures", "always")
        assert kept.exit_code == 0 and "Data kept: 45 days" in kept.stdout, kept.output
        assert "Pictures in Office documents read: always" in kept.stdout
        refused = cli("workspace", "set", "--retention-days", "0", "--json")
        assert refused.exit_code == 1 and json.loads(refused.stdout)["error"]["param"] == "retention_days"
        assert json.loads(cli("workspace", "show", "--json").stdout)["retention_days"] == 45
    finally:
        cleared = cli("workspace", "set", "--retention-days", "none", "--ocr-pictures", "")
    assert cleared.exit_code == 0 and "Data kept: until deleted" in cleared.stdout


def test_a_reviews_grid_is_written_to_a_file_or_stdout(cli, tenant_a, tmp_path):
    from tests.support.clauses import review_that_ran

    text = "Governed by the laws of Delaware."
    columns = [{"key": "law", "question": "Which law governs?", "type": "text"}]
    job_id, document_id = review_that_ran(
        tenant_a, f"cli-grid-{uuid.uuid4().hex}.txt", text, columns, {"law": (text, 0.9)}
    )
    target = tmp_path / "grid.csv"
    written = cli("jobs", "grid", job_id, "-o", str(target))
    assert written.exit_code == 0, written.output
    assert document_id in target.read_text() and "Delaware" in target.read_text()
    assert cli("jobs", "grid", job_id, "-o", str(target)).exit_code == 1
    assert cli("jobs", "grid", job_id, "-o", str(tmp_path / "grid.xlsx")).exit_code == 0
    assert (tmp_path / "grid.xlsx").read_bytes()[:2] == b"PK"
    printed = cli("jobs", "grid", job_id, "-o", "-")
    assert printed.exit_code == 0 and document_id in printed.stdout
    assert cli("jobs", "grid", job_id, "-o", str(tmp_path / "grid.pdf")).exit_code == 2
