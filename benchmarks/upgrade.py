"""What a release that adds migrations costs `migrate_schemas`: the schemas behind brought up to date by one
migration and replays of its statements (`tenants.migrating.upgrade_by_replay`), against the reference, a
`migrate` in every schema (django-tenants' standard executor, what the code did before), in the same run and
database.

Starts its own PostgreSQL and Redis under `--data-dir` (removed first), migrates the public schema and provisions
`--tenants` tenants. Before each way every tenant schema is moved back two migrations (`documents` 0008, an added
column, and `webhooks` 0003, a new table), so each way applies the same two migrations to every schema; only
the `migrate_schemas` run is timed.

    python benchmarks/upgrade.py [--tenants 30] [--data-dir /tmp/qupgrade]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.fresh_platform import fresh_platform  # noqa: E402

BACK = (("documents", "0007_document_ingest_owner"), ("webhooks", "0002_secrets_encrypted"))


def _move_back(schemas: list[str]) -> None:
    from django.core.management import call_command

    for schema in schemas:
        for app, name in BACK:
            call_command(
                "migrate_schemas", app, name, tenant=True, schema_name=schema, interactive=False, verbosity=0
            )


def _timed_upgrade() -> float:
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate_schemas", tenant=True, interactive=False, verbosity=0)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=30)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/qupgrade"))
    args = parser.parse_args()
    with fresh_platform(args.data_dir):
        import tenants.migrating as migrating
        from tenants.migrating import migrations_on_disk, schemas_behind
        from tenants.services import tenant_provision

        schemas = [
            tenant_provision(name=f"Upgrade {i}", slug=f"upgrade-{i:04d}").tenant.schema_name
            for i in range(args.tenants)
        ]
        replaying = migrating.upgrade_by_replay
        timings = {}
        for way, upgrade in (
            ("migrate every schema (reference)", lambda behind, **options: behind),
            ("one migration, then replays", replaying),
        ):
            _move_back(schemas)
            assert len(
                schemas_behind(schemas, alias="default", on_disk=migrations_on_disk("default"))
            ) == len(schemas)
            migrating.upgrade_by_replay = upgrade
            timings[way] = _timed_upgrade()
            assert not schemas_behind(schemas, alias="default", on_disk=migrations_on_disk("default"))
        migrating.upgrade_by_replay = replaying

    reference = timings["migrate every schema (reference)"]
    print(f"{args.tenants} tenant schemas, each two migrations behind (an added column, a new table)\n")
    print("| way | migrate_schemas | per schema | vs reference |")
    print("|---|---|---|---|")
    for way, seconds in timings.items():
        print(
            f"| {way} | {seconds:.2f} s | {1000 * seconds / args.tenants:.1f} ms | {reference / seconds:.2f}x |"
        )


if __name__ == "__main__":
    main()
