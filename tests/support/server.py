"""The web app under a real `manage.py runserver` process on a free loopback port, for tests that talk HTTP
to it (the portal's browser, the SDK and the `quire` command line)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.net import free_port, wait_http
from tests.support.paths import ROOT
from tests.support.processes import spawn, stop_process


@dataclass
class WebServer:
    port: int
    proc: subprocess.Popen
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.proc, timeout=10)


def start_web_server(name: str, env: dict[str, str] | None = None) -> WebServer:
    """`runserver` (threaded, no reloader; `--insecure` serves static files with DEBUG off) on the test
    database, its output in `.quire/test-<name>-<pid>.log`; returns once `/healthz` answers."""
    port = free_port()
    log_path = ROOT / ".quire" / f"test-{name}-{os.getpid()}.log"
    log_path.unlink(missing_ok=True)
    proc = spawn(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--insecure"],
        log_path,
        env=env,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc, timeout=60)
    except RuntimeError as exc:
        stop_process(proc, timeout=10)
        raise RuntimeError(f"{exc}: {log_path.read_text()[-2000:]}") from None
    return WebServer(port, proc, log_path)
