"""What many tenants cost one PostgreSQL: provisioning, `migrate_schemas`, catalog size, /v1 latency.

Starts its own PostgreSQL and Redis under `--data-dir` (a fresh directory, removed first), migrates the
public schema, then provisions `--tenants` tenants one after the other through `tenant_provision` (schema,
tenant migrations, host name, first API key), timing each. At `--checkpoint` tenants and again at the end it
measures the catalog (pg_catalog's size and row count, the database's size), the time `/metrics` takes to
build (its counts read every tenant schema) and `manage.py migrate_schemas
--tenant` in a fresh process: through django-tenants' own executors, which run `migrate` in every schema,
serial (`--executor standard`) and parallel (`--executor multiprocessing`,
`TENANT_MULTIPROCESSING_MAX_PROCESSES` processes), and through `tenants.migrating`'s, which first reads every
schema's `django_migrations` and skips those with nothing to apply. Nothing is left to apply, so this is the
floor of every deploy.

Then gunicorn (`--workers`) serves `GET /v1/documents` to `--clients` client processes on loopback, first
with one tenant's key, then with each request taking the next of all the tenants' keys, and reports
p50/p99 and the memory (USS) of the PostgreSQL backends that served them.

    python benchmarks/tenants.py [--tenants 1000] [--checkpoint 100] [--seconds 10]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.net import free_port, wait_http  # noqa: E402


def _client(port: int, path: str, secrets: list[str], offset: int, seconds: float, out: mp.Queue) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies, errors, i = [], 0, offset
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        headers = {"Authorization": f"Bearer {secrets[i % len(secrets)]}"}
        i += 1
        started = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        if response.status != 200:
            errors += 1
    out.put((latencies, errors))


def _measure(port: int, path: str, secrets: list[str], seconds: float, clients: int) -> dict:
    out: mp.Queue = mp.Queue()
    step = max(1, len(secrets) // clients)
    procs = [
        mp.Process(target=_client, args=(port, path, secrets, n * step, seconds, out)) for n in range(clients)
    ]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    latencies = sorted(x for lat, _ in results for x in lat)

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {
        "requests": len(latencies),
        "errors": sum(e for _, e in results),
        "rps": len(latencies) / seconds,
        "p50": pct(0.50),
        "p99": pct(0.99),
    }


CATALOG_QUERY = (
    "SELECT sum(pg_total_relation_size(c.oid)), (SELECT count(*) FROM pg_class),"
    " (SELECT count(*) FROM pg_attribute), pg_database_size(current_database())"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'pg_catalog'"
)


def _catalog() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(CATALOG_QUERY)
        catalog_bytes, classes, attributes, database_bytes = cursor.fetchone()
    return {
        "catalog_bytes": int(catalog_bytes),
        "pg_class": classes,
        "pg_attribute": attributes,
        "database_bytes": int(database_bytes),
    }


MIGRATE = """
import django
from django.conf import settings
django.setup()
if {every}:
    settings.GET_EXECUTOR_FUNCTION = None
from django.core.management import call_command
call_command("migrate_schemas", tenant=True, executor={executor!r}, interactive=False, verbosity=0)
"""


def _migrate_seconds(executor: str, *, every: bool = False) -> float:
    """`migrate_schemas --tenant` in a fresh process; `every`: through django-tenants' own executor, which
    migrates every schema, instead of `tenants.migrating`'s, which skips those with nothing to apply."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", MIGRATE.format(every=every, executor=executor)],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "quire.settings"},
        check=True,
    )
    return time.perf_counter() - started


def _fresh_baseline() -> dict:
    """The catalog of a fresh database with only the public schema migrated, in this cluster (for a
    --reuse run whose first run kept no baseline)."""
    from urllib.parse import urlparse, urlunparse

    import psycopg

    url = os.environ["DATABASE_URL"]
    parsed = urlparse(url)
    name = parsed.path.lstrip("/") + "_baseline"
    admin = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    fresh = urlunparse(parsed._replace(path="/" + name))
    subprocess.run(
        [sys.executable, "manage.py", "migrate_schemas", "--shared", "--noinput", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": fresh},
        check=True,
    )
    with psycopg.connect(fresh) as conn:
        row = conn.execute(CATALOG_QUERY).fetchone()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}"')
    return dict(
        zip(("catalog_bytes", "pg_class", "pg_attribute", "database_bytes"), map(int, row), strict=True)
    )


def _metrics_seconds(runs: int = 3) -> float:
    """The median time of building `/metrics`' exposition, whose counts read every tenant schema."""
    from quire.metrics import exposition

    times = []
    for _ in range(runs):
        started = time.perf_counter()
        exposition()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _checkpoint(tenants: int, baseline: dict, migrate: bool = True) -> dict:
    catalog = _catalog()
    metrics = _metrics_seconds()
    row = {
        "tenants": tenants,
        "serial": _migrate_seconds("standard", every=True) if migrate else None,
        "parallel": _migrate_seconds("multiprocessing", every=True) if migrate else None,
        "skipping": _migrate_seconds("standard") if migrate else None,
        "metrics": metrics,
        **catalog,
        "catalog_per_tenant": (catalog["catalog_bytes"] - baseline["catalog_bytes"]) / tenants,
        "database_per_tenant": (catalog["database_bytes"] - baseline["database_bytes"]) / tenants,
        "pg_class_per_tenant": (catalog["pg_class"] - baseline["pg_class"]) / tenants,
    }
    print(f"  {tenants} tenants: {row}", flush=True)
    return row


def _unthrottle_all() -> None:
    """Every tenant on a plan whose rate limits the load cannot reach (the limiter still runs)."""
    from billing.entitlements import account_for
    from billing.models import BillingAccount, Plan
    from tenants.models import Tenant

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
    for tenant in Tenant.objects.exclude(schema_name="public"):
        account_for(tenant)
    BillingAccount.objects.update(plan=plan)


def _backend_uss_mib(database: str) -> list[float]:
    import psutil
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
            " AND backend_type = 'client backend'",
            [database],
        )
        pids = [pid for (pid,) in cursor.fetchall()]
    sizes = []
    for pid in pids:
        try:
            sizes.append(psutil.Process(pid).memory_full_info().uss / 2**20)
        except psutil.Error:
            continue
    return sorted(sizes)


def _serve_and_measure(secrets: list[str], args: argparse.Namespace) -> list[tuple[str, dict, list[float]]]:
    from django.db import connection

    database = connection.settings_dict["NAME"]
    rows = []
    for label, keys in (("one tenant", secrets[:1]), (f"{len(secrets)} tenants", secrets)):
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
            _measure(port, "/v1/documents", keys[:50], 1.0, args.clients)
            result = _measure(port, "/v1/documents", keys, args.seconds, args.clients)
            uss = _backend_uss_mib(database)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        print(f"  {label}: p50 {result['p50']:.2f} ms, p99 {result['p99']:.2f} ms", flush=True)
        rows.append((label, result, uss))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--checkpoint", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".quire" / "bench-tenants")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure the tenants an interrupted run left in --data-dir (new keys), provisioning none",
    )
    parser.add_argument("--no-migrate", action="store_true", help="with --reuse: skip migrate_schemas")
    args = parser.parse_args()

    if not args.reuse:
        shutil.rmtree(args.data_dir, ignore_errors=True)
    os.environ["QUIRE_DATA_DIR"] = str(args.data_dir)
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "quire.settings"
    os.environ.setdefault("QUIRE_LOG_LEVEL", "WARNING")
    os.environ.setdefault("QUIRE_DEBUG", "false")
    os.environ.setdefault("QUIRE_API_RATE", "100000000/min")
    from quire.embedded import ensure_service_urls

    servers = ensure_service_urls()
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        from tenants.services import tenant_provision

        baseline_file = args.data_dir / "baseline.json"
        if args.reuse:
            baseline = json.loads(baseline_file.read_text()) if baseline_file.exists() else _fresh_baseline()
        else:
            baseline = _catalog()
            baseline_file.write_text(json.dumps(baseline))
        checkpoints, provision_seconds, secrets = [], [], []
        if args.reuse:
            from tenants.models import Tenant
            from tenants.services import api_key_issue

            tenants = list(Tenant.objects.exclude(schema_name="public").order_by("pk"))
            if not tenants:
                raise SystemExit(
                    f"--reuse: no tenants in {args.data_dir} to measure; run without --reuse first"
                )
            secrets = [api_key_issue(tenant=t, name="bench", role="viewer").secret for t in tenants]
            checkpoints.append(_checkpoint(len(tenants), baseline, migrate=not args.no_migrate))
        for i in range(1, 0 if args.reuse else args.tenants + 1):
            started = time.perf_counter()
            provisioned = tenant_provision(name=f"Bench {i}", slug=f"bench-{i:05d}")
            provision_seconds.append(time.perf_counter() - started)
            secrets.append(provisioned.issued_key.secret)
            if i % 50 == 0:
                print(
                    f"  {i} tenants, last 50 at {statistics.mean(provision_seconds[-50:]):.2f} s each",
                    flush=True,
                )
            if i in (args.checkpoint, args.tenants):
                checkpoints.append(_checkpoint(i, baseline))
        _unthrottle_all()
        served = _serve_and_measure(secrets, args)
    finally:
        from django.db import connections

        connections.close_all()
        for server in servers:
            server.stop()

    print(
        f"\n{len(secrets)} tenants, {os.cpu_count()} CPUs, gunicorn {args.workers} workers, {args.clients} clients"
    )
    if provision_seconds:
        ordered = sorted(provision_seconds)
        print(
            f"provisioning per tenant: mean {statistics.mean(ordered):.2f} s, p50 {ordered[len(ordered) // 2]:.2f} s,"
            f" max {ordered[-1]:.2f} s; first 10 mean {statistics.mean(provision_seconds[:10]):.2f} s,"
            f" last 10 mean {statistics.mean(provision_seconds[-10:]):.2f} s"
        )
    print(
        "\n| tenants | migrate_schemas, every schema: serial s | parallel s | skipping those up to date s |"
        " pg_catalog MiB | catalog KiB/tenant | pg_class rows/tenant | database KiB/tenant | GET /metrics s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in checkpoints:
        print(
            f"| {row['tenants']} | {row['serial'] or 0:.1f} | {row['parallel'] or 0:.1f} |"
            f" {row['skipping'] or 0:.2f} |"
            f" {row['catalog_bytes'] / 2**20:.1f} | {row['catalog_per_tenant'] / 1024:.0f} |"
            f" {row['pg_class_per_tenant']:.0f} | {row['database_per_tenant'] / 1024:.0f} |"
            f" {row['metrics']:.3f} |"
        )
    print("\n| GET /v1/documents, keys of | requests | errors | req/s | p50 ms | p99 ms | backend USS MiB |")
    print("|---|---|---|---|---|---|---|")
    for label, r, uss in served:
        print(
            f"| {label} | {r['requests']} | {r['errors']} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} |"
            f" {', '.join(f'{x:.1f}' for x in uss)} |"
        )
    if not args.reuse:
        shutil.rmtree(args.data_dir, ignore_errors=True)
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
