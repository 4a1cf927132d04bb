"""Usage ledger throughput and the cost it adds to finishing a job.

1. Usage events/s recorded by N concurrent processes (default 8), each calling `usage_record` for its own
   jobs and, to exercise deduplication, again for a share of jobs that other processes also record. The
   count check: rows in the ledger == distinct (job, kind) pairs == rows the calls reported as new.
2. The overhead added to a job's completion: the result transaction of `_finish_succeeded` (job row lock,
   JobResult insert, job update) timed with and without the ledger insert, p50 and p95.

Runs on the embedded services (or DATABASE_URL / REDIS_URL), in a tenant of its own.

    python benchmarks/ledger.py [--workers 8] [--jobs 300] [--overlap 0.25] [--finishes 300]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
KINDS = {"job": 1, "pages": 3, "tokens_in": 4000, "tokens_out": 600}


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quire.settings")
    os.environ.setdefault("QUIRE_LOG_LEVEL", "WARNING")
    os.environ.setdefault("QUIRE_DEBUG", "false")
    import django

    django.setup()


def _record(worker: int, job_ids: list[str], tenant_id: int, start_at: float, out: mp.Queue) -> None:
    _setup_django()
    from django.db import connection

    from billing.services import usage_record
    from tenants.models import Tenant

    tenant = Tenant.objects.get(pk=tenant_id)
    connection.ensure_connection()
    while time.time() < start_at:
        time.sleep(0.001)
    written = calls = 0
    started = time.perf_counter()
    for job_id in job_ids:
        written += usage_record(tenant=tenant, job_id=job_id, quantities=KINDS)
        calls += 1
    out.put((worker, written, calls * len(KINDS), time.perf_counter() - started))


def measure_throughput(tenant_id: int, workers: int, jobs: int, overlap: float) -> dict:
    run = uuid.uuid4().hex[:8]
    own = [[f"job_{run}_{w}_{j}" for j in range(jobs)] for w in range(workers)]
    shared = max(0, int(jobs * overlap))
    plans = [own[w] + own[(w + 1) % workers][:shared] for w in range(workers)]
    distinct_jobs = {job for plan in plans for job in plan}
    out: mp.Queue = mp.get_context("spawn").Queue()
    start_at = time.time() + 3.0
    ctx = mp.get_context("spawn")
    processes = [
        ctx.Process(target=_record, args=(w, plans[w], tenant_id, start_at, out)) for w in range(workers)
    ]
    for process in processes:
        process.start()
    results = [out.get(timeout=600) for _ in processes]
    for process in processes:
        process.join()
    from billing.models import UsageEvent

    stored = UsageEvent.objects.filter(job_id__startswith=f"job_{run}_").count()
    attempted = sum(r[2] for r in results)
    written = sum(r[1] for r in results)
    wall = max(r[3] for r in results)
    return {
        "workers": workers,
        "attempted": attempted,
        "expected": len(distinct_jobs) * len(KINDS),
        "reported_new": written,
        "stored": stored,
        "seconds": wall,
        "events_per_s": attempted / wall,
        "new_per_s": written / wall,
    }


def measure_finish_overhead(tenant, finishes: int) -> tuple[list[float], list[float]]:
    from django.db import transaction
    from django.utils import timezone

    from billing.services import usage_record
    from quire.jobs.models import Job, JobResult, JobStatus

    def finish(with_usage: bool) -> float:
        job = Job.objects.create(
            connector="legal", document_ids=["doc_bench"], status=JobStatus.RUNNING, attempt=1
        )
        started = time.perf_counter()
        with transaction.atomic():
            current = Job.objects.select_for_update().get(pk=job.pk)
            JobResult.objects.create(job=current, output={"connector": "legal"}, context={}, attempt=1)
            if with_usage:
                usage_record(tenant=tenant, job_id=current.pk, quantities=KINDS)
            current.status, current.finished_at = JobStatus.SUCCEEDED, timezone.now()
            current.save(update_fields=["status", "finished_at"])
        return (time.perf_counter() - started) * 1000

    for _ in range(20):
        finish(True)
        finish(False)
    without, with_ledger = [], []
    for _ in range(finishes):
        without.append(finish(False))
        with_ledger.append(finish(True))
    return without, with_ledger


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=300, help="jobs recorded by each worker")
    parser.add_argument(
        "--overlap", type=float, default=0.25, help="share of a neighbour's jobs recorded again"
    )
    parser.add_argument("--finishes", type=int, default=300)
    args = parser.parse_args()

    from quire.embedded import ensure_service_urls

    servers = ensure_service_urls()
    try:
        _setup_django()
        from django.core.management import call_command
        from django_tenants.utils import tenant_context

        call_command("migrate_schemas", interactive=False, verbosity=0)
        from tenants.models import Tenant
        from tenants.services import tenant_provision

        tenant = (
            Tenant.objects.filter(slug="bench-ledger").first()
            or tenant_provision(name="Bench Ledger", slug="bench-ledger").tenant
        )
        from django.db import connections

        connections.close_all()
        result = measure_throughput(tenant.pk, args.workers, args.jobs, args.overlap)
        with tenant_context(tenant):
            without, with_ledger = measure_finish_overhead(tenant, args.finishes)
    finally:
        for server in servers:
            server.stop()

    ok = result["stored"] == result["expected"] == result["reported_new"]
    print(
        f"\nLedger writes: {result['workers']} processes, {args.jobs} own jobs each + {args.overlap:.0%} of a "
        f"neighbour's again, {len(KINDS)} kinds per job"
    )
    print(
        f"{'attempted':>10} {'expected':>9} {'new':>7} {'stored':>7} {'seconds':>8} {'events/s':>9} {'new/s':>8} check"
    )
    print(
        f"{result['attempted']:>10} {result['expected']:>9} {result['reported_new']:>7} {result['stored']:>7} "
        f"{result['seconds']:>8.2f} {result['events_per_s']:>9.0f} {result['new_per_s']:>8.0f} "
        f"{'ok: none lost or duplicated' if ok else 'MISMATCH'}"
    )
    print(f"\nJob completion transaction, {args.finishes} finishes each (ms)")
    print(f"{'variant':<28} {'p50':>7} {'p95':>7} {'mean':>7}")
    for name, values in (("result only", without), ("result + usage ledger", with_ledger)):
        print(
            f"{name:<28} {_percentile(values, 0.5):>7.2f} {_percentile(values, 0.95):>7.2f} {statistics.mean(values):>7.2f}"
        )
    print(f"{'added by the ledger':<28} {_percentile(with_ledger, 0.5) - _percentile(without, 0.5):>7.2f}")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
