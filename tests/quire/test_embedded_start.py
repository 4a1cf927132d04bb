"""Starting the embedded servers: a start interrupted part way leaves nothing running."""

import os
import subprocess
from pathlib import Path

import psutil
import pytest

from quire import embedded


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
