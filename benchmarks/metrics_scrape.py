"""What `/metrics` costs over many tenant schemas: `quire.metrics.unfinished` (its unions in batches of
`SCHEMAS_PER_QUERY` schemas, on a connection of its own closed after the scrape) against the reference, one
union per kind over every schema on the request's own connection, in the same run and database.

Starts its own PostgreSQL and Redis under `--data-dir` (removed first), migrates the public schema, provisions
one tenant, then makes `--tenants` - 1 more schemas holding only the three tables `/metrics` reads (`CREATE
TABLE ... (LIKE ... INCLUDING ALL)`, indexes included; a full tenant costs about 0.12 s to provision, these a few
milliseconds). Each way runs three scrapes on a fresh request connection and reports the first, the median of
the other two, and the memory of the request connection's PostgreSQL backend before and after
(`pg_backend_memory_contexts`). A way that fails says so (PostgreSQL's lock table full, for instance).

    python benchmarks/metrics_scrape.py [--tenants 1000 1250] [--data-dir /tmp/qmetrics]
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


def _reference(schemas: list[str]) -> None:
    """One union per kind over every schema, on the request's connection (how `/metrics` read them before)."""
    from django.db import connection

    from quire.metrics import UNFINISHED, counts_query

    with connection.cursor() as cursor:
        for _, model, statuses, stalled in UNFINISHED:
            cursor.execute(counts_query(model, stalled, schemas), [list(statuses)] * len(schemas))
            cursor.fetchall()


def _backend_mib() -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT sum(total_bytes) FROM pg_backend_memory_contexts")
        return int(cursor.fetchone()[0]) / 2**20


def _schemas(model_schema: str, count: int, have: list[str]) -> list[str]:
    """`have` grown to `count` schemas, each new one holding the three tables `/metrics` reads."""
    from django.db import connection

    from quire.metrics import UNFINISHED

    tables = [model._meta.db_table for _, model, _, _ in UNFINISHED]
    with connection.cursor() as cursor:
        for i in range(len(have), count):
            schema = f"bench_{i:05d}"
            cursor.execute(f"CREATE SCHEMA {schema}")
            for table in tables:
                cursor.execute(
                    f'CREATE TABLE {schema}."{table}" (LIKE "{model_schema}"."{table}" INCLUDING ALL)'
                )
            have.append(schema)
    return have


def _row(way: str, tenants: int, scrape, schemas: list[str], reference: float | None) -> float | None:
    from django.db import connection

    connection.close()
    before = _backend_mib()
    seconds = []
    try:
        for _ in range(3):
            started = time.perf_counter()
            scrape(schemas)
            seconds.append(time.perf_counter() - started)
    except Exception as exc:
        print(f"| {tenants:,} | {way} | failed: {type(exc).__name__}: {str(exc).splitlines()[0]} | | | |")
        return None
    later = statistics.median(seconds[1:])
    ratio = f" ({later / reference:.2f}x)" if reference else ""
    print(
        f"| {tenants:,} | {way} | {seconds[0]:.2f} s | {later:.2f} s{ratio} | {before:.1f} MiB | "
        f"{_backend_mib():.1f} MiB |",
        flush=True,
    )
    return later


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, nargs="+", default=[1000, 1250])
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/qmetrics"))
    args = parser.parse_args()

    with fresh_platform(args.data_dir):
        from quire.metrics import unfinished
        from tenants.services import tenant_provision

        model = tenant_provision(name="Model", slug="model").tenant.schema_name
        schemas = [model]
        print(
            "| tenant schemas | way | first scrape | later scrapes (vs reference) | request backend before | after |"
        )
        print("|---|---|---|---|---|---|")
        for count in sorted(args.tenants):
            schemas = _schemas(model, count, schemas)
            reference = _row(
                "reference: one union a kind, request's connection", count, _reference, schemas, None
            )
            _row("unfinished(): batches, own connection", count, unfinished, schemas, reference)


if __name__ == "__main__":
    main()
