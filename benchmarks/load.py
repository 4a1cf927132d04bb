"""Load on the whole stack over loopback: how many requests a second Quire sustains with p99 under 200 ms,
where the knee is, and what saturates first.

Starts gunicorn as `make run` does (`quire.webserver`: QUIRE_WEB_WORKERS processes, threads, the per-process
connection pool) and Celery workers on the embedded services (or DATABASE_URL / REDIS_URL), provisions a
tenant on an unthrottled plan with one ingested document and one finished job, then for each endpoint
raises the number of concurrent keep-alive clients step by step: req/s, p50, p99, error rate (any non-2xx,
503s included) and the CPU share of web, PostgreSQL, Redis and the clients themselves. Last, jobs/s: a
burst of small legal jobs run by the workers.

    python benchmarks/load.py [--seconds 5] [--levels 1,2,4,8,16] [--web-workers 2] [--workers 2] [--jobs 20]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.api_overhead import _bench_document, _unthrottle  # noqa: E402
from tests.support.net import free_port, wait_http  # noqa: E402

P99_TARGET_MS = 200.0


def _client(
    port: int, method: str, path: str, body: bytes | None, headers: dict, seconds: float, out
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies, errors, statuses = [], 0, {}
    cpu_started = time.process_time()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            ok = 200 <= response.status < 300
            if not ok:
                statuses[response.status] = statuses.get(response.status, 0) + 1
        except OSError:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            ok = False
            statuses["conn"] = statuses.get("conn", 0) + 1
        latencies.append(time.perf_counter() - started)
        errors += not ok
    out.put((latencies, errors, time.process_time() - cpu_started, statuses))


def _cpu_groups() -> dict[str, list[psutil.Process]]:
    groups: dict[str, list[psutil.Process]] = {"web": [], "postgres": [], "redis": []}
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if "gunicorn" in cmd and "quire.webserver" in cmd:
            groups["web"].append(proc)
        elif (proc.info["name"] or "").startswith("postgres"):
            groups["postgres"].append(proc)
        elif (proc.info["name"] or "").startswith("redis"):
            groups["redis"].append(proc)
    return groups


def _cpu_seconds(procs: list[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def _step(port: int, method: str, path: str, body: bytes | None, headers: dict, clients: int, seconds: float):
    groups = _cpu_groups()
    before = {name: _cpu_seconds(procs) for name, procs in groups.items()}
    out: mp.Queue = mp.Queue()
    procs = [
        mp.Process(target=_client, args=(port, method, path, body, headers, seconds, out))
        for _ in range(clients)
    ]
    started = time.perf_counter()
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    wall = time.perf_counter() - started
    cpu = {name: max(0.0, _cpu_seconds(groups[name]) - before[name]) / wall * 100 for name in groups}
    cpu["clients"] = sum(r[2] for r in results) / wall * 100
    latencies = sorted(x for r in results for x in r[0])
    errors = sum(r[1] for r in results)
    failed: dict = {}
    for r in results:
        for status, count in r[3].items():
            failed[status] = failed.get(status, 0) + count

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {
        "clients": clients,
        "rps": len(latencies) / seconds,
        "p50": pct(0.5),
        "p99": pct(0.99),
        "errors": errors / max(1, len(latencies)),
        "failed": failed,
        "cpu": cpu,
    }


def _api(port: int, secret: str, method: str, path: str, payload: dict | None = None) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    conn.request(method, path, body=json.dumps(payload).encode() if payload else None, headers=headers)
    response = conn.getresponse()
    data = json.loads(response.read() or b"{}")
    if response.status >= 300:
        raise RuntimeError(f"{method} {path}: {response.status} {data}")
    return data


def _wait_jobs(port: int, secret: str, job_ids: list[str], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    pending = set(job_ids)
    while pending:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} jobs did not finish")
        for job_id in list(pending):
            if _api(port, secret, "GET", f"/v1/jobs/{job_id}")["status"] in (
                "succeeded",
                "failed",
                "canceled",
            ):
                pending.discard(job_id)
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--levels", default="1,2,4,8,16")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=20)
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]

    os.environ["DJANGO_SETTINGS_MODULE"] = "quire.settings"
    os.environ.setdefault("QUIRE_LOG_LEVEL", "WARNING")
    os.environ.setdefault("QUIRE_DEBUG", "false")
    os.environ.setdefault("QUIRE_ENV", "test")
    # The per-key ceiling (1200/min by default) would answer 429 long before the stack saturates.
    os.environ.setdefault("QUIRE_API_RATE", "100000000/min")
    from quire.embedded import ensure_service_urls

    servers = ensure_service_urls()
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate_schemas", interactive=False, verbosity=0)
    from tenants.models import Tenant
    from tenants.services import api_key_issue, tenant_provision

    tenant = Tenant.objects.filter(slug="load").first()
    secret = (
        api_key_issue(tenant=tenant, name="load", role="admin").secret
        if tenant
        else tenant_provision(name="Load", slug="load").issued_key.secret
    )
    tenant = Tenant.objects.get(slug="load")
    _unthrottle(tenant)
    document_id = _bench_document(tenant)

    port = free_port()
    env = {**os.environ, "QUIRE_PORT": str(port), "QUIRE_WEB_WORKERS": str(args.web_workers)}
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:quire.webserver", "quire.wsgi"],
            cwd=ROOT,
            env={**env, "QUIRE_LOG_LEVEL": "ERROR"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    ]
    for index in range(args.workers):
        children.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "quire",
                    "worker",
                    "-Q",
                    "ingest,jobs,webhooks,billing",
                    "--concurrency",
                    "1",
                    "-n",
                    f"load{index}@%h",
                    "-l",
                    "WARNING",
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", children[0], timeout=60)
        job = _api(port, secret, "POST", "/v1/jobs", {"connector": "legal", "documents": [document_id]})
        _wait_jobs(port, secret, [job["id"]])
        auth = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        search = json.dumps({"query": "which law governs the agreement", "k": 5}).encode()
        endpoints = [
            ("GET /v1/jobs/{id}", "GET", f"/v1/jobs/{job['id']}", None),
            ("POST /v1/search", "POST", "/v1/search", search),
        ]
        for _, method, path, body in endpoints:
            _step(port, method, path, body, auth, args.web_workers * 2, 2.0)
        table = {
            name: [_step(port, method, path, body, auth, n, args.seconds) for n in levels]
            for name, method, path, body in endpoints
        }
        started = time.perf_counter()
        job_ids = [
            _api(port, secret, "POST", "/v1/jobs", {"connector": "legal", "documents": [document_id]})["id"]
            for _ in range(args.jobs)
        ]
        _wait_jobs(port, secret, job_ids)
        jobs_per_second = args.jobs / (time.perf_counter() - started)
    finally:
        for child in children:
            os.killpg(child.pid, signal.SIGTERM)
        for child in children:
            child.wait(timeout=60)
        for server in servers:
            server.stop()

    print(
        f"gunicorn {args.web_workers} processes x {os.environ.get('QUIRE_WEB_THREADS', '8')} threads, "
        f"{args.workers} Celery workers, {args.seconds:.0f} s per step, {os.cpu_count()} CPUs (clients share them)"
    )
    print(
        f"{'endpoint':<20}{'clients':>8}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'web %':>8}{'pg %':>7}{'redis %':>8}{'clients %':>10}"
    )
    for name, rows in table.items():
        for r in rows:
            c = r["cpu"]
            print(
                f"{name:<20}{r['clients']:>8}{r['rps']:>9.0f}{r['p50']:>9.1f}{r['p99']:>9.1f}"
                f"{r['errors']:>8.1%}{c['web']:>8.0f}{c['postgres']:>7.0f}{c['redis']:>8.0f}{c['clients']:>10.0f}"
                + (f"  {r['failed']}" if r["failed"] else "")
            )
        within = [r for r in rows if r["p99"] < P99_TARGET_MS and r["errors"] == 0]
        knee = max(within, key=lambda r: r["rps"]) if within else None
        print(
            f"{name}: sustained {knee['rps']:.0f} req/s with p99 < {P99_TARGET_MS:.0f} ms at {knee['clients']} clients"
            if knee
            else f"{name}: p99 >= {P99_TARGET_MS:.0f} ms already at {rows[0]['clients']} client(s)"
        )
    print(f"jobs: {args.jobs} small legal jobs in a burst, {jobs_per_second:.2f} jobs/s completed")


if __name__ == "__main__":
    main()
