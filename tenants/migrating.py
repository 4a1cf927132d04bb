"""`migrate_schemas` without a `migrate` per tenant schema that has nothing to apply.

django-tenants runs a full `migrate` in every tenant schema, which costs 0.07-1 s a schema even when nothing is
new (docs/scaling.md), so a release at 1,000 tenants spent minutes before its pods could start. The executor
here (settings' `GET_EXECUTOR_FUNCTION`) first reads every tenant schema's `django_migrations`, a few hundred
schemas a query, and hands django-tenants' own executor (standard, multiprocessing or subprocess, as asked)
only the schemas missing a migration that is on disk. The public schema always migrates. Anything but a plain
forward run (an app or migration named, `--fake`, `--fake-initial`, `--plan`, `--prune`, `--check`) migrates
every schema, as before.

Of the schemas behind, those at the same migrations are brought up to date as one (`upgrade_by_replay`): the
first is migrated while its statements are recorded, the others replay them, which costs their SQL and none of
Django's per-schema migration machinery. Migrations that run Python or are not atomic are migrated schema by
schema (`must_migrate`).

A tenant schema whose migration fails (its rows break a new constraint, say, or the tenant has no schema: a
restore killed outright left it aside) stops none of the others: with the standard and multiprocessing executors
each schema is migrated on its own, a failure is logged with its traceback and named on stderr, and once every
schema has had its turn the command fails naming each failed schema and its error. A run naming one schema
(`--schema`) raises the migration's own error, as django-tenants does."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from functools import partial

from django.apps import apps
from django.conf import settings
from django.core.management import CommandError
from django.db import DatabaseError, connections
from django.db.migrations import Migration
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import RunPython, SeparateDatabaseAndState
from django_tenants.migration_executors import MultiprocessingExecutor, StandardExecutor, get_executor
from django_tenants.migration_executors.base import MigrationExecutor, run_migrations
from django_tenants.migration_executors.multiproc import get_pool
from django_tenants.utils import get_tenant_database_alias

logger = logging.getLogger(__name__)

SCHEMAS_PER_QUERY = 500
# An app or migration named (a rollback, say) or a run that is not a plain forward one migrates every schema.
NAMED_OR_SPECIAL = ("app_label", "migration_name", "fake", "fake_initial", "plan", "prune", "check_unapplied")


def migrations_on_disk(alias: str) -> set[tuple[str, str]]:
    """Every (app, migration) the project ships, squashed ones and those they replace alike."""
    return set(disk_migrations(alias))


def disk_migrations(alias: str) -> dict[tuple[str, str], Migration]:
    """The migrations the project ships, by (app, name)."""
    return MigrationLoader(connections[alias], ignore_no_migrations=True, load=True).disk_migrations


def applied_migrations(schemas: Iterable[str], *, alias: str) -> dict[str, frozenset[tuple[str, str]]]:
    """What each schema's `django_migrations` lists; a schema without that table is left out."""
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
    return {schema: frozenset(names) for schema, names in applied.items()}


def schemas_behind(schemas: Iterable[str], *, alias: str, on_disk: set[tuple[str, str]]) -> list[str]:
    """The schemas, in the order given, whose `django_migrations` lacks one of `on_disk` (or which have no such
    table yet)."""
    schemas = list(schemas)
    return _behind(schemas, applied_migrations(schemas, alias=alias), on_disk)


def _behind(
    schemas: list[str], applied: dict[str, frozenset[tuple[str, str]]], on_disk: Iterable[tuple[str, str]]
) -> list[str]:
    on_disk = set(on_disk)
    return [schema for schema in schemas if schema not in applied or not on_disk <= applied[schema]]


def must_migrate(migrations: Iterable[Migration]) -> bool:
    """Whether one of these migrations of a tenant app cannot be replayed: it runs Python (`RunPython`), whose
    statements depend on the rows of the schema it runs in, or it is not atomic (`CREATE INDEX CONCURRENTLY`,
    say), so its statements cannot run in the one transaction a replay is."""
    tenant_apps = {config.label for config in apps.get_app_configs() if config.name in settings.TENANT_APPS}
    for migration in migrations:
        if migration.app_label not in tenant_apps:
            continue
        if not migration.atomic:
            return True
        operations = list(migration.operations)
        while operations:
            operation = operations.pop()
            if isinstance(operation, RunPython):
                return True
            if isinstance(operation, SeparateDatabaseAndState):
                operations.extend(operation.database_operations)
    return False


def upgrade_by_replay(
    schemas: list[str],
    *,
    alias: str,
    on_disk: dict[tuple[str, str], Migration],
    applied: dict[str, frozenset[tuple[str, str]]],
    migrate: Callable[[str], None],
    verbosity: int = 1,
) -> list[str]:
    """Bring `schemas` (each behind the migrations on disk) up to date where a recording can: the schemas at the
    same migrations are migrated as one, the first by `migrate` while its statements are recorded, the others by
    replaying them (`tenants.schemas`), each in a transaction of its own. Returns the schemas left to migrate one
    by one: those alone at their migrations or without a `django_migrations` table, those whose migrations to
    apply cannot be replayed (`must_migrate`), every schema of a group whose recording names its schema (and so
    is not replayable), and any whose replay failed (rolled back, so it migrates from where it was). `on_disk` is
    `disk_migrations`, `applied` is `applied_migrations` of at least `schemas`."""
    from tenants.schemas import recording, replay, replayable

    groups: dict[frozenset[tuple[str, str]], list[str]] = {}
    left = {schema for schema in schemas if schema not in applied}
    for schema in schemas:
        if schema in applied:
            groups.setdefault(applied[schema], []).append(schema)
    replayed = 0
    for done, group in groups.items():
        if len(group) < 2 or must_migrate(on_disk[key] for key in set(on_disk) - done):
            left.update(group)
            continue
        first, *rest = group
        try:
            with recording(alias) as statements:
                migrate(first)
        except Exception as exc:
            logger.warning(
                "migrating %s, to record its statements, failed (%s); the %d schemas at its migrations are "
                "migrated one by one",
                first,
                exc,
                len(group),
            )
            connections[alias].set_schema_to_public()
            left.update(group)
            continue
        script = replayable(statements, schema=first)
        if script is None:
            left.update(rest)
            continue
        for schema in rest:
            try:
                replay(script, schema_name=schema, using=alias)
            except DatabaseError as exc:
                logger.warning(
                    "replaying %s's migration in %s failed (%s); migrating it instead", first, schema, exc
                )
                left.add(schema)
            else:
                replayed += 1
    if verbosity >= 1 and replayed:
        sys.stdout.write(f"{replayed} tenant schemas brought up to date by replaying a recorded migration.\n")
    return [schema for schema in schemas if schema in left]


def _migrate_reporting(
    args: tuple, options: dict, codename: str, count: int, numbered: tuple[int, str]
) -> tuple[str, str | None]:
    """Migrate one schema as django-tenants' executors do; its error, if it fails, is logged and returned rather
    than raised, so the schemas after it are migrated all the same."""
    idx, schema = numbered
    try:
        run_migrations(
            args,
            options,
            codename,
            schema,
            allow_atomic=codename == StandardExecutor.codename,
            idx=idx,
            count=count,
        )
    except Exception as exc:
        logger.exception("migrating tenant schema %s failed", schema)
        error = f"{type(exc).__name__}: {exc}".strip()
        connection = connections[options.get("database") or get_tenant_database_alias()]
        connection.set_schema_to_public()
        if not connection.in_atomic_block:
            connection.close()
        return schema, error
    return schema, None


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
                verbosity = int(self.options.get("verbosity", 1))
                on_disk = disk_migrations(alias)
                applied = applied_migrations(others, alias=alias)
                behind = _behind(others, applied, on_disk)
                if verbosity >= 1:
                    sys.stdout.write(
                        f"{len(behind)} of {len(others)} tenant schemas have migrations to apply.\n"
                    )
                others = upgrade_by_replay(
                    behind,
                    alias=alias,
                    on_disk=on_disk,
                    applied=applied,
                    migrate=lambda schema: StandardExecutor(self.args, self.options).run_migrations([schema]),
                    verbosity=verbosity,
                )
            if public:
                super().run_migrations(tenants=public)
            named = self.options.get("schema_name")
            if named or self.codename not in (StandardExecutor.codename, MultiprocessingExecutor.codename):
                return super().run_migrations(tenants=others)
            failed = self.migrate_each(others)
            if failed:
                listed = "; ".join(f"{schema}: {error}" for schema, error in failed.items())
                raise CommandError(
                    f"{len(failed)} tenant schemas failed to migrate, the others are up to date: {listed}"
                )
            return None

        def migrate_each(self, schemas: list[str]) -> dict[str, str]:
            """Migrate each schema, one failing stopping none of the others; returns the failed ones' errors."""
            if not schemas:
                return {}
            migrate = partial(_migrate_reporting, self.args, self.options, self.codename, len(schemas))
            if self.codename == StandardExecutor.codename:
                outcomes = [migrate(numbered) for numbered in enumerate(schemas)]
            else:
                connection = connections[self.TENANT_DB_ALIAS]
                connection.close()
                connection.connection = None
                with get_pool() as pool:
                    outcomes = pool.map(migrate, enumerate(schemas), 2)
            failed = {schema: error for schema, error in outcomes if error is not None}
            for schema, error in failed.items():
                sys.stderr.write(f"[{self.codename}:{schema}] migration failed: {error}\n")
            return failed

    SkippingExecutor.__name__ = f"Skipping{base.__name__}"
    return SkippingExecutor
