"""Webhook deliveries/s to a local receiver and latency from event commit to delivery, as a table.

Starts a `celery worker` on the `webhooks` queue (2 processes by default) against the embedded services
(or DATABASE_URL / REDIS_URL) in a database of its own, provisions a tenant with one endpoint pointing at
an HTTP receiver in this process, then commits events one transaction each: a burst (all at once, so
deliveries queue up: throughput) and a paced run (below capacity: latency of one delivery).

    python benchmarks/webhooks.py [--events 500] [--paced-events 100] [--rate 5] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATABASE = "quire_bench_webhooks"
REDIS_DB = 14


class Receipts:
    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.requests = 0
        self.lock = threading.Lock()
        self.all_arrived = threading.Event()
        self.expected = 0


def _start_receiver(receipts: Receipts) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            now = time.time()
            with receipts.lock:
                receipts.requests += 1
                receipts.at.setdefault(self.headers["webhook-id"], now)
                if len(receipts.at) >= receipts.expected:
                    receipts.all_arrived.set()
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/hooks"


def _run(tenant, receipts: Receipts, count: int, rate: float | None, timeout: float) -> dict:
    from django_tenants.utils import tenant_context

    from quire.webhooks.services import event_publish

    committed: dict[str, float] = {}
    with receipts.lock:
        receipts.at.clear()
        receipts.requests = 0
        receipts.expected = count
        receipts.all_arrived.clear()
    started = time.time()
    with tenant_context(tenant):
        for i in range(count):
            if rate:
                time.sleep(max(0.0, started + i / rate - time.time()))
            event = event_publish(event_type="usage.threshold", data={"metric": "pages", "sequence": i})
            committed[event.id] = time.time()
    if not receipts.all_arrived.wait(timeout):
        raise RuntimeError(f"only {len(receipts.at)} of {count} deliveries arrived in {timeout:.0f}s")
    latencies = sorted(receipts.at[e] - committed[e] for e in committed)
    span = max(receipts.at.values()) - min(committed.values())

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {
        "events": count,
        "requests": receipts.requests,
        "per_s": count / span,
        "p50": pct(0.50),
        "p99": pct(0.99),
        "max": latencies[-1] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500, help="events in the burst")
    parser.add_argument("--paced-events", type=int, default=100)
    parser.add_argument("--rate", type=float, default=5.0, help="events/s in the paced run")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quire.settings")
    os.environ.setdefault("QUIRE_LOG_LEVEL", "WARNING")
    os.environ.setdefault("QUIRE_DEBUG", "false")
    os.environ["QUIRE_WEBHOOKS_ALLOW_PRIVATE"] = "true"
    from quire.embedded import ensure_service_urls

    servers = ensure_service_urls(database=DATABASE)
    redis_url = urlparse(os.environ["REDIS_URL"])
    os.environ["REDIS_URL"] = urlunparse(redis_url._replace(path=f"/{REDIS_DB}"))
    import django
    import redis
    from django.core.management import call_command

    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    django.setup()
    call_command("migrate_schemas", interactive=False, verbosity=0)
    from quire.webhooks.models import WebhookEndpoint
    from quire.webhooks.services import endpoint_create
    from tenants.models import Tenant
    from tenants.services import tenant_provision
    from tests.support import WorkerProcess

    tenant = (
        Tenant.objects.filter(slug="bench-hooks").first()
        or tenant_provision(name="Bench Hooks", slug="bench-hooks").tenant
    )
    receipts = Receipts()
    receiver, url = _start_receiver(receipts)
    from django_tenants.utils import tenant_context

    with tenant_context(tenant):
        WebhookEndpoint.objects.all().delete()
        endpoint_create(url=url, event_types=["usage.threshold"])
    worker = WorkerProcess(queues="webhooks", concurrency=args.concurrency).start()
    try:
        _run(tenant, receipts, 20, None, 60)
        burst = _run(tenant, receipts, args.events, None, 600)
        paced = _run(tenant, receipts, args.paced_events, args.rate, 600)
    finally:
        worker.stop()
        receiver.shutdown()
        for server in servers:
            server.stop()

    print(
        f"celery worker -Q webhooks, {args.concurrency} processes, {os.cpu_count()} CPUs, receiver on loopback"
    )
    print(f"{'run':<26}{'events':>7}{'requests':>9}{'deliv/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for name, r in ((f"burst ({args.events} at once)", burst), (f"paced ({args.rate:g} events/s)", paced)):
        print(
            f"{name:<26}{r['events']:>7}{r['requests']:>9}{r['per_s']:>9.1f}"
            f"{r['p50']:>9.1f}{r['p99']:>9.1f}{r['max']:>9.1f}"
        )
    print("latency: from the event's commit to its arrival at the receiver")


if __name__ == "__main__":
    main()
