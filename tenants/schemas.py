"""A new tenant's schema from the recorded statements of one migration run, not from a migration run of its own.

Migrating a fresh tenant schema costs 0.6-0.9 s here, nearly all of it Django rebuilding the migration state in
Python, 53 migrations over; the SQL it sends is under 200 statements, and a whole provisioning that replays them
takes 0.12 s (`benchmarks/provisioning.py`). So the first schema after a release is migrated as before, in a
scratch schema, while its statements are recorded; they are stored in the public schema (`SchemaScript`, keyed by
the migration files, the Django and PostgreSQL versions and this module, so a release that changes any of them
records anew), and every new tenant schema is those statements replayed under its own
`search_path`: the same tables, indexes, constraints, triggers and `django_migrations` rows as migrating it
(`tests/tenants/test_schemas.py` compares `pg_dump --schema-only` of both). The replay runs in the caller's
transaction, so a tenant whose creation fails leaves no half-built schema behind.

Recorded, the statements are replayable only if none names the scratch schema: SQL that qualifies its tables with
the schema it runs in would create the next tenant's tables in the wrong place. Reads of the catalog and of the
migration records are left out (their answers go unused, and the catalog's reads grow with every tenant), and so
are other reads that name it (django-tenants' and `tenants.migrating`'s checks); any other statement
naming it makes the script unusable, and schemas are migrated one by one as before (a warning says so once a
process). `tenants.migrating` records and replays the same way to bring existing schemas up to date."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import django
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

from tenants.migrating import disk_migrations
from tenants.models import SchemaScript

logger = logging.getLogger(__name__)

NOT_REPLAYED = re.compile(r"\s*(SHOW\b|SET\s+search_path\b|SAVEPOINT\b|RELEASE\b)", re.IGNORECASE)
READ = re.compile(r"\s*SELECT\b", re.IGNORECASE)
# Reads of the catalog (Django's introspection) and of the migration records: a replay has no use for their
# answers, and the catalog's grow with every tenant (at 1,000 tenants they were two thirds of a provisioning).
CATALOG = re.compile(
    r'\bpg_catalog\.|\binformation_schema\.|\bpg_(class|namespace|constraint|index|attribute)\b|"django_migrations"\."id"'
)
UNDONE = re.compile(r"\s*ROLLBACK\b", re.IGNORECASE)
MIGRATION_RECORD = 'INSERT INTO "django_migrations" ("app", "name", "applied") VALUES (%s, %s, %s)'

Statement = tuple[str, Any, bool]

SCRIPTS_KEPT = 3
_scripts: dict[str, list[Statement] | None] = {}


@cache
def script_key() -> str:
    """What a stored script depends on: every migration file on disk, by content, the Django and PostgreSQL versions
    that turn them into SQL, and this module, which decides what a recording keeps. Read once a process: a process
    runs the code it started with."""
    on_disk = disk_migrations(connection.alias)
    digest = hashlib.sha256(f"django {django.get_version()} postgresql {connection.pg_version}".encode())
    with open(__file__, "rb") as source:
        digest.update(hashlib.sha256(source.read()).digest())
    for app, name in sorted(on_disk):
        module = sys.modules[type(on_disk[app, name]).__module__]
        digest.update(f"\n{app}.{name} ".encode())
        with open(module.__file__, "rb") as source:
            digest.update(hashlib.sha256(source.read()).digest())
    return digest.hexdigest()


def replayable(statements: list[Statement], *, schema: str) -> list[Statement] | None:
    """The statements recorded in `schema`, to replay in another, or None where one would act on `schema` itself
    or the run undid some of its work (a rolled-back savepoint). Transaction control and reads of the catalog are
    left out: a replay is one transaction of its own, or part of its caller's, and needs no introspection."""
    kept = []
    for sql, params, many in statements:
        if UNDONE.match(sql):
            return None
        if NOT_REPLAYED.match(sql):
            continue
        names_schema = schema in sql or schema in repr(params)
        if READ.match(sql) and (names_schema or CATALOG.search(sql)):
            continue
        if names_schema:
            return None
        kept.append((sql, params, many))
    return kept


@contextmanager
def recording(using: str = DEFAULT_DB_ALIAS) -> Iterator[list[Statement]]:
    """Every statement sent on the connection `using` meanwhile, with its parameters, as it was sent."""
    statements: list[Statement] = []

    def capture(execute, sql, params, many, context):
        statements.append((sql, params, many))
        return execute(sql, params, many, context)

    with connections[using].execute_wrapper(capture):
        yield statements


def replay(statements: list[Statement], *, schema_name: str, using: str = DEFAULT_DB_ALIAS) -> None:
    """Run `statements` in the schema `schema_name` (first on the search path, then public), all or none. A
    migration's record in `django_migrations` says when the replay applied it, not when it was recorded."""
    connection = connections[using]
    connection.set_schema(schema_name)
    now = timezone.now()
    try:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            for sql, params, many in statements:
                if many:
                    cursor.executemany(sql, params)
                elif sql.startswith(MIGRATION_RECORD):
                    cursor.execute(sql, [*params[:2], now])
                else:
                    cursor.execute(sql, params)
    finally:
        connection.set_schema_to_public()


def _record() -> list[Statement] | None:
    scratch = f"quire_scratch_{secrets.token_hex(6)}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {connection.ops.quote_name(scratch)}")
    try:
        with recording() as statements:
            schema_migrate(scratch)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA {connection.ops.quote_name(scratch)} CASCADE")
    return replayable(statements, schema=scratch)


def schema_migrate(schema_name: str) -> None:
    """Run the migrations `schema_name` lacks, as `migrate_schemas --schema` does."""
    try:
        call_command("migrate_schemas", tenant=True, schema_name=schema_name, interactive=False, verbosity=0)
    finally:
        connection.set_schema_to_public()


def schema_script() -> list[Statement] | None:
    """This release's script: from this process's memory, else the public schema, else recorded now and stored.
    None when the migrations cannot be replayed (see the module's note). Storing one drops all but the newest
    `SCRIPTS_KEPT`: the pods of an earlier release, in a rolling deploy, still read theirs (and record it again
    if it went)."""
    key = script_key()
    if key not in _scripts:
        stored = SchemaScript.objects.filter(key=key).values_list("statements", flat=True).first()
        if stored is not None:
            _scripts[key] = [(sql, params, many) for sql, params, many in stored]
        else:
            recorded = _record()
            if recorded is None:
                logger.warning(
                    "a tenant migration names the schema it runs in: new schemas are migrated one by one"
                )
            else:
                SchemaScript.objects.bulk_create(
                    [SchemaScript(key=key, statements=recorded)], ignore_conflicts=True
                )
                newest = SchemaScript.objects.order_by("-created_at").values_list("key", flat=True)
                SchemaScript.objects.exclude(key__in=[key, *newest[:SCRIPTS_KEPT]]).delete()
            _scripts[key] = recorded
    return _scripts[key]


def schema_build(*, schema_name: str) -> None:
    """Create the tenant schema `schema_name` with every migration applied, by replaying this release's script
    where there is one."""
    script = schema_script()
    quoted = connection.ops.quote_name(schema_name)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {quoted}")
    if script is None:
        schema_migrate(schema_name)
        return
    replay(script, schema_name=schema_name)
