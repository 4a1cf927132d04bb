"""`migrate_schemas` without a `migrate` per tenant schema that has nothing to apply.

django-tenants runs a full `migrate` in every tenant schema, which costs 0.07-1 s a schema even when nothing is
new (docs/scaling.md), so a release at 1,000 tenants spent minutes before its pods could start. The executor
here (settings' `GET_EXECUTOR_FUNCTION`) first reads every tenant schema's `django_migrations`, a few hundred
schemas a query, and hands django-tenants' own executor (standard, multiprocessing or subprocess, as asked)
only the schemas missing a migration that is on disk. The public schema always migrates. Anything but a plain
forward run (an app or migration named, `--fake`, `--fake-initial`, `--plan`, `--prune`, `--check`) migrates
every schema, as before."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from django.db import connections
from django.db.migrations.loader import MigrationLoader
from django_tenants.migration_executors import get_executor
from django_tenants.migration_executors.base import MigrationExecutor

SCHEMAS_PER_QUERY = 500
# An app or migration named (a rollback, say) or a run that is not a plain forward one migrates every schema.
NAMED_OR_SPECIAL = ("app_label", "migration_name", "fake", "fake_initial", "plan", "prune", "check_unapplied")


def migrations_on_disk(alias: str) -> set[tuple[str, str]]:
    """Every (app, migration) the project ships, squashed ones and those they replace alike."""
    return set(MigrationLoader(connections[alias], ignore_no_migrations=True, load=True).disk_migrations)


def schemas_behind(schemas: Iterable[str], *, alias: str, on_disk: set[tuple[str, str]]) -> list[str]:
    """The schemas, in the order given, whose `django_migrations` lacks one of `on_disk` (or which have no such
    table yet)."""
    schemas = list(schemas)
    connection = connections[alias]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'django_migrations' "
            "AND table_schema = ANY(%s)",
            [schemas],
        )
        tracked = {row[0] for row in cursor.fetchall()}
        applied: dict[str, set[tuple[str, str]]] = {schema: set() for schema in tracked}
        ordered = [schema for schema in schemas if schema in tracked]
        for start in range(0, len(ordered), SCHEMAS_PER_QUERY):
            chunk = ordered[start : start + SCHEMAS_PER_QUERY]
            cursor.execute(
                " UNION ALL ".join(
                    f"SELECT %s, app, name FROM {quote(schema)}.django_migrations" for schema in chunk
                ),
                chunk,
            )
            for schema, app, name in cursor.fetchall():
                applied[schema].add((app, name))
    return [schema for schema in schemas if schema not in applied or not on_disk <= applied[schema]]


def get_skipping_executor(codename: str | None = None) -> type[MigrationExecutor]:
    """django-tenants' executor `codename`, handed only the tenant schemas behind the migrations on disk."""
    base = get_executor(codename)

    class SkippingExecutor(base):
        def run_migrations(self, tenants: Iterable[str] | None = None) -> None:
            tenants = list(tenants or [])
            if self.args or any(self.options.get(flag) for flag in NAMED_OR_SPECIAL):
                return super().run_migrations(tenants=tenants)
            public = [schema for schema in tenants if schema == self.PUBLIC_SCHEMA_NAME]
            others = [schema for schema in tenants if schema != self.PUBLIC_SCHEMA_NAME]
            if others:
                alias = self.options.get("database") or self.TENANT_DB_ALIAS
                behind = schemas_behind(others, alias=alias, on_disk=migrations_on_disk(alias))
                if int(self.options.get("verbosity", 1)) >= 1:
                    sys.stdout.write(
                        f"{len(behind)} of {len(others)} tenant schemas have migrations to apply.\n"
                    )
                others = behind
            return super().run_migrations(tenants=[*public, *others])

    SkippingExecutor.__name__ = f"Skipping{base.__name__}"
    return SkippingExecutor
