"""`make run`: services, migrations, demo tenant, then web + worker + beat until Ctrl-C.

Every process started here is stopped on exit (SIGINT or SIGTERM), and the embedded servers too unless another
process (a `manage.py` command, a test run) still holds them.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from quire.embedded import EmbeddedServer, data_dir, ensure_service_urls

ROOT = Path(__file__).resolve().parent.parent
QUEUES = "ingest,jobs,webhooks,billing"
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
SAMPLE = Path(__file__).resolve().parent / "demo" / "reseller-agreement.txt"


def celery_command(*args: str) -> list[str]:
    """`celery -A quire ARGS...` with this interpreter."""
    return [sys.executable, "-m", "celery", "-A", "quire", *args]


def _manage(*args: str, capture: bool = False) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        check=True,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )
    return result.stdout or ""


def port_in_use(host: str, port: int) -> bool:
    """Whether another process holds `host:port`, so the web server could not bind it (and a check of its URL
    would reach that process instead). Binds as gunicorn does, with SO_REUSEADDR, so a port left in TIME_WAIT by
    the last run counts as free."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError:
            return True
    return False


def url_host(host: str) -> str:
    """The host to print and to check for a bind address: a wildcard bind is reached on loopback, which the
    allowed hosts admit, where `http://0.0.0.0:...` would be refused."""
    if host in WILDCARD_HOSTS:
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


# What points at each dependency, and what unsetting it chooses instead.
SERVICE_VARIABLES = {
    "database": ("DATABASE_URL", "the embedded PostgreSQL"),
    "redis": ("REDIS_URL", "the embedded Redis"),
    "broker": ("QUIRE_BROKER_URL", "REDIS_URL"),
}


def unreachable_services() -> list[str]:
    """One line for each of the database, Redis and the broker that does not answer at its URL, naming the
    variable that points at it (the checks of `/v1/health`)."""
    import django

    django.setup()
    from django.db import connection

    from quire.api.health import check_dependencies

    try:
        checks = check_dependencies()
    finally:
        connection.close()
    lines = []
    for name, check in checks.items():
        if check["ok"] or "same_as" in check:
            continue
        variable, instead = SERVICE_VARIABLES[name]
        reason = " ".join(f"{check['error']}: {check.get('detail', '')}".split())
        lines.append(f"{variable} does not answer ({reason}); start it, or unset {variable} to use {instead}")
    return lines


class StartUpFailed(RuntimeError):
    """A process of the platform did not come up; the message says which way, in one line."""


def _wait_http(url: str, timeout: float, procs: list[subprocess.Popen]) -> None:
    """Wait until the web process answers `url` (as `localhost`, a host every setting allows, whatever address
    it binds); any HTTP answer means it is up."""
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers={"Host": "localhost"})
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise StartUpFailed("a process exited during start-up; see the log above")
        try:
            with urllib.request.urlopen(request, timeout=1):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise StartUpFailed(f"{url} did not answer within {timeout:.0f}s")


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 20
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# The processes started again when they exit, as a deployment's supervisor would (compose's `restart:
# unless-stopped`): Celery's worker ends with an "Unrecoverable error" when Redis goes away while it holds a
# message, and beat with the broker. At most RESTARTS_MAX restarts in RESTART_WINDOW seconds, then the rest stop.
RESTARTED = ("worker", "beat")
RESTARTS_MAX = 5
RESTART_WINDOW = 60.0


def _supervise(running: dict[str, subprocess.Popen], commands: dict[str, list[str]], procs: list) -> int:
    """Wait on the processes: a worker or beat that exits is started again (its messages, unacknowledged,
    go back to the queue); one exiting past the restart budget, or the web server exiting, stops the rest
    (exit status 1)."""
    restarts: collections.deque[float] = collections.deque()
    while True:
        time.sleep(0.5)
        for name, proc in list(running.items()):
            if proc.poll() is None:
                continue
            now = time.monotonic()
            while restarts and now - restarts[0] > RESTART_WINDOW:
                restarts.popleft()
            if name not in RESTARTED or len(restarts) >= RESTARTS_MAX:
                print(f"{name} exited (status {proc.returncode}); stopping the rest", file=sys.stderr)
                return 1
            restarts.append(now)
            print(f"{name} exited (status {proc.returncode}); starting it again", file=sys.stderr, flush=True)
            running[name] = subprocess.Popen(commands[name], cwd=ROOT, start_new_session=True)
            procs.append(running[name])


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quire.settings")
    os.environ.setdefault("QUIRE_LOG_FORMAT", "text")
    bind_host = os.environ.get("QUIRE_HOST", "127.0.0.1")
    port = int(os.environ.get("QUIRE_PORT", "8000"))
    if port_in_use(bind_host, port):
        print(
            f"port {port} is in use on {bind_host or '*'}: another `make run` or another server holds it. Stop it, "
            "or choose another port: QUIRE_PORT=8001 make run",
            file=sys.stderr,
        )
        return 1
    host = url_host(bind_host)
    servers: list[EmbeddedServer] = []
    procs: list[subprocess.Popen] = []

    def _terminate(signum, frame):
        raise KeyboardInterrupt

    # A closed terminal (SIGHUP) or a quit (SIGQUIT) stops the children too: they run in sessions of their own,
    # so nothing else would, and the next `make run` would find the port taken.
    for stop_signal in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(stop_signal, _terminate)
    try:
        # Inside the try: a Ctrl-C while the embedded servers start stops those already started.
        servers = ensure_service_urls()
        unreachable = unreachable_services()
        if unreachable:
            print("\n".join(unreachable), file=sys.stderr)
            return 1
        _manage("migrate_schemas", "--noinput", "-v", "0")
        credentials = json.loads(_manage("seed_demo", "--json", capture=True))
        if credentials["created"]:
            # Queued now, ingested once the worker below starts.
            _manage("quire_ingest", str(SAMPLE), "--tenant", credentials["tenant"], "--no-wait", capture=True)
        data = data_dir()
        concurrency = int(os.environ.get("QUIRE_WORKER_CONCURRENCY", "2"))
        # One worker serves every queue here: a tenant's share leaves a child free for the others.
        os.environ.setdefault("QUIRE_TENANT_MAX_RUNNING", str(max(1, concurrency - 1)))
        commands = {
            "web": [sys.executable, "-m", "gunicorn", "-c", "python:quire.webserver", "quire.wsgi"],
            "worker": celery_command(
                "worker",
                "-Q",
                QUEUES,
                "--concurrency",
                str(concurrency),
                "-l",
                "INFO",
            ),
            "beat": celery_command(
                "beat", "-l", "INFO", "--schedule", str(data / "celerybeat-schedule"), "--pidfile", ""
            ),
        }
        running = {
            name: subprocess.Popen(command, cwd=ROOT, start_new_session=True)
            for name, command in commands.items()
        }
        procs.extend(running.values())
        _wait_http(f"http://{host}:{port}/healthz", 60, procs)
        base = os.environ.get("QUIRE_BASE_DOMAIN", "localhost")
        key = credentials["api_key"]
        lines = [
            "",
            "Quire is running.",
            f"  Portal:   http://{credentials['tenant']}.{base}:{port}/  "
            f"(sign in as {credentials['email']} / {credentials['password']})",
            f"  API:      http://{host}:{port}/v1  (docs: http://{host}:{port}/v1/docs)",
            f"  API key:  {key}",
            f"  Try:      curl -H 'Authorization: Bearer {key}' http://{host}:{port}/v1/health",
            f"  Metrics:  http://{host}:{port}/metrics  (Prometheus; open without a token in development)",
            f"  Saved in: {data / 'demo-credentials.json'}",
        ]
        if credentials["created"]:
            lines.append(
                f"  Sample:   {SAMPLE.name} in the demo workspace (CUAD, CC BY 4.0): run a legal job on it"
            )
        print("\n".join([*lines, "Press Ctrl-C to stop.", ""]), flush=True)
        return _supervise(running, commands, procs)
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
        return 0
    except StartUpFailed as failed:
        print(failed, file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as failed:
        print(
            f"`manage.py {failed.cmd[2]}` failed (exit status {failed.returncode}); see above",
            file=sys.stderr,
        )
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _stop(procs)
        for server in servers:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
