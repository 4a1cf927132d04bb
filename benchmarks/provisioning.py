"""What provisioning a tenant costs: `tenant_provision` (schema, host name, first API key) building the schema by
replaying the release's recorded statements (`tenants.schemas`), against the reference, migrating each new schema
(django-tenants' way, what `schema_build` does where there is no script), in the same run and database.

Starts its own PostgreSQL and Redis under `--data-dir` (removed first), migrates the public schema and provisions
`--before` tenants (none by default), so that both ways run beside a catalog of that size. Each way then
provisions `--tenants` tenants one after the other; the table gives the first (for the replay without `--before`,
the one that records the script), the median of the others and their mean, and how many times the reference's
median the replay's is; then `manage.py create_tenant --from-csv` provisions as many again from a CSV file, timed
whole.

    python benchmarks/provisioning.py [--tenants 20] [--before 1000] [--data-dir /tmp/qprovision]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.fresh_platform import fresh_platform  # noqa: E402


def _provision(prefix: str, count: int) -> list[float]:
    from tenants.services import tenant_provision

    seconds = []
    for i in range(count):
        started = time.perf_counter()
        tenant_provision(name=f"{prefix} {i}", slug=f"{prefix}-{i:04d}")
        seconds.append(time.perf_counter() - started)
    return seconds


def _bulk(count: int, source: Path) -> float:
    """Seconds `manage.py create_tenant --from-csv` takes over `count` rows (its output left unread)."""
    import io

    from django.core.management import call_command

    source.write_text("name\n" + "".join(f"Bulk {i}\n" for i in range(count)), encoding="utf-8")
    started = time.perf_counter()
    call_command("create_tenant", from_csv=source, stdout=io.StringIO(), stderr=io.StringIO())
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=20, help="tenants each way provisions (at least 2)")
    parser.add_argument(
        "--before",
        type=int,
        default=0,
        help="tenants provisioned first (replaying), so both ways run beside them",
    )
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/qprovision"))
    args = parser.parse_args()
    with fresh_platform(args.data_dir):
        import tenants.schemas as schemas

        _provision("before", args.before)

        recorded = schemas.schema_script
        schemas.schema_script = lambda: None
        migrated = _provision("migrated", args.tenants)
        schemas.schema_script = recorded
        replayed = _provision("replayed", args.tenants)
        statements = len(schemas.schema_script())
        bulk = _bulk(args.tenants, args.data_dir / "tenants.csv")

    reference = statistics.median(migrated[1:])
    print(
        f"{args.tenants} tenants a way, one after the other, beside {args.before} provisioned first; the script has "
        f"{statements} statements\n"
    )
    print("| way | first tenant | median of the rest | mean of the rest | vs migrating |")
    print("|---|---|---|---|---|")
    for way, seconds in (("migrate each schema (reference)", migrated), ("replay the script", replayed)):
        median = statistics.median(seconds[1:])
        print(
            f"| {way} | {seconds[0]:.3f} s | {median:.3f} s | {statistics.mean(seconds[1:]):.3f} s "
            f"| {reference / median:.2f}x |"
        )
    print(
        f"\n`create_tenant --from-csv` over {args.tenants} rows (replaying; one process): {bulk:.2f} s in all, "
        f"{bulk / args.tenants:.3f} s a tenant"
    )


if __name__ == "__main__":
    main()
