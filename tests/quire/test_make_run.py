"""`make run` on its own data dir: prints the URLs and a key, serves /v1/health, and Ctrl-C leaves nothing running."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def test_make_run_starts_everything_and_stops_cleanly(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "QUIRE_MEDIA_ROOT")}
    env.update(QUIRE_DATA_DIR=str(tmp_path), QUIRE_PORT=str(port), QUIRE_WORKER_CONCURRENCY="1")
    proc = subprocess.Popen(
        ["make", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
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
        assert any(f"http://127.0.0.1:{port}/v1" in line for line in lines)
        assert any("Portal:" in line for line in lines)

        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/health", headers={"Authorization": f"Bearer {key}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.loads(response.read())
        assert response.status == 200 and body["status"] == "ok"
        started = _processes_of(tmp_path, proc.pid)
        assert len(started) >= 5, started
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    deadline = time.monotonic() + 60
    while _alive(started) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(started), [psutil.Process(p).cmdline() for p in _alive(started)]
    assert not _alive(_processes_of(tmp_path, proc.pid))
    assert proc.returncode in (0, 2, -signal.SIGINT)
