"""Requests/s and latency of authenticated /v1 requests vs bare Django views, same server.

Two pairs: `GET /v1/health` against the liveness view `/healthz`, and `GET /v1/documents/{id}` against a
bare Django view doing the same ORM read of one document in the tenant's schema without authentication
(`benchmarks/api_overhead_urls.py`). Starts gunicorn (2 worker processes) on the embedded services (or
DATABASE_URL / REDIS_URL), provisions a benchmark tenant with one document, then drives each endpoint from 2
client processes with keep-alive connections.

    python benchmarks/api_overhead.py [--seconds 10] [--clients 2] [--workers 2]

The ratio rows are the authenticated request's req/s (and p50, p99) over the bare view's.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.net import free_port, wait_http  # noqa: E402


def _client(port: int, path: str, headers: dict, seconds: float, out: mp.Queue) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    latencies, errors = [], 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        if response.status != 200:
            errors += 1
        if response.getheader("Connection", "").lower() == "close":
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    out.put((latencies, errors))


def _measure(port: int, path: str, headers: dict, seconds: float, clients: int) -> dict:
    out: mp.Queue = mp.Queue()
    procs = [mp.Process(target=_client, args=(port, path, headers, seconds, out)) for _ in range(clients)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    latencies = sorted(x for lat, _ in results for x in lat)
    errors = sum(e for _, e in results)

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / seconds,
        "p50": pct(0.50),
        "p99": pct(0.99),
    }


def _unthrottle(tenant) -> None:
    """Put the benchmark tenant on a plan whose rate limits the load cannot reach (the limiter still runs)."""
    from billing.entitlements import account_for
    from billing.models import Plan

    plan = Plan.objects.filter(code="benchmark").first() or Plan.objects.create(
        code="benchmark",
        name="Benchmark",
        monthly_price=0,
        included_units=0,
        overage_unit_price=0,
        max_document_bytes=1,
        max_context_tokens=1,
        api_rate="100000000/min",
        api_key_rate="100000000/min",
        seats=1,
    )
    account = account_for(tenant)
    account.plan = plan
    account.save()


def _bench_document(tenant) -> str:
    """The benchmark tenant's one document (a short contract clause, `ready`), created the first time."""
    import hashlib

    from django_tenants.utils import tenant_context

    from quire.documents.models import Document, DocumentStatus

    text = "This Agreement is governed by the laws of the State of Delaware. " * 20
    sha256 = hashlib.sha256(text.encode()).hexdigest()
    with tenant_context(tenant):
        document = Document.objects.filter(sha256=sha256).first() or Document.objects.create(
            filename="bench.txt",
            content_type="text/plain",
            sha256=sha256,
            size_bytes=len(text),
            file="documents/bench.txt",
            status=DocumentStatus.READY,
            text=text,
            page_starts=[0],
        )
    return document.pk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.api_overhead_settings"
    os.environ.setdefault("QUIRE_LOG_LEVEL", "WARNING")
    os.environ.setdefault("QUIRE_DEBUG", "false")
    os.environ.setdefault("QUIRE_API_RATE", "1000000/min")
    from quire.embedded import ensure_service_urls

    servers = ensure_service_urls()
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate_schemas", interactive=False, verbosity=0)
    from tenants.models import Tenant
    from tenants.services import api_key_issue, tenant_provision

    tenant = Tenant.objects.filter(slug="bench").first()
    secret = (
        api_key_issue(tenant=tenant, name="bench", role="viewer").secret
        if tenant
        else tenant_provision(name="Bench", slug="bench").issued_key.secret
    )
    _unthrottle(Tenant.objects.get(slug="bench"))
    document_id = _bench_document(Tenant.objects.get(slug="bench"))
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "quire.wsgi:application",
            "--workers",
            str(args.workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--keep-alive",
            "30",
        ],
        cwd=ROOT,
        env=os.environ.copy(),
        start_new_session=True,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", server, timeout=60)
        auth = {"Authorization": f"Bearer {secret}"}
        pairs = [
            ("/healthz", "/v1/health"),
            (f"/healthz/document/{document_id}", f"/v1/documents/{document_id}"),
        ]
        for bare_path, api_path in pairs:
            _measure(port, bare_path, {}, 1.0, args.clients)
            _measure(port, api_path, auth, 1.0, args.clients)
        results = []
        for bare_path, api_path in pairs:
            bare = _measure(port, bare_path, {}, args.seconds, args.clients)
            api = _measure(port, api_path, auth, args.seconds, args.clients)
            results.append((bare, api))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        for s in servers:
            s.stop()

    print(
        f"gunicorn {args.workers} workers, {args.clients} client processes, {args.seconds:.0f}s each, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"{'endpoint':<40}{'requests':>9}{'errors':>8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    names = [
        ("bare Django view  GET /healthz", "authenticated  GET /v1/health", "/v1/health"),
        ("bare Django view  document read", "authenticated  GET /v1/documents/{id}", "/v1/documents/{id}"),
    ]
    for (bare_name, api_name, short), (bare, api) in zip(names, results, strict=True):
        for name, r in ((bare_name, bare), (api_name, api)):
            print(
                f"{name:<40}{r['requests']:>9}{r['errors']:>8}{r['rps']:>10.0f}"
                f"{r['p50']:>9.2f}{r['p99']:>9.2f}"
            )
        print(
            f"{'ratio ' + short + ' vs bare':<40}{'':>9}{'':>8}{api['rps'] / bare['rps']:>10.2f}"
            f"{api['p50'] / bare['p50']:>9.2f}{api['p99'] / bare['p99']:>9.2f}"
        )


if __name__ == "__main__":
    main()
