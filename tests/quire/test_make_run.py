"""`make run` on its own data dir: prints the URLs and a key, serves /v1/health, puts the sample contract in the
new demo workspace, and Ctrl-C stops every process it started, the launcher exiting 0."""

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.support import ROOT, free_port, wait_for
from tests.support.paths import server_tmp_path  # noqa: F401  (the servers' tmp_path)


def _processes_of(tmp: Path, root_pid: int) -> set[int]:
    found = set()
    with contextlib.suppress(psutil.NoSuchProcess):
        found |= {p.pid for p in psutil.Process(root_pid).children(recursive=True)}
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if str(tmp) in " ".join(proc.info["cmdline"] or []):
            found.add(proc.info["pid"])
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.add(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def _celery(pids: set[int], kind: str) -> set[int]:
    """The Celery `kind` (worker, beat) main processes among `pids`: its pool children are not."""
    found = set()
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            process = psutil.Process(pid)
            command = process.cmdline()
            parent = " ".join(process.parent().cmdline()) if process.parent() else ""
            if "celery" in " ".join(command) and kind in command and "celery" not in parent:
                found.add(pid)
    return found


def _ctrl_c(make: subprocess.Popen) -> None:
    """SIGINT to every process of make's foreground group, as a terminal's Ctrl-C, except make itself: make
    dies of that signal whatever its recipe does, which would hide the launcher's exit status. Spared, make
    exits with the launcher's status (0, or 2 when the launcher failed). The group is listed before any
    signal is sent, as a terminal signals it at one instant: what the launcher starts to shut down is spared."""
    group = []
    for pid in psutil.pids():
        with contextlib.suppress(ProcessLookupError):
            if pid != make.pid and os.getpgid(pid) == make.pid:
                group.append(pid)
    for pid in group:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)


@pytest.mark.timeout(600)
def test_make_run_starts_everything_and_stops_cleanly(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "QUIRE_MEDIA_ROOT")}
    env.update(
        QUIRE_DATA_DIR=str(tmp_path),
        QUIRE_PORT=str(port),
        QUIRE_WORKER_CONCURRENCY="1",
        QUIRE_WEBHOOKS_SWEEP_SECONDS="1",
    )
    errors = tmp_path / "make-run.stderr"
    with errors.open("wb") as stderr:
        proc = subprocess.Popen(
            ["make", "run"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,
        )
    key = None
    try:
        deadline = time.monotonic() + 240
        lines = []
        while time.monotonic() < deadline and key is None:
            line = proc.stdout.readline()
            if not line:
                assert proc.poll() is None, f"make run exited early:\n{''.join(lines)}"
                continue
            lines.append(line)
            if "API key:" in line:
                key = line.split("API key:")[1].strip()
        assert key and key.startswith("qk_live_"), "".join(lines)
        while not lines[-1].startswith("Press Ctrl-C"):
            lines.append(proc.stdout.readline())
        assert any(f"http://127.0.0.1:{port}/v1" in line for line in lines)
        assert any("Portal:" in line for line in lines)

        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/health", headers={"Authorization": f"Bearer {key}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.loads(response.read())
        assert response.status == 200 and body["status"] == "ok"
        assert any("Sample:" in line for line in lines)
        listed = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/documents", headers={"Authorization": f"Bearer {key}"}
        )
        with urllib.request.urlopen(listed, timeout=10) as response:
            documents = json.loads(response.read())["data"]
        assert [d["filename"] for d in documents] == ["reseller-agreement.txt"]
        started = _processes_of(tmp_path, proc.pid)
        assert len(started) >= 5, started
        wait_for(lambda: "celery@" in errors.read_text() and "ready" in errors.read_text(), timeout=60)
        time.sleep(3)
        console = errors.read_text()
        assert "deliveries_dispatch_due_task" not in console, console[-3000:]
        assert not console.lstrip().startswith("{"), "the console's log lines are text, not JSON"

        # A worker that dies (Celery's own ends so when Redis goes while it holds a message) is started again.
        [worker] = _celery(started, "worker")
        os.kill(worker, signal.SIGKILL)
        wait_for(lambda: "worker exited (status -9); starting it again" in errors.read_text(), timeout=30)
        wait_for(lambda: _celery(_processes_of(tmp_path, proc.pid), "worker") - {worker}, timeout=60)
        assert proc.poll() is None
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        started |= _processes_of(tmp_path, proc.pid)
    finally:
        _ctrl_c(proc)
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    assert proc.returncode == 0, f"make run exited {proc.returncode}:\n{errors.read_text()[-3000:]}"
    wait_for(
        lambda: not _alive(started | _processes_of(tmp_path, proc.pid)),
        timeout=60,
        interval=0.2,
        message=lambda: (
            f"{[psutil.Process(p).cmdline() for p in _alive(started)]}\n{errors.read_text()[-3000:]}"
        ),
    )


def test_the_launcher_refuses_a_port_another_server_answers_on(tmp_path):
    import sys
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Foreign(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_error(404)

        def log_message(self, *args):
            pass

    foreign = HTTPServer(("127.0.0.1", 0), Foreign)
    threading.Thread(target=foreign.serve_forever, daemon=True).start()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "QUIRE_HOST")}
    env.update(QUIRE_DATA_DIR=str(tmp_path), QUIRE_PORT=str(foreign.server_address[1]))
    launcher = subprocess.Popen(
        [sys.executable, "-m", "quire.launcher"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = launcher.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(launcher.pid, signal.SIGKILL)
        out, err = launcher.communicate()
    finally:
        foreign.shutdown()
        foreign.server_close()
    assert launcher.returncode not in (0, None) and "Quire is running" not in out, out + err
    assert f"port {foreign.server_address[1]} is in use" in err and "QUIRE_PORT=" in err


def test_the_launcher_prints_loopback_urls_for_a_wildcard_bind():
    from quire.launcher import url_host

    assert url_host("0.0.0.0") == url_host("::") == "127.0.0.1"
    assert url_host("192.0.2.10") == "192.0.2.10" and url_host("::1") == "[::1]"


def test_the_launcher_names_a_database_and_redis_that_do_not_answer_in_one_line_each(tmp_path):
    dead_pg, dead_redis = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("QUIRE_BROKER_URL", "QUIRE_HOST")}
    env.update(
        QUIRE_DATA_DIR=str(tmp_path),
        QUIRE_PORT=str(free_port()),
        DATABASE_URL=f"postgresql://quire@127.0.0.1:{dead_pg}/quire",
        REDIS_URL=f"redis://127.0.0.1:{dead_redis}/0",
    )
    launcher = _launch_failing(env, timeout=120)
    assert "Traceback" not in launcher.stderr, launcher.stderr
    lines = launcher.stderr.strip().splitlines()
    assert len(lines) == 2, launcher.stderr
    assert lines[0].startswith("DATABASE_URL does not answer") and f"port {dead_pg}" in lines[0]
    assert lines[1].startswith("REDIS_URL does not answer") and f"127.0.0.1:{dead_redis}" in lines[1]
    assert "Quire is running" not in launcher.stdout


def _launch_failing(env: dict[str, str], *, timeout: float) -> subprocess.CompletedProcess:
    """`make run`'s launcher run to its end with `env`, which must fail it (exit status 1)."""
    import sys

    launcher = subprocess.run(
        [sys.executable, "-m", "quire.launcher"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert launcher.returncode == 1, launcher.stdout + launcher.stderr
    return launcher


@pytest.mark.timeout(180)
def test_a_failed_start_up_command_ends_the_launcher_with_one_line_and_stops_what_it_started(tmp_path):

    (tmp_path / "demo-credentials.json").mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "QUIRE_MEDIA_ROOT")}
    env.update(QUIRE_DATA_DIR=str(tmp_path), QUIRE_PORT=str(free_port()))
    launcher = _launch_failing(env, timeout=150)
    assert (
        launcher.stderr.strip().splitlines()[-1] == "`manage.py seed_demo` failed (exit status 1); see above"
    )
    assert "launcher.py" not in launcher.stderr, launcher.stderr

    def servers_of_the_run() -> set[int]:
        return {
            proc.pid
            for proc in psutil.process_iter(["cmdline"])
            if str(tmp_path) in " ".join(proc.info["cmdline"] or [])
        }

    wait_for(lambda: not _alive(servers_of_the_run()), timeout=30)


def test_a_process_that_exits_during_start_up_ends_the_launcher_with_one_line(monkeypatch, capsys):
    import sys

    from quire import launcher

    started: list[subprocess.Popen] = []
    real_popen = subprocess.Popen

    def exiting(command, **kwargs):
        started.append(real_popen([sys.executable, "-c", "raise SystemExit(3)"]))
        return started[-1]

    credentials = {"created": False, "tenant": "demo", "api_key": "k", "email": "e", "password": "p"}
    monkeypatch.setenv("QUIRE_PORT", str(free_port()))
    monkeypatch.setenv("QUIRE_TENANT_MAX_RUNNING", "1")
    monkeypatch.setenv("QUIRE_LOG_FORMAT", os.environ.get("QUIRE_LOG_FORMAT", "text"))
    monkeypatch.setattr(launcher, "port_in_use", lambda host, port: False)
    monkeypatch.setattr(launcher, "ensure_service_urls", lambda: [])
    monkeypatch.setattr(launcher, "unreachable_services", lambda: [])
    monkeypatch.setattr(launcher, "_manage", lambda *args, capture=False: json.dumps(credentials))
    monkeypatch.setattr(launcher.subprocess, "Popen", exiting)
    handlers = {
        s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)
    }
    try:
        assert launcher.main() == 1
    finally:
        for stop_signal, handler in handlers.items():
            signal.signal(stop_signal, handler)
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip() == "a process exited during start-up; see the log above"
    assert len(started) == 3 and all(proc.poll() is not None for proc in started)


@pytest.mark.timeout(180)
def test_ctrl_c_while_the_embedded_servers_start_stops_the_postgresql_already_started(tmp_path, monkeypatch):
    from quire import embedded, launcher

    def ctrl_c_during_redis_start(root=None):
        os.kill(os.getpid(), signal.SIGINT)
        raise AssertionError("SIGINT did not interrupt the start")

    for name in ("DATABASE_URL", "REDIS_URL", "QUIRE_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QUIRE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("QUIRE_PORT", str(free_port()))
    monkeypatch.setattr(embedded, "start_redis", ctrl_c_during_redis_start)
    handlers = {
        s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)
    }
    postgres: list[int] = []
    try:
        try:
            status = launcher.main()
        except KeyboardInterrupt:
            status = "KeyboardInterrupt escaped the launcher"
        running = embedded._postmaster_running(tmp_path / "pg")
        postgres += [
            proc.pid
            for proc in psutil.process_iter(["cmdline"])
            if str(tmp_path / "pg") in (proc.info["cmdline"] or [])
        ]
    finally:
        for stop_signal, handler in handlers.items():
            signal.signal(stop_signal, handler)
        for pid in postgres:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
    assert not running and not postgres, "PostgreSQL was left running"
    assert status == 0
