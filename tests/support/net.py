"""Loopback networking for the tests: free ports, HTTP servers in a thread, waiting for a server to answer."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    """A loopback port that was free a moment ago, for a server that must be told its port up front."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalServer:
    """`handler` served on 127.0.0.1 (`port`, or a free one) by a ThreadingHTTPServer in a daemon thread,
    one thread per request, until `close()`."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def wait_http(
    url: str, proc: subprocess.Popen | None = None, timeout: float = 60, headers: dict | None = None
) -> None:
    """Wait until `url` answers with any HTTP status; fail at once when `proc` (the server) has exited."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server for {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=1):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {timeout:.0f}s") from None
            time.sleep(0.1)


class TcpProxy:
    """A loopback TCP port forwarding to `upstream` (a unix socket path or a (host, port) pair), for tests
    that slow down or cut a dependency: `latency` delays every chunk sent upstream, `cut()` drops the open
    connections and refuses new ones until `restore()`; `peak` is the most upstream connections ever open
    at once."""

    def __init__(self, upstream: str | tuple[str, int]):
        self.upstream = upstream
        self.latency = 0.0
        self.peak = 0
        self._open: set[socket.socket] = set()
        self._pairs = 0
        self._lock = threading.Lock()
        self._refusing = False
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _connect_upstream(self) -> socket.socket:
        if isinstance(self.upstream, str):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(self.upstream)
            return sock
        return socket.create_connection(self.upstream)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._refusing:
                client.close()
                continue
            upstream = self._connect_upstream()
            with self._lock:
                self._open.update((client, upstream))
                self._pairs += 1
                self.peak = max(self.peak, self._pairs)
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, delayed: bool) -> None:
        try:
            while data := source.recv(65536):
                if delayed and self.latency:
                    time.sleep(self.latency)
                target.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                closing = [s for s in (source, target) if s in self._open]
                self._open.difference_update(closing)
                if closing:
                    self._pairs -= 1
            for sock in (source, target):
                sock.close()

    def cut(self) -> None:
        self._refusing = True
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def restore(self) -> None:
        self._refusing = False

    def close(self) -> None:
        self._listener.close()
        self.cut()
