"""OpenAI-compatible HTTP server: `python -m inference.server --model DIR [--host --port]`."""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import re
import select
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import torch

from inference.api import ApiError, ApiResponse, OpenAIApi, error_response
from inference.engine import Engine, EngineConfig
from inference.model import load_model
from inference.service import EngineService
from inference.tokenizer import ChatTokenizer

logger = logging.getLogger("inference.server")
MAX_BODY_BYTES = 64 * 2**20
# How long a stopping server waits for the requests it is answering to write their last bytes (the 503s of
# those the shutdown ended included) before the process exits and its handler threads with it.
SHUTDOWN_GRACE_SECONDS = 10.0
# How long a stopping server lets the requests in flight finish, refusing new ones with 503, before it ends
# those still running with 503 (`drain_seconds()`, `--drain-seconds`).
DRAIN_SECONDS_ENV = "QUIRE_INFERENCE_DRAIN_SECONDS"
DEFAULT_DRAIN_SECONDS = 10.0


# How long a connection's read or write may wait (`--idle-timeout`).
IDLE_TIMEOUT_SECONDS = 60.0


def drain_seconds() -> float:
    """`QUIRE_INFERENCE_DRAIN_SECONDS`, a non-negative number of seconds; `DEFAULT_DRAIN_SECONDS` when unset."""
    text = os.environ.get(DRAIN_SECONDS_ENV, "").strip()
    if not text:
        return DEFAULT_DRAIN_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{DRAIN_SECONDS_ENV} must be a non-negative number of seconds, got {text!r}")
    return value


def build_api(
    model_dir: str | Path,
    *,
    engine_config: EngineConfig | None = None,
    max_pending: int = 256,
    model_name: str | None = None,
    device: str | None = None,
    **api_options: object,
) -> OpenAIApi:
    """Load the checkpoint, start an engine thread and return the routes that serve it."""
    model = load_model(model_dir, device=device)
    tokenizer = ChatTokenizer.from_dir(model_dir)
    engine = Engine(model, tokenizer, engine_config)
    if torch.device(model.device).type == "cuda":
        engine.warm_up()
    service = EngineService(engine, max_pending=max_pending)
    return OpenAIApi(service, tokenizer, model_name or Path(model_dir).resolve().name, **api_options)


# A chunk-size line (hex digits, maybe extensions) and each trailer line are at most this long, and a trailer
# at most this many lines.
_CHUNK_LINE_BYTES = 4096
_MAX_TRAILER_LINES = 64
_HEX_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")


def _framing_error(status: int, message: str, code: str) -> ApiError:
    """An error in the body's framing: the answer closes the connection, whose next bytes are not a request."""
    return ApiError(
        status, message, error_type="invalid_request_error", code=code, headers={"connection": "close"}
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "quire-inference"
    api: OpenAIApi
    server: InferenceHTTPServer
    _peer_closed = False

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionResetError, BrokenPipeError):
            self.close_connection = True

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_OPTIONS(self) -> None:
        self._serve("OPTIONS")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The errors the HTTP layer answers itself (a malformed request line or header, a line too long,
        another HTTP version, a method with no handler) in OpenAI's JSON shape rather than an HTML page; the
        connection closes, as after any of them."""
        self.log_error("code %d, message %s", code, message)
        # A request line that did not parse leaves the HTTP/0.9 default, which would answer without a status
        # line and headers.
        self.request_version = self.protocol_version
        short = self.responses.get(code, ("error", ""))[0]
        error = ApiError(
            code,
            message or short,
            error_type="invalid_request_error" if code < 500 else "server_error",
            headers={"connection": "close"},
        )
        response = error_response(error)
        self._send_head(response, {"content-length": str(len(response.body))})
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: object) -> None:
        logger.info("%s %s", self.address_string(), format % args)

    def _serve(self, method: str) -> None:
        with self.server.answering():
            self._answer(method)

    def _answer(self, method: str) -> None:
        try:
            body = self._read_body()
        except ApiError as error:
            self.close_connection = True
            response = error_response(error)
        else:
            response = self.api.handle(
                method, self.path, body, dict(self.headers.items()), client_gone=self._client_gone
            )
        if response.stream is None:
            if self._peer_closed:
                self.close_connection = True
                return
            self._send_head(response, {"content-length": str(len(response.body))})
            if method != "HEAD":
                self.wfile.write(response.body)
            return
        try:
            self._send_head(response, {"transfer-encoding": "chunked"})
            for piece in response.stream:
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            close = getattr(response.stream, "close", None)
            if close is not None:
                close()

    def _read_body(self) -> bytes:
        """The request body, framed by `Transfer-Encoding: chunked` (which wins over a Content-Length) or by
        Content-Length; an `ApiError` (the connection then closes: the rest of the body is not read) for a
        framing that cannot be read, a body over `MAX_BODY_BYTES` or another transfer coding."""
        encoding = self.headers.get("transfer-encoding")
        if encoding is not None:
            if encoding.strip().lower() != "chunked":
                raise _framing_error(
                    501,
                    f"Transfer-Encoding {encoding!r} is not supported; send the body with Content-Length or "
                    "Transfer-Encoding: chunked",
                    "unsupported_transfer_encoding",
                )
            return self._read_chunked()
        declared = self.headers.get("content-length", "0").strip()
        if not (declared.isascii() and declared.isdigit()):
            raise _framing_error(
                400,
                f"the Content-Length header must be a non-negative integer, got {declared!r}",
                "invalid_content_length",
            )
        length = int(declared)
        if length > MAX_BODY_BYTES:
            raise _framing_error(413, f"the request body is over {MAX_BODY_BYTES} bytes", "body_too_large")
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(_CHUNK_LINE_BYTES + 1)
            size_text = line.split(b";", 1)[0].strip()
            if not line.endswith(b"\n") or not _HEX_SIZE.fullmatch(size_text):
                raise _framing_error(
                    400, f"a chunk's size line is malformed: {line[:40]!r}", "invalid_chunked_body"
                )
            size = int(size_text, 16)
            if size == 0:
                break
            if len(body) + size > MAX_BODY_BYTES:
                raise _framing_error(
                    413, f"the request body is over {MAX_BODY_BYTES} bytes", "body_too_large"
                )
            chunk = self.rfile.read(size)
            if len(chunk) < size or self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise _framing_error(
                    400, "a chunk is shorter than its size line says", "invalid_chunked_body"
                )
            body += chunk
        for _ in range(_MAX_TRAILER_LINES):
            trailer = self.rfile.readline(_CHUNK_LINE_BYTES + 1)
            if trailer in (b"\r\n", b"\n", b""):
                return bytes(body)
        raise _framing_error(400, "the chunked body's trailer is too long", "invalid_chunked_body")

    def _client_gone(self) -> bool:
        """Whether the client has closed the connection: the socket reads as ended (a client that sent
        another request after this one reads as data, and stays)."""
        if not self._peer_closed:
            poller = select.poll()
            poller.register(self.connection, select.POLLIN)
            try:
                readable = bool(poller.poll(0))
                self._peer_closed = readable and self.connection.recv(1, socket.MSG_PEEK) == b""
            except OSError:
                self._peer_closed = True
        return self._peer_closed

    def _send_head(self, response: ApiResponse, extra: dict[str, str]) -> None:
        self.send_response(response.status)
        for name, value in {**extra, **response.headers}.items():
            self.send_header(name, value)
        self.end_headers()


class InferenceHTTPServer(ThreadingHTTPServer):
    """Handler threads are daemons, so that idle keep-alive connections do not hold the process up; `stop()`
    waits for the requests being answered instead. A connection on which a read or write waits `idle_timeout`
    seconds (an idle keep-alive, a request line, header or body sent slowly or not at all, a stream nobody
    reads) is closed, so such clients cannot hold every handler thread; waiting for the engine is no socket
    wait, so a long generation is not cut."""

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], api: OpenAIApi, *, idle_timeout: float = IDLE_TIMEOUT_SECONDS
    ) -> None:
        handler = type("BoundHandler", (_Handler,), {"api": api, "timeout": idle_timeout})
        super().__init__(address, handler)
        self.api = api
        self._answering = 0
        self._idle = threading.Condition()
        self._serving: int | None = None
        self._closing = False

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve until `stop()` (or `shutdown()`); returns at once when `stop()` already began."""
        with self._idle:
            if self._closing:
                return
            self._serving = threading.get_ident()
        try:
            super().serve_forever(poll_interval)
        finally:
            with self._idle:
                self._serving = None

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        with self._idle:
            self._answering += 1
        try:
            yield
        finally:
            with self._idle:
                self._answering -= 1
                self._idle.notify_all()

    def stop(self, grace: float = SHUTDOWN_GRACE_SECONDS, drain: float = 0.0) -> bool:
        """Drain, then close: for up to `drain` seconds the server still listens but refuses new requests
        with 503 `unavailable` (and `/health` answers 503 `draining`) while the requests in flight finish;
        then it stops serving (from another thread than `serve_forever`'s), closes the listening socket,
        shuts the engine service down (the requests still in flight end with 503 `unavailable`) and waits up
        to `grace` seconds for every request being answered to be written out; False when some were not."""
        self.api.service.drain(drain)
        with self._idle:
            self._closing = True
            serving = self._serving
        if serving is not None and serving != threading.get_ident():
            self.shutdown()
        self.server_close()
        self.api.service.shutdown()
        with self._idle:
            return self._idle.wait_for(lambda: self._answering == 0, grace)


def _stop_on_signals(server: InferenceHTTPServer, drain: float) -> threading.Thread:
    """On the first SIGTERM or SIGINT, a thread runs `server.stop(drain=drain)` (which ends `serve_forever`);
    a second signal cuts the drain short. Returns that thread, started once a signal came."""

    def stop() -> None:
        if not server.stop(drain=drain):
            logger.warning("stopped with requests still being answered")

    stopping = threading.Thread(target=stop, name="quire-stop")

    def on_signal(signum: int, frame: object) -> None:
        if stopping.ident is None:
            logger.info("%s: draining for up to %.0f s", signal.Signals(signum).name, drain)
            stopping.start()
        else:
            logger.info("%s: ending the drain now", signal.Signals(signum).name)
            threading.Thread(target=server.api.service.shutdown, name="quire-stop-now", daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stopping


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.server", description=__doc__)
    parser.add_argument(
        "--model", required=True, help="Hugging Face model directory (config.json, safetensors)"
    )
    parser.add_argument("--host", default=os.environ.get("QUIRE_INFERENCE_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("QUIRE_INFERENCE_PORT", "8000")))
    parser.add_argument(
        "--served-model-name", default=None, help="model id in the API (default: directory name)"
    )
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--block-size", type=int, default=16, help="tokens per KV cache block")
    parser.add_argument(
        "--kv-cache-mb",
        type=int,
        default=None,
        help="memory for the KV cache (default: 80%% of free GPU memory, 512 on CPU)",
    )
    parser.add_argument("--max-num-seqs", type=int, default=64, help="sequences decoded together")
    parser.add_argument(
        "--max-num-batched-tokens", type=int, default=8192, help="tokens per forward step (prefill chunking)"
    )
    parser.add_argument(
        "--no-prefix-cache", action="store_true", help="do not reuse cache blocks of shared prompt prefixes"
    )
    parser.add_argument(
        "--max-model-len",
        type=int,
        default=None,
        help="context window in tokens, prompt and completion together (default: the model's)",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("QUIRE_INFERENCE_API_KEY"),
        help="require this bearer key on /v1 routes (default: QUIRE_INFERENCE_API_KEY; none when unset)",
    )
    parser.add_argument("--max-pending", type=int, default=256, help="unfinished requests before 429")
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=None,
        help="on SIGTERM, how long the requests in flight may finish while new ones get 503 "
        f"(default: {DRAIN_SECONDS_ENV}, else {DEFAULT_DRAIN_SECONDS:g})",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=IDLE_TIMEOUT_SECONDS,
        help="close a connection whose read or write waits this many seconds (default: %(default)g)",
    )
    args = parser.parse_args(argv)
    if not (math.isfinite(args.idle_timeout) and args.idle_timeout > 0):
        parser.error(f"--idle-timeout must be a positive number, got {args.idle_timeout}")
    drain = drain_seconds() if args.drain_seconds is None else args.drain_seconds
    if not (math.isfinite(drain) and drain >= 0):
        parser.error(f"--drain-seconds must be a non-negative number, got {drain}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        config = EngineConfig(
            block_size=args.block_size,
            kv_cache_bytes=None if args.kv_cache_mb is None else args.kv_cache_mb * 2**20,
            max_num_seqs=args.max_num_seqs,
            max_num_batched_tokens=args.max_num_batched_tokens,
            enable_prefix_cache=not args.no_prefix_cache,
            max_model_len=args.max_model_len,
        )
        api = build_api(
            args.model,
            engine_config=config,
            max_pending=args.max_pending,
            model_name=args.served_model_name,
            device=args.device,
            api_key=args.api_key or None,
        )
    except ValueError as error:
        parser.error(str(error))
    server = InferenceHTTPServer((args.host, args.port), api, idle_timeout=args.idle_timeout)
    stopping = _stop_on_signals(server, drain)
    logger.info("serving %s on http://%s:%d/v1", api.model_name, args.host, server.server_address[1])
    try:
        server.serve_forever()
    finally:
        if stopping.ident is not None:
            stopping.join()
        elif not server.stop():
            logger.warning("stopped with requests still being answered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
