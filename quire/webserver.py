"""Gunicorn's configuration for the web process (`make run` and the production image):
`gunicorn -c python:quire.webserver quire.wsgi`.

Threads, not processes, carry the concurrency: QUIRE_WEB_WORKERS processes of QUIRE_WEB_THREADS threads
each. Every process holds a connection pool of at most QUIRE_DB_POOL_SIZE PostgreSQL connections (fewer
than its threads: requests that do not reach the database never hold one), so one web replica opens at most
workers x pool size connections however many clients arrive; a request that waits QUIRE_DB_POOL_TIMEOUT
seconds for a connection is answered 503 with Retry-After (docs/architecture.md, "Capacity").

What gunicorn refuses before the application sees the request (a header field past
`limit_request_field_size`, more than `limit_request_fields` headers, a request line past
`limit_request_line`, a malformed request) it answers with an HTML page from `gunicorn.util.write_error`,
which gunicorn offers no setting for: `write_json_error` takes its place, so those answers carry the /v1
error shape too. The message is fixed per status; nothing of the refused request is echoed.
"""

import json
import os

from gunicorn import util

_SERVER_ERRORS = {
    400: ("bad_request", "The request could not be understood."),
    403: ("forbidden", "The request is forbidden."),
    414: ("request_line_too_long", "The request line (method and URL) is longer than this server accepts."),
    417: ("expectation_failed", "The Expect header asks for something this server does not do."),
    431: (
        "request_headers_too_large",
        "The request's header fields are larger or more than this server accepts.",
    ),
    501: ("not_implemented", "The request uses a transfer coding this server does not implement."),
}


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's `util.write_error`, answering `{"error": {...}}` instead of an HTML page."""
    code, message = _SERVER_ERRORS.get(status_int, ("internal_error", "The server failed to answer."))
    body = json.dumps(
        {
            "error": {
                "type": "invalid_request_error" if status_int < 500 else "api_error",
                "code": code,
                "message": message,
                "param": None,
            }
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


util.write_error = write_json_error

# The image sets QUIRE_WEB_BIND (0.0.0.0:8000, so probes and the Service reach the pod); `make run` binds
# QUIRE_HOST:QUIRE_PORT, loopback by default.
bind = (
    os.environ.get("QUIRE_WEB_BIND")
    or f"{os.environ.get('QUIRE_HOST', '127.0.0.1')}:{os.environ.get('QUIRE_PORT', '8000')}"
)
workers = int(os.environ.get("QUIRE_WEB_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("QUIRE_WEB_THREADS", "8"))
timeout = int(os.environ.get("QUIRE_WEB_TIMEOUT", "60"))
graceful_timeout = 20
keepalive = 5
# Each process is recycled after about this many requests, so none grows without bound.
max_requests = int(os.environ.get("QUIRE_WEB_MAX_REQUESTS", "5000"))
max_requests_jitter = max_requests // 10
# Peers whose X-Forwarded-* headers are trusted: the image trusts the pod network's load balancer ("*").
forwarded_allow_ips = os.environ.get("QUIRE_WEB_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
os.environ.setdefault("QUIRE_DB_POOL_SIZE", str(max(1, threads // 2)))
# The web process embeds only queries, a few dozen word pieces each, on `threads` request threads: torch's own
# thread pool adds wake-ups to every one (`benchmarks/load.py`, POST /v1/search on 2 CPUs: 82 req/s with a torch
# thread per core, 112 with one).
os.environ.setdefault("OMP_NUM_THREADS", "1")
