"""Starting the embedded servers: a start interrupted part way leaves nothing running, and a pid file whose pid
another process now holds is not taken for a running server."""

import os
import socket
import subprocess
import threading
from pathlib import Path

import psutil
import pytest

from quire import embedded
from tests.support.paths import server_tmp_path  # noqa: F401  (the servers' tmp_path)


def _sleeper() -> subprocess.Popen:
    proc = subprocess.Popen(["sleep", "600"])
    threading.Thread(target=proc.wait, daemon=True).start()
    return proc


def _postgres_of(pgdata: Path) -> list[psutil.Process]:
    """The postmasters whose data directory is `pgdata`, by their command line."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if any(arg == str(pgdata) for arg in cmdline) and any(a.endswith("postgres") for a in cmdline[:1]):
            found.append(proc)
    return found


def _stop_postgres(pgdata: Path) -> None:
    for proc in _postgres_of(pgdata):
        proc.terminate()
    psutil.wait_procs(_postgres_of(pgdata), timeout=30)


@pytest.mark.timeout(180)
def test_postgres_is_stopped_when_its_start_is_interrupted_after_the_server_came_up(tmp_path, monkeypatch):
    def interrupted(server, database):
        raise KeyboardInterrupt

    monkeypatch.setattr(embedded, "_ensure_database", interrupted)
    try:
        with pytest.raises(KeyboardInterrupt):
            embedded.start_postgres(root=tmp_path)
        assert not _postgres_of(tmp_path / "pg"), "the interrupted start left PostgreSQL running"
        assert not embedded._postmaster_running(tmp_path / "pg")
    finally:
        _stop_postgres(tmp_path / "pg")


@pytest.mark.timeout(180)
def test_a_postmaster_pid_file_naming_another_process_is_stale_and_a_fresh_server_starts(tmp_path):
    pgdata = tmp_path / "pg"
    first = embedded.start_postgres(root=tmp_path)
    lines = (pgdata / "postmaster.pid").read_text().splitlines()
    socket_lock = Path(lines[4]) / f".s.PGSQL.{lines[3]}.lock"
    socket_lock_text = socket_lock.read_text().splitlines()
    first.stop()
    assert not _postgres_of(pgdata)
    # The server ended without removing its lock files, and its pid went to an unrelated process.
    unrelated = _sleeper()
    try:
        (pgdata / "postmaster.pid").write_text("\n".join([str(unrelated.pid), *lines[1:]]) + "\n")
        socket_lock.write_text("\n".join([str(unrelated.pid), *socket_lock_text[1:]]) + "\n")
        assert not embedded._postmaster_running(pgdata)

        second = embedded.start_postgres(root=tmp_path)
        try:
            assert second.started_here and second.pid != unrelated.pid
            answer = subprocess.run(
                [
                    str(Path(_pg_bin()) / "psql"),
                    second.url,
                    "-tAc",
                    "SELECT 1",
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            assert answer.stdout.strip() == "1"
        finally:
            second.stop()
        assert not _postgres_of(pgdata)
        assert unrelated.poll() is None, "stopping the server signalled the unrelated process"
    finally:
        unrelated.kill()
        _stop_postgres(pgdata)


@pytest.mark.timeout(180)
def test_a_running_postmaster_whose_directory_cannot_be_read_keeps_its_lock_files(tmp_path, monkeypatch):
    pgdata = tmp_path / "pg"
    first = embedded.start_postgres(root=tmp_path)
    try:
        pid_file = (pgdata / "postmaster.pid").read_text()

        def denied(self):
            raise psutil.AccessDenied(self.pid)

        monkeypatch.setattr(psutil.Process, "cwd", denied)
        second = embedded.start_postgres(root=tmp_path)
        monkeypatch.undo()
        try:
            assert not second.started_here and second.pid == first.pid
            assert (pgdata / "postmaster.pid").read_text() == pid_file
            assert [proc.pid for proc in _postgres_of(pgdata)] == [first.pid]
        finally:
            second.stop()
    finally:
        first.stop()
        _stop_postgres(pgdata)


def _pg_bin() -> str:
    from pgserver import _commands

    return str(_commands.POSTGRES_BIN_PATH)


def test_a_redis_pid_file_naming_another_process_is_stale_and_a_fresh_server_starts(tmp_path):
    import redis

    rdir = tmp_path / "redis"
    rdir.mkdir()
    unrelated = _sleeper()
    foreign = socket.socket()
    foreign.bind(("127.0.0.1", 0))
    foreign.listen()
    foreign_port = foreign.getsockname()[1]
    (rdir / "redis.pid").write_text(str(unrelated.pid))
    (rdir / "port").write_text(str(foreign_port))
    try:
        server = embedded.start_redis(root=tmp_path)
        try:
            assert server.started_here and f":{foreign_port}/" not in server.url
            assert redis.Redis.from_url(server.url, socket_timeout=5).ping()
        finally:
            server.stop()
        assert unrelated.poll() is None
    finally:
        unrelated.kill()
        foreign.close()


def test_a_server_whose_pid_another_process_took_over_is_not_signalled_on_stop(tmp_path):
    unrelated = _sleeper()
    try:
        embedded.EmbeddedServer("redis", "", started_here=True, pid=unrelated.pid, directory=tmp_path).stop()
        assert unrelated.poll() is None
    finally:
        unrelated.kill()


def test_a_redis_start_interrupted_while_waiting_for_its_port_stops_the_server(tmp_path, monkeypatch):
    started: list[psutil.Process] = []
    real_popen = subprocess.Popen

    def popen(*args, **kwargs):
        proc = real_popen(*args, **kwargs)
        started.append(psutil.Process(proc.pid))
        return proc

    def interrupted(port):
        raise KeyboardInterrupt

    monkeypatch.setattr(embedded.subprocess, "Popen", popen)
    monkeypatch.setattr(embedded, "_port_open", interrupted)
    with pytest.raises(KeyboardInterrupt):
        embedded.start_redis(root=tmp_path)
    assert len(started) == 1
    assert not started[0].is_running() or started[0].status() == psutil.STATUS_ZOMBIE
    assert os.listdir(embedded.holders_dir(tmp_path)) == [".lock"]
